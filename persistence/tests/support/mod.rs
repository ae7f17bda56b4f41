//! Test support: the database server and one database per test.
//!
//! With `MONGODB_URI` set, tests use that deployment (a real mongod replica set works
//! unchanged). Otherwise the first test starts SecantusDB (`secantusd-py` from the project venv,
//! installed by `scripts/setup.sh`) on a free loopback port with ephemeral storage and test
//! commands enabled; a watchdog stops it when the test process exits.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cqrs_mongo_persistence::{Connection, PoolOptions};

pub mod legacy;
pub mod order;
pub mod runner;

static URI: OnceLock<String> = OnceLock::new();
static STANDALONE_URI: OnceLock<String> = OnceLock::new();

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The server's URI, starting the test server on first use.
pub fn server_uri() -> &'static str {
    URI.get_or_init(|| match std::env::var("MONGODB_URI") {
        Ok(uri) if !uri.is_empty() => uri,
        _ => start_server(""),
    })
}

/// A server without a replica set (no transactions), as the legacy package documents for
/// development: `MONGODB_STANDALONE_URI` if set, else `secantusd-py --standalone`.
pub fn standalone_uri() -> &'static str {
    STANDALONE_URI.get_or_init(|| match std::env::var("MONGODB_STANDALONE_URI") {
        Ok(uri) if !uri.is_empty() => uri,
        _ => start_server("--standalone"),
    })
}

// The watchdog shell outlives nothing: it stops the server and exits when this process ends.
#[allow(clippy::zombie_processes)]
fn start_server(extra: &str) -> String {
    let binary = repo_root().join(".venv/bin/secantusd-py");
    assert!(
        binary.exists(),
        "the test server is not installed: run `bash scripts/setup.sh` (it installs secantusdb into .venv), or set MONGODB_URI (and MONGODB_STANDALONE_URI for the standalone tests)"
    );
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    // The shell watches this process and stops the server when it is gone.
    let script = format!(
        "{bin} --host 127.0.0.1 --port {port} --storage-path :memory: --enable-test-commands --log-level WARNING {extra} & \
         server=$!; while kill -0 {parent} 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 0.3; done; kill $server 2>/dev/null; wait $server",
        bin = binary.display(),
        parent = std::process::id(),
    );
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start secantusd-py");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "secantusd-py did not start on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    format!("mongodb://127.0.0.1:{port}/?directConnection=true")
}

/// The database (and client app) name of a test.
pub fn name(test: &str) -> String {
    format!("t_{test}").chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).take(60).collect()
}

/// A connection to a fresh database named after the test.
pub async fn database(test: &str) -> Connection {
    database_on(server_uri(), test).await
}

/// A connection to a fresh database named after the test, on the server at `uri`.
pub async fn database_on(uri: &str, test: &str) -> Connection {
    let name = name(test);
    let deadline = Instant::now() + Duration::from_secs(30);
    let connection = loop {
        match Connection::connect(
            uri,
            &name,
            PoolOptions::default().with_server_selection_timeout(Duration::from_secs(5)),
        )
        .await
        {
            Ok(connection) => break connection,
            Err(err) if Instant::now() < deadline => {
                eprintln!("waiting for the test server: {err}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("cannot connect to the test server at {uri}: {err}"),
        }
    };
    connection.database().drop().await.expect("drop the test database");
    connection
}

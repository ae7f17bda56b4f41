//! Test support for applications (feature `testing`): a real MongoDB-wire server for the test
//! process and a fresh database for each test, the way this crate tests itself.
//!
//! ```no_run
//! use cqrs_mongo_persistence::testing;
//!
//! #[tokio::test]
//! async fn places_an_order() {
//!     let db = testing::database(testing::test_name!()).await; // empty, named after the test
//!     // ... use `db` like any Connection ...
//! }
//! ```
//!
//! With `MONGODB_URI` set, tests use that deployment (a mongod replica set works unchanged).
//! Otherwise the first test to ask starts an embedded **SecantusDB** (`secantusd-py`) on a free
//! loopback port with in-memory storage and test commands (`configureFailPoint`) enabled; it is
//! a replica set of one, so transactions and change streams work. A watchdog stops the server
//! when the test process ends, however it ends. The server binary is found at `$SECANTUSD_PY`,
//! else as `secantusd-py` on the `PATH`, else in a `.venv/bin/` of the current directory or one
//! of its parents (`pip install secantusdb` into the project's venv).

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::store::connection::{Connection, PoolOptions};

mod fail_point;

pub use fail_point::{FailPoint, fail_command};

static URI: OnceLock<String> = OnceLock::new();
static STANDALONE_URI: OnceLock<String> = OnceLock::new();

/// The name of the calling function, for [`database`]: `database(test_name!())` in a test
/// gives that test its own database.
#[doc(hidden)]
#[macro_export]
macro_rules! __test_name {
    () => {{
        fn here() {}
        fn name_of<T>(_: T) -> &'static str {
            ::std::any::type_name::<T>()
        }
        // `crate::module::the_test::{{closure}}::here` (closures, async blocks) → `the_test`.
        let mut path = name_of(here).trim_end_matches("::here");
        while let Some(outer) = path.strip_suffix("::{{closure}}") {
            path = outer;
        }
        path.rsplit("::").next().unwrap_or(path)
    }};
}
pub use __test_name as test_name;

/// The URI of the test server: `MONGODB_URI` when set, else an embedded SecantusDB started on
/// first use (one per process).
///
/// # Panics
///
/// When no server binary is found, or it does not accept connections within 60 s; the message
/// says how to install it.
pub fn server_uri() -> &'static str {
    URI.get_or_init(|| match std::env::var("MONGODB_URI") {
        Ok(uri) if !uri.is_empty() => uri,
        _ => start_server(&[]),
    })
}

/// A server without a replica set, hence without transactions (what the legacy package
/// documents for development): `MONGODB_STANDALONE_URI` when set, else an embedded SecantusDB
/// started with `--standalone`.
///
/// # Panics
///
/// As [`server_uri`].
pub fn standalone_uri() -> &'static str {
    STANDALONE_URI.get_or_init(|| match std::env::var("MONGODB_STANDALONE_URI") {
        Ok(uri) if !uri.is_empty() => uri,
        _ => start_server(&["--standalone"]),
    })
}

/// The embedded server's binary, if one is installed (see the module documentation).
pub fn secantusd() -> Option<PathBuf> {
    find_secantusd(std::env::var_os("SECANTUSD_PY"), std::env::var_os("PATH"), std::env::current_dir().ok())
}

/// `$SECANTUSD_PY`, else `secantusd-py` in a `PATH` directory, else in a `.venv/bin/` of `cwd`
/// or one of its parents.
fn find_secantusd(explicit: Option<OsString>, path: Option<OsString>, cwd: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(explicit) = explicit.filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(explicit));
    }
    let on_path = path
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("secantusd-py"))
        .find(|candidate| candidate.is_file());
    on_path.or_else(|| {
        cwd?.ancestors().map(|dir| dir.join(".venv/bin/secantusd-py")).find(|candidate| candidate.is_file())
    })
}

// The watchdog shell stops the server and exits when this process is gone; nothing waits on it.
#[allow(clippy::zombie_processes)]
fn start_server(extra: &[&str]) -> String {
    let binary = secantusd().unwrap_or_else(|| {
        panic!(
            "no test server: install SecantusDB (`pip install secantusdb` into the project's .venv, as \
             scripts/setup.sh does), point SECANTUSD_PY at secantusd-py, or set MONGODB_URI"
        )
    });
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let script = format!(
        "{bin} --host 127.0.0.1 --port {port} --storage-path :memory: --enable-test-commands --log-level WARNING {extra} & \
         server=$!; while kill -0 {parent} 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 0.3; done; \
         kill $server 2>/dev/null; wait $server",
        bin = quoted(&binary),
        extra = extra.join(" "),
        parent = std::process::id(),
    );
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{} did not start on port {port}", binary.display());
        std::thread::sleep(Duration::from_millis(100));
    }
    format!("mongodb://127.0.0.1:{port}/?directConnection=true")
}

/// `path` as one shell word.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// The database (and client app) name of a test: `t_` and the name, other characters than
/// ASCII letters and digits as `_`, at most 60 characters.
pub fn database_name(test: &str) -> String {
    format!("t_{test}").chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).take(60).collect()
}

/// A connection to an empty database named after `test` (dropped first) on the test server.
///
/// # Panics
///
/// As [`server_uri`], and when the server cannot be reached within 30 s.
pub async fn database(test: &str) -> Connection {
    database_on(server_uri(), test).await
}

/// A connection to an empty database named after `test` on the server at `uri`; its client's
/// application name is the database's name (so [`fail_command`] can aim at it alone).
///
/// # Panics
///
/// When the server cannot be reached within 30 s.
pub async fn database_on(uri: &str, test: &str) -> Connection {
    let name = database_name(test);
    let deadline = Instant::now() + Duration::from_secs(30);
    // Fail points that make the server look gone are seen through within half a second.
    let options = PoolOptions::default()
        .with_server_selection_timeout(Duration::from_secs(5))
        .with_app_name(&name)
        .with_heartbeat_frequency(Duration::from_millis(500));
    let connection = loop {
        match Connection::connect(uri, &name, options.clone()).await {
            Ok(connection) => break connection,
            Err(err) if Instant::now() < deadline => {
                eprintln!("waiting for the test server: {err}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("cannot connect to the test server at {uri}: {err}"),
        }
    };
    connection.database().drop().await.unwrap_or_else(|err| panic!("cannot drop the test database {name}: {err}"));
    connection
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_name_is_the_calling_function() {
        assert_eq!(crate::testing::test_name!(), "test_name_is_the_calling_function");
        let in_closure = || crate::testing::test_name!();
        assert_eq!(in_closure(), "test_name_is_the_calling_function");
    }

    #[test]
    fn the_server_is_found_by_variable_then_path_then_a_venv_above() {
        use super::find_secantusd;
        let root = std::env::temp_dir().join(format!("cqrs-find-{}", std::process::id()));
        let (bin, venv, deep) = (root.join("bin"), root.join("project/.venv/bin"), root.join("project/crate/tests"));
        for dir in [&bin, &venv, &deep] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let cwd = Some(deep.clone());
        assert_eq!(find_secantusd(None, Some(bin.clone().into()), cwd.clone()), None, "nothing installed");
        std::fs::write(venv.join("secantusd-py"), "").unwrap();
        assert_eq!(find_secantusd(None, Some(bin.clone().into()), cwd.clone()), Some(venv.join("secantusd-py")));
        std::fs::write(bin.join("secantusd-py"), "").unwrap();
        assert_eq!(find_secantusd(None, Some(bin.clone().into()), cwd.clone()), Some(bin.join("secantusd-py")));
        let explicit = root.join("elsewhere/secantusd-py");
        assert_eq!(find_secantusd(Some(explicit.clone().into()), Some(bin.into()), cwd), Some(explicit));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn names_are_safe_database_names() {
        assert_eq!(super::database_name("a-b.c d"), "t_a_b_c_d");
        assert_eq!(super::database_name(&"x".repeat(100)).len(), 60);
    }
}

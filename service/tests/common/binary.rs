//! The real binary (`target/debug/cqrs-mongo-service`) on a real socket, as in production: the
//! page and the npm package mounted, `PORT=0`, a fresh database per test. And a raw HTTP/1.1
//! client over TCP, so that tests see exactly what the server sends (or that it closes).
//!
//! Waits are bounded generously (a minute or two) only so that a broken server fails the test
//! instead of hanging it; verdicts are about what happens, never about how fast.

use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cqrs_mongo_persistence::Connection;
use cqrs_mongo_persistence::testing::{database, database_name, server_uri};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// The bound on any single wait: far above what any step takes on a slow machine.
pub const BOUND: Duration = Duration::from_secs(120);

/// The repository root.
pub fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A running service process (killed when dropped).
pub struct Service {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    output: Arc<Mutex<String>>,
    /// The tasks copying its stdout and stderr: done once the pipes close.
    collectors: Vec<tokio::task::JoinHandle<()>>,
}

/// `uri` with `appName=name`: fail points can then target this client alone.
pub fn with_app_name(uri: &str, name: &str) -> String {
    let separator = if uri.contains('?') {
        "&"
    } else if uri.trim_start_matches("mongodb://").contains('/') {
        "?"
    } else {
        "/?"
    };
    format!("{uri}{separator}appName={name}")
}

impl Service {
    /// The service on the test server, on an empty database named after `test` (also its
    /// client's `appName`), with the extra environment `env`; the test's own connection to the
    /// same database.
    pub async fn start(test: &str, env: &[(&str, &str)]) -> (Service, Connection) {
        let db = database(test).await;
        let name = database_name(test);
        let service = Service::start_on(&with_app_name(server_uri(), &name), &name, env).await;
        (service, db)
    }

    /// The service on `uri` and `database`, with the extra environment `env`, once it prints
    /// its `listening on http://…` line.
    pub async fn start_on(uri: &str, database: &str, env: &[(&str, &str)]) -> Service {
        let root = root();
        let mut command = Command::new(env!("CARGO_BIN_EXE_cqrs-mongo-service"));
        command
            .current_dir(&root)
            .env("MONGODB_URI", uri)
            .env("DATABASE", database)
            .env("PORT", "0")
            .env("WEB_ROOT", root.join("service/web"))
            .env("PKG_ROOT", root.join("bindings-wasm"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("the service binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        let (listening, mut address) = tokio::sync::mpsc::unbounded_channel();
        let collectors = vec![
            collect(child.stdout.take().unwrap(), output.clone(), Some(listening)),
            collect(child.stderr.take().unwrap(), output.clone(), None),
        ];
        let addr = match tokio::time::timeout(BOUND, address.recv()).await {
            Ok(Some(addr)) => addr,
            _ => panic!("the service did not listen:\n{}", output.lock().unwrap()),
        };
        Service { child, addr, output, collectors }
    }

    /// Everything it printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// The first line it printed that satisfies `wanted`, waiting for it (output comes through a
    /// pipe); panics, showing the output, when none has within [`BOUND`] or 1 200 looks.
    pub async fn line_where(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let started = std::time::Instant::now();
        for _ in 0..1_200 {
            if let Some(line) = self.output().lines().find(|line| wanted(line)) {
                return line.to_owned();
            }
            if started.elapsed() > BOUND {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no line {what} in the output:\n{}", self.output())
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("the service is running").to_string();
        let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success(), "kill -TERM {pid}");
    }

    /// Its exit status; panics when it has not exited within `bound`.
    pub async fn exited_within(&mut self, bound: Duration) -> ExitStatus {
        let status = match tokio::time::timeout(bound, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!("the service did not exit within {bound:?}:\n{}", self.output()),
        };
        // Its last lines may still be in the pipes: the output is whole once they are read to
        // their end (they close when the process exits).
        for collector in self.collectors.drain(..) {
            let _ = tokio::time::timeout(bound, collector).await;
        }
        status
    }
}

/// Copies the lines of `from` into `into`; sends the address of the `listening on` line.
fn collect(
    from: impl AsyncRead + Unpin + Send + 'static,
    into: Arc<Mutex<String>>,
    listening: Option<tokio::sync::mpsc::UnboundedSender<SocketAddr>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(from).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(addr) = line.strip_prefix("listening on http://").and_then(|a| a.parse().ok()) {
                listening.as_ref().map(|sender| sender.send(addr));
            }
            let mut output = into.lock().unwrap();
            output.push_str(&line);
            output.push('\n');
        }
    })
}

/// An HTTP answer as it came over the wire.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body (empty for HEAD).
    pub body: Vec<u8>,
}

impl Answer {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// True when the content type is JSON.
    pub fn is_json(&self) -> bool {
        self.header("content-type").is_some_and(|t| t.starts_with("application/json"))
    }
}

/// The service's error shape: `status`, a JSON content type and (unless `head`) a body
/// `{"code": code, "message": …}`.
#[track_caller]
pub fn assert_json_error(answer: &Answer, status: u16, code: &str, head: bool) {
    let what = format!("{answer:?} ({})", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.status, status, "{what}");
    assert!(answer.is_json(), "a JSON content type: {what}");
    if head {
        assert!(answer.body.is_empty(), "no body for HEAD: {what}");
    } else {
        let body = answer.json();
        assert_eq!(body["code"], code, "{what}");
        assert!(body["message"].is_string(), "{what}");
    }
}

/// The first answer in `bytes` after any `1xx` ones (the body bounded by `content-length`).
pub fn parse(bytes: &[u8]) -> Option<Answer> {
    let mut rest = bytes;
    loop {
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..end]).ok()?;
        rest = &rest[end + 4..];
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        if (100..200).contains(&status) {
            continue;
        }
        let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok());
        let body = rest[..length.unwrap_or(rest.len()).min(rest.len())].to_vec();
        return Some(Answer { status, headers, body });
    }
}

/// What the server sends until it closes the connection (a reset counts as closing); panics
/// when it neither closes nor stops sending within [`BOUND`].
pub async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        let mut buffer = [0; 8192];
        while let Ok(n @ 1..) = stream.read(&mut buffer).await {
            bytes.extend_from_slice(&buffer[..n]);
        }
    });
    read.await.unwrap_or_else(|_| panic!("the server neither answered nor closed within {BOUND:?}"));
    bytes
}

/// Sends `raw` on a new connection and reads until the server closes it.
pub async fn exchange(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(raw).await.expect("send");
    read_until_closed(&mut stream).await
}

/// `method path` with a JSON `body` (or none), on its own connection.
pub async fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Answer {
    request_with(addr, method, path, &[], body).await
}

/// [`request`] with extra `headers` (name, value), sent as given.
pub async fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let body = body.unwrap_or_default();
    let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let raw = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\n\
         {extra}content-length: {}\r\n\r\n{body}",
        body.len()
    );
    let bytes = exchange(addr, raw.as_bytes()).await;
    parse(&bytes)
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer, got {:?}", String::from_utf8_lossy(&bytes)))
}

/// Arms (`mode` `"alwaysOn"`, `{"times": n}`) or disarms (`"off"`) the server's `failCommand`
/// fail point for the clients named `app` alone (the service's, see [`Service::start`]): `data`
/// says which commands and what happens (`errorCode`, `blockConnection`…). Needs a server with
/// test commands (the embedded test server has them).
pub async fn fail_point(db: &Connection, app: &str, mode: bson::Bson, mut data: bson::Document) {
    data.insert("appName", app);
    let command = bson::doc! { "configureFailPoint": "failCommand", "mode": mode, "data": data };
    db.client()
        .database("admin")
        .run_command(command)
        .await
        .expect("configureFailPoint (the server must run with --enable-test-commands)");
}

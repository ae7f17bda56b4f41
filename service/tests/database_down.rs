//! The running binary when its database goes away: requests that need the database are a JSON
//! 503 `database_unavailable` within `DB_TIMEOUT` (not after the driver's two minutes), the
//! process itself still answers `/health`, `/ready` is a 503 in the common error shape (its
//! cause logged as an error), and a stop still ends in `stopped` and exit 0. The
//! test starts its own embedded SecantusDB, to kill it.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::binary::{BOUND, Service, assert_json_error, request};
use cqrs_mongo_persistence::testing::{database_name, secantusd, test_name};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn with_the_database_gone_requests_are_a_json_503_within_the_deadline_and_a_stop_still_exits() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let binary = secantusd().expect("SecantusDB (secantusd-py), as for every test");
    let mut server = Command::new(binary)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--storage-path", ":memory:"])
        .args(["--enable-test-commands", "--log-level", "WARNING"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(started.elapsed() < BOUND, "SecantusDB did not start on port {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let uri = format!("mongodb://127.0.0.1:{port}/?directConnection=true");
    let env = [("DB_TIMEOUT", "1"), ("SHUTDOWN_GRACE", "2")];
    let mut service = Service::start_on(&uri, &database_name(test_name!()), &env).await;
    let order = r#"{"customer": "ada", "lines": [{"sku": "a", "quantity": 1, "price_cents": 100}]}"#;
    assert_eq!(request(service.addr, "POST", "/orders", Some(order)).await.status, 201);

    server.kill().await.unwrap();
    // Far below the two minutes a unit of work would retry for by default.
    let within = Duration::from_secs(60);
    for (method, path, body) in [
        ("POST", "/orders", Some(order)),
        ("GET", "/orders/o-1", None),
        ("POST", "/orders/search", Some(r#"{"spec": {"op": "=", "attr": "status", "val": "placed"}}"#)),
    ] {
        let started = Instant::now();
        let answer = request(service.addr, method, path, body).await;
        assert_json_error(&answer, 503, "database_unavailable", false);
        assert!(started.elapsed() < within, "{method} {path}: answered after {:?}", started.elapsed());
    }
    assert_eq!(request(service.addr, "GET", "/health", None).await.status, 200);
    // Not ready: the common error shape, the driver's error logged (not sent).
    let ready = request(service.addr, "GET", "/ready", None).await;
    assert_json_error(&ready, 503, "database_unavailable", false);
    assert_eq!(ready.json().as_object().map(|body| body.len()), Some(2), "only code and message: {ready:?}");
    let logged =
        service.line_where("logging /ready's 503", |line| line.contains("/ready") && line.contains("503")).await;
    assert!(logged.contains("ERROR") && logged.contains("cause="), "{logged}");

    service.terminate();
    let status = service.exited_within(BOUND).await;
    assert!(status.success(), "{status}:\n{}", service.output());
    assert!(service.output().lines().any(|line| line == "stopped"), "{}", service.output());
}

//! The running binary's bounds on time and connections, seen from raw TCP sockets: headers that
//! do not arrive get the connection closed, a body that does not arrive a JSON 408 and a close,
//! a handler that takes too long a JSON 503, and connections over the limit cannot keep a new
//! client's `/health` waiting. The configured timeouts are small; the tests' own waits are
//! generous bounds that only keep a broken server from hanging them.

mod common;

use std::time::{Duration, Instant};

use bson::doc;
use common::binary::{BOUND, Service, assert_json_error, exchange, fail_point, parse, read_until_closed, request};
use cqrs_mongo_persistence::testing::{database_name, test_name};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_without_a_whole_request_head_is_closed() {
    let (service, _db) = Service::start(test_name!(), &[("HEADER_READ_TIMEOUT", "1")]).await;
    // Nothing at all, half a head, a head sent byte by byte that never ends (slowloris).
    let silent = exchange(service.addr, b"").await;
    assert!(silent.is_empty(), "{silent:?}");
    let half = exchange(service.addr, b"GET /health HTTP/1.1\r\nhost: x\r\n").await;
    assert!(parse(&half).is_none(), "closed without an answer: {:?}", String::from_utf8_lossy(&half));
    let mut slow = TcpStream::connect(service.addr).await.unwrap();
    let started = Instant::now();
    for byte in b"GET /health HTTP/1.1\r\nx-slow: ".iter().chain(std::iter::repeat(&b'a')) {
        if slow.write_all(&[*byte]).await.is_err() {
            break; // closed by the server
        }
        assert!(started.elapsed() < BOUND, "a slowloris connection is still open after {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The service still answers.
    assert_eq!(request(service.addr, "GET", "/health", None).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_body_that_never_arrives_is_a_json_408_then_closed() {
    let (service, _db) = Service::start(test_name!(), &[("BODY_TIMEOUT", "1")]).await;
    let head = "POST /orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{";
    let bytes = exchange(service.addr, head.as_bytes()).await; // returns once the server closed
    let answer = parse(&bytes).expect("an HTTP answer before the close");
    assert_json_error(&answer, 408, "body_timeout", false);
    assert_eq!(answer.header("connection"), Some("close"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_that_takes_too_long_is_a_json_503() {
    let (service, db) = Service::start(test_name!(), &[("REQUEST_TIMEOUT", "1")]).await;
    // Every read of the service's client waits 5 s at the server: longer than the request may.
    let block = doc! { "failCommands": ["find", "aggregate"], "blockConnection": true, "blockTimeMS": 5000 };
    fail_point(&db, &database_name(test_name!()), "alwaysOn".into(), block).await;
    let answer = request(service.addr, "GET", "/orders/o-1", None).await;
    fail_point(&db, &database_name(test_name!()), "off".into(), doc! {}).await;
    assert_json_error(&answer, 503, "request_timeout", false);
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_over_the_limit_do_not_keep_a_new_client_waiting() {
    const LIMIT: usize = 20;
    let env = [("MAX_CONNECTIONS", "20"), ("HEADER_READ_TIMEOUT", "2")];
    let (service, _db) = Service::start(test_name!(), &env).await;
    let mut idle = Vec::new();
    for _ in 0..LIMIT + 30 {
        idle.push(TcpStream::connect(service.addr).await.unwrap());
    }
    // A new client is answered: at once with a JSON 503 while the idle ones hold every slot, or
    // 200 if their header timeout has closed them already.
    let health = request(service.addr, "GET", "/health", None).await;
    if health.status == 503 {
        assert_json_error(&health, 503, "too_many_connections", false);
        assert_eq!(health.header("connection"), Some("close"));
    } else {
        assert_eq!(health.status, 200, "{health:?}");
    }
    // Each idle connection is closed by the server: over the limit at once (after its 503),
    // the others when their headers do not come.
    for stream in &mut idle {
        let bytes = read_until_closed(stream).await;
        if let Some(answer) = parse(&bytes) {
            assert_json_error(&answer, 503, "too_many_connections", false);
        }
    }
    // Their slots are free again (a slot is released just after its connection closes).
    let started = Instant::now();
    loop {
        let health = request(service.addr, "GET", "/health", None).await;
        if health.status == 200 {
            break;
        }
        assert_json_error(&health, 503, "too_many_connections", false);
        assert!(started.elapsed() < BOUND, "no slot free after {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

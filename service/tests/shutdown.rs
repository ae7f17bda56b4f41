//! Stopping the running binary with SIGTERM: it stops accepting, lets the requests it is serving
//! finish (within `SHUTDOWN_GRACE`), closes what is still open after that, stops its background
//! loops, prints `stopped` and exits 0. No client is left waiting: every request gets an answer
//! or a closed connection. Bounds on the test's waits are generous and only keep a broken stop
//! from hanging the test.

mod common;

use std::time::Duration;

use common::binary::{BOUND, Service, parse, read_until_closed, request};
use cqrs_mongo_persistence::testing::test_name;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ORDER: &str = r#"{"customer": "ada", "lines": [{"sku": "a", "quantity": 1, "price_cents": 100}]}"#;

/// A `POST /orders` whose handling has begun: its head is sent with `Expect: 100-continue`, and
/// the server's `100 Continue` says a handler is reading its body (which is not sent yet).
async fn request_in_flight(service: &Service) -> TcpStream {
    let mut stream = TcpStream::connect(service.addr).await.unwrap();
    let head = format!(
        "POST /orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         expect: 100-continue\r\n\r\n",
        ORDER.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0; 256];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(BOUND, stream.read(&mut buffer)).await.expect("100 Continue").unwrap();
        assert!(n > 0, "closed before 100 Continue");
        seen.extend_from_slice(&buffer[..n]);
    }
    assert!(seen.starts_with(b"HTTP/1.1 100 Continue"), "{:?}", String::from_utf8_lossy(&seen));
    stream
}

/// Waits until a new connection is refused (the listener is closed).
async fn until_refused(service: &Service) {
    let started = std::time::Instant::now();
    while TcpStream::connect(service.addr).await.is_ok() {
        assert!(started.elapsed() < BOUND, "still accepting connections after {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_lets_the_request_in_flight_finish_closes_idle_connections_and_exits() {
    // A grace far longer than the test: the service exits once its requests are done.
    let (mut service, _db) = Service::start(test_name!(), &[("SHUTDOWN_GRACE", "600")]).await;
    let mut in_flight = request_in_flight(&service).await;
    let mut idle = TcpStream::connect(service.addr).await.unwrap();
    assert_eq!(request(service.addr, "GET", "/health", None).await.status, 200); // `idle` was accepted before
    service.terminate();
    until_refused(&service).await;
    // The idle connection is closed without an answer; the request in flight completes.
    assert!(read_until_closed(&mut idle).await.is_empty());
    in_flight.write_all(ORDER.as_bytes()).await.unwrap();
    let bytes = read_until_closed(&mut in_flight).await;
    let answer = parse(&bytes).expect("an answer to the request in flight");
    assert_eq!(answer.status, 201, "{answer:?} {:?}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.json()["customer"], "ada");
    assert_eq!(answer.header("connection"), Some("close"));
    let status = service.exited_within(BOUND).await;
    assert!(status.success(), "{status}:\n{}", service.output());
    assert!(service.output().lines().any(|line| line == "stopped"), "{}", service.output());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_held_open_past_the_grace_is_closed_and_the_service_exits() {
    // The client would hold its request open for ten minutes; the grace is one second.
    let env = [("SHUTDOWN_GRACE", "1"), ("BODY_TIMEOUT", "600"), ("HEADER_READ_TIMEOUT", "600")];
    let (mut service, _db) = Service::start(test_name!(), &env).await;
    let mut held = request_in_flight(&service).await;
    // Requests sent as the stop begins: each is answered, or its connection closed.
    let racing: Vec<_> = (0..8)
        .map(|_| {
            let addr = service.addr;
            tokio::spawn(async move {
                let Ok(mut stream) = TcpStream::connect(addr).await else { return None }; // refused
                let raw = format!(
                    "POST /orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{ORDER}",
                    ORDER.len()
                );
                let _ = stream.write_all(raw.as_bytes()).await;
                parse(&read_until_closed(&mut stream).await)
            })
        })
        .collect();
    service.terminate();
    for outcome in racing {
        if let Some(answer) = outcome.await.unwrap() {
            assert!(answer.status == 201 || answer.status == 503, "{answer:?}");
            assert!(answer.is_json(), "{answer:?}");
        }
    }
    // Closed when the grace is over, without an answer, without waiting for the body (nor for
    // its timeout).
    let bytes = read_until_closed(&mut held).await;
    assert!(parse(&bytes).is_none(), "{:?}", String::from_utf8_lossy(&bytes));
    let status = service.exited_within(BOUND).await;
    assert!(status.success(), "{status}:\n{}", service.output());
    assert!(service.output().lines().any(|line| line == "stopped"), "{}", service.output());
}

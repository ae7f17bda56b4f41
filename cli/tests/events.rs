//! `cqrs-mongo events tail` on the real test server.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use bson::Bson;
use cqrs_mongo_persistence::EventStore;
use cqrs_mongo_persistence::event_store::StoredEvent;

/// The line `events tail` prints for an event.
fn expected_line(event: &StoredEvent) -> String {
    let payload = Bson::Document(event.payload.clone()).into_relaxed_extjson();
    format!("{}\t{}\t{}\t{}\t{payload}", event.position, event.aggregate_id, event.version, event.event_type)
}

#[tokio::test(flavor = "multi_thread")]
async fn events_tail_prints_the_events_after_a_position_and_stops_when_caught_up() {
    let test = "cli_events_tail";
    let db = support::database(test).await;
    support::append_orders(&db, 3).await;
    let stored = EventStore::new(&db).read_all(0, 100).await.unwrap();
    assert_eq!(stored.len(), 3);

    let all = support::stdout_ok(&support::run(test, &["events", "tail"]).await);
    let expected: Vec<String> = stored.iter().map(expected_line).collect();
    assert_eq!(all.lines().collect::<Vec<_>>(), expected);
    let fields: Vec<&str> = all.lines().next().unwrap().split('\t').collect();
    assert_eq!(fields[..4], ["1", "o1", "1", "OrderPlaced"]);
    let payload: serde_json::Value = serde_json::from_str(fields[4]).unwrap();
    assert_eq!(payload, serde_json::json!({"customer": "customer-1", "total_cents": 10_000, "items": 1}));

    let one = support::stdout_ok(&support::run(test, &["events", "tail", "--after", "1", "--limit", "1"]).await);
    assert_eq!(one, format!("{}\n", expected[1]));
    let rest = support::stdout_ok(&support::run(test, &["events", "tail", "--after", "1"]).await);
    assert_eq!(rest, format!("{}\n{}\n", expected[1], expected[2]));
    let none = support::stdout_ok(&support::run(test, &["events", "tail", "--after", "3"]).await);
    assert_eq!(none, "");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn events_tail_follow_prints_new_events_until_ctrl_c() {
    let test = "cli_events_follow";
    let db = support::database(test).await;
    support::append_orders(&db, 1).await;

    let mut child = support::cli(test)
        .args(["events", "tail", "--follow"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cqrs-mongo");
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next_line = || received.recv_timeout(Duration::from_secs(120)).expect("a line from events tail --follow");
    assert!(next_line().starts_with("1\to1\t1\tOrderPlaced\t"));

    // Caught up, it keeps polling: an event appended now is printed too.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(child.try_wait().unwrap().is_none(), "--follow does not stop when caught up");
    support::append_order(&db, "late", "customer-late", 0).await;
    let line = next_line();
    assert!(line.starts_with("2\tlate\t1\tOrderPlaced\t"), "{line}");
    assert!(child.try_wait().unwrap().is_none());

    // Ctrl-C ends it successfully.
    let interrupted = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let status = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    assert!(
        status.status.success(),
        "exit after Ctrl-C: {:?} {}",
        status.status,
        String::from_utf8_lossy(&status.stderr)
    );
}

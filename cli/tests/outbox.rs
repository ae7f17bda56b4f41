//! `cqrs-mongo outbox stats` and `outbox retry-dead` on the real test server.

mod support;

use bson::{Document, doc};
use cqrs_mongo_persistence::outbox::OutboxMessage;
use cqrs_mongo_persistence::runtime::RetryPolicy;
use cqrs_mongo_persistence::{Alone, Outbox, OutboxRelay};

fn message(id: &str) -> OutboxMessage {
    OutboxMessage::new(id, "OrderPlaced", doc! { "id": id }, "corr-1")
}

#[tokio::test(flavor = "multi_thread")]
async fn outbox_stats_and_retry_dead_put_parked_messages_back_to_pending() {
    let test = "cli_outbox";
    let db = support::database(test).await;
    let outbox = Outbox::new(&db);
    outbox.save(&[message("m1"), message("m2"), message("m3")], Alone).await.unwrap();
    // One attempt each: m3 is published, m1 and m2 fail and are parked as dead (`failed`).
    let relay = OutboxRelay::new(&outbox, "test-relay").on_failure(RetryPolicy::park_after(1));
    let report = relay
        .run_once(|m| async move { if m.message_id == "m3" { Ok(()) } else { Err("broker down".to_string()) } })
        .await
        .unwrap();
    assert_eq!((report.published, report.dead), (1, 2));
    outbox.save(&[message("m4")], Alone).await.unwrap();
    // m4 has waited an hour: the backlog's age.
    let an_hour_ago = bson::DateTime::from_millis(bson::DateTime::now().timestamp_millis() - 3_600_000);
    let messages = db.database().collection::<Document>("outbox_messages");
    messages.update_one(doc! { "_id": "m4" }, doc! { "$set": { "created_at": an_hour_ago } }).await.unwrap();

    let stats = support::stdout_ok(&support::run(test, &["outbox", "stats"]).await);
    let (counts, age) = stats.rsplit_once("oldest pending: ").expect("the backlog line");
    assert_eq!(counts, "pending    1\npublished  1\nfailed     2\ntotal      4\n");
    let seconds: f64 = age.strip_suffix(" s\n").expect("seconds").parse().unwrap();
    assert!((3_600.0..4_200.0).contains(&seconds), "{age}");

    let retried = support::stdout_ok(&support::run(test, &["outbox", "retry-dead"]).await);
    assert_eq!(retried, "2 dead messages put back to pending\n");
    let collection = db.database().collection::<Document>("outbox_messages");
    for id in ["m1", "m2"] {
        let stored = collection.find_one(doc! { "_id": id }).await.unwrap().unwrap();
        assert_eq!(stored.get_str("status").unwrap(), "pending", "{id} is pending again");
        assert_eq!(stored.get_i32("retry_count").unwrap(), 0, "{id} has a fresh attempt budget");
        assert!(!stored.contains_key("dead_at"));
    }
    let published = collection.find_one(doc! { "_id": "m3" }).await.unwrap().unwrap();
    assert_eq!(published.get_str("status").unwrap(), "published", "published messages are left alone");
    let counts = outbox.stats().await.unwrap();
    assert_eq!((counts.get("pending"), counts.get("failed")), (Some(&3), None));

    let after = support::stdout_ok(&support::run(test, &["outbox", "stats"]).await);
    assert!(after.starts_with("pending    3\npublished  1\nfailed     0\ntotal      4\noldest pending: "), "{after}");
    let nothing = support::stdout_ok(&support::run(test, &["outbox", "retry-dead"]).await);
    assert_eq!(nothing, "0 dead messages put back to pending\n");

    // The retried messages really are deliverable again.
    let report = relay.run_once(|_| async { Ok::<(), String>(()) }).await.unwrap();
    assert_eq!(report.published, 3);
}

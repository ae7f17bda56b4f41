//! Transactional outbox and relay on the real test server.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::doc;
use cqrs_mongo_persistence::{Outbox, OutboxMessage, OutboxRelay};

fn message(id: &str) -> OutboxMessage {
    OutboxMessage::new(id, "OrderPlaced", doc! { "id": id }, "corr-1")
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_are_saved_in_the_unit_of_work_and_empty_lists_are_no_ops() {
    let db = support::database("outbox_save").await;
    let outbox = Outbox::new(&db);
    outbox.save(&[], None).await.unwrap();
    let mut uow = db.begin().await.unwrap();
    outbox.save(&[message("m1"), message("m2")], Some(&mut uow)).await.unwrap();
    uow.rollback().await.unwrap();
    assert!(outbox.stats().await.unwrap().is_empty(), "rolled back with the transaction");
    let mut uow = db.begin().await.unwrap();
    outbox.save(&[message("m1")], Some(&mut uow)).await.unwrap();
    uow.commit().await.unwrap();
    let stored =
        db.database().collection::<bson::Document>("outbox_messages").find_one(doc! {}).await.unwrap().unwrap();
    for key in ["event_type", "payload", "metadata", "status", "created_at", "retry_count", "correlation_id"] {
        assert!(stored.contains_key(key), "legacy field {key}");
    }
    assert_eq!(stored.get_str("status").unwrap(), "pending");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_relays_never_publish_one_message_twice() {
    let db = support::database("outbox_two_relays").await;
    let outbox = Outbox::new(&db);
    let messages: Vec<_> = (0..40).map(|i| message(&format!("m{i:02}"))).collect();
    outbox.save(&messages, None).await.unwrap();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let relay = |name: &str| {
        let relay = OutboxRelay::new(&outbox, name).batch(40);
        let sent = sent.clone();
        async move {
            relay
                .run_once(async |m| {
                    sent.lock().unwrap().push(m.message_id.clone());
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    Ok(())
                })
                .await
                .unwrap()
        }
    };
    let (a, b) = tokio::join!(relay("a"), relay("b"));
    assert_eq!(a.published + b.published, 40);
    let mut sent = sent.lock().unwrap().clone();
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), 40, "each message published exactly once");
    assert_eq!(outbox.stats().await.unwrap().get("published"), Some(&40));
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_back_off_then_park_the_message_as_dead() {
    let db = support::database("outbox_failures").await;
    let outbox = Outbox::new(&db);
    outbox.save(&[message("m1")], None).await.unwrap();
    let relay = OutboxRelay::new(&outbox, "r").max_attempts(3).backoff(Duration::from_millis(200));
    let first = relay.run_once(async |_| Err("broker down".to_string())).await.unwrap();
    assert_eq!(first.retried, 1);
    let too_soon = relay.run_once(async |_| Ok(())).await.unwrap();
    assert_eq!(too_soon, Default::default(), "not due before the backoff");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(relay.run_once(async |_| Err("again".to_string())).await.unwrap().retried, 1);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(relay.run_once(async |_| Err("still".to_string())).await.unwrap().dead, 1);
    let stored =
        db.database().collection::<bson::Document>("outbox_messages").find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!((stored.get_str("status").unwrap(), stored.get_i64("retry_count").unwrap()), ("failed", 3));
    assert_eq!(stored.get_str("error").unwrap(), "still");
    assert_eq!(outbox.retry_dead().await.unwrap(), 1, "failed messages can be retried (legacy never did)");
    assert_eq!(relay.run_once(async |_| Ok(())).await.unwrap().published, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_lease_is_reclaimed_and_the_old_holder_cannot_finish() {
    let db = support::database("outbox_lease").await;
    let outbox = Outbox::new(&db);
    outbox.save(&[message("m1")], None).await.unwrap();
    let slow = OutboxRelay::new(&outbox, "slow").lease(Duration::from_millis(300));
    let fast = OutboxRelay::new(&outbox, "fast");
    let report = slow
        .run_once(async |_| {
            // While this relay is stuck, its lease expires and another relay takes over.
            tokio::time::sleep(Duration::from_millis(600)).await;
            let taken = fast.run_once(async |_| Ok(())).await.unwrap();
            assert_eq!(taken.published, 1, "the expired lease was reclaimed");
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(report.lost_claims, 1, "the old holder's outcome is dropped (fencing token)");
    assert_eq!(outbox.stats().await.unwrap().get("published"), Some(&1));
}

#[tokio::test(flavor = "multi_thread")]
async fn per_aggregate_ordering_waits_for_the_older_message() {
    let db = support::database("outbox_ordering").await;
    let outbox = Outbox::new(&db);
    outbox.save(&[message("a1").for_aggregate("A"), message("b1").for_aggregate("B")], None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    outbox.save(&[message("a2").for_aggregate("A")], None).await.unwrap();
    let relay = OutboxRelay::new(&outbox, "r").ordered_per_aggregate().backoff(Duration::from_secs(60));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let report = relay
        .run_once(async |m| {
            sent.lock().unwrap().push(m.message_id.clone());
            if m.message_id == "a1" { Err("a1 fails".into()) } else { Ok(()) }
        })
        .await
        .unwrap();
    assert_eq!(*sent.lock().unwrap(), ["a1", "b1"], "a2 waits while a1 is unpublished");
    assert_eq!((report.published, report.retried), (1, 1));
}

//! Transactional outbox and relay on the real test server.

mod support;

use cqrs_mongo_persistence::runtime::{Backoff, RetryPolicy};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::doc;
use cqrs_mongo_persistence::outbox::OutboxMessage;
use cqrs_mongo_persistence::{Alone, Outbox, OutboxRelay};

fn message(id: &str) -> OutboxMessage {
    OutboxMessage::new(id, "OrderPlaced", doc! { "id": id }, "corr-1")
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_are_saved_in_the_unit_of_work_and_empty_lists_are_no_ops() {
    let db = support::database("outbox_save").await;
    let outbox = Outbox::new(&db);
    outbox.save(&[], Alone).await.unwrap();
    let uow = db.begin().await.unwrap();
    outbox.save(&[message("m1"), message("m2")], &uow).await.unwrap();
    uow.rollback().await.unwrap();
    assert!(outbox.stats().await.unwrap().is_empty(), "rolled back with the transaction");
    let uow = db.begin().await.unwrap();
    outbox.save(&[message("m1")], &uow).await.unwrap();
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
    outbox.save(&messages, Alone).await.unwrap();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let relay = |name: &str| {
        let relay = OutboxRelay::new(&outbox, name).batch_size(40);
        let sent = sent.clone();
        async move {
            relay
                .run_once(|m| {
                    let sent = sent.clone();
                    async move {
                        sent.lock().unwrap().push(m.message_id);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        Ok::<(), String>(())
                    }
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
    outbox.save(&[message("m1")], Alone).await.unwrap();
    // A backoff no server is slow enough to outlast between two calls.
    let patient = OutboxRelay::new(&outbox, "patient").on_failure(
        RetryPolicy::park_after(3).backoff(Backoff::new(Duration::from_secs(3600), Duration::from_secs(3600))),
    );
    let first = patient.run_once(|_| async { Err("broker down".to_string()) }).await.unwrap();
    assert_eq!(first.retried, 1);
    let too_soon = patient.run_once(|_| async { Ok::<(), String>(()) }).await.unwrap();
    assert_eq!(too_soon, Default::default(), "not due before the backoff");
    // Make it due, as the passing hour would.
    let past = bson::DateTime::from_millis(bson::DateTime::now().timestamp_millis() - 1_000);
    let messages = db.database().collection::<bson::Document>("outbox_messages");
    messages.update_one(doc! { "_id": "m1" }, doc! { "$set": { "next_attempt_at": past } }).await.unwrap();
    let relay = OutboxRelay::new(&outbox, "r").on_failure(
        RetryPolicy::park_after(3).backoff(Backoff::new(Duration::from_millis(20), Duration::from_secs(3600))),
    );
    assert_eq!(relay.run_once(|_| async { Err("again".to_string()) }).await.unwrap().retried, 1);
    // The second backoff is 2 × 20 ms: sleeping 100 ms makes it due, however slow the server.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(relay.run_once(|_| async { Err("still".to_string()) }).await.unwrap().dead, 1);
    let stored =
        db.database().collection::<bson::Document>("outbox_messages").find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!((stored.get_str("status").unwrap(), stored.get_i64("retry_count").unwrap()), ("failed", 3));
    assert_eq!(stored.get_str("error").unwrap(), "still");
    assert_eq!(outbox.retry_dead(Alone).await.unwrap(), 1, "failed messages can be retried (legacy never did)");
    assert_eq!(relay.run_once(|_| async { Ok::<(), String>(()) }).await.unwrap().published, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_lease_is_reclaimed_and_the_old_holder_cannot_finish() {
    let db = support::database("outbox_lease").await;
    let outbox = Outbox::new(&db);
    outbox.save(&[message("m1")], Alone).await.unwrap();
    let slow = OutboxRelay::new(&outbox, "slow").lease_period(Duration::from_millis(300));
    let fast = OutboxRelay::new(&outbox, "fast");
    let report = slow
        .run_once(|_| {
            let fast = fast.clone();
            async move {
                // While this relay is stuck, its lease expires and another relay takes over.
                tokio::time::sleep(Duration::from_millis(600)).await;
                let taken = fast.run_once(|_| async { Ok::<(), String>(()) }).await.unwrap();
                assert_eq!(taken.published, 1, "the expired lease was reclaimed");
                Ok::<(), String>(())
            }
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
    outbox.save(&[message("a1").for_aggregate("A"), message("b1").for_aggregate("B")], Alone).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    outbox.save(&[message("a2").for_aggregate("A")], Alone).await.unwrap();
    let relay = OutboxRelay::new(&outbox, "r").ordered_per_aggregate().on_failure(
        RetryPolicy::park_after(5).backoff(Backoff::new(Duration::from_secs(60), Duration::from_secs(3600))),
    );
    let sent = Arc::new(Mutex::new(Vec::new()));
    let report = relay
        .run_once(|m| {
            sent.lock().unwrap().push(m.message_id.clone());
            async move { if m.message_id == "a1" { Err("a1 fails".to_string()) } else { Ok(()) } }
        })
        .await
        .unwrap();
    assert_eq!(*sent.lock().unwrap(), ["a1", "b1"], "a2 waits while a1 is unpublished");
    assert_eq!((report.published, report.retried), (1, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn four_relays_with_failures_and_a_crashed_relay_publish_everything_once() {
    use std::collections::HashSet;
    let db = support::database("outbox_stress").await;
    let outbox = Outbox::new(&db);
    db.ensure_indexes(&Outbox::indexes()).await.unwrap();
    const MESSAGES: u64 = 2_000;
    let messages: Vec<_> = (0..MESSAGES).map(|i| message(&format!("m{i:04}"))).collect();
    outbox.save(&messages, Alone).await.unwrap();
    let delivered = Arc::new(Mutex::new(Vec::<String>::new()));
    let marked = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    // One relay "crashes" mid-batch: its round is dropped while it holds claims.
    let crashing = OutboxRelay::new(&outbox, "crashing").lease_period(Duration::from_millis(300)).batch_size(50);
    let stuck = crashing.run_once(|m| {
        let delivered = delivered.clone();
        async move {
            if m.message_id.as_str() >= "m0005" {
                std::future::pending::<()>().await;
            }
            delivered.lock().unwrap().push(m.message_id);
            Ok::<(), String>(())
        }
    });
    let _ = tokio::time::timeout(Duration::from_millis(200), stuck).await;

    let relays: Vec<_> = (0..4)
        .map(|r| {
            let relay = OutboxRelay::new(&outbox, format!("r{r}"))
                .lease_period(Duration::from_secs(1))
                .batch_size(100)
                .on_failure(
                    RetryPolicy::park_after(1_000)
                        .backoff(Backoff::new(Duration::from_millis(5), Duration::from_secs(3600))),
                );
            let delivered = delivered.clone();
            let outbox = outbox.clone();
            let marked = marked.clone();
            tokio::spawn(async move {
                let mut seed: u64 = 0x9E37_79B9 + r;
                for _ in 0..1_000 {
                    let report = relay
                        .run_once(|m| {
                            // A publisher that fails about one time in five.
                            seed ^= seed << 13;
                            seed ^= seed >> 7;
                            seed ^= seed << 17;
                            let fail = seed.is_multiple_of(5);
                            let delivered = delivered.clone();
                            async move {
                                if fail {
                                    return Err("flaky broker".to_owned());
                                }
                                delivered.lock().unwrap().push(m.message_id);
                                Ok::<(), String>(())
                            }
                        })
                        .await
                        .unwrap();
                    marked.fetch_add(report.published, std::sync::atomic::Ordering::SeqCst);
                    let stats = outbox.stats().await.unwrap();
                    if stats.get("published") == Some(&MESSAGES) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        })
        .collect();
    for relay in relays {
        relay.await.unwrap();
    }
    let stats = outbox.stats().await.unwrap();
    assert_eq!(stats.get("published"), Some(&MESSAGES), "none lost or stuck: {stats:?}");
    assert_eq!(stats.len(), 1, "nothing left pending or failed: {stats:?}");
    let delivered = delivered.lock().unwrap();
    let unique: HashSet<&String> = delivered.iter().collect();
    assert_eq!(unique.len() as u64, MESSAGES, "every message published at least once");
    assert_eq!(
        marked.load(std::sync::atomic::Ordering::SeqCst) as u64,
        MESSAGES,
        "each message marked published exactly once (the crashed relay marked none)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ordered_relays_publish_each_aggregate_in_save_order_despite_failures() {
    let db = support::database("outbox_ordered_stress").await;
    let outbox = Outbox::new(&db);
    db.ensure_indexes(&Outbox::indexes()).await.unwrap();
    // Ids sort against the save order, and each aggregate's messages are saved in one call
    // (same millisecond): only the save order can put them right.
    for aggregate in ["A", "B", "C", "D"] {
        let messages: Vec<_> = (0..15)
            .map(|n| {
                OutboxMessage::new(format!("{aggregate}-{:02}", 99 - n), "Step", doc! { "n": n }, "c")
                    .for_aggregate(aggregate)
            })
            .collect();
        outbox.save(&messages, Alone).await.unwrap();
    }
    let delivered = Arc::new(Mutex::new(Vec::<(String, i32)>::new()));
    let relays: Vec<_> = (0..2_u64)
        .map(|r| {
            let relay = OutboxRelay::new(&outbox, format!("r{r}")).ordered_per_aggregate().batch_size(10).on_failure(
                RetryPolicy::park_after(1_000)
                    .backoff(Backoff::new(Duration::from_millis(2), Duration::from_secs(3600))),
            );
            let (delivered, outbox) = (delivered.clone(), outbox.clone());
            tokio::spawn(async move {
                let mut seed: u64 = 0xDEAD_BEEF + r;
                for _ in 0..2_000 {
                    relay
                        .run_once(|m| {
                            seed ^= seed << 13;
                            seed ^= seed >> 7;
                            seed ^= seed << 17;
                            let fail = seed.is_multiple_of(3);
                            let delivered = delivered.clone();
                            async move {
                                if fail {
                                    return Err("flaky".to_owned());
                                }
                                let aggregate = m.message_id[..1].to_string();
                                delivered.lock().unwrap().push((aggregate, m.payload.get_i32("n").unwrap()));
                                Ok::<(), String>(())
                            }
                        })
                        .await
                        .unwrap();
                    if outbox.stats().await.unwrap().get("published") == Some(&60) {
                        return;
                    }
                }
            })
        })
        .collect();
    for relay in relays {
        relay.await.unwrap();
    }
    assert_eq!(outbox.stats().await.unwrap().get("published"), Some(&60));
    let delivered = delivered.lock().unwrap();
    for aggregate in ["A", "B", "C", "D"] {
        let order: Vec<i32> = delivered.iter().filter(|(a, _)| a == aggregate).map(|(_, n)| *n).collect();
        assert_eq!(order, (0..15).collect::<Vec<_>>(), "aggregate {aggregate} published in save order, once each");
    }
}

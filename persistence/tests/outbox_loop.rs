//! The relay loop with a `Publisher`: woken by the change stream, backing off while the
//! publisher fails, graceful shutdown, every stored field handed over, and two relays (one
//! killed mid-run) with a publisher failing one attempt in five: everything is published,
//! and the duplicates stay within what the docs promise (a killed relay's claimed batch).

mod support;

use cqrs_mongo_persistence::runtime::{Backoff, RetryPolicy, Unavailable};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::doc;
use cqrs_mongo_persistence::outbox::{ClaimedMessage, OutboxMessage, Publisher};
use cqrs_mongo_persistence::{Alone, Outbox, OutboxRelay};
use support::runner::wait_until;

/// Records deliveries; fails an attempt when `fail_every` divides a hash of (id, attempt).
#[derive(Default)]
struct Broker {
    delivered: Mutex<Vec<ClaimedMessage>>,
    failures: AtomicU64,
    fail_every: u64,
    batches: AtomicU64,
}

impl Broker {
    fn failing(fail_every: u64) -> Self {
        Broker { fail_every, ..Broker::default() }
    }

    fn counts(&self) -> BTreeMap<String, u32> {
        let mut counts = BTreeMap::new();
        for message in self.delivered.lock().unwrap().iter() {
            *counts.entry(message.message_id.clone()).or_default() += 1;
        }
        counts
    }
}

/// A deterministic "one in `n`" choice per message and attempt.
fn unlucky(message: &ClaimedMessage, n: u64) -> bool {
    let text = format!("{}#{}", message.message_id, message.retry_count);
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    n > 0 && hash % n == 0
}

impl Publisher for Broker {
    type Error = String;

    async fn publish(&self, message: &ClaimedMessage) -> Result<(), String> {
        if unlucky(message, self.fail_every) {
            self.failures.fetch_add(1, Ordering::SeqCst);
            return Err(format!("broker refused {}", message.message_id));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.delivered.lock().unwrap().push(message.clone());
        Ok(())
    }

    async fn publish_batch(&self, messages: &[ClaimedMessage]) -> Vec<Result<(), String>> {
        self.batches.fetch_add(1, Ordering::SeqCst);
        let mut outcomes = Vec::new();
        for message in messages {
            outcomes.push(self.publish(message).await);
        }
        outcomes
    }
}

fn message(i: usize) -> OutboxMessage {
    let mut message = OutboxMessage::new(format!("m{i:03}"), "OrderPlaced", doc! { "i": i as i64 }, "corr")
        .for_aggregate(format!("o{}", i % 7));
    message.causation_id = Some("cause".into());
    message.metadata = doc! { "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" };
    message
}

#[tokio::test(flavor = "multi_thread")]
async fn the_loop_publishes_new_messages_as_they_are_saved_and_stops_cleanly() {
    let db = support::database("relay_loop").await;
    let outbox = Outbox::new(&db);
    db.ensure_indexes(&Outbox::indexes()).await.unwrap();
    let broker = Arc::new(Broker::default());
    let relay = Arc::new(OutboxRelay::new(&outbox, "loop").batch_size(10).poll_interval(Duration::from_secs(30)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let (relay, broker) = (relay.clone(), broker.clone());
        tokio::spawn(async move {
            relay
                .run(broker.as_ref(), async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    wait_until(|| relay.stats().rounds() >= 1).await;
    for i in 0..25 {
        outbox.save(&[message(i)], Alone).await.unwrap();
    }
    // A 30 s poll interval: only the change stream can bring these in before the wait ends.
    wait_until(|| relay.stats().published() == 25).await;
    assert!(relay.stats().change_stream_wakeups() >= 1);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(outbox.stats().await.unwrap().get("published"), Some(&25));
    assert!(broker.batches.load(Ordering::SeqCst) >= 1, "publish_batch is what the relay calls");

    // Every stored field reaches the publisher.
    let delivered = broker.delivered.lock().unwrap();
    let first = delivered.iter().find(|m| m.message_id == "m003").unwrap();
    assert_eq!(first.aggregate_id.as_deref(), Some("o3"));
    assert_eq!((first.correlation_id.as_deref(), first.causation_id.as_deref()), (Some("corr"), Some("cause")));
    assert_eq!(
        first.metadata.get_str("traceparent").unwrap(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    assert_eq!(first.payload, doc! { "i": 3_i64 });
    assert!(first.created_at.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_that_is_down_makes_the_loop_back_off_counting_no_attempt_and_every_message_is_published_later() {
    let db = support::database("relay_backoff").await;
    let outbox = Outbox::new(&db);
    outbox.save(&(0..5).map(message).collect::<Vec<_>>(), Alone).await.unwrap();
    /// Down (unavailable, not refusing the messages) until `open` is set.
    struct Gate(std::sync::atomic::AtomicBool, Broker);
    impl Publisher for Gate {
        type Error = cqrs_mongo_persistence::runtime::BoxError;
        async fn publish(&self, message: &ClaimedMessage) -> Result<(), Self::Error> {
            if !self.0.load(Ordering::SeqCst) {
                return Err(Unavailable::new("broker down").into());
            }
            Ok(self.1.publish(message).await?)
        }
    }
    let gate = Arc::new(Gate(false.into(), Broker::default()));
    let relay = Arc::new(
        OutboxRelay::new(&outbox, "gated")
            .on_failure(
                RetryPolicy::park_after(1_000)
                    .backoff(Backoff::new(Duration::from_millis(1), Duration::from_secs(3600))),
            )
            .poll_interval(Duration::from_millis(20))
            .on_unavailable(Backoff::new(Duration::from_millis(5), Duration::from_millis(40))),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let (relay, gate) = (relay.clone(), gate.clone());
        tokio::spawn(async move {
            relay
                .run(gate.as_ref(), async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    wait_until(|| relay.stats().backoffs() >= 3).await;
    assert_eq!(relay.stats().published(), 0);
    assert!(relay.stats().unavailable() >= 15, "five messages handed back, three rounds at least");
    gate.0.store(true, Ordering::SeqCst);
    wait_until(|| relay.stats().published() == 5).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    // The broker being down is not the messages' fault: no attempt was counted against them.
    assert_eq!(relay.stats().retried(), 0);
    let counted = db
        .database()
        .collection::<bson::Document>("outbox_messages")
        .count_documents(doc! { "retry_count": { "$gt": 0 } })
        .await
        .unwrap();
    assert_eq!(counted, 0);
    assert_eq!(gate.1.counts().len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_relays_one_killed_mid_run_with_a_flaky_publisher_publish_everything() {
    let db = support::database("relay_killed").await;
    let outbox = Outbox::new(&db);
    db.ensure_indexes(&Outbox::indexes()).await.unwrap();
    outbox.save(&(0..300).map(message).collect::<Vec<_>>(), Alone).await.unwrap();
    let broker = Arc::new(Broker::failing(5));
    let relay = |name: &str| {
        Arc::new(
            OutboxRelay::new(&outbox, name)
                .batch_size(20)
                .lease_period(Duration::from_secs(2))
                .on_failure(
                    RetryPolicy::park_after(50)
                        .backoff(Backoff::new(Duration::from_millis(1), Duration::from_secs(3600))),
                )
                .poll_interval(Duration::from_millis(20))
                .on_unavailable(Backoff::new(Duration::from_millis(1), Duration::from_millis(5))),
        )
    };
    let (a, b) = (relay("a"), relay("b"));
    let a_task = {
        let (a, broker) = (a.clone(), broker.clone());
        tokio::spawn(async move { a.run(broker.as_ref(), std::future::pending()).await })
    };
    wait_until(|| a.stats().published() >= 40).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let b_task = {
        let (b, broker) = (b.clone(), broker.clone());
        tokio::spawn(async move {
            b.run(broker.as_ref(), async {
                let _ = stopped.await;
            })
            .await
        })
    };
    wait_until(|| b.stats().rounds() >= 2).await;
    a_task.abort(); // mid-round, possibly between publishing and recording
    assert!(a_task.await.unwrap_err().is_cancelled());
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while outbox.stats().await.unwrap().get("published").copied().unwrap_or(0) < 300 {
        assert!(
            std::time::Instant::now() < deadline,
            "not everything was published: {:?}",
            outbox.stats().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(()).unwrap();
    b_task.await.unwrap().unwrap();

    let counts = broker.counts();
    assert_eq!(counts.len(), 300, "every message delivered");
    let duplicates: u32 = counts.values().map(|n| n - 1).sum();
    // At least once: the killed relay's last claimed round (at most one batch) can be
    // published again after its lease expires, and so can every message whose claim a relay
    // lost because its round outlived the lease on a slow machine (counted as lost claims).
    let lost = a.stats().lost_claims() + b.stats().lost_claims();
    assert!(u64::from(duplicates) <= 20 + lost, "{duplicates} duplicates, {lost} lost claims");
    assert!(broker.failures.load(Ordering::SeqCst) > 0, "the publisher did fail");
    assert_eq!(outbox.stats().await.unwrap().get("failed"), None, "nothing parked as dead");
}

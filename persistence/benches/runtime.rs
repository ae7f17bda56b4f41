//! The production runtime, measured on the same server in the same run:
//!
//! - subscription throughput: `Subscription::catch_up` with a no-op handler against paging
//!   `read_all` over the same events with the same page size (ratio = ours / read_all);
//! - relay throughput: `OutboxRelay::run` (the loop) against `run_once` called in a loop
//!   until nothing is left, same batch, no-op publisher;
//! - fail-over: a leading runner's task is aborted; time until the stand-by leads, for two
//!   lease periods (expected: at most the lease period plus a poll interval).
//!
//! `bash scripts/bench-persistence.sh runtime` builds and starts the Rust test server and runs it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::doc;
use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, StoredEvent, Stream};
use cqrs_mongo_persistence::outbox::{ClaimedMessage, OutboxMessage, Publisher};
use cqrs_mongo_persistence::projections::{Projection, Write};
use cqrs_mongo_persistence::store::PoolOptions;
use cqrs_mongo_persistence::{
    Alone, Connection, EventStore, Outbox, OutboxRelay, ProjectionRunner, Result, Subscription,
};

struct Noop;

impl Publisher for Noop {
    type Error = String;
    async fn publish(&self, _message: &ClaimedMessage) -> std::result::Result<(), String> {
        Ok(())
    }
}

struct Nothing;

impl Projection for Nothing {
    fn name(&self) -> &str {
        "nothing"
    }
    fn collections(&self) -> Vec<String> {
        Vec::new()
    }
    fn project(&self, _event: &StoredEvent) -> Result<Vec<Write>> {
        Ok(Vec::new())
    }
}

const EVENTS: usize = 5_000;
const PAGE: i64 = 500;
const MESSAGES: usize = 2_000;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn subscription_vs_read_all(db: &Connection, events: &EventStore) {
    for s in 0..EVENTS / 50 {
        let batch: Vec<NewEvent> =
            (0..50).map(|i| NewEvent::new(format!("e{s}-{i}"), "Placed", doc! { "i": i })).collect();
        let id = format!("s{s}");
        events
            .append(Stream { aggregate_id: &id, aggregate_type: "Order" }, ExpectedVersion::Any, &batch, Alone)
            .await
            .unwrap();
    }
    let noop = |_event: StoredEvent| async { Ok::<(), String>(()) };
    let mut ratios = Vec::new();
    for round in 0..5 {
        let subscription = Subscription::new(db, events, format!("bench-{round}")).batch_size(PAGE);
        let start = Instant::now();
        assert_eq!(subscription.catch_up(&noop).await.unwrap(), EVENTS as u64);
        let ours = start.elapsed();
        let start = Instant::now();
        let (mut after, mut read) = (0, 0);
        loop {
            let page = events.read_all(after, PAGE).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.position;
            read += page.len();
        }
        let raw = start.elapsed();
        assert_eq!(read, EVENTS);
        ratios.push(ours.as_secs_f64() / raw.as_secs_f64());
        println!(
            "subscription catch-up {EVENTS} events: ours {ours:>10.1?}   read_all {raw:>10.1?}   ratio {:.3}",
            ratios[round]
        );
    }
    println!("subscription vs read_all, median ratio {:.3}\n", median(ratios));
}

async fn relay_loop_vs_run_once(outbox: &Outbox) {
    let mut ratios = Vec::new();
    for round in 0..3 {
        let save = async |tag: &str| {
            let messages: Vec<OutboxMessage> = (0..MESSAGES)
                .map(|i| OutboxMessage::new(format!("{tag}{round}-{i}"), "Placed", doc! {}, "c"))
                .collect();
            for chunk in messages.chunks(500) {
                outbox.save(chunk, Alone).await.unwrap();
            }
        };
        save("loop").await;
        let relay = Arc::new(OutboxRelay::new(outbox, "loop").batch_size(100).poll_interval(Duration::from_millis(50)));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let start = Instant::now();
        let task = {
            let relay = relay.clone();
            tokio::spawn(async move {
                relay
                    .run(&Noop, async {
                        let _ = stopped.await;
                    })
                    .await
            })
        };
        while relay.stats().published() < MESSAGES as u64 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let ours = start.elapsed();
        stop.send(()).unwrap();
        task.await.unwrap().unwrap();
        save("once").await;
        let relay = OutboxRelay::new(outbox, "once").batch_size(100);
        let start = Instant::now();
        let mut published = 0;
        loop {
            let report = relay.run_once_with(&Noop).await.unwrap();
            if report.published == 0 {
                break;
            }
            published += report.published;
        }
        let raw = start.elapsed();
        assert_eq!(published, MESSAGES);
        ratios.push(ours.as_secs_f64() / raw.as_secs_f64());
        println!(
            "relay {MESSAGES} messages: loop {ours:>10.1?}   run_once loop {raw:>10.1?}   ratio {:.3}",
            ratios[round]
        );
    }
    println!("relay loop vs run_once in a loop, median ratio {:.3}\n", median(ratios));
}

async fn fail_over(db: &Connection, events: &EventStore) {
    for lease in [Duration::from_secs(1), Duration::from_secs(2)] {
        let mut measured = Vec::new();
        for round in 0..3 {
            let replica = |name: &str| {
                Arc::new(
                    ProjectionRunner::new(db, events, Nothing)
                        .lease_period(lease)
                        .poll_interval(Duration::from_millis(100))
                        .replica_name(format!("{name}-{round}-{}", lease.as_secs())),
                )
            };
            let (a, b) = (replica("a"), replica("b"));
            let a_task = {
                let a = a.clone();
                tokio::spawn(async move { a.run(std::future::pending()).await })
            };
            while a.stats().follow().leaderships() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let b_task = {
                let b = b.clone();
                tokio::spawn(async move { b.run(std::future::pending()).await })
            };
            while b.stats().follow().standby_waits() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            a_task.abort();
            let killed = Instant::now();
            while b.stats().follow().leaderships() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            measured.push(killed.elapsed().as_secs_f64());
            b_task.abort();
            let _ = b_task.await;
            // The next round starts from a free lease.
            db.database().collection::<bson::Document>("leases").delete_many(doc! {}).await.unwrap();
        }
        let text: Vec<String> = measured.iter().map(|s| format!("{s:.2} s")).collect();
        println!("fail-over, lease {lease:?}, poll 100 ms: take-over after {}", text.join(", "));
    }
}

#[tokio::main]
async fn main() {
    let uri = std::env::var("MONGODB_URI").expect("set MONGODB_URI (scripts/bench-persistence.sh starts a server)");
    let db = Connection::connect(&uri, "bench_runtime", PoolOptions::default()).await.expect("connect");
    db.database().drop().await.expect("drop");
    let events = EventStore::new(&db);
    let mut indexes = EventStore::indexes();
    indexes.extend(Outbox::indexes());
    db.ensure_indexes(&indexes).await.expect("indexes");
    println!("server: {uri}\n");
    subscription_vs_read_all(&db, &events).await;
    relay_loop_vs_run_once(&Outbox::new(&db)).await;
    fail_over(&db, &events).await;
}

//! Event store and outbox throughput against raw inserts, same server, same run.
//!
//! `bash scripts/bench-persistence.sh event_store` (starts secantusd-rs, sets MONGODB_URI).

use std::time::Instant;

use bson::{DateTime, Document, doc};
use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, Stream as EventStream};
use cqrs_mongo_persistence::outbox::OutboxMessage;
use cqrs_mongo_persistence::store::PoolOptions;
use cqrs_mongo_persistence::{Alone, Connection, EventStore, Outbox, OutboxRelay};
use futures::{FutureExt, TryStreamExt};

const EVENTS_PER_WRITER_TOTAL: usize = 16_000;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn append_throughput(db: &Connection, writers: usize) -> f64 {
    db.database().collection::<Document>("domain_events").drop().await.unwrap();
    db.database().collection::<Document>("counters").drop().await.unwrap();
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let store = EventStore::new(db);
    let per_writer = EVENTS_PER_WRITER_TOTAL / writers;
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let id = format!("s{w}");
                for i in 0..per_writer {
                    let event = NewEvent::new(format!("w{w}e{i}"), "Placed", doc! { "i": i as i64 });
                    let stream = EventStream { aggregate_id: &id, aggregate_type: "Order" };
                    store.append(stream, ExpectedVersion::Exact(i as i64), &[event], Alone).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (per_writer * writers) as f64 / start.elapsed().as_secs_f64()
}

/// Appends inside the caller's unit of work (with an outbox message, the usual command shape):
/// these cannot be grouped, so concurrent writers conflict on the counter and retry.
async fn append_in_unit_of_work_throughput(db: &Connection, writers: usize) -> f64 {
    db.database().collection::<Document>("domain_events").drop().await.unwrap();
    db.database().collection::<Document>("counters").drop().await.unwrap();
    db.database().collection::<Document>("outbox_messages").drop().await.unwrap();
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let store = EventStore::new(db);
    let outbox = Outbox::new(db);
    let total = 2_000;
    let per_writer = total / writers;
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (store, outbox, db) = (store.clone(), outbox.clone(), db.clone());
            tokio::spawn(async move {
                for i in 0..per_writer {
                    let event = NewEvent::new(format!("w{w}e{i}"), "Placed", doc! { "i": i as i64 });
                    let message = OutboxMessage::new(format!("w{w}m{i}"), "Placed", doc! { "i": i as i64 }, "c");
                    let id = format!("s{w}");
                    db.transaction_with((&store, &outbox, event, message, id, i), |uow, context| {
                        let (store, outbox, event, message, id, i) = context;
                        async move {
                            let stream = EventStream { aggregate_id: id, aggregate_type: "Order" };
                            let expected = ExpectedVersion::Exact(*i as i64);
                            store.append(stream, expected, std::slice::from_ref(event), uow).await?;
                            outbox.save(std::slice::from_ref(message), uow).await
                        }
                        .boxed()
                    })
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (per_writer * writers) as f64 / start.elapsed().as_secs_f64()
}

async fn raw_throughput(db: &Connection, inserters: usize) -> f64 {
    let raw = db.database().collection::<Document>("raw_events");
    raw.drop().await.unwrap();
    let per = EVENTS_PER_WRITER_TOTAL / inserters;
    let start = Instant::now();
    let tasks: Vec<_> = (0..inserters)
        .map(|w| {
            let raw = raw.clone();
            tokio::spawn(async move {
                for i in 0..per {
                    let document = doc! { "_id": format!("w{w}e{i}"), "event_type": "Placed", "aggregate_id": format!("s{w}"),
                        "aggregate_type": "Order", "version": i as i64 + 1, "schema_version": 1, "payload": { "i": i as i64 },
                        "metadata": {}, "occurred_at": DateTime::now(), "position": (w * per + i) as i64 + 1 };
                    raw.insert_many([document]).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (per * inserters) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let uri = std::env::var("MONGODB_URI").expect("MONGODB_URI");
    let db = Connection::connect(&uri, "bench_event_store", PoolOptions::default()).await.unwrap();
    db.database().drop().await.unwrap();

    // `EVENT_STORE_BENCH=read_all` runs the read benchmark alone.
    let reads_only = std::env::var("EVENT_STORE_BENCH").as_deref() == Ok("read_all");
    if !reads_only {
        println!(
            "append throughput, {EVENTS_PER_WRITER_TOTAL} single-event appends (each a transaction with version and position checks)"
        );
        let mut results = Vec::new();
        for writers in [1, 16] {
            let raw = raw_throughput(&db, writers).await;
            let ours = append_throughput(&db, writers).await;
            println!(
                "  {writers:>2} writers: store {ours:>8.0} events/s   raw insert_many {raw:>8.0} docs/s   store/raw {:.2}",
                ours / raw
            );
            results.push(ours);
        }
        println!(
            "  16 writers / 1 writer: {:.2} (goal ≥ 1: no hot-counter collapse); goal ≥ 4300 events/s with 16 writers",
            results[1] / results[0]
        );
        println!("append + outbox message in the caller's unit of work (not grouped; conflicts retried by the driver)");
        for writers in [1, 16] {
            let ours = append_in_unit_of_work_throughput(&db, writers).await;
            println!("  {writers:>2} writers: {ours:>8.0} commands/s");
        }
    }

    // read_all over many events: fill with raw inserts in the legacy shape, then stream.
    let events = db.database().collection::<Document>("domain_events");
    events.drop().await.unwrap();
    // The legacy counter says how far positions are committed; readers page up to it.
    let counters = db.database().collection::<Document>("counters");
    counters.drop().await.unwrap();
    counters.insert_one(doc! { "_id": "domain_events_position", "value": 200_000 }).await.unwrap();
    for chunk in 0..200 {
        let docs: Vec<Document> = (0..1_000)
            .map(|i| {
                let n = (chunk * 1_000 + i) as i64;
                doc! { "_id": format!("f{n}"), "event_type": "Placed", "aggregate_id": format!("a{}", n % 1000), "aggregate_type": "Order",
                    "version": n / 1000 + 1, "schema_version": 1, "payload": { "n": n }, "metadata": {}, "occurred_at": DateTime::now(), "position": n + 1 }
            })
            .collect();
        events.insert_many(docs).await.unwrap();
    }
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let store = EventStore::new(&db);
    // Memory must not grow with the number of events read: 50,000 then all 200,000. The
    // baseline is the same range paging through the raw driver (no decoding, no gap checks),
    // alternated with the store's reads five times; the median ratio is reported.
    for after in [150_000, 0] {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = peak_rss_kib();
        let mut ratios = Vec::new();
        let (mut ours, mut raw, mut count) = (0.0, 0.0, 0);
        for round in 0..5 {
            let store_read = async {
                let start = Instant::now();
                let n =
                    store.read_all_stream(after, 1_000).try_fold(0u64, |n, _| async move { Ok(n + 1) }).await.unwrap();
                (n, n as f64 / start.elapsed().as_secs_f64())
            };
            let raw_read = async {
                let start = Instant::now();
                let n = raw_range_read(&events, after, 200_000, 1_000).await;
                n as f64 / start.elapsed().as_secs_f64()
            };
            // Alternate which goes first, so neither always meets a warmer server.
            if round % 2 == 0 {
                (count, ours) = store_read.await;
                raw = raw_read.await;
            } else {
                raw = raw_read.await;
                (count, ours) = store_read.await;
            }
            ratios.push(ours / raw);
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "read_all stream over {count:>6} events: {ours:>7.0} events/s (raw range reads {raw:>7.0} docs/s), peak RSS grew {} KiB; store/raw median of 5: {:.2} (range {:.2}-{:.2})",
            peak_rss_kib().saturating_sub(before),
            ratios[2],
            ratios[0],
            ratios[4]
        );
    }
    if reads_only {
        return;
    }

    db.database().collection::<Document>("outbox_messages").drop().await.unwrap();
    db.ensure_indexes(&Outbox::indexes()).await.unwrap();
    let outbox = Outbox::new(&db);
    let messages: Vec<OutboxMessage> =
        (0..2_000).map(|i| OutboxMessage::new(format!("m{i}"), "Placed", doc! { "i": i }, "c")).collect();
    outbox.save(&messages, Alone).await.unwrap();
    let relay = OutboxRelay::new(&outbox, "bench").batch_size(500);
    let start = Instant::now();
    let mut published = 0;
    while published < 2_000 {
        published += relay.run_once(|_| async { Ok::<(), String>(()) }).await.unwrap().published;
    }
    println!("outbox relay: {:.0} messages/s", published as f64 / start.elapsed().as_secs_f64());
}

/// Reads positions `(after, head]` in ranges of `page` with the raw driver, as `read_all`
/// pages: the baseline for the store's reads.
async fn raw_range_read(events: &mongodb::Collection<Document>, mut after: i64, head: i64, page: i64) -> u64 {
    let mut count = 0;
    while after < head {
        let to = head.min(after + page);
        let found: Vec<Document> = events
            .find(doc! { "position": { "$gt": after, "$lte": to } })
            .sort(doc! { "position": 1 })
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        count += found.len() as u64;
        after = to;
    }
    count
}

//! Positions the legacy package takes outside a transaction: its `$inc` on the counter comes
//! before its insert, so a Rust event can be stored above a legacy position that is still
//! empty. Every position-ordered reader waits for it (a grace period) instead of skipping it.
//!
//! The legacy append is driven by hand, step by step, exactly as `MongoEventStore.append`
//! does it: `find_one_and_update` `$inc` on `counters` (upsert, return after), then
//! `insert_one` of the event with that position.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bson::{Bson, DateTime, Document, doc};
use cqrs_mongo_persistence::event_store::ExpectedVersion;
use cqrs_mongo_persistence::{Connection, EventStore, ProjectionRunner};
use mongodb::options::ReturnDocument;
use support::runner::{Counts, append_to, contents, setup, spawn_run, wait_for_count};

/// Longer than any test takes: a gap is never given up by time here.
const NEVER: Duration = Duration::from_secs(3600);

/// Step one of a legacy append: the position, taken from the shared counter.
async fn legacy_take_position(db: &Connection) -> i64 {
    let counter = db
        .database()
        .collection::<Document>("counters")
        .find_one_and_update(doc! { "_id": "domain_events_position" }, doc! { "$inc": { "value": 1 } })
        .upsert(true)
        .return_document(ReturnDocument::After)
        .await
        .unwrap()
        .unwrap();
    match counter.get("value") {
        Some(Bson::Int32(v)) => i64::from(*v),
        Some(Bson::Int64(v)) => *v,
        other => panic!("counter value {other:?}"),
    }
}

/// Step two: the insert, in the legacy document shape (nulls included).
async fn legacy_insert(db: &Connection, position: i64, stream: &str, version: i32, occurred_at: DateTime) {
    let event = doc! {
        "_id": format!("legacy-{position}"), "event_type": "Placed", "aggregate_id": stream,
        "aggregate_type": "Order", "version": version, "schema_version": 1, "payload": { "n": 1 },
        "metadata": {}, "occurred_at": occurred_at, "correlation_id": Bson::Null, "causation_id": Bson::Null,
        "position": position as i32,
    };
    db.database().collection::<Document>("domain_events").insert_one(event).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_event_inserted_after_a_later_rust_event_is_still_applied() {
    let (db, store) = setup("gaps_interleaving").await;
    let store = store.gap_grace(NEVER);
    let runner = ProjectionRunner::new(&db, &store, Counts::new("gaps", "g_"));
    append_to(&store, "rust-a", "r", ExpectedVersion::Any, 1, 1).await; // position 1

    // The legacy writer takes position 2 and has not inserted yet; Rust appends position 3.
    let held = legacy_take_position(&db).await;
    assert_eq!(held, 2);
    append_to(&store, "rust-b", "q", ExpectedVersion::Any, 1, 1).await;
    assert_eq!(store.latest_position().await.unwrap(), 3);

    // Catching up applies position 1 only and keeps the checkpoint below the gap.
    assert_eq!(runner.catch_up().await.unwrap(), 1);
    assert_eq!(runner.position().await.unwrap(), 1, "the checkpoint does not pass position 2");
    let reads: Vec<i64> = store.read_all(0, 10).await.unwrap().iter().map(|e| e.position).collect();
    assert_eq!(reads, [1]);
    assert_eq!(store.gap_stats().in_flight, 1);

    // The held insert lands; catching up again applies it and then position 3.
    legacy_insert(&db, held, "legacy-stream", 1, DateTime::now()).await;
    assert_eq!(runner.catch_up().await.unwrap(), 2);
    assert_eq!(runner.position().await.unwrap(), 3);
    let streams = contents(&db, "g_streams").await;
    let ids: Vec<&str> = streams.keys().map(String::as_str).collect();
    assert_eq!(ids, ["\"legacy-stream\"", "\"q0\"", "\"r0\""], "every event applied, the legacy one included");
    let stats = store.gap_stats();
    assert_eq!((stats.in_flight, stats.gaps_given_up), (0, 0), "nothing was given up");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_position_whose_insert_never_comes_is_given_up_counted_and_passed() {
    let (db, store) = setup("gaps_given_up").await;
    append_to(&store, "a", "r", ExpectedVersion::Any, 1, 1).await; // 1
    let lost = legacy_take_position(&db).await; // 2: the legacy insert failed
    append_to(&store, "b", "q", ExpectedVersion::Any, 1, 1).await; // 3

    // With no grace period the reader steps over it at once, and says so.
    let store = store.gap_grace(Duration::ZERO);
    let runner = ProjectionRunner::new(&db, &store, Counts::new("gaps", "g_"));
    assert_eq!(runner.catch_up().await.unwrap(), 2);
    assert_eq!(runner.position().await.unwrap(), 3);
    let stats = store.gap_stats();
    assert_eq!((stats.gaps_given_up, stats.positions_given_up), (1, 1));
    assert_eq!(lost, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_gap_is_passed_at_once_because_the_event_above_it_is_old() {
    let (db, store) = setup("gaps_old").await;
    let store = store.gap_grace(Duration::from_secs(600));
    // History written by the legacy package an hour ago, with a hole at 2 (a failed insert).
    let hour_ago = DateTime::from_millis(DateTime::now().timestamp_millis() - 3_600_000);
    for (position, version) in [(1, 1), (3, 2)] {
        assert_eq!(legacy_take_position(&db).await, position);
        legacy_insert(&db, position, "old", version, hour_ago).await;
        if position == 1 {
            assert_eq!(legacy_take_position(&db).await, 2);
        }
    }
    // A rebuild-like reader from 0 does not wait ten minutes at the old hole.
    let reads: Vec<i64> = store.read_all(0, 10).await.unwrap().iter().map(|e| e.position).collect();
    assert_eq!(reads, [1, 3]);
    assert_eq!(store.gap_stats().gaps_given_up, 1);

    // A hole below a fresh event is waited for, though.
    let fresh = legacy_take_position(&db).await; // 4, in flight
    append_to(&store, "new", "n", ExpectedVersion::Any, 1, 1).await; // 5
    let reads: Vec<i64> = store.read_all(3, 10).await.unwrap().iter().map(|e| e.position).collect();
    assert!(reads.is_empty(), "position {fresh} is in flight: nothing above it is read, got {reads:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_live_runner_waits_at_a_gap_and_goes_on_when_it_is_filled_or_given_up() {
    let (db, store) = setup("gaps_live").await;
    let store = store.gap_grace(NEVER);
    let runner = Arc::new(
        ProjectionRunner::new(&db, &store, Counts::new("gaps", "g_")).poll_interval(Duration::from_millis(50)),
    );
    let running = spawn_run(&runner);
    append_to(&store, "a", "r", ExpectedVersion::Any, 1, 1).await; // 1
    wait_for_count(&db, "g_streams", 1).await;
    let held = legacy_take_position(&db).await; // 2
    append_to(&store, "b", "q", ExpectedVersion::Any, 1, 1).await; // 3
    // The runner has seen position 3 is committed (the gap is in flight) before 2 lands.
    support::runner::wait_until(|| store.gap_stats().in_flight == 1).await;
    assert_eq!(runner.position().await.unwrap(), 1);
    legacy_insert(&db, held, "legacy-stream", 1, DateTime::now()).await;
    wait_for_count(&db, "g_streams", 3).await;
    running.stop().await;
    assert_eq!(runner.position().await.unwrap(), 3);
    assert_eq!(runner.stats().events(), 3, "each event applied once");

    // A runner on a store with a short grace goes on by itself past a hole nobody fills.
    let short = EventStore::new(&db).gap_grace(Duration::from_millis(200));
    let runner = Arc::new(
        ProjectionRunner::new(&db, &short, Counts::new("gaps2", "h_")).poll_interval(Duration::from_millis(50)),
    );
    legacy_take_position(&db).await; // 4, never inserted
    append_to(&short, "c", "p", ExpectedVersion::Any, 1, 1).await; // 5
    let running = spawn_run(&runner);
    wait_for_count(&db, "h_streams", 4).await;
    running.stop().await;
    assert_eq!(runner.position().await.unwrap(), 5);
    assert_eq!(short.gap_stats().positions_given_up, 1);
}

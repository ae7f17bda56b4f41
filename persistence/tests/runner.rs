//! The projection runner on the real test server: exactly-once catch-up across a kill, rebuild
//! and swap, change-stream wake-ups and the polling fallback.
//!
//! The fallback test arms a server-wide failpoint, so the tests of this binary take turns.

mod support;

use std::time::Duration;

use bson::{Bson, Document, doc};
use cqrs_mongo_persistence::ProjectionRunner;
use cqrs_mongo_persistence::event_store::ExpectedVersion;
use support::runner::*;
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_catch_up_and_restarted_equals_a_from_scratch_build() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (db, store) = setup("runner_kill").await;
    append(&store, "a", 12, 25).await;
    let runner = std::sync::Arc::new(ProjectionRunner::new(&db, &store, Counts::new("counts", "")).batch_size(10));
    let task = {
        let runner = runner.clone();
        tokio::spawn(async move { runner.catch_up().await })
    };
    while runner.stats().batches() < 5 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    task.abort();
    let _ = task.await;
    let saved = runner.position().await.unwrap();
    assert!(saved > 0 && saved < 300, "killed in the middle (at {saved})");

    let restarted = ProjectionRunner::new(&db, &store, Counts::new("counts", "")).batch_size(10);
    restarted.catch_up().await.unwrap();
    assert_eq!(restarted.position().await.unwrap(), 300);
    let fresh = ProjectionRunner::new(&db, &store, Counts::new("fresh", "fresh_")).batch_size(50);
    fresh.catch_up().await.unwrap();

    assert_eq!(contents(&db, "streams").await, expected_streams(&store, 12).await, "no event applied twice or skipped");
    assert_eq!(contents(&db, "streams").await, contents(&db, "fresh_streams").await);
    assert_eq!(contents(&db, "types").await, contents(&db, "fresh_types").await);
    let placed = contents(&db, "types").await[&Bson::String("Placed".into()).to_string()].get_i32("count").unwrap();
    assert_eq!(placed, 12 * 13);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_swaps_in_a_fresh_collection_that_has_the_events_appended_meanwhile() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (db, store) = setup("runner_rebuild").await;
    append(&store, "a", 10, 20).await;
    let runner = ProjectionRunner::new(&db, &store, Counts::new("counts", "")).batch_size(10);
    runner.catch_up().await.unwrap();
    // Damage the live read model: the rebuild must not carry it over.
    db.database().collection::<Document>("streams").insert_one(doc! { "_id": "bogus", "count": 99 }).await.unwrap();

    let (started, wait_started) = tokio::sync::oneshot::channel::<()>();
    let appender = {
        let store = store.clone();
        tokio::spawn(async move {
            let _ = wait_started.await;
            append(&store, "during", 10, 3).await;
        })
    };
    let mut started = Some(started);
    let mut seen = Vec::new();
    let report = runner
        .rebuild(|progress| {
            if let Some(started) = started.take() {
                let _ = started.send(());
            }
            seen.push((progress.done, progress.total));
        })
        .await
        .unwrap();
    appender.await.unwrap();
    runner.catch_up().await.unwrap();

    assert_eq!(report.version, 2);
    assert!(seen.len() >= 20, "progress after every batch");
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "done grows");
    assert!(seen.iter().all(|(done, total)| done <= total && *total >= 200));
    assert_eq!(contents(&db, "streams").await, expected_streams(&store, 10).await, "every event, the bogus one gone");
    let names = db.database().list_collection_names().await.unwrap();
    assert!(!names.iter().any(|n| n.ends_with("_v2")), "renamed, not copied: {names:?}");
    let indexes = db.database().collection::<Document>("streams").list_index_names().await.unwrap();
    assert!(indexes.contains(&"last_version_1".to_string()), "{indexes:?}");
    assert_eq!(runner.position().await.unwrap(), store.latest_position().await.unwrap());
    let again = runner.rebuild(|_| {}).await.unwrap();
    assert_eq!(again.version, 3, "rebuild numbers keep growing after the swap renamed v2 away");
    assert_eq!(contents(&db, "streams").await, expected_streams(&store, 10).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_stream_wakes_the_runner() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (db, store) = setup("runner_wake").await;
    // A poll interval far longer than the test: only the change stream can wake the runner.
    let runner = std::sync::Arc::new(
        ProjectionRunner::new(&db, &store, Counts::new("counts", "")).poll_interval(Duration::from_secs(600)),
    );
    let running = spawn_run(&runner);
    wait_until(|| runner.stats().follow().waits() >= 1).await;
    append(&store, "live", 1, 1).await;
    wait_for_count(&db, "streams", 1).await;
    assert!(runner.stats().follow().change_stream_wakeups() >= 1);
    assert_eq!(runner.stats().follow().poll_wakeups(), 0);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn polling_takes_over_when_the_change_stream_fails() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (db, store) = setup("runner_fallback").await;
    // Every aggregate fails (opening a change stream is one); the runner reads with find, and
    // appends with an exact expected version need no aggregate either.
    failpoint(&db, doc! { "mode": "alwaysOn", "data": { "failCommands": ["aggregate"], "errorCode": 286 } }).await;
    let runner = std::sync::Arc::new(
        ProjectionRunner::new(&db, &store, Counts::new("counts", "")).poll_interval(Duration::from_millis(100)),
    );
    let running = spawn_run(&runner);
    // Appended once the runner has caught up and waits: only a wake-up can bring them in.
    wait_until(|| runner.stats().follow().waits() >= 1).await;
    assert!(runner.stats().follow().fallbacks() >= 1, "the change stream could not be opened");
    append_to(&store, "polled", "p", ExpectedVersion::NoStream, 2, 2).await;
    wait_for_count(&db, "streams", 2).await;
    failpoint(&db, doc! { "mode": "off" }).await;
    assert!(runner.stats().follow().poll_wakeups() >= 1);
    assert_eq!(runner.stats().follow().change_stream_wakeups(), 0);
    running.stop().await;
    assert_eq!(contents(&db, "streams").await, expected_streams_of(&store, "p", 2).await);
}

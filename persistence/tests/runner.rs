//! The projection runner on the real test server: exactly-once catch-up across a kill, rebuild
//! and swap, change-stream wake-ups and the polling fallback.
//!
//! The fallback test arms a server-wide failpoint, so the tests of this binary take turns.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bson::{Bson, Document, doc};
use cqrs_mongo_persistence::{
    Connection, EventStore, EventStream, ExpectedVersion, IndexSpec, NewEvent, Projection, ProjectionRunner, Result,
    StoredEvent, Write,
};
use futures::TryStreamExt;
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Events per stream and per type, into `<prefix>streams` and `<prefix>types`.
struct Counts {
    name: String,
    prefix: String,
}

impl Counts {
    fn new(name: &str, prefix: &str) -> Self {
        Counts { name: name.into(), prefix: prefix.into() }
    }
}

impl Projection for Counts {
    fn name(&self) -> &str {
        &self.name
    }

    fn collections(&self) -> Vec<String> {
        vec![format!("{}streams", self.prefix), format!("{}types", self.prefix)]
    }

    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>> {
        Ok(vec![
            Write::update(
                format!("{}streams", self.prefix),
                event.aggregate_id.as_str(),
                doc! { "$inc": { "count": 1 }, "$set": { "last_version": event.version } },
            ),
            Write::update(format!("{}types", self.prefix), event.event_type.as_str(), doc! { "$inc": { "count": 1 } }),
        ])
    }

    fn indexes(&self) -> Vec<IndexSpec> {
        vec![IndexSpec::new(format!("{}streams", self.prefix), doc! { "last_version": 1 })]
    }
}

async fn setup(test: &str) -> (Connection, EventStore) {
    let db = support::database(test).await;
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let store = EventStore::new(&db);
    (db, store)
}

/// Appends `per_stream` events to each of `streams` streams `s0`, `s1`, …; types alternate.
async fn append(store: &EventStore, tag: &str, streams: usize, per_stream: usize) {
    append_to(store, tag, "s", ExpectedVersion::Any, streams, per_stream).await;
}

async fn append_to(
    store: &EventStore,
    tag: &str,
    prefix: &str,
    expected: ExpectedVersion,
    streams: usize,
    per_stream: usize,
) {
    for s in 0..streams {
        let id = format!("{prefix}{s}");
        let events: Vec<NewEvent> = (0..per_stream)
            .map(|i| NewEvent::new(format!("{tag}-{s}-{i}"), if i % 2 == 0 { "Placed" } else { "Paid" }, doc! {}))
            .collect();
        store
            .append(EventStream { aggregate_id: &id, aggregate_type: "Order" }, expected, &events, None)
            .await
            .unwrap();
    }
}

/// The projection's documents without the bookkeeping fields, by id.
async fn contents(db: &Connection, collection: &str) -> BTreeMap<String, Document> {
    let documents: Vec<Document> =
        db.database().collection::<Document>(collection).find(doc! {}).await.unwrap().try_collect().await.unwrap();
    documents
        .into_iter()
        .map(|mut d| {
            let id = d.remove("_id").map(|id| id.to_string()).unwrap_or_default();
            for key in ["_version", "_last_event_id", "_last_event_position"] {
                d.remove(key);
            }
            (id, d)
        })
        .collect()
}

/// What the counts must be, read back from the event store itself.
async fn expected_streams(store: &EventStore, streams: usize) -> BTreeMap<String, Document> {
    expected_streams_of(store, "s", streams).await
}

async fn expected_streams_of(store: &EventStore, prefix: &str, streams: usize) -> BTreeMap<String, Document> {
    let mut expected = BTreeMap::new();
    for s in 0..streams {
        let events = store.read_stream(&format!("{prefix}{s}"), 0, None).await.unwrap();
        if let Some(last) = events.last() {
            let id = Bson::String(format!("{prefix}{s}")).to_string();
            expected.insert(id, doc! { "count": events.len() as i32, "last_version": last.version });
        }
    }
    expected
}

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
    while runner.stats().batches.load(Ordering::SeqCst) < 5 {
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
    wait_until(|| runner.stats().waits.load(Ordering::SeqCst) >= 1).await;
    append(&store, "live", 1, 1).await;
    wait_for_count(&db, "streams", 1).await;
    assert!(runner.stats().change_stream_wakeups.load(Ordering::SeqCst) >= 1);
    assert_eq!(runner.stats().poll_wakeups.load(Ordering::SeqCst), 0);
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
    wait_until(|| runner.stats().waits.load(Ordering::SeqCst) >= 1).await;
    assert!(runner.stats().fallbacks.load(Ordering::SeqCst) >= 1, "the change stream could not be opened");
    append_to(&store, "polled", "p", ExpectedVersion::NoStream, 2, 2).await;
    wait_for_count(&db, "streams", 2).await;
    failpoint(&db, doc! { "mode": "off" }).await;
    assert!(runner.stats().poll_wakeups.load(Ordering::SeqCst) >= 1);
    assert_eq!(runner.stats().change_stream_wakeups.load(Ordering::SeqCst), 0);
    running.stop().await;
    assert_eq!(contents(&db, "streams").await, expected_streams_of(&store, "p", 2).await);
}

/// A runner's live loop in a task of its own, and what stops it.
struct Running(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Result<()>>);

impl Running {
    /// Stops the loop and checks it ended without an error.
    async fn stop(self) {
        self.0.send(()).unwrap();
        self.1.await.unwrap().unwrap();
    }
}

fn spawn_run(runner: &std::sync::Arc<ProjectionRunner<Counts>>) -> Running {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = runner.clone();
    let task = tokio::spawn(async move {
        runner
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    Running(stop, task)
}

async fn failpoint(db: &Connection, settings: Document) {
    let mut command = doc! { "configureFailPoint": "failCommand" };
    command.extend(settings);
    db.client().database("admin").run_command(command).await.expect("configureFailPoint");
}

async fn wait_until(condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn wait_for_count(db: &Connection, collection: &str, documents: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        // `find`, not `count_documents`: the fallback test fails every aggregate.
        let found = contents(db, collection).await.len() as u64;
        if found >= documents {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{collection} has {found} of {documents} documents");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

//! The projection runner next to other runners of the same projection and next to a rebuild,
//! on the real test server: a moved checkpoint is followed, a paused one is left alone, and a
//! rebuild with a live runner and appends going on ends with the read model a fresh build
//! makes. Also tenant-scoped runners.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bson::{Document, doc};
use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, StoredEvent, Stream};
use cqrs_mongo_persistence::projections::{Projection, Write};
use cqrs_mongo_persistence::store::Tenant;
use cqrs_mongo_persistence::{Alone, Error, PositionStore, ProjectionRunner, Result};
use support::runner::*;

/// A live runner keeps running while the projection is rebuilt and events keep coming: its
/// loop never fails, and afterwards the read model equals a build from scratch.
#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_next_to_a_live_runner_and_ongoing_appends_equals_a_fresh_build() {
    let (db, store) = setup("runner_live_rebuild").await;
    append(&store, "before", 6, 10).await;
    let live = Arc::new(
        ProjectionRunner::new(&db, &store, Counts::new("counts", ""))
            .batch_size(7)
            .poll_interval(Duration::from_millis(50)),
    );
    let running = spawn_run(&live);
    wait_until(|| live.stats().events() >= 60).await;

    // Appends go on for the whole rebuild, and a little after it.
    let appending = Arc::new(AtomicBool::new(true));
    let appender = {
        let (store, appending) = (store.clone(), appending.clone());
        tokio::spawn(async move {
            let mut round = 0;
            while appending.load(Ordering::SeqCst) || round < 3 {
                append(&store, &format!("during{round}"), 6, 1).await;
                round += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            round
        })
    };
    let rebuilder = ProjectionRunner::new(&db, &store, Counts::new("counts", "")).batch_size(5);
    let report = rebuilder.rebuild(|_| {}).await.unwrap();
    appending.store(false, Ordering::SeqCst);
    let rounds = appender.await.unwrap();
    let head = store.latest_position().await.unwrap();
    assert_eq!(head, 60 + 6 * rounds as i64);
    // The live runner goes on from the rebuild's position to the head (bounded wait).
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while live.position().await.unwrap() < head {
        assert!(std::time::Instant::now() < deadline, "the live runner did not reach {head}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.stop().await; // the live loop ended without an error

    let fresh = ProjectionRunner::new(&db, &store, Counts::new("fresh", "fresh_")).batch_size(50);
    fresh.catch_up().await.unwrap();
    assert_eq!(contents(&db, "streams").await, contents(&db, "fresh_streams").await);
    assert_eq!(contents(&db, "types").await, contents(&db, "fresh_types").await);
    assert_eq!(contents(&db, "streams").await, expected_streams(&store, 6).await, "no event lost or applied twice");
    assert_eq!(report.version, 2);
    eprintln!(
        "live runner during the rebuild: {} checkpoint moves, {} paused catch-ups",
        live.stats().checkpoint_moves(),
        live.stats().paused()
    );
}

/// Counts, and while the first event of its first batch is being projected another runner of
/// the same projection catches up completely, the way a second replica committing first would.
struct Overtaken {
    counts: Counts,
    other: std::sync::Mutex<Option<ProjectionRunner<Counts>>>,
}

impl Projection for Overtaken {
    fn name(&self) -> &str {
        self.counts.name()
    }

    fn collections(&self) -> Vec<String> {
        self.counts.collections()
    }

    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>> {
        if let Some(other) = self.other.lock().unwrap().take() {
            let handle = tokio::runtime::Handle::current();
            let applied = tokio::task::block_in_place(|| handle.block_on(other.catch_up())).unwrap();
            assert_eq!(applied, 10, "the other runner applied everything first");
        }
        self.counts.project(event)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_whose_checkpoint_moved_goes_on_from_there() {
    let (db, store) = setup("runner_overtaken").await;
    append(&store, "a", 2, 5).await;
    let other = ProjectionRunner::new(&db, &store, Counts::new("counts", "")).batch_size(3);
    let overtaken = Overtaken { counts: Counts::new("counts", ""), other: std::sync::Mutex::new(Some(other)) };
    let runner = ProjectionRunner::new(&db, &store, overtaken).batch_size(10);
    // Its batch (positions 1-10, started after 0) cannot commit: the checkpoint is at 10.
    assert_eq!(runner.catch_up().await.unwrap(), 0, "nothing left to apply once it read the checkpoint again");
    assert_eq!(runner.stats().checkpoint_moves(), 1);
    assert_eq!(runner.position().await.unwrap(), 10);
    assert_eq!(contents(&db, "streams").await, expected_streams(&store, 2).await, "every event applied once");
    append(&store, "b", 2, 1).await;
    assert_eq!(runner.catch_up().await.unwrap(), 2, "and it goes on");
    assert_eq!(contents(&db, "streams").await, expected_streams(&store, 2).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_checkpoint_is_left_alone_until_a_rebuild_resumes_it() {
    let (db, store) = setup("runner_paused").await;
    append(&store, "a", 2, 5).await;
    let runner = ProjectionRunner::new(&db, &store, Counts::new("counts", "")).batch_size(4);
    runner.catch_up().await.unwrap();
    assert_eq!(runner.position().await.unwrap(), 10);
    // What a rebuild interrupted during its swap leaves behind.
    let checkpoints = db.database().collection::<Document>("projection_checkpoints");
    checkpoints.update_one(doc! { "_id": "counts" }, doc! { "$set": { "paused_by": "rebuild v2" } }).await.unwrap();
    append(&store, "b", 2, 3).await;
    assert_eq!(runner.catch_up().await.unwrap(), 0, "a paused projection applies nothing");
    assert_eq!(runner.position().await.unwrap(), 10);
    assert!(runner.stats().paused() >= 1);
    // Running the rebuild again finishes it, and the projection goes on.
    runner.rebuild(|_| {}).await.unwrap();
    let stored = checkpoints.find_one(doc! { "_id": "counts" }).await.unwrap().unwrap();
    assert!(!stored.contains_key("paused_by"), "{stored:?}");
    assert_eq!(runner.position().await.unwrap(), 16);
    append(&store, "c", 2, 1).await;
    assert_eq!(runner.catch_up().await.unwrap(), 2);
    assert_eq!(contents(&db, "streams").await, expected_streams(&store, 2).await);
}

/// Events per stream only: documents a tenant owns alone.
struct Streams;

impl Projection for Streams {
    fn name(&self) -> &str {
        "streams"
    }

    fn collections(&self) -> Vec<String> {
        vec!["streams".into()]
    }

    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>> {
        let update = doc! { "$inc": { "count": 1 }, "$set": { "last_version": event.version } };
        Ok(vec![Write::update("streams", event.aggregate_id.as_str(), update)])
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_runners_read_write_and_checkpoint_only_their_tenant() {
    let (db, store) = setup("runner_tenants").await;
    let (acme, globex) = (Tenant::new("acme").unwrap(), Tenant::new("globex").unwrap());
    for (tenant, prefix, count) in [(&acme, "a", 3), (&globex, "g", 2)] {
        let scoped = store.for_tenant(tenant);
        for s in 0..count {
            let id = format!("{prefix}{s}");
            let events: Vec<NewEvent> = (0..2).map(|i| NewEvent::new(format!("{id}-{i}"), "Placed", doc! {})).collect();
            let stream = Stream { aggregate_id: &id, aggregate_type: "Order" };
            scoped.append(stream, ExpectedVersion::NoStream, &events, Alone).await.unwrap();
        }
    }
    let ours = ProjectionRunner::new(&db, &store, Streams).for_tenant(&acme);
    assert_eq!(ours.catch_up().await.unwrap(), 6, "only acme's events");
    let ids: Vec<String> = contents(&db, "streams").await.into_keys().collect();
    assert_eq!(ids, ["\"a0\"", "\"a1\"", "\"a2\""]);
    let streams = db.database().collection::<Document>("streams");
    assert_eq!(streams.count_documents(doc! { "tenant_id": "acme" }).await.unwrap(), 3, "stamped with the tenant");
    let positions = PositionStore::new(&db);
    assert_eq!(positions.for_tenant(&acme).get("streams", Alone).await.unwrap(), 6, "acme's checkpoint");
    assert_eq!(positions.for_tenant(&globex).get("streams", Alone).await.unwrap(), 0);
    assert_eq!(positions.get("streams", Alone).await.unwrap(), 0, "the unscoped checkpoint is another one");

    let theirs = ProjectionRunner::new(&db, &store, Streams).for_tenant(&globex);
    assert_eq!(theirs.catch_up().await.unwrap(), 4);
    assert_eq!(positions.for_tenant(&globex).get("streams", Alone).await.unwrap(), 10, "globex's last position");
    assert_eq!(streams.count_documents(doc! { "tenant_id": "globex" }).await.unwrap(), 2);
    append(&store.for_tenant(&acme), "more", 1, 1).await;
    assert_eq!((ours.catch_up().await.unwrap(), theirs.catch_up().await.unwrap()), (1, 0), "each moves on its own");

    // Counts also writes one document per event type, an id both tenants use: the second
    // tenant's runner may not write into the first one's document.
    ProjectionRunner::new(&db, &store, Counts::new("counts", "")).for_tenant(&acme).catch_up().await.unwrap();
    // The write is the event's failure: a stopping policy ends the catch-up with it, the
    // default one parks the event.
    let strict = ProjectionRunner::new(&db, &store, Counts::new("counts", ""))
        .for_tenant(&globex)
        .on_failure(cqrs_mongo_persistence::runtime::RetryPolicy::stop_after(1));
    let err = strict.catch_up().await;
    assert!(
        matches!(&err, Err(Error::Handler { source, .. }) if matches!(source.downcast_ref::<Error>(), Some(Error::CrossTenant { .. }))),
        "{err:?}"
    );
    let lenient = ProjectionRunner::new(&db, &store, Counts::new("counts", ""))
        .for_tenant(&globex)
        .on_failure(cqrs_mongo_persistence::runtime::RetryPolicy::park_after(1));
    assert_eq!(lenient.catch_up().await.unwrap(), 0, "globex's events all write acme's type documents");
    let parked = cqrs_mongo_persistence::DeadLetters::new(&db).count_parked("counts").await.unwrap();
    assert_eq!(parked, 4, "each parked, none applied");
    let refused = ours.rebuild(|_| {}).await;
    assert!(matches!(refused, Err(Error::Unsupported { operation: "ProjectionRunner::rebuild", .. })), "{refused:?}");
}

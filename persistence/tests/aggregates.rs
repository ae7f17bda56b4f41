//! Event-sourced aggregates on the real server: loads fold the latest snapshot and the later
//! events, saves append at the loaded version (a lost race is `Error::Concurrency` with both
//! versions), outbox messages go in the same transaction, snapshots follow their policy and
//! never fail a save, and saves work alone and inside a caller's unit of work.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bson::{Document, doc};
use cqrs_mongo_persistence::aggregates::{EventSourced, Root, SnapshotPolicy};
use cqrs_mongo_persistence::{AggregateStore, Alone, Connection, Error, EventStore, Outbox, SnapshotStore};
use futures::future::join_all;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Added {
    amount: i64,
}
cqrs_mongo_persistence::event!(Added, "CounterAdded");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Closed {}
cqrs_mongo_persistence::event!(Closed, "CounterClosed");

cqrs_mongo_persistence::event_set! {
    #[derive(Debug, Clone, PartialEq)]
    enum CounterEvent {
        Added(Added),
        Closed(Closed),
    }
}

/// The aggregate: a running total. A total of exactly 13 refuses to serialise (to test that a
/// snapshot failure never fails a save).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Counter {
    #[serde(serialize_with = "unlucky")]
    total: i64,
    adds: i64,
    closed: bool,
}

fn unlucky<S: serde::Serializer>(total: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    if *total == 13 {
        return Err(serde::ser::Error::custom("13 does not serialise"));
    }
    serializer.serialize_i64(*total)
}

impl EventSourced for Counter {
    type Event = CounterEvent;
    const AGGREGATE_TYPE: &'static str = "Counter";
    fn apply(&mut self, event: &CounterEvent) {
        match event {
            CounterEvent::Added(added) => {
                self.total += added.amount;
                self.adds += 1;
            }
            CounterEvent::Closed(_) => self.closed = true,
        }
    }
}

struct Fixture {
    db: Connection,
    events: EventStore,
    snapshots: SnapshotStore,
    outbox: Outbox,
}

async fn fixture(test: &str) -> Fixture {
    let db = support::database(test).await;
    let events = EventStore::new(&db);
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    Fixture { snapshots: SnapshotStore::new(&db), outbox: Outbox::new(&db), events, db }
}

async fn count(db: &Connection, collection: &str, filter: Document) -> u64 {
    db.database().collection::<Document>(collection).count_documents(filter).await.unwrap()
}

/// The sum of every stored `CounterAdded` amount of a stream, read without the aggregate layer.
async fn stored_amounts(db: &Connection, id: &str) -> Vec<i64> {
    let events = EventStore::new(db).read_stream(id, 0, None, Alone).await.unwrap();
    events.iter().map(|e| e.payload.get_i64("amount").unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_aggregate_loads_back_folded_from_its_stored_events() {
    let f = fixture("agg_roundtrip").await;
    let store = AggregateStore::<Counter>::new(&f.db, &f.events);
    assert!(store.load("c1", Alone).await.unwrap().is_none(), "no stream, no aggregate");
    let mut counter = store.load_or_new("c1", Alone).await.unwrap();
    counter.record(Added { amount: 5 });
    counter.record(Added { amount: 7 });
    let saved = store.save(&mut counter, Alone).await.unwrap();
    assert_eq!((saved.version, saved.positions.len(), saved.snapshot), (2, 2, false));
    assert_eq!((counter.version(), counter.pending().len()), (2, 0), "pending events are gone after the save");
    counter.record(Closed {});
    store.save(&mut counter, Alone).await.unwrap();
    let nothing = store.save(&mut counter, Alone).await.unwrap();
    assert!(nothing.positions.is_empty() && nothing.version == 3, "a save without pending events writes nothing");

    let stored = f.events.read_stream("c1", 0, None, Alone).await.unwrap();
    let types: Vec<&str> = stored.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["CounterAdded", "CounterAdded", "CounterClosed"]);
    assert!(stored.iter().all(|e| e.aggregate_type == "Counter"));
    let loaded = store.load("c1", Alone).await.unwrap().unwrap();
    assert_eq!((loaded.total, loaded.adds, loaded.closed, loaded.version()), (12, 2, true, 3));
}

#[tokio::test(flavor = "multi_thread")]
async fn sixteen_saves_from_one_version_have_exactly_one_winner_and_the_others_name_both_versions() {
    let f = fixture("agg_race_rounds").await;
    let store = AggregateStore::<Counter>::new(&f.db, &f.events);
    for round in 0..3_i64 {
        let mut roots = Vec::new();
        for writer in 0..16 {
            let mut root = store.load_or_new("race", Alone).await.unwrap();
            assert_eq!(root.version(), round);
            root.record(Added { amount: writer });
            roots.push(root);
        }
        let results = join_all(roots.iter_mut().map(|root| store.save(root, Alone))).await;
        let winners = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "round {round}: {results:?}");
        for result in results.into_iter().filter_map(Result::err) {
            match result {
                Error::Concurrency { collection, id, expected, actual } => {
                    assert_eq!(collection, "domain_events");
                    assert!(id.contains("race"), "the stream is named: {id}");
                    assert_eq!((expected, actual), (round, Some(round + 1)));
                }
                other => panic!("round {round}: a lost race is Concurrency, got {other:?}"),
            }
        }
        let losers_pending = roots.iter().filter(|r| r.pending().len() == 1).count();
        assert_eq!(losers_pending, 15, "a lost save keeps its events pending");
    }
    assert_eq!(stored_amounts(&f.db, "race").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn sixteen_concurrent_writers_retrying_on_conflict_lose_no_event() {
    let f = fixture("agg_race_retry").await;
    let store = Arc::new(AggregateStore::<Counter>::new(&f.db, &f.events).with_outbox(&f.outbox));
    let writers: Vec<_> = (1..=16_i64)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut conflicts = 0_u32;
                loop {
                    let mut root = store.load_or_new("shared", Alone).await.unwrap();
                    root.record(Added { amount: writer });
                    match store.save(&mut root, Alone).await {
                        Ok(_) => return conflicts,
                        Err(Error::Concurrency { .. }) if conflicts < 500 => conflicts += 1,
                        Err(other) => panic!("writer {writer}: {other:?} after {conflicts} conflicts"),
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let mut amounts = stored_amounts(&f.db, "shared").await;
    amounts.sort_unstable();
    assert_eq!(amounts, (1..=16).collect::<Vec<_>>(), "every writer's event stored exactly once");
    let loaded = store.load("shared", Alone).await.unwrap().unwrap();
    assert_eq!((loaded.total, loaded.version()), ((1..=16).sum::<i64>(), 16));
    assert_eq!(count(&f.db, "outbox_messages", doc! {}).await, 16, "one outbox message per stored event");
}

#[tokio::test(flavor = "multi_thread")]
async fn outbox_messages_are_written_with_the_events_and_never_without_them() {
    let f = fixture("agg_outbox").await;
    let store = AggregateStore::<Counter>::new(&f.db, &f.events).with_outbox(&f.outbox);
    let mut counter = Root::<Counter>::new("c1");
    counter.correlate(Some("corr-1".into()), Some("cause-1".into()));
    counter.record(Added { amount: 2 });
    counter.record(Closed {});
    store.save(&mut counter, Alone).await.unwrap();

    let stored = f.events.read_stream("c1", 0, None, Alone).await.unwrap();
    let messages = f.db.database().collection::<Document>("outbox_messages");
    for event in &stored {
        assert_eq!(event.correlation_id.as_deref(), Some("corr-1"));
        assert_eq!(event.causation_id.as_deref(), Some("cause-1"));
        let message = messages.find_one(doc! { "_id": &event.event_id }).await.unwrap().expect("message per event");
        assert_eq!(message.get_str("event_type").unwrap(), event.event_type);
        assert_eq!(message.get_document("payload").unwrap(), &event.payload);
        assert_eq!(message.get_str("aggregate_id").unwrap(), "c1");
        assert_eq!(message.get_str("correlation_id").unwrap(), "corr-1");
        assert_eq!(message.get_str("causation_id").unwrap(), "cause-1");
    }

    // A lost race writes neither the events nor their messages.
    let mut stale = Root::<Counter>::new("c1");
    stale.record(Added { amount: 100 });
    assert!(matches!(
        store.save(&mut stale, Alone).await,
        Err(Error::Concurrency { expected: 0, actual: Some(2), .. })
    ));
    assert_eq!(count(&f.db, "outbox_messages", doc! {}).await, 2);
    assert_eq!(count(&f.db, "domain_events", doc! {}).await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn inside_a_unit_of_work_a_save_commits_with_it_and_a_rollback_makes_its_events_pending_again() {
    let f = fixture("agg_uow").await;
    let store = AggregateStore::<Counter>::new(&f.db, &f.events).with_outbox(&f.outbox);
    let mut counter = Root::<Counter>::new("c1");
    counter.record(Added { amount: 4 });
    let event_id = {
        let uow = f.db.begin().await.unwrap();
        store.save(&mut counter, &uow).await.unwrap();
        assert_eq!(counter.version(), 1, "provisional inside the unit of work");
        assert_eq!(count(&f.db, "domain_events", doc! {}).await, 0, "nothing visible before commit");
        uow.rollback().await.unwrap();
        assert_eq!((counter.version(), counter.pending().len()), (0, 1), "the rollback undid the save");
        f.events.read_stream("c1", 0, None, Alone).await.unwrap().len()
    };
    assert_eq!(event_id, 0);
    assert_eq!(count(&f.db, "outbox_messages", doc! {}).await, 0);

    f.db.transaction(async |uow| {
        store.save(&mut counter, uow).await?;
        counter.record(Added { amount: 6 });
        store.save(&mut counter, uow).await?;
        Ok::<_, cqrs_mongo_persistence::Error>(())
    })
    .await
    .unwrap();
    assert_eq!((counter.version(), counter.pending().len()), (2, 0));
    assert_eq!(stored_amounts(&f.db, "c1").await, [4, 6]);
    assert_eq!(count(&f.db, "outbox_messages", doc! {}).await, 2);
    let loaded = store.load("c1", Alone).await.unwrap().unwrap();
    assert_eq!((loaded.total, loaded.version()), (10, 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_every_n_events_are_written_and_loads_fold_only_the_later_events() {
    let f = fixture("agg_snap_every").await;
    let store = AggregateStore::<Counter>::new(&f.db, &f.events).with_snapshots(&f.snapshots, SnapshotPolicy::every(3));
    let mut counter = Root::<Counter>::new("c1");
    let mut written = Vec::new();
    for amount in [1, 2, 3, 4, 5, 6, 7] {
        counter.record(Added { amount });
        written.push(store.save(&mut counter, Alone).await.unwrap().snapshot);
    }
    assert_eq!(written, [false, false, true, false, false, true, false], "at versions 3 and 6");
    assert_eq!(store.stats().snapshots_written.load(Ordering::Relaxed), 2);
    let latest = f.snapshots.latest("Counter", "c1", Alone).await.unwrap().unwrap();
    assert_eq!((latest.version, latest.data.get_i64("total").unwrap()), (6, 21));

    // Tamper with the snapshot: a load that uses it shows the tampered total plus event 7 only.
    let snapshots = f.db.database().collection::<Document>("snapshots");
    let tampered = snapshots
        .update_one(doc! { "version": 6 }, doc! { "$set": { "snapshot_data.total": 1000_i64 } })
        .await
        .unwrap();
    assert_eq!(tampered.modified_count, 1);
    let loaded = store.load("c1", Alone).await.unwrap().unwrap();
    assert_eq!((loaded.total, loaded.version()), (1007, 7), "snapshot at 6, then only event 7 folded");
    let without = AggregateStore::<Counter>::new(&f.db, &f.events).load("c1", Alone).await.unwrap().unwrap();
    assert_eq!((without.total, without.version()), (28, 7), "without snapshots: every event folded");

    // A snapshot that no longer decodes is ignored (counted) and the whole stream replayed.
    snapshots.update_many(doc! {}, doc! { "$set": { "snapshot_data.total": "not a number" } }).await.unwrap();
    let replayed = store.load("c1", Alone).await.unwrap().unwrap();
    assert_eq!((replayed.total, replayed.version()), (28, 7));
    assert_eq!(store.stats().snapshots_ignored.load(Ordering::Relaxed), 1);

    let zero = AggregateStore::<Counter>::new(&f.db, &f.events).with_snapshots(&f.snapshots, SnapshotPolicy::every(0));
    let mut other = Root::<Counter>::new("c2");
    other.record(Added { amount: 1 });
    assert!(matches!(zero.save(&mut other, Alone).await, Err(Error::InvalidArgument { .. })));
    assert_eq!(count(&f.db, "domain_events", doc! { "aggregate_id": "c2" }).await, 0, "refused before writing");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_predicate_decides_and_an_unserialisable_state_never_fails_the_save() {
    let f = fixture("agg_snap_when").await;
    let policy = SnapshotPolicy::when(|state: &Counter, _version| state.total >= 10).in_transaction();
    let store = AggregateStore::<Counter>::new(&f.db, &f.events).with_snapshots(&f.snapshots, policy);
    let mut counter = Root::<Counter>::new("c1");
    counter.record(Added { amount: 4 });
    assert!(!store.save(&mut counter, Alone).await.unwrap().snapshot, "total 4: no snapshot");
    counter.record(Added { amount: 9 });
    let unlucky = store.save(&mut counter, Alone).await.unwrap();
    assert!(!unlucky.snapshot, "total 13 does not serialise: no snapshot");
    assert_eq!(unlucky.version, 2, "but the events are saved");
    assert_eq!(store.stats().snapshot_failures.load(Ordering::Relaxed), 1);
    assert!(f.snapshots.latest("Counter", "c1", Alone).await.unwrap().is_none());
    counter.record(Added { amount: 1 });
    assert!(store.save(&mut counter, Alone).await.unwrap().snapshot, "total 14");
    let latest = f.snapshots.latest("Counter", "c1", Alone).await.unwrap().unwrap();
    assert_eq!((latest.version, latest.data.get_i64("total").unwrap()), (3, 14));
    assert_eq!(store.stats().snapshots_written.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_after_a_units_commit_is_written_once_it_commits_and_not_on_rollback() {
    let f = fixture("agg_snap_after").await;
    let store = AggregateStore::<Counter>::new(&f.db, &f.events).with_snapshots(&f.snapshots, SnapshotPolicy::every(1));
    let mut counter = Root::<Counter>::new("c1");
    counter.record(Added { amount: 3 });
    let uow = f.db.begin().await.unwrap();
    store.save(&mut counter, &uow).await.unwrap();
    uow.rollback().await.unwrap();
    counter.record(Added { amount: 4 });
    let uow = f.db.begin().await.unwrap();
    store.save(&mut counter, &uow).await.unwrap();
    assert!(f.snapshots.latest("Counter", "c1", Alone).await.unwrap().is_none(), "not before the commit");
    uow.commit().await.unwrap();
    // Written by a task of its own after the commit: wait for the store to count it.
    support::runner::wait_until(|| store.stats().snapshots_written.load(Ordering::Relaxed) == 1).await;
    let latest = f.snapshots.latest("Counter", "c1", Alone).await.unwrap().unwrap();
    assert_eq!((latest.version, latest.data.get_i64("total").unwrap()), (2, 7));
    assert_eq!(store.stats().snapshots_written.load(Ordering::Relaxed), 1, "the rolled-back save wrote none");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_the_aggregate_does_not_know_is_a_decode_error_naming_it() {
    let f = fixture("agg_unknown").await;
    let store = AggregateStore::<Counter>::new(&f.db, &f.events);
    let mut counter = Root::<Counter>::new("c1");
    counter.record(Added { amount: 1 });
    store.save(&mut counter, Alone).await.unwrap();
    let stranger =
        cqrs_mongo_persistence::event_store::NewEvent::new("e-stranger", "CounterRenamed", doc! { "to": "x" });
    let stream = cqrs_mongo_persistence::event_store::Stream { aggregate_id: "c1", aggregate_type: "Counter" };
    f.events
        .append(stream, cqrs_mongo_persistence::event_store::ExpectedVersion::Exact(1), &[stranger], Alone)
        .await
        .unwrap();
    match store.load("c1", Alone).await {
        Err(Error::Decode { event_id, event_type, .. }) => {
            assert_eq!((event_id.as_str(), event_type.as_str()), ("e-stranger", "CounterRenamed"));
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    let wrong =
        cqrs_mongo_persistence::event_store::NewEvent::new("e-wrong", "CounterAdded", doc! { "amount": "five" });
    let stream = cqrs_mongo_persistence::event_store::Stream { aggregate_id: "c2", aggregate_type: "Counter" };
    f.events
        .append(stream, cqrs_mongo_persistence::event_store::ExpectedVersion::NoStream, &[wrong], Alone)
        .await
        .unwrap();
    match store.load("c2", Alone).await {
        Err(Error::Decode { event_id, path, .. }) => {
            assert_eq!((event_id.as_str(), path.as_str()), ("e-wrong", "amount"))
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_outbox_when_publishes_only_the_selected_events() {
    let f = fixture("agg_outbox_when").await;
    let store = AggregateStore::<Counter>::new(&f.db, &f.events)
        .with_outbox_when(&f.outbox, |event| matches!(event, CounterEvent::Closed(_)));
    let mut counter = Root::<Counter>::new("c1");
    counter.record(Added { amount: 1 });
    store.save(&mut counter, Alone).await.unwrap();
    assert_eq!(count(&f.db, "outbox_messages", doc! {}).await, 0, "no selected event, no message");
    counter.record(Added { amount: 2 });
    counter.record(Closed {});
    store.save(&mut counter, Alone).await.unwrap();
    assert_eq!(count(&f.db, "domain_events", doc! {}).await, 3);
    assert_eq!(count(&f.db, "outbox_messages", doc! {}).await, 1);
    assert_eq!(count(&f.db, "outbox_messages", doc! { "event_type": "CounterClosed" }).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_saves_share_the_group_commit_and_a_refused_message_fails_only_its_own_save() {
    let f = fixture("agg_grouped_saves").await;
    f.db.ensure_indexes(&Outbox::indexes()).await.unwrap();
    let store = Arc::new(AggregateStore::<Counter>::new(&f.db, &f.events).with_outbox(&f.outbox));
    // The outbox refuses a second message of aggregate c7 (a unique index of the
    // application's): c7's save cannot commit its message.
    let messages = f.db.database().collection::<Document>("outbox_messages");
    let unique = mongodb::IndexModel::builder()
        .keys(doc! { "aggregate_id": 1 })
        .options(mongodb::options::IndexOptions::builder().unique(true).build())
        .build();
    messages.create_index(unique).await.unwrap();
    messages.insert_one(doc! { "_id": "earlier", "aggregate_id": "c7", "status": "published" }).await.unwrap();
    let saves: Vec<_> = (0..24_i64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut root = Root::<Counter>::new(format!("c{i}"));
                root.record(Added { amount: i });
                store.save(&mut root, Alone).await.map(|saved| saved.positions.len())
            })
        })
        .collect();
    let outcomes: Vec<_> = join_all(saves).await.into_iter().map(Result::unwrap).collect();
    for (i, outcome) in outcomes.iter().enumerate() {
        match (i, outcome) {
            (7, Err(err)) => assert!(err.is_conflict(), "the clashing message's save fails: {err:?}"),
            (7, Ok(_)) => panic!("the clashing save committed"),
            (_, Ok(appended)) => assert_eq!(*appended, 1),
            (_, Err(err)) => panic!("save {i}: {err:?}"),
        }
    }
    assert!(f.events.read_stream("c7", 0, None, Alone).await.unwrap().is_empty(), "neither its events");
    assert_eq!(count(&f.db, "domain_events", doc! { "aggregate_id": { "$regex": "^c" } }).await, 23);
    let messages =
        count(&f.db, "outbox_messages", doc! { "aggregate_id": { "$regex": "^c" }, "_id": { "$ne": "earlier" } }).await;
    assert_eq!(messages, 23, "one message per stored event, none for the failed save");
}

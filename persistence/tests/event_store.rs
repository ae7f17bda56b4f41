//! Event store integration tests on the real test server.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bson::doc;
use cqrs_mongo_persistence::event_store::{EventIdProblem, ExpectedVersion, NewEvent, Stream as EventStream};
use cqrs_mongo_persistence::{Alone, Error, EventStore};

fn stream(id: &str) -> EventStream<'_> {
    EventStream { aggregate_id: id, aggregate_type: "Order" }
}

fn event(id: &str, n: i32) -> NewEvent {
    NewEvent::new(id, "OrderPlaced", doc! { "n": n })
}

async fn store(test: &str) -> (cqrs_mongo_persistence::Connection, EventStore) {
    let db = support::database(test).await;
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let store = EventStore::new(&db);
    (db, store)
}

#[tokio::test(flavor = "multi_thread")]
async fn appends_and_reads_with_one_based_positions_in_the_legacy_format() {
    let (db, store) = store("events_basic").await;
    let positions =
        store.append(stream("a"), ExpectedVersion::NoStream, &[event("e1", 1), event("e2", 2)], Alone).await.unwrap();
    assert_eq!(positions, [1, 2]);
    let positions = store.append(stream("b"), ExpectedVersion::Any, &[event("e3", 3)], Alone).await.unwrap();
    assert_eq!(positions, [3]);
    store.append(stream("a"), ExpectedVersion::Exact(2), &[event("e4", 4)], Alone).await.unwrap();
    let a = store.read_stream("a", 0, None, Alone).await.unwrap();
    assert_eq!(a.iter().map(|e| (e.version, e.position)).collect::<Vec<_>>(), [(1, 1), (2, 2), (3, 4)]);
    assert_eq!(store.read_stream("a", 1, Some(1), Alone).await.unwrap()[0].event_id, "e2");
    let all = store.read_all(1, 10).await.unwrap();
    assert_eq!(all.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["e2", "e3", "e4"]);
    assert_eq!(store.latest_position().await.unwrap(), 4);
    let counter = db.database().collection::<bson::Document>("counters").find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!((counter.get_str("_id").unwrap(), counter.get_i32("value").unwrap()), ("domain_events_position", 4));
    let stored = db
        .database()
        .collection::<bson::Document>("domain_events")
        .find_one(doc! { "_id": "e1" })
        .await
        .unwrap()
        .unwrap();
    for key in [
        "event_type",
        "aggregate_id",
        "aggregate_type",
        "version",
        "schema_version",
        "payload",
        "metadata",
        "occurred_at",
        "position",
    ] {
        assert!(stored.contains_key(key), "legacy field {key} missing");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn expected_versions_are_enforced_with_the_typed_error() {
    let (_db, store) = store("events_expected").await;
    store.append(stream("a"), ExpectedVersion::NoStream, &[event("e1", 1)], Alone).await.unwrap();
    let err = store.append(stream("a"), ExpectedVersion::NoStream, &[event("e2", 2)], Alone).await.unwrap_err();
    assert!(matches!(err, Error::Concurrency { actual: Some(1), .. }), "{err:?}");
    let err = store.append(stream("a"), ExpectedVersion::Exact(5), &[event("e2", 2)], Alone).await.unwrap_err();
    assert!(matches!(err, Error::Concurrency { expected: 5, actual: Some(1), .. }), "{err:?}");
    assert_eq!(store.latest_position().await.unwrap(), 1, "a refused append takes no position");
}

#[tokio::test(flavor = "multi_thread")]
async fn appending_a_stored_event_again_is_a_no_op_and_other_content_is_an_error() {
    let (_db, store) = store("events_idempotent").await;
    store.append(stream("a"), ExpectedVersion::Any, &[event("e1", 1)], Alone).await.unwrap();
    assert!(store.append(stream("a"), ExpectedVersion::Any, &[event("e1", 1)], Alone).await.unwrap().is_empty());
    assert_eq!(store.read_stream("a", 0, None, Alone).await.unwrap().len(), 1);
    let err = store.append(stream("a"), ExpectedVersion::Any, &[event("e1", 2)], Alone).await.unwrap_err();
    assert!(
        matches!(&err, Error::EventId { event_id, problem: EventIdProblem::OtherContent } if event_id == "e1"),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_id_stored_in_another_stream_is_refused_on_every_path() {
    let (db, store) = store("events_other_stream").await;
    store.append(stream("a"), ExpectedVersion::Any, &[event("e1", 1)], Alone).await.unwrap();
    let in_a = |err: &Error| {
        matches!(err, Error::EventId { event_id, problem: EventIdProblem::InAnotherStream { stream } }
            if event_id == "e1" && stream == "a")
    };
    // The same event (type and payload) in stream c: not an idempotent retry of stream a's.
    for expected in [ExpectedVersion::Any, ExpectedVersion::NoStream] {
        let err = store.append(stream("c"), expected, &[event("e1", 1)], Alone).await.unwrap_err();
        assert!(in_a(&err), "{expected:?}: {err:?}");
    }
    let uow = db.begin().await.unwrap();
    let err = store.append(stream("c"), ExpectedVersion::Any, &[event("e1", 1)], &uow).await.unwrap_err();
    assert!(in_a(&err), "in a unit of work: {err:?}");
    drop(uow);
    assert!(store.read_stream("c", 0, None, Alone).await.unwrap().is_empty(), "stream c got nothing");
    assert_eq!(store.latest_position().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_that_repeats_an_event_id_is_refused_before_any_write() {
    let (db, store) = store("events_repeated_id").await;
    let batch = [event("x1", 1), event("x2", 2), event("x1", 3)];
    let repeated = |err: &Error| matches!(err, Error::EventId { event_id, problem: EventIdProblem::RepeatedInBatch } if event_id == "x1");
    let err = store.append(stream("a"), ExpectedVersion::NoStream, &batch, Alone).await.unwrap_err();
    assert!(repeated(&err), "{err:?}");
    let uow = db.begin().await.unwrap();
    let err = store.append(stream("a"), ExpectedVersion::Any, &batch, &uow).await.unwrap_err();
    assert!(repeated(&err), "in a unit of work: {err:?}");
    uow.commit().await.unwrap();
    assert_eq!(store.latest_position().await.unwrap(), 0, "no position was taken");
    assert!(store.read_stream("a", 0, None, Alone).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_is_atomic_and_joins_the_callers_unit_of_work() {
    let (db, store) = store("events_atomic").await;
    store.append(stream("b"), ExpectedVersion::Any, &[event("taken", 1)], Alone).await.unwrap();
    // The second event reuses a stored id with other content: nothing of the batch is written.
    let err = store.append(stream("a"), ExpectedVersion::Any, &[event("x1", 1), event("taken", 9)], Alone).await;
    assert!(err.is_err());
    assert!(store.read_stream("a", 0, None, Alone).await.unwrap().is_empty());
    let uow = db.begin().await.unwrap();
    store.append(stream("a"), ExpectedVersion::NoStream, &[event("y1", 1)], &uow).await.unwrap();
    uow.rollback().await.unwrap();
    assert!(store.read_stream("a", 0, None, Alone).await.unwrap().is_empty());
    assert_eq!(store.latest_position().await.unwrap(), 1);
}

/// How a test writer appends: through a shared store's group commit, or inside its own unit of
/// work (never grouped).
#[derive(Clone, Copy)]
enum Via {
    Grouped,
    UnitOfWork,
}

async fn append_via(
    via: Via,
    db: &cqrs_mongo_persistence::Connection,
    store: &EventStore,
    id: &str,
    expected: i64,
    events: Vec<NewEvent>,
) {
    use futures::FutureExt;
    match via {
        Via::Grouped => {
            store.append(stream(id), ExpectedVersion::Exact(expected), &events, Alone).await.unwrap();
        }
        Via::UnitOfWork => {
            db.transaction_with((store, id, events), |uow, (store, id, events)| {
                async move { store.append(stream(id), ExpectedVersion::Exact(expected), events, uow).await.map(|_| ()) }
                    .boxed()
            })
            .await
            .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tailing_reader_sees_every_event_once_in_order_while_sixteen_writers_append() {
    let (db, store) = store("events_concurrent").await;
    // Two processes' worth of stores (each with its own connection and group commit) and
    // writers that append inside their own units of work: their transactions race for the
    // counter, and commits finish in any order.
    let other_db = cqrs_mongo_persistence::Connection::connect(
        support::server_uri(),
        &support::name("events_concurrent"),
        cqrs_mongo_persistence::store::PoolOptions::default(),
    )
    .await
    .unwrap();
    let other_store = EventStore::new(&other_db);
    const WRITERS: usize = 16;
    const BATCHES: usize = 5;
    const PER_BATCH: usize = 2;
    let total = (WRITERS * BATCHES * PER_BATCH) as i64;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let store = store.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let page = store.read_all(after, 7).await.unwrap();
                for e in &page {
                    seen.push((e.position, e.event_id.clone()));
                    after = e.position;
                }
                if finished && page.is_empty() {
                    return seen;
                }
                if page.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (db, store, via) = match w % 4 {
                0 | 1 => (db.clone(), store.clone(), Via::Grouped),
                2 => (other_db.clone(), other_store.clone(), Via::Grouped),
                _ => (db.clone(), store.clone(), Via::UnitOfWork),
            };
            tokio::spawn(async move {
                let id = format!("s{w}");
                for b in 0..BATCHES {
                    let events: Vec<NewEvent> =
                        (0..PER_BATCH).map(|i| event(&format!("w{w}b{b}e{i}"), i as i32)).collect();
                    append_via(via, &db, &store, &id, (b * PER_BATCH) as i64, events).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let positions: Vec<i64> = seen.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, (1..=total).collect::<Vec<_>>(), "every position once, in order, no gaps");
    let ids: HashSet<&str> = seen.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids.len(), total as usize);
    for w in 0..WRITERS {
        let versions: Vec<i64> =
            store.read_stream(&format!("s{w}"), 0, None, Alone).await.unwrap().iter().map(|e| e.version).collect();
        assert_eq!(versions, (1..=(BATCHES * PER_BATCH) as i64).collect::<Vec<_>>());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn read_all_waits_at_missing_positions_and_pages_across_them_once_given_up() {
    use cqrs_mongo_persistence::event_store::GapStats;
    use futures::TryStreamExt;
    let (db, store) = store("events_gaps").await;
    for n in 1..=6 {
        store.append(stream("a"), ExpectedVersion::Any, &[event(&format!("e{n}"), n)], Alone).await.unwrap();
    }
    // Positions 2..=4 gone (as if a legacy writer had taken them and not inserted yet).
    let events = db.database().collection::<bson::Document>("domain_events");
    events.delete_many(doc! { "position": { "$gte": 2, "$lte": 4 } }).await.unwrap();
    // Within the grace period (default 10 s; the events above are seconds old) readers wait.
    assert!(store.read_all(1, 2).await.unwrap().is_empty(), "position 2 is in flight");
    let streamed: Vec<i64> = store.read_all_stream(0, 2).map_ok(|e| e.position).try_collect().await.unwrap();
    assert_eq!(streamed, [1], "the stream ends before the gap");
    let by_type: Vec<i64> =
        store.read_by_types(&["OrderPlaced"], 0, 10).await.unwrap().iter().map(|e| e.position).collect();
    assert_eq!(by_type, [1]);
    assert_eq!(store.gap_stats().in_flight, 1);

    // Given up (grace zero): pages cover ranges of positions, (1, 3] is empty, so the read goes
    // on to (3, 5]; the gap is counted once.
    let store = EventStore::new(&db).gap_grace(std::time::Duration::ZERO);
    let page: Vec<i64> = store.read_all(1, 2).await.unwrap().iter().map(|e| e.position).collect();
    assert_eq!(page, [5], "an empty range does not end the read while positions remain");
    assert_eq!(store.read_all(5, 2).await.unwrap()[0].position, 6);
    let streamed: Vec<i64> = store.read_all_stream(0, 2).map_ok(|e| e.position).try_collect().await.unwrap();
    assert_eq!(streamed, [1, 5, 6]);
    let by_type = store.read_by_types(&["OrderPlaced"], 0, 10).await.unwrap();
    assert_eq!(by_type.iter().map(|e| e.position).collect::<Vec<_>>(), [1, 5, 6]);
    assert!(store.read_all(6, 10).await.unwrap().is_empty());
    let stats = store.gap_stats();
    assert_eq!((stats.in_flight, stats.gaps_given_up), (0, 2), "2..=3 and 4 (met as two page ranges)");
    assert_eq!(stats.positions_given_up, 3);
    let _: GapStats = stats;
}

#[tokio::test(flavor = "multi_thread")]
async fn upcasters_streams_types_and_loading_from_a_snapshot() {
    use cqrs_mongo_persistence::SnapshotStore;
    use cqrs_mongo_persistence::event_store::Upcasters;
    use futures::TryStreamExt;
    let (db, store) = store("events_reading").await;
    let mut old = event("e1", 1);
    old.schema_version = 1;
    store.append(stream("a"), ExpectedVersion::Any, &[old, event("e2", 2)], Alone).await.unwrap();
    store
        .append(stream("a"), ExpectedVersion::Any, &[NewEvent::new("e3", "OrderPaid", doc! { "amount": 3 })], Alone)
        .await
        .unwrap();
    fn v1_to_v2(mut payload: bson::Document) -> bson::Document {
        let n = payload.remove("n").unwrap_or(bson::Bson::Int32(0));
        payload.insert("quantity", n);
        payload
    }
    let store = store.with_upcasters(Upcasters::default().register("OrderPlaced", 1, v1_to_v2));
    let read = store.read_stream("a", 0, None, Alone).await.unwrap();
    assert_eq!(read[0].payload, doc! { "quantity": 1 });
    assert_eq!(read[0].schema_version, 2);
    assert_eq!(read[2].payload, doc! { "amount": 3 }, "other types are untouched");
    let streamed: Vec<i64> = store.read_all_stream(0, 2).map_ok(|e| e.position).try_collect().await.unwrap();
    assert_eq!(streamed, [1, 2, 3]);
    let paid = store.read_by_types(&["OrderPaid"], 0, 10).await.unwrap();
    assert_eq!(paid.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["e3"]);
    let snapshots = SnapshotStore::new(&db);
    snapshots.save("Order", "a", 2, doc! { "state": "after two" }, Alone).await.unwrap();
    let (snapshot, events) = store.load(&snapshots, "Order", "a", Alone).await.unwrap();
    assert_eq!(snapshot.unwrap().version, 2);
    assert_eq!(events.iter().map(|e| e.version).collect::<Vec<_>>(), [3]);
}

#[tokio::test(flavor = "multi_thread")]
async fn sixteen_writers_on_one_stream_one_wins_each_version_the_others_get_the_typed_error() {
    let (_db, store) = store("events_one_stream").await;
    let attempts: Vec<_> = (0..16)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                store.append(stream("hot"), ExpectedVersion::Exact(0), &[event(&format!("w{w}"), w)], Alone).await
            })
        })
        .collect();
    let mut won = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => won += 1,
            Err(Error::Concurrency { expected: 0, actual: Some(1), .. }) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(won, 1);
    // Now each writer appends with ExpectedVersion::Any: versions 1..=17, no duplicate, no gap.
    let any: Vec<_> = (0..16)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                store.append(stream("hot"), ExpectedVersion::Any, &[event(&format!("any{w}"), w)], Alone).await
            })
        })
        .collect();
    for attempt in any {
        attempt.await.unwrap().unwrap();
    }
    let versions: Vec<i64> =
        store.read_stream("hot", 0, None, Alone).await.unwrap().iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=17).collect::<Vec<_>>());
}

//! Position allocation of appends inside units of work: with positions reserved outside the
//! transaction, sixteen concurrent units of work (an aggregate document, its event and an
//! outbox message each) are read by a tailing reader and a projection runner exactly once in
//! position order; a unit that does not commit burns its positions, which readers step over at
//! once (never waiting their gap grace); one that holds them too long is refused and retried.
//! The default allocation (inside the transaction) is held to the same reader guarantees.
//!
//! Verdicts count what the stores report: a reader that waited for a burnt position would wait
//! its grace of an hour and the bounded waits here would fail.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bson::{Document, doc};
use cqrs_mongo_persistence::event_store::{BURNT_POSITIONS, ExpectedVersion, NewEvent, PositionAllocation, Stream};
use cqrs_mongo_persistence::outbox::OutboxMessage;
use cqrs_mongo_persistence::testing::fail_command;
use cqrs_mongo_persistence::{Alone, Connection, Error, EventStore, Outbox, ProjectionRunner};
use futures::FutureExt;
use support::runner::{Counts, wait_until};

const LONG_GRACE: Duration = Duration::from_secs(3600);

fn stream(id: &str) -> Stream<'_> {
    Stream { aggregate_id: id, aggregate_type: "Order" }
}

async fn setup(test: &str, allocation: PositionAllocation) -> (Connection, EventStore) {
    let db = support::database(test).await;
    let mut indexes = EventStore::indexes();
    indexes.extend(Outbox::indexes());
    db.ensure_indexes(&indexes).await.unwrap();
    let store = EventStore::new(&db).position_allocation(allocation).gap_grace(LONG_GRACE);
    (db, store)
}

/// One unit of work: the aggregate's document, its `n`th event, an outbox message. Returns the
/// attempts it took.
async fn unit(db: &Connection, store: &EventStore, outbox: &Outbox, writer: usize, n: usize) -> u64 {
    let attempts = AtomicU64::new(0);
    let id = format!("w{writer}");
    let event = NewEvent::new(format!("w{writer}-e{n}"), "Placed", doc! { "n": n as i64 });
    let message = OutboxMessage::new(format!("w{writer}-m{n}"), "Placed", doc! {}, "c").for_aggregate(&id);
    let orders = db.database().collection::<Document>("orders");
    let context = (store, outbox, &attempts, &orders, event, message, id.as_str(), n as i64);
    db.transaction_with(context, |uow, &mut (store, outbox, attempts, orders, ref event, ref message, id, n)| {
        async move {
            attempts.fetch_add(1, Ordering::SeqCst);
            {
                let mut session = uow.session().await;
                let save = orders.update_one(doc! { "_id": id }, doc! { "$set": { "version": n + 1 } }).upsert(true);
                save.session(session.get().unwrap()).await?;
            }
            store.append(stream(id), ExpectedVersion::Exact(n), std::slice::from_ref(event), uow).await?;
            outbox.save(std::slice::from_ref(message), uow).await
        }
        .boxed()
    })
    .await
    .unwrap();
    attempts.load(Ordering::SeqCst)
}

/// Sixteen writers of `per_writer` units each, a tailing reader and a projection runner: what
/// the reader saw, in order, and the attempts the units took.
async fn concurrent_units(db: &Connection, store: &EventStore, per_writer: usize) -> (Vec<(i64, String)>, u64) {
    concurrent_writers(db, store, per_writer, Writes::Units).await
}

/// What each of the sixteen writers does per step.
#[derive(Clone, Copy, PartialEq)]
enum Writes {
    /// A unit of work: aggregate document, event, outbox message.
    Units,
    /// One event appended on its own (the group commit).
    Alone,
}

async fn concurrent_writers(
    db: &Connection,
    store: &EventStore,
    per_writer: usize,
    writes: Writes,
) -> (Vec<(i64, String)>, u64) {
    let outbox = Outbox::new(db);
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let (mut seen, mut after) = (Vec::new(), 0);
            loop {
                let finished = done.load(Ordering::SeqCst);
                let page = store.read_all(after, 25).await.unwrap();
                for event in &page {
                    seen.push((event.position, event.event_id.clone()));
                    after = event.position;
                }
                if finished && page.is_empty() && after >= store.latest_position().await.unwrap() {
                    return seen;
                }
                if page.is_empty() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
    };
    let attempts = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let (db, store, outbox, attempts) = (db.clone(), store.clone(), outbox.clone(), attempts.clone());
            tokio::spawn(async move {
                for n in 0..per_writer {
                    if writes == Writes::Alone {
                        let id = format!("w{w}");
                        let event = NewEvent::new(format!("w{w}-e{n}"), "Placed", doc! { "n": n as i64 });
                        store.append(stream(&id), ExpectedVersion::Exact(n as i64), &[event], Alone).await.unwrap();
                        attempts.fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    attempts.fetch_add(unit(&db, &store, &outbox, w, n).await, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen =
        tokio::time::timeout(Duration::from_secs(300), reader).await.expect("the reader reaches the head").unwrap();
    (seen, attempts.load(Ordering::SeqCst))
}

/// Every committed event seen once, in strictly increasing positions; every writer's events in
/// version order; the runner applied each once.
async fn check_delivery(db: &Connection, store: &EventStore, seen: &[(i64, String)], per_writer: usize) {
    check_events(db, store, seen, per_writer).await;
    let outbox = db.database().collection::<Document>("outbox_messages").count_documents(doc! {}).await.unwrap();
    assert_eq!(outbox as usize, 16 * per_writer);
}

/// [`check_delivery`] without the outbox.
async fn check_events(db: &Connection, store: &EventStore, seen: &[(i64, String)], per_writer: usize) {
    let total = 16 * per_writer;
    assert_eq!(seen.len(), total, "every event once");
    assert!(seen.windows(2).all(|pair| pair[0].0 < pair[1].0), "in increasing positions, none twice");
    let ids: BTreeSet<&str> = seen.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids.len(), total, "no event twice");
    let stored = db.database().collection::<Document>("domain_events").count_documents(doc! {}).await.unwrap();
    assert_eq!(stored as usize, total, "nothing lost, nothing extra");
    let runner = ProjectionRunner::new(db, store, Counts::new("counts", "units_"));
    assert_eq!(runner.catch_up().await.unwrap(), total as u64);
    let counts = support::runner::contents(db, "units_streams").await;
    let counts: BTreeMap<String, i32> = counts.into_iter().map(|(id, d)| (id, d.get_i32("count").unwrap())).collect();
    assert_eq!(counts.len(), 16);
    assert!(counts.values().all(|count| *count as usize == per_writer), "each event applied once: {counts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sixteen_concurrent_units_with_reserved_positions_are_read_once_in_order() {
    let (db, store) = setup("reserved_concurrent", PositionAllocation::Reserved).await;
    let (seen, attempts) = concurrent_units(&db, &store, 50).await;
    println!("16 x 50 units with reserved positions: {attempts} transaction attempts for 800 units");
    assert!(attempts >= 800);
    check_delivery(&db, &store, &seen, 50).await;
    let burnt = db.database().collection::<Document>(BURNT_POSITIONS).count_documents(doc! {}).await.unwrap();
    let head = store.latest_position().await.unwrap();
    assert!(head >= 800, "positions are unique: the head covers every event and burnt ones ({burnt} tombstones)");
}

#[tokio::test(flavor = "multi_thread")]
async fn sixteen_concurrent_units_with_positions_in_the_transaction_are_read_once_in_order() {
    let (db, store) = setup("in_transaction_concurrent", PositionAllocation::InTransaction).await;
    let (seen, attempts) = concurrent_units(&db, &store, 10).await;
    println!("16 x 10 units with positions in the transaction: {attempts} transaction attempts for 160 units");
    check_delivery(&db, &store, &seen, 10).await;
    let positions: Vec<i64> = seen.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, (1..=160).collect::<Vec<_>>(), "commit order, no gap at all");
}

#[tokio::test(flavor = "multi_thread")]
async fn sixteen_writers_through_the_group_commit_with_reserved_positions_are_read_once_in_order() {
    let (db, store) = setup("reserved_grouped", PositionAllocation::Reserved).await;
    let (seen, _) = concurrent_writers(&db, &store, 50, Writes::Alone).await;
    check_events(&db, &store, &seen, 50).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_commit_batch_that_fails_burns_its_reserved_positions() {
    let (db, store) = setup("reserved_grouped_failure", PositionAllocation::Reserved).await;
    {
        // The batch's insert of the events fails (not transient): its transaction is aborted.
        let _armed = fail_command(&db, &["insert"], doc! { "times": 1 }, doc! { "errorCode": 8 }).await;
        let failed = store
            .append(stream("a"), ExpectedVersion::NoStream, &[NewEvent::new("a1", "Placed", doc! {})], Alone)
            .await;
        assert!(failed.is_err(), "{failed:?}");
    }
    let burnt = db.database().collection::<Document>(BURNT_POSITIONS);
    wait_until_async(|| async { burnt.count_documents(doc! {}).await.unwrap() == 1 }).await;
    assert_eq!(append_alone(&store, "b").await, 2, "position 1 went to the failed batch");
    assert_eq!(positions_read(&store).await, [2], "the burnt position is stepped over at once");
}

/// Appends `id` on its own (the group commit): the event after a burnt position.
async fn append_alone(store: &EventStore, id: &str) -> i64 {
    store.append(stream(id), ExpectedVersion::NoStream, &[NewEvent::new(id, "Placed", doc! {})], Alone).await.unwrap()
        [0]
}

/// What a reader gets from the start, at once: the positions of the events.
async fn positions_read(store: &EventStore) -> Vec<i64> {
    store.read_all(0, 100).await.unwrap().iter().map(|e| e.position).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_unit_that_fails_after_taking_its_positions_burns_them_and_readers_do_not_wait() {
    let (db, store) = setup("burnt_on_error", PositionAllocation::Reserved).await;
    // The callback fails after its append: rolled back, its position burnt.
    let failed: cqrs_mongo_persistence::Result<()> = db
        .transaction_with(&store, |uow, store| {
            async move {
                store
                    .append(stream("a"), ExpectedVersion::NoStream, &[NewEvent::new("a1", "Placed", doc! {})], uow)
                    .await?;
                Err(Error::InvalidArgument { operation: "test", argument: "x", message: "no".into() })
            }
            .boxed()
        })
        .await;
    assert!(matches!(failed, Err(Error::InvalidArgument { .. })));
    assert_eq!(append_alone(&store, "b").await, 2, "position 1 went to the failed unit");
    assert_eq!(positions_read(&store).await, [2], "the burnt position is stepped over at once");
    assert_eq!(store.gap_stats().positions_burnt, 1);

    // Rolled back explicitly; dropped without a commit; refused at commit by the server.
    let uow = db.begin().await.unwrap();
    store
        .append(stream("c"), ExpectedVersion::NoStream, &[NewEvent::new("c1", "Placed", doc! {})], &uow)
        .await
        .unwrap();
    uow.rollback().await.unwrap();
    let uow = db.begin().await.unwrap();
    store
        .append(stream("d"), ExpectedVersion::NoStream, &[NewEvent::new("d1", "Placed", doc! {})], &uow)
        .await
        .unwrap();
    drop(uow);
    let uow = db.begin().await.unwrap();
    store
        .append(stream("e"), ExpectedVersion::NoStream, &[NewEvent::new("e1", "Placed", doc! {})], &uow)
        .await
        .unwrap();
    {
        let _armed = fail_command(&db, &["commitTransaction"], doc! { "times": 1 }, doc! { "errorCode": 8 }).await;
        assert!(uow.commit().await.is_err());
    }
    let burnt = db.database().collection::<Document>(BURNT_POSITIONS);
    wait_until_async(|| async { burnt.count_documents(doc! {}).await.unwrap() == 4 }).await;
    assert_eq!(append_alone(&store, "f").await, 6);
    assert_eq!(positions_read(&store).await, [2, 6], "positions 3, 4 and 5 burnt, none waited for");

    // The runner steps over them too, at once.
    let runner = ProjectionRunner::new(&db, &store, Counts::new("counts", "burnt_"));
    assert_eq!(runner.catch_up().await.unwrap(), 2);
    assert_eq!(runner.position().await.unwrap(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_runner_waiting_at_a_reserved_position_goes_on_once_it_is_burnt() {
    let (db, store) = setup("burnt_wakes_runner", PositionAllocation::Reserved).await;
    let runner = Arc::new(
        ProjectionRunner::new(&db, &store, Counts::new("counts", "live_")).poll_interval(Duration::from_secs(30)),
    );
    let running = support::runner::spawn_run(&runner);
    // A unit holds position 1 open while position 2 commits: the runner waits at 1.
    let uow = db.begin().await.unwrap();
    store
        .append(stream("a"), ExpectedVersion::NoStream, &[NewEvent::new("a1", "Placed", doc! {})], &uow)
        .await
        .unwrap();
    assert_eq!(append_alone(&store, "b").await, 2);
    wait_until(|| store.gap_stats().in_flight == 1).await;
    assert_eq!(runner.stats().events(), 0, "waiting at the unit's position");
    // It does not commit: the tombstone wakes the runner (no poll for 30 s, a grace of an hour).
    uow.rollback().await.unwrap();
    wait_until(|| runner.stats().events() == 1).await;
    running.stop().await;
    assert_eq!(runner.position().await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_unit_holding_its_positions_past_the_limit_is_refused_and_retried_with_new_ones() {
    let db = support::database("reservation_expired").await;
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    // A grace of 400 ms: a unit may hold reserved positions for 200 ms.
    let store =
        EventStore::new(&db).position_allocation(PositionAllocation::Reserved).gap_grace(Duration::from_millis(400));
    let uow = db.begin().await.unwrap();
    store
        .append(stream("slow"), ExpectedVersion::NoStream, &[NewEvent::new("s1", "Placed", doc! {})], &uow)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = uow.commit().await;
    assert!(matches!(refused, Err(Error::ReservationExpired { .. })), "{refused:?}");
    assert!(refused.unwrap_err().is_unavailable(), "retryable");
    assert!(store.read_stream("slow", 0, None, Alone).await.unwrap().is_empty(), "not committed");

    // Connection::transaction runs it again, with new positions.
    let calls = AtomicU64::new(0);
    let positions = db
        .transaction_with((&store, &calls), |uow, (store, calls)| {
            async move {
                let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
                let appended = store
                    .append(stream("late"), ExpectedVersion::NoStream, &[NewEvent::new("l1", "Placed", doc! {})], uow)
                    .await?;
                if first {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Ok::<_, cqrs_mongo_persistence::Error>(appended)
            }
            .boxed()
        })
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(positions, [3], "positions 1 and 2 were burnt");
    let burnt = db.database().collection::<Document>(BURNT_POSITIONS).count_documents(doc! {}).await.unwrap();
    assert_eq!(burnt, 2);
}

/// Waits (bounded) until an async condition holds.
async fn wait_until_async<F, Fut>(condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !condition().await {
        assert!(std::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

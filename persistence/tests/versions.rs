//! Versions inside units of work on the real test server: a version a save gives an aggregate
//! stays only if the unit of work commits, so retried, rolled-back and dropped units never leave
//! an aggregate at a version that is not stored; concurrent units of work only fail for real
//! conflicts, and a lost write race inside a transaction is a typed, retryable error.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use bson::doc;
use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, Stream};
use cqrs_mongo_persistence::outbox::OutboxMessage;
use cqrs_mongo_persistence::{Alone, Connection, Error, EventStore, Outbox, Repository};
use futures::FutureExt;
use support::order::{Order, order};

/// The shape of the demo's `place_order`: the aggregate, two events of its stream and an
/// outbox message, in one transaction run by the driver's helper (retried on transient errors).
async fn place(db: &Connection, orders: &Repository<Order>, events: &EventStore, outbox: &Outbox, order: &mut Order) {
    let placed = [
        NewEvent::new(format!("{}-1", order.id), "OrderPlaced", doc! { "total": order.total }),
        NewEvent::new(format!("{}-2", order.id), "OrderConfirmed", doc! {}),
    ];
    let message = OutboxMessage::new(format!("{}-m", order.id), "OrderPlaced", doc! {}, &order.id);
    let attempts = AtomicUsize::new(0);
    db.transaction_with((orders, events, outbox, &mut *order, &placed, &message, &attempts), |uow, context| {
        let (orders, events, outbox, order, placed, message, attempts) = context;
        async move {
            attempts.fetch_add(1, Ordering::Relaxed);
            orders.save(order, uow).await?;
            let stream = Stream { aggregate_id: &order.id, aggregate_type: "Order" };
            events.append(stream, ExpectedVersion::NoStream, &placed[..], uow).await?;
            outbox.save(std::slice::from_ref(*message), uow).await
        }
        .boxed()
    })
    .await
    .unwrap_or_else(|err| panic!("placing {} failed after {attempts:?} attempts: {err:?}", order.id));
}

#[tokio::test(flavor = "multi_thread")]
async fn sixteen_concurrent_units_of_work_never_fail_on_their_own_aggregates() {
    let db = support::database("versions_concurrent_units").await;
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let (orders, events, outbox) = (Repository::<Order>::new(&db), EventStore::new(&db), Outbox::new(&db));
    const WRITERS: usize = 16;
    const EACH: usize = 6;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (db, orders, events, outbox) = (db.clone(), orders.clone(), events.clone(), outbox.clone());
            tokio::spawn(async move {
                for i in 0..EACH {
                    let mut placed = order(&format!("o{w:02}-{i}"), (w * 100 + i) as i64);
                    place(&db, &orders, &events, &outbox, &mut placed).await;
                    assert_eq!(placed.version, 1, "the committed version");
                    assert!(!placed.version.is_provisional());
                    // And an update of the same aggregate in a unit of work of its own.
                    placed.total += 1;
                    db.transaction_with((&orders, &mut placed), |uow, (orders, placed)| {
                        async move { orders.save(placed, uow).await }.boxed()
                    })
                    .await
                    .unwrap();
                    assert_eq!(placed.version, 2);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let count = async |name: &str, filter| {
        db.database().collection::<bson::Document>(name).count_documents(filter).await.unwrap()
    };
    let units = (WRITERS * EACH) as u64;
    assert_eq!(count("orders", doc! { "version": 2 }).await, units, "every order stored, at version 2");
    assert_eq!(count("domain_events", doc! {}).await, 2 * units);
    assert_eq!(count("outbox_messages", doc! {}).await, units);
    assert_eq!(events.latest_position().await.unwrap(), 2 * units as i64, "one position per event, no gap");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolled_back_or_dropped_save_can_be_saved_again() {
    let db = support::database("versions_rollback").await;
    let repo = Repository::<Order>::new(&db);

    // A new aggregate: rolled back, then saved on its own.
    let mut fresh = order("a", 1);
    let uow = db.begin().await.unwrap();
    repo.save(&mut fresh, &uow).await.unwrap();
    assert_eq!(fresh.version, 1, "inside the unit of work the new version shows");
    assert!(fresh.version.is_provisional());
    repo.save(&mut fresh, &uow).await.unwrap();
    assert_eq!(fresh.version, 2, "a second save in the same unit of work expects the first one's version");
    uow.rollback().await.unwrap();
    assert_eq!(fresh.version, 0, "rolled back: not stored, so version 0 again");
    repo.save(&mut fresh, Alone).await.unwrap();
    assert_eq!(repo.get(&"a".to_string(), Alone).await.unwrap().unwrap().version, 1);

    // A stored aggregate: a dropped unit of work, then a unit of work that commits.
    let mut loaded = repo.get(&"a".to_string(), Alone).await.unwrap().unwrap();
    {
        let uow = db.begin().await.unwrap();
        loaded.total = 2;
        repo.save(&mut loaded, &uow).await.unwrap();
        assert_eq!(loaded.version, 2);
    }
    assert_eq!(loaded.version, 1, "dropped without a commit");
    // The driver aborts a dropped transaction in the background: until the server has done so,
    // a new transaction writing the document gets a transient write conflict, which
    // transaction retries.
    db.transaction(async |uow| repo.save(&mut loaded, uow).await).await.unwrap();
    assert_eq!((loaded.version.get(), loaded.version.is_provisional()), (2, false));

    // A callback that fails after saving: the helper aborts, the version reverts.
    let failed: Result<(), Error> = db
        .transaction(async |uow| {
            repo.save(&mut loaded, uow).await?;
            Err(Error::NullId { collection: "because the test says so".into() })
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(loaded.version, 2);
    repo.save(&mut loaded, Alone).await.unwrap();
    assert_eq!(repo.get(&"a".to_string(), Alone).await.unwrap().unwrap().version, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolled_back_copy_cannot_overwrite_a_newer_write() {
    let db = support::database("versions_no_lost_update").await;
    let repo = Repository::<Order>::new(&db);
    repo.save(&mut order("a", 1), Alone).await.unwrap();
    let mut mine = repo.get(&"a".to_string(), Alone).await.unwrap().unwrap();
    let mut theirs = mine.clone();
    let uow = db.begin().await.unwrap();
    mine.total = 100;
    repo.save(&mut mine, &uow).await.unwrap();
    uow.rollback().await.unwrap();
    // Someone else stores version 2 meanwhile.
    theirs.total = 200;
    repo.save(&mut theirs, Alone).await.unwrap();
    // Had the rolled-back copy kept version 2, this save would silently replace their write.
    let err = repo.save(&mut mine, Alone).await.unwrap_err();
    assert!(matches!(err, Error::Concurrency { expected: 1, actual: Some(2), .. }), "{err:?}");
    assert_eq!(repo.get(&"a".to_string(), Alone).await.unwrap().unwrap().total, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_race_inside_a_unit_of_work_is_a_retryable_write_conflict() {
    let db = support::database("versions_write_conflict").await;
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let repo = Repository::<Order>::new(&db);
    repo.save(&mut order("a", 1), Alone).await.unwrap();
    let (mut first, mut second) = (
        repo.get(&"a".to_string(), Alone).await.unwrap().unwrap(),
        repo.get(&"a".to_string(), Alone).await.unwrap().unwrap(),
    );
    let winner = db.begin().await.unwrap();
    let loser = db.begin().await.unwrap();
    repo.save(&mut first, &winner).await.unwrap();
    let err = repo.save(&mut second, &loser).await.unwrap_err();
    assert!(matches!(err, Error::WriteConflict(_)), "{err:?}");
    assert!(err.is_transient(), "retry the unit of work: {err:?}");
    assert_eq!(second.version, 1, "the failed save changed nothing");
    drop(loser);
    winner.commit().await.unwrap();

    // The same on the event store's position counter: two units of work appending at once.
    let events = EventStore::new(&db);
    let append = |id: &'static str, uow| {
        let events = events.clone();
        async move {
            let stream = Stream { aggregate_id: id, aggregate_type: "Order" };
            events.append(stream, ExpectedVersion::Any, &[NewEvent::new(id, "Placed", doc! {})], uow).await
        }
    };
    let winner = db.begin().await.unwrap();
    let loser = db.begin().await.unwrap();
    append("x", &winner).await.unwrap();
    let err = append("y", &loser).await.unwrap_err();
    assert!(matches!(err, Error::WriteConflict(_)) && err.is_transient(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saga_saved_in_a_rolled_back_unit_of_work_keeps_its_stored_version() {
    use cqrs_mongo_persistence::SagaRepository;
    use cqrs_mongo_persistence::sagas::{IfStarted, Saga, SagaStatus};
    let db = support::database("versions_sagas").await;
    let sagas = SagaRepository::new(&db);
    let mut saga = sagas.start(Saga::new("s1", "Checkout", "c-1", doc! {}), IfStarted::Error, Alone).await.unwrap();
    saga.transition(SagaStatus::Running).unwrap();
    let uow = db.begin().await.unwrap();
    sagas.save(&mut saga, &uow).await.unwrap();
    assert_eq!(saga.version(), 2);
    uow.rollback().await.unwrap();
    assert_eq!(saga.version(), 1);
    sagas.save(&mut saga, Alone).await.unwrap();
    assert_eq!(sagas.get("s1", Alone).await.unwrap().unwrap().version(), 2);
}

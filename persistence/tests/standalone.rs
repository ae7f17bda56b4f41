//! Every store on a server without a replica set (no transactions), which the legacy package
//! documents for development: what needs a transaction fails up front with
//! `Error::TransactionsUnsupported` naming an API that works instead, and that API, like every
//! store's single-document work, works.

mod support;

use std::time::Duration;

use bson::doc;
use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, Stream};
use cqrs_mongo_persistence::jobs::NewJob;
use cqrs_mongo_persistence::outbox::OutboxMessage;
use cqrs_mongo_persistence::projections::Applied;
use cqrs_mongo_persistence::sagas::{IfStarted, Saga};
use cqrs_mongo_persistence::store::Tenant;
use cqrs_mongo_persistence::{
    Alone, Connection, Error, EventStore, JobQueue, Outbox, OutboxRelay, PositionStore, ProjectionRunner,
    ProjectionStore, Repository, SagaRepository, SnapshotStore,
};
use serde_json::json;
use support::order::{Order, order};
use support::runner::{Counts, contents, expected_streams};

async fn standalone(test: &str) -> Connection {
    let db = support::database_on(support::standalone_uri(), test).await;
    assert!(!db.supports_transactions(), "the standalone server has no replica set");
    db
}

/// The error for an operation that needs a transaction, and the alternative it names.
fn unsupported(result: Result<impl std::fmt::Debug, Error>, operation: &str, alternative: &str) {
    match result {
        Err(err @ Error::TransactionsUnsupported { .. }) => {
            let message = err.to_string();
            assert!(message.contains(operation) && message.contains(alternative), "{message}");
        }
        other => panic!("expected TransactionsUnsupported for {operation}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn units_of_work_need_a_transaction_unless_chosen_non_transactional() {
    let db = standalone("standalone_uow").await;
    let repo = Repository::<Order>::new(&db);
    unsupported(db.begin().await, "Connection::begin", "Connection::begin_non_transactional()");
    let run = db.transaction(async |_uow| Ok(())).await;
    unsupported(run, "Connection::transaction", "Connection::begin_non_transactional()");

    let mut order = order("o1", 1);
    let uow = db.begin_non_transactional();
    repo.save(&mut order, &uow).await.unwrap();
    assert_eq!(order.version, 1);
    assert!(!order.version.is_provisional(), "without a transaction a write is final at once");
    uow.commit().await.unwrap();
    order.total = 2;
    repo.save(&mut order, Alone).await.unwrap();
    let loaded = repo.get(&"o1".to_string(), Alone).await.unwrap().unwrap();
    assert_eq!((loaded.total, loaded.version.get()), (2, 2));
    assert_eq!(repo.count(&json!({"op": ">", "attr": "total", "val": 0}), Alone).await.unwrap(), 1);
    assert!(repo.delete(&"o1".to_string(), Some(2), Alone).await.unwrap());
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn events_append_in_a_non_transactional_unit_of_work_and_runners_without_transactions() {
    let db = standalone("standalone_events").await;
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let events = EventStore::new(&db);
    let stream = |id| Stream { aggregate_id: id, aggregate_type: "Order" };
    let placed = |id: &str| NewEvent::new(id, "Placed", doc! {});
    let refused = events.append(stream("s0"), ExpectedVersion::NoStream, &[placed("e1")], Alone).await;
    unsupported(refused, "EventStore::append", "Connection::begin_non_transactional()");
    assert_eq!(events.latest_position().await.unwrap(), 0, "refused before anything was written");

    let uow = db.begin_non_transactional();
    for (i, id) in ["e1", "e2", "e3"].into_iter().enumerate() {
        let expected = if i == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(i as i64) };
        let positions = events.append(stream("s0"), expected, &[placed(id)], &uow).await.unwrap();
        assert_eq!(positions, [i as i64 + 1]);
    }
    let err = events.append(stream("s0"), ExpectedVersion::Exact(1), &[placed("e9")], &uow).await;
    assert!(matches!(err, Err(Error::Concurrency { actual: Some(3), .. })), "{err:?}");
    uow.commit().await.unwrap();
    assert_eq!(events.read_stream("s0", 0, None, Alone).await.unwrap().len(), 3);
    assert_eq!(events.read_all(0, 10).await.unwrap().len(), 3);

    let runner = ProjectionRunner::new(&db, &events, Counts::new("counts", ""));
    unsupported(runner.catch_up().await, "ProjectionRunner", "ProjectionRunner::without_transactions()");
    let runner = runner.without_transactions();
    assert_eq!(runner.catch_up().await.unwrap(), 3);
    assert_eq!(contents(&db, "streams").await, expected_streams(&events, 1).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_other_stores_work_without_transactions() {
    let db = standalone("standalone_stores").await;

    // Outbox and relay.
    let outbox = Outbox::new(&db);
    outbox.save(&[OutboxMessage::new("m1", "Placed", doc! {}, "c")], Alone).await.unwrap();
    let uow = db.begin_non_transactional();
    outbox.save(&[OutboxMessage::new("m2", "Placed", doc! {}, "c")], &uow).await.unwrap();
    uow.commit().await.unwrap();
    let report = OutboxRelay::new(&outbox, "relay").run_once(|_| async { Ok::<(), String>(()) }).await.unwrap();
    assert_eq!(report.published, 2);

    // Projections, snapshots and positions.
    let projections = ProjectionStore::new(&db);
    assert!(
        projections
            .upsert("sums", "s1", doc! { "n": 1 }, Applied { position: 1, event_id: "e1" }, Alone)
            .await
            .unwrap()
    );
    assert!(
        !projections
            .upsert("sums", "s1", doc! { "n": 0 }, Applied { position: 1, event_id: "e1" }, Alone)
            .await
            .unwrap()
    );
    assert_eq!(projections.get("sums", "s1", Alone).await.unwrap().unwrap().get_i32("n").unwrap(), 1);
    let snapshots = SnapshotStore::new(&db);
    assert!(snapshots.save("Order", "o1", 3, doc! { "total": 3 }, Alone).await.unwrap());
    assert_eq!(snapshots.latest("Order", "o1", Alone).await.unwrap().unwrap().version, 3);
    let positions = PositionStore::new(&db);
    assert!(positions.save("sums", 4, Alone).await.unwrap());
    assert!(!positions.save("sums", 2, Alone).await.unwrap(), "never backwards");
    assert_eq!(positions.get("sums", Alone).await.unwrap(), 4);

    // Sagas.
    db.ensure_indexes(&SagaRepository::indexes()).await.unwrap();
    let sagas = SagaRepository::new(&db);
    let mut saga = sagas.start(Saga::new("s1", "Checkout", "c-1", doc! {}), IfStarted::Error, Alone).await.unwrap();
    saga.transition(cqrs_mongo_persistence::sagas::SagaStatus::Running).unwrap();
    sagas.save(&mut saga, Alone).await.unwrap();
    assert_eq!(sagas.get("s1", Alone).await.unwrap().unwrap().version(), 2);

    // Jobs, in a tenant scope too.
    db.ensure_indexes(&JobQueue::indexes()).await.unwrap();
    let jobs = JobQueue::new(&db).for_tenant(&Tenant::new("acme").unwrap());
    jobs.enqueue(NewJob::new("j1", "mail", doc! {}), Alone).await.unwrap();
    let job = jobs.claim("w", &["mail"], Duration::from_secs(60)).await.unwrap().unwrap();
    jobs.complete(&job).await.unwrap();
    assert_eq!(jobs.stats().await.unwrap().get("COMPLETED"), Some(&1));
}

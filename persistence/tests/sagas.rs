//! Saga repository on the real test server.

mod support;

use std::time::Duration;

use bson::{DateTime, Document, doc};
use cqrs_mongo_persistence::sagas::{IfStarted, Saga, SagaStatus};
use cqrs_mongo_persistence::store::PageRequest;
use cqrs_mongo_persistence::{Alone, Connection, Error, SagaRepository};

async fn repository(test: &str) -> (Connection, SagaRepository) {
    let db = support::database(test).await;
    db.ensure_indexes(&SagaRepository::indexes()).await.unwrap();
    let sagas = SagaRepository::new(&db);
    (db, sagas)
}

/// Moves a saga's `updated_at` into the past, as if it had not been saved for `ago`.
async fn age(db: &Connection, id: &str, ago: Duration) {
    let at = DateTime::from_millis(DateTime::now().timestamp_millis() - ago.as_millis() as i64);
    db.database()
        .collection::<Document>("sagas")
        .update_one(doc! { "_id": id }, doc! { "$set": { "updated_at": at } })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn starting_twice_is_an_error_or_returns_the_existing_saga() {
    let (db, sagas) = repository("sagas_start").await;
    let first = sagas.start(Saga::new("s1", "Shipping", "order-1", doc! { "step": 1 }), IfStarted::Error, Alone).await;
    let first = first.unwrap();
    assert_eq!((first.version(), first.status()), (1, SagaStatus::Pending));
    let again = sagas.start(Saga::new("s2", "Shipping", "order-1", doc! {}), IfStarted::Error, Alone).await;
    assert!(
        matches!(&again, Err(Error::AlreadyExists { existing_id, .. }) if existing_id == "s1"),
        "typed error naming the stored saga: {again:?}"
    );
    let existing =
        sagas.start(Saga::new("s3", "Shipping", "order-1", doc! {}), IfStarted::ReturnExisting, Alone).await.unwrap();
    assert_eq!((existing.id.as_str(), existing.state.get_i32("step").unwrap()), ("s1", 1));
    // The same correlation id under another saga type is another saga.
    sagas.start(Saga::new("b1", "Billing", "order-1", doc! {}), IfStarted::Error, Alone).await.unwrap();
    let stored = db.database().collection::<Document>("sagas").find_one(doc! { "_id": "s1" }).await.unwrap().unwrap();
    for key in ["saga_type", "status", "correlation_id", "updated_at", "version", "step"] {
        assert!(stored.contains_key(key), "legacy field {key}");
    }
    assert_eq!(stored.get_str("status").unwrap(), "PENDING");
}

#[tokio::test(flavor = "multi_thread")]
async fn saves_are_optimistic_and_transitions_are_guarded() {
    let (_db, sagas) = repository("sagas_save").await;
    let mut saga =
        sagas.start(Saga::new("s1", "Shipping", "o1", doc! { "step": 1 }), IfStarted::Error, Alone).await.unwrap();
    let mut stale = sagas.get("s1", Alone).await.unwrap().unwrap();
    saga.transition(SagaStatus::Running).unwrap();
    saga.state.insert("step", 2);
    sagas.save(&mut saga, Alone).await.unwrap();
    assert_eq!(saga.version(), 2);
    stale.state.insert("step", 99);
    let err = sagas.save(&mut stale, Alone).await.unwrap_err();
    assert!(matches!(err, Error::Concurrency { expected: 1, actual: Some(2), .. }), "{err:?}");

    saga.transition(SagaStatus::Completed).unwrap();
    sagas.save(&mut saga, Alone).await.unwrap();
    let mut done = sagas.get("s1", Alone).await.unwrap().unwrap();
    assert_eq!((done.status(), done.state.get_i32("step").unwrap()), (SagaStatus::Completed, 2));
    let err = done.transition(SagaStatus::Running).unwrap_err();
    assert!(matches!(err, Error::InvalidTransition { .. }), "a completed saga cannot be resumed: {err:?}");
    assert_eq!(done.status(), SagaStatus::Completed, "a refused transition changes nothing");
    // A state field with a name the store owns is refused rather than silently overwritten.
    done.state.insert("status", "RUNNING");
    assert!(matches!(sagas.save(&mut done, Alone).await, Err(Error::InvalidArgument { argument: "state", .. })));
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_suspended_and_timed_out_queries_filter_by_saga_type_sorted_and_paged() {
    let (db, sagas) = repository("sagas_queries").await;
    let past = DateTime::from_millis(DateTime::now().timestamp_millis() - 60_000);
    let future = DateTime::from_millis(DateTime::now().timestamp_millis() + 3_600_000);
    // (id, type, status, minutes since the last save, time-out)
    let plan: [(&str, &str, SagaStatus, u64, Option<DateTime>); 10] = [
        ("ship-old", "Shipping", SagaStatus::Running, 30, None),
        ("ship-older", "Shipping", SagaStatus::Running, 50, None),
        ("ship-fresh", "Shipping", SagaStatus::Running, 0, None),
        ("ship-susp", "Shipping", SagaStatus::Suspended, 40, Some(past)),
        ("ship-done", "Shipping", SagaStatus::Completed, 90, Some(past)),
        ("ship-later", "Shipping", SagaStatus::Running, 0, Some(future)),
        ("bill-old", "Billing", SagaStatus::Running, 45, Some(past)),
        ("bill-susp-1", "Billing", SagaStatus::Suspended, 10, None),
        ("bill-susp-2", "Billing", SagaStatus::Suspended, 20, None),
        ("bill-failed", "Billing", SagaStatus::Failed, 60, Some(past)),
    ];
    for (id, saga_type, status, _, timeout) in plan {
        let mut saga = Saga::new(id, saga_type, format!("c-{id}"), doc! {});
        if let Some(at) = timeout {
            saga = saga.with_timeout_at(at);
        }
        let mut saga = sagas.start(saga, IfStarted::Error, Alone).await.unwrap();
        if status != SagaStatus::Pending {
            let path: &[SagaStatus] = match status {
                SagaStatus::Failed => &[SagaStatus::Failed],
                SagaStatus::Running => &[SagaStatus::Running],
                SagaStatus::Suspended => &[SagaStatus::Running, SagaStatus::Suspended],
                SagaStatus::Completed => &[SagaStatus::Running, SagaStatus::Completed],
                other => panic!("no plan for {other:?}"),
            };
            for &step in path {
                saga.transition(step).unwrap();
            }
            sagas.save(&mut saga, Alone).await.unwrap();
        }
    }
    for (id, _, _, minutes, _) in plan {
        age(&db, id, Duration::from_secs(minutes * 60)).await;
    }
    let ids = |found: Vec<Saga>| found.into_iter().map(|s| s.id).collect::<Vec<_>>();

    let stalled = sagas.stalled("Shipping", Duration::from_secs(20 * 60), PageRequest::first(10), Alone).await.unwrap();
    assert_eq!(ids(stalled), ["ship-older", "ship-old"], "running, idle > 20 min, least recently saved first");
    let stalled = sagas.stalled("Billing", Duration::from_secs(20 * 60), PageRequest::first(10), Alone).await.unwrap();
    assert_eq!(ids(stalled), ["bill-old"]);
    let second_page =
        sagas.stalled("Shipping", Duration::from_secs(60), PageRequest { skip: 1, limit: 1 }, Alone).await.unwrap();
    assert_eq!(ids(second_page), ["ship-old"]);

    assert_eq!(ids(sagas.suspended("Shipping", PageRequest::first(10), Alone).await.unwrap()), ["ship-susp"]);
    assert_eq!(
        ids(sagas.suspended("Billing", PageRequest::first(10), Alone).await.unwrap()),
        ["bill-susp-2", "bill-susp-1"]
    );

    assert_eq!(
        ids(sagas.timed_out("Shipping", PageRequest::first(10), Alone).await.unwrap()),
        ["ship-susp"],
        "terminal excluded"
    );
    assert_eq!(ids(sagas.timed_out("Billing", PageRequest::first(10), Alone).await.unwrap()), ["bill-old"]);
    assert!(sagas.find_by_correlation("Billing", "c-bill-old", Alone).await.unwrap().is_some());
    assert!(sagas.find_by_correlation("Shipping", "c-bill-old", Alone).await.unwrap().is_none());
}

//! Both stacks on one database: documents inserted exactly as the legacy Python package writes
//! them (with its defaults and explicit nulls), then read, claimed, published, saved and
//! appended on by every Rust store, and the results checked field by field against what the
//! legacy readers accept (fixtures and readers in `support/legacy.rs`).

mod support;

use cqrs_mongo_persistence::runtime::{Backoff, RetryPolicy};
use std::time::Duration;

use bson::{Bson, Document, doc};
use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, Stream};
use cqrs_mongo_persistence::jobs::{Failed, NewJob};
use cqrs_mongo_persistence::outbox::OutboxMessage;
use cqrs_mongo_persistence::sagas::{IfStarted, Saga, SagaStatus};
use cqrs_mongo_persistence::store::PageRequest;
use cqrs_mongo_persistence::{
    Alone, Error, EventStore, JobQueue, Outbox, OutboxRelay, PositionStore, Repository, SagaRepository, SnapshotStore,
};
use support::legacy::{
    self, MINUTE, SAGA_OWNED, ago, assert_kept, assert_legacy_reads, assert_null, date, int, legacy_pending,
    relay_round, sagas_fixture, uuid,
};

const LEASE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn legacy_outbox_messages_are_published_at_once_with_every_stored_field() {
    let db = support::database("legacy_outbox_publish").await;
    let (older_at, newer_at) = (ago(2 * MINUTE), ago(MINUTE));
    let older = legacy::outbox_message(&uuid(1), older_at, Some("corr-1"));
    let newer = legacy::outbox_message(&uuid(2), newer_at, None);
    let mut done = legacy::outbox_message(&uuid(3), ago(3 * MINUTE), Some("corr-0"));
    let done_at = ago(150_000);
    done.insert("status", "published");
    done.insert("published_at", done_at);
    legacy::insert(&db, "outbox_messages", vec![newer.clone(), older.clone(), done.clone()]).await;
    let outbox = Outbox::new(&db);
    outbox
        .save(&[OutboxMessage::new("rust-1", "OrderShipped", doc! { "order_id": "o-2" }, "corr-2")], Alone)
        .await
        .unwrap();
    let before = ago(5_000);

    let (report, seen) = relay_round(&OutboxRelay::new(&outbox, "w"), None).await;
    assert_eq!(report.published, 3, "both pending legacy messages and the Rust one, nothing else: {report:?}");
    let ids: Vec<&str> = seen.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, [uuid(1).as_str(), uuid(2).as_str(), "rust-1"], "creation order; published ones are not resent");
    let first = &seen[0];
    assert_eq!((first.event_type.as_str(), &first.payload), ("OrderPlaced", &doc! { "order_id": "o-1", "total": 250 }));
    assert_eq!(first.metadata, doc! { "source": "legacy" });
    assert_eq!((first.retry_count, first.created_at), (0, Some(older_at)));
    assert_eq!(first.correlation_id.as_deref(), Some("corr-1"));
    assert_eq!((&first.causation_id, &first.aggregate_id, &first.tenant_id), (&None, &None, &None), "nulls / missing");
    assert_eq!(first.error, None, "a null error is no error");
    assert_eq!((seen[1].correlation_id.as_deref(), seen[1].created_at), (None, Some(newer_at)), "null correlation");

    for fixture in [&older, &newer] {
        let id = fixture.get_str("_id").unwrap();
        let stored = legacy::stored(&db, "outbox_messages", id).await;
        assert_legacy_reads(id, &stored, legacy::OUTBOX_READER);
        assert_eq!(stored.get_str("status").unwrap(), "published");
        let published_at = date(&stored, "published_at");
        assert!(published_at >= before && published_at > date(fixture, "created_at"), "published now: {published_at}");
        assert_kept(id, &stored, fixture, &["status", "published_at"]);
    }
    assert_eq!(legacy::stored(&db, "outbox_messages", &uuid(3)).await, done, "an already published message untouched");
    assert!(legacy_pending(&db).await.is_empty(), "legacy get_pending finds nothing left");
    assert_eq!(outbox.stats().await.unwrap().get("published"), Some(&4));
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_publishes_of_legacy_messages_leave_integer_retries_and_string_errors() {
    let db = support::database("legacy_outbox_failures").await;
    let fresh = legacy::outbox_message(&uuid(10), ago(2 * MINUTE), Some("corr-10"));
    // Legacy `mark_failed`: status failed, the error, `$inc retry_count` (an Int32).
    let mut failed_by_legacy = legacy::outbox_message(&uuid(11), ago(3 * MINUTE), None);
    failed_by_legacy.insert("status", "failed");
    failed_by_legacy.insert("error", "legacy broker down");
    failed_by_legacy.insert("retry_count", 1_i32);
    legacy::insert(&db, "outbox_messages", vec![fresh.clone(), failed_by_legacy.clone()]).await;
    let outbox = Outbox::new(&db);
    let relay = OutboxRelay::new(&outbox, "w")
        .on_failure(RetryPolicy::park_after(2).backoff(Backoff::new(Duration::ZERO, Duration::from_secs(3600))));

    let (report, seen) = relay_round(&relay, Some("broker down")).await;
    assert_eq!((report.retried, seen.len()), (1, 1), "only the pending message: {report:?}");
    let stored = legacy::stored(&db, "outbox_messages", &uuid(10)).await;
    assert_legacy_reads("retried", &stored, legacy::OUTBOX_READER);
    assert_eq!((stored.get_str("status").unwrap(), int(&stored, "retry_count")), ("pending", 1));
    assert_eq!(stored.get_str("error").unwrap(), "broker down");
    let pending = legacy_pending(&db).await;
    assert_eq!(pending.len(), 1, "legacy get_pending still sees the retried message");
    assert_kept("retried", &stored, &fresh, &["retry_count", "error"]);

    let (report, seen) = relay_round(&relay, Some("still down")).await;
    assert_eq!((report.dead, seen[0].retry_count, seen[0].error.as_deref()), (1, 1, Some("broker down")));
    let stored = legacy::stored(&db, "outbox_messages", &uuid(10)).await;
    assert_legacy_reads("dead", &stored, legacy::OUTBOX_READER);
    assert_eq!((stored.get_str("status").unwrap(), int(&stored, "retry_count")), ("failed", 2), "legacy `failed`");
    assert_eq!(stored.get_str("error").unwrap(), "still down");
    assert_null(&stored, "published_at");

    assert_eq!(outbox.retry_dead(Alone).await.unwrap(), 2, "the Rust-parked and the legacy-failed message");
    let (report, seen) = relay_round(&relay, None).await;
    assert_eq!(report.published, 2);
    let legacy_failed = seen.iter().find(|m| m.message_id == uuid(11)).expect("the legacy-failed message is published");
    assert_eq!(legacy_failed.error.as_deref(), Some("legacy broker down"), "legacy error text read");
    for id in [uuid(10), uuid(11)] {
        let stored = legacy::stored(&db, "outbox_messages", &id).await;
        assert_legacy_reads(&id, &stored, legacy::OUTBOX_READER);
        assert_eq!(stored.get_str("status").unwrap(), "published");
        date(&stored, "published_at");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_saved_here_has_every_field_legacy_get_pending_reads() {
    let db = support::database("legacy_outbox_rust_saved").await;
    legacy::insert(&db, "outbox_messages", vec![legacy::outbox_message(&uuid(20), ago(MINUTE), None)]).await;
    let message = OutboxMessage::new("rust-1", "OrderShipped", doc! { "order_id": "o-2", "lines": 3 }, "corr-2");
    Outbox::new(&db).save(&[message], Alone).await.unwrap();
    let pending = legacy_pending(&db).await;
    let ids: Vec<&str> = pending.iter().map(|d| d.get_str("_id").unwrap()).collect();
    assert_eq!(ids, [uuid(20).as_str(), "rust-1"], "legacy get_pending lists both, by creation time");
    let stored = &pending[1];
    assert_legacy_reads("rust-1", stored, legacy::OUTBOX_READER);
    assert_eq!(stored.get_str("event_type").unwrap(), "OrderShipped");
    assert_eq!(stored.get_document("payload").unwrap(), &doc! { "order_id": "o-2", "lines": 3 });
    assert_eq!(stored.get_document("metadata").unwrap(), &doc! {});
    assert_eq!((stored.get_str("status").unwrap(), int(stored, "retry_count")), ("pending", 0));
    assert_eq!(stored.get_str("correlation_id").unwrap(), "corr-2");
    assert!(date(stored, "created_at") >= ago(60_000));
    for optional in ["published_at", "error", "causation_id"] {
        assert!(matches!(stored.get(optional), None | Some(Bson::Null)), "{optional}: legacy reads None");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_jobs_are_claimed_from_their_job_type_queue_oldest_first() {
    let db = support::database("legacy_jobs_claim").await;
    db.ensure_indexes(&JobQueue::indexes()).await.unwrap();
    let mail = legacy::background_job(&uuid(30), "send_email", ago(2 * MINUTE));
    let report = legacy::background_job(&uuid(31), "build_report", ago(5 * MINUTE));
    legacy::insert(&db, "background_jobs", vec![mail.clone(), report]).await;
    let jobs = JobQueue::new(&db);
    jobs.enqueue(NewJob::new("rust-mail", "send_email", doc! { "to": "x@y.z" }), Alone).await.unwrap();

    let job = jobs.claim("w", &["send_email"], LEASE).await.unwrap().expect("the legacy job");
    assert_eq!((job.id.as_str(), job.queue.as_str()), (uuid(30).as_str(), "send_email"), "older than the Rust job");
    assert_eq!((job.payload.clone(), job.attempt, job.max_attempts), (doc! {}, 1, 3));
    assert_eq!((job.job_type.as_deref(), job.correlation_id.as_deref()), (Some("send_email"), None));
    assert_eq!(job.metadata, doc! { "to": "a@b.c" });
    assert_kept("claimed document", &job.document, &mail, &["status", "updated_at", "version"]);
    let next = jobs.claim("w", &["send_email"], LEASE).await.unwrap().expect("the Rust job");
    assert_eq!((next.id.as_str(), next.job_type.as_deref()), ("rust-mail", Some("send_email")));
    assert_eq!(next.payload, doc! { "to": "x@y.z" });
    assert!(jobs.claim("w", &["send_email"], LEASE).await.unwrap().is_none(), "build_report is another queue");
    let other = jobs.claim("w", &["build_report"], LEASE).await.unwrap().expect("its own queue");
    assert_eq!(other.id, uuid(31));

    // A legacy job written after a sweep, while a newer Rust job is eligible: the next sweep
    // (at most one interval later) adopts it, and its creation time puts it first.
    let sweeping = JobQueue::new(&db).sweep_every(Duration::from_millis(50));
    assert!(sweeping.claim("w", &["send_email"], LEASE).await.unwrap().is_none());
    sweeping.enqueue(NewJob::new("rust-late", "send_email", doc! {}), Alone).await.unwrap();
    legacy::insert(&db, "background_jobs", vec![legacy::background_job(&uuid(32), "send_email", ago(MINUTE))]).await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    let first = sweeping.claim("w", &["send_email"], LEASE).await.unwrap().unwrap();
    let second = sweeping.claim("w", &["send_email"], LEASE).await.unwrap().unwrap();
    assert_eq!([first.id.as_str(), second.id.as_str()], [uuid(32).as_str(), "rust-late"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completed_legacy_job_reads_back_as_legacy_completed() {
    let db = support::database("legacy_jobs_complete").await;
    let fixture = legacy::background_job(&uuid(40), "send_email", ago(2 * MINUTE));
    legacy::insert(&db, "background_jobs", vec![fixture.clone()]).await;
    let jobs = JobQueue::new(&db);
    let job = jobs.claim("w", &["send_email"], LEASE).await.unwrap().unwrap();
    let running = legacy::stored(&db, "background_jobs", &uuid(40)).await;
    assert_legacy_reads("running", &running, legacy::JOB_READER);
    assert_eq!(running.get_str("status").unwrap(), "RUNNING");
    jobs.complete(&job).await.unwrap();

    let stored = legacy::stored(&db, "background_jobs", &uuid(40)).await;
    assert_legacy_reads("completed", &stored, legacy::JOB_READER);
    assert_eq!(stored.get_str("status").unwrap(), "COMPLETED");
    let (completed_at, updated_at) = (date(&stored, "completed_at"), date(&stored, "updated_at"));
    assert!(completed_at > date(&fixture, "created_at") && updated_at > date(&fixture, "updated_at"));
    assert!(int(&stored, "version") > 1, "the version moved on: a legacy writer holding version 1 is refused");
    // job_type, total_items, processed_items, result_data, error_message, broker_message_id,
    // retry_count, max_retries, created_at, metadata and correlation_id, as the legacy job had them.
    assert_kept("completed", &stored, &fixture, &["status", "updated_at", "version"]);
    assert_eq!(jobs.stats().await.unwrap().get("COMPLETED"), Some(&1));
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_legacy_jobs_carry_the_legacy_error_message() {
    let db = support::database("legacy_jobs_fail").await;
    let mut last = legacy::background_job(&uuid(50), "send_email", ago(3 * MINUTE));
    last.insert("max_retries", 1_i32);
    let retried = legacy::background_job(&uuid(51), "send_email", ago(2 * MINUTE));
    legacy::insert(&db, "background_jobs", vec![last.clone(), retried.clone()]).await;
    let jobs = JobQueue::new(&db)
        .on_failure(RetryPolicy::park_after(3).backoff(Backoff::new(Duration::from_secs(60), Duration::from_secs(60))));
    let first = jobs.claim("w", &["send_email"], LEASE).await.unwrap().unwrap();
    let second = jobs.claim("w", &["send_email"], LEASE).await.unwrap().unwrap();
    assert_eq!((first.id.as_str(), first.max_attempts, second.id.as_str()), (uuid(50).as_str(), 1, uuid(51).as_str()));

    assert_eq!(jobs.fail(&first, "smtp down").await.unwrap(), Failed::Parked, "its only attempt");
    let stored = legacy::stored(&db, "background_jobs", &uuid(50)).await;
    assert_legacy_reads("parked", &stored, legacy::JOB_READER);
    assert_eq!((stored.get_str("status").unwrap(), stored.get_str("error_message").unwrap()), ("FAILED", "smtp down"));
    assert_eq!(int(&stored, "retry_count"), 1);
    assert_kept("parked", &stored, &last, &["status", "error_message", "retry_count", "updated_at", "version"]);

    assert!(matches!(jobs.fail(&second, "timeout").await.unwrap(), Failed::RetryAt(_)), "attempts left");
    let stored = legacy::stored(&db, "background_jobs", &uuid(51)).await;
    assert_legacy_reads("retried", &stored, legacy::JOB_READER);
    assert_eq!((stored.get_str("status").unwrap(), stored.get_str("error_message").unwrap()), ("PENDING", "timeout"));
    assert_eq!(int(&stored, "retry_count"), 1);
    assert_kept("retried", &stored, &retried, &["status", "error_message", "retry_count", "updated_at", "version"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_and_listings_see_legacy_jobs_and_rust_jobs_carry_a_job_type() {
    let db = support::database("legacy_jobs_stats").await;
    let mut completed = legacy::background_job(&uuid(62), "send_email", ago(9 * MINUTE));
    completed.insert("status", "COMPLETED");
    completed.insert("completed_at", ago(8 * MINUTE));
    let jobs_in = vec![
        legacy::background_job(&uuid(60), "send_email", ago(2 * MINUTE)),
        legacy::background_job(&uuid(61), "build_report", ago(MINUTE)),
        completed,
    ];
    legacy::insert(&db, "background_jobs", jobs_in).await;
    let jobs = JobQueue::new(&db);
    jobs.enqueue(NewJob::new("rust-1", "send_email", doc! { "n": 1 }), Alone).await.unwrap();
    let stats = jobs.stats().await.unwrap();
    assert_eq!((stats.get("PENDING"), stats.get("COMPLETED")), (Some(&3), Some(&1)), "{stats:?}");
    let ids = |found: Vec<Document>| {
        let mut ids: Vec<String> = found.iter().map(|d| d.get_str("_id").unwrap().to_owned()).collect();
        ids.sort();
        ids
    };
    let pending = ids(jobs.list("PENDING", PageRequest::first(10), Alone).await.unwrap());
    assert_eq!(pending, [uuid(60), uuid(61), "rust-1".to_owned()]);
    assert_eq!(ids(jobs.list("COMPLETED", PageRequest::first(10), Alone).await.unwrap()), [uuid(62)]);

    let stored = legacy::stored(&db, "background_jobs", "rust-1").await;
    assert_legacy_reads("rust-1", &stored, legacy::JOB_READER);
    assert_eq!((stored.get_str("job_type").unwrap(), stored.get_str("status").unwrap()), ("send_email", "PENDING"));
    assert_eq!((int(&stored, "retry_count"), int(&stored, "max_retries"), int(&stored, "version")), (0, 3, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn purge_removes_jobs_the_legacy_package_finished_long_ago() {
    let db = support::database("legacy_jobs_purge").await;
    // Legacy `mark_completed` sets status, `completed_at` and `updated_at`; a legacy `cancel()`
    // saved by `MongoRepository.add` sets status, `error_message` and `updated_at`.
    let mut completed = legacy::background_job(&uuid(65), "send_email", ago(60 * MINUTE));
    completed.insert("status", "COMPLETED");
    completed.insert("completed_at", ago(50 * MINUTE));
    completed.insert("updated_at", ago(50 * MINUTE));
    let mut cancelled = legacy::background_job(&uuid(66), "send_email", ago(60 * MINUTE));
    cancelled.insert("status", "CANCELLED");
    cancelled.insert("error_message", "Cancelled by user");
    cancelled.insert("updated_at", ago(50 * MINUTE));
    let mut recent = legacy::background_job(&uuid(67), "send_email", ago(2 * MINUTE));
    recent.insert("status", "COMPLETED");
    recent.insert("completed_at", ago(MINUTE));
    recent.insert("updated_at", ago(MINUTE));
    legacy::insert(&db, "background_jobs", vec![completed, cancelled, recent]).await;
    let jobs = JobQueue::new(&db);
    let purged = jobs.purge(Duration::from_secs(10 * 60), Alone).await.unwrap();
    let left = jobs.stats().await.unwrap();
    assert_eq!(purged, 2, "the legacy jobs that finished 50 minutes ago are purged, the recent one stays: {left:?}");
    assert_eq!((left.get("COMPLETED"), left.get("CANCELLED")), (Some(&1), None));
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_sagas_are_read_with_null_correlation_ids_and_found_by_the_supervisor_queries() {
    let db = support::database("legacy_sagas_read").await;
    let mut fixture = sagas_fixture();
    fixture.push(legacy::saga_state(&uuid(73), "SUSPENDED", None, ago(5 * MINUTE), Some(ago(MINUTE))));
    fixture.push(legacy::saga_state(&uuid(74), "RUNNING", None, ago(1_000), None));
    let mut other_type = legacy::saga_state(&uuid(75), "RUNNING", None, ago(40 * MINUTE), None);
    other_type.insert("saga_type", "PaymentSaga");
    fixture.push(other_type);
    legacy::insert(&db, "sagas", fixture.clone()).await;
    db.ensure_indexes(&SagaRepository::indexes()).await.expect("null correlation ids do not collide");
    let sagas = SagaRepository::new(&db);

    let saga = sagas.get(&uuid(70), Alone).await.unwrap().unwrap();
    assert_eq!((saga.correlation_id.as_deref(), saga.status(), saga.version()), (None, SagaStatus::Running, 1));
    assert_eq!(
        (saga.saga_type.as_str(), saga.timeout_at, saga.updated_at()),
        ("OrderSaga", None, date(&fixture[0], "updated_at"))
    );
    let mut state = fixture[0].clone();
    for owned in SAGA_OWNED {
        state.remove(owned);
    }
    assert_eq!(saga.state, state, "every other legacy field is the state, with its type");
    assert_eq!(sagas.get(&uuid(72), Alone).await.unwrap().unwrap().correlation_id.as_deref(), Some("order-1"));

    let ids = |found: Vec<Saga>| found.into_iter().map(|s| s.id).collect::<Vec<_>>();
    let stalled = sagas.stalled("OrderSaga", Duration::from_secs(120), PageRequest::first(10), Alone).await.unwrap();
    assert_eq!(ids(stalled), [uuid(70), uuid(71), uuid(72)], "null correlation ids included, oldest first");
    assert_eq!(
        ids(sagas.stalled("PaymentSaga", Duration::from_secs(120), PageRequest::first(10), Alone).await.unwrap()),
        [uuid(75)]
    );
    assert_eq!(ids(sagas.suspended("OrderSaga", PageRequest::first(10), Alone).await.unwrap()), [uuid(73)]);
    assert_eq!(
        ids(sagas.timed_out("OrderSaga", PageRequest::first(10), Alone).await.unwrap()),
        [uuid(73)],
        "legacy timeout_at"
    );
    let found = sagas.find_by_correlation("OrderSaga", "order-1", Alone).await.unwrap().map(|s| s.id);
    assert_eq!(found, Some(uuid(72)));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_correlation_index_ignores_nulls_but_still_refuses_a_second_real_correlation_id() {
    let db = support::database("legacy_sagas_index").await;
    legacy::insert(&db, "sagas", sagas_fixture()).await;
    db.ensure_indexes(&SagaRepository::indexes()).await.expect("two null correlation ids of one type are allowed");
    let sagas = SagaRepository::new(&db);

    let again = sagas.start(Saga::new("rust-dup", "OrderSaga", "order-1", doc! {}), IfStarted::Error, Alone).await;
    assert!(
        matches!(&again, Err(Error::AlreadyExists { existing_id, .. }) if *existing_id == uuid(72)),
        "the legacy saga holds OrderSaga/order-1: {again:?}"
    );
    let legacy_dup = legacy::saga_state(&uuid(76), "RUNNING", Some("order-1"), ago(MINUTE), None);
    let raw = db.database().collection::<Document>("sagas").insert_one(legacy_dup).await;
    assert!(raw.is_err(), "a legacy writer is refused the same correlation id too");
    sagas.start(Saga::new("rust-pay", "PaymentSaga", "order-1", doc! {}), IfStarted::Error, Alone).await.unwrap();
    for id in ["rust-u1", "rust-u2"] {
        sagas
            .start(Saga::uncorrelated(id, "OrderSaga", doc! { "current_step": "init" }), IfStarted::Error, Alone)
            .await
            .unwrap();
    }
    let stored = legacy::stored(&db, "sagas", "rust-u1").await;
    assert_legacy_reads("rust-u1", &stored, legacy::SAGA_READER);
    assert_null(&stored, "correlation_id");
    assert_null(&stored, "timeout_at");
    assert_eq!((stored.get_str("status").unwrap(), int(&stored, "version")), ("PENDING", 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn saving_a_loaded_legacy_saga_keeps_every_legacy_field_and_type() {
    let db = support::database("legacy_sagas_save").await;
    let fixture = sagas_fixture().remove(0);
    legacy::insert(&db, "sagas", vec![fixture.clone()]).await;
    let sagas = SagaRepository::new(&db);
    let mut saga = sagas.get(&uuid(70), Alone).await.unwrap().unwrap();
    saga.transition(SagaStatus::Completed).unwrap();
    saga.state.insert("current_step", "done");
    sagas.save(&mut saga, Alone).await.unwrap();
    assert_eq!(saga.version(), 2);

    let stored = legacy::stored(&db, "sagas", &uuid(70)).await;
    assert_legacy_reads("saved", &stored, legacy::SAGA_READER);
    assert_eq!((stored.get_str("status").unwrap(), stored.get_str("current_step").unwrap()), ("COMPLETED", "done"));
    assert_eq!(int(&stored, "version"), 2);
    assert!(date(&stored, "updated_at") > date(&fixture, "updated_at"));
    assert_null(&stored, "correlation_id");
    assert_null(&stored, "timeout_at");
    // step_history, tcc_steps, processed_event_ids, ..., state_version, max_retries (Int32),
    // the explicit nulls, metadata, created_at and saga_type, as legacy wrote them.
    assert_kept("saved", &stored, &fixture, &["status", "current_step", "version", "updated_at"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_events_are_read_and_rust_appends_continue_their_streams_and_positions() {
    let db = support::database("legacy_events").await;
    let at = ago(MINUTE);
    let mut documents = vec![
        legacy::domain_event(&uuid(80), "order-1", 1, 1, at),
        legacy::domain_event(&uuid(81), "order-1", 2, 2, at),
        legacy::domain_event(&uuid(82), "order-2", 1, 3, at),
    ];
    documents[1].insert("correlation_id", "c-1");
    documents[1].insert("causation_id", uuid(80));
    legacy::insert(&db, "domain_events", documents.clone()).await;
    legacy::insert(&db, "counters", vec![legacy::position_counter(3)]).await;
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let store = EventStore::new(&db);

    let stream = store.read_stream("order-1", 0, None, Alone).await.unwrap();
    let first = &stream[0];
    assert_eq!((first.event_id.as_str(), first.event_type.as_str()), (uuid(80).as_str(), "OrderPlaced"));
    assert_eq!((first.aggregate_id.as_str(), first.aggregate_type.as_str()), ("order-1", "Order"));
    assert_eq!((first.version, first.position, first.schema_version), (1, 1, 1));
    assert_eq!((&first.payload, &first.metadata, first.occurred_at), (&doc! { "n": 1 }, &doc! {}, at));
    assert_eq!((&first.correlation_id, &first.causation_id, &first.tenant_id), (&None, &None, &None), "nulls");
    assert_eq!(
        (stream[1].correlation_id.as_deref(), stream[1].causation_id.as_deref()),
        (Some("c-1"), Some(uuid(80).as_str()))
    );
    let all = store.read_all(0, 10).await.unwrap();
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(store.latest_position().await.unwrap(), 3);

    let order_1 = Stream { aggregate_id: "order-1", aggregate_type: "Order" };
    let mut event = NewEvent::new("rust-e4", "OrderPaid", doc! { "amount": 250 });
    event.correlation_id = Some("c-1".into());
    assert_eq!(store.append(order_1, ExpectedVersion::Exact(2), &[event], Alone).await.unwrap(), [4]);
    let late =
        store.append(order_1, ExpectedVersion::Exact(2), &[NewEvent::new("rust-x", "OrderPaid", doc! {})], Alone).await;
    assert!(matches!(late, Err(Error::Concurrency { expected: 2, actual: Some(3), .. })), "{late:?}");
    let order_2 = Stream { aggregate_id: "order-2", aggregate_type: "Order" };
    // In a unit of work (the caller's transaction), not the group commit.
    let uow = db.begin().await.unwrap();
    let e5 = [NewEvent::new("rust-e5", "OrderPaid", doc! {})];
    assert_eq!(store.append(order_2, ExpectedVersion::Exact(1), &e5, &uow).await.unwrap(), [5]);
    uow.commit().await.unwrap();

    let stored = legacy::stored(&db, "domain_events", "rust-e4").await;
    assert_legacy_reads("rust-e4", &stored, legacy::EVENT_READER);
    assert_eq!((int(&stored, "version"), int(&stored, "position"), int(&stored, "schema_version")), (3, 4, 1));
    assert_eq!(
        (stored.get_str("aggregate_type").unwrap(), stored.get_str("correlation_id").unwrap()),
        ("Order", "c-1")
    );
    assert!(date(&stored, "occurred_at") >= at);
    let e5 = legacy::stored(&db, "domain_events", "rust-e5").await;
    assert_legacy_reads("rust-e5", &e5, legacy::EVENT_READER);
    assert_eq!((int(&e5, "version"), int(&e5, "position")), (2, 5));
    assert_eq!(int(&legacy::stored(&db, "counters", "domain_events_position").await, "value"), 5, "legacy counter");
    for (id, fixture) in [uuid(80), uuid(81), uuid(82)].iter().zip(&documents) {
        assert_eq!(&legacy::stored(&db, "domain_events", id).await, fixture, "legacy events untouched");
    }
    let versions: Vec<i64> =
        store.read_stream("order-1", 0, None, Alone).await.unwrap().iter().map(|e| e.version).collect();
    assert_eq!(versions, [1, 2, 3]);
    assert_eq!(
        store.read_all(3, 10).await.unwrap().iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(),
        ["rust-e4", "rust-e5"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_position_a_legacy_append_took_without_inserting_is_stepped_over() {
    let db = support::database("legacy_events_gap").await;
    // Legacy `append_batch` took positions from the counter outside any transaction; its
    // insert of position 3 failed, and the counter stayed at 4. The event above the hole is a
    // minute old, longer ago than the grace period (10 s), so readers give the hole up at once.
    let at = ago(MINUTE);
    let documents = vec![
        legacy::domain_event(&uuid(85), "order-1", 1, 1, at),
        legacy::domain_event(&uuid(86), "order-1", 2, 2, at),
        legacy::domain_event(&uuid(87), "order-2", 1, 4, at),
    ];
    legacy::insert(&db, "domain_events", documents).await;
    legacy::insert(&db, "counters", vec![legacy::position_counter(4)]).await;
    let store = EventStore::new(&db);
    assert_eq!(store.latest_position().await.unwrap(), 4);
    let order_1 = Stream { aggregate_id: "order-1", aggregate_type: "Order" };
    let event = [NewEvent::new("rust-e", "OrderPaid", doc! {})];
    let appended = store.append(order_1, ExpectedVersion::Exact(2), &event, Alone).await.unwrap();
    assert_eq!(appended, [5], "after the counter, not after the last stored position");
    let positions = |events: Vec<cqrs_mongo_persistence::event_store::StoredEvent>| {
        events.iter().map(|e| e.position).collect::<Vec<_>>()
    };
    assert_eq!(positions(store.read_all(0, 10).await.unwrap()), [1, 2, 4, 5]);
    assert_eq!(positions(store.read_all(2, 1).await.unwrap()), [4], "the empty range of the gap is stepped over");
    assert_eq!(positions(store.read_by_types(&["OrderPlaced"], 0, 10).await.unwrap()), [1, 2, 4]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_aggregate_is_loaded_saved_and_still_guarded_by_its_version() {
    let db = support::database("legacy_aggregate").await;
    // `MongoRepository.add` of a new order: model_dump with `id` as `_id`, `version: 1`.
    legacy::insert(&db, "orders", vec![doc! { "_id": "o-legacy", "total": 250_i32, "version": 1_i32 }]).await;
    let orders = Repository::<support::order::Order>::new(&db);
    let id = "o-legacy".to_string();
    let mut order = orders.get(&id, Alone).await.unwrap().unwrap();
    assert_eq!((order.id.as_str(), order.total, order.version.get()), ("o-legacy", 250, 1));
    let stale = order.clone();
    order.total = 300;
    orders.save(&mut order, Alone).await.unwrap();
    assert_eq!(order.version.get(), 2);
    let stored = legacy::stored(&db, "orders", "o-legacy").await;
    assert_eq!((int(&stored, "total"), int(&stored, "version")), (300, 2));
    assert_eq!(stored.keys().collect::<Vec<_>>(), ["_id", "total", "version"], "no `id` besides `_id`");
    let err = orders.save(&mut stale.clone(), Alone).await.unwrap_err();
    assert!(matches!(err, Error::Concurrency { expected: 1, actual: Some(2), .. }), "{err:?}");

    // A legacy update: `{_id, version: 2}` → `$set` the model, `$inc version`.
    let update = doc! { "$set": { "total": 350_i32 }, "$inc": { "version": 1_i32 } };
    let orders_collection = db.database().collection::<Document>("orders");
    let legacy_update = orders_collection.update_one(doc! { "_id": "o-legacy", "version": 2 }, update).await.unwrap();
    assert_eq!(legacy_update.modified_count, 1, "the legacy writer matches the version written here");
    let reloaded = orders.get(&id, Alone).await.unwrap().unwrap();
    assert_eq!((reloaded.total, reloaded.version.get()), (350, 3));
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_snapshots_and_checkpoints_are_read_and_written_as_legacy_reads_them() {
    let db = support::database("legacy_snapshots_checkpoints").await;
    let (snapshot_at, data) = (ago(MINUTE), doc! { "total": 100_i32, "status": "placed" });
    let snapshot = legacy::snapshot("Order", "order-1", 1, data.clone(), snapshot_at);
    legacy::insert(&db, "snapshots", vec![snapshot]).await;
    let documents = vec![
        legacy::domain_event("ev-1", "order-1", 1, 1, snapshot_at),
        legacy::domain_event("ev-2", "order-1", 2, 2, snapshot_at),
    ];
    legacy::insert(&db, "domain_events", documents).await;
    let snapshots = SnapshotStore::new(&db);

    let latest = snapshots.latest("Order", "order-1", Alone).await.unwrap().unwrap();
    assert_eq!((latest.version, &latest.data, latest.created_at), (1, &data, snapshot_at));
    let (loaded, after) = EventStore::new(&db).load(&snapshots, "Order", "order-1", Alone).await.unwrap();
    assert_eq!(loaded.map(|s| s.version), Some(1));
    assert_eq!(after.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["ev-2"], "events after the snapshot");

    let newer = doc! { "total": 150_i32, "status": "paid" };
    assert!(snapshots.save("Order", "order-1", 2, newer.clone(), Alone).await.unwrap());
    assert!(!snapshots.save("Order", "order-1", 1, data.clone(), Alone).await.unwrap(), "older is refused");
    assert!(snapshots.save("Order", "order-9", 3, doc! { "total": 9 }, Alone).await.unwrap());
    for (key, version, data) in [("Order|order-1", 2, &newer), ("Order|order-9", 3, &doc! { "total": 9 })] {
        let stored = legacy::stored(&db, "snapshots", key).await;
        assert_legacy_reads(key, &stored, legacy::SNAPSHOT_READER);
        assert_eq!((int(&stored, "version"), stored.get_document("snapshot_data").unwrap()), (version, data));
        assert!(date(&stored, "created_at") > snapshot_at);
    }

    let checkpoint_at = ago(MINUTE);
    legacy::insert(&db, "projection_checkpoints", vec![legacy::checkpoint("order_summary", 42, checkpoint_at)]).await;
    let positions = PositionStore::new(&db);
    assert_eq!(positions.get("order_summary", Alone).await.unwrap(), 42);
    assert!(positions.save("order_summary", 43, Alone).await.unwrap());
    assert!(!positions.save("order_summary", 40, Alone).await.unwrap(), "never backwards");
    let stored = legacy::stored(&db, "projection_checkpoints", "order_summary").await;
    assert_legacy_reads("order_summary", &stored, legacy::CHECKPOINT_READER);
    assert_eq!(int(&stored, "position"), 43);
    assert!(date(&stored, "updated_at") > checkpoint_at);
    assert!(positions.save("new_projection", 7, Alone).await.unwrap());
    let created = legacy::stored(&db, "projection_checkpoints", "new_projection").await;
    assert_legacy_reads("new_projection", &created, legacy::CHECKPOINT_READER);
    assert_eq!(int(&created, "position"), 7);
    positions.reset("order_summary", Alone).await.unwrap();
    let reset = legacy::stored(&db, "projection_checkpoints", "order_summary").await;
    assert_legacy_reads("reset", &reset, legacy::CHECKPOINT_READER);
    assert_eq!(int(&reset, "position"), 0, "legacy get_position reads 0, not None");
}

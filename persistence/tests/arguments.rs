//! Arguments an operation cannot honour are refused with a typed error, never silently changed:
//! a zero batch, a page of no results, zero attempts. (Options a store cannot honour, like
//! selected fields in an aggregate search, are tested with their store.)

mod support;

use cqrs_mongo_persistence::runtime::RetryPolicy;
use std::time::Duration;

use bson::doc;
use cqrs_mongo_persistence::jobs::NewJob;
use cqrs_mongo_persistence::outbox::OutboxMessage;
use cqrs_mongo_persistence::store::PageRequest;
use cqrs_mongo_persistence::{
    Alone, Error, EventStore, JobQueue, Outbox, OutboxRelay, ProjectionRunner, SagaRepository,
};
use futures::StreamExt;
use support::runner::Counts;

fn invalid(result: Result<impl std::fmt::Debug, Error>, operation: &str, argument: &str) {
    match result {
        Err(Error::InvalidArgument { operation: op, argument: arg, message }) => {
            assert_eq!((op, arg), (operation, argument), "{message}");
            assert!(message.contains("at least 1"), "{message}");
        }
        other => panic!("expected InvalidArgument for {operation}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn zero_batches_pages_and_attempts_are_refused() {
    let db = support::database("arguments").await;
    let events = EventStore::new(&db);
    invalid(events.read_all(0, 0).await, "EventStore::read_all", "limit");
    invalid(events.read_by_types(&["Placed"], 0, -1).await, "EventStore::read_by_types", "limit");
    invalid(events.read_stream("s", 0, Some(0), Alone).await, "EventStore::read_stream", "limit");
    let first = Box::pin(events.read_all_stream(0, 0)).next().await.expect("the stream reports the error");
    invalid(first, "EventStore::read_all_stream", "page_size");

    let runner = ProjectionRunner::new(&db, &events, Counts::new("counts", "")).batch_size(0);
    invalid(runner.catch_up().await, "ProjectionRunner::batch_size", "events");

    let outbox = Outbox::new(&db);
    outbox.save(&[OutboxMessage::new("m1", "Placed", doc! {}, "c")], Alone).await.unwrap();
    invalid(
        OutboxRelay::new(&outbox, "r").batch_size(0).run_once(|_| async { Ok::<(), String>(()) }).await,
        "OutboxRelay::batch_size",
        "messages",
    );
    let zero_attempts = OutboxRelay::new(&outbox, "r")
        .on_failure(RetryPolicy::park_after(0))
        .run_once(|_| async { Ok::<(), String>(()) })
        .await;
    invalid(zero_attempts, "OutboxRelay::on_failure", "attempts");
    assert_eq!(outbox.stats().await.unwrap().get("pending"), Some(&1), "nothing was claimed");

    let jobs = JobQueue::new(&db);
    invalid(
        jobs.enqueue(NewJob::new("j0", "q", doc! {}).max_attempts(0), Alone).await,
        "JobQueue::enqueue",
        "max_attempts",
    );
    jobs.enqueue(NewJob::new("j1", "q", doc! {}), Alone).await.unwrap();
    let none = jobs.claim_batch("w", &["q"], Duration::from_secs(60), 0).await.unwrap();
    assert!(none.is_empty(), "a batch of at most 0 jobs claims none");
    assert_eq!(jobs.stats().await.unwrap().get("PENDING"), Some(&1));
    invalid(jobs.list("PENDING", PageRequest::first(0), Alone).await, "JobQueue::list", "page.limit");

    let sagas = SagaRepository::new(&db);
    invalid(sagas.suspended("Checkout", PageRequest::first(0), Alone).await, "SagaRepository", "page.limit");
}

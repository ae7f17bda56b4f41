//! Failures an item causes follow its loop's `RetryPolicy` under `run()`: a projection write the
//! server refuses, a subscription handler's permanent error, a message the publisher refuses,
//! a job whose handler fails. Each is retried, then parked while everything else goes on (the
//! checkpoint reaches the head, the other messages and jobs are done), or, with a stopping
//! policy, `run()` ends with `Error::Handler` naming the item.
//!
//! Verdicts count what the stores report; loops are bounded by `wait_until`'s deadline only.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bson::{Document, doc};
use cqrs_mongo_persistence::event_store::StoredEvent;
use cqrs_mongo_persistence::jobs::{ClaimedJob, NewJob};
use cqrs_mongo_persistence::outbox::{ClaimedMessage, OutboxMessage};
use cqrs_mongo_persistence::projections::{Projection, Write};
use cqrs_mongo_persistence::runtime::{Backoff, RetryPolicy};
use cqrs_mongo_persistence::store::PageRequest;
use cqrs_mongo_persistence::{
    Alone, DeadLetters, Error, JobQueue, JobWorker, Outbox, OutboxRelay, ProjectionRunner, Result, Subscription,
};
use support::runner::{append, wait_until};

fn quick(policy: RetryPolicy) -> RetryPolicy {
    policy.backoff(Backoff::new(Duration::from_millis(1), Duration::from_millis(5)))
}

/// Counts events per stream; for `bad_event` it asks for an update the server refuses (an
/// unknown update operator).
struct Refusing {
    name: String,
    bad_event: String,
}

impl Projection for Refusing {
    fn name(&self) -> &str {
        &self.name
    }
    fn collections(&self) -> Vec<String> {
        vec![format!("{}_streams", self.name)]
    }
    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>> {
        let update = if event.event_id == self.bad_event {
            doc! { "$sett": { "broken": true } }
        } else {
            doc! { "$inc": { "count": 1 } }
        };
        Ok(vec![Write::update(format!("{}_streams", self.name), event.aggregate_id.as_str(), update)])
    }
}

/// Runs `run` in a task of its own until the returned sender is used (or `run` ends).
fn spawn<F>(run: F) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Result<()>>)
where
    F: FnOnce(tokio::sync::oneshot::Receiver<()>) -> futures::future::BoxFuture<'static, Result<()>>,
{
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    (stop, tokio::spawn(run(stopped)))
}

async fn count_in(db: &cqrs_mongo_persistence::Connection, collection: &str, filter: Document) -> u64 {
    db.database().collection::<Document>(collection).count_documents(filter).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_projection_write_the_server_refuses_is_parked_after_its_attempts_and_the_run_goes_on() {
    let (db, events) = support::runner::setup("refused_write_parked").await;
    append(&events, "e", 3, 2).await; // positions 1..6: e-0-0 e-0-1 e-1-0 e-1-1 e-2-0 e-2-1
    let projection = Refusing { name: "refusing".into(), bad_event: "e-1-0".into() };
    let runner = Arc::new(
        ProjectionRunner::new(&db, &events, projection)
            .on_failure(quick(RetryPolicy::park_after(3)))
            .poll_interval(Duration::from_millis(20)),
    );
    let running = support::runner::spawn_run(&runner);
    wait_until(|| runner.stats().parked() == 1 && runner.stats().events() == 5).await;
    running.stop().await;
    assert_eq!(runner.position().await.unwrap(), 6, "the checkpoint reached the head");
    assert_eq!(runner.stats().retries(), 2, "three attempts: two retries, then parked");
    let letters = DeadLetters::new(&db).parked(Some("refusing"), PageRequest::first(10)).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!((letters[0].event_id.as_str(), letters[0].position, letters[0].attempts), ("e-1-0", 3, 3));
    assert!(letters[0].error.contains("refused"), "{}", letters[0].error);
    // Every other event applied once: s0 and s2 twice, s1 once (its first event was parked).
    let counts = support::runner::contents(&db, "refusing_streams").await;
    let counts: Vec<(String, i32)> = counts.into_iter().map(|(id, d)| (id, d.get_i32("count").unwrap())).collect();
    assert_eq!(counts, [("\"s0\"".into(), 2), ("\"s1\"".into(), 1), ("\"s2\"".into(), 2)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_projection_write_the_server_refuses_ends_the_run_under_a_stopping_policy() {
    let (db, events) = support::runner::setup("refused_write_stops").await;
    append(&events, "e", 3, 2).await;
    let projection = Refusing { name: "stopping".into(), bad_event: "e-1-0".into() };
    let runner = ProjectionRunner::new(&db, &events, projection)
        .on_failure(quick(RetryPolicy::stop_after(2)))
        .poll_interval(Duration::from_millis(20));
    let ended = runner.run(std::future::pending()).await;
    match &ended {
        Err(Error::Handler { consumer, item, source }) => {
            assert_eq!((consumer.as_str(), item.as_str()), ("stopping", "e-1-0"));
            let refused = source.downcast_ref::<Error>().expect("the store's error is the source");
            assert!(refused.is_refused() && !refused.is_unavailable(), "{refused:?}");
        }
        other => panic!("the run must end with the refused write: {other:?}"),
    }
    assert_eq!(runner.position().await.unwrap(), 2, "stopped before the event");
    assert_eq!(runner.stats().retries(), 1);
    assert_eq!(DeadLetters::new(&db).count_parked("stopping").await.unwrap(), 0);
}

/// A subscription handler that fails for good on one event.
fn failing_on(
    bad: &'static str,
    delivered: Arc<AtomicU64>,
) -> impl Fn(StoredEvent) -> futures::future::Ready<std::result::Result<(), String>> + Send + Sync {
    move |event: StoredEvent| {
        if event.event_id == bad {
            return futures::future::ready(Err(format!("{} cannot be handled", event.event_id)));
        }
        delivered.fetch_add(1, Ordering::SeqCst);
        futures::future::ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_handler_failing_for_good_parks_the_event_or_stops_the_run() {
    let (db, events) = support::runner::setup("subscription_permanent").await;
    append(&events, "e", 3, 2).await;
    let delivered = Arc::new(AtomicU64::new(0));
    let handler = failing_on("e-2-0", delivered.clone());
    let parking = Arc::new(
        Subscription::new(&db, &events, "mails")
            .on_failure(quick(RetryPolicy::park_after(3)))
            .poll_interval(Duration::from_millis(20)),
    );
    let (stop, task) = {
        let parking = parking.clone();
        spawn(move |stopped| {
            Box::pin(async move {
                parking
                    .run(&handler, async {
                        let _ = stopped.await;
                    })
                    .await
            })
        })
    };
    wait_until(|| parking.stats().parked() == 1 && delivered.load(Ordering::SeqCst) == 5).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(parking.position().await.unwrap(), 6);
    let letter = DeadLetters::new(&db).get("mails", "e-2-0").await.unwrap().unwrap();
    assert_eq!((letter.attempts, letter.error.as_str()), (3, "e-2-0 cannot be handled"));

    let stopping = Subscription::new(&db, &events, "mails-strict").on_failure(quick(RetryPolicy::stop_after(2)));
    let ended = stopping.run(&failing_on("e-2-0", Arc::default()), std::future::pending()).await;
    assert!(matches!(&ended, Err(Error::Handler { item, .. }) if item == "e-2-0"), "{ended:?}");
    assert_eq!(stopping.position().await.unwrap(), 4, "stopped before the event");
}

/// Publishes everything but `bad`, which it refuses for good.
struct Refuser {
    bad: &'static str,
    published: AtomicU64,
}

impl cqrs_mongo_persistence::outbox::Publisher for Refuser {
    type Error = String;
    async fn publish(&self, message: &ClaimedMessage) -> std::result::Result<(), String> {
        if message.message_id == self.bad {
            return Err(format!("the broker refuses {}", message.message_id));
        }
        self.published.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_the_publisher_refuses_is_parked_as_dead_while_the_others_publish() {
    let db = support::database("relay_refused").await;
    let outbox = Outbox::new(&db);
    let messages: Vec<OutboxMessage> =
        (0..6).map(|i| OutboxMessage::new(format!("m{i}"), "Placed", doc! { "i": i }, "c")).collect();
    outbox.save(&messages, Alone).await.unwrap();
    let relay = Arc::new(
        OutboxRelay::new(&outbox, "refusing-relay")
            .on_failure(quick(RetryPolicy::park_after(3)))
            .poll_interval(Duration::from_millis(20)),
    );
    let publisher = Arc::new(Refuser { bad: "m3", published: AtomicU64::new(0) });
    let (stop, task) = {
        let (relay, publisher) = (relay.clone(), publisher.clone());
        spawn(move |stopped| {
            Box::pin(async move {
                relay
                    .run(publisher.as_ref(), async {
                        let _ = stopped.await;
                    })
                    .await
            })
        })
    };
    wait_until(|| relay.stats().dead() == 1 && relay.stats().published() == 5).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(publisher.published.load(Ordering::SeqCst), 5);
    assert_eq!(relay.stats().retried(), 2, "three attempts of m3");
    let dead =
        db.database().collection::<Document>("outbox_messages").find_one(doc! { "_id": "m3" }).await.unwrap().unwrap();
    assert_eq!((dead.get_str("status").unwrap(), dead.get_i64("retry_count").unwrap()), ("failed", 3));
    assert_eq!(dead.get_str("error").unwrap(), "the broker refuses m3");
    assert_eq!(count_in(&db, "outbox_messages", doc! { "status": "published" }).await, 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_refused_on_its_last_attempt_ends_the_relay_under_a_stopping_policy() {
    let db = support::database("relay_refused_stops").await;
    let outbox = Outbox::new(&db);
    outbox.save(&[OutboxMessage::new("only", "Placed", doc! {}, "c")], Alone).await.unwrap();
    let relay = OutboxRelay::new(&outbox, "strict-relay")
        .on_failure(quick(RetryPolicy::stop_after(2)))
        .poll_interval(Duration::from_millis(20));
    let publisher = Refuser { bad: "only", published: AtomicU64::new(0) };
    let ended = relay.run(&publisher, std::future::pending()).await;
    assert!(
        matches!(&ended, Err(Error::Handler { consumer, item, .. }) if consumer == "strict-relay" && item == "only"),
        "{ended:?}"
    );
    let kept = db
        .database()
        .collection::<Document>("outbox_messages")
        .find_one(doc! { "_id": "only" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!((kept.get_str("status").unwrap(), kept.get_i64("retry_count").unwrap()), ("pending", 2), "not parked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_whose_handler_fails_for_good_is_parked_while_the_others_complete_or_stops_the_worker() {
    let db = support::database("worker_permanent").await;
    let queue = JobQueue::new(&db).on_failure(quick(RetryPolicy::park_after(2)));
    for i in 0..5 {
        queue.enqueue(NewJob::new(format!("j{i}"), "mail", doc! {}), Alone).await.unwrap();
    }
    let handler = |job: ClaimedJob| async move {
        if job.id == "j2" { Err(format!("{} cannot be sent", job.id)) } else { Ok(()) }
    };
    let worker = Arc::new(JobWorker::new(&queue, "w").handle("mail", handler).poll_interval(Duration::from_millis(20)));
    let (stop, task) = {
        let worker = worker.clone();
        spawn(move |stopped| {
            Box::pin(async move {
                worker
                    .run(async {
                        let _ = stopped.await;
                    })
                    .await
            })
        })
    };
    wait_until(|| worker.stats().parked() == 1 && worker.stats().completed() == 4).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.get("COMPLETED"), stats.get("FAILED")), (Some(&4), Some(&1)));
    assert_eq!(worker.stats().retried(), 1, "two attempts of j2");

    let strict = JobQueue::new(&db).on_failure(quick(RetryPolicy::stop_after(1)));
    strict.enqueue(NewJob::new("j9", "mail", doc! {}), Alone).await.unwrap();
    let handler = |job: ClaimedJob| async move { Err::<(), String>(format!("{} cannot be sent", job.id)) };
    let ended = JobWorker::new(&strict, "strict").handle("mail", handler).run(std::future::pending()).await;
    assert!(matches!(&ended, Err(Error::Handler { item, .. }) if item == "j9"), "{ended:?}");
    let job =
        db.database().collection::<Document>("background_jobs").find_one(doc! { "_id": "j9" }).await.unwrap().unwrap();
    assert_eq!((job.get_str("status").unwrap(), job.get_i32("retry_count").unwrap()), ("PENDING", 1), "not parked");
}

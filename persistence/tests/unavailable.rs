//! What the server answers, classified once: each class of error as the driver reports it (fail
//! points injecting the server's codes, labels and closed connections), the predicates on it;
//! every loop backing off while the deployment is unreachable, counting nothing against any
//! item, and resuming; and the transaction loop's backoff under contention.
//!
//! The server holds one `failCommand` at a time, so the tests here take turns (`TURN`); each
//! aims its fail point at its own client (app name), so the other tests' clients are unaffected.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bson::{Document, doc};
use cqrs_mongo_persistence::event_store::StoredEvent;
use cqrs_mongo_persistence::jobs::{ClaimedJob, NewJob};
use cqrs_mongo_persistence::outbox::{ClaimedMessage, OutboxMessage};
use cqrs_mongo_persistence::runtime::Backoff;
use cqrs_mongo_persistence::store::{PageRequest, PoolOptions};
use cqrs_mongo_persistence::testing::fail_command;
use cqrs_mongo_persistence::{
    Alone, Connection, DeadLetters, Error, JobQueue, JobWorker, Outbox, OutboxRelay, ProjectionRunner, Subscription,
};
use futures::FutureExt;
use support::runner::{Counts, append, wait_until};

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What reading one document answers while `find` fails as `data` says (always, so that the
/// driver's own retry of a retryable read fails too).
async fn find_fails_with(db: &Connection, data: Document) -> Error {
    let _armed = fail_command(db, &["find"], "alwaysOn", data).await;
    let found = db.database().collection::<Document>("things").find_one(doc! {}).await;
    Error::from(found.expect_err("the fail point fails the find"))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_class_of_server_answer_is_classified_by_code_label_and_connection() {
    let _turn = TURN.lock().await;
    let db = support::database("classified").await;
    for (code, name) in [(91, "ShutdownInProgress"), (189, "PrimarySteppedDown"), (262, "ExceededTimeLimit")] {
        let err = find_fails_with(&db, doc! { "errorCode": code }).await;
        assert!(matches!(err, Error::Unavailable(_)), "{name}: {err:?}");
        assert!(err.is_unavailable() && !err.is_refused() && !err.is_conflict(), "{name}");
    }
    let refused = find_fails_with(&db, doc! { "errorCode": 2 }).await; // BadValue
    assert!(matches!(refused, Error::Refused(_)) && refused.is_refused() && !refused.is_unavailable(), "{refused:?}");
    let too_slow = find_fails_with(&db, doc! { "errorCode": 50 }).await; // MaxTimeMSExpired
    assert!(too_slow.is_refused() && !too_slow.is_unavailable(), "{too_slow:?}");
    let labelled = find_fails_with(&db, doc! { "errorCode": 8, "errorLabels": ["RetryableWriteError"] }).await;
    assert!(labelled.is_unavailable(), "a retry label: {labelled:?}");
    let closed = find_fails_with(&db, doc! { "closeConnection": true }).await;
    assert!(matches!(closed, Error::Unavailable(_)), "a dropped connection: {closed:?}");
    assert!(std::error::Error::source(&closed).is_some(), "the driver's error is kept as the source");

    // Inside a transaction: a lost write race, and a transaction the server dropped.
    let conflict = {
        let _armed = fail_command(&db, &["update"], doc! { "times": 1 }, doc! { "errorCode": 112 }).await;
        let uow = db.begin().await.unwrap();
        let things = db.database().collection::<Document>("things");
        let update = things.update_one(doc! { "_id": 1 }, doc! { "$set": { "x": 1 } }).upsert(true);
        let err = Error::from(update.session(uow.session().await.get().unwrap()).await.unwrap_err());
        drop(uow);
        err
    };
    assert!(matches!(conflict, Error::WriteConflict(_)), "{conflict:?}");
    assert!(conflict.is_conflict() && conflict.is_transient() && !conflict.is_unavailable(), "{conflict:?}");
    let dropped = find_fails_with(&db, doc! { "errorCode": 251, "errorLabels": ["TransientTransactionError"] }).await;
    assert!(dropped.is_transient() && dropped.is_unavailable(), "{dropped:?}");

    // A unique index of the application's.
    let things = db.database().collection::<Document>("things");
    things.insert_one(doc! { "_id": "k" }).await.unwrap();
    let duplicate = Error::from(things.insert_one(doc! { "_id": "k" }).await.unwrap_err());
    assert!(matches!(duplicate, Error::DuplicateKey(_)) && duplicate.is_conflict(), "{duplicate:?}");

    // On this side: the driver refuses the URI before any server answers.
    let client = Connection::connect("mongodb://127.0.0.1:1/?connectTimeoutMS=soon", "x", PoolOptions::default()).await;
    let client = client.expect_err("an option that is not a number is refused");
    assert!(matches!(client, Error::Client(_)) && !client.is_unavailable() && !client.is_refused(), "{client:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_deployment_makes_every_loop_back_off_park_nothing_and_resume() {
    let _turn = TURN.lock().await;
    let (db, events) = support::runner::setup("unreachable").await;
    db.ensure_indexes(&Outbox::indexes()).await.unwrap();
    db.ensure_indexes(&JobQueue::indexes()).await.unwrap();
    append(&events, "e", 3, 2).await;
    let outbox = Outbox::new(&db);
    let messages: Vec<OutboxMessage> =
        (0..4).map(|i| OutboxMessage::new(format!("m{i}"), "Placed", doc! {}, "c")).collect();
    outbox.save(&messages, Alone).await.unwrap();
    let queue = JobQueue::new(&db);
    for i in 0..4 {
        queue.enqueue(NewJob::new(format!("j{i}"), "mail", doc! {}), Alone).await.unwrap();
    }

    // Every data command of this client drops its connection, from before the loops start.
    let commands = ["find", "aggregate", "insert", "update", "findAndModify", "getMore", "delete"];
    let armed = fail_command(&db, &commands, "alwaysOn", doc! { "closeConnection": true }).await;
    let quick = Backoff::new(Duration::from_millis(10), Duration::from_millis(50));
    let runner = Arc::new(
        ProjectionRunner::new(&db, &events, Counts::new("counts", "down_"))
            .on_unavailable(quick)
            .poll_interval(Duration::from_millis(20)),
    );
    let subscription = Arc::new(
        Subscription::new(&db, &events, "down-mails").on_unavailable(quick).poll_interval(Duration::from_millis(20)),
    );
    let relay = Arc::new(
        OutboxRelay::new(&outbox, "down-relay").on_unavailable(quick).poll_interval(Duration::from_millis(20)),
    );
    let delivered = Arc::new(AtomicU64::new(0));
    let published = Arc::new(AtomicU64::new(0));
    let worker = Arc::new(
        JobWorker::new(&queue, "down-worker")
            .handle("mail", |_job: ClaimedJob| async { Ok::<(), String>(()) })
            .on_unavailable(quick)
            .poll_interval(Duration::from_millis(20)),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let tasks = vec![
        {
            let (runner, until) = (runner.clone(), until_stopped.clone());
            tokio::spawn(async move { runner.run(until()).await })
        },
        {
            let (subscription, delivered, until) = (subscription.clone(), delivered.clone(), until_stopped.clone());
            tokio::spawn(async move {
                let handler = move |_event: StoredEvent| {
                    delivered.fetch_add(1, Ordering::SeqCst);
                    async { Ok::<(), String>(()) }
                };
                subscription.run(&handler, until()).await
            })
        },
        {
            let (relay, published, until) = (relay.clone(), published.clone(), until_stopped.clone());
            tokio::spawn(async move {
                let publisher = Counting(published);
                relay.run(&publisher, until()).await
            })
        },
        {
            let (worker, until) = (worker.clone(), until_stopped.clone());
            tokio::spawn(async move { worker.run(until()).await })
        },
    ];
    // Each loop backs off, again and again, while the deployment is away.
    wait_until(|| {
        runner.stats().follow().backoffs() >= 3
            && subscription.stats().follow().backoffs() >= 3
            && relay.stats().backoffs() >= 3
            && worker.stats().backoffs() >= 3
    })
    .await;
    assert_eq!(runner.stats().events(), 0, "nothing applied while it is away");
    armed.disarm().await;

    // Back: everything is done, nothing counted against any item, nothing parked.
    wait_until(|| {
        runner.stats().events() == 6
            && delivered.load(Ordering::SeqCst) >= 6
            && published.load(Ordering::SeqCst) >= 4
            && worker.stats().completed() == 4
    })
    .await;
    stop.send(true).unwrap();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!((runner.stats().retries(), runner.stats().parked()), (0, 0));
    assert_eq!(subscription.stats().parked(), 0);
    assert!(DeadLetters::new(&db).parked(None, PageRequest::first(10)).await.unwrap().is_empty());
    let outbox_messages = db.database().collection::<Document>("outbox_messages");
    let counted = outbox_messages.count_documents(doc! { "retry_count": { "$gt": 0 } }).await.unwrap();
    assert_eq!((relay.stats().retried(), counted), (0, 0), "no attempt counted");
    let jobs = db.database().collection::<Document>("background_jobs");
    assert_eq!(jobs.count_documents(doc! { "retry_count": { "$gt": 0 } }).await.unwrap(), 0);
    assert_eq!(runner.position().await.unwrap(), 6);
}

/// A publisher counting what it publishes.
struct Counting(Arc<AtomicU64>);

impl cqrs_mongo_persistence::outbox::Publisher for Counting {
    type Error = String;
    async fn publish(&self, _message: &ClaimedMessage) -> Result<(), String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Sixteen units of work incrementing one document, each holding its write for a moment:
/// every unit commits once; the attempts it took (its callback's calls) are returned.
async fn contended(db: &Connection, field: &str) -> u64 {
    let attempts = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (db, attempts, field) = (db.clone(), attempts.clone(), field.to_owned());
            tokio::spawn(async move {
                let counter = db.database().collection::<Document>("counter");
                db.transaction_with((counter, attempts, field), |uow, (counter, attempts, field)| {
                    async move {
                        attempts.fetch_add(1, Ordering::SeqCst);
                        {
                            let mut session = uow.session().await;
                            let update =
                                counter.update_one(doc! { "_id": "c" }, doc! { "$inc": { field.as_str(): 1 } });
                            update.session(session.get().unwrap()).await?;
                        }
                        // The write is held while the unit does more: concurrent units conflict.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok::<_, cqrs_mongo_persistence::Error>(())
                    }
                    .boxed()
                })
                .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    attempts.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread")]
async fn contended_units_of_work_all_commit_and_backing_off_takes_fewer_attempts_than_retrying_at_once() {
    let _turn = TURN.lock().await;
    let db = support::database("contended").await;
    db.database().collection::<Document>("counter").insert_one(doc! { "_id": "c" }).await.unwrap();
    let with_backoff = contended(&db, "backoff").await;
    let at_once = contended(&db.clone().transaction_backoff(Backoff::none()), "at_once").await;
    let counter = db.database().collection::<Document>("counter").find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(
        (counter.get_i32("backoff").unwrap(), counter.get_i32("at_once").unwrap()),
        (16, 16),
        "each committed once"
    );
    println!("16 contended units: {with_backoff} attempts with backoff, {at_once} retrying at once");
    assert!(with_backoff >= 16 && at_once >= 16);
    assert!(with_backoff < at_once, "backoff {with_backoff} attempts vs at once {at_once}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_unit_that_keeps_conflicting_gives_up_at_its_deadline_with_a_retryable_error() {
    let _turn = TURN.lock().await;
    let db = support::database("deadline").await.transaction_deadline(Duration::from_millis(200));
    let _armed = fail_command(&db, &["insert"], "alwaysOn", doc! { "errorCode": 112 }).await;
    let calls = AtomicU64::new(0);
    let outcome: cqrs_mongo_persistence::Result<()> = db
        .transaction(async |uow| {
            calls.fetch_add(1, Ordering::SeqCst);
            let things = db.database().collection::<Document>("things");
            things.insert_one(doc! { "x": 1 }).session(uow.session().await.get().unwrap()).await?;
            Ok(())
        })
        .await;
    match outcome {
        Err(Error::TransactionTimedOut { attempts, source, .. }) => {
            assert_eq!(u64::from(attempts), calls.load(Ordering::SeqCst));
            assert!(attempts >= 1);
            assert!(matches!(*source, Error::WriteConflict(_)), "{source:?}");
        }
        other => panic!("{other:?}"),
    }
    let timed_out = Error::TransactionTimedOut {
        operation: "x",
        attempts: 1,
        elapsed: Duration::ZERO,
        source: Box::new(Error::BackgroundTaskStopped { task: "t" }),
    };
    assert!(timed_out.is_unavailable() && !timed_out.is_transient());
}

//! The four loops spawned through their `spawn()`: `stop` ends a runner after the batch in hand
//! and hands its lease over, `abort` kills it holding the lease, dropping the handle stops it,
//! awaiting the handle gives the error a loop ends with on its own; a subscription, a relay and
//! a worker run and stop through the same handle. Verdicts count what the loops and the
//! database report, never how long something took.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use bson::doc;
use cqrs_mongo_persistence::event_store::StoredEvent;
use cqrs_mongo_persistence::jobs::{ClaimedJob, NewJob};
use cqrs_mongo_persistence::outbox::{ClaimedMessage, OutboxMessage, Publisher};
use cqrs_mongo_persistence::projections::{Projection, Write};
use cqrs_mongo_persistence::{
    Alone, Connection, Error, EventStore, JobQueue, JobWorker, Outbox, OutboxRelay, ProjectionRunner, Result,
    Subscription,
};
use support::runner::{Counts, append, setup, wait_until};

/// [`Counts`] that stops in `project` at the event of position `at` (once) until released.
struct Gated {
    counts: Counts,
    at: i64,
    reached: Mutex<mpsc::Sender<()>>,
    release: Mutex<mpsc::Receiver<()>>,
    passed: AtomicBool,
}

/// The gate's other side: learn that the runner is in `project` at the gated event, let it go.
struct Gate {
    reached: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
}

fn gated(name: &str, prefix: &str, at: i64) -> (Gated, Gate) {
    let (reached_tx, reached) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let projection = Gated {
        counts: Counts::new(name, prefix),
        at,
        reached: Mutex::new(reached_tx),
        release: Mutex::new(release_rx),
        passed: AtomicBool::new(false),
    };
    (projection, Gate { reached, release })
}

impl Projection for Gated {
    fn name(&self) -> &str {
        self.counts.name()
    }

    fn collections(&self) -> Vec<String> {
        self.counts.collections()
    }

    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>> {
        if event.position == self.at && !self.passed.swap(true, Ordering::SeqCst) {
            self.reached.lock().unwrap().send(()).unwrap();
            self.release.lock().unwrap().recv().unwrap();
        }
        self.counts.project(event)
    }
}

impl Gate {
    async fn wait_reached(&self) {
        wait_until(|| self.reached.try_recv().is_ok()).await;
    }
}

fn runner<P: Projection>(db: &Connection, events: &EventStore, projection: P, replica: &str) -> ProjectionRunner<P> {
    ProjectionRunner::new(db, events, projection)
        .batch_size(5)
        .poll_interval(Duration::from_millis(20))
        .lease_period(Duration::from_secs(30))
        .replica_name(replica)
}

// The gated projection blocks a worker thread: more than one is needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stop_ends_a_runner_after_the_batch_in_hand_and_a_stand_by_takes_over_at_once() {
    let (db, events) = setup("spawned_stop").await;
    append(&events, "a", 4, 5).await; // positions 1..=20, batches of 5
    let (projection, gate) = gated("spawned", "sp_", 6);
    let probe = runner(&db, &events, Counts::new("spawned", "sp_"), "probe");
    let a = runner(&db, &events, projection, "a").spawn();

    // In the second batch, asked to stop, then let go: that batch commits, no later one.
    gate.wait_reached().await;
    assert!(!a.is_finished());
    let stopped = a.stop();
    gate.release.send(()).unwrap();
    stopped.await.unwrap();
    assert_eq!(probe.position().await.unwrap(), 10, "the batch in hand committed, the next did not start");
    assert_eq!(probe.leader().await.unwrap().leader, None, "the lease is released");

    // A 30 s lease: only the release lets a stand-by lead before the test times out.
    let b = runner(&db, &events, Counts::new("spawned", "sp_"), "b").spawn();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while b.position().await.unwrap() < 20 {
        assert!(std::time::Instant::now() < deadline, "b did not take over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!((b.stats().events(), b.stats().follow().leaderships()), (10, 1));
    assert_eq!(b.leader().await.unwrap().leader.as_deref(), Some("b"));
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn abort_kills_a_runner_holding_its_lease_and_a_dropped_handle_stops_it_cleanly() {
    let (db, events) = setup("spawned_abort").await;
    append(&events, "a", 2, 5).await;
    let probe = runner(&db, &events, Counts::new("aborted", "ab_"), "probe");

    let mut a = runner(&db, &events, Counts::new("aborted", "ab_"), "a").spawn();
    wait_until(|| a.stats().events() == 10).await;
    a.abort();
    match (&mut a).await {
        Err(Error::BackgroundTaskStopped { task }) => assert_eq!(task, "projection runner"),
        other => panic!("an aborted loop ends stopped: {other:?}"),
    }
    assert!(a.is_finished());
    assert_eq!(a.stats().events(), 10, "its stats outlive it");
    assert!((&mut a).await.is_ok(), "the outcome is given once");
    assert_eq!(probe.leader().await.unwrap().leader.as_deref(), Some("a"), "killed: nothing released");
    drop(a);

    // Another projection's runner, its handle dropped once it leads: it stops and releases its
    // lease in the background.
    let dropped_probe = runner(&db, &events, Counts::new("dropped", "dr_"), "probe");
    let b = runner(&db, &events, Counts::new("dropped", "dr_"), "b").spawn();
    wait_until(|| b.stats().follow().leaderships() == 1).await;
    drop(b);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while dropped_probe.leader().await.unwrap().leader.is_some() {
        assert!(std::time::Instant::now() < deadline, "the dropped runner did not release its lease");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn awaiting_the_handle_gives_the_error_a_loop_ends_with_on_its_own() {
    let (db, events) = setup("spawned_error").await;
    let refused = runner(&db, &events, Counts::new("refused", "re_"), "a").batch_size(0).spawn();
    match refused.await {
        Err(Error::InvalidArgument { operation, .. }) => assert_eq!(operation, "ProjectionRunner::batch_size"),
        other => panic!("a batch size of 0 ends the run: {other:?}"),
    }
    let idle = JobWorker::new(&JobQueue::new(&db), "idle").spawn();
    match idle.stop().await {
        Err(Error::InvalidArgument { argument, .. }) => assert_eq!(argument, "handlers"),
        other => panic!("a worker without handlers ends at once: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_a_relay_and_a_worker_run_and_stop_through_their_handles() {
    let (db, events) = setup("spawned_loops").await;
    let outbox = Outbox::new(&db);
    let queue = JobQueue::new(&db);
    db.ensure_indexes_of(&[&outbox, &queue]).await.unwrap();

    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = {
        let seen = seen.clone();
        move |event: StoredEvent| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(event.position);
                Ok::<(), std::convert::Infallible>(())
            }
        }
    };
    let subscription = Subscription::new(&db, &events, "spawned-mail").poll_interval(Duration::from_millis(20));
    let subscription = subscription.spawn(handler);
    let publisher = Arc::new(Published::default());
    let relay = OutboxRelay::new(&outbox, "spawned-relay").poll_interval(Duration::from_millis(20));
    let relay = relay.spawn(publisher.clone());
    let done = Arc::new(Mutex::new(Vec::new()));
    let worker = {
        let done = done.clone();
        JobWorker::new(&queue, "spawned-worker").poll_interval(Duration::from_millis(20)).handle(
            "mail",
            move |job: ClaimedJob| {
                let done = done.clone();
                async move {
                    done.lock().unwrap().push(job.id);
                    Ok::<(), std::convert::Infallible>(())
                }
            },
        )
    };
    let worker = worker.spawn();

    append(&events, "s", 3, 2).await;
    for i in 0..4 {
        let message = OutboxMessage::new(format!("m{i}"), "OrderPlaced", doc! { "i": i }, "corr");
        outbox.save(&[message], Alone).await.unwrap();
        queue.enqueue(NewJob::new(format!("j{i}"), "mail", doc! {}), Alone).await.unwrap();
    }
    wait_until(|| {
        subscription.stats().delivered() == 6 && relay.stats().published() == 4 && worker.stats().completed() == 4
    })
    .await;
    assert_eq!(subscription.stats().follow().leaderships(), 1);
    let (subscribed, published, worked) = tokio::join!(subscription.stop(), relay.stop(), worker.stop());
    subscribed.unwrap();
    published.unwrap();
    worked.unwrap();
    let checkpoint = Subscription::new(&db, &events, "spawned-mail").position().await.unwrap();
    assert_eq!(checkpoint, 6, "the batch in hand is checkpointed before the stop");
    assert_eq!(*seen.lock().unwrap(), (1..=6).collect::<Vec<i64>>());
    assert_eq!(publisher.0.lock().unwrap().len(), 4);
    assert_eq!(done.lock().unwrap().len(), 4);
    assert_eq!(outbox.stats().await.unwrap().get("published"), Some(&4));
    assert_eq!(queue.stats().await.unwrap().get("COMPLETED"), Some(&4));
}

/// Records what it publishes.
#[derive(Default)]
struct Published(Mutex<Vec<String>>);

impl Publisher for Published {
    type Error = std::convert::Infallible;

    async fn publish(&self, message: &ClaimedMessage) -> std::result::Result<(), Self::Error> {
        self.0.lock().unwrap().push(message.message_id.clone());
        Ok(())
    }
}

//! Replicas of one projection runner: exactly one leads (a lease on the checkpoint, fenced by
//! its token), the others stand by and take over when the leader dies or hands over; events a
//! projection keeps failing on are parked and can be retried or skipped.
//!
//! Every wait is bounded in time and count, and no verdict depends on how fast the server
//! answers: take-over is observed through the runners' own counters and the checkpoint.

mod support;

use cqrs_mongo_persistence::runtime::Backoff;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bson::doc;
use cqrs_mongo_persistence::dead_letters::DeadLetterStatus;
use cqrs_mongo_persistence::event_store::StoredEvent;
use cqrs_mongo_persistence::projections::{Projection, Write};
use cqrs_mongo_persistence::runtime::RetryPolicy;
use cqrs_mongo_persistence::store::PageRequest;
use cqrs_mongo_persistence::{DeadLetters, Error, ProjectionRunner, Result};
use support::runner::{Counts, append, contents, expected_streams, setup, spawn_run, wait_until};

fn replica(
    db: &cqrs_mongo_persistence::Connection,
    events: &cqrs_mongo_persistence::EventStore,
    name: &str,
    lease: Duration,
) -> Arc<ProjectionRunner<Counts>> {
    Arc::new(
        ProjectionRunner::new(db, events, Counts::new("counts", "ha_"))
            .batch_size(20)
            .poll_interval(Duration::from_millis(50))
            .lease_period(lease)
            .replica_name(name),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn one_replica_leads_and_a_standby_takes_over_when_the_leader_task_dies() {
    let (db, events) = setup("ha_takeover").await;
    append(&events, "a", 10, 10).await;
    let (a, b) =
        (replica(&db, &events, "a", Duration::from_secs(5)), replica(&db, &events, "b", Duration::from_secs(5)));
    let a_task = {
        let a = a.clone();
        tokio::spawn(async move { a.run(std::future::pending()).await })
    };
    wait_until(|| a.stats().follow().leaderships() == 1 && a.stats().events() == 100).await;
    let b_running = spawn_run(&b);
    wait_until(|| b.stats().follow().standby_waits() >= 3).await;
    assert_eq!(b.stats().events(), 0, "a stand-by applies nothing");
    assert_eq!(a.leader().await.unwrap().leader.as_deref(), Some("a"));

    // More events, and the leader dies somewhere in the middle of applying them.
    append(&events, "b", 10, 20).await;
    wait_until(|| a.stats().batches() >= 6).await;
    a_task.abort();
    assert!(a_task.await.unwrap_err().is_cancelled());

    wait_until(|| b.stats().follow().leaderships() == 1).await;
    let head = events.latest_position().await.unwrap();
    assert_eq!(head, 300);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while b.position().await.unwrap() < head {
        assert!(std::time::Instant::now() < deadline, "the new leader did not catch up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b_running.stop().await;
    let leader = a.leader().await.unwrap();
    assert_eq!(leader.leader, None, "b released the lease when it stopped");
    assert_eq!(leader.token, 2, "two leaderships, two tokens");
    // Never applied twice: the two runners' committed events add up to at most every event
    // (the aborted leader may have committed a batch it did not live to count).
    let applied = a.stats().events() + b.stats().events();
    assert!(applied <= 300 && b.stats().events() > 0, "a {} + b {}", a.stats().events(), b.stats().events());
    assert_eq!(contents(&db, "ha_streams").await, expected_streams(&events, 10).await, "equals a fresh rebuild");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_shutdown_hands_over_at_once_and_every_event_is_applied_exactly_once() {
    let (db, events) = setup("ha_handover").await;
    append(&events, "a", 5, 10).await;
    // A lease of 10 minutes: a take-over before it ends can only be a hand-over.
    let lease = Duration::from_secs(600);
    let (a, b) = (replica(&db, &events, "a", lease), replica(&db, &events, "b", lease));
    let a_running = spawn_run(&a);
    wait_until(|| a.stats().events() == 50).await;
    let b_running = spawn_run(&b);
    wait_until(|| b.stats().follow().standby_waits() >= 2).await;
    a_running.stop().await;
    wait_until(|| b.stats().follow().leaderships() == 1).await;
    append(&events, "b", 5, 10).await;
    wait_until(|| b.stats().events() == 50).await;
    b_running.stop().await;
    assert_eq!(a.stats().events() + b.stats().events(), 100, "each event applied exactly once");
    assert_eq!(contents(&db, "ha_streams").await, expected_streams(&events, 5).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_whose_lease_was_taken_over_commits_nothing_more() {
    let (db, events) = setup("ha_fenced").await;
    append(&events, "a", 4, 5).await;
    let a = replica(&db, &events, "a", Duration::from_secs(600));
    let a_running = spawn_run(&a);
    wait_until(|| a.stats().events() == 20).await;
    // Another replica took the lease (as after this one was paused past its lease) and has
    // committed a batch with its token.
    let leases = db.database().collection::<bson::Document>("leases");
    let far = bson::DateTime::from_millis(bson::DateTime::now().timestamp_millis() + 3_600_000);
    let update = doc! { "$set": { "leader": "intruder", "lease_until": far }, "$inc": { "lease_token": 1_i64 } };
    assert_eq!(leases.update_one(doc! { "_id": "counts" }, update).await.unwrap().modified_count, 1);
    let checkpoints = db.database().collection::<bson::Document>("projection_checkpoints");
    let newer = doc! { "$set": { "lease_token": 2_i64 } };
    assert_eq!(checkpoints.update_one(doc! { "_id": "counts" }, newer).await.unwrap().modified_count, 1);
    append(&events, "b", 4, 5).await;
    wait_until(|| a.stats().follow().leases_lost() == 1).await;
    assert_eq!(a.position().await.unwrap(), 20, "the fenced checkpoint did not move");
    assert_eq!(a.stats().events(), 20);
    let standing_by = a.stats().follow().standby_waits();
    wait_until(|| a.stats().follow().standby_waits() >= standing_by + 2).await;
    assert_eq!(a.position().await.unwrap(), 20, "it stands by");
    a_running.stop().await;
    assert_eq!(a.leader().await.unwrap().leader.as_deref(), Some("intruder"), "a lost lease is not released");
}

/// Counts, failing on events whose id ends in `-poison` while `broken` is set.
struct Fragile {
    inner: Counts,
    broken: Arc<AtomicBool>,
}

impl Projection for Fragile {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn collections(&self) -> Vec<String> {
        self.inner.collections()
    }
    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>> {
        if event.event_id.ends_with("-poison") && self.broken.load(Ordering::SeqCst) {
            return Err(Error::InvalidDocument {
                collection: "domain_events".into(),
                id: event.event_id.clone(),
                problem: "cannot map it".into(),
            });
        }
        self.inner.project(event)
    }
}

async fn append_one(events: &cqrs_mongo_persistence::EventStore, stream: &str, id: &str) {
    let event = cqrs_mongo_persistence::event_store::NewEvent::new(id, "Placed", doc! {});
    let stream = cqrs_mongo_persistence::event_store::Stream { aggregate_id: stream, aggregate_type: "Order" };
    events
        .append(
            stream,
            cqrs_mongo_persistence::event_store::ExpectedVersion::Any,
            &[event],
            cqrs_mongo_persistence::Alone,
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_event_is_parked_after_its_attempts_and_a_retry_after_the_fix_applies_it_once() {
    let (db, events) = setup("ha_poison").await;
    append(&events, "a", 3, 2).await;
    append_one(&events, "s0", "p0-poison").await; // s0's last event
    append_one(&events, "s1", "p1-poison").await;
    append_one(&events, "s1", "after-p1").await; // s1 moves on after its poison event
    let broken = Arc::new(AtomicBool::new(true));
    let projection = Fragile { inner: Counts::new("fragile", "poison_"), broken: broken.clone() };
    let policy = RetryPolicy::park_after(3).backoff(Backoff::new(Duration::from_millis(1), Duration::from_millis(5)));
    let runner = ProjectionRunner::new(&db, &events, projection).on_failure(policy);
    assert_eq!(runner.catch_up().await.unwrap(), 7, "every event but the two parked ones is applied");
    assert_eq!(runner.position().await.unwrap(), 9);
    assert_eq!((runner.stats().parked(), runner.stats().retries()), (2, 4), "two events, two retries each");

    let dead = DeadLetters::new(&db);
    let parked = dead.parked(Some("fragile"), PageRequest::first(10)).await.unwrap();
    let ids: Vec<(&str, i64, u32)> = parked.iter().map(|l| (l.event_id.as_str(), l.position, l.attempts)).collect();
    assert_eq!(ids, [("p0-poison", 7, 3), ("p1-poison", 8, 3)]);
    assert!(parked[0].error.contains("cannot map it"), "{}", parked[0].error);
    assert_eq!((parked[0].aggregate_id.as_str(), parked[0].event_type.as_str()), ("s0", "Placed"));
    let streams = db.database().collection::<bson::Document>("poison_streams");
    let count = async |id: &str| streams.find_one(doc! { "_id": id }).await.unwrap().unwrap().get_i32("count").unwrap();
    assert_eq!((count("s0").await, count("s1").await), (2, 3), "the poison events were not applied");

    // Still broken: a retry fails, counts an attempt, and the letter stays parked.
    assert!(matches!(runner.retry_parked("p0-poison").await, Err(Error::InvalidDocument { .. })));
    assert_eq!(dead.get("fragile", "p0-poison").await.unwrap().unwrap().attempts, 4);
    broken.store(false, Ordering::SeqCst);
    assert!(runner.retry_parked("p0-poison").await.unwrap());
    assert!(runner.retry_parked("p1-poison").await.unwrap());
    assert!(!runner.retry_parked("p1-poison").await.unwrap(), "only parked events are retried");
    assert_eq!(count("s0").await, 3, "applied once, as if it had never failed");
    assert_eq!(count("s1").await, 3, "s1's document already holds a later event: the _version guard keeps it");
    let letter = dead.get("fragile", "p0-poison").await.unwrap().unwrap();
    assert_eq!((letter.status, letter.attempts), (DeadLetterStatus::Retried, 5));
    assert!(dead.parked(Some("fragile"), PageRequest::first(10)).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopping_policy_ends_the_run_before_the_event_and_skipping_lets_it_go_on() {
    let (db, events) = setup("ha_stop").await;
    append(&events, "a", 2, 2).await;
    append_one(&events, "s0", "x-poison").await;
    append(&events, "b", 2, 1).await;
    let broken = Arc::new(AtomicBool::new(true));
    let projection = Fragile { inner: Counts::new("stopper", "stop_"), broken };
    let policy = RetryPolicy::stop_after(2).backoff(Backoff::new(Duration::from_millis(1), Duration::from_millis(1)));
    let runner = ProjectionRunner::new(&db, &events, projection).batch_size(1).on_failure(policy);
    let stopped = runner.run(std::future::pending()).await;
    assert!(matches!(&stopped, Err(Error::Handler { item, .. }) if item == "x-poison"), "the run ends: {stopped:?}");
    assert_eq!(runner.position().await.unwrap(), 4, "stopped before the poison event");
    assert_eq!(runner.stats().retries(), 1);
    assert_eq!(runner.leader().await.unwrap().leader, None, "the lease is released when the run ends");
    assert!(!runner.skip_parked("x-poison").await.unwrap(), "a stopping policy parks nothing");
    assert!(matches!(
        ProjectionRunner::new(&db, &events, Counts::new("zero", "zero_"))
            .on_failure(RetryPolicy::park_after(0))
            .catch_up()
            .await,
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(DeadLetters::new(&db).count_parked("stopper").await.unwrap(), 0);
}

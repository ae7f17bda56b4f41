//! Background job queue on the real test server.

mod support;

use cqrs_mongo_persistence::runtime::{Backoff, RetryPolicy};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::{DateTime, doc};
use cqrs_mongo_persistence::jobs::{Enqueued, Failed, NewJob};
use cqrs_mongo_persistence::store::PageRequest;
use cqrs_mongo_persistence::{Alone, Connection, Error, JobQueue};

async fn queue(test: &str) -> (Connection, JobQueue) {
    let db = support::database(test).await;
    db.ensure_indexes(&JobQueue::indexes()).await.unwrap();
    let jobs = JobQueue::new(&db).on_failure(
        RetryPolicy::park_after(3).backoff(Backoff::new(Duration::from_millis(1), Duration::from_millis(20))),
    );
    (db, jobs)
}

const LEASE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn claims_follow_priority_then_run_at_then_age_and_respect_queues() {
    let (_db, jobs) = queue("jobs_order").await;
    let past = DateTime::from_millis(DateTime::now().timestamp_millis() - 60_000);
    let later = DateTime::from_millis(DateTime::now().timestamp_millis() + 3_600_000);
    jobs.enqueue(NewJob::new("low-old", "mail", doc! {}), Alone).await.unwrap();
    jobs.enqueue(NewJob::new("low-early", "mail", doc! {}).run_at(past), Alone).await.unwrap();
    jobs.enqueue(NewJob::new("high", "mail", doc! {}).priority(5), Alone).await.unwrap();
    jobs.enqueue(NewJob::new("future", "mail", doc! {}).priority(9).run_at(later), Alone).await.unwrap();
    jobs.enqueue(NewJob::new("other-queue", "reports", doc! {}).priority(9), Alone).await.unwrap();
    let mut order = Vec::new();
    while let Some(job) = jobs.claim("w", &["mail"], LEASE).await.unwrap() {
        assert_eq!((job.attempt, job.max_attempts), (1, 3));
        order.push(job.id.clone());
        jobs.complete(&job).await.unwrap();
    }
    assert_eq!(order, ["high", "low-early", "low-old"], "the future job is not due, reports is another queue");
    let stats = jobs.stats().await.unwrap();
    assert_eq!((stats["COMPLETED"], stats["PENDING"]), (3, 2));
    let pending: Vec<String> = jobs
        .list("PENDING", PageRequest::first(10), Alone)
        .await
        .unwrap()
        .iter()
        .map(|j| j.get_str("_id").unwrap().to_owned())
        .collect();
    assert_eq!(pending, ["other-queue", "future"], "listing is sorted like claims (same priority: run-at first)");
}

#[tokio::test(flavor = "multi_thread")]
async fn dedup_keys_are_unique_among_live_jobs_only() {
    let (_db, jobs) = queue("jobs_dedup").await;
    assert_eq!(
        jobs.enqueue(NewJob::new("a", "q", doc! {}).dedup_key("report-7"), Alone).await.unwrap(),
        Enqueued::Created
    );
    assert_eq!(
        jobs.enqueue(NewJob::new("b", "q", doc! {}).dedup_key("report-7"), Alone).await.unwrap(),
        Enqueued::Duplicate { existing_id: "a".into() }
    );
    assert_eq!(
        jobs.enqueue(NewJob::new("c", "other", doc! {}).dedup_key("report-7"), Alone).await.unwrap(),
        Enqueued::Created,
        "keys are per queue"
    );
    let job = jobs.claim("w", &["q"], LEASE).await.unwrap().unwrap();
    assert!(matches!(
        jobs.enqueue(NewJob::new("d", "q", doc! {}).dedup_key("report-7"), Alone).await.unwrap(),
        Enqueued::Duplicate { .. }
    ));
    jobs.complete(&job).await.unwrap();
    assert_eq!(
        jobs.enqueue(NewJob::new("e", "q", doc! {}).dedup_key("report-7"), Alone).await.unwrap(),
        Enqueued::Created,
        "a finished job frees its key"
    );
    let err = jobs.enqueue(NewJob::new("e", "q", doc! {}), Alone).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "the same id twice: {err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_back_off_then_park_and_finished_jobs_are_never_reset() {
    let (_db, jobs) = queue("jobs_failures").await;
    jobs.enqueue(NewJob::new("j", "q", doc! {}).max_attempts(2), Alone).await.unwrap();
    let first = jobs.claim("w", &["q"], LEASE).await.unwrap().unwrap();
    let Failed::RetryAt(at) = jobs.fail(&first, "boom").await.unwrap() else { panic!("first failure retries") };
    assert!(at > DateTime::from_millis(DateTime::now().timestamp_millis() - 5_000));
    assert!(matches!(jobs.complete(&first).await, Err(Error::LeaseLost { .. })), "a failed attempt cannot complete");
    tokio::time::sleep(Duration::from_millis(30)).await;
    let second = jobs.claim("w", &["q"], LEASE).await.unwrap().unwrap();
    assert_eq!(second.attempt, 2);
    assert_eq!(jobs.fail(&second, "boom again").await.unwrap(), Failed::Parked);
    assert_eq!(jobs.stats().await.unwrap()["FAILED"], 1);
    let err = jobs.cancel("j", Alone).await.unwrap_err();
    assert!(matches!(err, Error::InvalidTransition { .. }), "{err:?}");
    assert!(!jobs.cancel("missing", Alone).await.unwrap());

    jobs.enqueue(NewJob::new("k", "q", doc! {}), Alone).await.unwrap();
    let held = jobs.claim("w", &["q"], LEASE).await.unwrap().unwrap();
    jobs.heartbeat(&held, LEASE).await.unwrap();
    assert!(jobs.cancel("k", Alone).await.unwrap(), "a running job can be cancelled");
    assert!(matches!(jobs.complete(&held).await, Err(Error::LeaseLost { .. })));
    assert!(matches!(jobs.heartbeat(&held, LEASE).await, Err(Error::LeaseLost { .. })));
    assert!(jobs.claim("w", &["q"], LEASE).await.unwrap().is_none(), "cancelled is never claimed again");
    assert_eq!(jobs.purge(Duration::ZERO, Alone).await.unwrap(), 1, "the cancelled job; failed jobs stay");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_lease_is_reclaimed_and_the_stale_holder_cannot_complete() {
    let (_db, jobs) = queue("jobs_lease").await;
    jobs.enqueue(NewJob::new("held", "q", doc! {}), Alone).await.unwrap();
    let holder = jobs.claim("w", &["q"], LEASE).await.unwrap().unwrap();
    assert!(jobs.claim("other", &["q"], LEASE).await.unwrap().is_none(), "a leased job is not handed out");
    jobs.complete(&holder).await.unwrap();

    // A lease of 200 ms, then at least 400 ms without a heartbeat: expired, whatever the speed.
    jobs.enqueue(NewJob::new("j", "q", doc! {}), Alone).await.unwrap();
    let stale = jobs.claim("slow", &["q"], Duration::from_millis(200)).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let fresh = jobs.claim("fast", &["q"], LEASE).await.unwrap().unwrap();
    assert_eq!(fresh.attempt, 2, "the lost attempt counts");
    assert!(fresh.fencing_token > stale.fencing_token);
    assert!(matches!(jobs.complete(&stale).await, Err(Error::LeaseLost { .. })));
    assert!(matches!(jobs.fail(&stale, "late").await, Err(Error::LeaseLost { .. })));
    jobs.complete(&fresh).await.unwrap();

    // Expired on its last attempt: parked as failed instead of being handed out again.
    jobs.enqueue(NewJob::new("once", "q", doc! {}).max_attempts(1), Alone).await.unwrap();
    let lost = jobs.claim("slow", &["q"], Duration::from_millis(200)).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(jobs.claim("fast", &["q"], LEASE).await.unwrap().is_none());
    assert_eq!(jobs.stats().await.unwrap()["FAILED"], 1);
    let parked = jobs.list("FAILED", PageRequest::first(1), Alone).await.unwrap();
    assert_eq!((parked[0].get_str("_id").unwrap(), parked[0].get_i32("retry_count").unwrap()), ("once", 1));
    assert!(matches!(jobs.complete(&lost).await, Err(Error::LeaseLost { .. })));
}

async fn enqueue_wave(jobs: &JobQueue, wave: usize, size: usize) {
    for i in wave * size..(wave + 1) * size {
        // Every tenth job has a single attempt, so failures park some of them.
        let attempts = if i % 10 == 0 { 1 } else { 6 };
        let job = NewJob::new(format!("j{i:04}"), "work", doc! { "i": i as i64 }).max_attempts(attempts);
        jobs.enqueue(job, Alone).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_workers_with_failures_and_a_dead_worker_finish_every_job_exactly_once() {
    // The workers' leases are long, but a busy machine may still let one expire: the verdict
    // counts what the queue reports (accepted completions, stored FAILED jobs), so a lost
    // lease changes the numbers, never the verdict.
    eight_workers("jobs_stress", 600, Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn leases_that_expire_all_the_time_still_finish_every_job_exactly_once() {
    // Leases far shorter than a claim-and-complete round trip: most outcomes are refused, the
    // sweep hands the jobs out again or parks them, and still no job is completed twice.
    eight_workers("jobs_stress_short_leases", 200, Duration::from_millis(20)).await;
}

/// Eight workers, a quarter of the attempts failing, every tenth job with one attempt only,
/// and a worker that died holding a job, over `total` jobs enqueued in waves.
async fn eight_workers(test: &str, total: usize, lease: Duration) {
    let (_db, jobs) = queue(test).await;
    let wave_size = 100.min(total);
    // The Python test server scans the whole collection for every claim, so jobs arrive in
    // waves and finished ones are purged, as a long-running queue would: the collection stays
    // small while all the jobs go through it.
    // A worker that dies holding a job: its short lease must expire and the job be retried.
    jobs.enqueue(NewJob::new("orphan", "work", doc! {}).priority(10), Alone).await.unwrap();
    let orphan = jobs.claim("dead", &["work"], Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(orphan.id, "orphan");
    enqueue_wave(&jobs, 0, wave_size).await;

    #[derive(Default)]
    struct Tally {
        /// Attempt numbers handed out, per job.
        attempts: HashMap<String, Vec<u32>>,
        /// Completions the queue accepted, per job.
        completions: HashMap<String, u32>,
        /// Outcomes refused because the lease had passed to another worker (a slow server).
        lost: u64,
    }
    let tally = Arc::new(Mutex::new(Tally::default()));
    tally.lock().unwrap().attempts.insert(orphan.id.clone(), vec![orphan.attempt]);
    let producing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let producer = {
        let (jobs, producing) = (jobs.clone(), producing.clone());
        tokio::spawn(async move {
            for wave in 1..total / wave_size {
                loop {
                    let stats = jobs.stats().await.unwrap();
                    if stats.get("PENDING").copied().unwrap_or(0) < 50 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                jobs.purge(Duration::ZERO, Alone).await.unwrap();
                enqueue_wave(&jobs, wave, wave_size).await;
            }
            producing.store(false, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let workers: Vec<_> = (0..8_u64)
        .map(|w| {
            let (jobs, tally, producing) = (jobs.clone(), tally.clone(), producing.clone());
            tokio::spawn(async move {
                let mut seed = 0x2545_F491_4F6C_DD1D ^ w;
                let mut idle_rounds = 0;
                loop {
                    let Some(job) = jobs.claim(&format!("w{w}"), &["work"], lease).await.unwrap() else {
                        let stats = jobs.stats().await.unwrap();
                        let live = stats.contains_key("PENDING") || stats.contains_key("RUNNING");
                        if !live && !producing.load(std::sync::atomic::Ordering::SeqCst) {
                            return;
                        }
                        idle_rounds += 1;
                        // A bound on the loop, not on speed: rounds without any job to claim.
                        assert!(idle_rounds < 20_000, "stuck: {stats:?}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    tally.lock().unwrap().attempts.entry(job.id.clone()).or_default().push(job.attempt);
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let outcome = if seed % 4 == 0 {
                        jobs.fail(&job, "random failure").await.map(|failed| failed == Failed::Parked)
                    } else {
                        jobs.complete(&job).await.map(|()| false)
                    };
                    let mut tally = tally.lock().unwrap();
                    match outcome {
                        Ok(_) if seed % 4 != 0 => *tally.completions.entry(job.id.clone()).or_default() += 1,
                        Ok(_) => {}
                        Err(Error::LeaseLost { .. }) => tally.lost += 1,
                        Err(other) => panic!("{other:?}"),
                    }
                }
            })
        })
        .collect();
    producer.await.unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    assert!(matches!(jobs.complete(&orphan).await, Err(Error::LeaseLost { .. })), "the dead worker is fenced off");

    let tally = std::mem::take(&mut *tally.lock().unwrap());
    assert!(tally.completions.values().all(|n| *n == 1), "one completion per job");
    // Parked jobs, whether a worker's last failure or the sweep of a lease that expired on the
    // last attempt parked them, are what the queue stores as FAILED (they are never purged).
    let parked: Vec<String> = jobs
        .list("FAILED", PageRequest::first(total as i64 + 1), Alone)
        .await
        .unwrap()
        .iter()
        .map(|j| j.get_str("_id").unwrap().to_owned())
        .collect();
    assert!(!parked.is_empty(), "single-attempt jobs that failed are parked");
    assert!(parked.iter().all(|id| !tally.completions.contains_key(id)), "a parked job was never completed");
    assert_eq!(tally.completions.len() + parked.len(), total + 1, "every job completed or parked, once");
    for (id, attempts) in &tally.attempts {
        let mut sorted = attempts.clone();
        sorted.sort();
        assert_eq!(sorted, (1..=attempts.len() as u32).collect::<Vec<_>>(), "each attempt of {id} handed out once");
    }
    assert!(tally.attempts[&orphan.id].len() >= 2, "the dead worker's job was reclaimed and its attempt counted");
    eprintln!("jobs stress: {} outcomes lost to expired leases", tally.lost);
    let stats = jobs.stats().await.unwrap();
    assert!(!stats.contains_key("PENDING") && !stats.contains_key("RUNNING"), "nothing stuck: {stats:?}");
    for parked in jobs.list("FAILED", PageRequest::first(total as i64 + 1), Alone).await.unwrap() {
        let id = parked.get_str("_id").unwrap();
        let attempts = tally.attempts[id].len() as i32;
        assert_eq!(parked.get_i32("retry_count").unwrap(), attempts, "stored retries of {id}: every attempt failed");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_claims_hand_each_job_to_one_worker_in_claim_order() {
    let (_db, jobs) = queue("jobs_batch").await;
    for i in 0..60 {
        jobs.enqueue(NewJob::new(format!("j{i:02}"), "q", doc! {}).priority(i % 3), Alone).await.unwrap();
    }
    let first = jobs.claim_batch("a", &["q"], LEASE, 5).await.unwrap();
    let priorities: Vec<&str> = first.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(priorities, ["j02", "j05", "j08", "j11", "j14"], "priority 2 first, oldest first");
    let racing: Vec<_> = ["b", "c", "d"]
        .into_iter()
        .map(|worker| {
            let jobs = jobs.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claimed = jobs.claim_batch(worker, &["q"], LEASE, 7).await.unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    for job in claimed {
                        assert_eq!(job.attempt, 1);
                        jobs.complete(&job).await.unwrap();
                        mine.push(job.id);
                    }
                }
            })
        })
        .collect();
    let mut all: Vec<String> = first.iter().map(|j| j.id.clone()).collect();
    for worker in racing {
        all.extend(worker.await.unwrap());
    }
    all.sort();
    let expected: Vec<String> = (0..60).map(|i| format!("j{i:02}")).collect();
    assert_eq!(all, expected, "every job claimed exactly once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_higher_priority_job_is_claimed_first_at_once_from_this_process_and_soon_from_another() {
    let (db, here) = queue("jobs_priority_freshness").await;
    // Another process: a queue of its own on the same collection.
    let elsewhere = JobQueue::new(&db);
    for i in 0..4 {
        elsewhere.enqueue(NewJob::new(format!("low-{i}"), "mail", doc! {}), Alone).await.unwrap();
    }
    let first = here.claim("w", &["mail"], LEASE).await.unwrap().unwrap();
    assert_eq!(first.id, "low-0");
    // Enqueued by this process: the next claim takes it at once.
    here.enqueue(NewJob::new("urgent-here", "mail", doc! {}).priority(5), Alone).await.unwrap();
    assert_eq!(here.claim("w", &["mail"], LEASE).await.unwrap().unwrap().id, "urgent-here");
    // Enqueued by the other process: taken once this process's candidates are no longer
    // fresh (a quarter of a second); until then it may take the next low one.
    elsewhere.enqueue(NewJob::new("urgent-there", "mail", doc! {}).priority(5), Alone).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(here.claim("w", &["mail"], LEASE).await.unwrap().unwrap().id, "urgent-there");
    // Each job is claimed once, whichever queue claims it.
    let mut rest = Vec::new();
    while let Some(job) = elsewhere.claim("x", &["mail"], LEASE).await.unwrap() {
        rest.push(job.id);
    }
    rest.sort();
    assert_eq!(rest, ["low-1", "low-2", "low-3"]);
    assert!(here.claim("w", &["mail"], LEASE).await.unwrap().is_none());
}

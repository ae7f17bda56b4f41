//! The job worker: handlers per queue, a concurrency limit, heartbeats while a handler runs,
//! retries and parking through the queue, graceful shutdown (finish, or release after the
//! grace period), and a worker killed mid-job whose job another worker completes once.
//!
//! Verdicts count what the queue and the workers report, never how long something took.

mod support;

use cqrs_mongo_persistence::runtime::{Backoff, RetryPolicy};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::{Document, doc};
use cqrs_mongo_persistence::jobs::{ClaimedJob, NewJob};
use cqrs_mongo_persistence::{Alone, Connection, JobQueue, JobWorker};
use support::runner::wait_until;

async fn job_document(db: &Connection, id: &str) -> Document {
    db.database().collection::<Document>("background_jobs").find_one(doc! { "_id": id }).await.unwrap().unwrap()
}

async fn enqueue(queue: &JobQueue, id: &str, kind: &str, attempts: u32) {
    queue.enqueue(NewJob::new(id, kind, doc! { "id": id }).max_attempts(attempts), Alone).await.unwrap();
}

type Spawned = (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<cqrs_mongo_persistence::Result<()>>);

fn spawn(worker: &Arc<JobWorker>) -> Spawned {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = worker.clone();
    let task = tokio::spawn(async move {
        worker
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    (stop, task)
}

async fn stop((stop, task): Spawned) {
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn handlers_run_per_queue_within_the_concurrency_limit_with_retries_and_parking() {
    let db = support::database("worker_basic").await;
    let queue = JobQueue::new(&db).on_failure(
        RetryPolicy::park_after(3).backoff(Backoff::new(Duration::from_millis(1), Duration::from_millis(5))),
    );
    for i in 0..12 {
        enqueue(&queue, &format!("mail-{i}"), "mail", 3).await;
    }
    enqueue(&queue, "flaky", "mail", 3).await;
    enqueue(&queue, "hopeless", "mail", 2).await;
    enqueue(&queue, "report-1", "reports", 1).await;
    enqueue(&queue, "other", "unhandled", 1).await;

    let (now, most) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let done: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
    let mail = {
        let (now, most, done) = (now.clone(), most.clone(), done.clone());
        move |job: ClaimedJob| {
            let (now, most, done) = (now.clone(), most.clone(), done.clone());
            async move {
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(running, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                if job.id == "hopeless" || (job.id == "flaky" && job.attempt == 1) {
                    return Err(format!("{} failed on attempt {}", job.id, job.attempt));
                }
                *done.lock().unwrap().entry(job.id).or_default() += 1;
                Ok(())
            }
        }
    };
    let reports = {
        let done = done.clone();
        move |job: ClaimedJob| {
            let done = done.clone();
            async move {
                *done.lock().unwrap().entry(job.id).or_default() += 1;
                Ok::<(), String>(())
            }
        }
    };
    let worker = Arc::new(
        JobWorker::new(&queue, "w1")
            .handle("mail", mail)
            .handle("reports", reports)
            .concurrency(3)
            .poll_interval(Duration::from_millis(20)),
    );
    let running = spawn(&worker);
    wait_until(|| worker.stats().completed() == 14 && worker.stats().parked() == 1).await;
    stop(running).await;

    assert!(most.load(Ordering::SeqCst) <= 3, "at most 3 at once: {}", most.load(Ordering::SeqCst));
    assert!(worker.stats().most_at_once() <= 3);
    let done = done.lock().unwrap().clone();
    assert_eq!(done.len(), 14, "12 mails, flaky and the report: {done:?}");
    assert!(done.values().all(|n| *n == 1), "each completed once");
    assert_eq!(worker.stats().retried(), 2, "flaky once, hopeless once");
    assert_eq!(job_document(&db, "hopeless").await.get_str("status").unwrap(), "FAILED");
    assert_eq!(job_document(&db, "flaky").await.get_str("status").unwrap(), "COMPLETED");
    assert_eq!(job_document(&db, "other").await.get_str("status").unwrap(), "PENDING", "no handler, never claimed");
}

#[tokio::test(flavor = "multi_thread")]
async fn heartbeats_keep_a_long_job_leased_and_shutdown_waits_for_it() {
    let db = support::database("worker_heartbeats").await;
    let queue = JobQueue::new(&db);
    enqueue(&queue, "long", "batch", 1).await;
    let release = Arc::new(AtomicBool::new(false));
    let handler = {
        let release = release.clone();
        move |_job: ClaimedJob| {
            let release = release.clone();
            async move {
                for _ in 0..12_000 {
                    if release.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err("never released".to_owned())
            }
        }
    };
    let worker = Arc::new(
        JobWorker::new(&queue, "w1")
            .handle("batch", handler)
            .lease_period(Duration::from_secs(3))
            .shutdown_grace(Duration::from_secs(120)),
    );
    let running = spawn(&worker);
    wait_until(|| worker.stats().claimed() == 1).await;
    let first = job_document(&db, "long").await;
    wait_until(|| worker.stats().heartbeats() >= 2).await;
    let later = job_document(&db, "long").await;
    assert_eq!(later.get_str("status").unwrap(), "RUNNING");
    assert_eq!(later.get_i64("fencing_token").unwrap(), first.get_i64("fencing_token").unwrap(), "never reclaimed");
    assert!(
        later.get_datetime("lease_until").unwrap() > first.get_datetime("lease_until").unwrap(),
        "the lease moved on"
    );

    // Shutdown waits for the running job (the grace period is long), which then completes.
    let (stop, task) = running;
    stop.send(()).unwrap();
    release.store(true, Ordering::SeqCst);
    task.await.unwrap().unwrap();
    assert_eq!(job_document(&db, "long").await.get_str("status").unwrap(), "COMPLETED");
    assert_eq!(worker.stats().released(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_outliving_the_grace_period_is_released_without_counting_the_attempt() {
    let db = support::database("worker_release").await;
    let queue = JobQueue::new(&db);
    enqueue(&queue, "stuck", "batch", 1).await;
    let stuck = |_job: ClaimedJob| async { std::future::pending::<Result<(), String>>().await };
    let worker = Arc::new(JobWorker::new(&queue, "w1").handle("batch", stuck).shutdown_grace(Duration::from_millis(1)));
    let running = spawn(&worker);
    wait_until(|| worker.stats().claimed() == 1).await;
    stop(running).await;
    assert_eq!(worker.stats().released(), 1);
    let job = job_document(&db, "stuck").await;
    assert_eq!((job.get_str("status").unwrap(), job.get_i32("retry_count").unwrap()), ("PENDING", 0));
    // Another worker picks it up at once, as its first attempt.
    let claimed = queue.claim("w2", &["batch"], Duration::from_secs(30)).await.unwrap().expect("claimable");
    assert_eq!(claimed.attempt, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_whose_worker_was_killed_is_retried_by_another_after_its_lease_and_completed_once() {
    let db = support::database("worker_killed").await;
    let queue = JobQueue::new(&db);
    enqueue(&queue, "victim", "batch", 3).await;
    let completions: Arc<Mutex<Vec<(String, u32)>>> = Arc::default();
    let started = Arc::new(AtomicU64::new(0));
    let handler = {
        let (completions, started) = (completions.clone(), started.clone());
        move |job: ClaimedJob| {
            let (completions, started) = (completions.clone(), started.clone());
            async move {
                // The first attempt hangs (its worker will be killed); later ones finish.
                if started.fetch_add(1, Ordering::SeqCst) == 0 {
                    std::future::pending::<()>().await;
                }
                completions.lock().unwrap().push((job.id, job.attempt));
                Ok::<(), String>(())
            }
        }
    };
    let worker = |name: &str| {
        Arc::new(
            JobWorker::new(&queue, name)
                .handle("batch", handler.clone())
                .lease_period(Duration::from_millis(900))
                .poll_interval(Duration::from_millis(20)),
        )
    };
    let (a, b) = (worker("a"), worker("b"));
    let (_a_stop, a_task) = spawn(&a);
    wait_until(|| started.load(Ordering::SeqCst) == 1).await;
    a_task.abort();
    assert!(a_task.await.unwrap_err().is_cancelled());
    let b_running = spawn(&b);
    wait_until(|| b.stats().completed() == 1).await;
    stop(b_running).await;
    assert_eq!(*completions.lock().unwrap(), [("victim".to_owned(), 2)], "completed once, on the second attempt");
    let job = job_document(&db, "victim").await;
    assert_eq!((job.get_str("status").unwrap(), job.get_str("worker_id").unwrap()), ("COMPLETED", "b"));
}

//! Job claim throughput, shared by the benches: jobs enqueued on a queue, then workers that
//! claim and complete them until none is left.

use std::time::{Duration, Instant};

use bson::doc;
use cqrs_mongo_persistence::jobs::NewJob;
use cqrs_mongo_persistence::{Alone, JobQueue};
use tokio::task::JoinHandle;

/// Enqueues `count` jobs on the queue `work`.
pub async fn enqueue(jobs: &JobQueue, count: usize) {
    for i in 0..count {
        jobs.enqueue(NewJob::new(format!("j{i}"), "work", doc! { "i": i as i64 }), Alone).await.unwrap();
    }
}

/// Jobs per second of `workers` workers claiming (one job a claim, or `batch` with
/// `claim_batch`) and completing the `count` jobs enqueued on `jobs`.
pub async fn claims_per_second(jobs: &JobQueue, count: usize, workers: usize, batch: usize) -> f64 {
    let start = Instant::now();
    let tasks = (0..workers)
        .map(|w| {
            let jobs = jobs.clone();
            tokio::spawn(async move {
                let (worker, mut done) = (format!("w{w}"), 0_usize);
                loop {
                    let claimed = if batch == 1 {
                        jobs.claim(&worker, &["work"], Duration::from_secs(60)).await.unwrap().into_iter().collect()
                    } else {
                        jobs.claim_batch(&worker, &["work"], Duration::from_secs(60), batch).await.unwrap()
                    };
                    if claimed.is_empty() {
                        return done;
                    }
                    for job in claimed {
                        jobs.complete(&job).await.unwrap();
                        done += 1;
                    }
                }
            })
        })
        .collect();
    per_second(tasks, count, start).await
}

/// Waits for the workers, checks that they handled `count` jobs between them, once each, and
/// returns jobs per second since `start`.
pub async fn per_second(tasks: Vec<JoinHandle<usize>>, count: usize, start: Instant) -> f64 {
    let mut done = 0;
    for task in tasks {
        done += task.await.unwrap();
    }
    assert_eq!(done, count, "every job claimed once");
    done as f64 / start.elapsed().as_secs_f64()
}

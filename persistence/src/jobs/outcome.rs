//! What the holder of a job reports: heartbeats, completion, failure (with backoff or
//! parking). Only the current holder (same fencing token, still running) can.

use std::time::Duration;

use bson::{Document, doc};

use super::{ClaimedJob, Failed, JOBS, JobQueue, after, stored_int};
use crate::error::{Error, Result};
use crate::runtime::retry::AfterRetries;
use crate::telemetry::spans::traced;

impl JobQueue {
    /// Extends the holder's lease to `lease` from now.
    pub async fn heartbeat(&self, job: &ClaimedJob, lease: Duration) -> Result<()> {
        let now = self.connection.server_time().await?;
        let update = doc! { "$set": { "lease_until": after(now, lease), "updated_at": now } };
        self.holder_update(job, update).await
    }

    /// Marks the job completed; only its current holder can.
    pub async fn complete(&self, job: &ClaimedJob) -> Result<()> {
        traced(JOBS, "complete", async {
            let now = self.connection.server_time().await?;
            let update = doc! {
                "$set": { "status": "COMPLETED", "finished_at": now, "completed_at": now, "updated_at": now },
                "$unset": { "lease_until": "", "live_dedup_key": "" },
                "$inc": { "version": 1_i64 },
            };
            self.holder_update(job, update).await
        })
        .await
    }

    /// Records a failed attempt (only its current holder can): pending again after the
    /// backoff of the queue's [`on_failure`](JobQueue::on_failure) policy, or, when it was the
    /// last attempt, parked as `FAILED` (or, under a stopping policy, pending again at once with
    /// [`Failed::Stopped`]).
    pub async fn fail(&self, job: &ClaimedJob, error: &str) -> Result<Failed> {
        traced(JOBS, "fail", async {
            let now = self.connection.server_time().await?;
            let failures = job.attempt;
            if failures >= job.max_attempts && self.failure.then() == AfterRetries::Stop {
                let update = doc! {
                    "$set": { "status": "PENDING", "retry_count": stored_int(failures), "error": error, "error_message": error, "scheduled_at": now, "updated_at": now },
                    "$unset": { "lease_until": "" },
                    "$inc": { "version": 1_i64 },
                };
                self.holder_update(job, update).await?;
                return Ok(Failed::Stopped);
            }
            let (update, outcome) = if failures >= job.max_attempts {
                let update = doc! {
                    "$set": { "status": "FAILED", "retry_count": stored_int(failures), "error": error, "error_message": error, "finished_at": now, "updated_at": now },
                    "$unset": { "lease_until": "", "live_dedup_key": "" },
                    "$inc": { "version": 1_i64 },
                };
                (update, Failed::Parked)
            } else {
                let at = after(now, self.failure.delay(failures));
                let update = doc! {
                    "$set": { "status": "PENDING", "retry_count": stored_int(failures), "error": error, "error_message": error, "scheduled_at": at, "updated_at": now },
                    "$unset": { "lease_until": "" },
                    "$inc": { "version": 1_i64 },
                };
                (update, Failed::RetryAt(at))
            };
            self.holder_update(job, update).await?;
            Ok(outcome)
        })
        .await
    }

    /// Hands a running job back untouched (a worker shutting down): pending again at once,
    /// this attempt not counted; only its current holder can.
    pub async fn release(&self, job: &ClaimedJob) -> Result<()> {
        self.release_after(job, Duration::ZERO).await
    }

    /// [`release`](Self::release), due again after `delay` (its handler's destination was
    /// unavailable: no attempt counted).
    pub(crate) async fn release_after(&self, job: &ClaimedJob, delay: Duration) -> Result<()> {
        let now = self.connection.server_time().await?;
        let update = doc! {
            "$set": { "status": "PENDING", "scheduled_at": after(now, delay), "updated_at": now },
            "$unset": { "lease_until": "" },
            "$inc": { "version": 1_i64 },
        };
        self.holder_update(job, update).await
    }

    async fn holder_update(&self, job: &ClaimedJob, update: Document) -> Result<()> {
        let holder =
            self.scoped(doc! { "_id": job.id.as_str(), "status": "RUNNING", "fencing_token": job.fencing_token });
        if self.collection.update_one(holder, update).await?.matched_count == 1 {
            Ok(())
        } else {
            Err(Error::LeaseLost { collection: JOBS.into(), id: job.id.clone(), fencing_token: job.fencing_token })
        }
    }
}

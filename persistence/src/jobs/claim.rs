//! Claims: the best eligible job in one atomic update (or a batch in one conditional
//! `update_many`), and the sweep that puts expired leases back to pending or parks them.

use std::time::Duration;

use bson::{Bson, DateTime, Document, doc};
use futures::TryStreamExt;
use mongodb::options::ReturnDocument;

use super::{ClaimedJob, JOBS, JobQueue, after, claim_order, dispenser};
use crate::error::Result;
use crate::store::fields::{int, take_document, take_optional_text, take_text};
use crate::telemetry::spans::traced;

impl JobQueue {
    /// Claims the best eligible (pending and due) job of `queues` for `worker`, leased for
    /// `lease`, with one atomic update. Jobs whose lease expired are first put back to pending
    /// (the lost attempt counts as a failure) or parked when that was their last attempt, by a
    /// sweep that runs at most once per sweep interval, and whenever nothing is eligible.
    pub async fn claim(&self, worker: &str, queues: &[&str], lease: Duration) -> Result<Option<ClaimedJob>> {
        traced(JOBS, "claim", async {
            let now = self.connection.server_time().await?;
            let swept = self.sweep_if_due(queues, now).await?;
            if let Some(job) = self.claim_pending(worker, queues, now, lease).await? {
                return Ok(Some(job));
            }
            if !swept && self.sweep(queues, now).await? > 0 {
                return self.claim_pending(worker, queues, now, lease).await;
            }
            Ok(None)
        })
        .await
    }

    /// Claims up to `max` eligible jobs at once, in claim order: the process's candidates (one
    /// query serves several batches) and one conditional `update_many` (each job still changes
    /// hands atomically, so concurrent workers never share a job). A batch may hold fewer than
    /// `max` jobs while more are due (candidates another process took first); it is empty
    /// only when none is due.
    pub async fn claim_batch(
        &self,
        worker: &str,
        queues: &[&str],
        lease: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedJob>> {
        traced(JOBS, "claim_batch", async {
            if max == 0 {
                return Ok(Vec::new());
            }
            let now = self.connection.server_time().await?;
            let swept = self.sweep_if_due(queues, now).await?;
            let claimed = self.claim_pending_batch(worker, queues, now, lease, max).await?;
            if claimed.is_empty() && !swept && self.sweep(queues, now).await? > 0 {
                return self.claim_pending_batch(worker, queues, now, lease, max).await;
            }
            Ok(claimed)
        })
        .await
    }

    async fn claim_pending_batch(
        &self,
        worker: &str,
        queues: &[&str],
        now: DateTime,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedJob>> {
        loop {
            let ids = self.next_candidates(queues, now, max).await?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let token = bson::oid::ObjectId::new();
            let mut mine = doc! { "_id": { "$in": ids.clone() } };
            mine.extend(self.due(queues, now));
            let mut update = claim_update(worker, now, lease);
            if let Ok(set) = update.get_document_mut("$set") {
                set.insert("claim_token", token);
            }
            if self.collection.update_many(mine, update).await?.modified_count == 0 {
                continue; // every candidate was taken by another process: the next ones
            }
            let claimed: Vec<Document> = self
                .collection
                .find(doc! { "_id": { "$in": ids }, "claim_token": token, "status": "RUNNING" })
                .sort(claim_order())
                .await?
                .try_collect()
                .await?;
            return Ok(claimed.into_iter().map(claimed_job).collect());
        }
    }

    /// Pending jobs of `queues` that are due at `now` (within the tenant scope).
    fn due(&self, queues: &[&str], now: DateTime) -> Document {
        self.scoped(doc! { "status": "PENDING", "queue": { "$in": queues }, "scheduled_at": { "$lte": now } })
    }

    /// The best eligible job, taken from the process's candidates (see `dispenser`): each
    /// candidate is claimed by id with the eligibility condition, so a job another worker took
    /// first is skipped; the candidates are looked up again when none is left.
    async fn claim_pending(
        &self,
        worker: &str,
        queues: &[&str],
        now: DateTime,
        lease: Duration,
    ) -> Result<Option<ClaimedJob>> {
        loop {
            let Some(id) = self.next_candidates(queues, now, 1).await?.pop() else {
                return Ok(None);
            };
            let mut this = doc! { "_id": id };
            this.extend(self.due(queues, now));
            let claimed = self
                .collection
                .find_one_and_update(this, claim_update(worker, now, lease))
                .return_document(ReturnDocument::After)
                .await?;
            if let Some(claimed) = claimed {
                return Ok(Some(claimed_job(claimed)));
            }
        }
    }

    /// Up to `max` candidates for this claim, from the process's candidates; when none is left,
    /// one worker at a time looks them up (a worker that waited takes what that lookup found).
    /// Empty when no job is due.
    async fn next_candidates(&self, queues: &[&str], now: DateTime, max: usize) -> Result<Vec<Bson>> {
        let ids = self.dispenser.take(queues, max);
        if !ids.is_empty() {
            return Ok(ids);
        }
        let _refilling = self.dispenser.refilling().await;
        let ids = self.dispenser.take(queues, max);
        if !ids.is_empty() {
            return Ok(ids);
        }
        let batch = dispenser::BATCH.max(i64::try_from(max).unwrap_or(i64::MAX));
        let mut candidates = self.candidates(queues, now, batch).await?;
        let ids = candidates.drain(..max.min(candidates.len())).collect();
        self.dispenser.fill(queues, candidates);
        Ok(ids)
    }

    /// The ids of up to `max` eligible jobs, in claim order.
    async fn candidates(&self, queues: &[&str], now: DateTime, max: i64) -> Result<Vec<Bson>> {
        let candidates: Vec<Document> = self
            .collection
            .find(self.due(queues, now))
            .sort(claim_order())
            .limit(max)
            .projection(doc! { "_id": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(candidates.into_iter().filter_map(|mut c| c.remove("_id")).collect())
    }

    async fn sweep_if_due(&self, queues: &[&str], now: DateTime) -> Result<bool> {
        let last = self.last_sweep.load(std::sync::atomic::Ordering::Relaxed);
        if now.timestamp_millis() - last < self.sweep_every.as_millis() as i64 {
            return Ok(false);
        }
        self.sweep(queues, now).await?;
        Ok(true)
    }

    /// Running jobs whose lease expired: pending again with the lost attempt counted, or
    /// parked as `FAILED` when it was their last. Also adopts pending jobs the legacy package
    /// enqueued (see [`JobQueue::adopt_legacy`]). Returns how many became claimable.
    async fn sweep(&self, queues: &[&str], now: DateTime) -> Result<u64> {
        self.last_sweep.store(now.timestamp_millis(), std::sync::atomic::Ordering::Relaxed);
        self.dispenser.clear();
        let adopted = self.adopt_legacy(now).await?;
        let expired =
            self.scoped(doc! { "status": "RUNNING", "lease_until": { "$lt": now }, "queue": { "$in": queues } });
        let last_attempt = doc! { "$gte": [ "$retry_count", { "$subtract": [ "$max_retries", 1 ] } ] };
        let mut exhausted = expired.clone();
        exhausted.insert("$expr", last_attempt.clone());
        let park = doc! {
            "$set": { "status": "FAILED", "error": "the lease expired on the last attempt", "error_message": "the lease expired on the last attempt", "finished_at": now, "updated_at": now },
            "$inc": { "retry_count": 1, "version": 1_i64 },
            "$unset": { "lease_until": "", "live_dedup_key": "" },
        };
        self.collection.update_many(exhausted, park).await?;
        let mut retry = expired;
        retry.insert("$expr", doc! { "$not": [ last_attempt ] });
        let back = doc! {
            "$set": { "status": "PENDING", "error": "the lease expired", "error_message": "the lease expired", "scheduled_at": now, "updated_at": now },
            "$inc": { "retry_count": 1, "version": 1_i64 },
            "$unset": { "lease_until": "" },
        };
        Ok(adopted + self.collection.update_many(retry, back).await?.modified_count)
    }

    /// Gives pending jobs the legacy package enqueued (they have a `job_type` but no `queue`,
    /// `scheduled_at` or `priority`) the fields claims use: the queue is the job type, the
    /// run-at time is the creation time (so they keep their place among jobs of the same
    /// age), the priority 0. Fields are only added, so the legacy package still reads the
    /// jobs. Runs with every sweep; returns how many jobs it adopted.
    async fn adopt_legacy(&self, now: DateTime) -> Result<u64> {
        let legacy = self.scoped(doc! { "status": "PENDING", "queue": null });
        let adopt = vec![doc! { "$set": {
            "queue": { "$ifNull": ["$job_type", ""] },
            "scheduled_at": { "$ifNull": ["$scheduled_at", { "$ifNull": ["$created_at", now] }] },
            "priority": { "$ifNull": ["$priority", 0] },
            "fencing_token": { "$ifNull": ["$fencing_token", 0_i64] },
        } }];
        Ok(self.collection.update_many(legacy, adopt).await?.modified_count)
    }
}

/// The update that hands a job to `worker`, leased until `now + lease`, with a new fencing
/// token.
fn claim_update(worker: &str, now: DateTime, lease: Duration) -> Document {
    doc! {
        "$set": { "status": "RUNNING", "worker_id": worker, "started_at": now, "updated_at": now, "lease_until": after(now, lease) },
        "$inc": { "fencing_token": 1_i64, "version": 1_i64 },
    }
}

fn claimed_job(document: Document) -> ClaimedJob {
    let mut fields = document.clone();
    ClaimedJob {
        id: take_text(&mut fields, "_id"),
        queue: take_text(&mut fields, "queue"),
        payload: take_document(&mut fields, "payload"),
        attempt: u32::try_from(int(fields.get("retry_count")).max(0)).unwrap_or(u32::MAX).saturating_add(1),
        max_attempts: u32::try_from(int(fields.get("max_retries")).max(1)).unwrap_or(u32::MAX),
        fencing_token: int(fields.get("fencing_token")),
        job_type: take_optional_text(&mut fields, "job_type"),
        metadata: take_document(&mut fields, "metadata"),
        correlation_id: take_optional_text(&mut fields, "correlation_id"),
        document,
    }
}

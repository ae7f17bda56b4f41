//! The job queue ([`JobQueue`]): enqueueing, claiming, completing, failing and listing jobs.

use std::collections::BTreeMap;
use std::time::Duration;

use bson::{DateTime, Document, doc};
use futures::TryStreamExt;
use mongodb::Collection;

use crate::error::{Error, Result, is_duplicate_key};
use crate::runtime::retry::{Backoff, RetryPolicy};
use crate::store::connection::Connection;
use crate::store::fields::int;
use crate::store::indexes::IndexSpec;
use crate::store::page::PageRequest;
use crate::store::tenancy::{self, TENANT_FIELD, Tenant};
use crate::store::uow::{On, collect_with_session, with_session};
use crate::telemetry::spans::traced;

/// The legacy collection.
pub const JOBS: &str = "background_jobs";

/// How many times `enqueue` inserts again when the live job holding its key finished meanwhile.
pub(super) const ENQUEUE_ROUNDS: usize = 8;

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewJob {
    /// Job id (`_id`).
    pub id: String,
    /// The queue it waits in.
    pub queue: String,
    /// What the worker needs.
    pub payload: Document,
    /// Higher runs first (default 0).
    pub priority: i32,
    /// Not before this time (default: now).
    pub run_at: Option<DateTime>,
    /// Attempts before the job is parked as failed (default: the queue's
    /// [`on_failure`](JobQueue::on_failure) policy's, 3 unless set).
    pub max_attempts: Option<u32>,
    /// At most one live (pending or running) job per queue has this key.
    pub dedup_key: Option<String>,
}

impl NewJob {
    /// A job with priority 0, due now, the queue's attempts, no de-duplication key.
    pub fn new(id: impl Into<String>, queue: impl Into<String>, payload: Document) -> Self {
        NewJob {
            id: id.into(),
            queue: queue.into(),
            payload,
            priority: 0,
            run_at: None,
            max_attempts: None,
            dedup_key: None,
        }
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the run-at time.
    pub fn run_at(mut self, at: DateTime) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Sets the number of attempts, at least 1 ([`JobQueue::enqueue`] refuses a smaller one
    /// with [`Error::InvalidArgument`]).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Sets the de-duplication key.
    pub fn dedup_key(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into());
        self
    }
}

/// What `enqueue` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored as a new job.
    Created,
    /// A live job with the same de-duplication key exists; nothing was stored.
    Duplicate {
        /// The live job's id.
        existing_id: String,
    },
}

/// A job held by a worker.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClaimedJob {
    /// Job id.
    pub id: String,
    /// Its queue.
    pub queue: String,
    /// Its payload.
    pub payload: Document,
    /// This attempt's number (1-based).
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The claim's fencing token: only its holder can finish the job.
    pub fencing_token: i64,
    /// The legacy job type (the same as the queue for jobs either stack enqueues).
    pub job_type: Option<String>,
    /// The legacy `metadata` (empty when missing).
    pub metadata: Document,
    /// The legacy `correlation_id`, if any.
    pub correlation_id: Option<String>,
    /// The whole document as claimed, for fields of legacy job subclasses.
    pub document: Document,
}

/// What `fail` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// Pending again, due at this time.
    RetryAt(DateTime),
    /// Out of attempts: parked as `FAILED`.
    Parked,
    /// Out of attempts under a stopping policy: pending again (this attempt counted), and the
    /// worker stops.
    Stopped,
}

/// The job queue.
#[derive(Debug, Clone)]
pub struct JobQueue {
    pub(super) connection: Connection,
    pub(super) collection: Collection<Document>,
    pub(super) failure: RetryPolicy,
    pub(super) sweep_every: Duration,
    pub(super) last_sweep: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// The candidates this process's claims take jobs from.
    pub(super) dispenser: std::sync::Arc<super::dispenser::Dispenser>,
    pub(super) tenant: Option<Tenant>,
}

impl JobQueue {
    /// The queue on the legacy collection; failed attempts are retried by its default
    /// [`on_failure`](Self::on_failure) policy (3 attempts, 1 s apart doubling up to 1 h, then
    /// parked as `FAILED`).
    pub fn new(connection: &Connection) -> Self {
        JobQueue {
            connection: connection.clone(),
            collection: connection.database().collection(JOBS),
            failure: RetryPolicy::park_after(3)
                .backoff(Backoff::new(Duration::from_secs(1), Duration::from_secs(3600))),
            sweep_every: Duration::from_secs(1),
            last_sweep: std::sync::Arc::default(),
            dispenser: std::sync::Arc::default(),
            tenant: None,
        }
    }

    /// This queue scoped to `tenant`: jobs it enqueues carry the tenant, claims (and the sweep
    /// of expired leases) take only the tenant's jobs, de-duplication keys are per tenant,
    /// statistics, listings and purges see only the tenant's jobs, and cancelling or enqueuing
    /// over another tenant's job id is [`Error::CrossTenant`].
    pub fn for_tenant(&self, tenant: &Tenant) -> Self {
        JobQueue {
            tenant: Some(tenant.clone()),
            last_sweep: std::sync::Arc::default(),
            dispenser: std::sync::Arc::default(),
            ..self.clone()
        }
    }

    pub(super) fn scoped(&self, filter: Document) -> Document {
        tenancy::scoped(self.tenant.as_ref(), filter)
    }

    /// The cross-tenant error when job `id` belongs to another tenant.
    pub(super) async fn foreign(&self, id: &str) -> Result<Option<Error>> {
        tenancy::foreign(self.tenant.as_ref(), &self.collection, &bson::Bson::String(id.into())).await
    }

    /// The unique key of a live job with de-duplication key `key` (per queue and tenant).
    pub(super) fn live_key(&self, queue: &str, key: &str) -> String {
        match &self.tenant {
            Some(tenant) => format!("{queue}\u{1f}{key}\u{1f}{}", tenant.id()),
            None => format!("{queue}\u{1f}{key}"),
        }
    }

    /// How often claims look for expired leases (default 1 s; always when nothing is pending).
    pub fn sweep_every(mut self, interval: Duration) -> Self {
        self.sweep_every = interval;
        self
    }

    /// What a failed attempt leads to: the attempts of a job enqueued without its own
    /// ([`NewJob::max_attempts`]), the backoff before the next attempt, and, after the last,
    /// parked as `FAILED` or (a stopping policy) pending again while the worker stops.
    pub fn on_failure(mut self, policy: RetryPolicy) -> Self {
        self.failure = policy;
        self
    }

    /// The policy failed attempts follow.
    pub(crate) fn failure_policy(&self) -> &RetryPolicy {
        &self.failure
    }

    /// The claim index and the unique key of live de-duplicated jobs.
    pub fn indexes() -> Vec<IndexSpec> {
        vec![
            IndexSpec::new(JOBS, doc! { "status": 1, "queue": 1, "priority": -1, "scheduled_at": 1, "created_at": 1 }),
            IndexSpec::new(JOBS, doc! { "live_dedup_key": 1 })
                .unique()
                .partial(doc! { "live_dedup_key": { "$exists": true } }),
            IndexSpec::new(JOBS, doc! { "status": 1, "finished_at": 1 }),
            IndexSpec::new(JOBS, doc! { "status": 1, "lease_until": 1 }),
            // Claims within a tenant scope.
            IndexSpec::new(
                JOBS,
                doc! { TENANT_FIELD: 1, "status": 1, "queue": 1, "priority": -1, "scheduled_at": 1, "created_at": 1 },
            )
            .partial(doc! { TENANT_FIELD: { "$exists": true } }),
        ]
    }

    /// Stores a pending job, or reports the live job that already has its de-duplication key.
    /// In a unit of work the job is stored with the rest of it (and claimable once it commits).
    pub async fn enqueue(&self, job: NewJob, on: impl Into<On<'_>>) -> Result<Enqueued> {
        let on = on.into();
        let max_attempts = job.max_attempts.unwrap_or(self.failure.attempts());
        Error::at_least_one("JobQueue::enqueue", "max_attempts", i64::from(max_attempts))?;
        traced(JOBS, "enqueue", async {
            // A live job holding the key may finish between our insert and our look-up, which
            // frees the key: insert again (a handful of times; each round needs that race anew).
            for _ in 0..ENQUEUE_ROUNDS {
                if let Some(outcome) = self.enqueue_once(&job, max_attempts, on).await? {
                    return Ok(outcome);
                }
            }
            Err(Error::AlreadyExists {
                collection: JOBS.into(),
                key: format!("live_dedup_key {}", job.dedup_key.as_deref().unwrap_or_default()),
                existing_id: String::new(),
            })
        })
        .await
    }

    /// One insert attempt: `None` when the key's holder finished in between (insert again).
    pub(super) async fn enqueue_once(&self, job: &NewJob, max_attempts: u32, on: On<'_>) -> Result<Option<Enqueued>> {
        let now = self.connection.server_time().await?;
        let mut metadata = Document::new();
        crate::telemetry::stamp(&mut metadata);
        let mut document = doc! {
            "_id": job.id.as_str(), "queue": job.queue.as_str(), "job_type": job.queue.as_str(), "payload": job.payload.clone(),
            "priority": job.priority, "status": "PENDING", "retry_count": 0, "max_retries": stored_int(max_attempts),
            "scheduled_at": job.run_at.unwrap_or(now), "created_at": now, "updated_at": now,
            "version": 1_i64, "fencing_token": 0_i64, "metadata": metadata,
        };
        if let Some(key) = &job.dedup_key {
            document.insert("dedup_key", key.as_str());
            document.insert("live_dedup_key", self.live_key(&job.queue, key));
        }
        if let Some(tenant) = &self.tenant {
            tenant.stamp(JOBS, &mut document)?;
        }
        // In a transaction a duplicate key would abort the whole unit of work: look first.
        if let (Some(key), Some(uow)) = (&job.dedup_key, on.unit_of_work().filter(|u| u.is_transactional())) {
            let find = self.collection.find_one(doc! { "live_dedup_key": self.live_key(&job.queue, key) });
            let found = match uow.session().await.get() {
                Some(session) => find.session(session).await?,
                None => find.await?,
            };
            if let Some(existing_id) = found.and_then(|d| d.get_str("_id").ok().map(str::to_owned)) {
                return Ok(Some(Enqueued::Duplicate { existing_id }));
            }
        }
        let insert = self.collection.insert_one(document);
        let inserted = match on.session().await.get() {
            Some(session) => insert.session(session).await,
            None => insert.await,
        };
        match inserted {
            Ok(_) => {
                // The new job may be the best one now: claims look their candidates up again
                // (once it is committed, for a job enqueued in a unit of work).
                match on.unit_of_work().filter(|uow| uow.is_transactional()) {
                    Some(uow) => {
                        let dispenser = self.dispenser.clone();
                        uow.after_commit(move || dispenser.clear());
                    }
                    None => self.dispenser.clear(),
                }
                Ok(Some(Enqueued::Created))
            }
            Err(err) if is_duplicate_key(&err) => {
                if let Some(cross) = self.foreign(&job.id).await? {
                    return Err(cross);
                }
                match &job.dedup_key {
                    Some(key) => {
                        let live = doc! { "live_dedup_key": self.live_key(&job.queue, key) };
                        let find = self.collection.find_one(live);
                        let found = match on.session().await.get() {
                            Some(session) => find.session(session).await?,
                            None => find.await?,
                        };
                        // None: finished in between, the key is free again.
                        Ok(found
                            .and_then(|d| d.get_str("_id").ok().map(str::to_owned))
                            .map(|existing_id| Enqueued::Duplicate { existing_id }))
                    }
                    None => Err(Error::AlreadyExists {
                        collection: JOBS.into(),
                        key: format!("job {}", job.id),
                        existing_id: job.id.clone(),
                    }),
                }
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Cancels a pending or running job (a running job's holder then cannot complete it).
    /// `false` when there is no such job; a finished job is [`Error::InvalidTransition`].
    /// Runs in `on`.
    pub async fn cancel(&self, id: &str, on: impl Into<On<'_>>) -> Result<bool> {
        let on = on.into();
        let now = self.connection.server_time().await?;
        let update = doc! {
            "$set": { "status": "CANCELLED", "finished_at": now, "updated_at": now },
            "$unset": { "lease_until": "", "live_dedup_key": "" },
            "$inc": { "version": 1_i64 },
        };
        let live = self.scoped(doc! { "_id": id, "status": { "$in": ["PENDING", "RUNNING"] } });
        if with_session!(self.collection.update_one(live, update), on)?.matched_count == 1 {
            return Ok(true);
        }
        if let Some(cross) = self.foreign(id).await? {
            return Err(cross);
        }
        match with_session!(self.collection.find_one(doc! { "_id": id }), on)? {
            None => Ok(false),
            Some(job) => Err(Error::InvalidTransition {
                collection: JOBS.into(),
                id: id.into(),
                from: job.get_str("status").unwrap_or("?").into(),
                to: "CANCELLED".into(),
            }),
        }
    }

    /// Job counts by status.
    pub async fn stats(&self) -> Result<BTreeMap<String, u64>> {
        let pipeline =
            [doc! { "$match": self.scoped(doc! {}) }, doc! { "$group": { "_id": "$status", "n": { "$sum": 1 } } }];
        let groups: Vec<Document> = self.collection.aggregate(pipeline).await?.try_collect().await?;
        Ok(groups.into_iter().map(|g| (g.get_str("_id").unwrap_or("?").to_owned(), int(g.get("n")) as u64)).collect())
    }

    /// Jobs with `status`, in claim order (priority, run-at time, age), read in `on`.
    pub async fn list(&self, status: &str, page: PageRequest, on: impl Into<On<'_>>) -> Result<Vec<Document>> {
        Error::at_least_one("JobQueue::list", "page.limit", page.limit)?;
        let sort = doc! { "priority": -1, "scheduled_at": 1, "created_at": 1, "_id": 1 };
        let on = on.into();
        let filter = self.scoped(doc! { "status": status });
        collect_with_session!(self.collection.find(filter).sort(sort).skip(page.skip).limit(page.limit), on)
    }

    /// Deletes completed and cancelled jobs that finished more than `older_than` ago; returns
    /// how many. Failed jobs stay for inspection. Jobs the legacy package finished have no
    /// `finished_at`: their last `updated_at` (which it sets when finishing) counts instead.
    /// Runs in `on`.
    pub async fn purge(&self, older_than: Duration, on: impl Into<On<'_>>) -> Result<u64> {
        let on = on.into();
        let now = self.connection.server_time().await?;
        let before = DateTime::from_millis(now.timestamp_millis() - older_than.as_millis() as i64);
        let filter = doc! {
            "status": { "$in": ["COMPLETED", "CANCELLED"] },
            "$or": [
                { "finished_at": { "$lte": before } },
                { "finished_at": null, "updated_at": { "$lte": before } },
            ],
        };
        Ok(with_session!(self.collection.delete_many(self.scoped(filter)), on)?.deleted_count)
    }
}

/// The order claims take jobs in: priority, then run-at time, then age.
pub(super) fn claim_order() -> Document {
    doc! { "priority": -1, "scheduled_at": 1, "created_at": 1, "_id": 1 }
}

pub(super) fn after(now: DateTime, delay: Duration) -> DateTime {
    DateTime::from_millis(now.timestamp_millis().saturating_add(delay.as_millis() as i64))
}

/// A count as the legacy package stores it (an Int32, as pymongo writes small ints).
pub(crate) fn stored_int(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

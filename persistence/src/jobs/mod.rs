//! The background job queue in the legacy `background_jobs` collection.
//!
//! A worker claims the best eligible job — highest `priority`, then earliest `scheduled_at`
//! (the run-at time), then oldest — with **one atomic update** that sets a lease on the
//! server's clock and bumps the job's fencing token. The best jobs are looked up once for many
//! claims of the process (a batch of candidates, handed to one worker each, see `dispenser`),
//! so workers do not all race for the one best job; a job enqueued elsewhere with a higher
//! priority is seen within a quarter of a second. Eligible means pending and due. A job
//! whose lease expired (its worker died) is put back to pending by a sweep that claims run
//! at most once per second and whenever nothing is eligible; the lost attempt counts as a
//! failure, and on the last attempt the job is parked instead. Heartbeats extend the lease. `complete` and `fail` succeed only for
//! the current holder (same fencing token, still running); anyone else gets
//! [`Error::LeaseLost`](crate::Error::LeaseLost). A failure is retried after an exponential backoff until the job's
//! `max_retries` attempts are used, then the job is parked as `FAILED`. Completed, failed and
//! cancelled jobs are never reset.
//!
//! Legacy statuses (`PENDING RUNNING COMPLETED FAILED CANCELLED`) and fields (`job_type`,
//! `retry_count`, `max_retries` — here the maximum number of attempts —, `scheduled_at`,
//! `created_at`, `updated_at`, `started_at`, `worker_id`, `error_message`, `completed_at`,
//! `metadata`, `correlation_id`, `version`) are kept; ours are `queue`, `payload`, `priority`,
//! `lease_until`, `fencing_token`, `finished_at`, `error`, `dedup_key` and `live_dedup_key`
//! (set only while the job is live, under a unique partial index).
//!
//! **Jobs the legacy package enqueued** have a `job_type` but no `queue`, `scheduled_at` or
//! `priority`. Every sweep (so within a sweep interval, and at once when nothing else is
//! eligible) adopts them: the queue becomes the job type, a missing run-at time the creation
//! time (due now, in age order), the priority 0. Fields are only added, so the legacy package
//! still reads them; jobs enqueued here also carry `job_type` (= the queue) for it.

mod claim;
mod dispenser;
mod outcome;
pub(crate) mod store;
pub(crate) mod worker;

pub use store::{ClaimedJob, Enqueued, Failed, NewJob};
pub use worker::{JobHandler, WorkerStats};

pub(crate) use store::JobQueue;
pub(crate) use worker::JobWorker;
// For the claim and outcome modules.
use store::{JOBS, after, claim_order, stored_int};

//! The job worker: handlers registered per queue (the legacy job type), up to a number of jobs
//! at once, heartbeats while a handler runs, and a graceful shutdown.
//!
//! A claimed job runs in a task of its own. While its handler runs, the worker renews the
//! lease every third of it; a heartbeat that finds the lease lost (the job was reclaimed after
//! a stall) cancels the handler, and its outcome is not recorded. A handler's `Ok` completes
//! the job, its `Err` is a failed attempt under the queue's [`RetryPolicy`](crate::runtime::RetryPolicy)
//! (retried after its backoff, parked as `FAILED` after the last attempt, or the worker stops
//! with [`Error::Handler`]). A handler error that says its destination is unavailable
//! ([`Unavailable`](crate::runtime::Unavailable)), like an unavailable database while claiming, is not
//! the job's fault: the job is handed back with no attempt counted, due after the worker's
//! backoff ([`on_unavailable`](JobWorker::on_unavailable)), and the worker claims nothing until
//! then. On shutdown the worker claims nothing more and waits up to its grace period for running
//! jobs; those still running then are cancelled and released (pending again, the attempt not
//! counted), so another worker picks them up at once.
//!
//! Delivery is at least once: a worker that dies mid-job leaves it to be retried by another
//! worker once its lease expires. Handlers should be idempotent per job id.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::task::JoinSet;

use super::{ClaimedJob, Failed, JobQueue};
use crate::error::{Error, Result};
use crate::runtime::retry::{
    AfterRetries, Backoff, BoxError, Streak, chain, is_unavailable, log_stop, unavailable_backoff,
};
use crate::runtime::spawn::Running;

/// What a worker runs for the jobs of one queue. Closures `Fn(ClaimedJob) -> impl
/// Future<Output = Result<(), E>>` are handlers.
pub trait JobHandler: Send + Sync + 'static {
    /// The handler's error (stored on the job as its failure text). Wrap it in
    /// [`Unavailable`](crate::runtime::Unavailable) when the job is not the cause (the service it calls
    /// is down): the job is handed back without an attempt counted and the worker backs off.
    type Error: Into<BoxError> + Send;
    /// Runs one attempt of the job.
    fn run(&self, job: ClaimedJob) -> impl Future<Output = std::result::Result<(), Self::Error>> + Send;
}

impl<F, Fut, E> JobHandler for F
where
    F: Fn(ClaimedJob) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<(), E>> + Send,
    E: Into<BoxError> + Send,
{
    type Error = E;

    fn run(&self, job: ClaimedJob) -> impl Future<Output = std::result::Result<(), E>> + Send {
        self(job)
    }
}

/// A handler behind a pointer (handlers of different types in one worker).
trait DynHandler: Send + Sync {
    fn run_boxed(&self, job: ClaimedJob) -> BoxFuture<'_, std::result::Result<(), BoxError>>;
}

impl<H: JobHandler> DynHandler for H {
    fn run_boxed(&self, job: ClaimedJob) -> BoxFuture<'_, std::result::Result<(), BoxError>> {
        self.run(job).map(|outcome| outcome.map_err(Into::into)).boxed()
    }
}

/// What the worker's tasks share besides the jobs: the backoff streak while something is
/// unavailable (claims wait until `paused_until`), and the error a stopping policy ends the run
/// with.
struct Shared {
    streak: Streak,
    paused_until: Option<Instant>,
    /// A job's last attempt is failing under a stopping policy: claim nothing more.
    halting: bool,
    stop: Option<Error>,
}

type SharedState = Arc<Mutex<Shared>>;

fn lock(shared: &SharedState) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The jobs a worker's tasks hold, by id.
type InFlight = Arc<std::sync::Mutex<BTreeMap<String, ClaimedJob>>>;

crate::runtime::spawn::stats! {
    /// Counters of a worker, read through methods ([`JobWorker::stats`], also through its
    /// [`Running`] handle): `worker.stats().completed()`.
    pub struct WorkerStats {
        /// Jobs claimed.
        claimed,
        /// Jobs completed.
        completed,
        /// Failed attempts scheduled for a retry.
        retried,
        /// Jobs parked as `FAILED` after their last attempt.
        parked,
        /// Heartbeats sent.
        heartbeats,
        /// Jobs whose lease was lost (cancelled, or their outcome refused).
        leases_lost,
        /// Jobs released on shutdown.
        released,
        /// Waits because the database or a handler's destination was unavailable.
        backoffs,
        /// Jobs handed back because their handler's destination was unavailable (no attempt
        /// counted).
        unavailable,
        /// Most jobs that ran at once.
        most_at_once,
    }
}

/// Runs jobs of the registered queues.
#[derive(Clone)]
pub struct JobWorker {
    queue: JobQueue,
    name: String,
    handlers: BTreeMap<String, Arc<dyn DynHandler>>,
    concurrency: usize,
    lease: Duration,
    poll: Duration,
    grace: Duration,
    unavailable: Backoff,
    stats: Arc<WorkerStats>,
}

impl std::fmt::Debug for JobWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobWorker")
            .field("name", &self.name)
            .field("queues", &self.handlers.keys().collect::<Vec<_>>())
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

impl JobWorker {
    /// Worker `name` on `queue`: no handler yet, 4 jobs at once, a 30 s lease, a 1 s poll
    /// interval, a 30 s shutdown grace period.
    pub fn new(queue: &JobQueue, name: impl Into<String>) -> Self {
        JobWorker {
            queue: queue.clone(),
            name: name.into(),
            handlers: BTreeMap::new(),
            concurrency: 4,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            grace: Duration::from_secs(30),
            unavailable: unavailable_backoff(),
            stats: Arc::default(),
        }
    }

    /// Runs `handler` for the jobs of queue (job type) `queue`.
    pub fn handle(mut self, queue: impl Into<String>, handler: impl JobHandler) -> Self {
        self.handlers.insert(queue.into(), Arc::new(handler));
        self
    }

    /// Jobs run at once, at least 1.
    pub fn concurrency(mut self, jobs: usize) -> Self {
        self.concurrency = jobs;
        self
    }

    /// The lease of each claim (renewed every third of it while the handler runs).
    pub fn lease_period(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The waits while the database or a handler's destination is unavailable (default
    /// 100 ms doubling up to 10 s, with jitter).
    pub fn on_unavailable(mut self, backoff: Backoff) -> Self {
        self.unavailable = backoff;
        self
    }

    /// How long to wait before looking again when no job is due.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    /// How long shutdown waits for running jobs before releasing them.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The worker's counters.
    pub fn stats(&self) -> &WorkerStats {
        &self.stats
    }

    /// Claims and runs jobs until `shutdown` completes, then finishes or releases the running
    /// ones (see the module docs). An unavailable database makes it back off; a job whose last
    /// attempt fails under a stopping policy ends the run with [`Error::Handler`] (after the
    /// running jobs are finished or released), as does any other error while claiming.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        let result = self.work(shutdown).await;
        if let Err(err) = &result {
            log_stop("worker", &self.name, err);
        }
        result
    }

    /// Runs [`run`](Self::run) in a task of its own and returns its handle:
    /// [`stop`](Running::stop) claims nothing more, waits up to the
    /// [`shutdown_grace`](Self::shutdown_grace) for the running jobs and releases the rest,
    /// [`abort`](Running::abort) kills it where it is (its jobs go to another worker once their
    /// leases expire), the handle derefs to the worker (its stats). Dropping the handle stops it
    /// as `stop` does, without waiting.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn spawn(self) -> Running<Self> {
        Running::spawn("job worker", self, |worker, shutdown| async move { worker.run(shutdown.signal).await })
    }

    async fn work(&self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        Error::at_least_one("JobWorker::concurrency", "jobs", self.concurrency as i64)?;
        if self.handlers.is_empty() {
            return Err(Error::InvalidArgument {
                operation: "JobWorker::run",
                argument: "handlers",
                message: "register at least one handler with JobWorker::handle".into(),
            });
        }
        if self.lease < Duration::from_millis(3) {
            return Err(Error::InvalidArgument {
                operation: "JobWorker::lease_period",
                argument: "lease",
                message: "must be at least 3 ms (heartbeats go every third of it)".into(),
            });
        }
        tokio::pin!(shutdown);
        let queues: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        let mut running: JoinSet<()> = JoinSet::new();
        let in_flight: InFlight = Arc::default();
        let shared: SharedState = Arc::new(Mutex::new(Shared {
            streak: Streak::new("worker", &self.name, self.unavailable),
            paused_until: None,
            halting: false,
            stop: None,
        }));
        let mut last_report: Option<std::time::Instant> = None;
        let stopped = loop {
            while running.try_join_next().is_some() {}
            let (paused, halting, stop) = {
                let mut state = lock(&shared);
                let paused = state.paused_until.and_then(|at| at.checked_duration_since(Instant::now()));
                (paused, state.halting, state.stop.take())
            };
            if let Some(stop) = stop {
                break Some(stop);
            }
            let free = if paused.is_some() || halting { 0 } else { self.concurrency.saturating_sub(running.len()) };
            let claimed = if free == 0 {
                Vec::new()
            } else {
                match self.queue.claim_batch(&self.name, &queues, self.lease, free).await {
                    Ok(jobs) => jobs,
                    Err(err) if err.is_unavailable() => {
                        self.pause(&shared, &err);
                        continue;
                    }
                    Err(err) => break Some(err),
                }
            };
            if lock(&shared).halting {
                // Claimed while a stopping job was being recorded (possibly that job again):
                // handed back untouched, this worker stops.
                for job in &claimed {
                    let _ = self.queue.release(job).await;
                }
                continue;
            }
            let got = claimed.len();
            for job in claimed {
                self.stats.claimed.bump();
                in_flight.lock().unwrap_or_else(PoisonError::into_inner).insert(job.id.clone(), job.clone());
                running.spawn(self.attempt(job, in_flight.clone(), shared.clone()));
            }
            self.stats.most_at_once.raise_to(running.len() as u64);
            if got > 0 && running.len() < self.concurrency {
                if shutdown.as_mut().now_or_never().is_some() {
                    break None;
                }
                continue; // more may be due right away
            }
            if got == 0 && paused.is_none() {
                self.report_queue(&mut last_report).await;
            }
            tokio::select! {
                () = &mut shutdown => break None,
                Some(_) = running.join_next(), if !running.is_empty() => {}
                () = tokio::time::sleep(paused.unwrap_or(self.poll)) => {}
            }
        };
        self.drain(running, &in_flight).await;
        match stopped.or_else(|| lock(&shared).stop.take()) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// One more wait of the backoff streak: no claims until it is over.
    fn pause(&self, shared: &SharedState, err: &(dyn std::error::Error + 'static)) -> Duration {
        self.stats.backoffs.bump();
        let mut state = lock(shared);
        let wait = state.streak.wait(err);
        state.paused_until = Some(Instant::now() + wait);
        wait
    }

    /// One attempt of `job` with heartbeats; records the outcome while it holds the lease.
    fn attempt(
        &self,
        job: ClaimedJob,
        in_flight: InFlight,
        shared: SharedState,
    ) -> impl Future<Output = ()> + Send + 'static {
        let (queue, stats, lease) = (self.queue.clone(), self.stats.clone(), self.lease);
        let handler = self.handlers.get(&job.queue).cloned();
        let worker = self.clone();
        async move {
            let Some(handler) = handler else {
                // Claimed only from registered queues; a renamed queue is a failed attempt.
                let _ = queue.fail(&job, "no handler for this queue").await;
                return;
            };
            let beat = async {
                loop {
                    tokio::time::sleep(lease / 3).await;
                    match queue.heartbeat(&job, lease).await {
                        Ok(()) => stats.heartbeats.bump(),
                        Err(Error::LeaseLost { .. }) => return,
                        Err(err) => tracing::warn!(job = %job.id, error = %chain(&err), "heartbeat failed"),
                    }
                }
            };
            let outcome = tokio::select! {
                outcome = crate::telemetry::continue_trace(&job.metadata, "job", handler.run_boxed(job.clone())) => Some(outcome),
                () = beat => None,
            };
            let recorded = match outcome {
                None => Err(Error::LeaseLost {
                    collection: super::JOBS.into(),
                    id: job.id.clone(),
                    fencing_token: job.fencing_token,
                }),
                Some(Ok(())) => queue.complete(&job).await.map(|()| {
                    // The streak ends before the count a watcher waits on moves.
                    lock(&shared).streak.ok();
                    stats.completed.bump();
                    "completed"
                }),
                Some(Err(error)) if is_unavailable(error.as_ref()) => {
                    // Not the job's fault: handed back, due after the backoff, no attempt counted.
                    let wait = worker.pause(&shared, error.as_ref());
                    stats.unavailable.bump();
                    queue.release_after(&job, wait).await.map(|()| "unavailable")
                }
                Some(Err(error)) => record_failure(&queue, &job, error, &stats, &shared).await,
            };
            match recorded {
                Ok(outcome) => crate::telemetry::job_finished(&job.queue, outcome),
                Err(Error::LeaseLost { .. }) => {
                    crate::telemetry::job_finished(&job.queue, "lease_lost");
                    stats.leases_lost.bump();
                    tracing::warn!(job = %job.id, "lease lost; the outcome is not recorded");
                }
                Err(err) => {
                    tracing::warn!(job = %job.id, error = %chain(&err), "outcome not recorded; the lease will expire")
                }
            }
            in_flight.lock().unwrap_or_else(PoisonError::into_inner).remove(&job.id);
        }
    }

    /// The `cqrs_jobs` gauge, at most once a second.
    async fn report_queue(&self, last: &mut Option<std::time::Instant>) {
        if last.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
            return;
        }
        *last = Some(std::time::Instant::now());
        if let Ok(counts) = self.queue.stats().await {
            for status in ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"] {
                crate::telemetry::jobs_by_status(status, counts.get(status).copied().unwrap_or(0));
            }
        }
    }

    /// Waits up to the grace period for running jobs, then cancels and releases the rest.
    async fn drain(&self, mut running: JoinSet<()>, in_flight: &InFlight) {
        let deadline = tokio::time::Instant::now() + self.grace;
        while !running.is_empty() {
            match tokio::time::timeout_at(deadline, running.join_next()).await {
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if running.is_empty() {
            return;
        }
        running.abort_all();
        while running.join_next().await.is_some() {}
        let cancelled: Vec<ClaimedJob> =
            std::mem::take(&mut *in_flight.lock().unwrap_or_else(PoisonError::into_inner)).into_values().collect();
        for job in cancelled {
            match self.queue.release(&job).await {
                Ok(()) => {
                    self.stats.released.bump();
                    crate::telemetry::job_finished(&job.queue, "released");
                }
                Err(err) => tracing::warn!(job = %job.id, error = %err, "not released; its lease expires"),
            }
        }
    }
}

/// Records a failed attempt under the queue's policy: retried, parked, or (a stopping policy's
/// last attempt) pending again while the worker stops; the outcome's name for the metrics.
async fn record_failure(
    queue: &JobQueue,
    job: &ClaimedJob,
    error: BoxError,
    stats: &WorkerStats,
    shared: &SharedState,
) -> Result<&'static str> {
    let stops = job.attempt >= job.max_attempts && queue.failure_policy().then() == AfterRetries::Stop;
    if stops {
        // The job goes back to pending: this worker must not claim it again meanwhile.
        lock(shared).halting = true;
    }
    let failed = queue.fail(job, &chain(error.as_ref())).await;
    if stops && !matches!(failed, Ok(Failed::Stopped)) {
        lock(shared).halting = false;
    }
    Ok(match failed? {
        Failed::RetryAt(_) => {
            stats.retried.bump();
            "retried"
        }
        Failed::Parked => {
            stats.parked.bump();
            tracing::warn!(job = %job.id, queue = %job.queue, attempts = job.attempt, error = %chain(error.as_ref()), "job parked as FAILED");
            "parked"
        }
        Failed::Stopped => {
            let mut state = lock(shared);
            if state.stop.is_none() {
                state.stop = Some(Error::handler(&job.queue, &job.id, error));
            }
            "stopped"
        }
    })
}

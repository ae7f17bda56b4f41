//! The projection runner: feeds a [`Projection`] the event store's events in position order,
//! from its saved position, and commits each batch's read-model writes **together with the new
//! position in one transaction**, so a crash never applies an event twice or skips one.
//!
//! - [`ProjectionRunner::catch_up`] pages `read_all` from the saved position to the head.
//! - [`ProjectionRunner::run`] catches up, then waits: a change stream on `domain_events` wakes
//!   it as soon as events are committed; when the change stream fails (or its history is lost)
//!   it falls back to polling and tries the change stream again later. Either way the events
//!   themselves are read by position, so a missed wake-up only costs latency.
//! - [`ProjectionRunner::rebuild`] replays everything into fresh `<collection>_v<N>`
//!   collections, then renames them over the live ones and moves the position, reporting
//!   progress through a callback.
//!
//! The saved position is the legacy `projection_checkpoints` document, advanced with a
//! compare-and-set on the previous value inside the batch transaction: two runners of one
//! projection cannot both apply a batch (the one that loses reads the checkpoint again and goes
//! on from there). Each write is also guarded per document by `_version` (the position of the
//! last event applied), so re-applying an event is a no-op.
//!
//! In a tenant scope ([`ProjectionRunner::for_tenant`]) the runner reads only the tenant's
//! events, stamps the tenant on the documents it writes (another tenant's document is
//! [`Error::CrossTenant`]), and keeps its own checkpoint per tenant.

mod batch;
pub(crate) mod checkpoint;
mod failures;
mod live;
mod rebuild;
mod typed;
mod write;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use rebuild::{RebuildProgress, RebuildReport};
pub use typed::Handlers;
pub use write::Write;

use self::checkpoint::Checkpoint;
use crate::error::Result;
use crate::event_store::{EventStore, StoredEvent};
use crate::runtime::lease::{Lease, LeaseInfo, default_owner};
use crate::runtime::retry::{Backoff, Failing, RetryPolicy, unavailable_backoff};
use crate::store::connection::Connection;
use crate::store::tenancy::Tenant;

/// A read model built from events. `project` must be a pure function of the event: the runner
/// may call it again for the same event when a transaction is retried.
pub trait Projection: Send + Sync + 'static {
    /// The projection's name (its checkpoint id).
    fn name(&self) -> &str;
    /// The collections it writes (replaced as a whole by a rebuild).
    fn collections(&self) -> Vec<String>;
    /// The writes one event causes (often one, possibly none or many).
    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>>;
    /// Indexes on its collections (a rebuild creates them on the new collections before the
    /// swap).
    fn indexes(&self) -> Vec<crate::store::indexes::IndexSpec> {
        Vec::new()
    }
}

/// Projections chosen at run time (a CLI's registry) run like any other.
impl Projection for Box<dyn Projection> {
    fn name(&self) -> &str {
        self.as_ref().name()
    }

    fn collections(&self) -> Vec<String> {
        self.as_ref().collections()
    }

    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>> {
        self.as_ref().project(event)
    }

    fn indexes(&self) -> Vec<crate::store::indexes::IndexSpec> {
        self.as_ref().indexes()
    }
}

crate::runtime::spawn::stats! {
    /// Counters of what a runner did, for monitoring and tests, read through methods
    /// ([`ProjectionRunner::stats`], also through its [`Running`](crate::runtime::Running) handle):
    /// `runner.stats().events()`, `runner.stats().follow().leaderships()`.
    pub struct RunnerStats {
        /// Events applied.
        events,
        /// Batches committed.
        batches,
        /// Batches not committed because the checkpoint had moved (another runner of the
        /// projection, or a rebuild): the runner read it again and went on from there.
        checkpoint_moves,
        /// Catch-ups that stopped because a rebuild had paused the projection to swap
        /// collections.
        paused,
        /// Failed attempts of an event (its `project` or its writes) that were retried.
        retries,
        /// Events parked in `dead_letters` after the last attempt.
        parked,
    }
    /// What its live loop ([`ProjectionRunner::run`]) did: waits, wake-ups, leadership,
    /// backoffs.
    embed follow: crate::runtime::follow::FollowStats;
}

/// Runs one projection.
pub struct ProjectionRunner<P> {
    connection: Connection,
    events: EventStore,
    projection: Arc<P>,
    batch: i64,
    poll: Duration,
    change_stream: bool,
    transactional: bool,
    tenant: Option<Tenant>,
    stats: Arc<RunnerStats>,
    failure: RetryPolicy,
    unavailable: Backoff,
    lease_period: Duration,
    replica: String,
    /// The live loop's failing event, kept between its catch-ups.
    failing: std::sync::Mutex<Failing>,
}

/// The default lease period of [`ProjectionRunner::run`].
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

impl<P: Projection> ProjectionRunner<P> {
    /// A runner with batches of 100 events, a change stream, and a 1 s polling fallback.
    pub fn new(connection: &Connection, events: &EventStore, projection: P) -> Self {
        ProjectionRunner {
            connection: connection.clone(),
            events: events.clone(),
            projection: Arc::new(projection),
            batch: 100,
            poll: Duration::from_secs(1),
            change_stream: true,
            transactional: true,
            tenant: None,
            stats: Arc::default(),
            failure: RetryPolicy::default(),
            unavailable: unavailable_backoff(),
            lease_period: DEFAULT_LEASE,
            replica: default_owner(),
            failing: std::sync::Mutex::default(),
        }
    }

    /// What happens when an event fails (its `project` returns an error, or the server refuses
    /// one of its writes): retried with backoff, then parked in `dead_letters` (the default: 3
    /// attempts, then park) or the run stops with [`Error::Handler`](crate::Error::Handler).
    pub fn on_failure(mut self, policy: RetryPolicy) -> Self {
        self.failure = policy;
        self
    }

    /// The waits of [`run`](Self::run) while the database is unavailable (default 100 ms
    /// doubling up to 10 s, with jitter); no attempt is counted against an event meanwhile.
    pub fn on_unavailable(mut self, backoff: Backoff) -> Self {
        self.unavailable = backoff;
        self
    }

    /// How long the leader's lease lasts without renewal ([`DEFAULT_LEASE`]); a stand-by takes
    /// over within about this long after the leader dies. At least 1 ms.
    pub fn lease_period(mut self, period: Duration) -> Self {
        self.lease_period = period;
        self
    }

    /// This replica's name in the lease (default: host, process id and a random suffix).
    pub fn replica_name(mut self, name: impl Into<String>) -> Self {
        self.replica = name.into();
        self
    }

    /// Who leads this projection's runners now.
    pub async fn leader(&self) -> Result<LeaseInfo> {
        self.lease().info().await
    }

    fn lease(&self) -> Lease {
        let key = self.live_checkpoint().key().to_owned();
        Lease::new(&self.connection, &key, &self.replica, self.lease_period)
    }

    /// This runner scoped to `tenant`: it reads only the tenant's events, writes the tenant on
    /// every document (touching another tenant's is [`Error::CrossTenant`](crate::Error::CrossTenant)), and keeps a
    /// checkpoint of its own (`<projection>@<tenant>`, as [`PositionStore::for_tenant`](crate::PositionStore::for_tenant)
    /// reads it). Each tenant's runner moves independently. [`rebuild`](Self::rebuild) replaces
    /// whole collections, so it is refused in a scope.
    pub fn for_tenant(mut self, tenant: &Tenant) -> Self {
        self.events = self.events.for_tenant(tenant);
        self.tenant = Some(tenant.clone());
        self
    }

    /// The live checkpoint of this runner's projection (and tenant).
    fn live_checkpoint(&self) -> Checkpoint {
        Checkpoint::new(&self.connection, self.projection.name(), self.tenant.as_ref())
    }

    /// Events per batch (and per transaction), at least 1 (a smaller value makes every
    /// catch-up [`Error::InvalidArgument`](crate::Error::InvalidArgument)).
    pub fn batch_size(mut self, events: i64) -> Self {
        self.batch = events;
        self
    }

    /// How often to look for events when there is no working change stream.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    /// Polls only (no change stream).
    pub fn without_change_stream(mut self) -> Self {
        self.change_stream = false;
        self
    }

    /// Applies batches without a transaction: each write and the position are separate
    /// updates. Faster, and a crash can leave a batch half applied; the per-document
    /// `_version` guard then makes the re-applied half a no-op, but writes that are not
    /// idempotent per document lose that guarantee. For benchmarks and trusted projections.
    pub fn without_transactions(mut self) -> Self {
        self.transactional = false;
        self
    }

    /// What the runner has done so far.
    pub fn stats(&self) -> &RunnerStats {
        &self.stats
    }

    /// The projection.
    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// The saved position (0 before the first batch).
    pub async fn position(&self) -> Result<i64> {
        Ok(self.live_checkpoint().read().await?.position)
    }

    /// Applies every event after the saved position up to the latest committed one; returns
    /// how many events it applied. When another runner of the projection commits a batch
    /// first, it goes on from that runner's position; while a rebuild has paused the projection
    /// (to swap its collections) it applies nothing and returns. An event that fails (its
    /// `project`, or a write the server refuses) is retried after the policy's backoff, then
    /// parked, or the catch-up ends with [`Error::Handler`](crate::Error::Handler) (see
    /// [`on_failure`](Self::on_failure)); an unavailable database ends it with that error.
    pub async fn catch_up(&self) -> Result<u64> {
        let targets = Targets::live(self.projection.as_ref());
        self.catch_up_to_head(&self.live_checkpoint(), &targets, &mut |_, _| {}).await
    }

    /// Catch-ups into `targets` until the head, waiting out the backoff of a failing event.
    async fn catch_up_to_head(
        &self,
        checkpoint: &Checkpoint,
        targets: &Targets,
        on_batch: &mut (dyn FnMut(i64, u64) + Send),
    ) -> Result<u64> {
        let mut failing = Failing::default();
        let mut applied = 0;
        loop {
            let progress = self.catch_up_into(checkpoint, targets, on_batch, None, &mut failing).await?;
            applied += progress.applied;
            match progress.retry_in {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Ok(applied),
            }
        }
    }
}

/// Where each logical collection of a projection is written.
#[derive(Debug, Clone, Default)]
pub(crate) struct Targets(HashMap<String, String>);

impl Targets {
    fn live<P: Projection>(projection: &P) -> Self {
        Targets(projection.collections().into_iter().map(|c| (c.clone(), c)).collect())
    }

    /// The physical collection for a logical one (itself when the projection did not declare it).
    pub(crate) fn resolve<'a>(&'a self, collection: &'a str) -> &'a str {
        self.0.get(collection).map_or(collection, String::as_str)
    }
}

//! Subscriptions: a checkpointed consumer of the global event stream whose handler may do
//! anything (send an email, call a service, publish to a broker).
//!
//! - **Order and filter.** Events arrive in position order; with
//!   [`event_types`](Subscription::event_types) only those types are read (the filter is part
//!   of the query), and the checkpoint still moves past the events of other types.
//! - **At least once.** The checkpoint (a `projection_checkpoints` document named after the
//!   subscription) moves after each batch of handled events. After a crash, a take-over or a
//!   failed checkpoint write, the events of that batch are delivered again: at most
//!   [`batch_size`](Subscription::batch_size) events, each at most once more per such
//!   interruption. Use the event id as the idempotency key of the side effect.
//! - **Failures.** A handler error is retried with backoff up to the
//!   [`RetryPolicy`]'s attempts; then the event is parked in `dead_letters` and delivery goes
//!   on (the default), or the run stops with [`Error::Handler`] before the event. A handler
//!   error that says the handler's destination is unavailable (its chain holds an
//!   [`Unavailable`](crate::runtime::Unavailable), or an unavailable error of this crate), like an
//!   unavailable database, makes the loop back off and deliver the event again without counting
//!   an attempt. [`retry_parked`](Subscription::retry_parked) hands a parked event to the
//!   handler again.
//! - **Replicas.** Like the projection runner, any number of replicas may run: the holder of the
//!   checkpoint's lease delivers, the others stand by; every checkpoint write is fenced by the
//!   lease token, so a replica that lost its lease moves nothing once the new leader has moved
//!   the checkpoint.
//! - **Not yet: segments.** Leases and checkpoints are keyed by name, so sharing one
//!   subscription between N active replicas will take one checkpoint and lease per segment
//!   (`<name>#<k>/<n>`), each reading only the streams whose aggregate-id hash falls in it
//!   (per-stream order holds: a stream is always in one segment).

use std::future::Future;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::dead_letters::{DeadLetter, DeadLetterStatus, DeadLetters};
use crate::error::{Error, Result};
use crate::event_store::{EventStore, StoredEvent};
use crate::projections::runner::checkpoint::Checkpoint;
use crate::runtime::follow::{CatchUp, Follow, FollowStats};
use crate::runtime::lease::{Leader, Lease, LeaseInfo, default_owner};
use crate::runtime::retry::{AfterRetries, Backoff, BoxError, Failing, RetryPolicy, Verdict, unavailable_backoff};
use crate::runtime::spawn::Running;
use crate::store::connection::Connection;
use crate::telemetry;

/// What a subscription hands each event to. Closures `Fn(StoredEvent) -> impl Future<Output =
/// Result<(), E>>` are handlers.
pub trait EventHandler: Send + Sync {
    /// The handler's own error (kept as the source of [`Error::Handler`], shown in logs and
    /// dead letters). Wrap it in [`Unavailable`](crate::runtime::Unavailable) when the event is not the
    /// cause (the service it calls is down): the subscription then backs off without counting
    /// an attempt.
    type Error: Into<BoxError> + Send;
    /// Handles one event; an error is retried by the subscription's policy.
    fn handle(&self, event: StoredEvent) -> impl Future<Output = std::result::Result<(), Self::Error>> + Send;
}

impl<F, Fut, E> EventHandler for F
where
    F: Fn(StoredEvent) -> Fut + Send + Sync,
    Fut: Future<Output = std::result::Result<(), E>> + Send,
    E: Into<BoxError> + Send,
{
    type Error = E;

    fn handle(&self, event: StoredEvent) -> impl Future<Output = std::result::Result<(), E>> + Send {
        self(event)
    }
}

crate::runtime::spawn::stats! {
    /// Counters of what a subscription did, read through methods ([`Subscription::stats`],
    /// also through its [`Running`] handle): `subscription.stats().delivered()`,
    /// `subscription.stats().follow().leaderships()`.
    pub struct SubscriptionStats {
        /// Successful handler calls (a redelivered event counts again).
        delivered,
        /// Checkpoint moves.
        batches,
        /// Failed handler calls that were retried.
        retries,
        /// Events parked after their last attempt.
        parked,
    }
    /// What its live loop ([`Subscription::run`]) did: waits, wake-ups, leadership,
    /// backoffs.
    embed follow: FollowStats;
}

/// What a catch-up delivered.
#[derive(Debug, Default)]
struct Delivered {
    delivered: u64,
    /// The event at the head failed: try again after this wait.
    retry_in: Option<Duration>,
}

/// A named, checkpointed consumer of the event store.
#[derive(Debug)]
pub struct Subscription {
    connection: Connection,
    events: EventStore,
    name: String,
    types: Vec<String>,
    batch: i64,
    poll: Duration,
    change_stream: bool,
    failure: RetryPolicy,
    unavailable: Backoff,
    lease_period: Duration,
    replica: String,
    stats: Arc<SubscriptionStats>,
    /// The live loop's failing event, kept between its catch-ups.
    failing: std::sync::Mutex<Failing>,
}

impl Clone for Subscription {
    /// The same subscription (name, settings and counters); a failing event's attempts are not
    /// shared.
    fn clone(&self) -> Self {
        Subscription {
            connection: self.connection.clone(),
            events: self.events.clone(),
            name: self.name.clone(),
            types: self.types.clone(),
            batch: self.batch,
            poll: self.poll,
            change_stream: self.change_stream,
            failure: self.failure,
            unavailable: self.unavailable,
            lease_period: self.lease_period,
            replica: self.replica.clone(),
            stats: self.stats.clone(),
            failing: std::sync::Mutex::default(),
        }
    }
}

impl Subscription {
    /// Subscription `name` (its checkpoint id) to every event of `events`: batches of 100, a
    /// change stream with a 1 s polling fallback, 3 attempts then park, a 10 s lease.
    pub fn new(connection: &Connection, events: &EventStore, name: impl Into<String>) -> Self {
        Subscription {
            connection: connection.clone(),
            events: events.clone(),
            name: name.into(),
            types: Vec::new(),
            batch: 100,
            poll: Duration::from_secs(1),
            change_stream: true,
            failure: RetryPolicy::default(),
            unavailable: unavailable_backoff(),
            lease_period: crate::projections::runner::DEFAULT_LEASE,
            replica: default_owner(),
            stats: Arc::default(),
            failing: std::sync::Mutex::default(),
        }
    }

    /// Only events of these types are read and delivered.
    pub fn event_types<S: AsRef<str>>(mut self, types: &[S]) -> Self {
        self.types = types.iter().map(|t| t.as_ref().to_owned()).collect();
        self
    }

    /// Events per batch (and at most this many redelivered after an interruption); at least 1.
    pub fn batch_size(mut self, events: i64) -> Self {
        self.batch = events;
        self
    }

    /// How often to look for events without a working change stream, and for the lease when
    /// standing by.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    /// Polls only (no change stream).
    pub fn without_change_stream(mut self) -> Self {
        self.change_stream = false;
        self
    }

    /// Retries, backoff and what happens after the last attempt.
    pub fn on_failure(mut self, policy: RetryPolicy) -> Self {
        self.failure = policy;
        self
    }

    /// The waits of [`run`](Self::run) while the database or the handler's destination is
    /// unavailable (default 100 ms doubling up to 10 s, with jitter).
    pub fn on_unavailable(mut self, backoff: Backoff) -> Self {
        self.unavailable = backoff;
        self
    }

    /// How long the leader's lease lasts without renewal.
    pub fn lease_period(mut self, period: Duration) -> Self {
        self.lease_period = period;
        self
    }

    /// This replica's name in the lease.
    pub fn replica_name(mut self, name: impl Into<String>) -> Self {
        self.replica = name.into();
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it has done so far.
    pub fn stats(&self) -> &SubscriptionStats {
        &self.stats
    }

    /// The saved position (0 before the first batch).
    pub async fn position(&self) -> Result<i64> {
        Ok(self.checkpoint().read().await?.position)
    }

    /// Who leads its replicas now.
    pub async fn leader(&self) -> Result<LeaseInfo> {
        self.lease().info().await
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint::new(&self.connection, &self.name, None)
    }

    fn lease(&self) -> Lease {
        Lease::new(&self.connection, &self.name, &self.replica, self.lease_period)
    }

    /// Delivers events to `handler` until `shutdown` completes, as one of any number of
    /// replicas (see the module docs for the guarantees). While the database or the handler's
    /// destination is unavailable it backs off; a handler error that the policy stops on ends
    /// the run with [`Error::Handler`], as does any error not caused by an event. When
    /// `shutdown` completes during a catch-up, the batch in hand is delivered and checkpointed
    /// and the run returns before the next one. [`spawn`](Self::spawn) runs this in a task of
    /// its own.
    pub async fn run(&self, handler: &impl EventHandler, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        self.live(handler, Leader::new(self.lease()), shutdown).await
    }

    async fn live(
        &self,
        handler: &impl EventHandler,
        mut leader: Leader,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        let follow = Follow {
            connection: &self.connection,
            events: &self.events,
            kind: "subscription",
            name: &self.name,
            poll: self.poll,
            change_stream: self.change_stream,
            unavailable: self.unavailable,
            stats: &self.stats.follow,
        };
        follow.run(&mut leader, &Delivering { subscription: self, handler }, shutdown).await
    }

    /// Runs [`run`](Self::run) with `handler` in a task of its own and returns its handle:
    /// [`stop`](Running::stop) ends it after the batch in hand and releases the lease (a
    /// stand-by takes over at once), [`abort`](Running::abort) kills it where it is (that
    /// batch is delivered again by the next leader), the handle derefs to the subscription
    /// (its stats, position, leader). Dropping the handle stops it as `stop` does, without waiting.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn spawn(self, handler: impl EventHandler + 'static) -> Running<Self> {
        Running::spawn("subscription", self, |subscription, shutdown| async move {
            let leader = Leader::new(subscription.lease()).stopping_on(shutdown.requested);
            subscription.live(&handler, leader, shutdown.signal).await
        })
    }

    /// Delivers everything after the checkpoint up to the head once, without a lease (for
    /// tests and one-off jobs), waiting out the retry backoff of a failing event; returns the
    /// number of successful deliveries. An unavailable database or destination ends it with
    /// that error.
    pub async fn catch_up(&self, handler: &impl EventHandler) -> Result<u64> {
        let mut failing = Failing::default();
        let mut delivered = 0;
        loop {
            let progress = self.deliver(handler, &self.checkpoint(), None, &mut failing).await?;
            delivered += progress.delivered;
            match progress.retry_in {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Ok(delivered),
            }
        }
    }

    async fn deliver(
        &self,
        handler: &impl EventHandler,
        checkpoint: &Checkpoint,
        mut leader: Option<&mut Leader>,
        failing: &mut Failing,
    ) -> Result<Delivered> {
        Error::at_least_one("Subscription::batch_size", "events", self.batch)?;
        self.failure.check("Subscription::on_failure")?;
        let types: Vec<&str> = self.types.iter().map(String::as_str).collect();
        let dead_letters = DeadLetters::new(&self.connection);
        let mut progress = Delivered::default();
        let mut after = checkpoint.read().await?.position;
        loop {
            if let Some(leader) = leader.as_deref_mut()
                && leader.ensure().await?.is_none()
            {
                return Ok(progress);
            }
            let (events, upto) = if types.is_empty() {
                let events = self.events.read_all(after, self.batch).await?;
                let upto = events.last().map_or(after, |e| e.position);
                (events, upto)
            } else {
                self.events.read_by_types_upto(&types, after, self.batch).await?
            };
            if upto <= after {
                return Ok(progress);
            }
            if let Some(wait) = events.first().and_then(|head| failing.wait_for(&head.event_id)) {
                progress.retry_in = Some(wait);
                return Ok(progress);
            }
            let mut failure = None;
            for event in &events {
                let delivery = handler.handle(event.clone());
                match telemetry::continue_trace(&event.metadata, "subscription", delivery).await {
                    Ok(()) => {
                        self.stats.delivered.bump();
                        progress.delivered += 1;
                        failing.done(&event.event_id);
                    }
                    Err(err) => {
                        failure = Some((event, Error::handler(&self.name, &event.event_id, err)));
                        break;
                    }
                }
            }
            let Some((event, err)) = failure else {
                match self.advance(checkpoint, &mut leader, after, upto).await? {
                    Some(position) => {
                        self.stats.batches.bump();
                        after = position;
                        continue;
                    }
                    None => return Ok(progress),
                }
            };
            // What was handled before the failing event is kept.
            let before = event.position - 1;
            if before > after {
                match self.advance(checkpoint, &mut leader, after, before).await? {
                    Some(position) if position == before => after = before,
                    Some(position) => {
                        after = position;
                        continue;
                    }
                    None => return Ok(progress),
                }
            }
            if err.is_unavailable() {
                // Not the event's fault: the loop backs off and delivers it again.
                return Err(err);
            }
            match failing.failed(&event.event_id, &self.failure) {
                Verdict::RetryIn(wait, attempt) => {
                    self.stats.retries.bump();
                    telemetry::consumer_retry("subscription", &self.name);
                    tracing::warn!(subscription = %self.name, event_id = %event.event_id, attempt,
                        retry_in_ms = wait.as_millis() as u64, error = %err, "handler failed; retrying");
                    progress.retry_in = Some(wait);
                    return Ok(progress);
                }
                Verdict::GiveUp(attempts) if self.failure.then() == AfterRetries::Park => {
                    let Error::Handler { source, .. } = &err else { return Err(err) };
                    let letter = DeadLetter::new(&self.name, event, &crate::runtime::retry::chain(&**source), attempts);
                    dead_letters.park(&letter, None).await?;
                    self.stats.parked.bump();
                    telemetry::consumer_parked("subscription", &self.name, 1);
                    match self.advance(checkpoint, &mut leader, after, event.position).await? {
                        Some(position) => after = position,
                        None => return Ok(progress),
                    }
                }
                // Stop before the event.
                Verdict::GiveUp(_) => return Err(err),
            }
        }
    }

    /// Moves the checkpoint from `after` to `to`: the position it is at then (another
    /// replica's, when it had moved), or `None` when this replica no longer leads.
    async fn advance(
        &self,
        checkpoint: &Checkpoint,
        leader: &mut Option<&mut Leader>,
        after: i64,
        to: i64,
    ) -> Result<Option<i64>> {
        match checkpoint.advance(after, to, None).await {
            Ok(()) => Ok(Some(to)),
            Err(err) if checkpoint.is_moved(&err) => {
                // Another replica (or a fence): read the lease and the checkpoint again.
                if let Some(leader) = leader.as_deref_mut()
                    && leader.refresh().await?.is_none()
                {
                    return Ok(None);
                }
                Ok(Some(checkpoint.read().await?.position))
            }
            Err(err) => Err(err),
        }
    }

    /// Hands a parked event to `handler` once more; on success the letter is marked retried.
    /// `Ok(false)` when no such event is parked by this subscription; a failure adds an
    /// attempt to the letter and is [`Error::Handler`].
    pub async fn retry_parked(&self, event_id: &str, handler: &impl EventHandler) -> Result<bool> {
        let dead_letters = DeadLetters::new(&self.connection);
        let parked = dead_letters.get(&self.name, event_id).await?;
        if parked.is_none_or(|letter| letter.status != DeadLetterStatus::Parked) {
            return Ok(false);
        }
        let Some(event) = self.events.event(event_id, crate::store::uow::Alone).await? else {
            return Err(Error::NotFound { what: format!("event {event_id} (parked by {})", self.name) });
        };
        match handler.handle(event).await {
            Ok(()) => dead_letters.resolve(&self.name, event_id, DeadLetterStatus::Retried, 1, None).await,
            Err(err) => {
                let err: BoxError = err.into();
                dead_letters.failed_again(&self.name, event_id, &crate::runtime::retry::chain(err.as_ref()), 1).await?;
                Err(Error::handler(&self.name, event_id, err))
            }
        }
    }

    /// Marks a parked event skipped; `false` when it is not parked by this subscription.
    pub async fn skip_parked(&self, event_id: &str) -> Result<bool> {
        DeadLetters::new(&self.connection).skip(&self.name, event_id).await
    }
}

/// A subscription delivering to one handler, as the live loop's target.
struct Delivering<'a, H> {
    subscription: &'a Subscription,
    handler: &'a H,
}

impl<H: EventHandler> CatchUp for Delivering<'_, H> {
    fn catch_up<'a>(&'a self, leader: &'a mut Leader, token: i64) -> BoxFuture<'a, Result<Option<Duration>>> {
        async move {
            let subscription = self.subscription;
            let checkpoint = subscription.checkpoint().fenced(token);
            // The failing event's attempts are kept between catch-ups.
            let mut failing = std::mem::take(&mut *subscription.failing.lock().unwrap_or_else(PoisonError::into_inner));
            let progress = subscription.deliver(self.handler, &checkpoint, Some(leader), &mut failing).await;
            *subscription.failing.lock().unwrap_or_else(PoisonError::into_inner) = failing;
            let progress = progress?;
            let lag = subscription.events.latest_position().await? - checkpoint.read().await?.position;
            telemetry::consumer_lag("subscription", &subscription.name, lag.max(0));
            Ok(progress.retry_in)
        }
        .boxed()
    }
}

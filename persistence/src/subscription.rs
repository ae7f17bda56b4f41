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
//!   [`FailurePolicy`]'s attempts; then the event is parked in `dead_letters` and delivery goes
//!   on (the default), or the run stops with the error before the event.
//!   [`retry_parked`](Subscription::retry_parked) hands a parked event to the handler again.
//! - **Replicas.** Like the projection runner, any number of replicas may run: the holder of the
//!   checkpoint's lease delivers, the others stand by; every checkpoint write is fenced by the
//!   lease token, so a replica that lost its lease moves nothing once the new leader has moved
//!   the checkpoint.
//! - **Not yet: segments.** Leases and checkpoints are keyed by name, so sharing one
//!   subscription between N active replicas will take one checkpoint and lease per segment
//!   (`<name>#<k>/<n>`), each reading only the streams whose aggregate-id hash falls in it
//!   (per-stream order holds: a stream is always in one segment).

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::connection::Connection;
use crate::dead_letters::{AfterRetries, DeadLetter, DeadLetterStatus, DeadLetters, FailurePolicy};
use crate::error::{Error, Result};
use crate::event_store::{EventStore, StoredEvent};
use crate::follow::{CatchUp, Follow, counters_of};
use crate::lease::{Leader, Lease, LeaseInfo, default_owner};
use crate::runner::checkpoint::Checkpoint;
use crate::telemetry;

/// What a subscription hands each event to. Closures `Fn(StoredEvent) -> impl Future<Output =
/// Result<(), E>>` are handlers.
pub trait EventHandler: Send + Sync {
    /// The handler's own error (shown in logs and dead letters).
    type Error: Display + Send;
    /// Handles one event; an error is retried by the subscription's policy.
    fn handle(&self, event: StoredEvent) -> impl Future<Output = std::result::Result<(), Self::Error>> + Send;
}

impl<F, Fut, E> EventHandler for F
where
    F: Fn(StoredEvent) -> Fut + Send + Sync,
    Fut: Future<Output = std::result::Result<(), E>> + Send,
    E: Display + Send,
{
    type Error = E;

    fn handle(&self, event: StoredEvent) -> impl Future<Output = std::result::Result<(), E>> + Send {
        self(event)
    }
}

/// Counters of what a subscription did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct SubscriptionStats {
    /// Successful handler calls (a redelivered event counts again).
    pub delivered: AtomicU64,
    /// Checkpoint moves.
    pub batches: AtomicU64,
    /// Failed handler calls that were retried.
    pub retries: AtomicU64,
    /// Events parked after their last attempt.
    pub parked: AtomicU64,
    /// Times the live loop caught up and waited.
    pub waits: AtomicU64,
    /// Wake-ups by the change stream.
    pub change_stream_wakeups: AtomicU64,
    /// Wake-ups by the timer.
    pub poll_wakeups: AtomicU64,
    /// Times the change stream failed and polling took over.
    pub fallbacks: AtomicU64,
    /// Times this replica took the lease.
    pub leaderships: AtomicU64,
    /// Times it found its lease taken over.
    pub leases_lost: AtomicU64,
    /// Times it stood by.
    pub standby_waits: AtomicU64,
}

/// A named, checkpointed consumer of the event store.
#[derive(Debug, Clone)]
pub struct Subscription {
    connection: Connection,
    events: EventStore,
    name: String,
    types: Vec<String>,
    batch: i64,
    poll: Duration,
    change_stream: bool,
    failure: FailurePolicy,
    lease_period: Duration,
    replica: String,
    stats: Arc<SubscriptionStats>,
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
            failure: FailurePolicy::default(),
            lease_period: crate::runner::DEFAULT_LEASE,
            replica: default_owner(),
            stats: Arc::default(),
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
    pub fn on_failure(mut self, policy: FailurePolicy) -> Self {
        self.failure = policy;
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
    /// replicas (see the module docs for the guarantees). Driver errors are retried; a handler
    /// error that the policy stops on ends the run with [`Error::Handler`].
    pub async fn run(&self, handler: &impl EventHandler, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        let stats = &self.stats;
        let follow = Follow {
            connection: &self.connection,
            events: &self.events,
            name: &self.name,
            poll: self.poll,
            change_stream: self.change_stream,
            counters: counters_of!(stats),
        };
        follow.run(&mut Leader::new(self.lease()), &Delivering { subscription: self, handler }, shutdown).await
    }

    /// Delivers everything after the checkpoint up to the head once, without a lease (for
    /// tests and one-off jobs); returns the number of successful deliveries.
    pub async fn catch_up(&self, handler: &impl EventHandler) -> Result<u64> {
        self.deliver(handler, &self.checkpoint(), None).await
    }

    async fn deliver(
        &self,
        handler: &impl EventHandler,
        checkpoint: &Checkpoint,
        mut leader: Option<&mut Leader>,
    ) -> Result<u64> {
        Error::at_least_one("Subscription::batch_size", "events", self.batch)?;
        self.failure.check("Subscription::on_failure")?;
        let types: Vec<&str> = self.types.iter().map(String::as_str).collect();
        let dead_letters = DeadLetters::new(&self.connection);
        let mut delivered = 0;
        let mut after = checkpoint.read().await?.position;
        loop {
            if let Some(leader) = leader.as_deref_mut()
                && leader.ensure().await?.is_none()
            {
                return Ok(delivered);
            }
            let (events, upto) = if types.is_empty() {
                let events = self.events.read_all(after, self.batch).await?;
                let upto = events.last().map_or(after, |e| e.position);
                (events, upto)
            } else {
                self.events.read_by_types_upto(&types, after, self.batch).await?
            };
            if upto <= after {
                return Ok(delivered);
            }
            for event in events {
                match self.attempt(handler, &event).await {
                    Ok(()) => delivered += 1,
                    Err((error, attempts)) => match self.failure.then() {
                        AfterRetries::Park => {
                            dead_letters.park(&DeadLetter::new(&self.name, &event, &error, attempts), None).await?;
                            self.stats.parked.fetch_add(1, Ordering::Relaxed);
                            telemetry::consumer_parked("subscription", &self.name, 1);
                        }
                        _ => {
                            // Stop before the event: what was handled before it is kept.
                            let before = event.position - 1;
                            if before > after {
                                checkpoint.advance(after, before, None).await?;
                            }
                            return Err(Error::Handler {
                                name: self.name.clone(),
                                event_id: event.event_id,
                                message: error,
                            });
                        }
                    },
                }
            }
            match checkpoint.advance(after, upto, None).await {
                Ok(()) => {}
                Err(err) if checkpoint.is_moved(&err) => {
                    // Another replica (or a fence): read the lease and the checkpoint again.
                    if let Some(leader) = leader.as_deref_mut()
                        && leader.refresh().await?.is_none()
                    {
                        return Ok(delivered);
                    }
                    after = checkpoint.read().await?.position;
                    continue;
                }
                Err(err) => return Err(err),
            }
            self.stats.batches.fetch_add(1, Ordering::Relaxed);
            after = upto;
        }
    }

    /// The handler on `event`, up to the policy's attempts; the last error and the attempts.
    async fn attempt(
        &self,
        handler: &impl EventHandler,
        event: &StoredEvent,
    ) -> std::result::Result<(), (String, u32)> {
        let attempts = self.failure.attempts().max(1);
        let mut attempt = 1;
        loop {
            match telemetry::continue_trace(&event.metadata, "subscription", handler.handle(event.clone())).await {
                Ok(()) => {
                    self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err(err) if attempt < attempts => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    telemetry::consumer_retry("subscription", &self.name);
                    tracing::warn!(subscription = %self.name, event_id = %event.event_id, attempt, error = %err, "handler failed; retrying");
                    tokio::time::sleep(self.failure.delay(attempt)).await;
                    attempt += 1;
                }
                Err(err) => return Err((err.to_string(), attempt)),
            }
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
        let Some(event) = self.events.event(event_id).await? else {
            return Err(Error::NotFound { what: format!("event {event_id} (parked by {})", self.name) });
        };
        match handler.handle(event).await {
            Ok(()) => dead_letters.resolve(&self.name, event_id, DeadLetterStatus::Retried, 1, None).await,
            Err(err) => {
                let message = err.to_string();
                dead_letters.failed_again(&self.name, event_id, &message, 1).await?;
                Err(Error::Handler { name: self.name.clone(), event_id: event_id.to_owned(), message })
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
    fn catch_up<'a>(&'a self, leader: &'a mut Leader, token: i64) -> BoxFuture<'a, Result<()>> {
        async move {
            let subscription = self.subscription;
            let checkpoint = subscription.checkpoint().fenced(token);
            subscription.deliver(self.handler, &checkpoint, Some(leader)).await?;
            let lag = subscription.events.latest_position().await? - checkpoint.read().await?.position;
            telemetry::consumer_lag("subscription", &subscription.name, lag.max(0));
            Ok(())
        }
        .boxed()
    }
}

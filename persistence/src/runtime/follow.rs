//! The live loop shared by the projection runner and subscriptions: lead (or stand by), catch
//! up, then sleep until a change stream on `domain_events` (or, without one, a timer) says
//! there may be new events.
//!
//! Events are always read by position, so a missed or spurious wake-up only costs latency. A
//! replica that does not hold the lease neither reads nor watches: it checks the lease every
//! poll interval. The leader renews its lease between batches and while it waits.
//!
//! Failures follow the crate's one rule ([`retry`](crate::runtime::retry)): an unavailable database
//! (checking the lease or catching up) makes the loop back off, longer while it lasts, without
//! counting anything against an event; an event the target keeps failing on is its policy's
//! (the catch-up says when to try it again); any other error ends the run, logged.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bson::{Document, doc};
use futures::StreamExt;
use futures::future::BoxFuture;
use mongodb::change_stream::ChangeStream;
use mongodb::change_stream::event::ChangeStreamEvent;

use crate::error::{Error, Result};
use crate::event_store::{BURNT_POSITIONS, EVENTS, EventStore};
use crate::runtime::lease::Leader;
use crate::runtime::retry::{Backoff, Streak, log_stop};
use crate::store::connection::Connection;

/// A change stream of one collection.
pub(crate) type Changes = ChangeStream<ChangeStreamEvent<Document>>;

/// With a working change stream the timer is only a safety net.
const SAFETY_NET: u32 = 10;

/// How long after a gap's grace period ends the loop looks again.
const GAP_MARGIN: Duration = Duration::from_millis(10);

/// What the loop follows: one catch-up as the leader holding `token`.
pub(crate) trait CatchUp: Send + Sync {
    /// Applies what is new; returns early when `leader` no longer leads, or with the wait
    /// before the event at the head may be tried again.
    fn catch_up<'a>(&'a self, leader: &'a mut Leader, token: i64) -> BoxFuture<'a, Result<Option<Duration>>>;
}

crate::runtime::spawn::stats! {
    /// What the live loop of a runner or subscription did: its waits, wake-ups, leadership and
    /// backoffs ([`RunnerStats::follow`](crate::projections::RunnerStats::follow),
    /// [`SubscriptionStats::follow`](crate::runtime::SubscriptionStats::follow)).
    pub struct FollowStats {
        /// Times the loop caught up and started waiting for news.
        waits,
        /// Wake-ups by the change stream.
        change_stream_wakeups,
        /// Wake-ups by the polling timer.
        poll_wakeups,
        /// Times the change stream failed (or could not be opened) and polling took over.
        fallbacks,
        /// Times this replica took the lease and became the leader.
        leaderships,
        /// Times it found its lease taken over by another replica.
        leases_lost,
        /// Times it stood by because another replica leads.
        standby_waits,
        /// Waits because the database (or a subscription handler's destination) was
        /// unavailable (nothing counted against an event).
        backoffs,
    }
}

/// The loop's settings.
pub(crate) struct Follow<'a> {
    pub(crate) connection: &'a Connection,
    pub(crate) events: &'a EventStore,
    /// `projection` or `subscription` (logs and metrics).
    pub(crate) kind: &'static str,
    pub(crate) name: &'a str,
    pub(crate) poll: Duration,
    pub(crate) change_stream: bool,
    /// The waits while the database is unavailable.
    pub(crate) unavailable: Backoff,
    pub(crate) stats: &'a FollowStats,
}

impl Follow<'_> {
    /// Runs until `shutdown` completes, then releases the lease (also after an error).
    pub(crate) async fn run(
        &self,
        leader: &mut Leader,
        target: &impl CatchUp,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        if leader.lease().period().is_zero() {
            return Err(Error::InvalidArgument {
                operation: "lease_period",
                argument: "period",
                message: "must be at least 1 ms".into(),
            });
        }
        let result = self.lead_or_stand_by(leader, target, shutdown).await;
        if let Err(err) = &result {
            log_stop(self.kind, self.name, err);
        }
        if let Err(err) = leader.release().await {
            tracing::warn!(name = self.name, error = %err, "lease not released; it expires");
        }
        result
    }

    async fn lead_or_stand_by(
        &self,
        leader: &mut Leader,
        target: &impl CatchUp,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        tokio::pin!(shutdown);
        let mut changes: Option<Changes> = None;
        let mut watch_again_at = Instant::now();
        let mut leading = false;
        let mut streak = Streak::new(self.kind, self.name, self.unavailable);
        loop {
            if leader.is_stopping() {
                return Ok(());
            }
            let token = match leader.ensure().await {
                Ok(token) => token,
                Err(err) if err.is_unavailable() => {
                    let wait = self.back_off(&mut streak, &err);
                    tokio::select! {
                        () = &mut shutdown => return Ok(()),
                        () = tokio::time::sleep(wait) => continue,
                    }
                }
                Err(err) => return Err(err),
            };
            match (token.is_some(), leading) {
                (true, false) => self.stats.leaderships.bump(),
                (false, true) => self.stats.leases_lost.bump(),
                _ => {}
            }
            leading = token.is_some();
            let Some(token) = token else {
                changes = None;
                self.stats.standby_waits.bump();
                tokio::select! {
                    () = &mut shutdown => return Ok(()),
                    () = tokio::time::sleep(self.poll.min(leader.lease().period())) => continue,
                }
            };
            // Opened before catching up: what commits after this point wakes us.
            if self.change_stream && changes.is_none() && Instant::now() >= watch_again_at {
                match self.watch().await {
                    Ok(stream) => changes = Some(stream),
                    Err(err) => {
                        self.fall_back(&err);
                        watch_again_at = Instant::now() + self.poll * SAFETY_NET;
                    }
                }
            }
            // A stop asked for meanwhile ends the catch-up after the batch in hand.
            let (caught_up, stopping) = catch_up_or_stop(leader, target, token, shutdown.as_mut()).await;
            // Set when only the timer may end the wait: a backoff, or a failing event's retry.
            // A catch-up that went through ends a streak, even when a stop follows it.
            if caught_up.is_ok() {
                streak.ok();
            }
            let hold = match caught_up {
                Err(err) if !err.is_unavailable() => return Err(err),
                _ if stopping => return Ok(()),
                Ok(retry_in) => retry_in,
                Err(err) => Some(self.back_off(&mut streak, &err)),
            };
            if leader.token().is_none() {
                continue;
            }
            let timer = if changes.is_some() { self.poll * SAFETY_NET } else { self.poll };
            // A gap the catch-up stopped at may be given up before anything is inserted.
            let timer = self.events.next_gap_expiry().map_or(timer, |expiry| timer.min(expiry + GAP_MARGIN));
            let timer = hold.unwrap_or(timer);
            // The lease is renewed on time even when nothing happens.
            let timer = timer.min(leader.renew_in());
            self.stats.waits.bump();
            let watching = hold.is_none();
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                change = next_change(&mut changes), if watching => match change {
                    Some(Ok(_)) => self.stats.change_stream_wakeups.bump(),
                    Some(Err(err)) => {
                        // Includes a resume that failed because the history is gone: the
                        // positions, not the stream, say what to read, so polling is safe.
                        self.fall_back(&err.into());
                        changes = None;
                        watch_again_at = Instant::now() + self.poll * SAFETY_NET;
                    }
                    None => changes = None,
                },
                () = tokio::time::sleep(timer) => self.stats.poll_wakeups.bump(),
            }
        }
    }

    /// One more wait of a backoff streak (logged and counted).
    fn back_off(&self, streak: &mut Streak, err: &Error) -> Duration {
        self.stats.backoffs.bump();
        streak.wait(err)
    }

    /// New events, and tombstones of burnt positions (a reader waiting at one may go on).
    async fn watch(&self) -> Result<Changes> {
        let inserts = doc! { "$match": { "operationType": "insert", "ns.coll": { "$in": [EVENTS, BURNT_POSITIONS] } } };
        Ok(self.connection.database().watch().pipeline([inserts]).await?)
    }

    fn fall_back(&self, err: &Error) {
        self.stats.fallbacks.bump();
        tracing::warn!(name = self.name, error = %err, "change stream unavailable; polling");
    }
}

/// One catch-up of `target`, while watching `shutdown`: once it completes (or the leader's
/// stop flag is set directly, by a spawned loop's handle), the leader answers "not leading" to
/// the catch-up's next question (between batches), so the batch in hand commits and the
/// catch-up returns. Its outcome, and whether the stop was asked for.
async fn catch_up_or_stop(
    leader: &mut Leader,
    target: &impl CatchUp,
    token: i64,
    mut shutdown: Pin<&mut impl Future<Output = ()>>,
) -> (Result<Option<Duration>>, bool) {
    let stop = leader.stopping();
    let mut catch_up = target.catch_up(leader, token);
    let mut signalled = false;
    loop {
        tokio::select! {
            outcome = &mut catch_up => return (outcome, stop.load(Ordering::Relaxed)),
            () = &mut shutdown, if !signalled => {
                signalled = true;
                stop.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// The next change, or never when there is no stream.
pub(crate) async fn next_change(
    changes: &mut Option<Changes>,
) -> Option<mongodb::error::Result<ChangeStreamEvent<Document>>> {
    match changes {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

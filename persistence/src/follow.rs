//! The live loop shared by the projection runner and subscriptions: lead (or stand by), catch
//! up, then sleep until a change stream on `domain_events` (or, without one, a timer) says
//! there may be new events.
//!
//! Events are always read by position, so a missed or spurious wake-up only costs latency. A
//! replica that does not hold the lease neither reads nor watches: it checks the lease every
//! poll interval. The leader renews its lease between batches and while it waits.
//!
//! Failures follow the crate's one rule ([`retry`](crate::retry)): an unavailable database
//! (checking the lease or catching up) makes the loop back off, longer while it lasts, without
//! counting anything against an event; an event the target keeps failing on is its policy's
//! (the catch-up says when to try it again); any other error ends the run, logged.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bson::{Document, doc};
use futures::StreamExt;
use futures::future::BoxFuture;
use mongodb::change_stream::ChangeStream;
use mongodb::change_stream::event::ChangeStreamEvent;

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::event_store::{BURNT_POSITIONS, EVENTS, EventStore};
use crate::lease::Leader;
use crate::retry::{Backoff, Streak, log_stop};

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

/// The counters the loop keeps (fields of the runner's or subscription's stats).
pub(crate) struct Counters<'a> {
    pub(crate) waits: &'a AtomicU64,
    pub(crate) change_stream_wakeups: &'a AtomicU64,
    pub(crate) poll_wakeups: &'a AtomicU64,
    pub(crate) fallbacks: &'a AtomicU64,
    pub(crate) leaderships: &'a AtomicU64,
    pub(crate) leases_lost: &'a AtomicU64,
    pub(crate) standby_waits: &'a AtomicU64,
    pub(crate) backoffs: &'a AtomicU64,
}

/// The [`Counters`] of a stats struct that has fields of the same names (the runner's and a
/// subscription's).
macro_rules! counters_of {
    ($stats:expr) => {{
        let stats = $stats;
        $crate::follow::Counters {
            waits: &stats.waits,
            change_stream_wakeups: &stats.change_stream_wakeups,
            poll_wakeups: &stats.poll_wakeups,
            fallbacks: &stats.fallbacks,
            leaderships: &stats.leaderships,
            leases_lost: &stats.leases_lost,
            standby_waits: &stats.standby_waits,
            backoffs: &stats.backoffs,
        }
    }};
}
pub(crate) use counters_of;

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
    pub(crate) counters: Counters<'a>,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
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
                (true, false) => bump(self.counters.leaderships),
                (false, true) => bump(self.counters.leases_lost),
                _ => {}
            }
            leading = token.is_some();
            let Some(token) = token else {
                changes = None;
                bump(self.counters.standby_waits);
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
            // Set when only the timer may end the wait: a backoff, or a failing event's retry.
            let hold = match target.catch_up(leader, token).await {
                Ok(retry_in) => {
                    streak.ok();
                    retry_in
                }
                Err(err) if err.is_unavailable() => Some(self.back_off(&mut streak, &err)),
                Err(err) => return Err(err),
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
            bump(self.counters.waits);
            let watching = hold.is_none();
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                change = next_change(&mut changes), if watching => match change {
                    Some(Ok(_)) => bump(self.counters.change_stream_wakeups),
                    Some(Err(err)) => {
                        // Includes a resume that failed because the history is gone: the
                        // positions, not the stream, say what to read, so polling is safe.
                        self.fall_back(&err.into());
                        changes = None;
                        watch_again_at = Instant::now() + self.poll * SAFETY_NET;
                    }
                    None => changes = None,
                },
                () = tokio::time::sleep(timer) => bump(self.counters.poll_wakeups),
            }
        }
    }

    /// One more wait of a backoff streak (logged and counted).
    fn back_off(&self, streak: &mut Streak, err: &Error) -> Duration {
        bump(self.counters.backoffs);
        streak.wait(err)
    }

    /// New events, and tombstones of burnt positions (a reader waiting at one may go on).
    async fn watch(&self) -> Result<Changes> {
        let inserts = doc! { "$match": { "operationType": "insert", "ns.coll": { "$in": [EVENTS, BURNT_POSITIONS] } } };
        Ok(self.connection.database().watch().pipeline([inserts]).await?)
    }

    fn fall_back(&self, err: &Error) {
        bump(self.counters.fallbacks);
        tracing::warn!(name = self.name, error = %err, "change stream unavailable; polling");
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

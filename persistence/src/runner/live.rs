//! The live loop: catch up, then sleep until a change stream (or, without one, a timer) says
//! there may be new events.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bson::{Document, doc};
use futures::StreamExt;
use mongodb::change_stream::ChangeStream;
use mongodb::change_stream::event::ChangeStreamEvent;

use super::{Projection, ProjectionRunner, Targets};
use crate::error::{Error, Result};
use crate::event_store::EVENTS;
use crate::lease::Leader;

type Changes = ChangeStream<ChangeStreamEvent<Document>>;

/// With a working change stream the timer is only a safety net.
const SAFETY_NET: u32 = 10;

/// How long after a gap's grace period ends the loop looks again.
const GAP_MARGIN: std::time::Duration = std::time::Duration::from_millis(10);

impl<P: Projection> ProjectionRunner<P> {
    /// Keeps the projection up to date until `shutdown` completes, as one of any number of
    /// replicas: the one holding the checkpoint's lease processes, the others stand by and
    /// check the lease every poll interval. The leader renews its lease between batches and
    /// while it waits; every checkpoint it writes is fenced by its lease token, so a leader
    /// that lost the lease commits nothing more. On return (shutdown or error) the lease is
    /// released, so a stand-by takes over at once; after a crash, within the lease period.
    ///
    /// Driver errors (the server going away, a failover) are logged and retried after the poll
    /// interval. An event `project` keeps failing on is handled by the
    /// [`on_failure`](Self::on_failure) policy (parked by default); with a stopping policy its
    /// error ends the run.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        if self.lease_period.is_zero() {
            return Err(Error::InvalidArgument {
                operation: "ProjectionRunner::lease_period",
                argument: "period",
                message: "must be at least 1 ms".into(),
            });
        }
        let mut leader = Leader::new(self.lease());
        let result = self.lead_or_stand_by(&mut leader, shutdown).await;
        if let Err(err) = leader.release().await {
            tracing::warn!(projection = self.projection.name(), error = %err, "lease not released; it expires");
        }
        result
    }

    async fn lead_or_stand_by(&self, leader: &mut Leader, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        tokio::pin!(shutdown);
        let targets = Targets::live(self.projection.as_ref());
        let mut changes: Option<Changes> = None;
        let mut watch_again_at = Instant::now();
        let mut leading = false;
        loop {
            let token = match leader.ensure().await {
                Ok(token) => token,
                Err(err @ (Error::Driver(_) | Error::Timeout(_))) => {
                    tracing::warn!(projection = self.projection.name(), error = %err, "lease check failed; retrying");
                    tokio::select! {
                        () = &mut shutdown => return Ok(()),
                        () = tokio::time::sleep(self.poll) => continue,
                    }
                }
                Err(err) => return Err(err),
            };
            match (token.is_some(), leading) {
                (true, false) => self.stats.leaderships.fetch_add(1, Ordering::Relaxed),
                (false, true) => self.stats.leases_lost.fetch_add(1, Ordering::Relaxed),
                _ => 0,
            };
            leading = token.is_some();
            let Some(token) = token else {
                // Standing by: no change stream, look at the lease again after a poll interval.
                changes = None;
                self.stats.standby_waits.fetch_add(1, Ordering::Relaxed);
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
            let checkpoint = self.live_checkpoint().fenced(token);
            match self.catch_up_into(&checkpoint, &targets, &mut |_, _| {}, Some(&mut *leader)).await {
                Ok(_) => {}
                Err(err @ (Error::Driver(_) | Error::Timeout(_))) => {
                    tracing::warn!(projection = self.projection.name(), error = %err, "catch-up failed; retrying");
                }
                Err(err) => return Err(err),
            }
            if leader.token().is_none() {
                continue;
            }
            let timer = if changes.is_some() { self.poll * SAFETY_NET } else { self.poll };
            // A gap the catch-up stopped at may be given up before anything is inserted.
            let timer = self.events.next_gap_expiry().map_or(timer, |expiry| timer.min(expiry + GAP_MARGIN));
            // The lease is renewed on time even when nothing happens.
            let timer = timer.min(leader.renew_in());
            self.stats.waits.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                change = next_change(&mut changes) => match change {
                    Some(Ok(_)) => {
                        self.stats.change_stream_wakeups.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Err(err)) => {
                        // Includes a resume that failed because the history is gone: the
                        // positions, not the stream, say what to read, so polling is safe.
                        self.fall_back(&err.into());
                        changes = None;
                        watch_again_at = Instant::now() + self.poll * SAFETY_NET;
                    }
                    None => {
                        changes = None;
                    }
                },
                () = tokio::time::sleep(timer) => {
                    self.stats.poll_wakeups.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    async fn watch(&self) -> Result<Changes> {
        let events = self.connection.database().collection::<Document>(EVENTS);
        Ok(events.watch().pipeline([doc! { "$match": { "operationType": "insert" } }]).await?)
    }

    fn fall_back(&self, err: &Error) {
        self.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(projection = self.projection.name(), error = %err, "change stream unavailable; polling");
    }
}

/// The next change, or never when there is no stream.
async fn next_change(changes: &mut Option<Changes>) -> Option<mongodb::error::Result<ChangeStreamEvent<Document>>> {
    match changes {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

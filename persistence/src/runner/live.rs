//! The live loop: catch up, then sleep until a change stream (or, without one, a timer) says
//! there may be new events.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bson::{Document, doc};
use futures::StreamExt;
use mongodb::change_stream::ChangeStream;
use mongodb::change_stream::event::ChangeStreamEvent;

use super::{Projection, ProjectionRunner};
use crate::error::{Error, Result};
use crate::event_store::EVENTS;

type Changes = ChangeStream<ChangeStreamEvent<Document>>;

/// With a working change stream the timer is only a safety net.
const SAFETY_NET: u32 = 10;

/// How long after a gap's grace period ends the loop looks again.
const GAP_MARGIN: std::time::Duration = std::time::Duration::from_millis(10);

impl<P: Projection> ProjectionRunner<P> {
    /// Keeps the projection up to date until `shutdown` completes. Driver errors (the server
    /// going away, a failover) are logged and retried after the poll interval; other errors
    /// (a projection that cannot map an event) end the run.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        tokio::pin!(shutdown);
        let mut changes: Option<Changes> = None;
        let mut watch_again_at = Instant::now();
        loop {
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
            match self.catch_up().await {
                Ok(_) => {}
                Err(err @ (Error::Driver(_) | Error::Timeout(_))) => {
                    tracing::warn!(projection = self.projection.name(), error = %err, "catch-up failed; retrying");
                }
                Err(err) => return Err(err),
            }
            let timer = if changes.is_some() { self.poll * SAFETY_NET } else { self.poll };
            // A gap the catch-up stopped at may be given up before anything is inserted.
            let timer = self.events.next_gap_expiry().map_or(timer, |expiry| timer.min(expiry + GAP_MARGIN));
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

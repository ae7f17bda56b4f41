//! The relay's loop: rounds of [`OutboxRelay::run_once_with`] woken by a change stream on
//! `outbox_messages` (a polling timer when there is none), backing off while the publisher
//! fails, until shutdown.

use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bson::doc;
use futures::FutureExt;

use super::relay::{ClaimedMessage, OutboxRelay, RelayReport};
use crate::error::{Error, Result};
use crate::follow::{Changes, next_change};

/// Where the relay publishes: a broker, a queue, an HTTP endpoint. `publish_batch` (by default
/// `publish` one message after another) lets a publisher send a whole round at once and wait
/// for the acknowledgements together; it returns one outcome per message, in order.
pub trait Publisher: Send + Sync {
    /// The publisher's own error (stored on the message as its failure text).
    type Error: Display + Send;

    /// Publishes one message; `Ok` only once the destination has accepted it.
    fn publish(&self, message: &ClaimedMessage) -> impl Future<Output = std::result::Result<(), Self::Error>> + Send;

    /// Publishes a round's messages; one outcome per message, in order.
    fn publish_batch(
        &self,
        messages: &[ClaimedMessage],
    ) -> impl Future<Output = Vec<std::result::Result<(), Self::Error>>> + Send {
        async move {
            let mut outcomes = Vec::with_capacity(messages.len());
            for message in messages {
                // Each under the trace its message carries.
                let publish = self.publish(message);
                outcomes.push(crate::telemetry::continue_trace(&message.metadata, "publish", publish).await);
            }
            outcomes
        }
    }
}

/// Counters of a relay's loop (shared by the relay's clones).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct RelayStats {
    /// Rounds run.
    pub rounds: AtomicU64,
    /// Messages marked published.
    pub published: AtomicU64,
    /// Failed attempts scheduled for a retry.
    pub retried: AtomicU64,
    /// Messages parked as dead.
    pub dead: AtomicU64,
    /// Outcomes dropped because another relay had reclaimed the message.
    pub lost_claims: AtomicU64,
    /// Wake-ups by the change stream.
    pub change_stream_wakeups: AtomicU64,
    /// Wake-ups by the timer.
    pub poll_wakeups: AtomicU64,
    /// Times the change stream failed and polling took over.
    pub fallbacks: AtomicU64,
    /// Waits because every attempt of a round failed.
    pub publisher_backoffs: AtomicU64,
}

impl RelayStats {
    fn add(&self, report: &RelayReport) {
        self.rounds.fetch_add(1, Ordering::Relaxed);
        self.published.fetch_add(report.published as u64, Ordering::Relaxed);
        self.retried.fetch_add(report.retried as u64, Ordering::Relaxed);
        self.dead.fetch_add(report.dead as u64, Ordering::Relaxed);
        self.lost_claims.fetch_add(report.lost_claims as u64, Ordering::Relaxed);
    }
}

impl OutboxRelay {
    /// Publishes through `publisher` until `shutdown` completes. A full round is followed by
    /// the next at once; otherwise the loop waits for a new message (change stream) or the
    /// poll interval (which also brings due retries). A round whose every attempt failed makes
    /// the loop back off (doubling from the publisher backoff up to its maximum). A round in
    /// progress when `shutdown` completes is finished (its outcomes recorded, its unattempted
    /// claims handed back), so nothing stays claimed. Driver errors are logged and retried.
    pub async fn run(&self, publisher: &impl Publisher, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        tokio::pin!(shutdown);
        let mut changes: Option<Changes> = None;
        let mut failing_rounds: u32 = 0;
        let mut last_report: Option<std::time::Instant> = None;
        loop {
            if self.change_stream && changes.is_none() {
                match self.outbox.collection.watch().pipeline([doc! { "$match": { "operationType": "insert" } }]).await
                {
                    Ok(stream) => changes = Some(stream),
                    Err(err) => self.fall_back(&err.into()),
                }
            }
            let report = match self.round(publisher).await {
                Ok(report) => report,
                Err(err @ (Error::Driver(_) | Error::Timeout(_) | Error::WriteConflict(_))) => {
                    tracing::warn!(worker = %self.worker, error = %err, "relay round failed; retrying");
                    RelayReport::default()
                }
                Err(err) => return Err(err),
            };
            self.stats.add(&report);
            crate::telemetry::outbox_round(&self.worker, report.published, report.retried, report.dead);
            self.report_backlog(&mut last_report).await;
            let attempted = report.published + report.retried + report.dead;
            failing_rounds = if attempted > 0 && report.published == 0 { failing_rounds + 1 } else { 0 };
            let wait = if failing_rounds > 0 {
                self.stats.publisher_backoffs.fetch_add(1, Ordering::Relaxed);
                let factor = 2_u32.saturating_pow((failing_rounds - 1).min(20));
                self.publisher_backoff.saturating_mul(factor).min(self.max_publisher_backoff)
            } else if attempted + report.lost_claims >= usize::try_from(self.batch).unwrap_or(usize::MAX) {
                // A full round: there may be more right away.
                if shutdown.as_mut().now_or_never().is_some() {
                    return Ok(());
                }
                continue;
            } else if changes.is_some() {
                self.poll * 10
            } else {
                self.poll
            };
            // While the publisher fails, only the timer (or shutdown) ends the wait.
            let watching = failing_rounds == 0;
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                change = next_change(&mut changes), if watching => match change {
                    Some(Ok(_)) => {
                        self.stats.change_stream_wakeups.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Err(err)) => {
                        self.fall_back(&err.into());
                        changes = None;
                    }
                    None => changes = None,
                },
                () = tokio::time::sleep(wait) => {
                    self.stats.poll_wakeups.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// The backlog gauges, at most once a second.
    async fn report_backlog(&self, last: &mut Option<std::time::Instant>) {
        if last.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
            return;
        }
        *last = Some(std::time::Instant::now());
        if let Ok(backlog) = self.outbox.backlog().await {
            crate::telemetry::outbox_backlog(backlog.pending, backlog.oldest_age.as_secs_f64());
        }
    }

    fn fall_back(&self, err: &Error) {
        self.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(worker = %self.worker, error = %err, "outbox change stream unavailable; polling");
    }

    /// How often the loop looks for messages without a change stream (1 s; ten times that as
    /// the safety net with one).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    /// Polls only (no change stream).
    pub fn without_change_stream(mut self) -> Self {
        self.change_stream = false;
        self
    }

    /// The wait after a round whose every attempt failed, doubled for each further such round
    /// up to `max` (default 500 ms up to 30 s).
    pub fn publisher_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.publisher_backoff = initial;
        self.max_publisher_backoff = max;
        self
    }

    /// The loop's counters.
    pub fn stats(&self) -> &RelayStats {
        &self.stats
    }
}

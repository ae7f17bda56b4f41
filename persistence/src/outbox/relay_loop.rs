//! The relay's loop: rounds of [`OutboxRelay::run_once_with`] woken by a change stream on
//! `outbox_messages` (a polling timer when there is none), backing off while the publisher
//! fails, until shutdown.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bson::doc;
use futures::FutureExt;

use super::relay::{ClaimedMessage, OutboxRelay, RelayReport};
use crate::error::{Error, Result};
use crate::follow::{Changes, next_change};
use crate::retry::{BoxError, Streak, log_stop};

/// Where the relay publishes: a broker, a queue, an HTTP endpoint. `publish_batch` (by default
/// `publish` one message after another) lets a publisher send a whole round at once and wait
/// for the acknowledgements together; it returns one outcome per message, in order.
pub trait Publisher: Send + Sync {
    /// The publisher's own error (stored on the message as its failure text). Wrap it in
    /// [`Unavailable`](crate::Unavailable) when the broker itself is down rather than refusing
    /// this message: the relay then hands the message back without counting an attempt and
    /// backs off.
    type Error: Into<BoxError> + Send;

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
    /// Waits because the database or the publisher's destination was unavailable.
    pub backoffs: AtomicU64,
    /// Messages handed back because the publisher's destination was unavailable.
    pub unavailable: AtomicU64,
}

impl RelayStats {
    fn add(&self, report: &RelayReport) {
        self.rounds.fetch_add(1, Ordering::Relaxed);
        self.published.fetch_add(report.published as u64, Ordering::Relaxed);
        self.retried.fetch_add(report.retried as u64, Ordering::Relaxed);
        self.dead.fetch_add(report.dead as u64, Ordering::Relaxed);
        self.lost_claims.fetch_add(report.lost_claims as u64, Ordering::Relaxed);
        self.unavailable.fetch_add(report.unavailable as u64, Ordering::Relaxed);
    }
}

impl OutboxRelay {
    /// Publishes through `publisher` until `shutdown` completes. A full round is followed by
    /// the next at once; otherwise the loop waits for a new message (change stream) or the
    /// poll interval (which also brings due retries). A round in progress when `shutdown`
    /// completes is finished (its outcomes recorded, its unattempted claims handed back), so
    /// nothing stays claimed.
    ///
    /// Failures follow the crate's one rule: while the database is unavailable, or the
    /// publisher says its destination is ([`Unavailable`](crate::Unavailable)), the loop backs
    /// off ([`on_unavailable`](Self::on_unavailable)) without counting an attempt against any
    /// message; a message the publisher refuses goes through the
    /// [`on_failure`](Self::on_failure) policy (retried, then parked as dead, or the run ends
    /// with [`Error::Handler`]); any other error ends the run.
    pub async fn run(&self, publisher: &impl Publisher, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        let result = self.relay(publisher, shutdown).await;
        if let Err(err) = &result {
            log_stop("relay", &self.worker, err);
        }
        result
    }

    async fn relay(&self, publisher: &impl Publisher, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        tokio::pin!(shutdown);
        let mut changes: Option<Changes> = None;
        let mut streak = Streak::new("relay", &self.worker, self.unavailable);
        let mut last_report: Option<std::time::Instant> = None;
        loop {
            if self.change_stream && changes.is_none() {
                match self.outbox.collection.watch().pipeline([doc! { "$match": { "operationType": "insert" } }]).await
                {
                    Ok(stream) => changes = Some(stream),
                    Err(err) => self.fall_back(&err.into()),
                }
            }
            let (report, unavailable) = match self.round(publisher).await {
                Ok(round) if round.stop.is_some() => {
                    self.stats.add(&round.report);
                    return Err(round.stop.unwrap_or(Error::BackgroundTaskStopped { task: "relay" }));
                }
                Ok(round) => (round.report, round.unavailable),
                Err(err) if err.is_unavailable() => (RelayReport::default(), Some(err)),
                Err(err) => return Err(err),
            };
            self.stats.add(&report);
            crate::telemetry::outbox_round(&self.worker, report.published, report.retried, report.dead);
            self.report_backlog(&mut last_report).await;
            let attempted = report.published + report.retried + report.dead;
            let wait = if let Some(err) = &unavailable {
                self.stats.backoffs.fetch_add(1, Ordering::Relaxed);
                Some(streak.wait(err))
            } else {
                streak.ok();
                None
            };
            let wait = match wait {
                Some(wait) => wait,
                None if attempted + report.lost_claims >= usize::try_from(self.batch).unwrap_or(usize::MAX) => {
                    // A full round: there may be more right away.
                    if shutdown.as_mut().now_or_never().is_some() {
                        return Ok(());
                    }
                    continue;
                }
                None if changes.is_some() => self.poll * 10,
                None => self.poll,
            };
            // While backing off, only the timer (or shutdown) ends the wait.
            let watching = streak.waits() == 0;
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

    /// The loop's counters.
    pub fn stats(&self) -> &RelayStats {
        &self.stats
    }
}

//! The relay's loop: rounds of [`OutboxRelay::run_once_with`] woken by a change stream on
//! `outbox_messages` (a polling timer when there is none), backing off while the publisher
//! fails, until shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bson::doc;
use futures::FutureExt;

use super::relay::{ClaimedMessage, OutboxRelay, RelayReport};
use crate::error::{Error, Result};
use crate::runtime::follow::{Changes, next_change};
use crate::runtime::retry::{BoxError, Streak, log_stop};
use crate::runtime::spawn::Running;

/// Where the relay publishes: a broker, a queue, an HTTP endpoint. `publish_batch` (by default
/// `publish` one message after another) lets a publisher send a whole round at once and wait
/// for the acknowledgements together; it returns one outcome per message, in order.
pub trait Publisher: Send + Sync {
    /// The publisher's own error (stored on the message as its failure text). Wrap it in
    /// [`Unavailable`](crate::runtime::Unavailable) when the broker itself is down rather than refusing
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

/// A publisher shared with other code (a relay's [`spawn`](OutboxRelay::spawn) takes it by
/// value).
impl<P: Publisher> Publisher for Arc<P> {
    type Error = P::Error;

    fn publish(&self, message: &ClaimedMessage) -> impl Future<Output = std::result::Result<(), Self::Error>> + Send {
        self.as_ref().publish(message)
    }

    fn publish_batch(
        &self,
        messages: &[ClaimedMessage],
    ) -> impl Future<Output = Vec<std::result::Result<(), Self::Error>>> + Send {
        self.as_ref().publish_batch(messages)
    }
}

crate::runtime::spawn::stats! {
    /// Counters of a relay's loop (shared by the relay's clones), read through methods
    /// ([`OutboxRelay::stats`], also through its [`Running`] handle):
    /// `relay.stats().published()`.
    pub struct RelayStats {
        /// Rounds run.
        rounds,
        /// Messages marked published.
        published,
        /// Failed attempts scheduled for a retry.
        retried,
        /// Messages parked as dead.
        dead,
        /// Outcomes dropped because another relay had reclaimed the message.
        lost_claims,
        /// Wake-ups by the change stream.
        change_stream_wakeups,
        /// Wake-ups by the timer.
        poll_wakeups,
        /// Times the change stream failed and polling took over.
        fallbacks,
        /// Waits because the database or the publisher's destination was unavailable.
        backoffs,
        /// Messages handed back because the publisher's destination was unavailable.
        unavailable,
    }
}

impl RelayStats {
    fn add(&self, report: &RelayReport) {
        self.rounds.bump();
        self.published.add(report.published as u64);
        self.retried.add(report.retried as u64);
        self.dead.add(report.dead as u64);
        self.lost_claims.add(report.lost_claims as u64);
        self.unavailable.add(report.unavailable as u64);
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
    /// publisher says its destination is ([`Unavailable`](crate::runtime::Unavailable)), the loop backs
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

    /// Runs [`run`](Self::run) with `publisher` in a task of its own and returns its handle:
    /// [`stop`](Running::stop) ends it after the round in hand (its outcomes recorded, its
    /// unattempted claims handed back), [`abort`](Running::abort) kills it where it is (its
    /// claimed round is published again by another relay once the claims' lease expires),
    /// the handle derefs to the relay (its stats). Dropping the handle stops it as `stop` does,
    /// without waiting. A publisher shared with other code goes in an [`Arc`].
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn spawn(self, publisher: impl Publisher + 'static) -> Running<Self> {
        Running::spawn(
            "outbox relay",
            self,
            |relay, shutdown| async move { relay.run(&publisher, shutdown.signal).await },
        )
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
            // The streak ends (or goes on) before the counts a watcher waits on move.
            let wait = if let Some(err) = &unavailable {
                self.stats.backoffs.bump();
                Some(streak.wait(err))
            } else {
                streak.ok();
                None
            };
            self.stats.add(&report);
            crate::telemetry::outbox_round(&self.worker, report.published, report.retried, report.dead);
            self.report_backlog(&mut last_report).await;
            let attempted = report.published + report.retried + report.dead;
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
                        self.stats.change_stream_wakeups.bump();
                    }
                    Some(Err(err)) => {
                        self.fall_back(&err.into());
                        changes = None;
                    }
                    None => changes = None,
                },
                () = tokio::time::sleep(wait) => {
                    self.stats.poll_wakeups.bump();
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
        self.stats.fallbacks.bump();
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

//! A runner's catch-up: batches of events in position order, each committed together with the
//! checkpoint, and the [`RetryPolicy`](crate::runtime::RetryPolicy) for an event that fails.
//!
//! An event fails when its `project` returns an error or the server refuses one of its writes
//! (an unknown update operator, a document too large, a validator): the batch is cut before it
//! (the events before it commit), and the event, now at the head, is tried again after the
//! policy's backoff; after the last attempt it is parked in `dead_letters` in the same
//! transaction as the checkpoint that moves past it, or the run stops. An unavailable database
//! is not the event's fault: the catch-up ends with that error and the live loop backs off,
//! counting no attempt.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::FutureExt;

use super::checkpoint::Checkpoint;
use super::{Projection, ProjectionRunner, Targets, Write};
use crate::dead_letters::{DeadLetter, DeadLetters};
use crate::error::{Error, Result};
use crate::event_store::StoredEvent;
use crate::runtime::lease::Leader;
use crate::runtime::retry::{AfterRetries, Failing, Verdict};
use crate::telemetry;

/// What a catch-up did.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Events applied.
    pub(crate) applied: u64,
    /// The event at the head failed: try again after this wait.
    pub(crate) retry_in: Option<Duration>,
}

/// Why a batch did not commit.
enum Refused {
    /// The checkpoint moved (another runner, a rebuild, a newer leader).
    Moved,
    /// The event at this index of the batch failed (its writes were refused).
    Event(usize, Error),
    /// Anything else (the database unavailable, a failure of the checkpoint itself).
    Other(Error),
}

/// A write and the index of the event in the batch that caused it.
type Writes = Vec<(Write, usize)>;

impl<P: Projection> ProjectionRunner<P> {
    /// Catch-up into `targets`, checkpointed at `checkpoint`; `on_batch(position, events)`
    /// after each committed batch. Returns early, with the wait, when the event at the head is
    /// to be retried later.
    pub(super) async fn catch_up_into(
        &self,
        checkpoint: &Checkpoint,
        targets: &Targets,
        on_batch: &mut (dyn FnMut(i64, u64) + Send),
        mut leader: Option<&mut Leader>,
        failing: &mut Failing,
    ) -> Result<Progress> {
        Error::at_least_one("ProjectionRunner::batch_size", "events", self.batch)?;
        self.failure.check("ProjectionRunner::on_failure")?;
        if self.transactional && !self.connection.supports_transactions() {
            return Err(Error::TransactionsUnsupported {
                operation: "ProjectionRunner (a batch and its checkpoint commit together)",
                alternative: "use ProjectionRunner::without_transactions(), where the per-document _version guard \
                              makes a re-applied batch a no-op",
            });
        }
        let mut progress = Progress::default();
        let mut saved = checkpoint.read().await?;
        loop {
            // A leased runner renews between batches and stops once it no longer leads.
            if let Some(leader) = leader.as_deref_mut()
                && leader.ensure().await?.is_none()
            {
                return Ok(progress);
            }
            if saved.paused {
                self.stats.paused.bump();
                tracing::info!(checkpoint = checkpoint.key(), "paused by a rebuild; standing by");
                return Ok(progress);
            }
            let after = saved.position;
            let events = self.events.read_all(after, self.batch).await?;
            let Some(head) = events.first() else { return Ok(progress) };
            if let Some(wait) = failing.wait_for(&head.event_id) {
                progress.retry_in = Some(wait);
                return Ok(progress);
            }
            match self.commit_until_failure(checkpoint, targets, after, &events).await {
                Ok(end) => {
                    let committed = &events[..end];
                    failing.done(&head.event_id);
                    saved.position = committed.last().map_or(after, |e| e.position);
                    self.count_batch(committed, on_batch, &mut progress);
                }
                Err(Refused::Moved) => {
                    self.stats.checkpoint_moves.bump();
                    // Fenced: moved may mean "no longer the leader"; ask the lease at once.
                    if let Some(leader) = leader.as_deref_mut()
                        && checkpoint.is_fenced()
                        && leader.refresh().await?.is_none()
                    {
                        return Ok(progress);
                    }
                    saved = checkpoint.read().await?;
                }
                Err(Refused::Other(err)) => return Err(err),
                Err(Refused::Event(_, err)) if err.is_unavailable() => return Err(err),
                Err(Refused::Event(_, err)) => {
                    let head = &events[0];
                    match failing.failed(&head.event_id, &self.failure) {
                        Verdict::RetryIn(wait, attempt) => {
                            self.stats.retries.bump();
                            telemetry::consumer_retry("projection", self.projection.name());
                            tracing::warn!(projection = self.projection.name(), event_id = %head.event_id, attempt,
                                retry_in_ms = wait.as_millis() as u64, error = %crate::runtime::retry::chain(&err), "event failed; retrying");
                            progress.retry_in = Some(wait);
                            return Ok(progress);
                        }
                        Verdict::GiveUp(attempts) if self.failure.then() == AfterRetries::Park => {
                            let letter = DeadLetter::new(
                                self.projection.name(),
                                head,
                                &crate::runtime::retry::chain(&err),
                                attempts,
                            );
                            let head = std::slice::from_ref(head);
                            match self.apply_batch(checkpoint, targets, after, head, &Vec::new(), Some(&letter)).await {
                                Ok(()) => {
                                    saved.position = head[0].position;
                                    self.stats.parked.bump();
                                    telemetry::consumer_parked("projection", self.projection.name(), 1);
                                }
                                Err(Refused::Moved) => saved = checkpoint.read().await?,
                                Err(Refused::Event(_, err) | Refused::Other(err)) => return Err(err),
                            }
                        }
                        Verdict::GiveUp(_) => {
                            return Err(Error::handler(self.projection.name(), &head.event_id, err));
                        }
                    }
                }
            }
        }
    }

    /// Commits the batch, or, when an event of it fails (its `project`, or a write the server
    /// refuses), the events before it: how many committed (at least one), or the failure of
    /// the first event.
    async fn commit_until_failure(
        &self,
        checkpoint: &Checkpoint,
        targets: &Targets,
        after: i64,
        events: &[StoredEvent],
    ) -> std::result::Result<usize, Refused> {
        let (mut writes, failed) = self.project_batch(events);
        let (mut end, mut failure) = match failed {
            Some((index, err)) => (index, Some(err)),
            None => (events.len(), None),
        };
        loop {
            if end == 0 {
                return Err(Refused::Event(0, failure.unwrap_or(Error::BackgroundTaskStopped { task: "runner" })));
            }
            match self.apply_batch(checkpoint, targets, after, &events[..end], &writes, None).await {
                Ok(()) => return Ok(end),
                // The events before the failing one commit without it (the writes they caused
                // are known: nothing is projected twice).
                Err(Refused::Event(index, err)) if !err.is_unavailable() => {
                    writes.retain(|(_, of)| *of < index);
                    (end, failure) = (index, Some(err));
                }
                Err(other) => return Err(other),
            }
        }
    }

    fn count_batch(
        &self,
        events: &[StoredEvent],
        on_batch: &mut (dyn FnMut(i64, u64) + Send),
        progress: &mut Progress,
    ) {
        let (count, last) = (events.len() as u64, events.last().map_or(0, |e| e.position));
        progress.applied += count;
        self.stats.events.add(count);
        self.stats.batches.bump();
        on_batch(last, count);
    }

    /// Every event's writes, each tagged with its event's index, up to the first event whose
    /// `project` fails (its index and error).
    fn project_batch(&self, events: &[StoredEvent]) -> (Writes, Option<(usize, Error)>) {
        let mut writes = Vec::new();
        for (index, event) in events.iter().enumerate() {
            match telemetry::in_trace(&event.metadata, "project", || self.projection.project(event)) {
                Ok(produced) => writes.extend(produced.into_iter().map(|write| (write, index))),
                Err(err) => return (writes, Some((index, err))),
            }
        }
        (writes, None)
    }

    /// One batch: every write, the parked letter if any, then the checkpoint from `after` to
    /// the batch's last position, in one transaction (unless disabled).
    async fn apply_batch(
        &self,
        checkpoint: &Checkpoint,
        targets: &Targets,
        after: i64,
        events: &[StoredEvent],
        writes: &Writes,
        parked: Option<&DeadLetter>,
    ) -> std::result::Result<(), Refused> {
        let last = events.last().map_or(after, |e| e.position);
        let dead_letters = DeadLetters::new(&self.connection);
        // The index of the event whose write failed in the last attempt.
        let failed_at = AtomicUsize::new(usize::MAX);
        let result = if self.transactional {
            let context = (self, checkpoint, targets, events, writes, parked, &dead_letters, &failed_at);
            self.connection
                .transaction_with(context, |uow, context| {
                    let (runner, checkpoint, targets, events, writes, parked, dead_letters, failed_at) = *context;
                    async move {
                        failed_at.store(usize::MAX, Ordering::Relaxed);
                        let mut guard = uow.session().await;
                        let Some(session) = guard.get() else {
                            return Err(Error::needs_transaction("ProjectionRunner"));
                        };
                        runner.write_all(targets, events, writes, Some(&mut *session), failed_at).await?;
                        if let Some(letter) = parked {
                            dead_letters.park(letter, Some(&mut *session)).await?;
                        }
                        checkpoint.advance(after, last, Some(session)).await
                    }
                    .boxed()
                })
                .await
        } else {
            async {
                self.write_all(targets, events, writes, None, &failed_at).await?;
                if let Some(letter) = parked {
                    dead_letters.park(letter, None).await?;
                }
                checkpoint.advance(after, last, None).await
            }
            .await
        };
        match result {
            Ok(()) => Ok(()),
            Err(err) if checkpoint.is_moved(&err) => Err(Refused::Moved),
            Err(err) => match failed_at.load(Ordering::Relaxed) {
                usize::MAX => Err(Refused::Other(err)),
                index => Err(Refused::Event(index, err)),
            },
        }
    }

    /// The writes in order; on a failure, records the index of the event that caused it.
    async fn write_all(
        &self,
        targets: &Targets,
        events: &[StoredEvent],
        writes: &Writes,
        mut session: Option<&mut mongodb::ClientSession>,
        failed_at: &AtomicUsize,
    ) -> Result<()> {
        let (database, tenant) = (self.connection.database(), self.tenant.as_ref());
        for (write, index) in writes {
            let event = &events[*index];
            let applied =
                write.apply(database, targets, tenant, event.position, &event.event_id, session.as_deref_mut()).await;
            if let Err(err) = applied {
                failed_at.store(*index, Ordering::Relaxed);
                return Err(err);
            }
        }
        Ok(())
    }
}

//! A projection that fails on an event: retried by the runner's [`FailurePolicy`], then parked
//! (or the run stops); parked events retried or skipped later.

use std::sync::atomic::Ordering;

use futures::FutureExt;

use super::{Projection, ProjectionRunner, Targets, Write};
use crate::dead_letters::{AfterRetries, DeadLetter, DeadLetterStatus, DeadLetters};
use crate::error::{Error, Result};
use crate::event_store::StoredEvent;
use crate::telemetry;

impl<P: Projection> ProjectionRunner<P> {
    /// The event's writes, trying `project` up to the policy's attempts. `Err` holds the dead
    /// letter when the policy parks; when it stops, the error ends the batch instead (as
    /// [`ParkOrStop::Stop`]).
    pub(super) async fn project_with_retries(
        &self,
        event: &StoredEvent,
    ) -> std::result::Result<Vec<Write>, ParkOrStop> {
        let attempts = self.failure.attempts().max(1);
        let mut attempt = 1;
        loop {
            match telemetry::in_trace(&event.metadata, "project", || self.projection.project(event)) {
                Ok(writes) => return Ok(writes),
                Err(err) if attempt < attempts => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    telemetry::consumer_retry("projection", self.projection.name());
                    tracing::warn!(projection = self.projection.name(), event_id = %event.event_id, attempt, error = %err, "project failed; retrying");
                    tokio::time::sleep(self.failure.delay(attempt)).await;
                    attempt += 1;
                }
                Err(err) => {
                    return Err(match self.failure.then() {
                        AfterRetries::Park => ParkOrStop::Park(Box::new(DeadLetter::new(
                            self.projection.name(),
                            event,
                            &err.to_string(),
                            attempt,
                        ))),
                        _ => ParkOrStop::Stop(Box::new(err)),
                    });
                }
            }
        }
    }

    /// Projects a parked event again. When `project` now succeeds its writes are applied with
    /// the usual per-document `_version` guard (so a document a later event already changed
    /// keeps the later state, exactly as if the event had never failed) and the letter is
    /// marked retried, in one transaction; `Ok(false)` when no such event is parked here. A
    /// failure adds one attempt to the letter and is returned.
    pub async fn retry_parked(&self, event_id: &str) -> Result<bool> {
        let dead_letters = DeadLetters::new(&self.connection);
        let name = self.projection.name();
        let parked = dead_letters.get(name, event_id).await?;
        if parked.is_none_or(|letter| letter.status != DeadLetterStatus::Parked) {
            return Ok(false);
        }
        let Some(event) = self.events.event(event_id).await? else {
            return Err(Error::NotFound { what: format!("event {event_id} (parked by {name})") });
        };
        let writes = match self.projection.project(&event) {
            Ok(writes) => writes,
            Err(err) => {
                dead_letters.failed_again(name, event_id, &err.to_string(), 1).await?;
                return Err(err);
            }
        };
        let targets = Targets::live(self.projection.as_ref());
        let context = (self, &targets, &writes, &event, &dead_letters);
        self.connection
            .transaction_with(context, |uow, &mut (runner, targets, writes, event, dead_letters)| {
                async move {
                    let (database, tenant) = (runner.connection.database(), runner.tenant.as_ref());
                    let mut guard = uow.session().await;
                    let mut session = guard.get();
                    for write in writes {
                        let session = session.as_deref_mut();
                        write.apply(database, targets, tenant, event.position, &event.event_id, session).await?;
                    }
                    let name = runner.projection.name();
                    dead_letters.resolve(name, &event.event_id, DeadLetterStatus::Retried, 1, session).await
                }
                .boxed()
            })
            .await
    }

    /// Marks a parked event skipped (its writes are never applied); `false` when it is not
    /// parked here.
    pub async fn skip_parked(&self, event_id: &str) -> Result<bool> {
        DeadLetters::new(&self.connection).skip(self.projection.name(), event_id).await
    }
}

/// What became of an event `project` kept failing on.
pub(super) enum ParkOrStop {
    /// Parked (the batch goes on without it).
    Park(Box<DeadLetter>),
    /// The run stops with this error.
    Stop(Box<Error>),
}

//! Events a runner parked (see [`batch`](super::batch) for how an event gets there): retried
//! or skipped later.

use futures::FutureExt;

use super::{Projection, ProjectionRunner, Targets};
use crate::dead_letters::{DeadLetterStatus, DeadLetters};
use crate::error::{Error, Result};

impl<P: Projection> ProjectionRunner<P> {
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
        let Some(event) = self.events.event(event_id, crate::store::uow::Alone).await? else {
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

//! The projection runner: feeds a [`Projection`] the event store's events in position order,
//! from its saved position, and commits each batch's read-model writes **together with the new
//! position in one transaction**, so a crash never applies an event twice or skips one.
//!
//! - [`ProjectionRunner::catch_up`] pages `read_all` from the saved position to the head.
//! - [`ProjectionRunner::run`] catches up, then waits: a change stream on `domain_events` wakes
//!   it as soon as events are committed; when the change stream fails (or its history is lost)
//!   it falls back to polling and tries the change stream again later. Either way the events
//!   themselves are read by position, so a missed wake-up only costs latency.
//! - [`ProjectionRunner::rebuild`] replays everything into fresh `<collection>_v<N>`
//!   collections, then renames them over the live ones and moves the position, reporting
//!   progress through a callback.
//!
//! The saved position is the legacy `projection_checkpoints` document, advanced with a
//! compare-and-set on the previous value inside the batch transaction: two runners of one
//! projection cannot both apply a batch. Each write is also guarded per document by `_version`
//! (the position of the last event applied), so re-applying an event is a no-op.

mod live;
mod rebuild;
mod write;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bson::{Bson, DateTime, Document, doc};
use futures::FutureExt;
use mongodb::ClientSession;

pub use rebuild::{RebuildProgress, RebuildReport};
pub use write::Write;

use crate::connection::Connection;
use crate::error::{Error, Result, is_duplicate_key};
use crate::event_store::{EventStore, StoredEvent};
use crate::snapshots::{CHECKPOINTS, PositionStore};

/// A read model built from events. `project` must be a pure function of the event: the runner
/// may call it again for the same event when a transaction is retried.
pub trait Projection: Send + Sync + 'static {
    /// The projection's name (its checkpoint id).
    fn name(&self) -> &str;
    /// The collections it writes (replaced as a whole by a rebuild).
    fn collections(&self) -> Vec<String>;
    /// The writes one event causes (often one, possibly none or many).
    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>>;
    /// Indexes on its collections (a rebuild creates them on the new collections before the
    /// swap).
    fn indexes(&self) -> Vec<crate::indexes::IndexSpec> {
        Vec::new()
    }
}

/// Projections chosen at run time (a CLI's registry) run like any other.
impl Projection for Box<dyn Projection> {
    fn name(&self) -> &str {
        self.as_ref().name()
    }

    fn collections(&self) -> Vec<String> {
        self.as_ref().collections()
    }

    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>> {
        self.as_ref().project(event)
    }

    fn indexes(&self) -> Vec<crate::indexes::IndexSpec> {
        self.as_ref().indexes()
    }
}

/// Counters of what a runner did, for monitoring and tests.
#[derive(Debug, Default)]
pub struct RunnerStats {
    /// Events applied.
    pub events: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Times the live loop caught up and started waiting for news.
    pub waits: AtomicU64,
    /// Wake-ups by the change stream.
    pub change_stream_wakeups: AtomicU64,
    /// Wake-ups by the polling timer.
    pub poll_wakeups: AtomicU64,
    /// Times the change stream failed (or could not be opened) and polling took over.
    pub fallbacks: AtomicU64,
}

/// Runs one projection.
pub struct ProjectionRunner<P> {
    connection: Connection,
    events: EventStore,
    projection: Arc<P>,
    batch: i64,
    poll: Duration,
    change_stream: bool,
    transactional: bool,
    stats: Arc<RunnerStats>,
}

impl<P: Projection> ProjectionRunner<P> {
    /// A runner with batches of 100 events, a change stream, and a 1 s polling fallback.
    pub fn new(connection: &Connection, events: &EventStore, projection: P) -> Self {
        ProjectionRunner {
            connection: connection.clone(),
            events: events.clone(),
            projection: Arc::new(projection),
            batch: 100,
            poll: Duration::from_secs(1),
            change_stream: true,
            transactional: true,
            stats: Arc::default(),
        }
    }

    /// Events per batch (and per transaction).
    pub fn batch_size(mut self, events: i64) -> Self {
        self.batch = events.max(1);
        self
    }

    /// How often to look for events when there is no working change stream.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    /// Polls only (no change stream).
    pub fn without_change_stream(mut self) -> Self {
        self.change_stream = false;
        self
    }

    /// Applies batches without a transaction: each write and the position are separate
    /// updates. Faster, and a crash can leave a batch half applied; the per-document
    /// `_version` guard then makes the re-applied half a no-op, but writes that are not
    /// idempotent per document lose that guarantee. For benchmarks and trusted projections.
    pub fn without_transactions(mut self) -> Self {
        self.transactional = false;
        self
    }

    /// What the runner has done so far.
    pub fn stats(&self) -> &RunnerStats {
        &self.stats
    }

    /// The projection.
    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// The saved position (0 before the first batch).
    pub async fn position(&self) -> Result<i64> {
        checkpoint(&self.connection, self.projection.name()).await
    }

    /// Applies every event after the saved position up to the latest committed one; returns
    /// how many events it applied.
    pub async fn catch_up(&self) -> Result<u64> {
        let targets = Targets::live(self.projection.as_ref());
        self.catch_up_into(self.projection.name(), &targets, &mut |_, _| {}).await
    }

    /// Catch-up into `targets`, checkpointed as `checkpoint`; `on_batch(position, events)`
    /// after each committed batch.
    async fn catch_up_into(
        &self,
        checkpoint_name: &str,
        targets: &Targets,
        on_batch: &mut (dyn FnMut(i64, u64) + Send),
    ) -> Result<u64> {
        if self.transactional && !self.connection.supports_transactions() {
            return Err(Error::TransactionsUnsupported {
                operation: "ProjectionRunner (a batch and its checkpoint commit together)",
                alternative: "use ProjectionRunner::without_transactions(), where the per-document _version guard \
                              makes a re-applied batch a no-op",
            });
        }
        let mut applied = 0;
        let mut after = checkpoint(&self.connection, checkpoint_name).await?;
        loop {
            let events = self.events.read_all(after, self.batch).await?;
            let Some(last) = events.last().map(|e| e.position) else { return Ok(applied) };
            self.apply_batch(checkpoint_name, targets, after, &events).await?;
            applied += events.len() as u64;
            self.stats.events.fetch_add(events.len() as u64, Ordering::Relaxed);
            self.stats.batches.fetch_add(1, Ordering::Relaxed);
            on_batch(last, events.len() as u64);
            after = last;
        }
    }

    /// One batch: every write of every event, then the checkpoint from `after` to the batch's
    /// last position, in one transaction (unless disabled).
    async fn apply_batch(&self, name: &str, targets: &Targets, after: i64, events: &[StoredEvent]) -> Result<()> {
        let mut writes = Vec::new();
        for event in events {
            for write in self.projection.project(event)? {
                writes.push((write, event.position, event.event_id.as_str()));
            }
        }
        let last = events.last().map_or(after, |e| e.position);
        let database = self.connection.database();
        if !self.transactional {
            for (write, position, event_id) in &writes {
                write.apply(database, targets, *position, event_id, None).await?;
            }
            return advance_checkpoint(&self.connection, name, after, last, None).await;
        }
        let mut session = self.connection.client().start_session().await?;
        let context = (self, name, targets, after, last, &writes);
        session
            .start_transaction()
            .and_run(context, |session, context| {
                let (runner, name, targets, after, last, writes) = *context;
                async move {
                    let database = runner.connection.database();
                    for (write, position, event_id) in writes {
                        write.apply(database, targets, *position, event_id, Some(&mut *session)).await?;
                    }
                    advance_checkpoint(&runner.connection, name, after, last, Some(session)).await
                }
                .map(|result: Result<()>| result.map_err(Error::into_driver))
                .boxed()
            })
            .await
            .map_err(Error::from)
    }
}

/// Where each logical collection of a projection is written.
#[derive(Debug, Clone, Default)]
pub(crate) struct Targets(HashMap<String, String>);

impl Targets {
    fn live<P: Projection>(projection: &P) -> Self {
        Targets(projection.collections().into_iter().map(|c| (c.clone(), c)).collect())
    }

    /// The physical collection for a logical one (itself when the projection did not declare it).
    pub(crate) fn resolve<'a>(&'a self, collection: &'a str) -> &'a str {
        self.0.get(collection).map_or(collection, String::as_str)
    }
}

async fn checkpoint(connection: &Connection, name: &str) -> Result<i64> {
    PositionStore::new(connection).get(name, None).await
}

/// Compare-and-set of the checkpoint from `after` to `to`.
async fn advance_checkpoint(
    connection: &Connection,
    name: &str,
    after: i64,
    to: i64,
    session: Option<&mut ClientSession>,
) -> Result<()> {
    let collection = connection.database().collection::<Document>(CHECKPOINTS);
    let filter = if after == 0 {
        doc! { "_id": name, "$or": [ { "position": { "$in": [0_i64, Bson::Null] } }, { "position": { "$exists": false } } ] }
    } else {
        doc! { "_id": name, "position": after }
    };
    let update = doc! { "$set": { "position": to, "updated_at": DateTime::now() } };
    let action = collection.update_one(filter, update).upsert(after == 0);
    let result = match session {
        Some(session) => action.session(session).await,
        None => action.await,
    };
    match result {
        Ok(outcome) if outcome.matched_count == 1 || outcome.upserted_id.is_some() => Ok(()),
        Ok(_) => Err(moved(name, after)),
        Err(err) if is_duplicate_key(&err) => Err(moved(name, after)),
        Err(err) => Err(err.into()),
    }
}

fn moved(name: &str, after: i64) -> Error {
    Error::Concurrency { collection: CHECKPOINTS.into(), id: name.into(), expected: after, actual: None }
}

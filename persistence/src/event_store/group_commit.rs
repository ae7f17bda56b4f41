//! Group commit: concurrent appends of one process share one transaction.
//!
//! Every append that does not run in a caller's unit of work is queued, with the outbox
//! messages that must commit with its events when there are some (an aggregate saved on its own
//! with [`AggregateStore::with_outbox`](crate::aggregates::AggregateStore::with_outbox)): the
//! batch's transaction inserts those too, so concurrent saves of events and their messages cost
//! one transaction together instead of one each. While appends are
//! queued, one committer task takes them in arrival order (at most one append per stream per
//! batch, so appends to one stream keep their order) and commits them together: one read that
//! checks the expected versions of the whole batch (skipped for streams whose version this
//! process committed itself), one counter increment for all its positions, one
//! `insert_many`, one commit. Sixteen writers therefore cost about one
//! transaction per round instead of sixteen transactions fighting over the counter document.
//! With [`PositionAllocation::Reserved`](super::PositionAllocation::Reserved) the batch reserves
//! its positions before its transaction (burnt if the batch does not commit), so the batches of
//! several processes do not serialise on the counter either.
//!
//! A conditional append ([`EventStore::append_if`] alone) is checked in the batch's transaction,
//! in batch order: one whose condition fails is refused; one whose query selects events of an
//! earlier append of the batch runs on its own after the batch (it must be decided on what
//! committed, not on what may still fail).
//!
//! The batch handles only the expected case. An append whose expected version does not hold,
//! and every append of a batch whose insert hit a duplicate key (an idempotent retry, or a
//! writer in another process that won the race), is run again on its own through the plain
//! in-transaction append, which reads what it needs to give the precise result or error.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bson::{DateTime, Document, doc};
use futures::{FutureExt, TryStreamExt};

use tokio::sync::oneshot;

use super::{EventStore, ExpectedVersion, NewEvent, Stream, markers};
use crate::error::{Error, Result};
use crate::store::fields::int;
use crate::store::tenancy::{TENANT_FIELD, Tenant};
use crate::store::uow::{On, UnitOfWork};

/// How many scheduler turns the committer waits at most for the writers it just answered.
const LINGER_TURNS: usize = 64;

/// The most events one group transaction inserts.
const MAX_BATCH_EVENTS: usize = 1_000;

/// The queue shared by the clones of one [`EventStore`].
#[derive(Debug, Default)]
pub(super) struct GroupCommit {
    queue: Mutex<Queue>,
    /// The highest version this process has committed per stream (events are never removed,
    /// so those versions exist for good): an exact expected version up to it needs no read.
    known: Mutex<HashMap<String, i64>>,
}

/// Streams remembered in `known` before it starts over.
const KNOWN_STREAMS: usize = 100_000;

#[derive(Debug, Default)]
struct Queue {
    pending: VecDeque<Pending>,
    committing: bool,
}

#[derive(Debug)]
struct Pending {
    aggregate_id: String,
    aggregate_type: String,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    messages: Option<Messages>,
    tenant: Option<Tenant>,
    /// The append condition of a conditional append (see `condition.rs`).
    condition: Option<super::AppendCondition>,
    reply: oneshot::Sender<Result<Vec<i64>>>,
}

/// Outbox messages (prepared documents) that commit with an append's events.
#[derive(Debug, Clone)]
pub(crate) struct Messages {
    pub(crate) outbox: crate::outbox::Outbox,
    pub(crate) documents: Vec<Document>,
}

impl Pending {
    fn stream(&self) -> Stream<'_> {
        Stream { aggregate_id: &self.aggregate_id, aggregate_type: &self.aggregate_type }
    }

    fn tenant_id(&self) -> Option<&str> {
        self.tenant.as_ref().map(Tenant::id)
    }

    /// In a tenant scope, the stream's stored events must be the tenant's (else the append
    /// runs alone and reports the cross-tenant error precisely).
    fn owns(&self, stored_tenant: Option<&str>) -> bool {
        self.tenant.is_none() || stored_tenant == self.tenant_id()
    }

    /// The key of the stream in the `known` versions: streams are remembered per tenant.
    fn known_key(&self) -> String {
        format!("{}\u{1f}{}", self.tenant_id().unwrap_or(""), self.aggregate_id)
    }
}

/// What the batch transaction decided for one append.
enum Decision {
    /// Inserted with these positions; the stream is now at this version.
    Appended(Vec<i64>, i64),
    /// Not the expected case: run it on its own.
    Alone,
    /// Its append condition failed: not appended.
    Refused(Error),
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue holds no invariant a panic could break halfway, so a poisoned lock is usable.
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl EventStore {
    /// Queues the append and waits for the committer's answer.
    pub(super) async fn append_grouped(
        &self,
        stream: Stream<'_>,
        expected: ExpectedVersion,
        events: &[NewEvent],
        messages: Option<Messages>,
        condition: Option<&super::AppendCondition>,
    ) -> Result<Vec<i64>> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            aggregate_id: stream.aggregate_id.to_owned(),
            aggregate_type: stream.aggregate_type.to_owned(),
            expected,
            events: events.to_vec(),
            messages,
            tenant: self.tenant.clone(),
            condition: condition.cloned(),
            reply,
        };
        let start_committer = {
            let mut queue = self.group.lock();
            queue.pending.push_back(pending);
            !std::mem::replace(&mut queue.committing, true)
        };
        if start_committer {
            // A task of its own: a caller that stops waiting cannot interrupt a commit.
            tokio::spawn(self.clone().commit_while_queued());
        }
        answer.await.map_err(|_| Error::BackgroundTaskStopped { task: "group commit" })?
    }

    async fn commit_while_queued(self) {
        let mut stopped = Stopped { group: self.group.clone(), armed: true };
        let mut answered = 0;
        loop {
            // The writers answered by the last round usually append again at once: give them a
            // few scheduler turns to queue, so the rounds do not settle into two half-size
            // groups taking turns.
            for _ in 0..LINGER_TURNS {
                if self.group.lock().pending.len() >= answered {
                    break;
                }
                tokio::task::yield_now().await;
            }
            let batch = {
                let mut queue = self.group.lock();
                let batch = take_batch(&mut queue.pending);
                if batch.is_empty() {
                    queue.committing = false;
                    stopped.armed = false;
                    return;
                }
                batch
            };
            answered = batch.len();
            self.commit_batch(batch).await;
        }
    }

    async fn commit_batch(&self, batch: Vec<Pending>) {
        // The one transaction loop (the driver's retry rules, with backoff).
        let outcome = self
            .connection
            .transaction_with((self, &batch), |uow, (store, batch)| {
                async move { store.insert_batch(uow, batch).await }.boxed()
            })
            .await;
        match outcome {
            Ok(decisions) => {
                self.remember(&batch, &decisions);
                for (pending, decision) in batch.into_iter().zip(decisions) {
                    match decision {
                        Decision::Appended(positions, _) => {
                            let _ = pending.reply.send(Ok(positions));
                        }
                        Decision::Alone => self.append_pending_alone(pending).await,
                        Decision::Refused(err) => {
                            let _ = pending.reply.send(Err(err));
                        }
                    }
                }
            }
            Err(err) if err.is_duplicate_key() => {
                for pending in batch {
                    self.append_pending_alone(pending).await;
                }
            }
            Err(err) => {
                for pending in batch {
                    let _ = pending.reply.send(Err(err.clone()));
                }
            }
        }
    }

    fn remember(&self, batch: &[Pending], decisions: &[Decision]) {
        let mut known = self.group.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if known.len() > KNOWN_STREAMS {
            known.clear();
        }
        for (pending, decision) in batch.iter().zip(decisions) {
            if let Decision::Appended(_, version) = decision {
                let entry = known.entry(pending.known_key()).or_default();
                *entry = (*entry).max(*version);
            }
        }
    }

    async fn append_pending_alone(&self, pending: Pending) {
        let store = EventStore { tenant: pending.tenant.clone(), ..self.clone() };
        let result = match &pending.condition {
            Some(condition) => {
                store.append_if_alone(pending.stream(), pending.expected, &pending.events, condition).await
            }
            None => {
                store.append_alone(pending.stream(), pending.expected, &pending.events, pending.messages.clone()).await
            }
        };
        let _ = pending.reply.send(result);
    }

    /// The batch transaction: check, number, insert.
    async fn insert_batch(&self, uow: &UnitOfWork, batch: &[Pending]) -> Result<Vec<Decision>> {
        let verdicts = self.check_conditions(uow, batch).await?;
        let mut guard = uow.session().await;
        let Some(session) = guard.get() else {
            return Err(Error::needs_transaction("EventStore::append (group commit)"));
        };
        let mut present: HashSet<String> = HashSet::new();
        let mut exact: Vec<Document> = Vec::new();
        {
            let known = self.group.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for p in batch {
                if let ExpectedVersion::Exact(version) = p.expected
                    && version > 0
                {
                    if known.get(&p.known_key()).is_some_and(|k| *k >= version) {
                        present.insert(p.aggregate_id.clone());
                    } else {
                        exact.push(doc! { "aggregate_id": p.aggregate_id.as_str(), "version": version });
                    }
                }
            }
        }
        if !exact.is_empty() {
            let mut cursor = self
                .events
                .find(doc! { "$or": exact })
                .projection(doc! { "_id": 0, "aggregate_id": 1, TENANT_FIELD: 1 })
                .session(&mut *session)
                .await?;
            while let Some(found) = cursor.next(&mut *session).await {
                let found = found?;
                let Ok(stream) = found.get_str("aggregate_id") else { continue };
                let owned = batch.iter().any(|p| p.aggregate_id == stream && p.owns(found.get_str(TENANT_FIELD).ok()));
                if owned {
                    present.insert(stream.to_owned());
                }
            }
        }
        let any: Vec<&str> =
            batch.iter().filter(|p| p.expected == ExpectedVersion::Any).map(|p| p.aggregate_id.as_str()).collect();
        let mut heads: HashMap<String, i64> = HashMap::new();
        if !any.is_empty() {
            let pipeline = [
                doc! { "$match": { "aggregate_id": { "$in": any } } },
                doc! { "$group": {
                    "_id": "$aggregate_id", "version": { "$max": "$version" }, "tenant": { "$first": format!("${TENANT_FIELD}") },
                } },
            ];
            let mut cursor = self.events.aggregate(pipeline).session(&mut *session).await?;
            let found: Vec<Document> = cursor.stream(&mut *session).try_collect().await?;
            for head in &found {
                let Ok(stream) = head.get_str("_id") else { continue };
                let owned = batch.iter().any(|p| p.aggregate_id == stream && p.owns(head.get_str("tenant").ok()));
                // A stream of another tenant: -1 sends the append to run alone.
                heads.insert(stream.to_owned(), if owned { int(head.get("version")) } else { -1 });
            }
        }
        let bases: Vec<Option<i64>> = batch
            .iter()
            .zip(&verdicts)
            .map(|(p, verdict)| match p.expected {
                _ if verdict.is_some() => None,
                ExpectedVersion::NoStream | ExpectedVersion::Exact(0) => Some(0),
                ExpectedVersion::Exact(version) => present.contains(&p.aggregate_id).then_some(version),
                ExpectedVersion::Any => {
                    Some(heads.get(&p.aggregate_id).copied().unwrap_or(0)).filter(|head| *head >= 0)
                }
            })
            .collect();
        let count: usize = batch.iter().zip(&bases).filter(|(_, b)| b.is_some()).map(|(p, _)| p.events.len()).sum();
        if count == 0 {
            return Ok(verdicts.into_iter().map(|verdict| verdict.unwrap_or(Decision::Alone)).collect());
        }
        // With `Reserved`, before the batch's transaction: the batches of several processes do
        // not meet on the counter, and a batch that fails burns its positions.
        let last = self.allocate_positions(count as i64, uow, Some(&mut *session)).await?;
        let mut position = last - count as i64;
        let now = DateTime::now();
        let mut documents = Vec::with_capacity(count);
        let mut decisions = Vec::with_capacity(batch.len());
        for ((pending, base), verdict) in batch.iter().zip(bases).zip(verdicts) {
            let Some(base) = base else {
                decisions.push(verdict.unwrap_or(Decision::Alone));
                continue;
            };
            let mut positions = Vec::with_capacity(pending.events.len());
            for (i, event) in pending.events.iter().enumerate() {
                position += 1;
                positions.push(position);
                let version = base + 1 + i as i64;
                documents.push(event.to_document(pending.stream(), pending.tenant_id(), version, position, now));
            }
            decisions.push(Decision::Appended(positions, base + pending.events.len() as i64));
        }
        self.events.insert_many(documents).session(&mut *session).await?;
        // Appends that would break a condition meet on a marker (see `markers.rs`).
        let appended: Vec<&Pending> =
            batch.iter().zip(&decisions).filter(|(_, d)| matches!(d, Decision::Appended(..))).map(|(p, _)| p).collect();
        let mut markers = super::markers::of_events(appended.iter().flat_map(|pending| &pending.events));
        for condition in appended.iter().filter_map(|pending| pending.condition.as_ref()) {
            super::markers::add_new(&mut markers, condition.query().watched_markers());
        }
        super::markers::bump(&self.markers, &markers, Some(&mut *session)).await?;
        // The appended events' outbox messages, one insert per outbox collection.
        let mut messages: Vec<(&crate::outbox::Outbox, Vec<Document>)> = Vec::new();
        for (pending, decision) in batch.iter().zip(&decisions) {
            let (Decision::Appended(..), Some(batch_messages)) = (decision, &pending.messages) else { continue };
            match messages.iter_mut().find(|(outbox, _)| outbox.same_collection(&batch_messages.outbox)) {
                Some((_, documents)) => documents.extend(batch_messages.documents.iter().cloned()),
                None => messages.push((&batch_messages.outbox, batch_messages.documents.clone())),
            }
        }
        for (outbox, documents) in messages {
            outbox.insert_many_in(documents, &mut *session).await?;
        }
        Ok(decisions)
    }
}

impl EventStore {
    /// The verdict on each append's condition, in batch order (`None`: none, or it holds): a
    /// condition that selects events of an earlier append of the batch is sent to run alone
    /// (it would be decided on events that may not commit), one that failed is refused.
    async fn check_conditions(&self, uow: &UnitOfWork, batch: &[Pending]) -> Result<Vec<Option<Decision>>> {
        // A condition selecting events of an earlier append of the batch (conditional or not:
        // the earlier one may hold) runs alone after the batch.
        let mut verdicts: Vec<Option<Decision>> = Vec::with_capacity(batch.len());
        let mut checked = Vec::new();
        for (index, pending) in batch.iter().enumerate() {
            let Some(condition) = &pending.condition else {
                verdicts.push(None);
                continue;
            };
            let overlaps = batch[..index].iter().zip(&verdicts).any(|(earlier, verdict)| {
                verdict.is_none()
                    && earlier
                        .events
                        .iter()
                        .any(|event| condition.query().selects_parts(&event.event_type, &event.tags))
            });
            if overlaps {
                verdicts.push(Some(Decision::Alone));
            } else {
                checked.push((index, condition));
                verdicts.push(None);
            }
        }
        if checked.is_empty() {
            return Ok(verdicts);
        }
        // The watched markers of every condition checked, read in one query.
        let mut watched = Vec::new();
        for (_, condition) in &checked {
            markers::add_new(&mut watched, condition.query().watched_markers());
        }
        let versions = markers::read(&self.markers, &watched, On::Uow(uow)).await?;
        for (index, condition) in checked {
            let pending = &batch[index];
            let now: Vec<i64> = condition
                .query()
                .watched_markers()
                .iter()
                .map(|marker| watched.iter().position(|m| m == marker).map_or(0, |at| versions[at]))
                .collect();
            let store = EventStore { tenant: pending.tenant.clone(), ..self.clone() };
            verdicts[index] = match store.check_condition_at(condition, &now, &pending.events, uow).await {
                Ok(()) => None,
                Err(err @ Error::ConditionFailed { .. }) => Some(Decision::Refused(err)),
                Err(err) => return Err(err),
            };
        }
        Ok(verdicts)
    }
}

/// Takes the next batch in arrival order: at most one append per stream, at most
/// [`MAX_BATCH_EVENTS`] events (but always the first append).
fn take_batch(pending: &mut VecDeque<Pending>) -> Vec<Pending> {
    let mut batch: Vec<Pending> = Vec::new();
    let mut streams = HashSet::new();
    let mut events = 0;
    let mut deferred = VecDeque::new();
    while let Some(next) = pending.pop_front() {
        let fits = batch.is_empty() || events + next.events.len() <= MAX_BATCH_EVENTS;
        if !fits {
            pending.push_front(next);
            break;
        }
        if streams.insert(next.aggregate_id.clone()) {
            events += next.events.len();
            batch.push(next);
        } else {
            deferred.push_back(next);
        }
    }
    deferred.append(pending);
    *pending = deferred;
    batch
}

/// Clears the committing flag when the committer stops abnormally (a panic, or the runtime
/// dropping the task); appends still queued then fail instead of waiting for ever.
struct Stopped {
    group: Arc<GroupCommit>,
    armed: bool,
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if self.armed {
            let mut queue = self.group.lock();
            queue.committing = false;
            queue.pending.clear();
        }
    }
}

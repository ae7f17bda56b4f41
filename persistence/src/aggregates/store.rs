//! The aggregate store: load = latest snapshot + later events folded as they stream in; save =
//! the pending events appended at the loaded version, optionally with outbox messages and a
//! snapshot.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bson::Document;
use futures::{FutureExt, TryStreamExt};

use super::{EventSourced, Root};
use crate::error::{Error, Result};
use crate::event_store::group_commit::Messages;
use crate::event_store::typed::EventSet;
use crate::event_store::{EVENTS, EventStore, ExpectedVersion, NewEvent, Stream};
use crate::outbox::{Outbox, OutboxMessage};
use crate::snapshots::SnapshotStore;
use crate::store::connection::Connection;
use crate::store::uow::{Alone, On, UnitOfWork};

/// When a save also stores a snapshot of the state.
pub struct SnapshotPolicy<A> {
    rule: Rule<A>,
    in_transaction: bool,
}

/// `predicate(state, new_version)`: take a snapshot now.
type Predicate<A> = Arc<dyn Fn(&A, i64) -> bool + Send + Sync>;

/// `publish(event)`: this event also goes to the outbox.
type Publish<E> = Arc<dyn Fn(&E) -> bool + Send + Sync>;

enum Rule<A> {
    Every(i64),
    When(Predicate<A>),
}

impl<A> Clone for SnapshotPolicy<A> {
    fn clone(&self) -> Self {
        let rule = match &self.rule {
            Rule::Every(n) => Rule::Every(*n),
            Rule::When(f) => Rule::When(f.clone()),
        };
        SnapshotPolicy { rule, in_transaction: self.in_transaction }
    }
}

impl<A> std::fmt::Debug for SnapshotPolicy<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rule = match &self.rule {
            Rule::Every(n) => format!("every {n} events"),
            Rule::When(_) => "when a predicate holds".into(),
        };
        f.debug_struct("SnapshotPolicy").field("rule", &rule).field("in_transaction", &self.in_transaction).finish()
    }
}

impl<A> SnapshotPolicy<A> {
    /// A snapshot whenever a save makes the version reach a multiple of `events` (at least 1;
    /// a smaller value makes saves [`Error::InvalidArgument`]).
    pub fn every(events: i64) -> Self {
        SnapshotPolicy { rule: Rule::Every(events), in_transaction: false }
    }

    /// A snapshot whenever `predicate(state, new_version)` holds after a save.
    pub fn when(predicate: impl Fn(&A, i64) -> bool + Send + Sync + 'static) -> Self {
        SnapshotPolicy { rule: Rule::When(Arc::new(predicate)), in_transaction: false }
    }

    /// Writes the snapshot in the save's transaction (default: after it commits). A state that
    /// cannot be serialised never fails the save either way; a snapshot write that fails inside
    /// the transaction fails it, as any write there does.
    pub fn in_transaction(mut self) -> Self {
        self.in_transaction = true;
        self
    }

    fn due(&self, state: &A, from: i64, to: i64) -> Result<bool> {
        Ok(match &self.rule {
            Rule::Every(n) => {
                Error::at_least_one("SnapshotPolicy::every", "events", *n)?;
                from / n != to / n
            }
            Rule::When(predicate) => predicate(state, to),
        })
    }
}

/// What the store's snapshots did (counts since it was created, shared by its clones).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct AggregateStats {
    /// Snapshots written.
    pub snapshots_written: AtomicU64,
    /// Snapshots not written (the state did not serialise, or the write after commit failed);
    /// the save itself succeeded.
    pub snapshot_failures: AtomicU64,
    /// Loads that found a snapshot that no longer decodes into the state type, and replayed the
    /// whole stream instead.
    pub snapshots_ignored: AtomicU64,
}

/// What a save stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Saved {
    /// The global positions of the appended events (empty when nothing was pending).
    pub positions: Vec<i64>,
    /// The stream's version after the save.
    pub version: i64,
    /// A snapshot was written (in the transaction, or after it by this call).
    pub snapshot: bool,
}

/// Loads and saves the event-sourced aggregates `A`.
pub struct AggregateStore<A: EventSourced> {
    connection: Connection,
    events: EventStore,
    snapshots: Option<(SnapshotStore, SnapshotPolicy<A>)>,
    outbox: Option<(Outbox, Publish<A::Event>)>,
    stats: Arc<AggregateStats>,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A: EventSourced> Clone for AggregateStore<A> {
    fn clone(&self) -> Self {
        AggregateStore {
            connection: self.connection.clone(),
            events: self.events.clone(),
            snapshots: self.snapshots.clone(),
            outbox: self.outbox.clone(),
            stats: self.stats.clone(),
            _aggregate: PhantomData,
        }
    }
}

impl<A: EventSourced> std::fmt::Debug for AggregateStore<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggregateStore")
            .field("aggregate_type", &A::AGGREGATE_TYPE)
            .field("snapshots", &self.snapshots.as_ref().map(|(_, policy)| policy))
            .field("outbox", &self.outbox.is_some())
            .finish()
    }
}

impl<A: EventSourced> AggregateStore<A> {
    /// A store of `A` streams in `events`, without snapshots or outbox messages.
    pub fn new(connection: &Connection, events: &EventStore) -> Self {
        AggregateStore {
            connection: connection.clone(),
            events: events.clone(),
            snapshots: None,
            outbox: None,
            stats: Arc::default(),
            _aggregate: PhantomData,
        }
    }

    /// Loads from the latest snapshot in `snapshots` and takes snapshots by `policy`.
    pub fn with_snapshots(mut self, snapshots: &SnapshotStore, policy: SnapshotPolicy<A>) -> Self {
        self.snapshots = Some((snapshots.clone(), policy));
        self
    }

    /// Every save also stores one outbox message per event (id, type, payload, correlation and
    /// causation of the event, the aggregate id), in the same transaction.
    pub fn with_outbox(self, outbox: &Outbox) -> Self {
        self.with_outbox_when(outbox, |_| true)
    }

    /// Like [`with_outbox`](Self::with_outbox), for the events `publish` selects only (the
    /// integration events; the others stay in the event store).
    pub fn with_outbox_when(
        mut self,
        outbox: &Outbox,
        publish: impl Fn(&A::Event) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.outbox = Some((outbox.clone(), Arc::new(publish)));
        self
    }

    /// The store's snapshot counts.
    pub fn stats(&self) -> &AggregateStats {
        &self.stats
    }

    /// The aggregate: its latest snapshot (if any) and the events after it folded one by one as
    /// they are read (memory does not grow with the stream), read in `on` (in a unit of work:
    /// inside its transaction). `None` when it has neither. An event of a type the aggregate's
    /// [`EventSet`] does not know is [`Error::Decode`].
    pub async fn load(&self, id: &str, on: impl Into<On<'_>>) -> Result<Option<Root<A>>> {
        let on = on.into();
        let (mut state, mut version) = self.snapshot_state(id, on).await?;
        let mut found = version > 0;
        let mut events = self.events.read_stream_cursor(id, version, on).await?;
        while let Some(event) = events.try_next().await? {
            match A::Event::decode(&event)? {
                Some(decoded) => state.apply(&decoded),
                None => {
                    return Err(Error::Decode {
                        event_id: event.event_id.clone(),
                        event_type: event.event_type.clone(),
                        path: String::new(),
                        source: None,
                        message: format!(
                            "it is not one of the {} events {:?}",
                            A::AGGREGATE_TYPE,
                            A::Event::event_types()
                        ),
                    });
                }
            }
            version = event.version;
            found = true;
        }
        Ok(found.then(|| Root::at(id.to_owned(), state, version)))
    }

    /// The aggregate, or a new one (version 0) when it has no events, read in `on`.
    pub async fn load_or_new(&self, id: &str, on: impl Into<On<'_>>) -> Result<Root<A>> {
        Ok(self.load(id, on).await?.unwrap_or_else(|| Root::new(id)))
    }

    /// The command workflow: loads aggregate `id` (a new one when it has no events), lets
    /// `decide` record events on it or refuse with your error, and saves what it recorded, in
    /// one transaction. Returns the saved aggregate.
    ///
    /// `decide` is synchronous: it holds the decision, not IO, so the whole call is `Send`
    /// (usable in `tokio::spawn` and web handlers as it is). Transient errors run the workflow
    /// again under the driver's rules ([`Connection::transaction`](crate::Connection::transaction)),
    /// and so does a concurrent save of the same aggregate (the transaction conflicts): the
    /// aggregate is loaded again and `decide` runs again on the fresh state. An error of yours
    /// (`E: From<Error>`, a store error converts into it) aborts and comes back as it is.
    ///
    /// ```no_run
    /// # use cqrs_mongo_persistence::AggregateStore;
    /// # use cqrs_mongo_persistence::aggregates::EventSourced;
    /// # use cqrs_mongo_persistence::Error;
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)] struct OrderPaid {}
    /// # cqrs_mongo_persistence::event!(OrderPaid, "OrderPaid", version = 1);
    /// # cqrs_mongo_persistence::event_set! { #[derive(Debug, Clone)] enum OrderEvent { Paid(OrderPaid) } }
    /// # #[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)] struct Order { status: String }
    /// # impl EventSourced for Order {
    /// #     type Event = OrderEvent;
    /// #     const AGGREGATE_TYPE: &'static str = "Order";
    /// #     fn apply(&mut self, _: &OrderEvent) { self.status = "paid".into(); }
    /// # }
    /// #[derive(Debug)]
    /// enum PayError { NotFound, NotPayable(String), Store(Error) }
    /// impl From<Error> for PayError { fn from(err: Error) -> Self { PayError::Store(err) } }
    ///
    /// # async fn demo(orders: AggregateStore<Order>) -> Result<(), PayError> {
    /// let order = orders
    ///     .update("o-1", |order| match order.status.as_str() {
    ///         "placed" => {
    ///             order.record(OrderPaid {});
    ///             Ok(())
    ///         }
    ///         "" => Err(PayError::NotFound),
    ///         other => Err(PayError::NotPayable(other.to_owned())),
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn update<E>(
        &self,
        id: &str,
        mut decide: impl FnMut(&mut Root<A>) -> std::result::Result<(), E> + Send,
    ) -> std::result::Result<Root<A>, E>
    where
        E: From<Error> + Send,
    {
        // A context and a boxed future: the future stays `Send` (rust-lang/rust#96865).
        self.connection
            .transaction_with((self, id, &mut decide), |uow, (store, id, decide)| {
                async move { store.update_in(uow, id, &mut **decide).await }.boxed()
            })
            .await
    }

    /// [`update`](Self::update) inside your unit of work: loads, decides and saves in its
    /// transaction; retrying is the unit of work's (inside
    /// [`Connection::transaction`](crate::Connection::transaction), a transient error runs your
    /// whole callback again).
    pub async fn update_in<E>(
        &self,
        uow: &UnitOfWork,
        id: &str,
        decide: impl FnOnce(&mut Root<A>) -> std::result::Result<(), E>,
    ) -> std::result::Result<Root<A>, E>
    where
        E: From<Error>,
    {
        let mut root = self.load_or_new(id, uow).await?;
        decide(&mut root)?;
        self.save(&mut root, uow).await?;
        Ok(root)
    }

    async fn snapshot_state(&self, id: &str, on: On<'_>) -> Result<(A, i64)> {
        let Some((snapshots, _)) = &self.snapshots else { return Ok((A::default(), 0)) };
        let Some(snapshot) = snapshots.latest(A::AGGREGATE_TYPE, id, on).await? else { return Ok((A::default(), 0)) };
        match bson::deserialize_from_document::<A>(snapshot.data) {
            Ok(state) => Ok((state, snapshot.version)),
            Err(err) => {
                self.stats.snapshots_ignored.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(aggregate_type = A::AGGREGATE_TYPE, id, error = %err, "snapshot does not decode; replaying the stream");
                Ok((A::default(), 0))
            }
        }
    }

    /// Appends the pending events at the version the aggregate was loaded at, in `on` (with a
    /// unit of work: in its transaction; alone: through the event store's group commit, or in
    /// a transaction of its own when outbox messages or an in-transaction snapshot go with
    /// the events). Another writer that saved the aggregate first is [`Error::Concurrency`]
    /// naming the stream, the expected and the stored version: load it again and retry.
    ///
    /// Inside a unit of work the new version is provisional until it commits (a rollback or a
    /// retry of the unit of work makes the events pending again).
    pub async fn save(&self, root: &mut Root<A>, on: impl Into<On<'_>>) -> Result<Saved> {
        let on = on.into();
        root.settle();
        let from = root.version();
        let events = self.new_events(root)?;
        let published: Vec<bool> = match &self.outbox {
            Some((_, publish)) => root.unsaved().iter().map(|(_, event)| publish(event)).collect(),
            None => Vec::new(),
        };
        let events = Events { new: &events, published: &published };
        if events.new.is_empty() {
            return Ok(Saved { positions: Vec::new(), version: from, snapshot: false });
        }
        let to = from + events.new.len() as i64;
        let snapshot = match &self.snapshots {
            Some((_, policy)) if policy.due(&root.state, from, to)? => self.snapshot_of(&root.state),
            _ => None,
        };
        let in_transaction = self.snapshots.as_ref().is_some_and(|(_, policy)| policy.in_transaction);
        let (now, later) = if in_transaction { (snapshot, None) } else { (None, snapshot) };
        let written_now = now.is_some();
        let stream = Stream { aggregate_id: &root.id, aggregate_type: A::AGGREGATE_TYPE };
        let expected = if from == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(from) };
        let outcome = match on.unit_of_work() {
            Some(uow) => {
                let positions = self.write(stream, expected, events, now.as_ref(), to, uow).await;
                if let (Ok(_), Some(data)) = (&positions, later.clone()) {
                    self.snapshot_after_commit(uow, &root.id, to, data);
                }
                positions.map(|p| (p, uow.fate().cloned()))
            }
            // Events and their outbox messages only: through the group commit, one transaction
            // shared with concurrent saves and appends of the process.
            None if now.is_none() && published.contains(&true) && self.connection.supports_transactions() => {
                let (outbox, _) = self.outbox.as_ref().expect("published messages come with an outbox");
                let messages =
                    Messages { outbox: outbox.clone(), documents: outbox.documents(&self.messages(stream, events)) };
                self.events.append_with_messages(stream, expected, events.new, messages).await.map(|p| (p, None))
            }
            // `transaction_with` and a boxed future keep `save` spawnable (`Send`).
            None if published.contains(&true) || now.is_some() => {
                let context = (self, stream, expected, events, now.as_ref(), to);
                self.connection
                    .transaction_with(context, |uow, &mut (store, stream, expected, events, now, to)| {
                        store.write(stream, expected, events, now, to, uow).boxed()
                    })
                    .await
                    .map(|p| (p, None))
            }
            None => self.events.append(stream, expected, events.new, Alone).await.map(|p| (p, None)),
        };
        let (positions, fate) = match outcome {
            Ok(done) => done,
            Err(err) => return Err(self.conflict(err, &root.id, from).await),
        };
        root.version.advance(to, fate.as_ref());
        let mut snapshot = written_now;
        if let (None, Some(data)) = (on.unit_of_work(), later) {
            snapshot = self.write_snapshot(&root.id, to, data, Alone).await;
        }
        root.settle();
        Ok(Saved { positions, version: to, snapshot })
    }

    fn new_events(&self, root: &Root<A>) -> Result<Vec<NewEvent>> {
        root.unsaved()
            .iter()
            .map(|(id, event)| {
                let mut new = NewEvent::from_set(id.clone(), event)?;
                new.correlation_id = root.correlation_id.clone();
                new.causation_id = root.causation_id.clone();
                Ok(new.traced())
            })
            .collect()
    }

    /// The events, their outbox messages and an in-transaction snapshot, in `uow`.
    async fn write(
        &self,
        stream: Stream<'_>,
        expected: ExpectedVersion,
        events: Events<'_>,
        snapshot: Option<&Document>,
        version: i64,
        uow: &UnitOfWork,
    ) -> Result<Vec<i64>> {
        let positions = self.events.append(stream, expected, events.new, uow).await?;
        if let Some((outbox, _)) = &self.outbox {
            let messages = self.messages(stream, events);
            if !messages.is_empty() {
                outbox.save(&messages, uow).await?;
            }
        }
        if let (Some(data), Some((snapshots, _))) = (snapshot, &self.snapshots) {
            snapshots.save(A::AGGREGATE_TYPE, stream.aggregate_id, version, data.clone(), uow).await?;
            self.stats.snapshots_written.fetch_add(1, Ordering::Relaxed);
        }
        Ok(positions)
    }

    /// The outbox messages of the events to publish: the event's id, type, payload and
    /// metadata, for its aggregate.
    fn messages(&self, stream: Stream<'_>, events: Events<'_>) -> Vec<OutboxMessage> {
        events
            .new
            .iter()
            .zip(events.published)
            .filter(|(_, published)| **published)
            .map(|(event, _)| {
                let correlation = event.correlation_id.clone().unwrap_or_default();
                let mut message = OutboxMessage::new(
                    event.event_id.clone(),
                    event.event_type.clone(),
                    event.payload.clone(),
                    correlation,
                )
                .for_aggregate(stream.aggregate_id);
                message.causation_id = event.causation_id.clone();
                message.metadata = event.metadata.clone();
                message
            })
            .collect()
    }

    /// The state as a snapshot document; a state that does not serialise is counted and
    /// skipped (the save goes on without a snapshot).
    fn snapshot_of(&self, state: &A) -> Option<Document> {
        match bson::serialize_to_document(state) {
            Ok(data) => Some(data),
            Err(err) => {
                self.stats.snapshot_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(aggregate_type = A::AGGREGATE_TYPE, error = %err, "state does not serialise; no snapshot");
                None
            }
        }
    }

    /// Writes a snapshot outside the save; a failure is logged and counted, never returned.
    async fn write_snapshot(&self, id: &str, version: i64, data: Document, on: impl Into<On<'_>>) -> bool {
        let Some((snapshots, _)) = &self.snapshots else { return false };
        record_snapshot(&self.stats, id, snapshots.save(A::AGGREGATE_TYPE, id, version, data, on).await)
    }

    /// After the caller's unit of work commits, the snapshot is written by a task of its own.
    fn snapshot_after_commit(&self, uow: &UnitOfWork, id: &str, version: i64, data: Document) {
        let Some((snapshots, _)) = &self.snapshots else { return };
        let (snapshots, stats, id) = (snapshots.clone(), self.stats.clone(), id.to_owned());
        uow.after_commit(move || {
            tokio::spawn(async move {
                let written = snapshots.save(A::AGGREGATE_TYPE, &id, version, data, Alone).await;
                record_snapshot(&stats, &id, written);
            });
        });
    }

    /// A lost race on the stream, with the stored version filled in.
    async fn conflict(&self, err: Error, id: &str, expected: i64) -> Error {
        match err {
            Error::Concurrency { collection, id: stream, actual: None, .. } if collection == EVENTS => {
                let actual = self.events.current_version(id, Alone).await.ok();
                Error::Concurrency { collection, id: stream, expected, actual }
            }
            Error::Concurrency { collection, id: stream, actual, .. } if collection == EVENTS => {
                Error::Concurrency { collection, id: stream, expected, actual }
            }
            other => other,
        }
    }
}

/// The events of a save, and which of them go to the outbox.
#[derive(Clone, Copy)]
struct Events<'a> {
    new: &'a [NewEvent],
    published: &'a [bool],
}

fn record_snapshot(stats: &AggregateStats, id: &str, written: Result<bool>) -> bool {
    match written {
        Ok(_) => {
            stats.snapshots_written.fetch_add(1, Ordering::Relaxed);
            true
        }
        Err(err) => {
            stats.snapshot_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(id, error = %err, "snapshot not written; the save stands");
            false
        }
    }
}

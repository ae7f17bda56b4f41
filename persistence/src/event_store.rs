//! The event store: append-only streams in `domain_events` with 1-based global positions.
//!
//! # Positions: the counter is taken inside the transaction
//!
//! Every append runs in a transaction that increments the legacy counter document
//! (`counters`, `{_id: "domain_events_position", value}`) and inserts the events with the
//! positions it got. Two appends that overlap both write the counter document, so the server
//! lets only one of them commit; the other gets a `TransientTransactionError` and is retried
//! by the driver's transaction helper. Positions are therefore handed out in commit order, and a
//! reader tailing `read_all(after = p)` can never see position `p + 2` committed while `p + 1`
//! is still to come: **no reader ever skips an event**, and a failed append leaves no gap.
//!
//! The trade-off is that appends are serialised on one document: throughput is bounded by one
//! transaction at a time (retries under contention cost latency, measured by the event store
//! benchmark). The alternative — reserving positions and publishing an in-flight watermark —
//! allows parallel commits but makes every reader track the watermark; for the write rates of a
//! CQRS application the simpler, obviously-correct design wins.

use bson::{Bson, DateTime, Document, doc};
use futures::{FutureExt, TryStreamExt};
use mongodb::Collection;
use mongodb::options::{FindOneAndUpdateOptions, ReturnDocument};

use crate::connection::Connection;
use crate::error::{Error, Result, is_duplicate_key};
use crate::indexes::IndexSpec;
use crate::observe::traced;
use crate::uow::UnitOfWork;

/// The legacy collection names and counter id.
pub const EVENTS: &str = "domain_events";
const COUNTERS: &str = "counters";
const COUNTER_ID: &str = "domain_events_position";

/// What the writer expects the stream's current version to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpectedVersion {
    /// Append whatever the current version is.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this version.
    Exact(i64),
}

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewEvent {
    /// Unique event id (stored as `_id`).
    pub event_id: String,
    /// The event type name.
    pub event_type: String,
    /// The payload.
    pub payload: Document,
    /// Free-form metadata.
    pub metadata: Document,
    /// Schema version of the payload (default 1).
    pub schema_version: i32,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// Causation id.
    pub causation_id: Option<String>,
}

impl NewEvent {
    /// An event with empty metadata and schema version 1.
    pub fn new(event_id: impl Into<String>, event_type: impl Into<String>, payload: Document) -> Self {
        NewEvent {
            event_id: event_id.into(),
            event_type: event_type.into(),
            payload,
            metadata: Document::new(),
            schema_version: 1,
            correlation_id: None,
            causation_id: None,
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredEvent {
    /// Event id.
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// Stream (aggregate) id.
    pub aggregate_id: String,
    /// Aggregate type.
    pub aggregate_type: String,
    /// Version within the stream (1-based).
    pub version: i64,
    /// Global position (1-based).
    pub position: i64,
    /// Payload schema version.
    pub schema_version: i32,
    /// Payload.
    pub payload: Document,
    /// Metadata.
    pub metadata: Document,
    /// When it was appended.
    pub occurred_at: DateTime,
}

/// A stream to append to: the aggregate id and type.
#[derive(Debug, Clone, Copy)]
pub struct Stream<'a> {
    /// Aggregate id.
    pub aggregate_id: &'a str,
    /// Aggregate type.
    pub aggregate_type: &'a str,
}

/// A payload transform from one schema version of an event type to the next.
pub type Upcast = fn(Document) -> Document;

/// Upcasters applied on read: `(event_type, from_version)` → transform to `from_version + 1`.
#[derive(Debug, Clone, Default)]
pub struct Upcasters {
    steps: Vec<(String, i32, Upcast)>,
}

impl Upcasters {
    /// Registers the transform of `event_type` payloads from `from_version` to the next.
    pub fn register(mut self, event_type: impl Into<String>, from_version: i32, upcast: Upcast) -> Self {
        self.steps.push((event_type.into(), from_version, upcast));
        self
    }

    /// Applies every step from the event's version on, updating `schema_version`.
    fn apply(&self, event: &mut StoredEvent) {
        while let Some((_, _, step)) =
            self.steps.iter().find(|(t, v, _)| *t == event.event_type && *v == event.schema_version)
        {
            event.payload = step(std::mem::take(&mut event.payload));
            event.schema_version += 1;
        }
    }
}

/// The event store.
#[derive(Debug, Clone)]
pub struct EventStore {
    connection: Connection,
    events: Collection<Document>,
    counters: Collection<Document>,
    upcasters: Upcasters,
}

impl EventStore {
    /// The store on the legacy collections.
    pub fn new(connection: &Connection) -> Self {
        EventStore {
            connection: connection.clone(),
            events: connection.database().collection(EVENTS),
            counters: connection.database().collection(COUNTERS),
            upcasters: Upcasters::default(),
        }
    }

    /// Applies these upcasters to every event read.
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = upcasters;
        self
    }

    fn decode(&self, document: Document) -> Result<StoredEvent> {
        let mut event = stored_event(document)?;
        self.upcasters.apply(&mut event);
        Ok(event)
    }

    /// The indexes the store relies on: unique `(aggregate_id, version)` (a lost race becomes a
    /// typed concurrency error) and `position`.
    pub fn indexes() -> Vec<IndexSpec> {
        vec![
            IndexSpec::new(EVENTS, doc! { "aggregate_id": 1, "version": 1 }).unique(),
            IndexSpec::new(EVENTS, doc! { "position": 1 }).unique(),
            IndexSpec::new(EVENTS, doc! { "event_type": 1, "position": 1 }),
        ]
    }

    /// Appends a batch atomically, in the caller's unit of work or in a transaction of its own.
    /// Returns the positions given to the events (empty when every event was already stored).
    pub async fn append(
        &self,
        stream: Stream<'_>,
        expected: ExpectedVersion,
        events: &[NewEvent],
        uow: Option<&mut UnitOfWork<'_>>,
    ) -> Result<Vec<i64>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        traced(EVENTS, "append", async {
            match uow {
                Some(uow) => self.append_in(stream, expected, events, uow).await,
                None => {
                    // The driver's helper with a context argument keeps this future `Send`
                    // (closures capturing references hit rust-lang/rust#96865 otherwise).
                    let mut session = self.connection.client().start_session().await?;
                    let context = (self, stream, expected, events);
                    session
                        .start_transaction()
                        .and_run(context, |session, context| {
                            let (store, stream, expected, events) = *context;
                            async move {
                                let mut uow = UnitOfWork::borrowed(session);
                                store.append_in(stream, expected, events, &mut uow).await.map_err(Error::into_driver)
                            }
                            .boxed()
                        })
                        .await
                        .map_err(Error::from)
                }
            }
        })
        .await
    }

    async fn append_in(
        &self,
        stream: Stream<'_>,
        expected: ExpectedVersion,
        events: &[NewEvent],
        uow: &mut UnitOfWork<'_>,
    ) -> Result<Vec<i64>> {
        let fresh = self.without_stored_duplicates(events, uow).await?;
        if fresh.is_empty() {
            return Ok(Vec::new());
        }
        let current = self.stream_version(stream.aggregate_id, uow).await?;
        let conflict = match expected {
            ExpectedVersion::Any => false,
            ExpectedVersion::NoStream => current != 0,
            ExpectedVersion::Exact(version) => current != version,
        };
        if conflict {
            let wanted = match expected {
                ExpectedVersion::Exact(version) => version,
                _ => 0,
            };
            return Err(Error::Concurrency {
                collection: EVENTS.into(),
                id: stream.aggregate_id.into(),
                expected: wanted,
                actual: Some(current),
            });
        }
        let last = self.take_positions(fresh.len() as i64, uow).await?;
        let first = last - fresh.len() as i64 + 1;
        let now = DateTime::now();
        let documents: Vec<Document> = fresh
            .iter()
            .enumerate()
            .map(|(i, event)| {
                let mut document = doc! {
                    "_id": event.event_id.clone(),
                    "event_type": event.event_type.clone(),
                    "aggregate_id": stream.aggregate_id,
                    "aggregate_type": stream.aggregate_type,
                    "version": current + 1 + i as i64,
                    "schema_version": event.schema_version,
                    "payload": event.payload.clone(),
                    "metadata": event.metadata.clone(),
                    "occurred_at": now,
                    "position": first + i as i64,
                };
                if let Some(id) = &event.correlation_id {
                    document.insert("correlation_id", id.clone());
                }
                if let Some(id) = &event.causation_id {
                    document.insert("causation_id", id.clone());
                }
                document
            })
            .collect();
        let session = uow.session();
        let insert = self.events.insert_many(documents);
        let inserted = match session {
            Some(session) => insert.session(session).await,
            None => insert.await,
        };
        match inserted {
            Ok(_) => Ok((first..=last).collect()),
            Err(err) if is_duplicate_key(&err) => Err(Error::Concurrency {
                collection: EVENTS.into(),
                id: stream.aggregate_id.into(),
                expected: current,
                actual: None,
            }),
            Err(err) => Err(err.into()),
        }
    }

    /// Drops events already stored with the same content (an idempotent retry); the same id with
    /// other content is an error.
    async fn without_stored_duplicates<'e>(
        &self,
        events: &'e [NewEvent],
        uow: &mut UnitOfWork<'_>,
    ) -> Result<Vec<&'e NewEvent>> {
        let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        let stored = self.find(doc! { "_id": { "$in": ids } }, None, uow).await?;
        let mut fresh = Vec::with_capacity(events.len());
        for event in events {
            match stored.iter().find(|d| d.get_str("_id").ok() == Some(event.event_id.as_str())) {
                None => fresh.push(event),
                Some(existing) => {
                    let same = existing.get_str("event_type").ok() == Some(event.event_type.as_str())
                        && existing.get_document("payload").ok() == Some(&event.payload);
                    if !same {
                        return Err(Error::Mapping {
                            what: format!("event {}", event.event_id),
                            message: "an event with this id is already stored with other content".into(),
                        });
                    }
                }
            }
        }
        Ok(fresh)
    }

    async fn stream_version(&self, aggregate_id: &str, uow: &mut UnitOfWork<'_>) -> Result<i64> {
        let mut options = mongodb::options::FindOneOptions::default();
        options.sort = Some(doc! { "version": -1 });
        let find = self.events.find_one(doc! { "aggregate_id": aggregate_id }).with_options(options);
        let last = match uow.session() {
            Some(session) => find.session(session).await?,
            None => find.await?,
        };
        Ok(last.map(|d| int(d.get("version"))).unwrap_or(0))
    }

    /// Increments the legacy counter by `count` inside the transaction; the new value is the
    /// last position of the batch.
    async fn take_positions(&self, count: i64, uow: &mut UnitOfWork<'_>) -> Result<i64> {
        let mut options = FindOneAndUpdateOptions::default();
        options.upsert = Some(true);
        options.return_document = Some(ReturnDocument::After);
        let update = self
            .counters
            // An Int32 increment keeps the legacy counter an Int32 (as pymongo's $inc did).
            .find_one_and_update(doc! { "_id": COUNTER_ID }, doc! { "$inc": { "value": pymongo_int(count) } })
            .with_options(options);
        let counter = match uow.session() {
            Some(session) => update.session(session).await?,
            None => update.await?,
        };
        Ok(counter.map(|d| int(d.get("value"))).unwrap_or(count))
    }

    async fn find(&self, filter: Document, sort: Option<Document>, uow: &mut UnitOfWork<'_>) -> Result<Vec<Document>> {
        let mut options = mongodb::options::FindOptions::default();
        options.sort = sort;
        let find = self.events.find(filter).with_options(options);
        match uow.session() {
            Some(session) => {
                let mut cursor = find.session(&mut *session).await?;
                let mut out = Vec::new();
                while let Some(document) = cursor.next(session).await {
                    out.push(document?);
                }
                Ok(out)
            }
            None => Ok(find.await?.try_collect().await?),
        }
    }

    /// Events of one stream after `from_version`, in version order, at most `limit`.
    pub async fn read_stream(
        &self,
        aggregate_id: &str,
        from_version: i64,
        limit: Option<i64>,
    ) -> Result<Vec<StoredEvent>> {
        let mut options = mongodb::options::FindOptions::default();
        options.sort = Some(doc! { "version": 1 });
        options.limit = limit;
        let filter = doc! { "aggregate_id": aggregate_id, "version": { "$gt": from_version } };
        let documents: Vec<Document> = self.events.find(filter).with_options(options).await?.try_collect().await?;
        documents.into_iter().map(|d| self.decode(d)).collect()
    }

    /// Up to `limit` events after global position `after`, in position order.
    pub async fn read_all(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let mut options = mongodb::options::FindOptions::default();
        options.sort = Some(doc! { "position": 1 });
        options.limit = Some(limit);
        let documents: Vec<Document> =
            self.events.find(doc! { "position": { "$gt": after } }).with_options(options).await?.try_collect().await?;
        documents.into_iter().map(|d| self.decode(d)).collect()
    }

    /// Every event after `after` as a stream, read `page_size` at a time in position order; it
    /// ends when it has caught up with the latest committed position.
    pub fn read_all_stream(
        &self,
        after: i64,
        page_size: i64,
    ) -> impl futures::Stream<Item = Result<StoredEvent>> + Send + '_ {
        futures::stream::try_unfold(
            (after, Vec::<StoredEvent>::new().into_iter()),
            move |(after, mut page)| async move {
                if let Some(event) = page.next() {
                    let position = event.position;
                    return Ok(Some((event, (position, page))));
                }
                let mut next = self.read_all(after, page_size).await?.into_iter();
                Ok(next.next().map(|event| {
                    let position = event.position;
                    (event, (position, next))
                }))
            },
        )
    }

    /// Events of the given types after `after`, in position order, at most `limit`.
    pub async fn read_by_types(&self, types: &[&str], after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let mut options = mongodb::options::FindOptions::default();
        options.sort = Some(doc! { "position": 1 });
        options.limit = Some(limit);
        let filter = doc! { "event_type": { "$in": types }, "position": { "$gt": after } };
        let documents: Vec<Document> = self.events.find(filter).with_options(options).await?.try_collect().await?;
        documents.into_iter().map(|d| self.decode(d)).collect()
    }

    /// What is needed to rebuild an aggregate: its latest snapshot and the events after it.
    pub async fn load(
        &self,
        snapshots: &crate::snapshots::SnapshotStore,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<(Option<crate::snapshots::Snapshot>, Vec<StoredEvent>)> {
        let snapshot = snapshots.latest(aggregate_type, aggregate_id).await?;
        let from = snapshot.as_ref().map_or(0, |s| s.version);
        let events = self.read_stream(aggregate_id, from, None).await?;
        Ok((snapshot, events))
    }

    /// The highest committed position (0 when the store is empty).
    pub async fn latest_position(&self) -> Result<i64> {
        let mut options = mongodb::options::FindOneOptions::default();
        options.sort = Some(doc! { "position": -1 });
        let last = self.events.find_one(doc! {}).with_options(options).await?;
        Ok(last.map(|d| int(d.get("position"))).unwrap_or(0))
    }
}

fn pymongo_int(value: i64) -> Bson {
    i32::try_from(value).map(Bson::Int32).unwrap_or(Bson::Int64(value))
}

fn int(value: Option<&Bson>) -> i64 {
    match value {
        Some(Bson::Int32(v)) => i64::from(*v),
        Some(Bson::Int64(v)) => *v,
        Some(Bson::Double(v)) => *v as i64,
        _ => 0,
    }
}

fn stored_event(document: Document) -> Result<StoredEvent> {
    let text = |key: &str| document.get_str(key).map(str::to_owned).unwrap_or_default();
    Ok(StoredEvent {
        event_id: text("_id"),
        event_type: text("event_type"),
        aggregate_id: text("aggregate_id"),
        aggregate_type: text("aggregate_type"),
        version: int(document.get("version")),
        position: int(document.get("position")),
        schema_version: int(document.get("schema_version")) as i32,
        payload: document.get_document("payload").cloned().unwrap_or_default(),
        metadata: document.get_document("metadata").cloned().unwrap_or_default(),
        occurred_at: document.get_datetime("occurred_at").copied().unwrap_or(DateTime::from_millis(0)),
    })
}

//! The append that runs inside one transaction: the caller's unit of work, or the fallback of a
//! group commit. It reads what it needs to give precise answers (stored duplicates, the stream's
//! version), takes positions from the legacy counter and inserts the events.

use bson::{Bson, DateTime, Document, doc};
use futures::{FutureExt, TryStreamExt};
use mongodb::options::{FindOneAndUpdateOptions, ReturnDocument};

use super::{EVENTS, EventStore, ExpectedVersion, NewEvent, Stream};
use crate::error::{Error, EventIdProblem, Result, is_duplicate_key};
use crate::store::fields::int;
use crate::store::uow::UnitOfWork;

const COUNTER_ID: &str = "domain_events_position";

impl EventStore {
    /// The append in a transaction of its own (the driver's helper retries transient errors).
    pub(super) async fn append_alone(
        &self,
        stream: Stream<'_>,
        expected: ExpectedVersion,
        events: &[NewEvent],
        messages: Option<super::group_commit::Messages>,
    ) -> Result<Vec<i64>> {
        // The context form keeps this future `Send` (closures capturing references hit
        // rust-lang/rust#96865 otherwise).
        let context = (self, stream, expected, events, messages.as_ref());
        self.connection
            .transaction_with(context, |uow, context| {
                let (store, stream, expected, events, messages) = *context;
                async move {
                    let positions = store.append_in(stream, expected, events, uow).await?;
                    if let Some(messages) = messages {
                        messages.outbox.insert(messages.documents.clone(), uow).await?;
                    }
                    Ok(positions)
                }
                .boxed()
            })
            .await
    }

    /// Checks, takes positions and inserts, all in `uow`.
    pub(super) async fn append_in(
        &self,
        stream: Stream<'_>,
        expected: ExpectedVersion,
        events: &[NewEvent],
        uow: &UnitOfWork,
    ) -> Result<Vec<i64>> {
        self.append_in_watching(stream, expected, events, &[], uow).await
    }

    /// [`append_in`](Self::append_in), also incrementing the `watched` markers of a condition
    /// with its events' markers when it appends.
    pub(super) async fn append_in_watching(
        &self,
        stream: Stream<'_>,
        expected: ExpectedVersion,
        events: &[NewEvent],
        watched: &[super::markers::Marker],
        uow: &UnitOfWork,
    ) -> Result<Vec<i64>> {
        // One indexed read answers both questions of the usual case: which events are stored
        // already, and whether the stream is at the expected version (`v` there, `v + 1` not).
        let expected_version = match expected {
            ExpectedVersion::Any => None,
            ExpectedVersion::NoStream => Some(0),
            ExpectedVersion::Exact(version) => Some(version),
        };
        let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        let mut probe = vec![doc! { "_id": { "$in": ids } }];
        if let Some(version) = expected_version {
            probe.push(doc! { "aggregate_id": stream.aggregate_id, "version": { "$in": [version, version + 1] } });
        }
        let found = self.find(doc! { "$or": probe }, uow).await?;
        if let Some(cross) = found.iter().find_map(|d| self.foreign(d)) {
            return Err(cross);
        }
        let fresh = fresh_events(stream, events, &found)?;
        if fresh.is_empty() {
            return Ok(Vec::new());
        }
        let at = |version: i64| {
            found.iter().any(|d| {
                d.get_str("aggregate_id").ok() == Some(stream.aggregate_id) && int(d.get("version")) == version
            })
        };
        let current = match expected_version {
            // The usual case needs no further read.
            Some(version) if (version == 0 || at(version)) && !at(version + 1) => version,
            // The stream's head, for `Any` or for the precise error.
            _ => self.stream_version(stream.aggregate_id, uow).await?,
        };
        if let Some(wanted) = expected_version.filter(|wanted| *wanted != current) {
            return Err(Error::Concurrency {
                collection: EVENTS.into(),
                id: stream.aggregate_id.into(),
                expected: wanted,
                actual: Some(current),
            });
        }
        let last = self.allocate_positions(fresh.len() as i64, uow, uow.session().await.get()).await?;
        let first = last - fresh.len() as i64 + 1;
        let now = DateTime::now();
        let documents: Vec<Document> = fresh
            .iter()
            .enumerate()
            .map(|(i, event)| {
                let tenant = self.tenant.as_ref().map(crate::store::tenancy::Tenant::id);
                event.to_document(stream, tenant, current + 1 + i as i64, first + i as i64, now)
            })
            .collect();
        let insert = self.events.insert_many(documents);
        let inserted = match uow.session().await.get() {
            Some(session) => insert.session(session).await,
            None => insert.await,
        };
        match inserted {
            Ok(_) => {
                // In the transaction: appends that would break a condition meet on a marker.
                let mut markers = super::markers::of_events(fresh.iter().copied());
                super::markers::add_new(&mut markers, watched.iter().cloned());
                super::markers::bump(&self.markers, &markers, uow.session().await.get()).await?;
                Ok((first..=last).collect())
            }
            Err(err) if is_duplicate_key(&err) => Err(Error::Concurrency {
                collection: EVENTS.into(),
                id: stream.aggregate_id.into(),
                expected: current,
                actual: None,
            }),
            Err(err) => Err(err.into()),
        }
    }

    async fn find(&self, filter: Document, uow: &UnitOfWork) -> Result<Vec<Document>> {
        let find = self.events.find(filter);
        Ok(match uow.session().await.get() {
            Some(session) => {
                crate::store::query::collect_in_session(find.session(&mut *session).await?, session).await?
            }
            None => find.await?.try_collect().await?,
        })
    }

    async fn stream_version(&self, aggregate_id: &str, uow: &UnitOfWork) -> Result<i64> {
        let find = self.events.find_one(doc! { "aggregate_id": aggregate_id }).sort(doc! { "version": -1 });
        let last = match uow.session().await.get() {
            Some(session) => find.session(session).await?,
            None => find.await?,
        };
        if let Some(cross) = last.as_ref().and_then(|d| self.foreign(d)) {
            return Err(cross);
        }
        Ok(last.map(|d| int(d.get("version"))).unwrap_or(0))
    }

    /// `count` positions for events inserted in `uow` (`session` is its session, if any), the
    /// last returned. With [`PositionAllocation::Reserved`](super::PositionAllocation::Reserved)
    /// and a transaction they are reserved outside it, so concurrent transactions do not meet on
    /// the counter, and handed to the unit of work, which burns them unless it commits; else
    /// the counter is incremented in the session.
    pub(super) async fn allocate_positions(
        &self,
        count: i64,
        uow: &UnitOfWork,
        session: Option<&mut mongodb::ClientSession>,
    ) -> Result<i64> {
        if self.allocation != super::PositionAllocation::Reserved || !uow.is_transactional() {
            return Ok(self.take_positions(count, session).await?);
        }
        let last = self.take_positions(count, None).await?;
        uow.reserved(crate::store::uow::Reservation {
            burnt: self.burnt.clone(),
            first: last - count + 1,
            last,
            at: std::time::Instant::now(),
            limit: self.reservation_limit(),
        });
        Ok(last)
    }

    /// Increments the legacy counter by `count` (inside the transaction of `session`); the new
    /// value is the last position of the batch.
    pub(super) async fn take_positions(
        &self,
        count: i64,
        session: Option<&mut mongodb::ClientSession>,
    ) -> mongodb::error::Result<i64> {
        let mut options = FindOneAndUpdateOptions::default();
        options.upsert = Some(true);
        options.return_document = Some(ReturnDocument::After);
        let update = self
            .counters
            // An Int32 increment keeps the legacy counter an Int32 (as pymongo's $inc did).
            .find_one_and_update(doc! { "_id": COUNTER_ID }, doc! { "$inc": { "value": pymongo_int(count) } })
            .with_options(options);
        let counter = match session {
            Some(session) => update.session(session).await?,
            None => update.await?,
        };
        Ok(counter.map(|d| int(d.get("value"))).unwrap_or(count))
    }

    /// The counter's committed value: every position up to it is committed (counter and events
    /// are written in one transaction). `None` when there is no counter document.
    pub(super) async fn counter_value(&self) -> Result<Option<i64>> {
        let counter = self.counters.find_one(doc! { "_id": COUNTER_ID }).await?;
        Ok(counter.map(|d| int(d.get("value"))))
    }
}

fn pymongo_int(value: i64) -> Bson {
    i32::try_from(value).map(Bson::Int32).unwrap_or(Bson::Int64(value))
}

/// The events not stored yet. An event stored in this stream with the same content is an
/// idempotent retry and is dropped; the same id in another stream, or with other content, is an
/// error.
fn fresh_events<'e>(stream: Stream<'_>, events: &'e [NewEvent], found: &[Document]) -> Result<Vec<&'e NewEvent>> {
    let mut fresh = Vec::with_capacity(events.len());
    for event in events {
        match found.iter().find(|d| d.get_str("_id").ok() == Some(event.event_id.as_str())) {
            None => fresh.push(event),
            Some(existing) => {
                let stored_in = existing.get_str("aggregate_id").unwrap_or_default();
                let problem = if stored_in != stream.aggregate_id {
                    EventIdProblem::InAnotherStream { stream: stored_in.to_owned() }
                } else if existing.get_str("event_type").ok() != Some(event.event_type.as_str())
                    || existing.get_document("payload").ok() != Some(&event.payload)
                {
                    EventIdProblem::OtherContent
                } else {
                    continue;
                };
                return Err(Error::EventId { event_id: event.event_id.clone(), problem });
            }
        }
    }
    Ok(fresh)
}

/// Refuses a batch that holds an event id twice, before anything is written: it could never be
/// appended, and retrying it would fail for ever.
pub(super) fn distinct_ids(events: &[NewEvent]) -> Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(events.len());
    match events.iter().find(|event| !seen.insert(event.event_id.as_str())) {
        Some(event) => {
            Err(Error::EventId { event_id: event.event_id.clone(), problem: EventIdProblem::RepeatedInBatch })
        }
        None => Ok(()),
    }
}

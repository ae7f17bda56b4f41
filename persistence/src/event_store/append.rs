//! The append that runs inside one transaction: the caller's unit of work, or the fallback of a
//! group commit. It reads what it needs to give precise answers (stored duplicates, the stream's
//! version), takes positions from the legacy counter and inserts the events.

use bson::{Bson, DateTime, Document, doc};
use futures::{FutureExt, TryStreamExt};
use mongodb::options::{FindOneAndUpdateOptions, ReturnDocument};

use super::{EVENTS, EventStore, ExpectedVersion, NewEvent, Stream, int};
use crate::error::{Error, Result, is_duplicate_key};
use crate::uow::UnitOfWork;

const COUNTER_ID: &str = "domain_events_position";

impl EventStore {
    /// The append in a transaction of its own (the driver's helper retries transient errors).
    pub(super) async fn append_alone(
        &self,
        stream: Stream<'_>,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<Vec<i64>> {
        // The driver's helper with a context argument keeps this future `Send` (closures
        // capturing references hit rust-lang/rust#96865 otherwise).
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

    /// Checks, takes positions and inserts, all in `uow`.
    pub(super) async fn append_in(
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
        let last = self.take_positions(fresh.len() as i64, uow.session()).await?;
        let first = last - fresh.len() as i64 + 1;
        let now = DateTime::now();
        let documents: Vec<Document> = fresh
            .iter()
            .enumerate()
            .map(|(i, event)| event.to_document(stream, current + 1 + i as i64, first + i as i64, now))
            .collect();
        let insert = self.events.insert_many(documents);
        let inserted = match uow.session() {
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
        let find = self.events.find(doc! { "_id": { "$in": ids } });
        let stored: Vec<Document> = match uow.session() {
            Some(session) => {
                let mut cursor = find.session(&mut *session).await?;
                let mut out = Vec::new();
                while let Some(document) = cursor.next(session).await {
                    out.push(document?);
                }
                out
            }
            None => find.await?.try_collect().await?,
        };
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
        let find = self.events.find_one(doc! { "aggregate_id": aggregate_id }).sort(doc! { "version": -1 });
        let last = match uow.session() {
            Some(session) => find.session(session).await?,
            None => find.await?,
        };
        Ok(last.map(|d| int(d.get("version"))).unwrap_or(0))
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

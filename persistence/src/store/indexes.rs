//! Index declarations and `ensure_indexes`: create what is missing, leave what matches, and
//! report an existing index with the same name (or the same keys) but other keys or options
//! as [`Error::IndexConflict`] instead of silently keeping it.
//!
//! Every store that needs indexes, and every loop (for the stores it reads and writes), is
//! [`Indexed`], so an application ensures all of them in one call that names what it uses:
//! `db.ensure_indexes_of(&[&events, &outbox, &jobs, &sagas, &runner]).await?` (a projection
//! runner brings its projection's indexes and those of `dead_letters`, where it parks events).

use std::time::Duration;

use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use tracing::instrument;

use crate::dead_letters::DeadLetters;
use crate::error::{Error, Result};
use crate::event_store::EventStore;
use crate::jobs::{JobQueue, JobWorker};
use crate::outbox::{Outbox, OutboxRelay};
use crate::projections::positions::PositionStore;
use crate::projections::runner::{Projection, ProjectionRunner};
use crate::repository::Repository;
use crate::repository::model::Aggregate;
use crate::runtime::subscription::Subscription;
use crate::sagas::SagaRepository;
use crate::snapshots::SnapshotStore;
use crate::store::connection::Connection;

/// One index a component (or the application) needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IndexSpec {
    /// The collection.
    pub collection: String,
    /// Key pattern in order: `{"aggregate_id": 1, "version": 1}`, `{"location": "2dsphere"}`.
    pub keys: Document,
    /// The index name (default: MongoDB's `field_1_other_-1` form).
    pub name: String,
    /// Unique index.
    pub unique: bool,
    /// TTL: documents expire this long after the date in the (single) key field.
    pub expire_after: Option<Duration>,
    /// Index only documents matching this filter.
    pub partial_filter: Option<Document>,
}

impl IndexSpec {
    /// An index on `keys` in `collection`, named like MongoDB names it.
    pub fn new(collection: impl Into<String>, keys: Document) -> Self {
        let name = keys
            .iter()
            .map(|(field, kind)| match kind {
                Bson::String(kind) => format!("{field}_{kind}"),
                Bson::Int32(n) => format!("{field}_{n}"),
                Bson::Int64(n) => format!("{field}_{n}"),
                other => format!("{field}_{other}"),
            })
            .collect::<Vec<_>>()
            .join("_");
        IndexSpec { collection: collection.into(), keys, name, unique: false, expire_after: None, partial_filter: None }
    }

    /// Makes the index unique.
    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    /// Sets a TTL.
    pub fn expire_after(mut self, ttl: Duration) -> Self {
        self.expire_after = Some(ttl);
        self
    }

    /// Restricts the index to documents matching `filter`.
    pub fn partial(mut self, filter: Document) -> Self {
        self.partial_filter = Some(filter);
        self
    }

    /// Overrides the name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The `createIndexes` entry.
    fn to_command(&self) -> Document {
        let mut index = doc! { "key": self.keys.clone(), "name": self.name.clone() };
        if self.unique {
            index.insert("unique", true);
        }
        if let Some(ttl) = self.expire_after {
            index.insert("expireAfterSeconds", ttl.as_secs() as i64);
        }
        if let Some(filter) = &self.partial_filter {
            index.insert("partialFilterExpression", filter.clone());
        }
        index
    }

    /// True when an existing index (from `listIndexes`) is this one.
    fn matches(&self, existing: &Document) -> bool {
        let same_keys = existing.get_document("key").is_ok_and(|keys| same_key_pattern(keys, &self.keys));
        let unique = existing.get_bool("unique").unwrap_or(false);
        let ttl = number(existing.get("expireAfterSeconds"));
        let partial = existing.get_document("partialFilterExpression").ok();
        same_keys
            && unique == self.unique
            && ttl == self.expire_after.map(|d| d.as_secs() as i64)
            && partial == self.partial_filter.as_ref()
    }
}

fn number(value: Option<&Bson>) -> Option<i64> {
    match value? {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        Bson::Double(n) => Some(*n as i64),
        _ => None,
    }
}

/// Key patterns are equal when fields, order and kinds agree (`1` as Int32, Int64 or Double).
fn same_key_pattern(a: &Document, b: &Document) -> bool {
    a.len() == b.len()
        && a.iter().zip(b.iter()).all(|((fa, ka), (fb, kb))| {
            fa == fb
                && match (number(Some(ka)), number(Some(kb))) {
                    (Some(x), Some(y)) => x == y,
                    _ => ka == kb,
                }
        })
}

/// What `ensure_indexes` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexReport {
    /// `collection.name` of the indexes it created.
    pub created: Vec<String>,
    /// `collection.name` of the indexes that already existed as declared.
    pub unchanged: Vec<String>,
}

/// What declares the indexes it needs: the stores ([`EventStore`], [`Outbox`], [`JobQueue`],
/// [`SagaRepository`], [`DeadLetters`], a [`Repository`] with its declared indexes, and, with
/// none to declare, [`SnapshotStore`] and [`PositionStore`]), the loops (a
/// [`ProjectionRunner`]: the event store's, its projection's and `dead_letters`'; a
/// [`Subscription`]: the event store's and `dead_letters`'; an [`OutboxRelay`]: the outbox's; a
/// [`JobWorker`]: the queue's), and lists of [`IndexSpec`]s (a projection's
/// `indexes()`, an application's own). [`Connection::ensure_indexes_of`] ensures a list of
/// them in one call.
pub trait Indexed {
    /// The indexes it needs (possibly none).
    fn indexes(&self) -> Vec<IndexSpec>;
}

impl Indexed for IndexSpec {
    fn indexes(&self) -> Vec<IndexSpec> {
        vec![self.clone()]
    }
}

impl Indexed for [IndexSpec] {
    fn indexes(&self) -> Vec<IndexSpec> {
        self.to_vec()
    }
}

impl Indexed for Vec<IndexSpec> {
    fn indexes(&self) -> Vec<IndexSpec> {
        self.clone()
    }
}

impl Indexed for EventStore {
    fn indexes(&self) -> Vec<IndexSpec> {
        EventStore::indexes()
    }
}

impl Indexed for Outbox {
    fn indexes(&self) -> Vec<IndexSpec> {
        Outbox::indexes()
    }
}

impl Indexed for JobQueue {
    fn indexes(&self) -> Vec<IndexSpec> {
        JobQueue::indexes()
    }
}

impl Indexed for SagaRepository {
    fn indexes(&self) -> Vec<IndexSpec> {
        SagaRepository::indexes()
    }
}

impl Indexed for DeadLetters {
    fn indexes(&self) -> Vec<IndexSpec> {
        DeadLetters::indexes()
    }
}

/// The indexes declared with [`Repository::with_index`].
impl<T: Aggregate> Indexed for Repository<T> {
    fn indexes(&self) -> Vec<IndexSpec> {
        Repository::indexes(self).to_vec()
    }
}

/// None: snapshots are only looked up by `_id`.
impl Indexed for SnapshotStore {
    fn indexes(&self) -> Vec<IndexSpec> {
        Vec::new()
    }
}

/// None: positions are only looked up by `_id`.
impl Indexed for PositionStore {
    fn indexes(&self) -> Vec<IndexSpec> {
        Vec::new()
    }
}

/// The event store's (it reads by position), its projection's, and `dead_letters`' (where it
/// parks events).
impl<P: Projection> Indexed for ProjectionRunner<P> {
    fn indexes(&self) -> Vec<IndexSpec> {
        [EventStore::indexes(), Projection::indexes(self.projection()), DeadLetters::indexes()].concat()
    }
}

/// The event store's (it reads by position and type) and `dead_letters`' (where it parks
/// events).
impl Indexed for Subscription {
    fn indexes(&self) -> Vec<IndexSpec> {
        [EventStore::indexes(), DeadLetters::indexes()].concat()
    }
}

/// The outbox's.
impl Indexed for OutboxRelay {
    fn indexes(&self) -> Vec<IndexSpec> {
        Outbox::indexes()
    }
}

/// The job queue's.
impl Indexed for JobWorker {
    fn indexes(&self) -> Vec<IndexSpec> {
        JobQueue::indexes()
    }
}

impl Connection {
    /// Ensures the indexes of everything in `owners` in one call, each index once (an index
    /// two owners declare alike is ensured once; declared differently under one name, it is
    /// [`Error::IndexConflict`]):
    ///
    /// ```no_run
    /// # async fn demo(db: &cqrs_mongo_persistence::Connection, summaries: cqrs_mongo_persistence::projections::Handlers)
    /// # -> cqrs_mongo_persistence::Result<()> {
    /// use cqrs_mongo_persistence::{EventStore, JobQueue, Outbox, ProjectionRunner, SagaRepository};
    ///
    /// let (events, outbox, jobs, sagas) = (EventStore::new(db), Outbox::new(db), JobQueue::new(db), SagaRepository::new(db));
    /// let runner = ProjectionRunner::new(db, &events, summaries);
    /// // The runner brings its projection's indexes and those of dead_letters.
    /// let report = db.ensure_indexes_of(&[&events, &outbox, &jobs, &sagas, &runner]).await?;
    /// let running = runner.spawn();
    /// # Ok(()) }
    /// ```
    pub fn ensure_indexes_of(
        &self,
        owners: &[&dyn Indexed],
    ) -> impl std::future::Future<Output = Result<IndexReport>> + Send + '_ {
        let mut specs: Vec<IndexSpec> = Vec::new();
        for spec in owners.iter().flat_map(|owner| owner.indexes()) {
            if !specs.contains(&spec) {
                specs.push(spec);
            }
        }
        async move { self.ensure_indexes(&specs).await }
    }

    /// Creates the declared indexes that are missing; idempotent.
    #[instrument(skip_all, fields(count = specs.len()))]
    pub async fn ensure_indexes(&self, specs: &[IndexSpec]) -> Result<IndexReport> {
        let mut report = IndexReport::default();
        for spec in specs {
            let existing = self.existing_indexes(&spec.collection).await?;
            let label = format!("{}.{}", spec.collection, spec.name);
            let same_name = existing.iter().find(|i| i.get_str("name").ok() == Some(spec.name.as_str()));
            let same_keys =
                existing.iter().find(|i| i.get_document("key").is_ok_and(|k| same_key_pattern(k, &spec.keys)));
            match same_name.or(same_keys) {
                Some(index) if spec.matches(index) && index.get_str("name").ok() == Some(spec.name.as_str()) => {
                    report.unchanged.push(label)
                }
                Some(index) => {
                    return Err(Error::IndexConflict {
                        collection: spec.collection.clone(),
                        name: spec.name.clone(),
                        existing: Bson::Document(index.clone()).into_relaxed_extjson().to_string(),
                    });
                }
                None => {
                    self.database()
                        .run_command(doc! { "createIndexes": spec.collection.clone(), "indexes": [spec.to_command()] })
                        .await?;
                    report.created.push(label);
                }
            }
        }
        Ok(report)
    }

    async fn existing_indexes(&self, collection: &str) -> Result<Vec<Document>> {
        let collection = self.database().collection::<Document>(collection);
        match collection.list_indexes().await {
            Ok(cursor) => Ok(cursor
                .try_collect::<Vec<_>>()
                .await?
                .into_iter()
                .map(|model| {
                    let mut index = doc! { "key": model.keys };
                    if let Some(options) = model.options {
                        if let Some(name) = options.name {
                            index.insert("name", name);
                        }
                        if options.unique == Some(true) {
                            index.insert("unique", true);
                        }
                        if let Some(ttl) = options.expire_after {
                            index.insert("expireAfterSeconds", ttl.as_secs() as i64);
                        }
                        if let Some(filter) = options.partial_filter_expression {
                            index.insert("partialFilterExpression", filter);
                        }
                    }
                    index
                })
                .collect()),
            // A collection that does not exist yet has no indexes (NamespaceNotFound).
            Err(err) if matches!(*err.kind, mongodb::error::ErrorKind::Command(ref e) if e.code == 26) => {
                Ok(Vec::new())
            }
            Err(err) => Err(err.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_mongodb() {
        assert_eq!(IndexSpec::new("e", doc! { "aggregate_id": 1, "version": -1 }).name, "aggregate_id_1_version_-1");
        assert_eq!(IndexSpec::new("p", doc! { "location": "2dsphere" }).name, "location_2dsphere");
    }

    #[test]
    fn key_patterns_compare_numbers_by_value() {
        assert!(same_key_pattern(&doc! { "a": 1, "b": -1_i64 }, &doc! { "a": 1.0, "b": -1 }));
        assert!(!same_key_pattern(&doc! { "a": 1, "b": 1 }, &doc! { "b": 1, "a": 1 }));
    }
}

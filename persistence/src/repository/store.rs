//! The state-stored aggregate repository ([`Repository`]).

use std::marker::PhantomData;

use bson::{Bson, Document, doc};
use cqrs_mongo_spec::{Compiler, QueryOptions};
use futures::{Stream, StreamExt};
use std::time::Duration;

use mongodb::Collection;
use mongodb::action::Action;
use mongodb::options::FindOptions;
use serde_json::Value;

use crate::error::{Error, Result, is_duplicate_key};
use crate::repository::model::{Aggregate, Mapping, id_to_bson};
use crate::store::connection::Connection;
use crate::store::indexes::IndexSpec;
use crate::store::query;
use crate::store::tenancy::{self, Tenant};
use crate::store::uow::{On, UnitOfWork, collect_with_session, with_session};
use crate::telemetry::spans::traced;

/// Stores aggregates of type `T` in `T::COLLECTION`.
#[derive(Debug, Clone)]
pub struct Repository<T> {
    pub(super) collection: Collection<Document>,
    pub(super) mapping: Mapping,
    pub(super) compiler: Compiler,
    pub(super) indexes: Vec<IndexSpec>,
    pub(super) tenant: Option<Tenant>,
    pub(super) max_time: Option<Duration>,
    pub(super) _aggregate: PhantomData<fn() -> T>,
}

/// The result of [`Repository::get_many`]: found aggregates in the order asked, and the ids
/// that were not found.
#[derive(Debug)]
pub struct GetMany<T, I> {
    /// Found aggregates, in the order of the requested ids.
    pub found: Vec<T>,
    /// Requested ids with no document.
    pub missing: Vec<I>,
}

impl<T: Aggregate> Repository<T> {
    /// A repository with the default mapping (`id` ↔ `_id`, `version`).
    pub fn new(connection: &Connection) -> Self {
        Self::with_mapping(connection, Mapping::default())
    }

    /// A repository with a custom field mapping.
    pub fn with_mapping(connection: &Connection, mapping: Mapping) -> Self {
        Repository {
            collection: connection.database().collection(T::COLLECTION),
            mapping,
            compiler: Compiler::default(),
            indexes: Vec::new(),
            tenant: None,
            max_time: None,
            _aggregate: PhantomData,
        }
    }

    /// Uses a compiler with a field whitelist or other limits for specs.
    pub fn with_compiler(mut self, compiler: Compiler) -> Self {
        self.compiler = compiler;
        self
    }

    /// Declares an index on this repository's collection, e.g.
    /// `.with_index(doc! {"customer": 1, "placed_at": -1}, |i| i)` or `|i| i.unique()`.
    pub fn with_index(mut self, keys: Document, configure: impl FnOnce(IndexSpec) -> IndexSpec) -> Self {
        self.indexes.push(configure(IndexSpec::new(T::COLLECTION, keys)));
        self
    }

    /// The declared indexes, for [`Connection::ensure_indexes`].
    pub fn indexes(&self) -> &[IndexSpec] {
        &self.indexes
    }

    /// This repository scoped to `tenant`: every document it writes carries the tenant, every
    /// filter includes it, and touching another tenant's aggregate by id is
    /// [`Error::CrossTenant`] (searches simply do not see other tenants).
    pub fn for_tenant(&self, tenant: &Tenant) -> Self {
        Repository {
            collection: self.collection.clone(),
            mapping: self.mapping.clone(),
            compiler: self.compiler.clone(),
            indexes: self.indexes.clone(),
            tenant: Some(tenant.clone()),
            max_time: self.max_time,
            _aggregate: PhantomData,
        }
    }

    /// Every read built from a specification (`count`, `find_one`, `search`,
    /// `search_documents`, the streams) carries this server-side time limit (`maxTimeMS`), so
    /// a specification from a client cannot keep the server busy longer.
    pub fn max_time(mut self, limit: Duration) -> Self {
        self.max_time = Some(limit);
        self
    }

    /// The compiled filter of a specification (compiled as given), within the tenant scope.
    pub(super) fn spec_filter(&self, spec: &Value) -> Result<Document> {
        Ok(self.scoped(self.compiler.compile(spec)?))
    }

    /// `filter` within the tenant scope.
    pub(super) fn scoped(&self, filter: Document) -> Document {
        tenancy::scoped(self.tenant.as_ref(), filter)
    }

    /// The cross-tenant error when `key` exists under another tenant.
    pub(super) async fn foreign(&self, key: &Bson) -> Result<Option<Error>> {
        tenancy::foreign(self.tenant.as_ref(), &self.collection, key).await
    }

    /// The underlying collection.
    pub fn collection(&self) -> &Collection<Document> {
        &self.collection
    }

    /// Inserts a new aggregate (version 0 → 1) or updates it if the stored version is still the
    /// loaded one (version n → n + 1). A mismatch, or a create of an id that exists, is
    /// [`Error::Concurrency`]; inside a unit of work, a concurrent transaction that wrote the
    /// same document first is [`Error::WriteConflict`] (retry the unit of work). An id that
    /// serialises to null is [`Error::NullId`], refused before anything is written.
    ///
    /// The aggregate's version is updated on success; inside a unit of work the new version is
    /// provisional until the commit (a rollback or retry puts the old one back, see
    /// [`Version`](crate::store::Version)).
    pub async fn save(&self, aggregate: &mut T, on: impl Into<On<'_>>) -> Result<()> {
        let on = on.into();
        let fate = on.fate().cloned();
        let expected = aggregate.version();
        let id = id_to_bson(aggregate.id())?;
        let next = expected + 1;
        let mut document = self.mapping.to_document(aggregate, next)?;
        if let Some(tenant) = &self.tenant {
            tenant.stamp(T::COLLECTION, &mut document)?;
        }
        let outcome = traced(T::COLLECTION, "save", async {
            if expected == 0 {
                match with_session!(self.collection.insert_one(document), on) {
                    Ok(_) => Ok(()),
                    Err(err) if is_duplicate_key(&err) => Err(self.conflict(&id, expected, None)),
                    Err(err) => Err(err.into()),
                }
            } else {
                let filter = self.scoped(doc! { "_id": id.clone(), self.mapping.version_field.as_str(): expected });
                let result = with_session!(self.collection.replace_one(filter, document), on)?;
                if result.matched_count == 1 { Ok(()) } else { Err(self.conflict(&id, expected, None)) }
            }
        })
        .await;
        match outcome {
            Ok(()) => {
                aggregate.version_mut().advance(next, fate.as_ref());
                Ok(())
            }
            Err(Error::Concurrency { collection, id: id_text, expected, .. }) => {
                if let Some(foreign) = self.foreign(&id).await? {
                    return Err(foreign);
                }
                // Report the stored version too (outside the transaction, it may have moved on).
                let actual = self.stored_version(&id).await.ok().flatten();
                Err(Error::Concurrency { collection, id: id_text, expected, actual })
            }
            Err(err) => Err(err),
        }
    }

    pub(super) fn conflict(&self, id: &Bson, expected: i64, actual: Option<i64>) -> Error {
        Error::Concurrency {
            collection: T::COLLECTION.to_owned(),
            id: id.clone().into_relaxed_extjson().to_string(),
            expected,
            actual,
        }
    }

    pub(super) async fn stored_version(&self, id: &Bson) -> Result<Option<i64>> {
        let version_field = self.mapping.version_field.as_str();
        let found = self.collection.find_one(doc! { "_id": id.clone() }).projection(doc! { version_field: 1 }).await?;
        Ok(found.and_then(|d| match d.get(version_field) {
            Some(Bson::Int32(v)) => Some(i64::from(*v)),
            Some(Bson::Int64(v)) => Some(*v),
            _ => None,
        }))
    }

    /// The aggregate with this id, its version restored.
    pub async fn get(&self, id: &T::Id, on: impl Into<On<'_>>) -> Result<Option<T>> {
        let on = on.into();
        traced(T::COLLECTION, "get", async move {
            let key = id_to_bson(id)?;
            let found = with_session!(self.collection.find_one(self.scoped(doc! { "_id": key.clone() })), on)?;
            if found.is_none()
                && let Some(foreign) = self.foreign(&key).await?
            {
                return Err(foreign);
            }
            found.map(|d| self.mapping.from_document(d)).transpose()
        })
        .await
    }

    /// Several aggregates in the order of `ids`; the ids without a document are reported.
    pub async fn get_many(&self, ids: &[T::Id], on: impl Into<On<'_>>) -> Result<GetMany<T, T::Id>> {
        let on = on.into();
        traced(T::COLLECTION, "get_many", async move {
            let keys: Vec<Bson> = ids.iter().map(id_to_bson).collect::<Result<_>>()?;
            let filter = self.scoped(doc! { "_id": { "$in": keys.clone() } });
            let documents = self.find_documents(filter, FindOptions::default(), on).await?;
            let mut by_id: Vec<(Bson, Document)> =
                documents.into_iter().map(|d| (d.get("_id").cloned().unwrap_or(Bson::Null), d)).collect();
            let mut found = Vec::with_capacity(ids.len());
            let mut missing = Vec::new();
            for (id, key) in ids.iter().zip(&keys) {
                match by_id.iter().position(|(stored, _)| stored == key) {
                    Some(index) => found.push(self.mapping.from_document(by_id.swap_remove(index).1)?),
                    None => {
                        if let Some(foreign) = self.foreign(key).await? {
                            return Err(foreign);
                        }
                        missing.push(id.clone());
                    }
                }
            }
            Ok(GetMany { found, missing })
        })
        .await
    }

    /// Deletes the aggregate; with `expected_version`, only if the stored version matches
    /// (otherwise [`Error::Concurrency`]). Returns whether a document was deleted.
    pub async fn delete(&self, id: &T::Id, expected_version: Option<i64>, on: impl Into<On<'_>>) -> Result<bool> {
        let on = on.into();
        traced(T::COLLECTION, "delete", async move {
            let key = id_to_bson(id)?;
            let mut filter = doc! { "_id": key.clone() };
            if let Some(version) = expected_version {
                filter.insert(self.mapping.version_field.clone(), version);
            }
            let deleted = with_session!(self.collection.delete_one(self.scoped(filter)), on)?.deleted_count == 1;
            if !deleted && let Some(foreign) = self.foreign(&key).await? {
                return Err(foreign);
            }
            match expected_version {
                Some(version) if !deleted => {
                    let actual = self.stored_version(&key).await?;
                    if actual.is_some() { Err(self.conflict(&key, version, actual)) } else { Ok(false) }
                }
                _ => Ok(deleted),
            }
        })
        .await
    }

    /// True when an aggregate with this id exists.
    pub async fn exists(&self, id: &T::Id, on: impl Into<On<'_>>) -> Result<bool> {
        let on = on.into();
        traced(T::COLLECTION, "exists", async move {
            let key = id_to_bson(id)?;
            let filter = self.scoped(doc! { "_id": key.clone() });
            let exists = with_session!(self.collection.count_documents(filter).limit(1), on)? > 0;
            if !exists && let Some(foreign) = self.foreign(&key).await? {
                return Err(foreign);
            }
            Ok(exists)
        })
        .await
    }

    /// The number of aggregates matching a specification.
    pub async fn count(&self, spec: &Value, on: impl Into<On<'_>>) -> Result<u64> {
        let on = on.into();
        traced(T::COLLECTION, "count", async move {
            let filter = self.spec_filter(spec)?;
            let count = self.collection.count_documents(filter).optional(self.max_time, |a, limit| a.max_time(limit));
            Ok(with_session!(count, on)?)
        })
        .await
    }

    /// The first aggregate matching a specification.
    pub async fn find_one(&self, spec: &Value, on: impl Into<On<'_>>) -> Result<Option<T>> {
        let on = on.into();
        traced(T::COLLECTION, "find_one", async move {
            let filter = self.spec_filter(spec)?;
            let find = self.collection.find_one(filter).optional(self.max_time, |a, limit| a.max_time(limit));
            let found = with_session!(find, on)?;
            found.map(|d| self.mapping.from_document(d)).transpose()
        })
        .await
    }

    /// Aggregates matching a specification, with query options (sort, skip, limit).
    /// `select_fields`, `distinct` and `group_by` do not produce whole aggregates: they are
    /// [`Error::Unsupported`] here; [`search_documents`](Self::search_documents) honours them.
    pub async fn search(&self, spec: &Value, options: Option<&QueryOptions>, on: impl Into<On<'_>>) -> Result<Vec<T>> {
        let on = on.into();
        traced(T::COLLECTION, "search", async move {
            let filter = self.spec_filter(spec)?;
            let find_options = match options {
                Some(options) => self.plan(options, "Repository::search")?,
                None => FindOptions::builder().max_time(self.max_time).build(),
            };
            let documents = self.find_documents(filter, find_options, on).await?;
            documents.into_iter().map(|d| self.mapping.from_document(d)).collect()
        })
        .await
    }

    /// Stored documents (not aggregates) matching a specification, with every query option
    /// honoured: sort, skip, limit, `select_fields` (a projection), and `distinct` / `group_by`
    /// (run as the compiled aggregation pipeline, returning its groups). Field names are the
    /// stored ones (`_id`, renames applied).
    pub async fn search_documents(
        &self,
        spec: &Value,
        options: &QueryOptions,
        on: impl Into<On<'_>>,
    ) -> Result<Vec<Document>> {
        let on = on.into();
        traced(T::COLLECTION, "search_documents", async move {
            let query = self.compiler.compile_spec_query(&self.compiler.parse_spec(spec)?, options)?;
            let mut guard = on.session().await;
            let session = guard.get();
            query::run(&self.collection, self.tenant.as_ref(), query, options, self.max_time, session).await
        })
        .await
    }

    /// Like [`search`](Self::search), as a stream fetching `batch_size` documents at a time, so
    /// memory stays flat however many documents match.
    pub async fn search_stream(
        &self,
        spec: &Value,
        options: Option<&QueryOptions>,
        batch_size: u32,
    ) -> Result<impl Stream<Item = Result<T>> + Send + 'static> {
        let filter = self.spec_filter(spec)?;
        let mut find_options = match options {
            Some(options) => self.plan(options, "Repository::search_stream")?,
            None => FindOptions::builder().max_time(self.max_time).build(),
        };
        find_options.batch_size = Some(batch_size);
        let cursor = self.collection.find(filter).with_options(find_options).await?;
        let mapping = self.mapping.clone();
        Ok(cursor.map(move |d| mapping.from_document::<T>(d?)))
    }

    /// [`search_stream`](Self::search_stream) inside a unit of work: the stream reads through
    /// the transaction's session and borrows the unit of work until it is dropped.
    pub async fn search_stream_in<'a>(
        &'a self,
        spec: &Value,
        options: Option<&QueryOptions>,
        batch_size: u32,
        uow: &'a UnitOfWork,
    ) -> Result<impl Stream<Item = Result<T>> + Send + 'a> {
        let filter = self.spec_filter(spec)?;
        let mut find_options = match options {
            Some(options) => self.plan(options, "Repository::search_stream_in")?,
            None => FindOptions::builder().max_time(self.max_time).build(),
        };
        find_options.batch_size = Some(batch_size);
        let mut guard = uow.session().await;
        let Some(session) = guard.get() else {
            // Non-transactional mode: a plain cursor.
            let cursor = self.collection.find(filter).with_options(find_options).await?;
            let mapping = self.mapping.clone();
            return Ok(cursor.map(move |d| mapping.from_document::<T>(d?)).boxed());
        };
        let cursor = self.collection.find(filter).with_options(find_options).session(&mut *session).await?;
        let mapping = &self.mapping;
        // The stream holds the session (other operations on the unit of work wait) until dropped.
        Ok(futures::stream::unfold((cursor, guard), move |(mut cursor, mut guard)| async move {
            let session = guard.get()?;
            let next = cursor.next(session).await?;
            Some((next.map_err(Error::from).and_then(|d| mapping.from_document::<T>(d)), (cursor, guard)))
        })
        .boxed())
    }

    pub(super) async fn find_documents(
        &self,
        filter: Document,
        find_options: FindOptions,
        on: impl Into<On<'_>>,
    ) -> Result<Vec<Document>> {
        let on = on.into();
        collect_with_session!(self.collection.find(filter).with_options(find_options), on)
    }

    /// The find plan of options that keep whole aggregates; the others are refused.
    pub(super) fn plan(&self, options: &QueryOptions, operation: &'static str) -> Result<FindOptions> {
        query::refuse_reshaping(options, operation, "whole aggregates", "Repository::search_documents")?;
        let query = self.compiler.compile_spec_query(&cqrs_mongo_spec::Spec::field("_id").is_not_null(), options)?;
        Ok(query::find_options(&query, self.max_time))
    }
}

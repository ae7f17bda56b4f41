//! Typed read models: one handle, [`ReadModel<T>`], carries the collection's name and the serde
//! type of its documents. Projection handlers write through it ([`ReadModel::set`]); readers
//! find, count and page through it ([`ProjectionStore::read`] → [`Reader`]), getting `T`s back.
//!
//! ```no_run
//! # use cqrs_mongo_persistence::{Alone, ProjectionStore, Result};
//! # use cqrs_mongo_persistence::projections::{Handlers, ReadModel};
//! # use cqrs_mongo_persistence::store::Page;
//! # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)] struct OrderPlaced { customer: String }
//! # cqrs_mongo_persistence::event!(OrderPlaced, "OrderPlaced");
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Summary {
//!     #[serde(rename = "_id", default, skip_serializing)]
//!     id: String,
//!     customer: String,
//! }
//!
//! # async fn demo(store: ProjectionStore) -> Result<()> {
//! let summaries = ReadModel::<Summary>::new("order_summaries");
//! let model = summaries.clone();
//! let handlers = Handlers::new("order_summaries").writes(&summaries).on(move |e: OrderPlaced, meta| {
//!     Ok(vec![model.set(meta.aggregate_id.as_str(), &Summary { id: String::new(), customer: e.customer })?])
//! });
//! let spec = serde_json::json!({"op": "=", "attr": "customer", "val": "ada"});
//! let page: Page<Summary> = store.read(&summaries).page(&spec, &Default::default(), Alone).await?;
//! # Ok(()) }
//! ```

use std::marker::PhantomData;

use bson::{Bson, Document};
use cqrs_mongo_spec::QueryOptions;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::projections::runner::Write;
use crate::projections::store::ProjectionStore;
use crate::store::page::Page;
use crate::store::query::refuse_reshaping;
use crate::store::uow::On;

/// A read model: the collection its documents live in, and their type.
pub struct ReadModel<T> {
    collection: String,
    _documents: PhantomData<fn() -> T>,
}

impl<T> Clone for ReadModel<T> {
    fn clone(&self) -> Self {
        ReadModel { collection: self.collection.clone(), _documents: PhantomData }
    }
}

impl<T> std::fmt::Debug for ReadModel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadModel")
            .field("collection", &self.collection)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T> ReadModel<T> {
    /// The read model stored in `collection`.
    pub fn new(collection: impl Into<String>) -> Self {
        ReadModel { collection: collection.into(), _documents: PhantomData }
    }

    /// Its collection.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// A write that sets the fields of `fields` (any serde value, e.g. some of `T`'s fields) on
    /// document `id`, creating it if needed.
    pub fn set_fields(&self, id: impl Into<Bson>, fields: &impl Serialize) -> Result<Write> {
        Write::set_from(self.collection.clone(), id, fields)
    }

    /// A write that applies an update document (`$inc`, `$push`, …) to document `id`.
    pub fn update(&self, id: impl Into<Bson>, update: Document) -> Write {
        Write::update(self.collection.clone(), id, update)
    }

    /// A write that deletes document `id`.
    pub fn delete(&self, id: impl Into<Bson>) -> Write {
        Write::delete(self.collection.clone(), id)
    }
}

impl<T: Serialize> ReadModel<T> {
    /// A write that sets every field of `document` on document `id` (creating it if needed).
    pub fn set(&self, id: impl Into<Bson>, document: &T) -> Result<Write> {
        self.set_fields(id, document)
    }
}

impl ProjectionStore {
    /// Typed reads of `model` (within this store's tenant scope and time limit).
    pub fn read<'a, T: DeserializeOwned>(&'a self, model: &'a ReadModel<T>) -> Reader<'a, T> {
        Reader { store: self, model }
    }
}

/// Typed reads of a [`ReadModel`], from [`ProjectionStore::read`]. Documents decode into `T`
/// with serde (fields `T` does not name, such as the projection's `_version`, are left out;
/// name `_id` with `#[serde(rename = "_id")]` to get the id); a document that does not decode is
/// [`Error::Serialization`].
#[derive(Debug)]
pub struct Reader<'a, T> {
    store: &'a ProjectionStore,
    model: &'a ReadModel<T>,
}

impl<T: DeserializeOwned> Reader<'_, T> {
    fn decode(&self, document: Document) -> Result<T> {
        bson::deserialize_from_document(document)
            .map_err(|err| Error::deserialise(format!("a {} document", self.model.collection), err))
    }

    /// The document with this id, read in `on`.
    pub async fn get(&self, id: impl Into<Bson>, on: impl Into<On<'_>>) -> Result<Option<T>> {
        self.store.get(&self.model.collection, id, on).await?.map(|d| self.decode(d)).transpose()
    }

    /// The documents matching a specification, with query options, read in `on`. Options that
    /// change the shape of a document (`select_fields`, `distinct`, `group_by`) are refused
    /// ([`Error::Unsupported`]): rows are whole `T`s (use [`ProjectionStore::find`] for those).
    pub async fn find(&self, spec: &Value, options: &QueryOptions, on: impl Into<On<'_>>) -> Result<Vec<T>> {
        refuse_reshaping(options, "Reader::find", "whole documents", "ProjectionStore::find")?;
        let documents = self.store.find(&self.model.collection, spec, Some(options), on).await?;
        documents.into_iter().map(|d| self.decode(d)).collect()
    }

    /// How many documents match a specification, counted in `on`.
    pub async fn count(&self, spec: &Value, on: impl Into<On<'_>>) -> Result<u64> {
        self.store.count(&self.model.collection, spec, on).await
    }

    /// One page of the documents matching a specification (the options' `order_by`, `offset`
    /// and `limit`), with the number of matches in all, read in `on` (in a unit of work, both
    /// from its snapshot).
    pub async fn page(&self, spec: &Value, options: &QueryOptions, on: impl Into<On<'_>>) -> Result<Page<T>> {
        let on = on.into();
        let rows = self.find(spec, options, on).await?;
        let total = self.count(spec, on).await?;
        Ok(Page { rows, total, skip: options.offset.unwrap_or(0), limit: options.limit })
    }
}

//! Read models (projections). A write applies only if the document's stored `_version` (the
//! position of the last event applied to it) is lower than the event's position, as **one
//! conditional upsert**: an older or duplicate event is a no-op reported as `false`, and two
//! writers can never lose an update (legacy checked, then wrote). The check is per document, so
//! one event may update many documents.

use std::time::Duration;

use bson::{Bson, Document, doc};
use cqrs_mongo_spec::{Compiler, QueryOptions};
use futures::TryStreamExt;
use mongodb::{Collection, Database};
use serde_json::Value;

use crate::connection::Connection;
use crate::error::{Result, is_duplicate_key};
use crate::indexes::IndexSpec;
use crate::observe::traced;
use crate::uow::UnitOfWork;

/// The event a projection write comes from.
#[derive(Debug, Clone, Copy)]
pub struct Applied<'a> {
    /// Global position of the event (stored as `_version` and `_last_event_position`).
    pub position: i64,
    /// Event id (stored as `_last_event_id`).
    pub event_id: &'a str,
}

/// Stores read-model documents in any collection of the database.
#[derive(Debug, Clone)]
pub struct ProjectionStore {
    database: Database,
    compiler: Compiler,
}

impl ProjectionStore {
    /// A store on the connection's database.
    pub fn new(connection: &Connection) -> Self {
        ProjectionStore { database: connection.database().clone(), compiler: Compiler::default() }
    }

    fn collection(&self, name: &str) -> Collection<Document> {
        self.database.collection(name)
    }

    /// Sets the fields of `fields` on document `id` if `event` is newer than what the document
    /// has seen; `false` when it was not (nothing written).
    pub async fn upsert(
        &self,
        collection: &str,
        id: impl Into<Bson>,
        fields: Document,
        event: Applied<'_>,
        uow: Option<&mut UnitOfWork<'_>>,
    ) -> Result<bool> {
        let id = id.into();
        let mut set = fields;
        set.insert("_version", event.position);
        set.insert("_last_event_id", event.event_id);
        set.insert("_last_event_position", event.position);
        let filter = doc! { "_id": id, "_version": { "$lt": event.position } };
        let coll = self.collection(collection);
        let action = coll.update_one(filter, doc! { "$set": set }).upsert(true);
        traced(collection, "projection.upsert", async {
            let result = match uow.and_then(|u| u.session()) {
                Some(session) => action.session(session).await,
                None => action.await,
            };
            match result {
                Ok(outcome) => Ok(outcome.modified_count == 1 || outcome.upserted_id.is_some()),
                // The document exists with a version at or beyond this event.
                Err(err) if is_duplicate_key(&err) => Ok(false),
                Err(err) => Err(err.into()),
            }
        })
        .await
    }

    /// [`upsert`](Self::upsert) for several documents touched by one event; returns how many
    /// applied.
    pub async fn upsert_many(
        &self,
        collection: &str,
        documents: Vec<(Bson, Document)>,
        event: Applied<'_>,
        mut uow: Option<&mut UnitOfWork<'_>>,
    ) -> Result<usize> {
        let mut applied = 0;
        for (id, fields) in documents {
            if self.upsert(collection, id, fields, event, uow.as_deref_mut()).await? {
                applied += 1;
            }
        }
        Ok(applied)
    }

    /// The document with this id.
    pub async fn get(&self, collection: &str, id: impl Into<Bson>) -> Result<Option<Document>> {
        Ok(self.collection(collection).find_one(doc! { "_id": id.into() }).await?)
    }

    /// Documents by id, in the order asked (missing ids are left out).
    pub async fn get_many(&self, collection: &str, ids: Vec<Bson>) -> Result<Vec<Document>> {
        let found: Vec<Document> =
            self.collection(collection).find(doc! { "_id": { "$in": ids.clone() } }).await?.try_collect().await?;
        Ok(ids.iter().filter_map(|id| found.iter().find(|d| d.get("_id") == Some(id)).cloned()).collect())
    }

    /// Documents matching a specification, with query options.
    pub async fn find(&self, collection: &str, spec: &Value, options: Option<&QueryOptions>) -> Result<Vec<Document>> {
        let options = options.cloned().unwrap_or_default();
        let query = self.compiler.compile_spec_query(&cqrs_mongo_spec::Spec::from_value(spec)?, &options)?;
        let coll = self.collection(collection);
        if options.needs_aggregation() {
            return Ok(coll.aggregate(query.pipeline.unwrap_or_default()).await?.try_collect().await?);
        }
        let mut find = mongodb::options::FindOptions::default();
        find.sort = query.sort;
        find.skip = query.skip;
        find.limit = query.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        find.projection = query.projection;
        Ok(coll.find(query.filter).with_options(find).await?.try_collect().await?)
    }

    /// Deletes one document.
    pub async fn delete(&self, collection: &str, id: impl Into<Bson>) -> Result<bool> {
        Ok(self.collection(collection).delete_one(doc! { "_id": id.into() }).await?.deleted_count == 1)
    }

    /// Deletes every document of the read model (keeps the collection and its indexes).
    pub async fn truncate(&self, collection: &str) -> Result<u64> {
        Ok(self.collection(collection).delete_many(doc! {}).await?.deleted_count)
    }

    /// Drops the read model's collection.
    pub async fn drop(&self, collection: &str) -> Result<()> {
        Ok(self.collection(collection).drop().await?)
    }

    /// A TTL index declaration: documents expire `ttl` after the date in `field`.
    pub fn ttl_index(collection: &str, field: &str, ttl: Duration) -> IndexSpec {
        IndexSpec::new(collection, doc! { field: 1 }).expire_after(ttl)
    }
}

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
use crate::error::{Error, Result, is_duplicate_key};
use crate::indexes::IndexSpec;
use crate::observe::traced;
use crate::tenancy::{TENANT_FIELD, Tenant};
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
    tenant: Option<Tenant>,
}

impl ProjectionStore {
    /// A store on the connection's database.
    pub fn new(connection: &Connection) -> Self {
        ProjectionStore { database: connection.database().clone(), compiler: Compiler::default(), tenant: None }
    }

    /// This store scoped to `tenant`: documents carry the tenant, filters include it, and
    /// touching another tenant's document by id (or dropping a shared collection) is
    /// [`Error::CrossTenant`].
    pub fn for_tenant(&self, tenant: &Tenant) -> Self {
        ProjectionStore { tenant: Some(tenant.clone()), ..self.clone() }
    }

    fn scoped(&self, filter: Document) -> Document {
        match &self.tenant {
            Some(tenant) => tenant.scope_filter(filter),
            None => filter,
        }
    }

    /// The cross-tenant error when document `id` of `collection` belongs to another tenant.
    async fn foreign(&self, collection: &str, id: &Bson) -> Result<Option<Error>> {
        let Some(tenant) = &self.tenant else { return Ok(None) };
        let found = self
            .collection(collection)
            .find_one(doc! { "_id": id.clone() })
            .projection(doc! { TENANT_FIELD: 1 })
            .await?;
        Ok(found
            .filter(|d| d.get_str(TENANT_FIELD).ok() != Some(tenant.id()))
            .map(|_| tenant.cross(collection, Some(id))))
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
        if let Some(tenant) = &self.tenant {
            tenant.stamp(collection, &mut set)?;
        }
        let filter = self.scoped(doc! { "_id": id.clone(), "_version": { "$lt": event.position } });
        let coll = self.collection(collection);
        let action = coll.update_one(filter, doc! { "$set": set }).upsert(true);
        traced(collection, "projection.upsert", async {
            let result = match uow.and_then(|u| u.session()) {
                Some(session) => action.session(session).await,
                None => action.await,
            };
            match result {
                Ok(outcome) => Ok(outcome.modified_count == 1 || outcome.upserted_id.is_some()),
                // The document exists with a version at or beyond this event (or, in a tenant
                // scope, belongs to another tenant).
                Err(err) if is_duplicate_key(&err) => match self.foreign(collection, &id).await? {
                    Some(cross) => Err(cross),
                    None => Ok(false),
                },
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
        let id = id.into();
        let found = self.collection(collection).find_one(self.scoped(doc! { "_id": id.clone() })).await?;
        if found.is_none()
            && let Some(cross) = self.foreign(collection, &id).await?
        {
            return Err(cross);
        }
        Ok(found)
    }

    /// Documents by id, in the order asked (missing ids are left out).
    pub async fn get_many(&self, collection: &str, ids: Vec<Bson>) -> Result<Vec<Document>> {
        let filter = self.scoped(doc! { "_id": { "$in": ids.clone() } });
        let found: Vec<Document> = self.collection(collection).find(filter).await?.try_collect().await?;
        for id in ids.iter().filter(|id| !found.iter().any(|d| d.get("_id") == Some(*id))) {
            if let Some(cross) = self.foreign(collection, id).await? {
                return Err(cross);
            }
        }
        Ok(ids.iter().filter_map(|id| found.iter().find(|d| d.get("_id") == Some(id)).cloned()).collect())
    }

    /// Documents matching a specification, with query options.
    pub async fn find(&self, collection: &str, spec: &Value, options: Option<&QueryOptions>) -> Result<Vec<Document>> {
        let options = options.cloned().unwrap_or_default();
        let scoped;
        let spec = match &self.tenant {
            Some(tenant) => {
                scoped = tenant.scope_spec(spec);
                &scoped
            }
            None => spec,
        };
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
        let id = id.into();
        let deleted = self.collection(collection).delete_one(self.scoped(doc! { "_id": id.clone() })).await?;
        if deleted.deleted_count == 0
            && let Some(cross) = self.foreign(collection, &id).await?
        {
            return Err(cross);
        }
        Ok(deleted.deleted_count == 1)
    }

    /// Deletes every document of the read model (keeps the collection and its indexes); in a
    /// tenant scope, every document of the tenant.
    pub async fn truncate(&self, collection: &str) -> Result<u64> {
        Ok(self.collection(collection).delete_many(self.scoped(doc! {})).await?.deleted_count)
    }

    /// Drops the read model's collection. A tenant scope cannot (the collection holds other
    /// tenants' documents): [`Error::CrossTenant`]; use `truncate`.
    pub async fn drop(&self, collection: &str) -> Result<()> {
        if let Some(tenant) = &self.tenant {
            return Err(tenant.cross(collection, None));
        }
        Ok(self.collection(collection).drop().await?)
    }

    /// A TTL index declaration: documents expire `ttl` after the date in `field`.
    pub fn ttl_index(collection: &str, field: &str, ttl: Duration) -> IndexSpec {
        IndexSpec::new(collection, doc! { field: 1 }).expire_after(ttl)
    }
}

//! Read models (projections). A write applies only if the document's stored `_version` (the
//! position of the last event applied to it) is lower than the event's position, as **one
//! atomic conditional update** (plus a create, itself conditional, when the document is missing;
//! see `guarded.rs`): an older or duplicate event is a no-op reported as `false`, two writers can
//! never lose an update (legacy checked, then wrote), and inside a unit of work a skipped event
//! does not abort the transaction. The check is per document, so one event may update many
//! documents.

use std::time::Duration;

use bson::{Bson, Document, doc};
use cqrs_mongo_spec::{Compiler, QueryOptions};
use mongodb::action::Action;
use mongodb::{ClientSession, Collection, Database};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::store::connection::Connection;
use crate::store::guarded::upsert_if;
use crate::store::indexes::IndexSpec;
use crate::store::query;
use crate::store::tenancy::{self, Tenant};
use crate::store::uow::{On, collect_with_session, with_session};
use crate::telemetry::spans::traced;

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
    max_time: Option<std::time::Duration>,
}

impl ProjectionStore {
    /// A store on the connection's database.
    pub fn new(connection: &Connection) -> Self {
        ProjectionStore {
            database: connection.database().clone(),
            compiler: Compiler::default(),
            tenant: None,
            max_time: None,
        }
    }

    /// Every [`find`](Self::find) and [`count`](Self::count) carries this server-side time limit (`maxTimeMS`): a
    /// specification from a client cannot keep the server busy longer.
    pub fn max_time(mut self, limit: std::time::Duration) -> Self {
        self.max_time = Some(limit);
        self
    }

    /// Uses a compiler with a field whitelist or other limits for [`find`](Self::find).
    pub fn with_compiler(mut self, compiler: Compiler) -> Self {
        self.compiler = compiler;
        self
    }

    /// This store scoped to `tenant`: documents carry the tenant, filters include it, and
    /// touching another tenant's document by id (or dropping a shared collection) is
    /// [`Error::CrossTenant`].
    pub fn for_tenant(&self, tenant: &Tenant) -> Self {
        ProjectionStore { tenant: Some(tenant.clone()), ..self.clone() }
    }

    fn scoped(&self, filter: Document) -> Document {
        tenancy::scoped(self.tenant.as_ref(), filter)
    }

    /// The cross-tenant error when document `id` of `collection` belongs to another tenant.
    async fn foreign(&self, collection: &str, id: &Bson) -> Result<Option<Error>> {
        tenancy::foreign(self.tenant.as_ref(), &self.collection(collection), id).await
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
        on: impl Into<On<'_>>,
    ) -> Result<bool> {
        let on = on.into();
        let id = id.into();
        let coll = self.collection(collection);
        let tenant = self.tenant.as_ref();
        traced(collection, "projection.upsert", async {
            let mut guard = on.session().await;
            let session = guard.get();
            apply_guarded(&coll, tenant, &id, doc! { "$set": fields }, event, session).await
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
        on: impl Into<On<'_>>,
    ) -> Result<usize> {
        let on = on.into();
        let mut applied = 0;
        for (id, fields) in documents {
            if self.upsert(collection, id, fields, event, on).await? {
                applied += 1;
            }
        }
        Ok(applied)
    }

    /// The document with this id, read in `on`.
    pub async fn get(&self, collection: &str, id: impl Into<Bson>, on: impl Into<On<'_>>) -> Result<Option<Document>> {
        let (on, id) = (on.into(), id.into());
        let found = with_session!(self.collection(collection).find_one(self.scoped(doc! { "_id": id.clone() })), on)?;
        if found.is_none()
            && let Some(cross) = self.foreign(collection, &id).await?
        {
            return Err(cross);
        }
        Ok(found)
    }

    /// Documents by id, in the order asked (missing ids are left out), read in `on`.
    pub async fn get_many(&self, collection: &str, ids: Vec<Bson>, on: impl Into<On<'_>>) -> Result<Vec<Document>> {
        let on = on.into();
        let filter = self.scoped(doc! { "_id": { "$in": ids.clone() } });
        let coll = self.collection(collection);
        let found: Vec<Document> = collect_with_session!(coll.find(filter), on)?;
        for id in ids.iter().filter(|id| !found.iter().any(|d| d.get("_id") == Some(*id))) {
            if let Some(cross) = self.foreign(collection, id).await? {
                return Err(cross);
            }
        }
        Ok(ids.iter().filter_map(|id| found.iter().find(|d| d.get("_id") == Some(id)).cloned()).collect())
    }

    /// Documents matching a specification, with query options, read in `on`.
    pub async fn find(
        &self,
        collection: &str,
        spec: &Value,
        options: Option<&QueryOptions>,
        on: impl Into<On<'_>>,
    ) -> Result<Vec<Document>> {
        let options = options.cloned().unwrap_or_default();
        // The caller's spec compiles as given; the tenant clause is added to the result.
        let query = self.compiler.compile_spec_query(&self.compiler.parse_spec(spec)?, &options)?;
        let mut guard = on.into().session().await;
        query::run(&self.collection(collection), self.tenant.as_ref(), query, &options, self.max_time, guard.get())
            .await
    }

    /// How many documents of `collection` match a specification (within the tenant scope and
    /// the time limit), counted in `on`: the total behind a page of [`find`](Self::find).
    pub async fn count(&self, collection: &str, spec: &Value, on: impl Into<On<'_>>) -> Result<u64> {
        let on = on.into();
        let filter = self.scoped(self.compiler.compile(spec)?);
        let collection = self.collection(collection);
        let count = collection.count_documents(filter).optional(self.max_time, |count, limit| count.max_time(limit));
        Ok(with_session!(count, on)?)
    }

    /// Deletes one document, in `on`.
    pub async fn delete(&self, collection: &str, id: impl Into<Bson>, on: impl Into<On<'_>>) -> Result<bool> {
        let (on, id) = (on.into(), id.into());
        let deleted =
            with_session!(self.collection(collection).delete_one(self.scoped(doc! { "_id": id.clone() })), on)?;
        if deleted.deleted_count == 0
            && let Some(cross) = self.foreign(collection, &id).await?
        {
            return Err(cross);
        }
        Ok(deleted.deleted_count == 1)
    }

    /// Deletes every document of the read model (keeps the collection and its indexes), in
    /// `on`; in a tenant scope, every document of the tenant.
    pub async fn truncate(&self, collection: &str, on: impl Into<On<'_>>) -> Result<u64> {
        let on = on.into();
        Ok(with_session!(self.collection(collection).delete_many(self.scoped(doc! {})), on)?.deleted_count)
    }

    /// Drops the read model's collection, on its own: MongoDB drops no collection inside a
    /// transaction. A tenant scope cannot (the collection holds other tenants' documents):
    /// [`Error::CrossTenant`]; use `truncate`.
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

/// Applies update operators to document `id` of `collection` only if the document has not seen
/// `event` (its `_version` is lower, or it has none), stamping `_version`, `_last_event_id`,
/// `_last_event_position` (and the tenant); creates the document if it is missing. `true` when
/// it applied. Safe inside a transaction (see [`upsert_if`]).
pub(crate) async fn apply_guarded(
    collection: &Collection<Document>,
    tenant: Option<&Tenant>,
    id: &Bson,
    mut update: Document,
    event: Applied<'_>,
    session: Option<&mut ClientSession>,
) -> Result<bool> {
    let mut stamp =
        doc! { "_version": event.position, "_last_event_id": event.event_id, "_last_event_position": event.position };
    if let Some(tenant) = tenant {
        tenant.stamp(collection.name(), &mut stamp)?;
    }
    match update.get_mut("$set") {
        Some(Bson::Document(set)) => set.extend(stamp),
        _ => {
            update.insert("$set", stamp);
        }
    }
    let unseen = doc! { "_id": id.clone(), "$or": [ { "_version": { "$lt": event.position } }, { "_version": { "$exists": false } } ] };
    upsert_if(collection, tenant, id, unseen, update, session).await
}

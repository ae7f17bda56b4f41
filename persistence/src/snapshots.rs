//! Snapshots (`snapshots`, `_id = "<aggregate_type>|<aggregate_id>"`) and projection
//! checkpoints (`projection_checkpoints`, `_id = projection name`). Both only move forward: a
//! write is one conditional upsert that matches only an older stored version, so an older or
//! duplicate write is a no-op (reported as `false`) and concurrent writers cannot go backwards.

use bson::{Bson, DateTime, Document, doc};
use mongodb::Collection;

use crate::connection::Connection;
use crate::error::{Error, Result, is_duplicate_key};
use crate::observe::traced;
use crate::tenancy::{TENANT_FIELD, Tenant};
use crate::uow::UnitOfWork;

const SNAPSHOTS: &str = "snapshots";
const CHECKPOINTS: &str = "projection_checkpoints";

/// `{_id, <field>: {$lt: value}}` upserted with `set`; `true` if it applied. A stored value that
/// is equal or newer makes the upsert collide with the existing `_id`: a no-op. In a tenant
/// scope the document carries the tenant, and a document of another tenant is
/// [`Error::CrossTenant`].
async fn advance(
    collection: &Collection<Document>,
    tenant: Option<&Tenant>,
    id: &str,
    field: &str,
    value: i64,
    mut set: Document,
    uow: Option<&mut UnitOfWork<'_>>,
) -> Result<bool> {
    let mut filter = doc! { "_id": id, field: { "$lt": value } };
    if let Some(tenant) = tenant {
        filter = tenant.scope_filter(filter);
        tenant.stamp(collection.name(), &mut set)?;
    }
    let update = doc! { "$set": set };
    let action = collection.update_one(filter, update).upsert(true);
    let result = match uow.and_then(|u| u.session()) {
        Some(session) => action.session(session).await,
        None => action.await,
    };
    match result {
        Ok(outcome) => Ok(outcome.modified_count == 1 || outcome.upserted_id.is_some()),
        Err(err) if is_duplicate_key(&err) => match tenant {
            Some(tenant) => match foreign(collection, tenant, id).await? {
                Some(cross) => Err(cross),
                None => Ok(false),
            },
            None => Ok(false),
        },
        Err(err) => Err(err.into()),
    }
}

/// The cross-tenant error when document `id` belongs to another tenant than `tenant`.
async fn foreign(collection: &Collection<Document>, tenant: &Tenant, id: &str) -> Result<Option<Error>> {
    let found = collection.find_one(doc! { "_id": id }).projection(doc! { TENANT_FIELD: 1 }).await?;
    Ok(found
        .filter(|d| d.get_str(TENANT_FIELD).ok() != Some(tenant.id()))
        .map(|_| tenant.cross(collection.name(), Some(&Bson::String(id.into())))))
}

fn int(value: Option<&Bson>) -> Option<i64> {
    match value? {
        Bson::Int32(v) => Some(i64::from(*v)),
        Bson::Int64(v) => Some(*v),
        _ => None,
    }
}

/// A stored snapshot.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Snapshot {
    /// The aggregate version the snapshot reflects.
    pub version: i64,
    /// The aggregate state.
    pub data: Document,
    /// When it was taken.
    pub created_at: DateTime,
}

/// Latest snapshot per aggregate.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    collection: Collection<Document>,
    tenant: Option<Tenant>,
}

impl SnapshotStore {
    /// The store on the legacy `snapshots` collection.
    pub fn new(connection: &Connection) -> Self {
        SnapshotStore { collection: connection.database().collection(SNAPSHOTS), tenant: None }
    }

    /// This store scoped to `tenant`: snapshots carry the tenant, and reading or writing
    /// another tenant's snapshot is [`Error::CrossTenant`].
    pub fn for_tenant(&self, tenant: &Tenant) -> Self {
        SnapshotStore { collection: self.collection.clone(), tenant: Some(tenant.clone()) }
    }

    fn key(aggregate_type: &str, aggregate_id: &str) -> String {
        format!("{aggregate_type}|{aggregate_id}")
    }

    /// Saves the snapshot if it is newer than the stored one; `false` when it was not.
    pub async fn save(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        version: i64,
        data: Document,
        uow: Option<&mut UnitOfWork<'_>>,
    ) -> Result<bool> {
        let key = Self::key(aggregate_type, aggregate_id);
        let set = doc! { "snapshot_data": data, "version": version, "created_at": DateTime::now() };
        let tenant = self.tenant.as_ref();
        traced(SNAPSHOTS, "save", advance(&self.collection, tenant, &key, "version", version, set, uow)).await
    }

    /// The latest snapshot of an aggregate.
    pub async fn latest(&self, aggregate_type: &str, aggregate_id: &str) -> Result<Option<Snapshot>> {
        let key = Self::key(aggregate_type, aggregate_id);
        let found = self.collection.find_one(doc! { "_id": &key }).await?;
        if let (Some(tenant), Some(_)) = (&self.tenant, &found)
            && let Some(cross) = foreign(&self.collection, tenant, &key).await?
        {
            return Err(cross);
        }
        Ok(found.map(|d| Snapshot {
            version: int(d.get("version")).unwrap_or(0),
            data: d.get_document("snapshot_data").cloned().unwrap_or_default(),
            created_at: d.get_datetime("created_at").copied().unwrap_or(DateTime::from_millis(0)),
        }))
    }
}

/// Per-projection checkpoints (the last event position a projection has applied).
#[derive(Debug, Clone)]
pub struct PositionStore {
    collection: Collection<Document>,
    tenant: Option<Tenant>,
}

impl PositionStore {
    /// The store on the legacy `projection_checkpoints` collection (`_id` is the projection
    /// name, so names are unique).
    pub fn new(connection: &Connection) -> Self {
        PositionStore { collection: connection.database().collection(CHECKPOINTS), tenant: None }
    }

    /// This store scoped to `tenant`: each tenant has its own position per projection (stored
    /// as `_id = "<projection>@<tenant>"` with `tenant_id`), and no tenant can read or move
    /// another's.
    pub fn for_tenant(&self, tenant: &Tenant) -> Self {
        PositionStore { collection: self.collection.clone(), tenant: Some(tenant.clone()) }
    }

    fn key(&self, projection: &str) -> String {
        match &self.tenant {
            Some(tenant) => format!("{projection}@{}", tenant.id()),
            None => projection.to_owned(),
        }
    }

    /// The saved position (0 when the projection has none).
    pub async fn get(&self, projection: &str, uow: Option<&mut UnitOfWork<'_>>) -> Result<i64> {
        let key = self.key(projection);
        let mut filter = doc! { "_id": &key };
        if let Some(tenant) = &self.tenant {
            filter = tenant.scope_filter(filter);
        }
        let action = self.collection.find_one(filter);
        let found = match uow.and_then(|u| u.session()) {
            Some(session) => action.session(session).await?,
            None => action.await?,
        };
        if let (Some(tenant), None) = (&self.tenant, &found)
            && let Some(cross) = foreign(&self.collection, tenant, &key).await?
        {
            return Err(cross);
        }
        Ok(found.and_then(|d| int(d.get("position"))).unwrap_or(0))
    }

    /// Moves the position forward (never backwards); `false` when `position` is not newer.
    /// Pass the projection's unit of work to save it with the projection writes.
    pub async fn save(&self, projection: &str, position: i64, uow: Option<&mut UnitOfWork<'_>>) -> Result<bool> {
        let set = doc! { "position": position, "updated_at": DateTime::now() };
        let (tenant, key) = (self.tenant.as_ref(), self.key(projection));
        traced(CHECKPOINTS, "save", advance(&self.collection, tenant, &key, "position", position, set, uow)).await
    }

    /// Sets the position back to 0 (for a rebuild).
    pub async fn reset(&self, projection: &str) -> Result<()> {
        let key = self.key(projection);
        let mut set = doc! { "position": 0_i64, "updated_at": DateTime::now() };
        let mut filter = doc! { "_id": &key };
        if let Some(tenant) = &self.tenant {
            if let Some(cross) = foreign(&self.collection, tenant, &key).await? {
                return Err(cross);
            }
            tenant.stamp(CHECKPOINTS, &mut set)?;
            filter = tenant.scope_filter(filter);
        }
        self.collection.update_one(filter, doc! { "$set": set }).upsert(true).await?;
        Ok(())
    }
}

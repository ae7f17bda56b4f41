//! Snapshots (`snapshots`, `_id = "<aggregate_type>|<aggregate_id>"`) and projection
//! checkpoints (`projection_checkpoints`, `_id = projection name`). Both only move forward: a
//! write is one conditional update that matches only an older stored version (plus a guarded
//! create when there is none yet, see `guarded.rs`), so an older or duplicate write is a no-op
//! (reported as `false`), concurrent writers cannot go backwards, and inside a unit of work a
//! refused write does not abort the transaction.

use bson::{Bson, DateTime, Document, doc};
use mongodb::Collection;

use crate::error::{Error, Result};
use crate::store::connection::Connection;
use crate::store::fields::int;
use crate::store::guarded::upsert_if;
use crate::store::tenancy::{self, Tenant};
use crate::store::uow::{On, with_session};
use crate::telemetry::spans::traced;

const SNAPSHOTS: &str = "snapshots";
pub(crate) const CHECKPOINTS: &str = "projection_checkpoints";

/// Sets `set` on document `id` if its `field` is lower than `value` (or it is missing); `true`
/// if it applied, `false` when the stored value is equal or newer. Safe inside a transaction.
/// In a tenant scope the document carries the tenant, and a document of another tenant is
/// [`Error::CrossTenant`].
async fn advance(
    collection: &Collection<Document>,
    tenant: Option<&Tenant>,
    id: &str,
    field: &str,
    value: i64,
    mut set: Document,
    on: impl Into<On<'_>>,
) -> Result<bool> {
    let on = on.into();
    if let Some(tenant) = tenant {
        tenant.stamp(collection.name(), &mut set)?;
    }
    let condition = doc! { "_id": id, field: { "$lt": value } };
    let mut guard = on.session().await;
    let session = guard.get();
    upsert_if(collection, tenant, &Bson::String(id.into()), condition, doc! { "$set": set }, session).await
}

/// [`tenancy::foreign`] for the string ids of this module.
async fn foreign(tenant: Option<&Tenant>, collection: &Collection<Document>, id: &str) -> Result<Option<Error>> {
    tenancy::foreign(tenant, collection, &Bson::String(id.into())).await
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
        on: impl Into<On<'_>>,
    ) -> Result<bool> {
        let on = on.into();
        let key = Self::key(aggregate_type, aggregate_id);
        let set = doc! { "snapshot_data": data, "version": version, "created_at": DateTime::now() };
        let tenant = self.tenant.as_ref();
        traced(SNAPSHOTS, "save", advance(&self.collection, tenant, &key, "version", version, set, on)).await
    }

    /// The latest snapshot of an aggregate.
    pub async fn latest(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        on: impl Into<On<'_>>,
    ) -> Result<Option<Snapshot>> {
        let on = on.into();
        let key = Self::key(aggregate_type, aggregate_id);
        let found =
            with_session!(self.collection.find_one(tenancy::scoped(self.tenant.as_ref(), doc! { "_id": &key })), on)?;
        if found.is_none()
            && let Some(cross) = foreign(self.tenant.as_ref(), &self.collection, &key).await?
        {
            return Err(cross);
        }
        Ok(found.map(|d| Snapshot {
            version: int(d.get("version")),
            data: d.get_document("snapshot_data").cloned().unwrap_or_default(),
            created_at: d.get_datetime("created_at").copied().unwrap_or(DateTime::from_millis(0)),
        }))
    }
}

/// The `_id` of a projection's checkpoint: its name, or `<name>@<tenant>` in a tenant scope.
pub(crate) fn checkpoint_key(projection: &str, tenant: Option<&Tenant>) -> String {
    match tenant {
        Some(tenant) => format!("{projection}@{}", tenant.id()),
        None => projection.to_owned(),
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
        checkpoint_key(projection, self.tenant.as_ref())
    }

    /// The saved position (0 when the projection has none).
    pub async fn get(&self, projection: &str, on: impl Into<On<'_>>) -> Result<i64> {
        let on = on.into();
        let key = self.key(projection);
        let filter = tenancy::scoped(self.tenant.as_ref(), doc! { "_id": &key });
        let action = self.collection.find_one(filter);
        let found = match on.session().await.get() {
            Some(session) => action.session(session).await?,
            None => action.await?,
        };
        if found.is_none()
            && let Some(cross) = foreign(self.tenant.as_ref(), &self.collection, &key).await?
        {
            return Err(cross);
        }
        Ok(found.map_or(0, |d| int(d.get("position"))))
    }

    /// Moves the position forward (never backwards); `false` when `position` is not newer.
    /// Pass the projection's unit of work to save it with the projection writes.
    pub async fn save(&self, projection: &str, position: i64, on: impl Into<On<'_>>) -> Result<bool> {
        let on = on.into();
        let set = doc! { "position": position, "updated_at": DateTime::now() };
        let (tenant, key) = (self.tenant.as_ref(), self.key(projection));
        traced(CHECKPOINTS, "save", advance(&self.collection, tenant, &key, "position", position, set, on)).await
    }

    /// Sets the position back to 0 (for a rebuild), in `on`.
    pub async fn reset(&self, projection: &str, on: impl Into<On<'_>>) -> Result<()> {
        let on = on.into();
        let key = self.key(projection);
        let mut set = doc! { "position": 0_i64, "updated_at": DateTime::now() };
        if let Some(cross) = foreign(self.tenant.as_ref(), &self.collection, &key).await? {
            return Err(cross);
        }
        if let Some(tenant) = &self.tenant {
            tenant.stamp(CHECKPOINTS, &mut set)?;
        }
        let filter = tenancy::scoped(self.tenant.as_ref(), doc! { "_id": &key });
        with_session!(self.collection.update_one(filter, doc! { "$set": set }).upsert(true), on)?;
        Ok(())
    }
}

//! Snapshots (`snapshots`, `_id = "<aggregate_type>|<aggregate_id>"`). They only move forward:
//! a write is one conditional update that matches only an older stored version (plus a guarded
//! create when there is none yet, see `store/guarded.rs`), so an older or duplicate write is a
//! no-op (reported as `false`), concurrent writers cannot go backwards, and inside a unit of work
//! a refused write does not abort the transaction. Projection positions work the same way
//! (`projections/positions.rs`).

use bson::{DateTime, Document, doc};
use mongodb::Collection;

use crate::error::Result;
use crate::store::connection::Connection;
use crate::store::fields::int;
use crate::store::guarded::{advance, foreign_id};
use crate::store::tenancy::{self, Tenant};
use crate::store::uow::{On, with_session};
use crate::telemetry::spans::traced;

const SNAPSHOTS: &str = "snapshots";

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
    /// another tenant's snapshot is [`Error::CrossTenant`](crate::Error::CrossTenant).
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
            && let Some(cross) = foreign_id(self.tenant.as_ref(), &self.collection, &key).await?
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

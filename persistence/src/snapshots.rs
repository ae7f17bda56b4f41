//! Snapshots (`snapshots`, `_id = "<aggregate_type>|<aggregate_id>"`) and projection
//! checkpoints (`projection_checkpoints`, `_id = projection name`). Both only move forward: a
//! write is one conditional upsert that matches only an older stored version, so an older or
//! duplicate write is a no-op (reported as `false`) and concurrent writers cannot go backwards.

use bson::{Bson, DateTime, Document, doc};
use mongodb::Collection;

use crate::connection::Connection;
use crate::error::{Result, is_duplicate_key};
use crate::observe::traced;
use crate::uow::UnitOfWork;

const SNAPSHOTS: &str = "snapshots";
const CHECKPOINTS: &str = "projection_checkpoints";

/// `{_id, <field>: {$lt: value}}` upserted with `set`; `true` if it applied. A stored value that
/// is equal or newer makes the upsert collide with the existing `_id`: a no-op.
async fn advance(
    collection: &Collection<Document>,
    id: &str,
    field: &str,
    value: i64,
    set: Document,
    uow: Option<&mut UnitOfWork<'_>>,
) -> Result<bool> {
    let filter = doc! { "_id": id, field: { "$lt": value } };
    let update = doc! { "$set": set };
    let action = collection.update_one(filter, update).upsert(true);
    let result = match uow.and_then(|u| u.session()) {
        Some(session) => action.session(session).await,
        None => action.await,
    };
    match result {
        Ok(outcome) => Ok(outcome.modified_count == 1 || outcome.upserted_id.is_some()),
        Err(err) if is_duplicate_key(&err) => Ok(false),
        Err(err) => Err(err.into()),
    }
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
}

impl SnapshotStore {
    /// The store on the legacy `snapshots` collection.
    pub fn new(connection: &Connection) -> Self {
        SnapshotStore { collection: connection.database().collection(SNAPSHOTS) }
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
        traced(SNAPSHOTS, "save", advance(&self.collection, &key, "version", version, set, uow)).await
    }

    /// The latest snapshot of an aggregate.
    pub async fn latest(&self, aggregate_type: &str, aggregate_id: &str) -> Result<Option<Snapshot>> {
        let found = self.collection.find_one(doc! { "_id": Self::key(aggregate_type, aggregate_id) }).await?;
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
}

impl PositionStore {
    /// The store on the legacy `projection_checkpoints` collection (`_id` is the projection
    /// name, so names are unique).
    pub fn new(connection: &Connection) -> Self {
        PositionStore { collection: connection.database().collection(CHECKPOINTS) }
    }

    /// The saved position (0 when the projection has none).
    pub async fn get(&self, projection: &str, uow: Option<&mut UnitOfWork<'_>>) -> Result<i64> {
        let action = self.collection.find_one(doc! { "_id": projection });
        let found = match uow.and_then(|u| u.session()) {
            Some(session) => action.session(session).await?,
            None => action.await?,
        };
        Ok(found.and_then(|d| int(d.get("position"))).unwrap_or(0))
    }

    /// Moves the position forward (never backwards); `false` when `position` is not newer.
    /// Pass the projection's unit of work to save it with the projection writes.
    pub async fn save(&self, projection: &str, position: i64, uow: Option<&mut UnitOfWork<'_>>) -> Result<bool> {
        let set = doc! { "position": position, "updated_at": DateTime::now() };
        traced(CHECKPOINTS, "save", advance(&self.collection, projection, "position", position, set, uow)).await
    }

    /// Sets the position back to 0 (for a rebuild).
    pub async fn reset(&self, projection: &str) -> Result<()> {
        self.collection
            .update_one(
                doc! { "_id": projection },
                doc! { "$set": { "position": 0_i64, "updated_at": DateTime::now() } },
            )
            .upsert(true)
            .await?;
        Ok(())
    }
}

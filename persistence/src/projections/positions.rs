//! Projection positions (`projection_checkpoints`, `_id` = the projection's name): the last
//! event position a projection has applied. A position only moves forward: a write matches only
//! an older stored position (see `store/guarded.rs`), so an older or duplicate write is a no-op.

use bson::{DateTime, Document, doc};
use mongodb::Collection;

use crate::error::Result;
use crate::store::connection::Connection;
use crate::store::fields::int;
use crate::store::guarded::{advance, foreign_id};
use crate::store::tenancy::{self, Tenant};
use crate::store::uow::{On, with_session};
use crate::telemetry::spans::traced;

/// The collection of the projections' positions.
pub(crate) const CHECKPOINTS: &str = "projection_checkpoints";

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
            && let Some(cross) = foreign_id(self.tenant.as_ref(), &self.collection, &key).await?
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

    /// Waits until `projection` (a [projection runner](crate::ProjectionRunner) or a
    /// [subscription](crate::Subscription), by the name it checkpoints under) has processed
    /// `position`: read-your-writes for a handler that appended (the positions `append`,
    /// `append_if` and `decide` return; [`EventStore::event`](crate::EventStore::event) gives an
    /// event's) and answers with the updated read model. Returns the checkpoint reached. The
    /// checkpoint is read every few milliseconds (5, doubling up to 100).
    ///
    /// Errors: [`Error::WaitTimedOut`](crate::Error::WaitTimedOut) with the position reached
    /// when `timeout` passes first (no runner running, or one behind or stopped).
    pub async fn wait_for(&self, projection: &str, position: i64, timeout: std::time::Duration) -> Result<i64> {
        let started = tokio::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(5);
        loop {
            let reached = self.get(projection, crate::Alone).await?;
            if reached >= position {
                return Ok(reached);
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(crate::Error::WaitTimedOut { name: projection.to_owned(), position, reached, waited });
            }
            tokio::time::sleep(pause.min(timeout - waited)).await;
            pause = (pause * 2).min(std::time::Duration::from_millis(100));
        }
    }

    /// Sets the position back to 0 (for a rebuild), in `on`.
    pub async fn reset(&self, projection: &str, on: impl Into<On<'_>>) -> Result<()> {
        let on = on.into();
        let key = self.key(projection);
        let mut set = doc! { "position": 0_i64, "updated_at": DateTime::now() };
        if let Some(cross) = foreign_id(self.tenant.as_ref(), &self.collection, &key).await? {
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

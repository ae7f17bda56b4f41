//! The runner's checkpoint: the projection's legacy `projection_checkpoints` document (one per
//! tenant in a tenant scope, `_id = "<projection>@<tenant>"` as [`PositionStore`] keeps them),
//! advanced by compare-and-set, and paused by a rebuild while it swaps collections.
//!
//! A batch commits only if the checkpoint still holds the position the batch started after and
//! is not paused. When it does not (another runner of the projection committed first, or a
//! rebuild paused or moved it), the batch's transaction is aborted and the runner reads the
//! checkpoint again: from a moved checkpoint it simply goes on, a paused one it leaves alone
//! until the rebuild resumes it.
//!
//! [`PositionStore`]: crate::PositionStore

use bson::{Bson, DateTime, Document, doc};
use mongodb::{ClientSession, Collection};

use crate::error::{Error, Result};
use crate::projections::positions::{CHECKPOINTS, checkpoint_key};
use crate::store::connection::Connection;
use crate::store::fields::int;
use crate::store::guarded::upsert_if;
use crate::store::tenancy::{self, Tenant};

/// The field a rebuild sets while it swaps collections.
const PAUSED_BY: &str = "paused_by";

/// One projection's checkpoint document.
#[derive(Debug, Clone)]
pub(crate) struct Checkpoint {
    collection: Collection<Document>,
    key: String,
    tenant: Option<Tenant>,
    /// The lease token every advance must match (a leased runner's fencing token).
    fence: Option<i64>,
}

/// What the checkpoint says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Saved {
    /// The last position applied (0 before the first batch).
    pub(crate) position: i64,
    /// A rebuild is swapping collections: no batch may commit.
    pub(crate) paused: bool,
}

impl Checkpoint {
    /// The checkpoint of projection `name`, within `tenant`'s scope if there is one.
    pub(crate) fn new(connection: &Connection, name: &str, tenant: Option<&Tenant>) -> Self {
        let key = checkpoint_key(name, tenant);
        Checkpoint {
            collection: connection.database().collection(CHECKPOINTS),
            key,
            tenant: tenant.cloned(),
            fence: None,
        }
    }

    /// This checkpoint, advanced only while the lease token is still `token`.
    pub(crate) fn fenced(mut self, token: i64) -> Self {
        self.fence = Some(token);
        self
    }

    /// Whether advances carry a fencing token.
    pub(crate) fn is_fenced(&self) -> bool {
        self.fence.is_some()
    }

    /// The document's id.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    pub(crate) async fn read(&self) -> Result<Saved> {
        let filter = tenancy::scoped(self.tenant.as_ref(), doc! { "_id": &self.key });
        let found = self.collection.find_one(filter).await?;
        if found.is_none()
            && let Some(cross) = tenancy::foreign(self.tenant.as_ref(), &self.collection, &self.id()).await?
        {
            return Err(cross);
        }
        Ok(found.map_or(Saved { position: 0, paused: false }, |d| Saved {
            position: int(d.get("position")),
            paused: d.contains_key(PAUSED_BY),
        }))
    }

    fn id(&self) -> Bson {
        Bson::String(self.key.clone())
    }

    /// Compare-and-set from `after` to `to`, inside the batch's transaction when there is one.
    /// A checkpoint that moved or is paused is [`moved`](Self::moved): inside a transaction
    /// that error aborts the batch.
    pub(crate) async fn advance(&self, after: i64, to: i64, session: Option<&mut ClientSession>) -> Result<()> {
        let mut condition = doc! { "_id": &self.key, PAUSED_BY: { "$exists": false } };
        // Fenced: no newer leader has advanced it (a missing token is older than any).
        if let Some(token) = self.fence {
            condition.insert("lease_token", doc! { "$not": { "$gt": token } });
        }
        if after == 0 {
            condition.insert(
                "$or",
                vec![doc! { "position": { "$in": [0_i64, Bson::Null] } }, doc! { "position": { "$exists": false } }],
            );
        } else {
            condition.insert("position", after);
        }
        let mut set = doc! { "position": to, "updated_at": DateTime::now() };
        if let Some(token) = self.fence {
            set.insert("lease_token", token);
        }
        if let Some(tenant) = &self.tenant {
            tenant.stamp(CHECKPOINTS, &mut set)?;
        }
        let update = doc! { "$set": set };
        if upsert_if(&self.collection, self.tenant.as_ref(), &self.id(), condition, update, session).await? {
            Ok(())
        } else {
            Err(self.moved(after))
        }
    }

    /// The error of a batch whose checkpoint is no longer at `after` (or is paused).
    fn moved(&self, after: i64) -> Error {
        Error::Concurrency { collection: CHECKPOINTS.into(), id: self.key.clone(), expected: after, actual: None }
    }

    /// True for the error [`advance`](Self::advance) reports when the checkpoint moved.
    pub(crate) fn is_moved(&self, err: &Error) -> bool {
        matches!(err, Error::Concurrency { collection, id, .. } if collection == CHECKPOINTS && *id == self.key)
    }

    /// Pauses every runner of the projection (a rebuild is about to swap its collections).
    pub(crate) async fn pause(&self, by: &str) -> Result<()> {
        let set = doc! { PAUSED_BY: by, "paused_at": DateTime::now() };
        self.collection.update_one(doc! { "_id": &self.key }, doc! { "$set": set }).upsert(true).await?;
        Ok(())
    }

    /// Sets the position (backwards too) with `extra` fields and lifts a pause, in one update.
    pub(crate) async fn resume_at(&self, position: i64, extra: Document) -> Result<()> {
        let mut set = doc! { "position": position, "updated_at": DateTime::now() };
        set.extend(extra);
        let update = doc! { "$set": set, "$unset": { PAUSED_BY: "", "paused_at": "" } };
        self.collection.update_one(doc! { "_id": &self.key }, update).upsert(true).await?;
        Ok(())
    }

    /// Removes the document (a finished rebuild's replay checkpoint).
    pub(crate) async fn delete(&self) -> Result<()> {
        self.collection.delete_one(doc! { "_id": &self.key }).await?;
        Ok(())
    }

    /// A field of the stored document.
    pub(crate) async fn field(&self, name: &str) -> Result<Option<Bson>> {
        Ok(self.collection.find_one(doc! { "_id": &self.key }).await?.and_then(|mut d| d.remove(name)))
    }
}

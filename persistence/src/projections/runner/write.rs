//! The writes a projection asks for, applied with the per-document `_version` guard.

use bson::{Bson, Document, doc};
use mongodb::{ClientSession, Database};

use super::Targets;
use crate::error::Result;
use crate::projections::store::{Applied, apply_guarded};
use crate::store::tenancy::{self, Tenant};

/// One read-model write caused by an event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Write {
    /// Update operators (`$set`, `$inc`, `$push`, …) on document `id`, created if missing.
    Update {
        /// The (logical) collection.
        collection: String,
        /// The document id.
        id: Bson,
        /// Update operators.
        update: Document,
    },
    /// Deletes document `id`.
    Delete {
        /// The (logical) collection.
        collection: String,
        /// The document id.
        id: Bson,
    },
}

impl Write {
    /// `$set` of `fields` on document `id` (created if missing).
    pub fn set(collection: impl Into<String>, id: impl Into<Bson>, fields: Document) -> Self {
        Write::Update { collection: collection.into(), id: id.into(), update: doc! { "$set": fields } }
    }

    /// Update operators on document `id` (created if missing).
    pub fn update(collection: impl Into<String>, id: impl Into<Bson>, update: Document) -> Self {
        Write::Update { collection: collection.into(), id: id.into(), update }
    }

    /// Deletes document `id`.
    pub fn delete(collection: impl Into<String>, id: impl Into<Bson>) -> Self {
        Write::Delete { collection: collection.into(), id: id.into() }
    }

    /// Applies the write for the event at `position`, only where the document has not seen
    /// that event yet (and, in a tenant scope, only to the tenant's documents); updates go
    /// through `apply_guarded`, which never raises a duplicate-key error inside the transaction.
    pub(crate) async fn apply(
        &self,
        database: &Database,
        targets: &Targets,
        tenant: Option<&Tenant>,
        position: i64,
        event_id: &str,
        session: Option<&mut ClientSession>,
    ) -> Result<()> {
        let (collection, id) = match self {
            Write::Update { collection, id, .. } | Write::Delete { collection, id } => (collection, id),
        };
        let collection = database.collection::<Document>(targets.resolve(collection));
        match self {
            Write::Delete { .. } => {
                let unseen = doc! { "_id": id.clone(), "$or": [ { "_version": { "$lt": position } }, { "_version": { "$exists": false } } ] };
                let action = collection.delete_one(tenancy::scoped(tenant, unseen));
                let deleted = match session {
                    Some(session) => action.session(session).await?,
                    None => action.await?,
                };
                if deleted.deleted_count == 0
                    && let Some(cross) = tenancy::foreign(tenant, &collection, id).await?
                {
                    return Err(cross);
                }
                Ok(())
            }
            Write::Update { update, .. } => {
                let event = Applied { position, event_id };
                apply_guarded(&collection, tenant, id, update.clone(), event, session).await.map(|_| ())
            }
        }
    }
}

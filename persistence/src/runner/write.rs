//! The writes a projection asks for, applied with the per-document `_version` guard.

use bson::{Bson, Document, doc};
use mongodb::{ClientSession, Database};

use super::Targets;
use crate::error::Result;

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
    /// that event yet. No duplicate-key error is ever raised (it would abort the transaction):
    /// a missing document is created only after a read in the same transaction saw it missing.
    pub(crate) async fn apply(
        &self,
        database: &Database,
        targets: &Targets,
        position: i64,
        event_id: &str,
        mut session: Option<&mut ClientSession>,
    ) -> Result<()> {
        let (collection, id) = match self {
            Write::Update { collection, id, .. } | Write::Delete { collection, id } => (collection, id),
        };
        let collection = database.collection::<Document>(targets.resolve(collection));
        let unseen = doc! { "_id": id.clone(), "$or": [ { "_version": { "$lt": position } }, { "_version": { "$exists": false } } ] };
        match self {
            Write::Delete { .. } => {
                let action = collection.delete_one(unseen);
                match session {
                    Some(session) => action.session(session).await?,
                    None => action.await?,
                };
                Ok(())
            }
            Write::Update { update, .. } => {
                let mut update = update.clone();
                let stamp = doc! { "_version": position, "_last_event_id": event_id, "_last_event_position": position };
                match update.get_mut("$set") {
                    Some(Bson::Document(set)) => set.extend(stamp),
                    _ => {
                        update.insert("$set", stamp);
                    }
                }
                let action = collection.update_one(unseen, update.clone());
                let matched = match session.as_deref_mut() {
                    Some(session) => action.session(session).await?,
                    None => action.await?,
                }
                .matched_count;
                if matched == 1 {
                    return Ok(());
                }
                let exists = collection.find_one(doc! { "_id": id.clone() }).projection(doc! { "_id": 1 });
                let exists = match session.as_deref_mut() {
                    Some(session) => exists.session(session).await?,
                    None => exists.await?,
                };
                if exists.is_some() {
                    // Already at or past this event.
                    return Ok(());
                }
                let create = collection.update_one(doc! { "_id": id.clone() }, update).upsert(true);
                match session {
                    Some(session) => create.session(session).await?,
                    None => create.await?,
                };
                Ok(())
            }
        }
    }
}

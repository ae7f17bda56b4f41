//! Conditional upserts ("apply only if newer") that are safe inside a transaction.
//!
//! The obvious form — one upsert whose filter holds the condition — answers "the stored
//! document is newer" with a duplicate-key error, because the filter misses and the upsert
//! tries to insert the existing `_id`. Outside a transaction that error can be read as "no-op",
//! but inside one it aborts the whole transaction. So the condition is tried as a plain update
//! first, and the document is created only after a read in the same session found it missing.

use bson::{Bson, Document, doc};
use mongodb::{ClientSession, Collection};

use crate::error::{Error, Result, is_duplicate_key};
use crate::store::tenancy::{self, Tenant};
use crate::store::uow::On;

/// Applies `update` to document `id` where `condition` (which names `_id`) holds, and creates
/// the document if it is missing; `true` when it applied. In a tenant scope the condition is
/// scoped, and a document of another tenant is [`Error::CrossTenant`](crate::Error::CrossTenant).
/// Outside a transaction it is the one conditional upsert (a duplicate key there is "not
/// newer"); inside one, the plain update, a read, and the upsert only for a missing document.
pub(crate) async fn upsert_if(
    collection: &Collection<Document>,
    tenant: Option<&Tenant>,
    id: &Bson,
    condition: Document,
    update: Document,
    session: Option<&mut ClientSession>,
) -> Result<bool> {
    let condition = tenancy::scoped(tenant, condition);
    let created = match session {
        // Outside a transaction one conditional upsert does it all.
        None => Some(collection.update_one(condition, update).upsert(true).await),
        Some(session) => {
            let matched = collection.update_one(condition.clone(), update.clone()).session(&mut *session).await?;
            if matched.matched_count == 1 {
                return Ok(true);
            }
            let exists = collection.find_one(doc! { "_id": id.clone() }).projection(doc! { "_id": 1 });
            match exists.session(&mut *session).await? {
                Some(_) => None,
                None => Some(collection.update_one(condition, update).upsert(true).session(session).await),
            }
        }
    };
    match created {
        Some(Ok(_)) => Ok(true),
        Some(Err(err)) if !is_duplicate_key(&err) => Err(err.into()),
        // There, and the condition does not hold — or, in a tenant scope, another tenant's.
        _ => match tenancy::foreign(tenant, collection, id).await? {
            Some(cross) => Err(cross),
            None => Ok(false),
        },
    }
}

/// Sets `set` on document `id` if its `field` is lower than `value` (or it is missing); `true`
/// if it applied, `false` when the stored value is equal or newer. Safe inside a transaction.
/// In a tenant scope the document carries the tenant, and a document of another tenant is
/// [`Error::CrossTenant`].
pub(crate) async fn advance(
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

/// [`tenancy::foreign`] for a string id.
pub(crate) async fn foreign_id(
    tenant: Option<&Tenant>,
    collection: &Collection<Document>,
    id: &str,
) -> Result<Option<Error>> {
    tenancy::foreign(tenant, collection, &Bson::String(id.into())).await
}

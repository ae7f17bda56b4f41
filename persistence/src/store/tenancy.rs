//! Tenants: a scope that stores write on every document (`tenant_id`, the legacy field) and add
//! to every filter — as a clause compiled by the specification compiler from
//! `{"op": "=", "attr": "tenant_id", "val": <tenant>}`, never by editing filter text.
//! A caller's specification is compiled exactly as given (its error paths and the caller's
//! field whitelist are the caller's own); the tenant clause is then ANDed onto the compiled
//! filter. Touching a document of another tenant by id is [`Error::CrossTenant`].

use bson::{Bson, Document, doc};
use cqrs_mongo_spec::Compiler;
use mongodb::Collection;
use serde_json::json;

use crate::error::{Error, Result};

/// The legacy field that holds a document's tenant.
pub const TENANT_FIELD: &str = "tenant_id";

/// A tenant scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    id: String,
    clause: Document,
}

impl Tenant {
    /// The scope of tenant `id` (non-empty).
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if id.is_empty() {
            return Err(Error::InvalidArgument {
                operation: "Tenant::new",
                argument: "id",
                message: "a tenant id cannot be empty".into(),
            });
        }
        let leaf = json!({ "op": "=", "attr": TENANT_FIELD, "val": id });
        let clause = Compiler::default().compile(&leaf)?;
        Ok(Tenant { id, clause })
    }

    /// The tenant id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `filter` and the compiled tenant clause.
    pub(crate) fn scope_filter(&self, filter: Document) -> Document {
        if filter.is_empty() {
            return self.clause.clone();
        }
        doc! { "$and": [filter, self.clause.clone()] }
    }

    /// A compiled aggregation pipeline restricted to the tenant's documents (a `$match` of the
    /// tenant clause first, which the server merges with the pipeline's own `$match`).
    pub(crate) fn scope_pipeline(&self, pipeline: Vec<Document>) -> Vec<Document> {
        std::iter::once(doc! { "$match": self.clause.clone() }).chain(pipeline).collect()
    }

    /// Writes the tenant on a document about to be stored; a document that names another
    /// tenant is refused.
    pub(crate) fn stamp(&self, collection: &str, document: &mut Document) -> Result<()> {
        match document.get(TENANT_FIELD) {
            None | Some(Bson::Null) => {
                document.insert(TENANT_FIELD, self.id.as_str());
                Ok(())
            }
            Some(Bson::String(tenant)) if *tenant == self.id => Ok(()),
            Some(_) => Err(self.cross(collection, document.get("_id"))),
        }
    }

    /// True when stored `document` belongs to this tenant.
    pub(crate) fn owns(&self, document: &Document) -> bool {
        document.get_str(TENANT_FIELD).ok() == Some(self.id.as_str())
    }

    /// The error for a document of `collection` with `id` that belongs to another tenant.
    pub(crate) fn cross(&self, collection: &str, id: Option<&Bson>) -> Error {
        Error::CrossTenant {
            collection: collection.into(),
            id: id.map_or_else(String::new, |id| id.clone().into_relaxed_extjson().to_string()),
            tenant: self.id.clone(),
        }
    }
}

/// `filter` within the scope of `tenant`, unchanged without one.
pub(crate) fn scoped(tenant: Option<&Tenant>, filter: Document) -> Document {
    match tenant {
        Some(tenant) => tenant.scope_filter(filter),
        None => filter,
    }
}

/// In a tenant scope, the cross-tenant error when document `id` of `collection` is stored under
/// another tenant (`None` when it is the tenant's, missing, or there is no scope).
pub(crate) async fn foreign(
    tenant: Option<&Tenant>,
    collection: &Collection<Document>,
    id: &Bson,
) -> Result<Option<Error>> {
    let Some(tenant) = tenant else { return Ok(None) };
    let found = collection.find_one(doc! { "_id": id.clone() }).projection(doc! { TENANT_FIELD: 1 }).await?;
    Ok(found.filter(|d| !tenant.owns(d)).map(|_| tenant.cross(collection.name(), Some(id))))
}

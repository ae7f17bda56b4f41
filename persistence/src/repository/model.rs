//! Aggregates as plain serde structs, and their mapping to stored documents.
//!
//! The stored format is the legacy one: the id field is stored as `_id`, every other field as
//! is, and the optimistic-concurrency counter in `version`.

use std::collections::HashMap;

use bson::{Bson, Document};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::store::version::Version;

/// An aggregate root stored by a [`Repository`](crate::Repository).
///
/// The struct serialises its own fields (with serde); the repository stores [`id`](Self::id)
/// as `_id` and owns the [`Version`]: 0 means "never saved", the first save stores 1, each
/// save adds 1. A save inside a unit of work changes the version provisionally; it reverts if
/// the unit of work is rolled back or retried (see [`Version`]).
pub trait Aggregate: Serialize + DeserializeOwned + Send + Sync {
    /// The collection name.
    const COLLECTION: &'static str;
    /// The struct field that holds the id (stored as `_id` instead).
    const ID_FIELD: &'static str = "id";
    /// The id type (stored as `_id`).
    type Id: Serialize + Clone + Send + Sync + std::fmt::Debug;

    /// The id.
    fn id(&self) -> &Self::Id;
    /// The version field.
    fn version_ref(&self) -> &Version;
    /// The version field, for the repository to update after loading and saving.
    fn version_mut(&mut self) -> &mut Version;
    /// The version last loaded or saved (0 for a new aggregate).
    fn version(&self) -> i64 {
        self.version_ref().get()
    }
}

/// Implements [`Aggregate`] for a struct whose id field is `id` (or the field named after
/// `id =`) and whose version field is `version` (a [`Version`]).
///
/// ```
/// use cqrs_mongo_persistence::store::Version;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Order { id: String, total: i64, #[serde(default)] version: Version }
/// cqrs_mongo_persistence::aggregate!(Order, "orders", String);
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Customer { key: bson::Uuid, #[serde(default)] version: Version }
/// cqrs_mongo_persistence::aggregate!(Customer, "customers", bson::Uuid, id = key);
/// ```
#[macro_export]
macro_rules! aggregate {
    ($type:ty, $collection:literal, $id:ty) => {
        $crate::aggregate!($type, $collection, $id, id = id);
    };
    ($type:ty, $collection:literal, $id:ty, id = $field:ident) => {
        impl $crate::repository::Aggregate for $type {
            const COLLECTION: &'static str = $collection;
            const ID_FIELD: &'static str = stringify!($field);
            type Id = $id;

            fn id(&self) -> &$id {
                &self.$field
            }

            fn version_ref(&self) -> &$crate::store::Version {
                &self.version
            }

            fn version_mut(&mut self) -> &mut $crate::store::Version {
                &mut self.version
            }
        }
    };
}

/// How struct fields map to document fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Mapping {
    /// The struct field stored as `_id` (default: the aggregate's [`Aggregate::ID_FIELD`]).
    pub id_field: Option<String>,
    /// The field holding the version (default `"version"`).
    pub version_field: String,
    /// Struct field → stored field renames.
    pub renames: HashMap<String, String>,
    /// Struct fields that are not stored (they must have serde defaults to load).
    pub excluded: Vec<String>,
}

impl Default for Mapping {
    fn default() -> Self {
        Mapping { id_field: None, version_field: "version".into(), renames: HashMap::new(), excluded: Vec::new() }
    }
}

impl Mapping {
    /// Stores struct field `from` as `to`.
    pub fn rename(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.renames.insert(from.into(), to.into());
        self
    }

    /// Does not store the struct field.
    pub fn exclude(mut self, field: impl Into<String>) -> Self {
        self.excluded.push(field.into());
        self
    }

    /// Sets the struct field stored as `_id` (instead of [`Aggregate::ID_FIELD`]).
    pub fn id_field(mut self, field: impl Into<String>) -> Self {
        self.id_field = Some(field.into());
        self
    }

    fn id_field_of<T: Aggregate>(&self) -> &str {
        self.id_field.as_deref().unwrap_or(T::ID_FIELD)
    }

    /// The stored document of an aggregate, with `version` set to `version`. The `_id` is
    /// [`Aggregate::id`]; an id that serialises to null, or a mapping whose id field is not
    /// a field of the struct holding that id, is refused before anything is written.
    pub fn to_document<T: Aggregate>(&self, aggregate: &T, version: i64) -> Result<Document> {
        let what = || std::any::type_name::<T>().to_owned();
        let id = id_to_bson(aggregate.id())?;
        if id == Bson::Null {
            return Err(Error::NullId { collection: T::COLLECTION.into() });
        }
        let fields = bson::serialize_to_document(aggregate).map_err(|e| Error::serialise(what(), e))?;
        let id_field = self.id_field_of::<T>();
        if fields.get(id_field) != Some(&id) {
            return Err(Error::InvalidDocument {
                collection: T::COLLECTION.into(),
                id: String::new(),
                problem: format!(
                    "the id field {id_field:?} is not a field holding the aggregate's id(); name the id field with \
                     `aggregate!(…, id = <field>)` or `Mapping::id_field`"
                ),
            });
        }
        let mut out = Document::new();
        out.insert("_id", id);
        for (key, value) in fields {
            if key == id_field || key == self.version_field || self.excluded.contains(&key) {
                continue;
            }
            let stored = self.renames.get(&key).cloned().unwrap_or(key);
            out.insert(stored, value);
        }
        out.insert(self.version_field.clone(), version);
        Ok(out)
    }

    /// The aggregate of a stored document, its version restored.
    pub fn from_document<T: Aggregate>(&self, mut stored: Document) -> Result<T> {
        let mut fields = Document::new();
        if let Some(id) = stored.remove("_id") {
            fields.insert(self.id_field_of::<T>(), id);
        }
        let reverse: HashMap<&str, &str> = self.renames.iter().map(|(k, v)| (v.as_str(), k.as_str())).collect();
        let version = crate::store::fields::int(stored.get(&self.version_field));
        for (key, value) in stored {
            let field = reverse.get(key.as_str()).map(|s| (*s).to_owned()).unwrap_or(key);
            fields.insert(field, value);
        }
        fields.insert(self.version_field.clone(), version);
        let mut aggregate: T =
            bson::deserialize_from_document(fields).map_err(|e| Error::deserialise(std::any::type_name::<T>(), e))?;
        *aggregate.version_mut() = Version::new(version);
        Ok(aggregate)
    }
}

/// An id as BSON.
pub(crate) fn id_to_bson<I: Serialize>(id: &I) -> Result<Bson> {
    bson::serialize_to_bson(id).map_err(|e| Error::serialise("id", e))
}

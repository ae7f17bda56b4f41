//! Typed projections: handlers per typed event, read models as serde structs.
//!
//! ```
//! use cqrs_mongo_persistence::projections::{Handlers, Write};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct OrderPlaced { customer: String, total_cents: i64 }
//! cqrs_mongo_persistence::event!(OrderPlaced, "OrderPlaced");
//!
//! /// The read model (fields left out of a write keep their stored value).
//! #[derive(Serialize, Deserialize)]
//! struct Summary { customer: String, total: f64 }
//!
//! let summaries = Handlers::new("order_summaries").collection("order_summaries").on(|e: OrderPlaced, meta| {
//!     let summary = Summary { customer: e.customer, total: e.total_cents as f64 / 100.0 };
//!     Ok(vec![Write::set_from("order_summaries", meta.aggregate_id.as_str(), &summary)?])
//! });
//! assert_eq!(summaries.event_types(), ["OrderPlaced"]);
//! ```

use std::collections::BTreeMap;

use bson::Bson;
use serde::Serialize;

use super::{Projection, Write};
use crate::error::{Error, Result};
use crate::event_store::StoredEvent;
use crate::event_store::typed::Event;
use crate::store::indexes::IndexSpec;

type Handler = Box<dyn Fn(&StoredEvent) -> Result<Vec<Write>> + Send + Sync>;

/// A projection built from one handler per event type: `on::<E>(|event, meta| Ok(writes))`. Each
/// handler gets its event decoded as `E` and the stored event (ids, position, version,
/// `occurred_at`, correlation, causation, tenant, metadata) beside it. Events of types without a
/// handler are skipped without being decoded; a payload that does not decode is
/// [`Error::Decode`], handled by the runner's failure policy like any projection error (parked by default).
pub struct Handlers {
    name: String,
    collections: Vec<String>,
    indexes: Vec<IndexSpec>,
    handlers: BTreeMap<&'static str, Vec<Handler>>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers")
            .field("name", &self.name)
            .field("collections", &self.collections)
            .field("event_types", &self.event_types())
            .finish()
    }
}

impl Handlers {
    /// A projection named `name` (its checkpoint id), with no handler yet.
    pub fn new(name: impl Into<String>) -> Self {
        Handlers { name: name.into(), collections: Vec::new(), indexes: Vec::new(), handlers: BTreeMap::new() }
    }

    /// Declares a collection it writes (a rebuild replaces it as a whole).
    pub fn collection(mut self, collection: impl Into<String>) -> Self {
        self.collections.push(collection.into());
        self
    }

    /// Declares a read model it writes: its collection, as [`collection`](Self::collection).
    pub fn writes<T>(self, model: &crate::projections::ReadModel<T>) -> Self {
        self.collection(model.collection())
    }

    /// Declares an index on one of its collections.
    pub fn index(mut self, index: IndexSpec) -> Self {
        self.indexes.push(index);
        self
    }

    /// Handles events of type `E` (several handlers of one type run in the order given).
    pub fn on<E: Event>(
        mut self,
        handler: impl Fn(E, &StoredEvent) -> Result<Vec<Write>> + Send + Sync + 'static,
    ) -> Self {
        let handler: Handler = Box::new(move |stored| handler(stored.decode::<E>()?, stored));
        self.handlers.entry(E::EVENT_TYPE).or_default().push(handler);
        self
    }

    /// The event types it handles.
    pub fn event_types(&self) -> Vec<&'static str> {
        self.handlers.keys().copied().collect()
    }
}

impl Projection for Handlers {
    fn name(&self) -> &str {
        &self.name
    }

    fn collections(&self) -> Vec<String> {
        self.collections.clone()
    }

    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>> {
        let Some(handlers) = self.handlers.get(event.event_type.as_str()) else { return Ok(Vec::new()) };
        let mut writes = Vec::new();
        for handler in handlers {
            writes.extend(handler(event)?);
        }
        Ok(writes)
    }

    fn indexes(&self) -> Vec<IndexSpec> {
        self.indexes.clone()
    }
}

impl Write {
    /// `$set` of the fields of a serde value (a read-model struct, or a struct of some of its
    /// fields) on document `id`, created if missing. A value that does not serialise to a
    /// document is [`Error::Serialization`].
    pub fn set_from(collection: impl Into<String>, id: impl Into<Bson>, value: &impl Serialize) -> Result<Self> {
        let fields = bson::serialize_to_document(value).map_err(|err| Error::serialise("read model", err))?;
        Ok(Write::set(collection, id, fields))
    }
}

//! Typed events: serde types with a stored `event_type` name and `schema_version`, kept in the
//! legacy `payload` field.
//!
//! ```
//! use cqrs_mongo_persistence::event_store::{Event, EventSet, NewEvent};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct OrderPlaced { total_cents: i64 }
//! cqrs_mongo_persistence::event!(OrderPlaced, "OrderPlaced");
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct OrderPaid { amount_cents: i64 }
//! cqrs_mongo_persistence::event!(OrderPaid, "OrderPaid", version = 2);
//!
//! cqrs_mongo_persistence::event_set! {
//!     /// An aggregate's events: decoded in one call, dispatching on `event_type`.
//!     #[derive(Debug, PartialEq)]
//!     enum OrderEvent { Placed(OrderPlaced), Paid(OrderPaid) }
//! }
//!
//! let new = NewEvent::typed("e-1", &OrderPlaced { total_cents: 250 }).unwrap();
//! assert_eq!((new.event_type.as_str(), new.schema_version), ("OrderPlaced", 1));
//! assert_eq!(OrderEvent::event_types(), ["OrderPlaced", "OrderPaid"]);
//! ```

use bson::{Bson, Document};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::event_store::{NewEvent, StoredEvent};

/// An event type: serialised with serde into the legacy `payload`, stored with its
/// `EVENT_TYPE` name and `SCHEMA_VERSION`. Implement it with [`event!`](crate::event!).
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stored `event_type`.
    const EVENT_TYPE: &'static str;
    /// The payload's schema version (upcasters bring older payloads up to it).
    const SCHEMA_VERSION: i32 = 1;

    /// The tags this event is stored with (none by default), which
    /// [queries](crate::event_store::Query) select events by: `course:c1`, `student:s7`.
    fn tags(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Implements [`Event`]: `event!(OrderPlaced, "OrderPlaced")`, with a schema version
/// `event!(OrderPaid, "OrderPaid", version = 2)`, with the event's tags
/// `event!(Joined, "Joined", tags = |e| vec![format!("course:{}", e.course)])` (a closure that
/// captures nothing), or both (`version` first).
#[macro_export]
macro_rules! event {
    ($type:ty, $name:literal) => {
        $crate::event!($type, $name, version = 1);
    };
    ($type:ty, $name:literal, tags = $tags:expr) => {
        $crate::event!($type, $name, version = 1, tags = $tags);
    };
    ($type:ty, $name:literal, version = $version:literal) => {
        impl $crate::event_store::Event for $type {
            const EVENT_TYPE: &'static str = $name;
            const SCHEMA_VERSION: i32 = $version;
        }
    };
    ($type:ty, $name:literal, version = $version:literal, tags = $tags:expr) => {
        impl $crate::event_store::Event for $type {
            const EVENT_TYPE: &'static str = $name;
            const SCHEMA_VERSION: i32 = $version;
            fn tags(&self) -> Vec<String> {
                let tags: fn(&Self) -> Vec<String> = $tags;
                tags(self)
            }
        }
    };
}

/// Several event types decoded and encoded as one type: an aggregate's events as an enum with
/// one variant per event type. Define the enum with [`event_set!`](crate::event_set!).
pub trait EventSet: Sized + Send + Sync + 'static {
    /// The stored event types of the set.
    fn event_types() -> &'static [&'static str];
    /// The event, if its type belongs to the set (`Ok(None)` otherwise: not decoded at all).
    fn decode(stored: &StoredEvent) -> Result<Option<Self>>;
    /// This event's stored type, schema version and payload.
    fn encode(&self) -> Result<(&'static str, i32, Document)>;
    /// This event's tags ([`Event::tags`] of the variant's type).
    fn tags(&self) -> Vec<String>;
}

/// Defines an aggregate's event enum, one variant per [`Event`] type, with [`EventSet`] and a
/// `From` of each event type into the enum (attributes, visibility and docs as written):
///
/// ```
/// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)] struct OrderPlaced {}
/// # cqrs_mongo_persistence::event!(OrderPlaced, "OrderPlaced");
/// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)] struct OrderPaid {}
/// # cqrs_mongo_persistence::event!(OrderPaid, "OrderPaid");
/// cqrs_mongo_persistence::event_set! {
///     /// What happens to an order.
///     #[derive(Debug, Clone)]
///     pub enum OrderEvent { Placed(OrderPlaced), Paid(OrderPaid) }
/// }
/// let paid: OrderEvent = OrderPaid {}.into();
/// assert!(matches!(paid, OrderEvent::Paid(_)));
/// ```
#[macro_export]
macro_rules! event_set {
    (
        $(#[$meta:meta])*
        $vis:vis enum $set:ident { $($(#[$variant_meta:meta])* $variant:ident($type:ty)),+ $(,)? }
    ) => {
        $(#[$meta])*
        $vis enum $set {
            $($(#[$variant_meta])* $variant($type),)+
        }

        impl $crate::event_store::EventSet for $set {
            fn event_types() -> &'static [&'static str] {
                &[$(<$type as $crate::event_store::Event>::EVENT_TYPE),+]
            }

            fn decode(stored: &$crate::event_store::StoredEvent) -> $crate::Result<Option<Self>> {
                $(
                    if stored.event_type == <$type as $crate::event_store::Event>::EVENT_TYPE {
                        return stored.decode::<$type>().map(|event| Some($set::$variant(event)));
                    }
                )+
                Ok(None)
            }

            fn encode(&self) -> $crate::Result<(&'static str, i32, $crate::bson::Document)> {
                match self {
                    $($set::$variant(event) => $crate::__encode_event(event),)+
                }
            }

            fn tags(&self) -> Vec<String> {
                match self {
                    $($set::$variant(event) => <$type as $crate::event_store::Event>::tags(event),)+
                }
            }
        }
        $(
            impl From<$type> for $set {
                fn from(event: $type) -> Self {
                    $set::$variant(event)
                }
            }
        )+
    };
}

/// The stored type, schema version and payload of a typed event.
pub fn encode<E: Event>(event: &E) -> Result<(&'static str, i32, Document)> {
    let payload =
        bson::serialize_to_document(event).map_err(|err| Error::serialise(format!("event {}", E::EVENT_TYPE), err))?;
    Ok((E::EVENT_TYPE, E::SCHEMA_VERSION, payload))
}

impl NewEvent {
    /// An event to append from a typed event (its type name, schema version, payload and tags).
    pub fn typed<E: Event>(event_id: impl Into<String>, event: &E) -> Result<Self> {
        let (event_type, schema_version, payload) = encode(event)?;
        let mut new = NewEvent::new(event_id, event_type, payload).with_tags(event.tags());
        new.schema_version = schema_version;
        Ok(new)
    }

    /// An event to append from any event of a set (an aggregate's event enum).
    pub fn from_set<S: EventSet>(event_id: impl Into<String>, event: &S) -> Result<Self> {
        let (event_type, schema_version, payload) = event.encode()?;
        let mut new = NewEvent::new(event_id, event_type, payload).with_tags(event.tags());
        new.schema_version = schema_version;
        Ok(new)
    }
}

impl StoredEvent {
    /// The payload as event type `E` (after the store's upcasters). A stored event of another
    /// type or schema version, or a payload that does not deserialize, is
    /// [`Error::Decode`] naming the event id, its type and the serde path of the field.
    pub fn decode<E: Event>(&self) -> Result<E> {
        let refuse = |path: String, message: String, source: Option<bson::error::Error>| Error::Decode {
            event_id: self.event_id.clone(),
            event_type: self.event_type.clone(),
            path,
            message,
            source: source.map(Box::new),
        };
        if self.event_type != E::EVENT_TYPE {
            return Err(refuse(String::new(), format!("it is not a {} event", E::EVENT_TYPE), None));
        }
        if self.schema_version != E::SCHEMA_VERSION {
            return Err(refuse(
                String::new(),
                format!(
                    "its payload has schema version {} and the type expects {} (register an upcaster for it)",
                    self.schema_version,
                    E::SCHEMA_VERSION
                ),
                None,
            ));
        }
        let deserializer = bson::Deserializer::new(Bson::Document(self.payload.clone()));
        serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let path = err.path().to_string();
            let source = err.into_inner();
            refuse(path, source.to_string(), Some(source))
        })
    }

    /// The payload decoded as one of the set's events (`Ok(None)` when its type is not in the
    /// set; such an event is not decoded at all).
    pub fn decode_set<S: EventSet>(&self) -> Result<Option<S>> {
        S::decode(self)
    }
}

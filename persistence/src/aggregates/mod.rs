//! Event-sourced aggregates: state folded from its events, saved by appending new ones.
//!
//! An aggregate is a plain serde struct implementing [`EventSourced`] (`apply` folds one event
//! into the state). A [`Root`] holds it with its id, the version it was loaded at and the events
//! recorded since (`record` applies an event and keeps it pending). An [`AggregateStore`](crate::AggregateStore)
//! loads a root (latest snapshot, then the later events folded as they stream in) and saves it
//! (the pending events appended with the loaded version as the expected one).
//!
//! ```
//! use cqrs_mongo_persistence::aggregates::{EventSourced, Root};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! struct Placed { total_cents: i64 }
//! cqrs_mongo_persistence::event!(Placed, "OrderPlaced");
//! #[derive(Debug, Serialize, Deserialize)]
//! struct Paid {}
//! cqrs_mongo_persistence::event!(Paid, "OrderPaid");
//! cqrs_mongo_persistence::event_set! {
//!     #[derive(Debug)]
//!     enum OrderEvent { Placed(Placed), Paid(Paid) }
//! }
//!
//! #[derive(Debug, Default, Serialize, Deserialize)]
//! struct Order { total_cents: i64, paid: bool }
//!
//! impl EventSourced for Order {
//!     type Event = OrderEvent;
//!     const AGGREGATE_TYPE: &'static str = "Order";
//!     fn apply(&mut self, event: &OrderEvent) {
//!         match event {
//!             OrderEvent::Placed(e) => self.total_cents = e.total_cents,
//!             OrderEvent::Paid(_) => self.paid = true,
//!         }
//!     }
//! }
//!
//! let mut order = Root::<Order>::new("o-1");
//! order.record(Placed { total_cents: 250 });
//! order.record(Paid {});
//! assert!(order.paid && order.total_cents == 250);
//! assert_eq!((order.version(), order.pending().len()), (0, 2));
//! ```

pub(crate) mod store;

pub use crate::snapshots::Snapshot;
pub use store::{AggregateStats, Saved, SnapshotPolicy};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::event_store::typed::EventSet;
use crate::store::version::Version;

/// State built by folding events: `apply` must only change the state (no IO, no failure), so
/// replaying the same events always gives the same state.
pub trait EventSourced: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The aggregate's events (an enum with [`event_set!`](crate::event_set!)).
    type Event: EventSet;
    /// The stored `aggregate_type` of its streams (and snapshots).
    const AGGREGATE_TYPE: &'static str;
    /// Folds one event into the state.
    fn apply(&mut self, event: &Self::Event);
}

/// An aggregate with its id, the version of its stream and the events recorded since it was
/// loaded. Dereferences to the state.
#[derive(Debug)]
pub struct Root<A: EventSourced> {
    id: String,
    state: A,
    /// The stream's version: events up to it are stored (provisionally, inside a unit of work
    /// that has not committed yet).
    version: Version,
    /// The version at which `pending[0]` follows.
    base: i64,
    /// Recorded events with their ids (kept across retries, so a retried save is idempotent).
    pending: Vec<(String, A::Event)>,
    correlation_id: Option<String>,
    causation_id: Option<String>,
}

impl<A: EventSourced> Root<A> {
    /// A new aggregate (no stream yet, version 0, default state).
    pub fn new(id: impl Into<String>) -> Self {
        Root::at(id.into(), A::default(), 0)
    }

    pub(crate) fn at(id: String, state: A, version: i64) -> Self {
        Root {
            id,
            state,
            version: Version::new(version),
            base: version,
            pending: Vec::new(),
            correlation_id: None,
            causation_id: None,
        }
    }

    /// The aggregate (stream) id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The state.
    pub fn state(&self) -> &A {
        &self.state
    }

    /// The stream version its state includes the stored events of (0 for a new aggregate).
    pub fn version(&self) -> i64 {
        self.version.get()
    }

    /// Applies `event` to the state and keeps it to be appended by the next save.
    pub fn record(&mut self, event: impl Into<A::Event>) {
        let event = event.into();
        self.state.apply(&event);
        self.pending.push((bson::Uuid::new().to_string(), event));
    }

    /// Sets the correlation and causation ids of the events saved from now on.
    pub fn correlate(&mut self, correlation_id: Option<String>, causation_id: Option<String>) {
        self.correlation_id = correlation_id;
        self.causation_id = causation_id;
    }

    /// The recorded events not stored yet.
    pub fn pending(&self) -> Vec<&A::Event> {
        self.unsaved().iter().map(|(_, event)| event).collect()
    }

    /// The recorded events the next save appends: those after the version (which moves back if
    /// a unit of work that stored some of them does not commit).
    pub(crate) fn unsaved(&self) -> &[(String, A::Event)] {
        let saved = usize::try_from(self.version.get() - self.base).unwrap_or(0).min(self.pending.len());
        &self.pending[saved..]
    }

    /// Forgets the events whose save has committed.
    pub(crate) fn settle(&mut self) {
        if !self.version.is_provisional() {
            let saved = usize::try_from(self.version.get() - self.base).unwrap_or(0).min(self.pending.len());
            self.pending.drain(..saved);
            self.base = self.version.get();
        }
    }
}

impl<A: EventSourced> std::ops::Deref for Root<A> {
    type Target = A;

    fn deref(&self) -> &A {
        &self.state
    }
}

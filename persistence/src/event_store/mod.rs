//! The event store: append-only streams in `domain_events` with 1-based global positions.
//!
//! The position design and its measured cost are documented on [`EventStore`].

mod append;
mod condition;
mod decision;
mod gaps;
pub(crate) mod group_commit;
mod markers;
mod query;
mod read;
pub(crate) mod store;
pub(crate) mod typed;
mod types;

pub use crate::error::EventIdProblem;
pub use condition::{AppendCondition, ConsistencyToken, QueryRead};
pub use decision::{Decided, DecisionModel};
pub use gaps::{DEFAULT_GAP_GRACE, GapStats};
pub use markers::MARKERS;
pub use query::{Query, QueryItem};
pub use store::{BURNT_POSITIONS, PositionAllocation};
pub(crate) use store::{EVENTS, EventStore};
pub use typed::{Event, EventSet};
pub use types::{ExpectedVersion, NewEvent, StoredEvent, Stream, Upcast, Upcasters};

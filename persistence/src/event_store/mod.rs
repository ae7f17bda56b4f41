//! The event store: append-only streams in `domain_events` with 1-based global positions.
//!
//! The position design and its measured cost are documented on [`EventStore`].
//!
//! # Decisions across streams: tags, queries and append conditions
//!
//! Some rules span streams: a course holds at most 30 students, a student joins at most 3
//! courses, a user name is taken once. Events carry **tags** ([`NewEvent::with_tags`],
//! [`Event::tags`], `event!(T, "T", tags = |e| …)`), stored with the event (`tags`, absent when
//! there are none, as in legacy documents). A [`Query`] is a list of [`QueryItem`]s OR-ed
//! together; an item selects the events whose type is one of its types and which carry all of its
//! tags. A decision reads what its query selects ([`EventStore::read_query`], index-backed, in
//! position order) and appends with an [`AppendCondition`] built from the read's
//! [`ConsistencyToken`] ([`EventStore::append_if`]); [`EventStore::decide`] does both in one
//! call for a [`DecisionModel`] (a query and a fold of typed events). The course example,
//! with both limits, is on [`DecisionModel`].
//!
//! **What a condition guarantees.** The append stores all its events, or none and fails with
//! [`Error::ConditionFailed`](crate::Error::ConditionFailed) naming the items that selected
//! events stored after the read (for [`AppendCondition::none_match`]: stored at all). A refusal
//! is always for a real event: the selected events are counted, never guessed. The guarantee
//! holds against every append of this crate, whatever the [`PositionAllocation`], in a unit of
//! work or not; the legacy Python package neither tags events nor writes markers, so its
//! appends are not seen by a condition that raced them (a condition read after they committed
//! sees them as any event).
//!
//! **How.** MongoDB's transactions detect two writes of one document, not a read that another
//! transaction's insert would have changed. Every append therefore increments, in its
//! transaction, **consistency markers** (collection [`MARKERS`]): one per tag, one per (type, tag)
//! pair, and one of 16 stripes of its type. The read takes the versions of the markers its query
//! watches *before* reading the events; the conditional append increments those markers in its
//! transaction (so two appends that would break each other's condition write one common
//! document: one commits, the other is retried and then sees the first) and compares them with
//! the token: unchanged, nothing selected was stored since; moved, it counts the selected events
//! per item against what the read saw. The token is therefore not a position: a position-based
//! `after` is sound only below a watermark every position under which is committed, and with
//! [`PositionAllocation::Reserved`] or legacy writers an event can commit below positions read
//! already (the hole other stores shipped first).
//!
//! **The cost.** One marker document per tag value (and per type × tag, and 16 per type): each
//! append writes one per distinct marker of its events (a group commit once per batch), a
//! conditional append one more per watched marker. Appends that share a marker serialise on it
//! by design: a hot tag (`course:c1` during enrolment) admits one committing append at a time,
//! the others are retried with the driver's jittered backoff. Disjoint boundaries share only a
//! type stripe now and then (and, with the default allocation, the position counter every append
//! already takes in its transaction); they are never refused. An item must name a type or a tag
//! (a condition on every event would serialise every append).
//!
//! **With streams.** A conditional append is also an append to a stream at an expected version
//! ([`ExpectedVersion::Any`] when only the condition matters), in the caller's unit of work (next
//! to plain appends of other streams in it) or alone, through the group commit: the batch's
//! transaction checks each condition, and one whose query selects events of an earlier append
//! of the batch runs in a transaction of its own after it. Tenant scopes apply to the reads and counts; markers are
//! shared by tenants (a coarser marker only costs retries). A token is for the tenant scope it
//! was read in.
//!
//! **Read-your-writes.** [`PositionStore::wait_for`](crate::PositionStore::wait_for) waits,
//! bounded, until a projection or subscription has processed an appended position, so a handler
//! can answer with the updated read model.

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
pub use decision::{DECIDE_ATTEMPTS, Decided, DecisionModel};
pub use gaps::{DEFAULT_GAP_GRACE, GapStats};
pub use markers::MARKERS;
pub use query::{Query, QueryItem};
pub use store::{BURNT_POSITIONS, PositionAllocation};
pub(crate) use store::{EVENTS, EventStore};
pub use typed::{Event, EventSet};
pub use types::{ExpectedVersion, NewEvent, StoredEvent, Stream, Upcast, Upcasters};

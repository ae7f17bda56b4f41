//! Where a runner or subscription parks an event its handler keeps failing on (after the
//! attempts of its [`RetryPolicy`](crate::runtime::RetryPolicy)).
//!
//! A parked event is one document per (subscription, event): `_id = "<subscription>|<event id>"`,
//! the event's id, position, type and aggregate, the last error, the attempts and when it was
//! parked. It is written in the same transaction as the checkpoint that moves past the event,
//! so an event is either applied, or parked, never neither. Parked events are listed, retried
//! (by the runner or subscription that parked them, which marks them `retried` when the handler
//! now succeeds) or skipped (marked `skipped`, kept for the record).

pub(crate) mod store;

pub(crate) use store::DeadLetters;
pub use store::{DEAD_LETTERS, DeadLetter, DeadLetterStatus};

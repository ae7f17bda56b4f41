//! The transactional outbox (`outbox_messages`): messages saved in the same unit of work as the
//! aggregate and its events, then published by an [`OutboxRelay`].
//!
//! See [`OutboxRelay`] for how messages are claimed, published and retried.

pub(crate) mod relay;
mod relay_loop;
pub(crate) mod store;

pub use relay::{ClaimedMessage, RelayReport};
pub use relay_loop::{Publisher, RelayStats};
pub use store::{Backlog, OutboxMessage};

pub(crate) use relay::OutboxRelay;
pub(crate) use store::Outbox;
// For the relay.
use store::publish_order;

//! The runtime kit the loops share: leases, following the event store (change streams or a
//! timer), retry policies and backoff, subscriptions, and the handle of a spawned loop. The
//! loops themselves: `projections::runner` (the projection runner), `runtime::subscription`,
//! `outbox::relay_loop` (the relay) and `jobs::worker`.

pub(crate) mod follow;
pub(crate) mod lease;
pub(crate) mod retry;
pub(crate) mod spawn;
pub(crate) mod subscription;

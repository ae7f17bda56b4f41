//! The runtime kit the loops share: leases, following the event store (change streams or a
//! timer), retry policies and backoff, subscriptions' handlers, and the handle of a spawned
//! loop ([`Running`]). The loops are at the crate root: [`ProjectionRunner`](crate::ProjectionRunner),
//! [`Subscription`](crate::Subscription), [`OutboxRelay`](crate::OutboxRelay) and
//! [`JobWorker`](crate::JobWorker) (their code: `projections/runner/`, `runtime/subscription.rs`,
//! `outbox/relay_loop.rs`, `jobs/worker.rs`).

pub(crate) mod follow;
pub(crate) mod lease;
pub(crate) mod retry;
pub(crate) mod spawn;
pub(crate) mod subscription;

pub use follow::FollowStats;
pub use lease::LeaseInfo;
pub use retry::{AfterRetries, Backoff, BoxError, RetryPolicy, Unavailable};
pub use spawn::Running;
pub use subscription::{EventHandler, SubscriptionStats};

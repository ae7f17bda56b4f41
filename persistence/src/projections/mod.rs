//! The read side: typed read models ([`ReadModel`]) and what the read-model store returns, the
//! projection runner's handlers ([`Handlers`], [`Projection`]), writes, and rebuild reports.
//! The stores and the loop are at the crate root: [`ProjectionStore`](crate::ProjectionStore),
//! [`PositionStore`](crate::PositionStore) and [`ProjectionRunner`](crate::ProjectionRunner)
//! (checkpoints, failures and rebuilds in `runner/`).

pub(crate) mod positions;
pub(crate) mod read_model;
pub(crate) mod runner;
pub(crate) mod store;

pub use read_model::{ReadModel, Reader};
pub use runner::{DEFAULT_LEASE, Handlers, Projection, RebuildProgress, RebuildReport, RunnerStats, Write};
pub use store::Applied;

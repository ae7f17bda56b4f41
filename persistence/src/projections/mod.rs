//! The read side: the read-model store ([`ProjectionStore`](store::ProjectionStore)), typed read
//! models ([`ReadModel`](read_model::ReadModel)), and the projection runner with its handlers,
//! writes, checkpoints, failures and rebuilds (`runner/`).

pub(crate) mod positions;
pub(crate) mod read_model;
pub(crate) mod runner;
pub(crate) mod store;

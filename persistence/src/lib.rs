//! # cqrs-mongo-persistence
//!
//! MongoDB persistence for CQRS/DDD applications on the official `mongodb` driver and `tokio`:
//! a connection manager, `Repository<T>` with optimistic concurrency, a unit of work over real
//! multi-document transactions, and index management. Every filter built from a specification
//! is compiled by `cqrs-mongo-spec`, the same compiler as the npm and pip packages.
//!
//! Storage formats are the legacy Python package's (`_id`, `version`), so both stacks can share
//! one database.
#![forbid(unsafe_code)]

mod connection;
mod error;
mod event_store;
mod indexes;
mod model;
mod observe;
mod outbox;
mod projections;
mod repository;
mod snapshots;
mod uow;

pub use connection::{Connection, Health, PoolOptions};
pub use error::{Error, Result};
pub use event_store::{EventStore, ExpectedVersion, NewEvent, StoredEvent, Stream as EventStream, Upcast, Upcasters};
pub use indexes::{IndexReport, IndexSpec};
pub use model::{Aggregate, Mapping, PendingEvent};
pub use outbox::{ClaimedMessage, Outbox, OutboxMessage, OutboxRelay, RelayReport};
pub use projections::{Applied, ProjectionStore};
pub use repository::{GetMany, Repository};
pub use snapshots::{PositionStore, Snapshot, SnapshotStore};
pub use uow::{AfterCommit, UnitOfWork};

//! Saga state in the legacy `sagas` collection: optimistic concurrency, one saga per
//! `(saga_type, correlation_id)`, guarded status changes, and the queries a saga supervisor
//! needs (stalled, suspended, timed out), each filtered by the saga's own type.
//!
//! The legacy store queried by the state class name instead of `saga_type`, so those queries
//! always came back empty, and nothing stopped the same saga from starting twice; both are
//! fixed here (and tested).

pub(crate) mod store;

pub(crate) use store::SagaRepository;
pub use store::{IfStarted, Saga, SagaStatus};

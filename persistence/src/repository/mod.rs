//! State-stored aggregates: the model a [`Repository`] saves ([`Aggregate`],
//! [`Mapping`], the `aggregate!` macro) and its batch reads ([`GetMany`]). The repository applies
//! optimistic concurrency; every filter built from a specification goes through
//! `cqrs-mongo-spec`.

pub(crate) mod model;
pub(crate) mod store;

pub use model::{Aggregate, Mapping};
pub use store::GetMany;
pub(crate) use store::Repository;

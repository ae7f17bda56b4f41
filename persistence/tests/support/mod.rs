//! Test support: the crate's public test helpers (feature `testing`: the database server and one
//! database per test), plus fixtures shared by several test files.

#![allow(dead_code, unused_imports)]

pub use cqrs_mongo_persistence::testing::{
    database, database_name as name, database_on, server_uri, standalone_uri, test_name,
};

pub mod legacy;
pub mod metrics;
pub mod order;
pub mod runner;

//! The store core every store is built on: the connection, units of work and where an operation
//! runs, versions, indexes, tenant scopes, lenient field readers, the guarded upsert, the query
//! runner, and paging.

pub(crate) mod connection;
pub(crate) mod fields;
pub(crate) mod guarded;
pub(crate) mod indexes;
pub(crate) mod page;
pub(crate) mod query;
pub(crate) mod tenancy;
pub(crate) mod uow;
pub(crate) mod version;

pub use connection::{Health, PoolOptions};
pub use indexes::{IndexReport, IndexSpec, Indexed};
pub use page::{Page, PageRequest};
pub use tenancy::{TENANT_FIELD, Tenant};
pub use uow::{AfterCommit, SessionGuard};
pub use version::Version;

//! # sea-tenancy
//!
//! Multitenancy for [SeaORM](https://www.sea-ql.org/SeaORM/) on PostgreSQL.
//!
//! Entities declare how their rows are kept apart with `#[derive(Multitenant)]`; a
//! [`TenantConnection`] from [`Tenancy::with_tenant`] then runs ordinary SeaORM code as the
//! tenant's own PostgreSQL role, which reaches only that tenant's schema (schema strategy) and
//! rows (attribute strategy).
//!
//! # Features
//!
//! The default build is the runtime a web server links. Deploy-time tooling is opt-in:
//! - `cli`: `sea_tenancy::cli`, the command line an app hands its `main` to (implies
//!   `generate`);
//! - `generate`: `sea_tenancy::generate`, the migration generator;
//! - `testing`: `sea_tenancy::testing`, a throwaway-PostgreSQL harness for tests.
#![warn(missing_docs)]

pub mod across;
pub mod all_tenants;
mod app;
pub mod citus;
#[cfg(feature = "cli")]
pub mod cli;
mod connection;
pub mod error;
#[cfg(feature = "generate")]
pub mod generate;
pub mod logins;
pub mod manage;
pub mod migrate;
pub mod placement;
pub mod registry;
pub mod rls;
pub mod roles;
mod route;
mod session;
mod sql;
pub mod tenant;
pub mod testing;

pub use app::{Setup, TenancyApp};
pub use connection::{
    Tenancy, TenancyBuilder, TenancyTransaction, TenantConnection, TenantTransaction,
};
pub use error::TenancyError;
pub use logins::{LoginLimits, LoginStats};
pub use manage::{ManageTenant, OnDelete};
pub use registry::{Multitenant, Registry, Strategy};
pub use sea_tenancy_macros::{ManageTenant, Multitenant};
pub use tenant::{Tenant, TenantError};

#[doc(hidden)]
pub mod __private {
    pub use inventory;
    pub use sea_orm;
}

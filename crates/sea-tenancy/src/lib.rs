//! # sea-tenancy
//!
//! Multitenancy for [SeaORM](https://www.sea-ql.org/SeaORM/) on PostgreSQL.
//!
//! Entities declare how their rows are kept apart with `#[derive(Multitenant)]`; a
//! [`TenantConnection`] from [`Tenancy::with_tenant`] then routes ordinary SeaORM code to one
//! tenant's schema (schema strategy) or rows (attribute strategy).
#![warn(missing_docs)]

pub mod all_tenants;
mod app;
pub mod cli;
mod connection;
pub mod error;
pub mod generate;
pub mod manage;
pub mod migrate;
pub mod placement;
pub mod registry;
pub mod rls;
pub mod roles;
mod route;
pub mod session;
mod sql;
pub mod tenant;
#[cfg(feature = "testing")]
pub mod testing;

pub use app::TenancyApp;
pub use connection::{
    Tenancy, TenancyExt, TenancyTransaction, TenantConnection, TenantTransaction,
};
pub use error::TenancyError;
pub use manage::{ManageTenant, OnDelete};
pub use registry::{Multitenant, Registry, Strategy};
pub use sea_tenancy_macros::{ManageTenant, Multitenant};
pub use tenant::{Tenant, TenantError};

#[doc(hidden)]
pub mod __private {
    pub use inventory;
    pub use sea_orm;
}

//! PostgreSQL roles: the boundary between tenants.
//!
//! Every tenant has a role of its own, and every statement of a tenant connection runs on a
//! connection *logged in* as that role. Whatever SQL text reaches such a connection — a raw
//! query, a custom expression, an injection bug — PostgreSQL checks it against the tenant's
//! privileges: its own schema, the `public` tables granted to all tenants, and its own rows of
//! attribute tables (row-level security keyed by the role). `SET ROLE` leads nowhere (a tenant
//! role is a member of no other tenant), and a pooled connection never serves two tenants.
//!
//! | role | logs in | may |
//! |---|---|---|
//! | the owner (your `DATABASE_URL` user) | migrations, provisioning, the CLI | everything; needs `CREATEROLE` |
//! | `<ns>_global` | [`crate::Tenancy`]'s statements without a tenant | DML on global and attribute tables (no attribute rows: it is no tenant); nothing in tenant schemas |
//! | `<ns>_tenants` | never (a group) | what all tenants may do in `public`: see [`TableAccess`] |
//! | `<ns>_t_<schema>` | one tenant's connections | DML in its schema, its rows of attribute tables, the group's grants |
//! | `<ns>_reporting` | never (a group); its member logins run [`crate::across`] | `SELECT` on every tenant schema and app table, nothing else ([`reporting`]) |
//!
//! Names: [`RoleNames`]; passwords: derived from one [`LoginSecret`]; installed by `migrate`
//! ([`install`]) and by provisioning (per tenant).

mod check;
mod install;
mod names;
pub mod reporting;
mod secret;
mod sync;
pub(crate) mod tenant;

pub(crate) use check::check_login;
pub use install::install;
pub(crate) use install::tenant_map_statements;
pub use names::{MAX_NAMESPACE_LEN, RoleNames};
pub use secret::{LoginSecret, MIN_SECRET_LEN, SECRET_ENV, SecretError};
pub use sync::{SyncReport, sync};

/// What tenant connections may do with a global table (one in `public` that is neither an
/// attribute table nor sea-tenancy's own), as [`crate::TenancyApp::tenant_access`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TableAccess {
    /// Nothing: the table is the app's business only (reachable through `Tenancy` itself).
    None,
    /// `SELECT` (the default): tenant data may reference and join it.
    Read,
    /// `SELECT, INSERT, UPDATE, DELETE`: every tenant may change every row of it.
    ReadWrite,
}

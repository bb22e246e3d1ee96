//! The errors of sea-tenancy.

mod database;

pub(crate) use database::sqlx_sqlstate;
pub use database::{DatabaseMessage, GUARD_SQLSTATE, ROLE_TAKEN_SQLSTATE, explain, sqlstate};

use crate::registry::RegistryError;
use crate::tenant::TenantError;

/// Why sea-tenancy refused or failed an operation.
#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    /// A multitenant table was used without a tenant.
    #[error(
        "sea-tenancy: table `{table}` is multitenant ({strategy}) and this connection has no tenant; use `db.with_tenant(tenant)` to reach it"
    )]
    TenantRequired {
        /// The table.
        table: String,
        /// Its strategy, in words.
        strategy: &'static str,
    },
    /// A statement of one tenant named another tenant's schema.
    #[error(
        "sea-tenancy: statement for tenant `{tenant}` names `{schema}.{table}`; a tenant connection only reaches its own schema `{tenant}`"
    )]
    CrossTenant {
        /// The connection's tenant.
        tenant: String,
        /// The schema the statement named.
        schema: String,
        /// The table.
        table: String,
    },
    /// A statement would change session state that outlives the transaction.
    #[error(
        "sea-tenancy: session-level SET/RESET is refused on a tenant connection because it would outlive the transaction and leak to the next user of the pooled connection; use SET LOCAL inside a transaction"
    )]
    SessionState,
    /// A statement kind tenant connections never send (see `route`).
    #[error("sea-tenancy: {what} is refused on a tenant connection: {why}")]
    Refused {
        /// What the statement does.
        what: &'static str,
        /// Why, and what to do instead.
        why: &'static str,
    },
    /// A login could do more than the role it stands for.
    #[error(
        "sea-tenancy: refusing to use login `{role}`: {problem}; tenant isolation needs it to hold only its own privileges. Fix: {fix}"
    )]
    UnsafeLogin {
        /// The role.
        role: String,
        /// What is wrong with it.
        problem: String,
        /// The statement or setting that fixes it.
        fix: String,
    },
    /// A tenant role could not log in.
    #[error(
        "sea-tenancy: tenant `{tenant}` cannot log in as role `{role}` in database `{database}`: {reason}. Fix: {fix}"
    )]
    Login {
        /// The role.
        role: String,
        /// The tenant.
        tenant: String,
        /// The database (`default` for the app's).
        database: String,
        /// What the server said (no password in it).
        reason: String,
        /// What to do.
        fix: String,
    },
    /// Every tenant connection allowed stayed busy.
    #[error(
        "sea-tenancy: no tenant connection came free within {waited:?} ({max} open at most, {per_tenant} per tenant); raise `LoginLimits::max_connections` / `per_tenant`, or keep fewer tenant transactions open at once"
    )]
    LoginsExhausted {
        /// `LoginLimits::max_connections`.
        max: u32,
        /// `LoginLimits::per_tenant`.
        per_tenant: u32,
        /// How long the statement waited.
        waited: std::time::Duration,
    },
    /// The login secret is missing or too weak.
    #[error("sea-tenancy: {0}")]
    Secret(#[from] crate::roles::SecretError),
    /// The tenant's schema already exists.
    #[error("sea-tenancy: tenant schema `{0}` already exists; nothing was created")]
    TenantExists(String),
    /// The tenant's schema does not exist.
    #[error("sea-tenancy: tenant schema `{0}` does not exist")]
    TenantMissing(String),
    /// A new tenant row got no value for its primary key, which is the tenant key.
    #[error(
        "sea-tenancy: the new `{table}` row has no `{column}`, and a tenant's key is its primary key; set `{column}` in the row, or give the column a default of its own (e.g. `gen_random_uuid()`) and, if `{table}` is an attribute table keyed by it, answer `keep` when `generate-migrations` asks about that default; nothing was created"
    )]
    KeyMissing {
        /// The managing entity's table.
        table: String,
        /// Its primary-key column.
        column: String,
    },
    /// `provision` was given a transaction of the caller's, but a tenant migration must run
    /// outside any transaction.
    #[error(
        "sea-tenancy: tenant migration `{migration}` runs outside a transaction (`use_transaction() == Some(false)`), which cannot happen inside the transaction given to `provision`; call `provision` with the `DatabaseConnection` (it then applies the migrations before `{migration}` with the row, and the rest right after); nothing was created"
    )]
    OutsideTransaction {
        /// The first such migration of the tenant set.
        migration: String,
    },
    /// `provision` created the tenant (row, schema, role and the migrations before the first
    /// one that runs outside a transaction), then a later migration failed.
    #[error(
        "sea-tenancy: tenant `{tenant}` was created, but it is behind: {source} Run `migrate` (or `migrate --tenant {tenant}`) once the cause is fixed"
    )]
    ProvisionIncomplete {
        /// The tenant's schema.
        tenant: String,
        /// What failed.
        source: sea_orm::DbErr,
    },
    /// The template changed but the entity has `update = false`.
    #[error(
        "sea-tenancy: this change would move the tenant from schema `{from}` to `{to}`, but the entity is declared with `update = false`; nothing was changed"
    )]
    RenameDisabled {
        /// The current schema.
        from: String,
        /// The schema the change would need.
        to: String,
    },
    /// Two entities declare one table with different strategies.
    #[error("sea-tenancy: {0}")]
    Registry(#[from] RegistryError),
    /// A tenant name or key was refused.
    #[error("sea-tenancy: {0}")]
    Tenant(#[from] TenantError),
    /// The tenant's database could not be found or reached.
    #[error(transparent)]
    Placement(#[from] crate::placement::PlacementError),
    /// A plain insert, delete or template-column update of a managing entity's table met the
    /// guard trigger (see `manage::install_guard`).
    #[error(
        "sea-tenancy: rows of `{table}` are tenants and their schemas must follow them, so plain inserts, deletes and template-column updates are refused; create, rename and delete them with `sea_tenancy::manage::provision`, `update_tenant` and `delete_tenant`"
    )]
    Guarded {
        /// The managing entity's table.
        table: String,
        /// The database error.
        source: sea_orm::DbErr,
    },
    /// Row-level security refused a row: its tenant column names another tenant (or, on a
    /// `global_rows` table, a tenant wrote a shared row or the global connection a tenant's).
    #[error(
        "sea-tenancy: PostgreSQL refused a row of `{table}` whose tenant column is not this connection's tenant (row-level security); leave the tenant column unset — the tenant connection fills it in — or write through that tenant's connection (`db.with_tenant(..)`); shared rows of a `global_rows` table are written through the global connection"
    )]
    RowSecurity {
        /// The table.
        table: String,
        /// The database error.
        source: sea_orm::DbErr,
    },
    /// A role lacked a privilege: a tenant reached outside its schema and the global tables
    /// granted to it, or the global role reached into a tenant schema or a guarded table.
    #[error(
        "sea-tenancy: PostgreSQL refused: permission denied for {object}. A tenant's role reaches only its own schema, attribute tables (its rows) and the global tables `TenancyApp::tenant_access` grants (default: read-only); the global role reaches no tenant schema and cannot insert or delete managing rows. Use the connection of the tenant that owns it, grant the table in `tenant_access` and run `roles sync`, or provision tenants with `sea_tenancy::manage`"
    )]
    PermissionDenied {
        /// What was refused (`table organizations`, `schema org_2`).
        object: String,
        /// The database error.
        source: sea_orm::DbErr,
    },
    /// A tenant's role name already belongs to another tenant.
    #[error(
        "{message}: choose another tenant name, or drop the other tenant first (role names are unique in the cluster; `TenancyApp::role_namespace` separates apps sharing one)"
    )]
    RoleTaken {
        /// What the database said.
        message: String,
        /// The database error.
        source: sea_orm::DbErr,
    },
    /// The database failed.
    #[error(transparent)]
    Db(sea_orm::DbErr),
}

/// Database errors that one of sea-tenancy's guards raised become the variant that explains
/// them ([`explain`]); the rest stay [`TenancyError::Db`].
impl From<sea_orm::DbErr> for TenancyError {
    fn from(err: sea_orm::DbErr) -> Self {
        explain(err)
    }
}

impl TenancyError {
    /// The database error underneath, if any.
    pub fn db_err(&self) -> Option<&sea_orm::DbErr> {
        match self {
            TenancyError::Db(source)
            | TenancyError::Guarded { source, .. }
            | TenancyError::RowSecurity { source, .. }
            | TenancyError::PermissionDenied { source, .. }
            | TenancyError::RoleTaken { source, .. }
            | TenancyError::ProvisionIncomplete { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<TenancyError> for sea_orm::DbErr {
    fn from(err: TenancyError) -> Self {
        match err {
            TenancyError::Db(db)
            | TenancyError::Guarded { source: db, .. }
            | TenancyError::RowSecurity { source: db, .. }
            | TenancyError::PermissionDenied { source: db, .. }
            | TenancyError::RoleTaken { source: db, .. } => db,
            other => sea_orm::DbErr::Custom(other.to_string()),
        }
    }
}

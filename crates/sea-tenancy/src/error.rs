//! The errors of sea-tenancy.

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
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<TenancyError> for sea_orm::DbErr {
    fn from(err: TenancyError) -> Self {
        match err {
            TenancyError::Db(db) => db,
            other => sea_orm::DbErr::Custom(other.to_string()),
        }
    }
}

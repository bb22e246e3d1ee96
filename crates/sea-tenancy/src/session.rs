//! The tenant's transaction-local session: what a tenant transaction sets right after `BEGIN`.
//!
//! Everything is set with `set_config(.., true)`, the function form of `SET LOCAL`: PostgreSQL
//! reverts it at `COMMIT` or `ROLLBACK`, so nothing can survive into the next use of a pooled
//! connection — whatever happens to the transaction (commit, rollback, error, drop). It is set
//! once, at the outermost `BEGIN`, never inside a savepoint, because `ROLLBACK TO SAVEPOINT`
//! would revert it (django-tenants #1262).

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use crate::tenant::Tenant;

/// The setting that carries the tenant key; row-level security policies read it.
pub const TENANT_KEY_SETTING: &str = "sea_tenancy.tenant";

/// Sets search path, tenant key and (when given) role for the rest of the transaction, in one
/// round trip.
pub(crate) async fn enter<C: ConnectionTrait>(
    txn: &C,
    tenant: &Tenant,
    role: Option<&str>,
) -> Result<(), DbErr> {
    // The tenant schema first, `public` second: unqualified raw SQL finds the tenant's tables,
    // and global tables still resolve. Tables named by SeaORM are qualified by the router
    // anyway, so a table missing from the tenant schema never silently falls back to `public`
    // for entity queries.
    let search_path = format!("{}, public", tenant.quoted_schema());
    let stmt = match role {
        Some(role) => Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('search_path', $1, true), set_config('sea_tenancy.tenant', $2, true), set_config('role', $3, true)",
            [search_path.into(), tenant.key().into(), role.into()],
        ),
        None => Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('search_path', $1, true), set_config('sea_tenancy.tenant', $2, true)",
            [search_path.into(), tenant.key().into()],
        ),
    };
    txn.execute_raw(stmt).await?;
    Ok(())
}

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
/// round trip. With `fenced`, the same statement first asks the database's move fence whether
/// the tenant still lives here (see `placement::catalog::install_fence`).
pub(crate) async fn enter<C: ConnectionTrait>(
    txn: &C,
    tenant: &Tenant,
    role: Option<&str>,
    fenced: bool,
) -> Result<(), DbErr> {
    // The tenant schema first, `public` second: unqualified raw SQL finds the tenant's tables,
    // and global tables still resolve. Tables named by SeaORM are qualified by the router
    // anyway, so a table missing from the tenant schema never silently falls back to `public`
    // for entity queries.
    let search_path = format!("{}, public", tenant.quoted_schema());
    const PLAIN: &str =
        "SELECT set_config('search_path', $1, true), set_config('sea_tenancy.tenant', $2, true)";
    const ROLE: &str = "SELECT set_config('search_path', $1, true), set_config('sea_tenancy.tenant', $2, true), set_config('role', $3, true)";
    const FENCED: &str = "SELECT public.sea_tenancy_resident($3), set_config('search_path', $1, true), set_config('sea_tenancy.tenant', $2, true)";
    const FENCED_ROLE: &str = "SELECT public.sea_tenancy_resident($4), set_config('search_path', $1, true), set_config('sea_tenancy.tenant', $2, true), set_config('role', $3, true)";
    let mut values: Vec<sea_orm::Value> = vec![search_path.into(), tenant.key().into()];
    if let Some(role) = role {
        values.push(role.into());
    }
    if fenced {
        values.push(tenant.schema().into());
    }
    let sql = match (fenced, role.is_some()) {
        (false, false) => PLAIN,
        (false, true) => ROLE,
        (true, false) => FENCED,
        (true, true) => FENCED_ROLE,
    };
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await?;
    Ok(())
}

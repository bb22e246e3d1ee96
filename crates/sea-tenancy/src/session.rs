//! Transaction-local settings: every `set_config(.., true)` the library sends is here.
//!
//! `set_config(.., true)` is the function form of `SET LOCAL`: PostgreSQL reverts it at
//! `COMMIT` or `ROLLBACK`, so nothing survives into the next use of a pooled connection,
//! whatever happens to the transaction. Settings are set at the outermost `BEGIN`, never in a
//! savepoint, because `ROLLBACK TO SAVEPOINT` would revert them (django-tenants #1262).
//!
//! Tenant connections need none of this: they log in as the tenant's role with the tenant's
//! search path (see `logins`), and nothing a session sets can change whose rows they see. What
//! remains is the owner's work — migrations run in a tenant's schema, provisioning — and the
//! move fence of tenants placed in databases of their own.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use crate::tenant::Tenant;

/// Points unqualified names of the rest of the transaction at `tenant`'s schema (then
/// `public`): what migrations of the tenant set run under.
pub(crate) async fn search_path<C: ConnectionTrait>(txn: &C, tenant: &Tenant) -> Result<(), DbErr> {
    set_local(txn, "search_path", &search_path_of(tenant)).await
}

/// `"org_1", public`.
pub(crate) fn search_path_of(tenant: &Tenant) -> String {
    format!("{}, public", tenant.quoted_schema())
}

/// Asks the database's move fence whether `tenant` still lives here, and holds the shared lock
/// that keeps a move from starting, for the rest of the transaction (see
/// `placement::catalog::install_fence`).
pub(crate) async fn fence<C: ConnectionTrait>(txn: &C, tenant: &Tenant) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT public.sea_tenancy_resident($1)",
        [tenant.schema().into()],
    ))
    .await?;
    Ok(())
}

/// The current value of setting `name` (`""` when unset).
pub(crate) async fn current_setting<C: ConnectionTrait>(
    db: &C,
    name: &str,
) -> Result<String, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT coalesce(current_setting($1, true), '') AS v",
            [name.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(name.to_owned()))?;
    row.try_get("", "v")
}

/// Sets `name` to `value` until the end of the transaction.
pub(crate) async fn set_local<C: ConnectionTrait>(
    db: &C,
    name: &str,
    value: &str,
) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config($1, $2, true)",
        [name.into(), value.into()],
    ))
    .await?;
    Ok(())
}

/// Sets two settings until the end of the transaction, in one round trip.
pub(crate) async fn set_local_pair<C: ConnectionTrait>(
    db: &C,
    (name_a, value_a): (&str, &str),
    (name_b, value_b): (&str, &str),
) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config($1, $2, true), set_config($3, $4, true)",
        [name_a.into(), value_a.into(), name_b.into(), value_b.into()],
    ))
    .await?;
    Ok(())
}

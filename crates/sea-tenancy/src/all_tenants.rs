//! Ready-made ways to list every tenant, for [`crate::TenancyApp::all_tenants`].

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use crate::tenant::Tenant;

/// Every schema whose name matches the SQL `LIKE` `pattern` (e.g. `org_%`), as a tenant whose
/// key is its schema name, sorted by name. For apps without a managing entity.
pub async fn schemas_like<C: ConnectionTrait>(db: &C, pattern: &str) -> Result<Vec<Tenant>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT nspname::text AS name FROM pg_namespace WHERE nspname LIKE $1 ORDER BY nspname",
            [pattern.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let name: String = row.try_get("", "name")?;
            Tenant::from_schema(name.clone()).map_err(|e| {
                DbErr::Custom(format!("sea-tenancy: schema `{name}` matches `{pattern}` but is not a valid tenant: {e}"))
            })
        })
        .collect()
}

/// Every row of the `#[derive(ManageTenant)]` entity `E`, as tenants: the default answer of
/// `all_tenants` for apps whose tenants are rows (AshPostgres's `Repo.all_tenants/0`).
pub async fn managed<E, C>(db: &C) -> Result<Vec<Tenant>, DbErr>
where
    E: crate::manage::ManageTenant,
    C: ConnectionTrait,
{
    E::find()
        .all(db)
        .await?
        .iter()
        .map(|model| {
            E::tenant_of(model).map_err(|e| {
                DbErr::Custom(format!(
                    "sea-tenancy: a tenant row renders an invalid schema name: {e}"
                ))
            })
        })
        .collect()
}

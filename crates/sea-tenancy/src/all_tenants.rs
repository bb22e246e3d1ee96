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

/// The tenants of the program's one `#[derive(ManageTenant)]` entity: the default of
/// [`crate::TenancyApp::all_tenants`]. With none, or more than one, there is no obvious answer,
/// and the error says what to write instead.
pub async fn of_managing_entity(db: &sea_orm::DatabaseConnection) -> Result<Vec<Tenant>, DbErr> {
    let mut entities: Vec<&crate::registry::RegisteredManageTenant> =
        inventory::iter::<crate::registry::RegisteredManageTenant>().collect();
    entities.sort_by_key(|e| (e.table_name)());
    entities.dedup_by_key(|e| (e.table_name)());
    match entities.as_slice() {
        [one] => (one.all_tenants)(db).await,
        [] => Err(DbErr::Custom(
            "sea-tenancy: this program has no #[derive(ManageTenant)] entity, so it cannot tell which schemas are tenants; implement `TenancyApp::all_tenants`, e.g. `sea_tenancy::all_tenants::schemas_like(db, \"org\\\\_%\").await`".into(),
        )),
        many => Err(DbErr::Custom(format!(
            "sea-tenancy: this program has {} #[derive(ManageTenant)] entities ({}), so the tenants are not obvious; implement `TenancyApp::all_tenants`, e.g. with `sea_tenancy::all_tenants::managed::<E, _>(db)` for each and the lists joined",
            many.len(),
            many.iter()
                .map(|e| format!("`{}` in {}", (e.table_name)(), e.module))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

//! [`TenancyApp`]: what the library needs to know about an application to run its commands.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use sea_orm_migration::MigratorTrait;

use crate::error::TenancyError;
use crate::roles::{LoginSecret, RoleNames, TableAccess};
use crate::tenant::Tenant;

/// An application using sea-tenancy: its two migration sets and how to find every tenant.
///
/// ```ignore
/// struct SaasApp;
///
/// #[async_trait::async_trait]
/// impl sea_tenancy::TenancyApp for SaasApp {
///     type PublicMigrator = migrations::Migrator;
///     type TenantMigrator = tenant_migrations::Migrator;
///
///     async fn all_tenants(&self, db: &DatabaseConnection) -> Result<Vec<Tenant>, DbErr> {
///         sea_tenancy::all_tenants::schemas_like(db, "org_%").await
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait TenancyApp: Send + Sync + 'static {
    /// Migrations of `public`: global and attribute-strategy tables.
    type PublicMigrator: MigratorTrait + 'static;
    /// Migrations run in every tenant schema: schema-strategy tables.
    type TenantMigrator: MigratorTrait + 'static;

    /// The secret every role's password is derived from (see [`crate::roles`]); the app and
    /// its migrations must use the same one. Default: [`LoginSecret::from_env`]
    /// (`SEA_TENANCY_SECRET`).
    fn login_secret(&self) -> Result<LoginSecret, TenancyError> {
        Ok(LoginSecret::from_env()?)
    }

    /// The prefix of every role name (see [`RoleNames`]). Default: `None`, derived from the
    /// name of the app's database, which is unique on its server.
    fn role_namespace(&self) -> Option<&str> {
        None
    }

    /// What tenant connections may do with global table `table` (default: read it). Attribute
    /// tables are always readable and writable, row-level security keeping each tenant to its
    /// rows; tenant schemas are always the tenant's own.
    fn tenant_access(&self, table: &str) -> TableAccess {
        let _ = table;
        TableAccess::Read
    }

    /// Connection URLs of tenant databases from the app's configuration, by name (see
    /// [`crate::placement`]); they win over URLs stored in the catalog, so credentials need not
    /// live in a table. Names must still be added to the catalog.
    fn databases(&self) -> Vec<(String, crate::placement::DatabaseUrl)> {
        Vec::new()
    }

    /// Every tenant the runners must migrate.
    async fn all_tenants(&self, db: &DatabaseConnection) -> Result<Vec<Tenant>, DbErr>;
}

/// The role names of `app` in the database `db` is connected to.
pub(crate) async fn role_names<A: TenancyApp + ?Sized, C: ConnectionTrait>(
    app: &A,
    db: &C,
) -> Result<RoleNames, TenancyError> {
    if let Some(ns) = app.role_namespace() {
        return Ok(RoleNames::new(ns)?);
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_database()::text AS name",
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("current_database()".to_owned()))?;
    Ok(RoleNames::for_database(&row.try_get::<String>("", "name")?))
}

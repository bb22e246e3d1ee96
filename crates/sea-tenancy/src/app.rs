//! [`TenancyApp`]: what the library needs to know about an application to run its commands.

use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

use crate::roles::DEFAULT_APP_ROLE;
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

    /// The role tenant transactions switch to (see [`crate::roles`]); `None` to stay on the
    /// login role.
    fn app_role(&self) -> Option<&str> {
        Some(DEFAULT_APP_ROLE)
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

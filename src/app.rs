//! How sea-tenancy sees the reference app: its migration sets and its tenants.

use sea_orm::{DatabaseConnection, DbErr};
use sea_tenancy::{TenancyApp, Tenant};

use crate::entities::organization;

/// The reference SaaS.
pub struct SaasApp;

#[async_trait::async_trait]
impl TenancyApp for SaasApp {
    type PublicMigrator = migrations::Migrator;
    type TenantMigrator = tenant_migrations::Migrator;

    /// Every organization is a tenant.
    async fn all_tenants(&self, db: &DatabaseConnection) -> Result<Vec<Tenant>, DbErr> {
        sea_tenancy::all_tenants::managed::<organization::Entity, _>(db).await
    }
}

//! What every benchmark shares: the login secret (benchmarks run as release builds, where the
//! reference app requires `SEA_TENANCY_SECRET`) and the reference app wearing it.
#![allow(dead_code)]

use saas_app::SaasApp;
use sea_orm::{DatabaseConnection, DbErr};
use sea_tenancy::roles::{LoginSecret, TableAccess};
use sea_tenancy::{TenancyApp, TenancyError, Tenant};

/// `SEA_TENANCY_SECRET` when set, else a fixed secret for the throwaway benchmark databases.
pub fn secret() -> Result<LoginSecret, TenancyError> {
    match LoginSecret::from_env() {
        Err(sea_tenancy::roles::SecretError::Missing) => Ok(LoginSecret::new(
            "sea-tenancy benchmarks: throwaway databases only",
        )?),
        other => Ok(other?),
    }
}

/// The reference app with [`secret`].
pub struct Saas;

#[async_trait::async_trait]
impl TenancyApp for Saas {
    type PublicMigrator = migrations::Migrator;
    type TenantMigrator = tenant_migrations::Migrator;
    fn login_secret(&self) -> Result<LoginSecret, TenancyError> {
        secret()
    }
    fn tenant_access(&self, table: &str) -> TableAccess {
        SaasApp.tenant_access(table)
    }
    async fn all_tenants(&self, db: &DatabaseConnection) -> Result<Vec<Tenant>, DbErr> {
        SaasApp.all_tenants(db).await
    }
}

//! How sea-tenancy sees the reference app: its migration sets and its tenants.

use sea_orm::{DatabaseConnection, DbErr};
use sea_tenancy::roles::{LoginSecret, TableAccess};
use sea_tenancy::{TenancyApp, TenancyError, Tenant};

use crate::entities::organization;

/// The reference SaaS.
pub struct SaasApp;

/// The secret debug builds fall back to when `SEA_TENANCY_SECRET` is not set, so that
/// `cargo run -- demo` and `cargo test` work on a fresh machine. Release builds refuse to run
/// without the variable.
#[cfg(debug_assertions)]
const DEVELOPMENT_SECRET: &str = "sea-tenancy development secret: never deploy this";

#[async_trait::async_trait]
impl TenancyApp for SaasApp {
    type PublicMigrator = migrations::Migrator;
    type TenantMigrator = tenant_migrations::Migrator;

    /// `SEA_TENANCY_SECRET`; in debug builds a fixed development secret when it is unset.
    fn login_secret(&self) -> Result<LoginSecret, TenancyError> {
        match LoginSecret::from_env() {
            #[cfg(debug_assertions)]
            Err(sea_tenancy::roles::SecretError::Missing) => {
                Ok(LoginSecret::new(DEVELOPMENT_SECRET)?)
            }
            other => Ok(other?),
        }
    }

    /// Tenants read the global tables their data references (`users`), but not
    /// `organizations`: one customer must not list the others.
    fn tenant_access(&self, table: &str) -> TableAccess {
        match table {
            "organizations" => TableAccess::None,
            _ => TableAccess::Read,
        }
    }

    /// Every organization is a tenant. (The default says the same when a program has one
    /// managing entity; the test programs declare more, so the app names it.)
    async fn all_tenants(&self, db: &DatabaseConnection) -> Result<Vec<Tenant>, DbErr> {
        sea_tenancy::all_tenants::managed::<organization::Entity, _>(db).await
    }
}

//! What every benchmark shares: the login secret (benchmarks run as release builds, where the
//! reference app requires `SEA_TENANCY_SECRET`), the reference app wearing it, the reference
//! migrations with other tenants, and a database of many tenants with posts.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use saas_app::SaasApp;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use sea_tenancy::roles::{LoginSecret, TableAccess};
use sea_tenancy::testing::{MigratorsApp, TestDatabase};
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

/// The reference app's public set and tenant set `T` with [`secret`]; no tenants until
/// [`MigratorsApp::with_tenants`].
pub fn app<T>() -> MigratorsApp<migrations::Migrator, T> {
    MigratorsApp::new().with_login_secret(secret)
}

/// `t_1 ..= t_n`, keyed 1 to `n`.
pub fn numbered(n: usize) -> impl Iterator<Item = Tenant> {
    (1..=n).map(|i| Tenant::new(format!("t_{i}"), i).unwrap())
}

/// A fresh database with the reference app's public set, users and `n` migrated tenants
/// `t_1 ..= t_n` holding posts: what the benchmarks of queries across many tenants start from.
pub struct Tenants {
    /// The app, listing the tenants.
    pub app: MigratorsApp<migrations::Migrator, tenant_migrations::Migrator>,
    /// The owner's pool.
    pub owner: DatabaseConnection,
    /// How long migrating the tenants and inserting their posts took.
    pub took: Duration,
    /// Last: dropped after the pool.
    pub database: TestDatabase,
}

/// [`Tenants`]: the owner's pool has `owner_pool` connections; `users` are the emails of the
/// users inserted (ids 1, 2, ...); each tenant's posts come from `posts`, an `INSERT` into
/// `%I.posts` (`%I` is the tenant's schema; quotes doubled, it is inside a string literal).
pub async fn tenants(n: usize, owner_pool: u32, users: &[&str], posts: &str) -> Tenants {
    let database = TestDatabase::create().await;
    let owner = database.connect_with_pool_size(owner_pool).await;
    let app = app().with_tenants(numbered(n));
    sea_tenancy::migrate::migrate_public(&app, &owner)
        .await
        .unwrap();
    let users: Vec<String> = users.iter().map(|email| format!("('{email}')")).collect();
    owner
        .execute_unprepared(&format!(
            "INSERT INTO users (email) VALUES {}",
            users.join(", ")
        ))
        .await
        .unwrap();
    let started = Instant::now();
    let report = sea_tenancy::migrate::migrate_tenants(&app, &owner, app.tenants(), 4, |_| {})
        .await
        .unwrap();
    assert_eq!(report.failures().count(), 0);
    owner
        .execute_unprepared(&format!(
            "DO $$ BEGIN FOR i IN 1..{n} LOOP
               EXECUTE format('{posts}', 't_' || i);
             END LOOP; END $$"
        ))
        .await
        .unwrap();
    Tenants {
        app,
        owner,
        took: started.elapsed(),
        database,
    }
}

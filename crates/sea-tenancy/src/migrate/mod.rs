//! Runners for the two migration sets: `public` once, then the tenant set in every tenant.
//!
//! Each tenant migrates in its own transaction, under a per-tenant advisory lock: a tenant
//! that fails is rolled back and reported while the others go on, two runners at once never
//! apply a migration twice, and running again resumes where the last run stopped.

use futures::StreamExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};
use sea_orm_migration::MigratorTrait;

use crate::app::TenancyApp;
use crate::manage::migrate_tenant_in;
use crate::roles::install_app_role;
use crate::session;
use crate::tenant::Tenant;

/// What migrating one tenant did.
#[derive(Debug)]
pub struct TenantOutcome {
    /// The tenant.
    pub tenant: Tenant,
    /// How many migrations were applied, or why the tenant was rolled back.
    pub result: Result<usize, DbErr>,
}

/// Applies the public set, then (re-)grants the app role on `public`.
pub async fn migrate_public<A: TenancyApp>(app: &A, db: &DatabaseConnection) -> Result<(), DbErr> {
    // One public migrator at a time across processes.
    let txn = db.begin().await?;
    lock(&txn, "public").await?;
    A::PublicMigrator::up(&txn, None).await?;
    if let Some(role) = app.app_role() {
        install_app_role(&txn, role).await?;
    }
    txn.commit().await
}

/// Applies the tenant set in each of `tenants`, `jobs` tenants at a time, creating a tenant's
/// schema if it does not exist yet. Outcomes come back in the order of `tenants`.
pub async fn migrate_tenants<A: TenancyApp>(
    app: &A,
    db: &DatabaseConnection,
    tenants: &[Tenant],
    jobs: usize,
) -> Vec<TenantOutcome> {
    let mut outcomes: Vec<(usize, TenantOutcome)> =
        futures::stream::iter(tenants.iter().enumerate())
            .map(|(i, tenant)| async move {
                let result = migrate_tenant::<A>(db, tenant, app.app_role()).await;
                (
                    i,
                    TenantOutcome {
                        tenant: tenant.clone(),
                        result,
                    },
                )
            })
            .buffer_unordered(jobs.max(1))
            .collect()
            .await;
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

/// Migrates one tenant in a transaction of its own; returns how many migrations it applied.
pub async fn migrate_tenant<A: TenancyApp>(
    db: &DatabaseConnection,
    tenant: &Tenant,
    app_role: Option<&str>,
) -> Result<usize, DbErr> {
    let txn = db.begin().await?;
    lock(&txn, tenant.schema()).await?;
    txn.execute_unprepared(&format!(
        "CREATE SCHEMA IF NOT EXISTS {}",
        tenant.quoted_schema()
    ))
    .await?;
    session::enter(&txn, tenant, None).await?;
    let pending = A::TenantMigrator::get_pending_migrations(&txn).await?.len();
    if pending > 0 {
        migrate_tenant_in::<A::TenantMigrator>(&txn, tenant, app_role).await?;
    }
    txn.commit().await?;
    Ok(pending)
}

/// A transaction-level advisory lock on `name`: released by COMMIT or ROLLBACK, never leaked.
pub(crate) async fn lock<C: ConnectionTrait>(txn: &C, name: &str) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtextextended('sea_tenancy:' || $1, 0))",
        [name.into()],
    ))
    .await?;
    Ok(())
}

//! Runners for the two migration sets: `public` once, then the tenant set in every tenant.
//!
//! - Who is behind is asked once, for all tenants, in one query ([`status`]); tenants already
//!   current cost nothing more.
//! - Each tenant migrates in its own transaction, under a per-tenant advisory lock: a tenant
//!   that fails is rolled back and reported while the others go on, two runners at once never
//!   apply a migration twice, a runner killed mid-way leaves every tenant at its old or its new
//!   version, and running again resumes.

pub mod mirror;
pub mod rollback;
pub(crate) mod script;
pub mod status;

use std::collections::HashSet;

use futures::StreamExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};
use sea_orm_migration::MigratorTrait;

use crate::app::TenancyApp;
use crate::manage::{apply_tenant_set, replay};
use crate::roles::install_app_role;
use crate::tenant::Tenant;
pub use status::{State, TenantStatus, status};

/// What migrating one tenant did.
#[derive(Debug)]
pub struct TenantOutcome {
    /// The tenant.
    pub tenant: Tenant,
    /// How many migrations were applied, or why the tenant was left unchanged.
    pub result: Result<usize, DbErr>,
}

/// The result of a run over many tenants.
#[derive(Debug, Default)]
pub struct Report {
    /// Tenants that were behind (or new), with what happened to each, in input order.
    pub outcomes: Vec<TenantOutcome>,
    /// Tenants that were already current and were not touched.
    pub already_current: usize,
}

impl Report {
    /// The tenants that failed.
    pub fn failures(&self) -> impl Iterator<Item = (&Tenant, &DbErr)> {
        self.outcomes
            .iter()
            .filter_map(|o| o.result.as_ref().err().map(|e| (&o.tenant, e)))
    }
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

/// Brings every tenant of `tenants` up to date with the tenant set, `jobs` at a time. Calls
/// `on_done` as each tenant finishes (for progress display).
pub async fn migrate_tenants<A: TenancyApp>(
    app: &A,
    db: &DatabaseConnection,
    tenants: &[Tenant],
    jobs: usize,
    on_done: impl Fn(&TenantOutcome),
) -> Result<Report, DbErr> {
    let statuses = status::<A::TenantMigrator, _>(db, tenants).await?;
    let mut report = Report::default();
    let mut work = Vec::new();
    for (i, st) in statuses.into_iter().enumerate() {
        if let Some(blocker) = st.blocker() {
            let outcome = TenantOutcome {
                tenant: st.tenant,
                result: Err(DbErr::Custom(blocker)),
            };
            on_done(&outcome);
            report.outcomes.push(outcome);
        } else if st.state.is_migratable() || (st.tracked && !st.mirrored) {
            work.push((i, st.tenant));
        } else {
            report.already_current += 1;
        }
    }
    let mut done: Vec<(usize, TenantOutcome)> = futures::stream::iter(work)
        .map(|(i, tenant)| async move {
            let result = migrate_tenant::<A>(db, &tenant, app.app_role()).await;
            (i, TenantOutcome { tenant, result })
        })
        .buffer_unordered(jobs.max(1))
        .inspect(|(_, outcome)| on_done(outcome))
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    report.outcomes.extend(done.into_iter().map(|(_, o)| o));
    Ok(report)
}

/// Migrates one tenant in a transaction of its own, creating its schema if needed; returns how
/// many migrations it applied.
pub async fn migrate_tenant<A: TenancyApp>(
    db: &DatabaseConnection,
    tenant: &Tenant,
    app_role: Option<&str>,
) -> Result<usize, DbErr> {
    let txn = db.begin().await?;
    lock(&txn, tenant.schema()).await?;
    // Read under the lock: a concurrent runner's work is visible now.
    let before = status::<A::TenantMigrator, _>(&txn, std::slice::from_ref(tenant))
        .await?
        .remove(0);
    if let Some(blocker) = before.blocker() {
        return Err(DbErr::Custom(blocker));
    }
    if before.state == State::MissingSchema {
        txn.execute_unprepared(&format!("CREATE SCHEMA {}", tenant.quoted_schema()))
            .await?;
    }
    // A tenant's first migration run also grants it to the app role; default privileges
    // cover the tables later migrations create.
    let fresh = !before.tracked;
    let grant_to = if fresh { app_role } else { None };
    match script::recorded::<A::TenantMigrator>().await {
        // The pending migrations only send fixed statements: one round trip for all of them.
        Some(recorded) => {
            let applied = if fresh {
                HashSet::new()
            } else {
                applied_versions(&txn, tenant).await?
            };
            replay(&txn, tenant, &recorded.script(&applied), grant_to).await?;
        }
        None => apply_tenant_set::<A::TenantMigrator>(&txn, tenant, grant_to, fresh).await?,
    }
    txn.commit().await?;
    Ok(before.pending)
}

/// The versions recorded in `tenant`'s tracking table.
async fn applied_versions<C: ConnectionTrait>(
    txn: &C,
    tenant: &Tenant,
) -> Result<HashSet<String>, DbErr> {
    let rows = txn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT version FROM {}.seaql_migrations",
                tenant.quoted_schema()
            ),
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "version"))
        .collect()
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

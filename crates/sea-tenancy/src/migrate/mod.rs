//! Runners for the two migration sets: `public` once, then the tenant set in every tenant.
//!
//! - Who is behind is asked once, for all tenants, in one query ([`status`]); tenants already
//!   current cost nothing more.
//! - Each tenant migrates in its own transaction, under a per-tenant advisory lock: a tenant
//!   that fails is rolled back and reported while the others go on, two runners at once never
//!   apply a migration twice, a runner killed mid-way leaves every tenant at its old or its new
//!   version, and running again resumes.

mod connections;
pub mod mirror;
pub mod orphans;
pub(crate) mod outside;
mod pipelined;
pub mod public;
pub mod rollback;
pub(crate) mod script;
pub mod status;

use std::collections::HashSet;

use futures::StreamExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};
use sea_orm_migration::MigratorTrait;

use crate::app::Setup;
use crate::app::TenancyApp;
use crate::error::TenancyError;
use crate::manage::apply_tenant_set;
use crate::registry::Registry;
use crate::roles::{install, tenant as role};
use crate::tenant::Tenant;
pub use orphans::orphans;
pub use public::{PublicStatus, public_status, rollback_public};
pub use status::{State, TenantStatus, status, versions};

/// What migrating one tenant did.
#[derive(Debug)]
pub struct TenantOutcome {
    /// The tenant.
    pub tenant: Tenant,
    /// How many migrations were applied, or why the tenant was left unchanged.
    pub result: Result<usize, DbErr>,
    /// Of the applied migrations, how many ran outside a transaction
    /// (`use_transaction() == Some(false)`; see [`migrate_tenant`]).
    pub outside_transaction: usize,
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

/// Applies the public set, then installs the app's roles and (re-)grants what they may do in
/// `public` (see [`crate::roles::install`]), in one transaction. Returns the names of the
/// migrations it applied (empty when the set was current).
pub async fn migrate_public<A: TenancyApp>(
    app: &A,
    db: &DatabaseConnection,
) -> Result<Vec<String>, TenancyError> {
    let roles = Setup::of(app, db).await?;
    migrate_public_with(app, db, &roles).await
}

/// [`migrate_public`] with the role setup given (a tenant database uses the default
/// database's names).
pub(crate) async fn migrate_public_with<A: TenancyApp>(
    app: &A,
    db: &DatabaseConnection,
    roles: &Setup,
) -> Result<Vec<String>, TenancyError> {
    // One public migrator at a time across processes.
    let txn = db.begin().await?;
    lock(&txn, "public").await?;
    if roles.citus {
        // Citus: tables distributed in this transaction get foreign keys after; that needs
        // one connection per node for the whole transaction.
        crate::session::set_local(&txn, "citus.multi_shard_modify_mode", "sequential").await?;
    }
    // Read under the lock: what this run applies, not what a concurrent one did.
    let applied: Vec<String> = A::PublicMigrator::get_pending_migrations(&txn)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    A::PublicMigrator::up(&txn, None).await?;
    let registry = Registry::global()?;
    install(&txn, roles, &registry, |t| app.tenant_access(t)).await?;
    txn.commit().await?;
    Ok(applied)
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
    let roles = Setup::of(app, db).await.map_err(DbErr::from)?;
    migrate_tenants_with(app, db, &roles, tenants, jobs, on_done).await
}

/// [`migrate_tenants`] with the role setup given.
pub(crate) async fn migrate_tenants_with<A: TenancyApp>(
    app: &A,
    db: &DatabaseConnection,
    roles: &Setup,
    tenants: &[Tenant],
    jobs: usize,
    on_done: impl Fn(&TenantOutcome),
) -> Result<Report, DbErr> {
    let _ = app;
    let statuses = status::<A::TenantMigrator, _>(db, tenants).await?;
    let mut report = Report::default();
    let mut work = Vec::new();
    for (i, st) in statuses.into_iter().enumerate() {
        if let Some(blocker) = st.blocker() {
            let outcome = TenantOutcome {
                tenant: st.tenant,
                result: Err(DbErr::Custom(blocker)),
                outside_transaction: 0,
            };
            on_done(&outcome);
            report.outcomes.push(outcome);
        } else if st.state.is_migratable() || (st.tracked && !st.mirrored) {
            work.push((i, st));
        } else {
            report.already_current += 1;
        }
    }
    // The run's own connections, replaced every hundred tenants (see `connections`).
    let run = connections::RunConnections::of(db);
    let run = run.as_ref();
    let mut done: Vec<(usize, TenantOutcome)> = futures::stream::iter(work)
        .map(|(i, st)| async move {
            let known = match run {
                Some(run) => pipelined::migrate_known::<A::TenantMigrator>(run, &st, roles).await,
                None => None,
            };
            let tenant = st.tenant;
            let done = match known {
                Some(done) => done.map(|applied| (applied, 0)),
                None => migrate_or_create::<A>(db, &tenant, roles, false).await,
            };
            let (result, outside_transaction) = match done {
                Ok((applied, outside)) => (Ok(applied), outside),
                Err(e) => (Err(e), 0),
            };
            (
                i,
                TenantOutcome {
                    tenant,
                    result,
                    outside_transaction,
                },
            )
        })
        .buffer_unordered(jobs.max(1))
        .inspect(|(_, outcome)| on_done(outcome))
        .collect()
        .await;
    if let Some(run) = run {
        run.close().await;
    }
    done.sort_by_key(|(i, _)| *i);
    report.outcomes.extend(done.into_iter().map(|(_, o)| o));
    Ok(report)
}

/// Migrates one tenant in a transaction of its own, creating its schema (and role) if needed;
/// returns how many migrations it applied.
///
/// When a pending migration must run outside a transaction (`use_transaction() ==
/// Some(false)`, e.g. `CREATE INDEX CONCURRENTLY`), the tenant is migrated on a connection of
/// its own under the tenant's lock, each migration committing on its own; a failure names the
/// migration, and what ran before it stays applied (see `migrate/outside.rs`).
pub async fn migrate_tenant<A: TenancyApp>(
    db: &DatabaseConnection,
    tenant: &Tenant,
    roles: &Setup,
) -> Result<usize, DbErr> {
    Ok(migrate_or_create::<A>(db, tenant, roles, false).await?.0)
}

/// Creates `tenant` — schema, role, every tenant migration — in one transaction: a schema that
/// exists already is [`crate::TenancyError::TenantExists`], a failing migration leaves nothing.
/// Returns how many migrations it applied.
pub async fn create_tenant<A: TenancyApp>(
    db: &DatabaseConnection,
    tenant: &Tenant,
    roles: &Setup,
) -> Result<usize, DbErr> {
    Ok(migrate_or_create::<A>(db, tenant, roles, true).await?.0)
}

/// Migrations applied, and how many of them outside a transaction.
async fn migrate_or_create<A: TenancyApp>(
    db: &DatabaseConnection,
    tenant: &Tenant,
    roles: &Setup,
    create: bool,
) -> Result<(usize, usize), DbErr> {
    if let Some(done) = pipelined::migrate::<A::TenantMigrator>(db, tenant, roles, create).await {
        return done.map(|applied| (applied, 0));
    }
    let outside = outside::names::<A::TenantMigrator>();
    let txn = if outside.is_empty() {
        let txn = db.begin().await?;
        lock(&txn, tenant.schema()).await?;
        txn
    } else {
        outside::locked_transaction(db, tenant.schema()).await?
    };
    if create {
        crate::manage::create_schema(&txn, tenant, roles.citus).await?;
    }
    // Read under the lock: a concurrent runner's work is visible now.
    let before = status::<A::TenantMigrator, _>(&txn, std::slice::from_ref(tenant))
        .await?
        .remove(0);
    if let Some(blocker) = before.blocker() {
        return Err(DbErr::Custom(blocker));
    }
    if !outside.is_empty()
        && (!before.tracked || outside::pending_in(&txn, tenant, &outside).await?)
    {
        txn.rollback().await?;
        let done = outside::migrate::<A::TenantMigrator>(db, tenant, roles, create).await?;
        return Ok((done.applied, done.outside));
    }
    if before.state == State::MissingSchema {
        crate::manage::create_schema(&txn, tenant, roles.citus).await?;
    }
    // A tenant's first migration run also gives it its role; default privileges cover the
    // tables later migrations create.
    let fresh = !before.tracked;
    let role_sql = if fresh {
        role::provision_sql(&roles.names, &roles.secret, tenant)
    } else {
        String::new()
    };
    apply_tenant_set::<A::TenantMigrator>(&txn, tenant, &role_sql, fresh, roles.citus).await?;
    txn.commit().await?;
    Ok((before.pending, 0))
}

/// Whether `tenant`'s schema has its tracking table.
pub(crate) async fn is_tracked<C: ConnectionTrait>(
    txn: &C,
    tenant: &Tenant,
) -> Result<bool, DbErr> {
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT to_regclass(format('%I.seaql_migrations', $1::text)) IS NOT NULL AS tracked",
            [tenant.schema().into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("no row from a constant query".into()))?;
    row.try_get("", "tracked")
}

/// The versions recorded in `tenant`'s tracking table.
pub(crate) async fn applied_versions<C: ConnectionTrait>(
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
        lock_sql("$1"),
        [name.into()],
    ))
    .await?;
    Ok(())
}

/// The statement taking [`lock`]'s lock on the name SQL expression `name` evaluates to (a
/// placeholder, or a quoted literal where the statement travels in a batch): every runner must
/// compute the same key.
pub(crate) fn lock_sql(name: &str) -> String {
    format!("SELECT pg_advisory_xact_lock(hashtextextended('sea_tenancy:' || {name}, 0))")
}

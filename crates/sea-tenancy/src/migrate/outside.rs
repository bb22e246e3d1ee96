//! Tenant migrations that must not run in a transaction (`use_transaction() == Some(false)`,
//! e.g. `CREATE INDEX CONCURRENTLY`).
//!
//! A tenant with such a migration pending is migrated on a connection of its own, holding the
//! tenant's lock for the session (it conflicts with the transaction-level lock every other
//! runner and `provision` take, so nobody migrates the tenant meanwhile) and with the tenant's
//! search path set for the session. Each migration then commits on its own, as
//! sea-orm-migration runs them: the transactional ones in a transaction each, the others bare.
//! A failure stops the tenant there and names the migration; what ran before it stays applied
//! and recorded, so running `migrate` again resumes.

use std::collections::HashSet;
use std::time::Duration;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqlxPostgresConnector, Statement, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use super::status::{State, status};
use crate::app::Setup;
use crate::migrate::mirror;
use crate::roles::tenant as role;
use crate::session;
use crate::tenant::Tenant;

/// The names of `M`'s migrations that run outside a transaction.
pub(crate) fn names<M: MigratorTrait>() -> Vec<String> {
    M::migrations()
        .iter()
        .filter(|m| m.use_transaction() == Some(false))
        .map(|m| m.name().to_owned())
        .collect()
}

/// The position and name of `M`'s first migration that runs outside a transaction.
pub(crate) fn first<M: MigratorTrait>() -> Option<(usize, String)> {
    M::migrations()
        .iter()
        .position(|m| m.use_transaction() == Some(false))
        .map(|i| (i, M::migrations()[i].name().to_owned()))
}

/// What migrating one tenant this way did.
pub(crate) struct Applied {
    /// Migrations applied.
    pub applied: usize,
    /// Of those, how many ran outside a transaction.
    pub outside: usize,
}

/// Brings `tenant` up to date with `M` on a connection of its own (see the module), creating
/// its schema and role first if it has none. `create`: the schema must not exist yet.
pub(crate) async fn migrate<M: MigratorTrait>(
    db: &DatabaseConnection,
    tenant: &Tenant,
    roles: &Setup,
    create: bool,
) -> Result<Applied, DbErr> {
    // One physical connection: the session lock and search path hold for every statement.
    let options = (*db.get_postgres_connection_pool().connect_options()).clone();
    let pool = sea_orm::sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .connect_with(options)
        .await
        .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())))?;
    let conn = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
    let result = migrate_on::<M>(&conn, tenant, roles, create).await;
    // Closing the connection ends its session: the lock and the search path go with it.
    let _ = conn.close().await;
    result
}

async fn migrate_on<M: MigratorTrait>(
    conn: &DatabaseConnection,
    tenant: &Tenant,
    roles: &Setup,
    create: bool,
) -> Result<Applied, DbErr> {
    // Polled, not waited for: a statement waiting for the lock holds a snapshot, and another
    // runner's `CREATE INDEX CONCURRENTLY` waits for every older snapshot — a deadlock.
    let mut pause = Duration::from_millis(10);
    while !try_lock(conn, tenant.schema(), "pg_try_advisory_lock").await? {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
    // Schema, role and tracking table first, in one transaction: the tenant exists (and is
    // tracked) before any migration runs, so a failure below leaves a tenant `migrate` resumes.
    let before = status::<M, _>(conn, std::slice::from_ref(tenant))
        .await?
        .remove(0);
    if let Some(blocker) = before.blocker() {
        return Err(DbErr::Custom(blocker));
    }
    let txn = conn.begin().await?;
    if create || before.state == State::MissingSchema {
        crate::manage::create_schema(&txn, tenant, roles.citus)
            .await
            .map_err(DbErr::from)?;
    }
    if !before.tracked {
        txn.execute_unprepared(&role::provision_sql(&roles.names, &roles.secret, tenant))
            .await?;
    }
    session::search_path(&txn, tenant).await?;
    M::install(&txn).await?;
    txn.commit().await?;

    conn.execute_unprepared(&format!(
        "SET search_path TO {}",
        session::search_path_of(tenant)
    ))
    .await?;
    let bare_ones = names::<M>();
    let pending: Vec<(String, bool)> = M::get_pending_migrations(conn)
        .await?
        .iter()
        .map(|m| (m.name().to_owned(), bare_ones.iter().any(|n| n == m.name())))
        .collect();
    let mut done = Applied {
        applied: 0,
        outside: 0,
    };
    let mut failure = None;
    for (name, bare) in &pending {
        if let Err(e) = M::up(conn, Some(1)).await {
            let left = if *bare {
                " It ran outside a transaction, so what it did before failing stays (an index \
                 `CREATE INDEX CONCURRENTLY` left INVALID, say: drop it before retrying)."
            } else {
                " It was rolled back."
            };
            failure = Some(DbErr::Custom(format!(
                "migration `{name}` failed in `{tenant}`: {e}.{left} The {} migration(s) before \
                 it are applied; `migrate` resumes from it.",
                done.applied
            )));
            break;
        }
        done.applied += 1;
        done.outside += usize::from(*bare);
    }
    // The status mirror follows what is recorded, also after a failure.
    let txn = conn.begin().await?;
    txn.execute_unprepared(&mirror::sync_sql(tenant, roles.citus))
        .await?;
    txn.commit().await?;
    match failure {
        Some(e) => Err(e),
        None => Ok(done),
    }
}

/// Takes the tenant's lock with `function` (`pg_try_advisory_lock` or
/// `pg_try_advisory_xact_lock`) if it is free.
async fn try_lock<C: ConnectionTrait>(db: &C, name: &str, function: &str) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT {function}(hashtextextended('sea_tenancy:' || $1, 0)) AS locked"),
            [name.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("no row from a lock".into()))?;
    row.try_get("", "locked")
}

/// A transaction holding `name`'s tenant lock, for a tenant set with migrations that run
/// outside a transaction: the lock is polled between transactions, never waited for inside
/// one, so that no snapshot is held while another runner's `CREATE INDEX CONCURRENTLY` waits
/// for older snapshots to go.
pub(crate) async fn locked_transaction(
    db: &DatabaseConnection,
    name: &str,
) -> Result<DatabaseTransaction, DbErr> {
    let mut pause = Duration::from_millis(10);
    loop {
        let txn = db.begin().await?;
        if try_lock(&txn, name, "pg_try_advisory_xact_lock").await? {
            return Ok(txn);
        }
        txn.rollback().await?;
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// Whether one of `outside` is not among `tenant`'s applied versions.
pub(crate) async fn pending_in<C: ConnectionTrait>(
    txn: &C,
    tenant: &Tenant,
    outside: &[String],
) -> Result<bool, DbErr> {
    let applied: HashSet<String> = super::applied_versions(txn, tenant).await?;
    Ok(outside.iter().any(|n| !applied.contains(n)))
}

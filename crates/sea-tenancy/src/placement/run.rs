//! `migrate`, `status` and `rollback` over every database that holds tenants.
//!
//! Tenants are split by database with one catalog query; each database is then handled like a
//! database of its own (its public set first, then its tenants, in parallel). A database that
//! cannot be reached is reported with its tenants and the others go on.

use std::future::Future;

use sea_orm::DatabaseConnection;

use super::Placement;
use super::provision::prepare_database;
use crate::app::Setup;
use crate::app::TenancyApp;
use crate::migrate::rollback::rollback_tenant;
use crate::migrate::{Report, TenantOutcome, TenantStatus, migrate_tenants_with, status};
use crate::tenant::Tenant;

/// The tenants of one database, with what happened to them.
#[derive(Debug)]
pub struct PerDatabase<T> {
    /// The database name; `None` for the default database.
    pub database: Option<String>,
    /// Its tenants, in input order.
    pub tenants: Vec<Tenant>,
    /// The result, or why nothing could be done in this database (unreachable, public set
    /// failed); the message never contains a password.
    pub result: Result<T, String>,
}

impl<T> PerDatabase<T> {
    /// The database name, `default` for the default database.
    pub fn name(&self) -> &str {
        self.database.as_deref().unwrap_or(super::DEFAULT_DATABASE)
    }
}

/// Runs `work` once per database holding some of `tenants` (all in `default` without a
/// placement), one database after the other; a database that cannot be reached gets its error.
async fn each_database<T, F, Fut>(
    default: &DatabaseConnection,
    placement: Option<&Placement>,
    tenants: &[Tenant],
    work: F,
) -> Result<Vec<PerDatabase<T>>, String>
where
    F: Fn(DatabaseConnection, bool, Vec<Tenant>) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let groups = match placement {
        Some(p) => p.group(tenants).await.map_err(|e| e.to_string())?,
        None => vec![(None, tenants.to_vec())],
    };
    let mut out = Vec::with_capacity(groups.len());
    for (database, tenants) in groups {
        if tenants.is_empty() {
            continue;
        }
        let db = match (placement, database.as_deref()) {
            (Some(p), Some(name)) => p.connection(Some(name)).await.map_err(|e| e.to_string()),
            _ => Ok(default.clone()),
        };
        let result = match db {
            Ok(db) => work(db, database.is_none(), tenants.clone()).await,
            Err(e) => Err(e),
        };
        out.push(PerDatabase {
            database,
            tenants,
            result,
        });
    }
    Ok(out)
}

/// Brings `tenants` up to date, database by database, `jobs` tenants at a time per database.
/// With `public`, each database other than the default first gets the public set and the move
/// fence (the default database's public set is the caller's to run, before this).
pub async fn migrate<A: TenancyApp>(
    app: &A,
    default: &DatabaseConnection,
    placement: Option<&Placement>,
    tenants: &[Tenant],
    jobs: usize,
    public: bool,
    on_done: impl Fn(&TenantOutcome),
) -> Result<Vec<PerDatabase<Report>>, String> {
    let on_done = &on_done;
    // Every database names roles as the default one does.
    let roles = &Setup::of(app, default).await.map_err(|e| e.to_string())?;
    each_database(
        default,
        placement,
        tenants,
        |db, is_default, tenants| async move {
            if public && !is_default {
                prepare_database(app, &db, roles)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            migrate_tenants_with(app, &db, roles, &tenants, jobs, on_done)
                .await
                .map_err(|e| format!("cannot read tenant migration state: {e}"))
        },
    )
    .await
}

/// The migration state of every tenant, database by database.
pub async fn status_all<A: TenancyApp>(
    default: &DatabaseConnection,
    placement: Option<&Placement>,
    tenants: &[Tenant],
) -> Result<Vec<PerDatabase<Vec<TenantStatus>>>, String> {
    each_database(default, placement, tenants, |db, _, tenants| async move {
        status::<A::TenantMigrator, _>(&db, &tenants)
            .await
            .map_err(|e| format!("cannot read tenant migration state: {e}"))
    })
    .await
}

/// Undoes the last `steps` tenant migrations of each tenant, in its own database.
pub async fn rollback<A: TenancyApp>(
    default: &DatabaseConnection,
    placement: Option<&Placement>,
    tenants: &[Tenant],
    steps: u32,
) -> Result<Vec<PerDatabase<Vec<TenantOutcome>>>, String> {
    each_database(default, placement, tenants, |db, _, tenants| async move {
        let mut outcomes = Vec::with_capacity(tenants.len());
        for tenant in tenants {
            let result = rollback_tenant::<A::TenantMigrator>(&db, &tenant, steps).await;
            outcomes.push(TenantOutcome {
                tenant,
                result,
                outside_transaction: 0,
            });
        }
        Ok(outcomes)
    })
    .await
}

//! Moving a tenant to another database (`tenants move T --to <database>`), with nothing lost.
//!
//! 1. Both sides are checked: the tenant is current in its database, the target has no schema
//!    of that name, the target has the public set and the fence, and the tenant's schema is
//!    created and migrated there (empty, and not yet routed to).
//! 2. In the source, one transaction takes the tenant's advisory lock and
//!    `LOCK TABLE .. IN EXCLUSIVE MODE NOWAIT` on its tables: a tenant being written is refused
//!    at once, and from then on writes wait while reads go on.
//! 3. In the target, one transaction receives the rows with binary `COPY` — the global rows the
//!    tenant's data references first, then its tables parents-first — sets its sequences, and
//!    compares the row count of every table with the source's. Any difference rolls it back.
//! 4. The source is fenced — its schema renamed (or dropped with `drop_source`), the tenant
//!    recorded as moved so a process still routing it there gets an error, not a silent write —
//!    and the catalog switches to the target: in one transaction when the source is the default
//!    database, else fence first, so a failure in between leaves the tenant refused everywhere
//!    (never written in two places) until `databases assign` finishes the move.
//!
//! A failure before step 4 leaves the source untouched and removes the copy. Attribute tables
//! are shared, so their locks hold every tenant's writes to them for the copy's duration.
//!
//! One module per phase: this one checks both sides, prepares the target and switches the
//! catalog ([`move_tenant`]); `plan` lists, locks and orders what moves (step 2); `copy`
//! copies and verifies it (step 3); `fence` fences the source (step 4) and cleans up after a
//! failure.

mod copy;
mod fence;
mod plan;

use sea_orm::DatabaseConnection;
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{self, AssertSqlSafe, Postgres};

use super::provision::prepare_database;
use super::{DEFAULT_DATABASE, Placement, PlacementError, catalog};
use crate::app::Setup;
use crate::app::TenancyApp;
use crate::migrate::{State, migrate_tenant, status};
use crate::registry::Registry;
use crate::roles::RoleNames;
use crate::tenant::Tenant;

use fence::fenced_name;
pub(super) use fence::remove_tenant;
use plan::Item;

/// The move's own setting: the tenant key its statements filter attribute rows by.
const MOVE_KEY: &str = "sea_tenancy.moving";

/// What a move did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveReport {
    /// The database the tenant left.
    pub from: String,
    /// The database it lives in now.
    pub to: String,
    /// Rows copied per table (`schema.table`), verified against the source.
    pub tables: Vec<(String, u64)>,
    /// Global rows copied because the tenant's data references them (`public.table`).
    pub referenced: Vec<(String, u64)>,
    /// What became of the source copy.
    pub source: SourceFate,
}

/// What became of the tenant's data in the database it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFate {
    /// Kept: the schema renamed to this name, attribute rows left in place (unreachable through
    /// sea-tenancy: the catalog routes the tenant elsewhere and the fence refuses it there).
    Kept {
        /// The schema's new name.
        fenced_schema: String,
    },
    /// Dropped (`--drop-source`): the schema and the tenant's attribute rows.
    Dropped,
}

/// Why a move did not happen (or did not finish cleanly).
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// The tenant already lives there.
    #[error(
        "sea-tenancy: tenant `{tenant}` already lives in database `{database}`; nothing to move"
    )]
    SameDatabase {
        /// The tenant.
        tenant: String,
        /// Its database.
        database: String,
    },
    /// The tenant's schema is not current (or missing) in its database.
    #[error(
        "sea-tenancy: tenant `{tenant}` is `{state}` in database `{database}`; only a tenant whose migrations are all applied can move (run `migrate --tenant {tenant}` first); nothing was moved"
    )]
    NotCurrent {
        /// The tenant.
        tenant: String,
        /// Its database.
        database: String,
        /// Its state.
        state: String,
    },
    /// The target already has something of this tenant.
    #[error(
        "sea-tenancy: database `{database}` already holds {what} of tenant `{tenant}`; remove it first; nothing was moved"
    )]
    TargetOccupied {
        /// The tenant.
        tenant: String,
        /// The target database.
        database: String,
        /// What is in the way.
        what: String,
    },
    /// Another transaction is writing the tenant's tables.
    #[error(
        "sea-tenancy: tenant `{tenant}` is being written right now ({detail}); nothing was moved: retry when it is idle"
    )]
    Busy {
        /// The tenant.
        tenant: String,
        /// What PostgreSQL said.
        detail: String,
    },
    /// A table's row count differs after the copy.
    #[error(
        "sea-tenancy: `{table}` has {source_rows} rows of tenant `{tenant}` in `{from}` but {target_rows} after copying to `{to}`; nothing was moved"
    )]
    CountMismatch {
        /// The tenant.
        tenant: String,
        /// The table.
        table: String,
        /// The source database.
        from: String,
        /// The target database.
        to: String,
        /// Rows in the source.
        source_rows: i64,
        /// Rows in the target.
        target_rows: i64,
    },
    /// The copy is complete and verified and the source fenced, but the catalog switch failed:
    /// the tenant is refused everywhere until `databases assign` finishes the move.
    #[error(
        "sea-tenancy: tenant `{tenant}` was copied to `{to}` and verified, and its old copy in `{from}` is fenced, but switching the catalog failed: {reason}; it is unreachable until you finish the move with `databases assign {tenant} {to}`"
    )]
    SwitchFailed {
        /// The tenant.
        tenant: String,
        /// The source database.
        from: String,
        /// The target database.
        to: String,
        /// What failed.
        reason: String,
    },
    /// Something else failed; nothing was moved.
    #[error("sea-tenancy: moving tenant `{tenant}` failed, nothing was moved: {reason}")]
    Failed {
        /// The tenant.
        tenant: String,
        /// What failed.
        reason: String,
    },
    /// The catalog or a database could not be used; nothing was moved.
    #[error(transparent)]
    Placement(#[from] PlacementError),
}

type Conn = PoolConnection<Postgres>;

/// Moves `tenant` to database `to` (`default` for the default database). See the module docs
/// for the steps and guarantees.
pub async fn move_tenant<A: TenancyApp>(
    app: &A,
    placement: &Placement,
    tenant: &Tenant,
    to: &str,
    drop_source: bool,
) -> Result<MoveReport, MoveError> {
    catalog::validate_database_name(to)?;
    let failed = |reason: String| MoveError::Failed {
        tenant: tenant.schema().to_owned(),
        reason,
    };
    placement.invalidate(tenant);
    let from = placement.database_of(tenant).await?;
    let from_name = from.as_deref().unwrap_or(DEFAULT_DATABASE).to_owned();
    if from_name == to {
        return Err(MoveError::SameDatabase {
            tenant: tenant.schema().to_owned(),
            database: to.to_owned(),
        });
    }
    let src = placement.connection(from.as_deref()).await?;
    let dst = placement.connection(Some(to)).await?;
    let registry = Registry::global().map_err(|e| failed(e.to_string()))?;
    // Every database names roles as the default one does.
    let roles = Setup::of(app, placement.default_db())
        .await
        .map_err(|e| failed(e.to_string()))?;
    let state = status::<A::TenantMigrator, _>(&src, std::slice::from_ref(tenant))
        .await
        .map_err(|e| failed(e.to_string()))?
        .remove(0);
    if state.state != State::Current {
        return Err(MoveError::NotCurrent {
            tenant: tenant.schema().to_owned(),
            database: from_name,
            state: state.state.as_str().to_owned(),
        });
    }
    prepare_database(app, &dst, &roles)
        .await
        .map_err(|e| failed(format!("preparing `{to}`: {e}")))?;
    catalog::install_fence(&src)
        .await
        .map_err(|e| failed(format!("preparing `{from_name}`: {e}")))?;
    let there = status::<A::TenantMigrator, _>(&dst, std::slice::from_ref(tenant))
        .await
        .map_err(|e| failed(e.to_string()))?
        .remove(0);
    if there.state != State::MissingSchema {
        return Err(MoveError::TargetOccupied {
            tenant: tenant.schema().to_owned(),
            database: to.to_owned(),
            what: format!("a schema `{tenant}`"),
        });
    }
    migrate_tenant::<A>(&dst, tenant, &roles)
        .await
        .map_err(|e| failed(format!("creating the schema in `{to}`: {e}")))?;
    let mut transfer = Transfer {
        tenant,
        registry: &registry,
        names: &roles.names,
        from: &from_name,
        to,
    };
    let mut source = match transfer.run(&src, &dst).await {
        Ok(source) => source,
        Err(e) => {
            remove_tenant(&dst, tenant, &[], &roles.names, false).await;
            return Err(e);
        }
    };
    let report_tables = std::mem::take(&mut source.copied.tables);
    let referenced = std::mem::take(&mut source.copied.referenced);
    let fate = if drop_source {
        SourceFate::Dropped
    } else {
        SourceFate::Kept {
            fenced_schema: fenced_name(tenant),
        }
    };
    if from.is_none() {
        // The source is the default database: switch the catalog and fence the source in one
        // transaction, so the two cannot disagree.
        if let Err(e) = transfer.fence(&mut source, &fate, true).await {
            // A connection lost after COMMIT was sent leaves the outcome unknown: the catalog
            // tells. Only a move that did not happen may remove its copy.
            let routed =
                catalog::lookup(placement.default_db(), std::slice::from_ref(tenant)).await;
            match routed {
                Ok(found) if found[0].as_deref() == Some(to) => {}
                Ok(_) => {
                    remove_tenant(&dst, tenant, &source.copied.attribute, &roles.names, false)
                        .await;
                    return Err(MoveError::Failed {
                        tenant: tenant.schema().to_owned(),
                        reason: format!("switching the catalog and fencing the source: {e}"),
                    });
                }
                Err(check) => {
                    return Err(MoveError::Failed {
                        tenant: tenant.schema().to_owned(),
                        reason: format!(
                            "switching the catalog and fencing the source: {e}; whether it committed is unknown ({check}): `databases list` and `status` tell, and the copy in `{to}` was kept"
                        ),
                    });
                }
            }
        }
    } else {
        // Fence first, switch second: a failure in between leaves the tenant refused everywhere
        // (never written in two places), and one command finishes the move.
        let fenced = transfer.fence(&mut source, &fate, false).await;
        if let Err(e) = fenced {
            remove_tenant(&dst, tenant, &source.copied.attribute, &roles.names, false).await;
            return Err(MoveError::Failed {
                tenant: tenant.schema().to_owned(),
                reason: format!("fencing the source: {e}"),
            });
        }
        if let Err(e) = catalog::assign(placement.default_db(), tenant, to).await {
            return Err(MoveError::SwitchFailed {
                tenant: tenant.schema().to_owned(),
                from: from_name.clone(),
                to: to.to_owned(),
                reason: e.to_string(),
            });
        }
    }
    placement.invalidate(tenant);
    Ok(MoveReport {
        from: from_name,
        to: to.to_owned(),
        tables: report_tables,
        referenced,
        source: fate,
    })
}

/// The source side after a verified copy: its transaction still holds the tenant's locks.
struct Source {
    conn: Conn,
    copied: Copied,
}

/// What a verified copy put into the target.
struct Copied {
    /// The attribute tables the tenant's rows were copied from.
    attribute: Vec<Item>,
    /// Rows per table.
    tables: Vec<(String, u64)>,
    /// Referenced global rows per table.
    referenced: Vec<(String, u64)>,
}

/// One tenant's move between two databases.
struct Transfer<'a> {
    tenant: &'a Tenant,
    registry: &'a Registry,
    names: &'a RoleNames,
    from: &'a str,
    to: &'a str,
}

impl Transfer<'_> {
    fn failed(&self, e: impl std::fmt::Display) -> MoveError {
        MoveError::Failed {
            tenant: self.tenant.schema().to_owned(),
            reason: e.to_string(),
        }
    }
}

/// A connection of its own for the move. It is closed, not returned to the pool, when dropped:
/// a move cancelled mid-way (a dropped future) must not hand its open transaction, locks and
/// settings to the next borrower.
async fn acquire(db: &DatabaseConnection, name: &str) -> Result<Conn, MoveError> {
    let mut conn = db
        .get_postgres_connection_pool()
        .acquire()
        .await
        .map_err(|e| {
            MoveError::Placement(PlacementError::Unreachable {
                database: name.to_owned(),
                reason: super::mask(&e.to_string()),
            })
        })?;
    conn.close_on_drop();
    Ok(conn)
}

async fn exec(conn: &mut Conn, sql: String) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut **conn)
        .await?;
    Ok(())
}

async fn count(conn: &mut Conn, item: &Item) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT count(*) FROM {} t{}",
        item.qualified,
        item.filter("t")
    )))
    .fetch_one(&mut **conn)
    .await
}

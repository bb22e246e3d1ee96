//! `tenants list | create | rename | move | prune | drop`: tenant schemas by hand.
//!
//! Apps whose tenants are rows of a `ManageTenant` entity create, rename and delete them with
//! `sea_tenancy::manage`; these commands work on the schemas themselves (repairs, apps that list
//! tenants by schema pattern).

use clap::Subcommand;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};

use crate::app::Setup;
use crate::app::TenancyApp;
use crate::migrate::{create_tenant, lock, mirror};
use crate::placement::DEFAULT_DATABASE;
use crate::placement::provision::prepare_database;
use crate::placement::relocate::{SourceFate, move_tenant};
use crate::roles::tenant as role;
use crate::tenant::Tenant;

/// `tenants` subcommands.
#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// List every tenant: schema, key and, with a catalog, its database.
    List,
    /// Create a tenant schema and apply every tenant migration in it.
    Create {
        /// The schema name.
        name: String,
    },
    /// Rename a tenant schema.
    Rename {
        /// The current schema name.
        old: String,
        /// The new schema name.
        new: String,
    },
    /// Move a tenant's schema and rows to another database (copy, verify row counts, switch the
    /// catalog, then fence the source: renamed, or dropped with --drop-source) — or, on Citus,
    /// to another worker node (`--node`).
    Move {
        /// The tenant's schema name.
        name: String,
        /// The database to move it to (`default` for the app's database).
        #[arg(
            long = "to",
            value_name = "DATABASE",
            required_unless_present = "node",
            conflicts_with = "node"
        )]
        to: Option<String>,
        /// Drop the source copy (schema and attribute rows) once the move is complete.
        #[arg(long, conflicts_with = "node")]
        drop_source: bool,
        /// Citus: the worker node to move the tenant's schema to.
        #[arg(long, value_name = "HOST:PORT")]
        node: Option<String>,
        /// Citus: how shards are transferred: auto (logical replication; needs wal_level =
        /// logical), force_logical or block_writes (writes wait for the whole copy).
        #[arg(long, default_value = "auto", requires = "node")]
        mode: String,
    },
    /// Drop (or, with --archive, rename to `archived_<schema>`) every orphan schema: tenant
    /// schemas no tenant list names (`status` lists them), with their roles.
    Prune {
        /// Keep the data: rename each schema to `archived_<schema>` instead of dropping it.
        #[arg(long)]
        archive: bool,
        /// Really do it (without: list what would be pruned).
        #[arg(long)]
        yes: bool,
    },
    /// Drop a tenant schema and everything in it.
    Drop {
        /// The schema name.
        name: String,
        /// Really drop it.
        #[arg(long)]
        yes: bool,
    },
}

pub(super) async fn execute<A: TenancyApp>(
    app: &A,
    db: &DatabaseConnection,
    command: TenantsCommand,
) -> Result<bool, String> {
    if app.tenants_are_rows() {
        let function = match &command {
            TenantsCommand::Create { .. } => Some("sea_tenancy::manage::provision"),
            TenantsCommand::Rename { .. } => Some("sea_tenancy::manage::update_tenant"),
            TenantsCommand::Drop { .. } => Some("sea_tenancy::manage::delete_tenant"),
            TenantsCommand::List | TenantsCommand::Move { .. } | TenantsCommand::Prune { .. } => {
                None
            }
        };
        if let Some(function) = function {
            let tables: Vec<&str> = crate::registry::manage_tenant_tables()
                .iter()
                .map(|(t, _)| *t)
                .collect();
            return Err(format!(
                "this app's tenants are rows of `{}`: a schema changed alone would drift from its row (a schema no list shows, or a row whose data is gone); use {function} (from your app), which changes row, schema and role in one transaction",
                tables.join("`, `")
            ));
        }
    }
    match command {
        TenantsCommand::List => {
            let all = super::all(app, db).await?;
            match super::placement(app, db).await? {
                // With a catalog: where each tenant lives, too.
                Some(placement) => {
                    let groups = placement.group(&all).await.map_err(|e| e.to_string())?;
                    for (database, tenants) in groups {
                        let name = database.as_deref().unwrap_or(DEFAULT_DATABASE);
                        for tenant in tenants {
                            println!("{}\t{}\t{name}", tenant.schema(), tenant.key());
                        }
                    }
                }
                None => {
                    for tenant in all {
                        println!("{}\t{}", tenant.schema(), tenant.key());
                    }
                }
            }
        }
        TenantsCommand::Create { name } => {
            let tenant = tenant(&name)?;
            let roles = role_setup(app, db).await?;
            // In the database the catalog places it in, if there is a catalog.
            let (database, target) = match super::placement(app, db).await? {
                Some(placement) => {
                    let name = placement
                        .database_of(&tenant)
                        .await
                        .map_err(|e| e.to_string())?;
                    let conn = placement
                        .connection(name.as_deref())
                        .await
                        .map_err(|e| e.to_string())?;
                    if name.is_some() {
                        prepare_database(app, &conn, &roles)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    (name.map(|n| n.to_string()), conn)
                }
                None => (None, db.clone()),
            };
            // One transaction: an existing schema is refused, a failing migration leaves nothing.
            let applied = create_tenant::<A>(&target, &tenant, &roles)
                .await
                .map_err(|e| format!("cannot create `{tenant}`, nothing was created: {e}"))?;
            let place = database.unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
            println!("{tenant}: created in database {place}, {applied} migration(s) applied");
        }
        TenantsCommand::Rename { old, new } => {
            let (old, new) = (tenant(&old)?, tenant(&new)?);
            let roles = role_setup(app, db).await?;
            let txn = db.begin().await.map_err(db_err)?;
            for t in [&old, &new] {
                lock(&txn, t.schema()).await.map_err(db_err)?;
            }
            require_schema(&txn, &old).await?;
            txn.execute_unprepared(&format!(
                "ALTER SCHEMA {} RENAME TO {}",
                old.quoted_schema(),
                new.quoted_schema()
            ))
            .await
            .map_err(|e| format!("cannot rename `{old}` to `{new}`: {e}"))?;
            txn.execute_unprepared(&role::rename_sql(&roles.names, &roles.secret, &old, &new))
                .await
                .map_err(db_err)?;
            mirror::rename(&txn, &old, &new).await.map_err(db_err)?;
            crate::placement::catalog::rename_tenant(&txn, &old, &new)
                .await
                .map_err(db_err)?;
            txn.commit().await.map_err(db_err)?;
            println!("{old}: renamed to {new}");
        }
        TenantsCommand::Move {
            name,
            to,
            drop_source,
            node,
            mode,
        } => {
            let tenant = super::select(app, db, std::slice::from_ref(&name), &[])
                .await?
                .remove(0);
            if let Some(node) = node {
                return move_to_node(db, &tenant, &node, &mode).await;
            }
            let to = to.expect("clap requires --to without --node");
            let placement = super::placement(app, db)
                .await?
                .ok_or_else(|| crate::placement::PlacementError::CatalogMissing.to_string())?;
            let report = move_tenant(app, &placement, &tenant, &to, drop_source)
                .await
                .map_err(|e| e.to_string())?;
            for (table, rows) in &report.referenced {
                println!("{tenant}: {table}: {rows} referenced global row(s) copied");
            }
            for (table, rows) in &report.tables {
                println!("{tenant}: {table}: {rows} row(s) copied and verified");
            }
            let source = match &report.source {
                SourceFate::Kept { fenced_schema } => {
                    format!("kept in {} as schema {fenced_schema}", report.from)
                }
                SourceFate::Dropped => format!("dropped from {}", report.from),
            };
            println!(
                "{tenant}: moved from {} to {}; source {source}",
                report.from, report.to
            );
        }
        TenantsCommand::Prune { archive, yes } => return prune(app, db, archive, yes).await,
        TenantsCommand::Drop { name, yes } => {
            let tenant = tenant(&name)?;
            let roles = role_setup(app, db).await?;
            if !yes {
                return Err(format!(
                    "refusing to drop `{tenant}` and all its data without --yes"
                ));
            }
            let txn = db.begin().await.map_err(db_err)?;
            lock(&txn, tenant.schema()).await.map_err(db_err)?;
            require_schema(&txn, &tenant).await?;
            txn.execute_unprepared(&format!(
                "{}\nDROP SCHEMA {} CASCADE",
                role::drop_sql(&roles.names, &tenant),
                tenant.quoted_schema()
            ))
            .await
            .map_err(db_err)?;
            mirror::forget(&txn, &tenant).await.map_err(db_err)?;
            txn.commit().await.map_err(db_err)?;
            println!("{tenant}: dropped");
        }
    }
    Ok(true)
}

/// `tenants prune`: each orphan in a transaction of its own, under its tenant lock, checked
/// again against a tenant list read after the lock is held (a tenant provisioned meanwhile is
/// not pruned).
async fn prune<A: TenancyApp>(
    app: &A,
    db: &DatabaseConnection,
    archive: bool,
    yes: bool,
) -> Result<bool, String> {
    use sea_orm_migration::MigratorTrait;
    let tracking = A::TenantMigrator::migration_table_name().to_string();
    let all = super::all(app, db).await?;
    let orphans = crate::migrate::orphans(db, &tracking, &all)
        .await
        .map_err(db_err)?;
    let verb = if archive { "archive" } else { "drop" };
    if orphans.is_empty() {
        println!("no orphan schemas");
        return Ok(true);
    }
    if !yes {
        return Err(format!(
            "{} orphan schema(s): {}; refusing to {verb} them without --yes",
            orphans.len(),
            orphans.join(", ")
        ));
    }
    let roles = role_setup(app, db).await?;
    for name in orphans {
        let tenant = tenant(&name)?;
        let archived = if archive {
            let archived = format!("{}{name}", crate::migrate::orphans::ARCHIVE_PREFIX);
            Some(Tenant::from_schema(&archived).map_err(|e| {
                format!("cannot archive `{name}` as `{archived}`: {e}; drop it instead")
            })?)
        } else {
            None
        };
        let txn = db.begin().await.map_err(db_err)?;
        lock(&txn, tenant.schema()).await.map_err(db_err)?;
        let now = super::all(app, db).await?;
        if !crate::migrate::orphans(&txn, &tracking, &now)
            .await
            .map_err(db_err)?
            .contains(&name)
        {
            println!("{tenant}: no longer an orphan, left alone");
            continue;
        }
        let fate = match &archived {
            Some(to) => format!(
                "ALTER SCHEMA {} RENAME TO {}",
                tenant.quoted_schema(),
                to.quoted_schema()
            ),
            None => format!("DROP SCHEMA {} CASCADE", tenant.quoted_schema()),
        };
        txn.execute_unprepared(&format!(
            "{}\n{fate}",
            role::drop_sql(&roles.names, &tenant)
        ))
        .await
        .map_err(|e| format!("cannot {verb} `{tenant}`, left unchanged: {e}"))?;
        mirror::forget(&txn, &tenant).await.map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        match archived {
            Some(to) => println!("{tenant}: archived as {to}"),
            None => println!("{tenant}: dropped"),
        }
    }
    Ok(true)
}

/// `tenants move T --node HOST:PORT`: Citus moves the tenant's schema to another worker.
async fn move_to_node(
    db: &DatabaseConnection,
    tenant: &Tenant,
    node: &str,
    mode: &str,
) -> Result<bool, String> {
    let (host, port) = node
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<i32>().ok()?)))
        .ok_or_else(|| format!("--node {node}: expected HOST:PORT"))?;
    let mode: crate::citus::TransferMode = mode.parse()?;
    let to = crate::citus::Node { host, port };
    let moved = crate::citus::move_tenant(db, tenant, &to, mode)
        .await
        .map_err(db_err)?;
    for (table, before, after) in &moved.tables {
        println!("{tenant}: {table}: {before} row(s) before, {after} after");
    }
    println!("{tenant}: moved from {} to {}", moved.from, moved.to);
    Ok(true)
}

async fn role_setup<A: TenancyApp>(app: &A, db: &DatabaseConnection) -> Result<Setup, String> {
    Setup::of(app, db).await.map_err(|e| e.to_string())
}

fn tenant(name: &str) -> Result<Tenant, String> {
    Tenant::from_schema(name).map_err(|e| e.to_string())
}

fn db_err(e: DbErr) -> String {
    e.to_string()
}

async fn require_schema<C: ConnectionTrait>(db: &C, tenant: &Tenant) -> Result<(), String> {
    let found = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS one FROM pg_namespace WHERE nspname = $1",
            [tenant.schema().into()],
        ))
        .await
        .map_err(db_err)?;
    match found {
        Some(_) => Ok(()),
        None => Err(format!("unknown tenant `{tenant}`: no such schema")),
    }
}

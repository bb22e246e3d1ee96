//! `databases list | add | range | assign`: the tenant catalog (see `sea_tenancy::placement`).

use clap::Subcommand;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::app::TenancyApp;
use crate::placement::{DatabaseUrl, Placement, catalog};
use crate::tenant::Tenant;

/// `databases` subcommands.
#[derive(Debug, Subcommand)]
pub enum DatabasesCommand {
    /// List the databases, their URLs (password masked) and what maps to them.
    List,
    /// Add a database (or change its URL). Installs the catalog on first use.
    Add {
        /// Its name: a lower-case letter, then lower-case letters, digits and `_`.
        name: String,
        /// Its connection URL, stored in the catalog. Leave it out when the app's configuration
        /// supplies it (`TenancyApp::databases`).
        #[arg(long, env = "SEA_TENANCY_ADD_URL", hide_env_values = true)]
        url: Option<String>,
        /// Change the URL of a database that already holds tenants (the same data at a new
        /// address); running app processes keep their pools to the old one until restarted.
        #[arg(long)]
        force: bool,
    },
    /// Map the integer tenant keys START..END (END exclusive) to a database.
    Range {
        /// The database.
        name: String,
        /// First key (inclusive).
        start: i64,
        /// Last key (exclusive).
        end: i64,
    },
    /// Place a tenant that does not exist yet in a database (`tenants move` moves one that does).
    Assign {
        /// The tenant's schema name.
        tenant: String,
        /// The database.
        name: String,
    },
}

pub(super) async fn execute<A: TenancyApp>(
    app: &A,
    db: &DatabaseConnection,
    command: DatabasesCommand,
) -> Result<bool, String> {
    let err = |e: crate::placement::PlacementError| e.to_string();
    match command {
        DatabasesCommand::List => {
            for entry in catalog::databases(db).await.map_err(err)? {
                let url = match (&entry.url, entry.name.as_str()) {
                    (Some(url), _) => url.to_string(),
                    (None, catalog::DEFAULT_DATABASE) => "(the app's database)".to_owned(),
                    (None, name) if app.databases().iter().any(|(n, _)| n == name) => {
                        "(from configuration)".to_owned()
                    }
                    (None, _) => "(no URL: configure one)".to_owned(),
                };
                let ranges: Vec<String> = entry
                    .ranges
                    .iter()
                    .map(|(s, e)| format!("[{s}, {e})"))
                    .collect();
                println!(
                    "{}\t{url}\t{} listed tenant(s)\tranges: {}",
                    entry.name,
                    entry.listed,
                    if ranges.is_empty() {
                        "-".to_owned()
                    } else {
                        ranges.join(" ")
                    }
                );
            }
        }
        DatabasesCommand::Add { name, url, force } => {
            let url = url
                .map(DatabaseUrl::new)
                .transpose()
                .map_err(|e| e.to_string())?;
            catalog::install(db).await.map_err(|e| e.to_string())?;
            let existing = catalog::databases(db).await.map_err(err)?;
            if let Some(entry) = existing.iter().find(|e| e.name == name)
                && entry.url != url
                && (entry.listed > 0 || !entry.ranges.is_empty())
                && !force
            {
                return Err(format!(
                    "database `{name}` already holds tenants ({} listed, {} key range(s)); a new URL re-routes them to whatever it points at: pass --force if it is the same data at a new address, then restart the app's processes (their pools keep the old one)",
                    entry.listed,
                    entry.ranges.len()
                ));
            }
            catalog::add_database(db, &name, url.as_ref())
                .await
                .map_err(err)?;
            match url {
                Some(url) => println!("{name}: {url}"),
                None => println!("{name}: URL from the app's configuration"),
            }
        }
        DatabasesCommand::Range { name, start, end } => {
            let placement = super::placement(app, db)
                .await?
                .ok_or_else(|| crate::placement::PlacementError::CatalogMissing.to_string())?;
            let existing = super::all(app, db).await?;
            let affected: Vec<Tenant> = existing
                .into_iter()
                .filter(|t| {
                    t.key()
                        .parse::<i64>()
                        .is_ok_and(|k| (start..end).contains(&k))
                })
                .collect();
            refuse_existing(&placement, &affected, &name).await?;
            catalog::add_range(db, &name, start, end)
                .await
                .map_err(err)?;
            placement.invalidate_all();
            println!("keys [{start}, {end}) → {name}");
        }
        DatabasesCommand::Assign { tenant, name } => {
            let tenant = Tenant::from_schema(tenant).map_err(|e| e.to_string())?;
            let placement = super::placement(app, db)
                .await?
                .ok_or_else(|| crate::placement::PlacementError::CatalogMissing.to_string())?;
            refuse_existing(&placement, std::slice::from_ref(&tenant), &name).await?;
            catalog::assign(db, &tenant, &name).await.map_err(err)?;
            println!("{tenant} → {name}");
        }
    }
    Ok(true)
}

/// The tenants of `tenants` with rows in an attribute table of `db`, leftovers of a move away
/// (fenced) excepted.
async fn with_attribute_rows(
    db: &DatabaseConnection,
    tenants: &[Tenant],
) -> Result<Vec<String>, String> {
    let registry = crate::registry::Registry::global().map_err(|e| e.to_string())?;
    let keys: Vec<String> = tenants.iter().map(|t| t.key().to_owned()).collect();
    let mut found = Vec::new();
    let declared = registry.attribute_tables();
    let tables: Vec<String> = declared.iter().map(|(t, _)| (*t).to_owned()).collect();
    let present: Vec<String> = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            catalog::PRESENT_TABLES_SQL,
            [tables.into()],
        ))
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|r| r.try_get_by_index::<String>(0))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    for (table, column) in declared {
        if !present.iter().any(|p| p == table) {
            continue;
        }
        let t = crate::tenant::quote_ident(table);
        let c = crate::tenant::quote_ident(column);
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "SELECT DISTINCT {c}::text AS key FROM public.{t} WHERE {c}::text = ANY($1)"
                ),
                [keys.clone().into()],
            ))
            .await
            .map_err(|e| e.to_string())?;
        for row in rows {
            let key: String = row.try_get("", "key").map_err(|e| e.to_string())?;
            for t in tenants.iter().filter(|t| t.key() == key) {
                if !found.contains(&t.schema().to_owned()) {
                    found.push(t.schema().to_owned());
                }
            }
        }
    }
    if found.is_empty() {
        return Ok(found);
    }
    let fenced = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT tenant FROM public.sea_tenancy_moved WHERE tenant = ANY($1)",
            [found.clone().into()],
        ))
        .await
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r.try_get::<String>("", "tenant").ok())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    found.retain(|t| !fenced.contains(t));
    Ok(found)
}

/// Re-mapping a tenant that already has a schema (or attribute rows) would route it to an empty
/// place: refuse and point at `tenants move`.
async fn refuse_existing(
    placement: &Placement,
    tenants: &[Tenant],
    to: &str,
) -> Result<(), String> {
    let groups = placement.group(tenants).await.map_err(|e| e.to_string())?;
    let mut living = Vec::new();
    for (database, tenants) in groups {
        let here = database.as_deref().unwrap_or(catalog::DEFAULT_DATABASE);
        if tenants.is_empty() || here == to {
            continue;
        }
        let db = placement
            .connection(database.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        let schemas: Vec<String> = tenants.iter().map(|t| t.schema().to_owned()).collect();
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT nspname::text AS name FROM pg_namespace WHERE nspname = ANY($1) ORDER BY 1",
                [schemas.into()],
            ))
            .await
            .map_err(|e| e.to_string())?;
        for row in rows {
            let name: String = row.try_get("", "name").map_err(|e| e.to_string())?;
            living.push(format!("{name} (in {here})"));
        }
        // Tenants without a schema may still have rows in attribute tables.
        for name in with_attribute_rows(&db, &tenants).await? {
            let entry = format!("{name} (in {here})");
            if !living.contains(&entry) {
                living.push(entry);
            }
        }
    }
    if living.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = living.iter().take(5).map(String::as_str).collect();
    Err(format!(
        "{} existing tenant(s) would be re-routed to `{to}` without their data: {}{}; move them with `tenants move <tenant> --to {to}`",
        living.len(),
        shown.join(", "),
        if living.len() > 5 { ", …" } else { "" }
    ))
}

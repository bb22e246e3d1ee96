//! Orphan schemas: tenant schemas that no tenant list names any more — left by deleting a
//! managing row with `on_delete = "keep"`, by a schema created by hand, or by a list whose
//! pattern changed. `status` shows them; `tenants prune` drops or archives them.
//!
//! A schema is a tenant schema when it holds the tenant set's tracking table or is in the
//! tenant map (it has a tenant role). Schemas `tenants move` fenced (`moved_..`, recorded in
//! `sea_tenancy_moved`) and archived ones (`archived_..`) are kept on purpose and not listed.

use std::collections::HashSet;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use crate::tenant::Tenant;

/// The prefix `tenants prune --archive` gives a schema.
pub const ARCHIVE_PREFIX: &str = "archived_";

/// Tenant schemas in `db` that are not among `tenants`, by name.
pub async fn orphans<C: ConnectionTrait>(
    db: &C,
    tracking_table: &str,
    tenants: &[Tenant],
) -> Result<Vec<String>, DbErr> {
    let present = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT to_regclass('public.sea_tenancy_tenants') IS NOT NULL AS map,
                    to_regclass('public.sea_tenancy_moved') IS NOT NULL AS moved",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("no row from a constant query".into()))?;
    let map = if present.try_get::<bool>("", "map")? {
        "OR n.nspname IN (SELECT schema FROM public.sea_tenancy_tenants)"
    } else {
        ""
    };
    let moved = if present.try_get::<bool>("", "moved")? {
        "AND n.nspname NOT IN (SELECT fenced_schema FROM public.sea_tenancy_moved WHERE fenced_schema IS NOT NULL)"
    } else {
        ""
    };
    let sql = format!(
        "SELECT n.nspname::text AS name FROM pg_catalog.pg_namespace n
          WHERE (EXISTS (SELECT FROM pg_catalog.pg_class c
                          WHERE c.relnamespace = n.oid AND c.relname = $1 AND c.relkind IN ('r', 'p'))
                 {map})
            AND n.nspname <> 'public' AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
            AND n.nspname NOT LIKE 'moved\\_%' AND n.nspname NOT LIKE '{ARCHIVE_PREFIX}%'
            {moved}
          ORDER BY 1"
    );
    let known: HashSet<&str> = tenants.iter().map(Tenant::schema).collect();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [tracking_table.into()],
        ))
        .await?;
    let mut orphans = Vec::new();
    for row in rows {
        let name: String = row.try_get("", "name")?;
        if !known.contains(name.as_str()) {
            orphans.push(name);
        }
    }
    Ok(orphans)
}

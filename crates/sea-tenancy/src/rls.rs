//! Row-level security for attribute-strategy tables: PostgreSQL itself keeps each tenant's rows
//! apart, by the *role* the statement runs as.
//!
//! [`enable_tenant_isolation`] is meant for migrations: after creating an attribute table, it
//! - enables row-level security — not forced: the owner (migrations, moves, provisioning) sees
//!   every row, while tenant and global roles, which never own tables, are bound;
//! - adds the policy `sea_tenancy_isolation`: rows are visible, updatable and deletable only when
//!   their tenant column equals the key of the session's role in `public.sea_tenancy_tenants`
//!   (each tenant role has one row there; see `roles`), and rows written must carry it
//!   (`WITH CHECK`), so an insert with another tenant's key is an error, not a silent
//!   cross-tenant write;
//! - sets the column's default to that key, so inserts that leave it unset are stamped.
//!
//! The key comes from `current_user`, which a tenant session cannot change (its role is a member
//! of no other tenant's role), never from a setting, which any session can. A role that is no
//! tenant — the global role — finds no key: it sees no rows and can write none. Roles with `BYPASSRLS` (superusers) skip policies; tenant and global
//! connections refuse to run as one. The policy looks the key up once per statement (an
//! InitPlan on the map's primary key), so statements need no transaction and no setup.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use crate::roles::tenant_map_statements;
use crate::tenant::{quote_ident, quote_qualified};

/// The name of the policy this module manages.
pub const POLICY_NAME: &str = "sea_tenancy_isolation";

/// Installs (or replaces) the tenant-isolation policy and default on `table.column`.
///
/// `table` may be `schema.table`; unqualified names resolve through the search path.
pub async fn enable_tenant_isolation<C: ConnectionTrait>(
    db: &C,
    table: &str,
    column: &str,
) -> Result<(), DbErr> {
    install_policy(db, table, column, true, false).await
}

/// [`enable_tenant_isolation`] without touching the column's default: for a tenant column whose
/// entity declares a default of its own (the generator emits it when the user chose to keep it).
pub async fn enable_tenant_isolation_keep_default<C: ConnectionTrait>(
    db: &C,
    table: &str,
    column: &str,
) -> Result<(), DbErr> {
    install_policy(db, table, column, false, false).await
}

/// [`enable_tenant_isolation`] for an entity declared with `global_rows`: a row whose tenant
/// column is NULL is shared. Every tenant reads shared rows and none may insert, update or
/// delete one (nor turn its own row into one); the global connection, which has no tenant key,
/// reads and writes shared rows only — an insert from it that leaves the column unset makes
/// one. Tenant rows stay as [`enable_tenant_isolation`] keeps them.
///
/// Not on Citus: a distributed table cannot hold NULL in its distribution column.
pub async fn enable_tenant_isolation_with_global_rows<C: ConnectionTrait>(
    db: &C,
    table: &str,
    column: &str,
) -> Result<(), DbErr> {
    install_policy(db, table, column, true, true).await
}

/// [`enable_tenant_isolation_with_global_rows`] keeping the column's declared default.
pub async fn enable_tenant_isolation_with_global_rows_keep_default<C: ConnectionTrait>(
    db: &C,
    table: &str,
    column: &str,
) -> Result<(), DbErr> {
    install_policy(db, table, column, false, true).await
}

/// The policies again, as the entity declares them (`roles sync`). The column's default is
/// stamped with the tenant key again unless it is a default of the app's own (a declared
/// default the generator was told to keep): a default of ours, older ones included, or none.
pub(crate) async fn reinstall_policies<C: ConnectionTrait>(
    db: &C,
    table: &str,
    column: &str,
    global_rows: bool,
) -> Result<(), DbErr> {
    let default: Option<String> = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_get_expr(d.adbin, d.adrelid) AS expr
               FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = to_regclass($1) AND a.attname = $2",
            [quote_qualified(table).into(), column.into()],
        ))
        .await?
        .map(|r| r.try_get("", "expr"))
        .transpose()?;
    let stamp = default.is_none_or(|d| d.contains("sea_tenancy"));
    install_policy(db, table, column, stamp, global_rows).await
}

/// The policy letting everyone read shared rows, and the one letting the global connection
/// write them (with `global_rows`).
pub const GLOBAL_ROWS_POLICIES: [&str; 2] = ["sea_tenancy_shared_read", "sea_tenancy_shared_write"];

/// Row-level security and the policy on `table.column`; with `stamp_default`, the column's
/// default becomes the tenant key too; with `global_rows`, NULL rows are shared.
async fn install_policy<C: ConnectionTrait>(
    db: &C,
    table: &str,
    column: &str,
    stamp_default: bool,
    global_rows: bool,
) -> Result<(), DbErr> {
    let qualified = quote_qualified(table);
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT format_type(a.atttypid, a.atttypmod) AS ty
               FROM pg_attribute a
              WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
            [qualified.clone().into(), column.into()],
        ))
        .await?
        .ok_or_else(|| {
            DbErr::Custom(format!(
                "sea-tenancy: cannot enable tenant isolation: table `{table}` has no column `{column}`"
            ))
        })?;
    // A type name from the catalog, not from the caller: safe to splice.
    let ty: String = row.try_get("", "ty")?;
    let col = quote_ident(column);
    let citus = crate::citus::is_installed(db).await?;
    // The key of the session's role. A tenant marked as moved away raises (`ST001`) instead of
    // silently seeing nothing. On plain PostgreSQL an InitPlan on the map's primary key (once
    // per statement); Citus refuses subqueries in policies of distributed tables, so there the
    // key function, which runs once per scan, does the same.
    let key = if citus {
        format!("public.sea_tenancy_key()::{ty}")
    } else {
        format!(
            "(SELECT (CASE WHEN t.moved_to IS NULL THEN t.key ELSE public.sea_tenancy_moved(t.moved_to) END)::{ty} FROM public.sea_tenancy_tenants t WHERE t.role = current_user)"
        )
    };
    if global_rows && citus {
        return Err(DbErr::Custom(format!(
            "sea-tenancy: `{table}` is declared with `global_rows`, but on Citus it is distributed on `{column}`, which cannot be NULL; keep shared rows in a global (reference) table instead"
        )));
    }
    let mut sql = tenant_map_statements(citus);
    sql.extend([
        format!("ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY"),
        format!("ALTER TABLE {qualified} NO FORCE ROW LEVEL SECURITY"),
        format!("DROP POLICY IF EXISTS {POLICY_NAME} ON {qualified}"),
        format!(
            "CREATE POLICY {POLICY_NAME} ON {qualified} USING ({col} = {key}) WITH CHECK ({col} = {key})"
        ),
    ]);
    let [read, write] = GLOBAL_ROWS_POLICIES;
    sql.extend([
        format!("DROP POLICY IF EXISTS {read} ON {qualified}"),
        format!("DROP POLICY IF EXISTS {write} ON {qualified}"),
    ]);
    if global_rows {
        // Policies of one command are OR-ed: reading gains the shared rows; writing them needs
        // a session without a tenant key (the global role's; a tenant's key is never NULL).
        sql.extend([
            format!("CREATE POLICY {read} ON {qualified} FOR SELECT USING ({col} IS NULL)"),
            format!(
                "CREATE POLICY {write} ON {qualified} USING ({col} IS NULL AND {key} IS NULL) WITH CHECK ({col} IS NULL AND {key} IS NULL)"
            ),
        ]);
    }
    // Citus refuses to change the default of a distribution column: a table distributed already
    // keeps the default it got before (`roles sync` re-creates policies of such tables).
    if stamp_default && !(citus && crate::citus::is_distributed(db, &qualified).await?) {
        sql.push(format!(
            "ALTER TABLE {qualified} ALTER COLUMN {col} SET DEFAULT public.sea_tenancy_key()::{ty}"
        ));
    }
    crate::citus::send(db, &sql, citus).await?;
    Ok(())
}

/// Removes what [`enable_tenant_isolation`] installed (for a migration's `down`).
pub async fn disable_tenant_isolation<C: ConnectionTrait>(
    db: &C,
    table: &str,
    column: &str,
) -> Result<(), DbErr> {
    let qualified = quote_qualified(table);
    let col = quote_ident(column);
    let citus = crate::citus::is_installed(db).await?;
    let [read, write] = GLOBAL_ROWS_POLICIES;
    let statements = [
        format!("DROP POLICY IF EXISTS {POLICY_NAME} ON {qualified}"),
        format!("DROP POLICY IF EXISTS {read} ON {qualified}"),
        format!("DROP POLICY IF EXISTS {write} ON {qualified}"),
        format!("ALTER TABLE {qualified} NO FORCE ROW LEVEL SECURITY"),
        format!("ALTER TABLE {qualified} DISABLE ROW LEVEL SECURITY"),
        format!("ALTER TABLE {qualified} ALTER COLUMN {col} DROP DEFAULT"),
    ];
    crate::citus::send(db, &statements, citus).await
}

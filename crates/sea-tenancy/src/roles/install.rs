//! The roles of an app database and what they may do in `public`, installed (and re-granted)
//! by every `migrate` of the public set.
//!
//! - `public.sea_tenancy_tenants (role, schema, key)`: which tenant each role is. Row-level
//!   security lets a role read its own row only, and only the owner writes it. Attribute tables'
//!   policies compare their tenant column with the key found here for `current_user` — a value
//!   no session setting can change.
//! - `public.sea_tenancy_key()`: that key, for column defaults (which cannot hold subqueries).
//!   A tenant moved to another database keeps its row here marked `moved_to`: its key then
//!   raises `ST001` instead, so a process still routing it here gets an error it re-routes on,
//!   never a silently empty answer.
//! - The group role `<ns>_tenants`, the global role `<ns>_global` and the reporting group
//!   `<ns>_reporting` (queries across tenants, see [`crate::across`]): it reads every app table
//!   of `public` — attribute tables through a `SELECT`-only policy of its own, so it sees every
//!   tenant's rows there — and every tenant schema (granted where tenant schemas get theirs,
//!   `roles::tenant::grant_sql`); it writes nothing.
//! - Grants in `public`, recomputed from scratch each time so that they always match the app's
//!   tables and [`TableAccess`] choices: the global role gets DML on every app table; the group
//!   gets DML on attribute tables (row-level security narrows it to the tenant's rows) and what
//!   [`crate::TenancyApp::tenant_access`] says on global tables (read by default). Neither gets
//!   anything on sea-tenancy's own tables beyond reading its row of the tenant map.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use super::TableAccess;
use super::secret::LoginSecret;
use crate::app::Setup;
use crate::registry::Registry;
use crate::tenant::{quote_ident, quote_literal};

/// The tenant map and the key function: needed by every attribute table's policy, so
/// `rls::enable_tenant_isolation` installs them too. Idempotent. On Citus the map is a reference
/// table (policies run on the workers and read it there) and the key function may read it from
/// inside a query on a shard (`citus.allow_nested_distributed_execution`).
pub(crate) fn tenant_map_statements(citus: bool) -> Vec<String> {
    let mut statements: Vec<String> = TENANT_MAP_SQL
        .split("\n;;\n")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if citus {
        statements.insert(
            1,
            crate::citus::reference_table_sql("public.sea_tenancy_tenants"),
        );
        statements.push(
            "ALTER FUNCTION public.sea_tenancy_key() SET citus.allow_nested_distributed_execution = on"
                .to_owned(),
        );
        statements.push(crate::migrate::mirror::CITUS_TABLE_SQL.to_owned());
        statements.push(crate::citus::reference_table_sql(
            "public.sea_tenancy_migrations",
        ));
    }
    statements
}

/// The statements of [`tenant_map_statements`], separated by `\n;;\n` (some hold `;` inside).
const TENANT_MAP_SQL: &str = "
CREATE TABLE IF NOT EXISTS public.sea_tenancy_tenants (
    role name PRIMARY KEY,
    schema text NOT NULL UNIQUE,
    key text NOT NULL,
    moved_to text
)
;;
ALTER TABLE public.sea_tenancy_tenants ENABLE ROW LEVEL SECURITY
;;
DO $sea_tenancy$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_policy WHERE polrelid = 'public.sea_tenancy_tenants'::regclass AND polname = 'sea_tenancy_own_row') THEN
    CREATE POLICY sea_tenancy_own_row ON public.sea_tenancy_tenants FOR SELECT USING (role = current_user);
  END IF;
END $sea_tenancy$
;;
REVOKE ALL ON public.sea_tenancy_tenants FROM PUBLIC
;;
CREATE OR REPLACE FUNCTION public.sea_tenancy_moved(database text) RETURNS text
  LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RAISE EXCEPTION 'sea-tenancy: tenant % has moved to database %', current_user, database
    USING ERRCODE = 'ST001', HINT = 'the catalog routes it there; refresh the placement cache';
END $fn$
;;
-- PL/pgSQL, not SQL: its query plan is cached for the session, where a SQL function with a
-- FROM clause would be planned again for every row it stamps.
CREATE OR REPLACE FUNCTION public.sea_tenancy_key() RETURNS text
  LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  found_key text;
  moved text;
BEGIN
  SELECT t.key, t.moved_to INTO found_key, moved FROM public.sea_tenancy_tenants t WHERE t.role = current_user;
  IF moved IS NOT NULL THEN
    RETURN public.sea_tenancy_moved(moved);
  END IF;
  RETURN found_key;
END $fn$
";

/// Creates the group and global roles (the global role's password is (re)set from the
/// secret), the tenant map, and recomputes every grant of both roles in `public`. Run it as the
/// owner, after the public migrations, in their transaction.
///
/// Tables of `#[derive(ManageTenant)]` entities (tenants are rows of them) are guarded by
/// privileges: the global role may read them and update the columns outside the schema
/// template, never insert or delete rows — only `provision`/`delete_tenant`, as the owner, do.
pub async fn install<C: ConnectionTrait>(
    db: &C,
    setup: &Setup,
    registry: &Registry,
    tenant_access: impl Fn(&str) -> TableAccess,
) -> Result<(), DbErr> {
    let tables = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relname::text AS name, c.relkind = 'S' AS sequence, owner.relname::text AS owner,
                    ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns
               FROM pg_catalog.pg_class c
               LEFT JOIN pg_catalog.pg_depend d ON c.relkind = 'S' AND d.classid = 'pg_class'::regclass
                    AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
               LEFT JOIN pg_catalog.pg_class owner ON owner.oid = d.refobjid
              WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
              ORDER BY 1",
        ))
        .await?;
    let names = &setup.names;
    let (global, group) = (quote_ident(names.global()), quote_ident(names.tenants()));
    let reporting = quote_ident(names.reporting());
    let managed = crate::registry::manage_tenant_tables();
    let mut sql = vec![
        create_role_sql(names.tenants(), None),
        create_role_sql(names.global(), Some(&setup.secret)),
        create_role_sql(names.reporting(), None),
    ];
    sql.extend(tenant_map_statements(setup.citus));
    sql.extend([
        format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {global}, {group}, {reporting}"),
        format!("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {global}, {group}, {reporting}"),
        format!("GRANT USAGE ON SCHEMA public TO {global}, {group}, {reporting}"),
        format!("GRANT SELECT ON public.sea_tenancy_tenants TO {global}, {group}"),
        format!(
            "GRANT EXECUTE ON FUNCTION public.sea_tenancy_key(), public.sea_tenancy_moved(text) TO {global}, {group}"
        ),
    ]);
    for row in &tables {
        let name: String = row.try_get("", "name")?;
        let sequence: bool = row.try_get("", "sequence")?;
        let owner: Option<String> = row.try_get("", "owner")?;
        if is_internal(&name) || owner.as_deref().is_some_and(is_internal) {
            continue;
        }
        let rel = format!("public.{}", quote_ident(&name));
        // A sequence follows the table it belongs to; one belonging to no table is global.
        let table = owner.as_deref().unwrap_or(&name);
        let template = managed.iter().find(|(t, _)| *t == table).map(|(_, c)| *c);
        let access = match registry.get(table) {
            Some(info) if info.strategy.column().is_some() => TableAccess::ReadWrite,
            // Schema-strategy tables never live in `public`; a leftover gets nothing.
            Some(_) => TableAccess::None,
            // Tenants never create or delete tenants.
            None if template.is_some() => tenant_access(table).min(TableAccess::Read),
            None => tenant_access(table),
        };
        if sequence {
            sql.push(format!("GRANT USAGE, SELECT ON SEQUENCE {rel} TO {global}"));
            if access == TableAccess::ReadWrite {
                sql.push(format!("GRANT USAGE ON SEQUENCE {rel} TO {group}"));
            }
            continue;
        }
        sql.push(format!("GRANT SELECT ON {rel} TO {reporting}"));
        if registry
            .get(table)
            .is_some_and(|i| i.strategy.column().is_some())
        {
            sql.extend(reporting_policy_sql(&rel, names.reporting()));
        }
        match template {
            Some(template) => {
                sql.push(format!("GRANT SELECT ON {rel} TO {global}"));
                let columns: Vec<String> = row.try_get("", "columns")?;
                let free: Vec<String> = columns
                    .iter()
                    .filter(|c| !template.contains(&c.as_str()))
                    .map(|c| quote_ident(c))
                    .collect();
                if !free.is_empty() {
                    sql.push(format!(
                        "GRANT UPDATE ({}) ON {rel} TO {global}",
                        free.join(", ")
                    ));
                }
            }
            None => sql.push(format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON {rel} TO {global}"
            )),
        }
        match access {
            TableAccess::None => {}
            TableAccess::Read => sql.push(format!("GRANT SELECT ON {rel} TO {group}")),
            TableAccess::ReadWrite => sql.push(format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON {rel} TO {group}"
            )),
        }
    }
    crate::citus::send(db, &sql, setup.citus).await
}

/// The policy letting the reporting group read every row of attribute table `rel` (a `SELECT`
/// policy for that role only: other roles' statements never see it, so it costs them nothing).
/// Two statements: Citus takes DDL of distributed tables one statement at a time.
fn reporting_policy_sql(rel: &str, reporting: &str) -> [String; 2] {
    [
        format!("DROP POLICY IF EXISTS {REPORTING_POLICY} ON {rel}"),
        format!(
            "CREATE POLICY {REPORTING_POLICY} ON {rel} FOR SELECT TO {} USING (true)",
            quote_ident(reporting)
        ),
    ]
}

/// The name of the reporting group's policy on attribute tables.
pub(crate) const REPORTING_POLICY: &str = "sea_tenancy_reporting";

/// sea-tenancy's own tables and the migration tracking table: never granted to app roles.
fn is_internal(name: &str) -> bool {
    name.starts_with("sea_tenancy_") || name == "seaql_migrations"
}

/// Creates `role` when missing — `LOGIN` with a password derived from `secret`, or `NOLOGIN` —
/// and (re)sets the password. Safe when several databases race to create it (roles are
/// cluster-wide).
pub(crate) fn create_role_sql(role: &str, login: Option<&LoginSecret>) -> String {
    let q = quote_ident(role);
    let lit = quote_literal(role);
    let kind = if login.is_some() { "LOGIN" } else { "NOLOGIN" };
    let password = login.map_or(String::new(), |secret| {
        format!(
            "ALTER ROLE {q} PASSWORD {};",
            quote_literal(&secret.verifier(role))
        )
    });
    format!(
        "DO $sea_tenancy$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {lit}) THEN
             BEGIN
               CREATE ROLE {q} {kind} INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
             END;
           END IF;
           {password}
         END $sea_tenancy$"
    )
}

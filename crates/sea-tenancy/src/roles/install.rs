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
//! - The group role `<ns>_tenants` and the global role `<ns>_global`.
//! - Grants in `public`, recomputed from scratch each time so that they always match the app's
//!   tables and [`TableAccess`] choices: the global role gets DML on every app table; the group
//!   gets DML on attribute tables (row-level security narrows it to the tenant's rows) and what
//!   [`crate::TenancyApp::tenant_access`] says on global tables (read by default). Neither gets
//!   anything on sea-tenancy's own tables beyond reading its row of the tenant map.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use super::TableAccess;
use super::names::RoleNames;
use super::secret::LoginSecret;
use crate::registry::Registry;
use crate::tenant::{quote_ident, quote_literal};

/// The tenant map and the key function: needed by every attribute table's policy, so
/// `rls::enable_tenant_isolation` installs them too. Idempotent.
pub(crate) const TENANT_MAP_SQL: &str = "
CREATE TABLE IF NOT EXISTS public.sea_tenancy_tenants (
    role name PRIMARY KEY,
    schema text NOT NULL UNIQUE,
    key text NOT NULL,
    moved_to text
);
ALTER TABLE public.sea_tenancy_tenants ENABLE ROW LEVEL SECURITY;
DO $sea_tenancy$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_policy WHERE polrelid = 'public.sea_tenancy_tenants'::regclass AND polname = 'sea_tenancy_own_row') THEN
    CREATE POLICY sea_tenancy_own_row ON public.sea_tenancy_tenants FOR SELECT USING (role = current_user);
  END IF;
END $sea_tenancy$;
REVOKE ALL ON public.sea_tenancy_tenants FROM PUBLIC;
CREATE OR REPLACE FUNCTION public.sea_tenancy_moved(database text) RETURNS text
  LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RAISE EXCEPTION 'sea-tenancy: tenant % has moved to database %', current_user, database
    USING ERRCODE = 'ST001', HINT = 'the catalog routes it there; refresh the placement cache';
END $fn$;
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
END $fn$;";

/// Creates the group and global roles (the global role's password is (re)set from `secret`),
/// the tenant map, and recomputes every grant of both roles in `public`. Run it as the owner,
/// after the public migrations, in their transaction.
pub async fn install<C: ConnectionTrait>(
    db: &C,
    names: &RoleNames,
    secret: &LoginSecret,
    registry: &Registry,
    tenant_access: impl Fn(&str) -> TableAccess,
) -> Result<(), DbErr> {
    let tables = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relname::text AS name, c.relkind = 'S' AS sequence, owner.relname::text AS owner
               FROM pg_catalog.pg_class c
               LEFT JOIN pg_catalog.pg_depend d ON c.relkind = 'S' AND d.classid = 'pg_class'::regclass
                    AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
               LEFT JOIN pg_catalog.pg_class owner ON owner.oid = d.refobjid
              WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
              ORDER BY 1",
        ))
        .await?;
    let (global, group) = (quote_ident(names.global()), quote_ident(names.tenants()));
    let mut sql = format!(
        "{}\n{}\n{TENANT_MAP_SQL}
         REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {global}, {group};
         REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {global}, {group};
         GRANT USAGE ON SCHEMA public TO {global}, {group};
         GRANT SELECT ON public.sea_tenancy_tenants TO {global}, {group};
         GRANT EXECUTE ON FUNCTION public.sea_tenancy_key(), public.sea_tenancy_moved(text) TO {global}, {group};\n",
        create_role_sql(names.tenants(), None),
        create_role_sql(names.global(), Some(secret)),
    );
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
        let access = match registry.get(table) {
            Some(info) if info.strategy.column().is_some() => TableAccess::ReadWrite,
            // Schema-strategy tables never live in `public`; a leftover gets nothing.
            Some(_) => TableAccess::None,
            None => tenant_access(table),
        };
        if sequence {
            sql.push_str(&format!(
                "GRANT USAGE, SELECT ON SEQUENCE {rel} TO {global};\n"
            ));
            if access == TableAccess::ReadWrite {
                sql.push_str(&format!("GRANT USAGE ON SEQUENCE {rel} TO {group};\n"));
            }
            continue;
        }
        sql.push_str(&format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {rel} TO {global};\n"
        ));
        match access {
            TableAccess::None => {}
            TableAccess::Read => sql.push_str(&format!("GRANT SELECT ON {rel} TO {group};\n")),
            TableAccess::ReadWrite => sql.push_str(&format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON {rel} TO {group};\n"
            )),
        }
    }
    db.execute_unprepared(&sql).await?;
    Ok(())
}

/// sea-tenancy's own tables and the migration tracking table: never granted to app roles.
fn is_internal(name: &str) -> bool {
    name.starts_with("sea_tenancy_") || name == "seaql_migrations"
}

/// Creates `role` when missing — `LOGIN` with a password derived from `secret`, or `NOLOGIN` —
/// and (re)sets the password. Safe when several databases race to create it (roles are
/// cluster-wide).
fn create_role_sql(role: &str, login: Option<&LoginSecret>) -> String {
    let q = quote_ident(role);
    let lit = quote_literal(role);
    let kind = if login.is_some() { "LOGIN" } else { "NOLOGIN" };
    let mut sql = format!(
        "DO $sea_tenancy$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {lit}) THEN
             CREATE ROLE {q} {kind} INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
           END IF;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
         END $sea_tenancy$;"
    );
    if let Some(secret) = login {
        sql.push_str(&format!(
            "\nALTER ROLE {q} PASSWORD {};",
            quote_literal(&secret.verifier(role))
        ));
    }
    sql
}

//! The statements that give a tenant its role, move it with a rename and take it away.
//!
//! They are SQL text, not functions that execute, because provisioning and `migrate` send them
//! in the same round trip as the tenant's schema and migrations — one transaction, so a tenant
//! never exists without its role or a role without its tenant.
//!
//! What a tenant role may do (and nothing else):
//! - log in (`LOGIN`, a password derived from the [`LoginSecret`]); no `SUPERUSER`,
//!   `CREATEDB`, `CREATEROLE`, `BYPASSRLS`, `REPLICATION`;
//! - use its own schema: `SELECT, INSERT, UPDATE, DELETE` on its tables, `USAGE, SELECT` on its
//!   sequences — not `CREATE` (the schema's shape belongs to migrations), not `TRUNCATE`,
//!   `REFERENCES` or `TRIGGER`, nothing on its migration-tracking table;
//! - whatever the group role `<ns>_tenants` may do in `public` (see `roles::install`): its only
//!   membership.

use super::names::RoleNames;
use super::secret::LoginSecret;
use crate::tenant::{Tenant, quote_ident, quote_literal};

/// Creates `tenant`'s role if it does not exist, (re)sets its password, makes it a member of
/// the group and records it in `public.sea_tenancy_tenants` (its key is what row-level security
/// compares attribute rows with). Refuses a role recorded for another schema, so two tenants
/// can never share one role.
pub(crate) fn ensure_sql(names: &RoleNames, secret: &LoginSecret, tenant: &Tenant) -> String {
    let role = names.tenant(tenant.schema());
    let q = quote_ident(&role);
    let lit = quote_literal(&role);
    let schema = quote_literal(tenant.schema());
    let key = quote_literal(tenant.key());
    let group = quote_ident(names.tenants());
    let verifier = quote_literal(&secret.verifier(&role));
    format!(
        "DO $sea_tenancy$ BEGIN
           IF EXISTS (SELECT FROM public.sea_tenancy_tenants WHERE role = {lit} AND schema <> {schema}) THEN
             RAISE EXCEPTION 'sea-tenancy: role % already belongs to another tenant', {lit}
               USING ERRCODE = 'ST003', HINT = 'choose another tenant name, or drop the other tenant first';
           END IF;
           IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {lit}) THEN
             CREATE ROLE {q} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
           END IF;
         END $sea_tenancy$;
         ALTER ROLE {q} PASSWORD {verifier};
         GRANT {group} TO {q};
         INSERT INTO public.sea_tenancy_tenants (role, schema, key) VALUES ({lit}, {schema}, {key})
           ON CONFLICT (role) DO UPDATE SET key = EXCLUDED.key, moved_to = NULL;"
    )
}

/// Grants `tenant`'s role its schema: usage, DML on every table and sequence now and on those
/// later migrations create, nothing on the migration-tracking table.
///
/// The reporting group (`<ns>_reporting`, queries across tenants) gets `USAGE` and `SELECT` on
/// the same tables, now and through default privileges later — here, because this is the one
/// place every tenant schema gets its grants (provisioning, `migrate`, `roles sync`).
pub(crate) fn grant_sql(names: &RoleNames, tenant: &Tenant) -> String {
    let role = quote_ident(&names.tenant(tenant.schema()));
    let reporting = quote_ident(names.reporting());
    let s = tenant.quoted_schema();
    format!(
        "GRANT USAGE ON SCHEMA {s} TO {role}, {reporting};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {role};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {role};
         GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {reporting};
         ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};
         ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {role};
         ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {reporting};
         DO $sea_tenancy$ BEGIN
           IF to_regclass('{s}.seaql_migrations') IS NOT NULL THEN
             REVOKE ALL ON TABLE {s}.seaql_migrations FROM {role};
           END IF;
         END $sea_tenancy$;"
    )
}

/// [`ensure_sql`] and [`grant_sql`]: everything a tenant needs once its schema exists.
pub(crate) fn provision_sql(names: &RoleNames, secret: &LoginSecret, tenant: &Tenant) -> String {
    format!(
        "{}\n{}",
        ensure_sql(names, secret, tenant),
        grant_sql(names, tenant)
    )
}

/// After `ALTER SCHEMA old RENAME TO new`: the role follows (renamed, new password, new key),
/// keeping its grants. A tenant that had no role yet (created before roles existed) gets one.
pub(crate) fn rename_sql(
    names: &RoleNames,
    secret: &LoginSecret,
    old: &Tenant,
    new: &Tenant,
) -> String {
    let (old_role, new_role) = (names.tenant(old.schema()), names.tenant(new.schema()));
    let old_lit = quote_literal(&old_role);
    let new_schema = quote_literal(new.schema());
    format!(
        "DO $sea_tenancy$ BEGIN
           IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {old_lit}) THEN
             ALTER ROLE {} RENAME TO {};
           END IF;
         END $sea_tenancy$;
         UPDATE public.sea_tenancy_tenants SET role = {}, schema = {new_schema} WHERE role = {old_lit};
         {}",
        quote_ident(&old_role),
        quote_ident(&new_role),
        quote_literal(&new_role),
        provision_sql(names, secret, new)
    )
}

/// Takes `tenant`'s privileges on schema `schema` (its own, or the name it was fenced under)
/// away; its record here is deleted, or with `moved_to` kept and marked, so that its key raises
/// instead of finding no rows. The role itself stays (another database may still serve it).
pub(crate) fn revoke_sql(
    names: &RoleNames,
    tenant: &Tenant,
    schema: &str,
    moved_to: Option<&str>,
) -> String {
    let role = names.tenant(tenant.schema());
    let lit = quote_literal(&role);
    let record = match moved_to {
        Some(database) => format!(
            "UPDATE public.sea_tenancy_tenants SET moved_to = {} WHERE role = {lit};",
            quote_literal(database)
        ),
        None => format!("DELETE FROM public.sea_tenancy_tenants WHERE role = {lit};"),
    };
    format!("{record}\n{}", revoke_privileges_sql(&role, schema))
}

/// Everything `role` may do in `schema`, revoked — when both exist.
pub(crate) fn revoke_privileges_sql(role: &str, schema: &str) -> String {
    let q = quote_ident(role);
    let s = quote_ident(schema);
    format!(
        "DO $sea_tenancy$ BEGIN
           IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {})
              AND to_regnamespace({}) IS NOT NULL THEN
             REVOKE ALL ON SCHEMA {s} FROM {q};
             REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {q};
             REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {q};
             ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE ALL ON TABLES FROM {q};
             ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE ALL ON SEQUENCES FROM {q};
           END IF;
         END $sea_tenancy$;",
        quote_literal(role),
        quote_literal(&s),
    )
}

/// Removes `tenant`'s role: its record and privileges here, then the role itself. A role that
/// still holds privileges in another database of the server (a tenant placed there) cannot be
/// dropped from here; it is disabled instead (`NOLOGIN`, out of the group).
pub(crate) fn drop_sql(names: &RoleNames, tenant: &Tenant) -> String {
    let role = names.tenant(tenant.schema());
    let q = quote_ident(&role);
    let lit = quote_literal(&role);
    let group = quote_ident(names.tenants());
    format!(
        "{}
         DO $sea_tenancy$ BEGIN
           IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {lit}) THEN
             IF EXISTS (SELECT FROM pg_catalog.pg_shdepend d JOIN pg_catalog.pg_roles r ON r.oid = d.refobjid
                        WHERE r.rolname = {lit} AND d.dbid <> 0
                          AND d.dbid <> (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())) THEN
               ALTER ROLE {q} NOLOGIN;
               REVOKE {group} FROM {q};
             ELSE
               DROP ROLE {q};
             END IF;
           END IF;
         END $sea_tenancy$;",
        revoke_sql(names, tenant, tenant.schema(), None)
    )
}

//! The migration mirror: `public.sea_tenancy_migrations (tenant, version)`, one row per
//! migration applied in a tenant, written by the runners in the tenant's own migration
//! transaction and, on plain PostgreSQL, also kept by a trigger on each tenant's
//! `seaql_migrations` (so a `Migrator::up` run by hand shows at once). Citus refuses triggers on
//! distributed tables: there the mirror is a reference table, written by the runners only, and a
//! hand run shows at the tenant's next `migrate`.
//!
//! The tracking table inside each schema stays the truth (sea-orm-migration reads and writes
//! it); the mirror exists so that "who is behind?" over 10,000 tenants is one indexed query on
//! one table instead of 10,000 queries. The trigger keeps it in step with every insert and
//! delete — including those of a plain `Migrator::up` run by hand — inside the same
//! transaction, and [`sync`] re-derives a tenant's rows from its tracking table whenever a
//! runner visits it, so a schema renamed or restored by hand heals on its next migrate.

use sea_orm::{ConnectionTrait, DbErr};

use crate::tenant::Tenant;

/// The mirror table.
pub const TABLE: &str = "public.sea_tenancy_migrations";

/// Name of the trigger installed on every tenant's `seaql_migrations`.
pub const TRIGGER: &str = "sea_tenancy_mirror";

/// The mirror as a Citus reference table, created by `migrate` (see `roles::install`).
pub(crate) const CITUS_TABLE_SQL: &str = "CREATE TABLE IF NOT EXISTS public.sea_tenancy_migrations (tenant text NOT NULL, version text NOT NULL, PRIMARY KEY (tenant, version))";

/// Re-derives `tenant`'s rows of the mirror from its tracking table, in the caller's
/// transaction (one statement, for batching with others). On plain PostgreSQL it also creates
/// the mirror (once per database) and the trigger on `tenant`'s tracking table.
pub(crate) fn sync_sql(tenant: &Tenant, citus: bool) -> String {
    if citus {
        return resync_sql(tenant);
    }
    // Validated tenant names are [a-z0-9_]: safe both as a quoted identifier and as a literal.
    let q = tenant.quoted_schema();
    let lit = format!("'{}'", tenant.schema());
    format!(
        "DO $sea_tenancy$ BEGIN
           IF to_regclass('{TABLE}') IS NULL THEN
             PERFORM pg_advisory_xact_lock(hashtextextended('sea_tenancy:mirror', 0));
             IF to_regclass('{TABLE}') IS NULL THEN
               CREATE TABLE {TABLE} (tenant text NOT NULL, version text NOT NULL, PRIMARY KEY (tenant, version));
               CREATE OR REPLACE FUNCTION public.sea_tenancy_mirror_v1() RETURNS trigger LANGUAGE plpgsql AS $fn$
               BEGIN
                 IF TG_OP = 'INSERT' THEN
                   INSERT INTO {TABLE} (tenant, version) VALUES (TG_TABLE_SCHEMA, NEW.version) ON CONFLICT DO NOTHING;
                   RETURN NEW;
                 END IF;
                 DELETE FROM {TABLE} WHERE tenant = TG_TABLE_SCHEMA AND version = OLD.version;
                 RETURN OLD;
               END $fn$;
             END IF;
           END IF;
           IF to_regclass('{q}.seaql_migrations') IS NULL THEN
             DELETE FROM {TABLE} WHERE tenant = {lit};
             RETURN;
           END IF;
           IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = '{q}.seaql_migrations'::regclass AND tgname = '{TRIGGER}') THEN
             CREATE TRIGGER {TRIGGER} AFTER INSERT OR DELETE ON {q}.seaql_migrations
               FOR EACH ROW EXECUTE FUNCTION public.sea_tenancy_mirror_v1();
           END IF;
           {heal};
         END $sea_tenancy$",
        heal = heal_sql(tenant)
    )
}

/// [`sync_sql`]'s rows only, as plain statements, for a tenant whose trigger exists (so the
/// mirror does too): no PL/pgSQL block to compile on every visit.
pub(crate) fn heal_sql(tenant: &Tenant) -> String {
    let q = tenant.quoted_schema();
    let lit = format!("'{}'", tenant.schema());
    format!(
        "DELETE FROM {TABLE} m WHERE m.tenant = {lit}
           AND NOT EXISTS (SELECT 1 FROM {q}.seaql_migrations s WHERE s.version = m.version);
         INSERT INTO {TABLE} (tenant, version) SELECT {lit}, version FROM {q}.seaql_migrations
           ON CONFLICT DO NOTHING"
    )
}

/// Moves `old`'s rows to `new` after `ALTER SCHEMA .. RENAME`, in the caller's transaction.
pub(crate) async fn rename<C: ConnectionTrait>(
    db: &C,
    old: &Tenant,
    new: &Tenant,
) -> Result<(), DbErr> {
    db.execute_unprepared(&format!(
        "DO $sea_tenancy$ BEGIN
           IF to_regclass('{TABLE}') IS NOT NULL THEN
             DELETE FROM {TABLE} WHERE tenant = '{new}';
             UPDATE {TABLE} SET tenant = '{new}' WHERE tenant = '{old}';
           END IF;
         END $sea_tenancy$",
        new = new.schema(),
        old = old.schema()
    ))
    .await?;
    Ok(())
}

/// Forgets `tenant` after its schema was dropped, in the caller's transaction.
#[cfg(feature = "cli")]
pub(crate) async fn forget<C: ConnectionTrait>(db: &C, tenant: &Tenant) -> Result<(), DbErr> {
    db.execute_unprepared(&forget_sql(tenant)).await?;
    Ok(())
}

/// The statement that forgets `tenant` after its schema was dropped.
pub(crate) fn forget_sql(tenant: &Tenant) -> String {
    format!(
        "DO $sea_tenancy$ BEGIN
           IF to_regclass('{TABLE}') IS NOT NULL THEN
             DELETE FROM {TABLE} WHERE tenant = '{}';
           END IF;
         END $sea_tenancy$",
        tenant.schema()
    )
}

/// [`sync_sql`] without table or trigger: the rows only. The versions are read first and
/// written second, because Citus refuses a statement that reads a distributed table (the
/// tenant's tracking table) and modifies a reference table (the mirror) at once.
fn resync_sql(tenant: &Tenant) -> String {
    let q = tenant.quoted_schema();
    let lit = format!("'{}'", tenant.schema());
    format!(
        "DO $sea_tenancy$
         DECLARE
           applied text[];
         BEGIN
           IF to_regclass('{q}.seaql_migrations') IS NULL THEN
             DELETE FROM {TABLE} WHERE tenant = {lit};
             RETURN;
           END IF;
           SELECT coalesce(array_agg(version), '{{}}') INTO applied FROM {q}.seaql_migrations;
           DELETE FROM {TABLE} WHERE tenant = {lit} AND version <> ALL (applied);
           INSERT INTO {TABLE} (tenant, version) SELECT {lit}, unnest(applied)
             ON CONFLICT DO NOTHING;
         END $sea_tenancy$"
    )
}

//! The migration mirror: `public.sea_tenancy_migrations (tenant, version)`, one row per
//! migration applied in a tenant, kept by a trigger on each tenant's `seaql_migrations`.
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

/// Creates the mirror (once per database), installs the trigger on `tenant`'s tracking table
/// and re-syncs `tenant`'s rows — one round trip.
pub(crate) async fn sync<C: ConnectionTrait>(db: &C, tenant: &Tenant) -> Result<(), DbErr> {
    db.execute_unprepared(&sync_sql(tenant)).await?;
    Ok(())
}

/// The statement of [`sync`], for callers that batch it with others.
pub(crate) fn sync_sql(tenant: &Tenant) -> String {
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
           DELETE FROM {TABLE} m WHERE m.tenant = {lit}
             AND NOT EXISTS (SELECT 1 FROM {q}.seaql_migrations s WHERE s.version = m.version);
           INSERT INTO {TABLE} (tenant, version) SELECT {lit}, version FROM {q}.seaql_migrations
             ON CONFLICT DO NOTHING;
         END $sea_tenancy$"
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
pub(crate) async fn forget<C: ConnectionTrait>(db: &C, tenant: &Tenant) -> Result<(), DbErr> {
    db.execute_unprepared(&forget_sql(tenant)).await?;
    Ok(())
}

/// The statement of [`forget`].
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

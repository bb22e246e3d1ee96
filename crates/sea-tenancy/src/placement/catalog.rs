//! The tenant catalog: which database each tenant lives in, kept in the default database.
//!
//! - `public.sea_tenancy_databases`: the named databases (`default` is always there). A name's
//!   URL is stored here, or left `NULL` and supplied by the app's configuration, so that
//!   credentials need not live in a table.
//! - `public.sea_tenancy_tenant_databases`: list mapping, tenant schema → database (primary
//!   key lookup).
//! - `public.sea_tenancy_key_ranges`: range mapping, `[start, end)` of integer tenant keys →
//!   database. An exclusion constraint keeps ranges from overlapping, and its GiST index answers
//!   "which range holds key k" in O(log n).
//!
//! A list entry wins over a range; a tenant matching neither stays in the default database.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use super::PlacementError;
use super::url::DatabaseUrl;
use crate::tenant::Tenant;

/// The name of the database the app connects to first; it holds the catalog and system data.
pub const DEFAULT_DATABASE: &str = "default";

/// One named database of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseEntry {
    /// Its name.
    pub name: String,
    /// Its URL when stored in the catalog (`None`: from the app's configuration, or the
    /// default database).
    pub url: Option<DatabaseUrl>,
    /// Tenants listed to it.
    pub listed: i64,
    /// Key ranges mapped to it, as `[start, end)`.
    pub ranges: Vec<(i64, i64)>,
}

/// Creates the catalog tables in the default database (idempotent), and the move fence
/// (see [`install_fence`]).
pub async fn install<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    db.execute_unprepared(INSTALL_SQL).await?;
    install_fence(db).await
}

const INSTALL_SQL: &str = "
CREATE TABLE IF NOT EXISTS public.sea_tenancy_databases (
    name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    url text CHECK (url IS NULL OR name <> 'default')
);
INSERT INTO public.sea_tenancy_databases (name) VALUES ('default') ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS public.sea_tenancy_tenant_databases (
    tenant text PRIMARY KEY,
    database text NOT NULL REFERENCES public.sea_tenancy_databases (name) ON UPDATE CASCADE
);
CREATE TABLE IF NOT EXISTS public.sea_tenancy_key_ranges (
    keys int8range NOT NULL,
    database text NOT NULL REFERENCES public.sea_tenancy_databases (name) ON UPDATE CASCADE,
    CONSTRAINT sea_tenancy_key_ranges_disjoint EXCLUDE USING gist (keys WITH &&),
    CONSTRAINT sea_tenancy_key_ranges_bounded CHECK (NOT isempty(keys) AND NOT lower_inf(keys) AND NOT upper_inf(keys))
);";

/// Installs, in a database that holds tenants, the fence a move leaves behind: a table of
/// tenants that moved away and the function tenant transactions call to refuse them, so that a
/// process still routing a moved tenant here gets an error instead of writing to the old place.
/// The function also holds a shared advisory lock for the transaction, which `tenants move`
/// takes exclusively: moves and tenant transactions exclude each other.
pub async fn install_fence<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    db.execute_unprepared(FENCE_SQL).await?;
    Ok(())
}

/// The SQLSTATE the fence raises.
pub const MOVED_SQLSTATE: &str = "ST001";

const FENCE_SQL: &str = "
CREATE TABLE IF NOT EXISTS public.sea_tenancy_moved (
    tenant text PRIMARY KEY,
    database text NOT NULL,
    fenced_schema text,
    moved_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON public.sea_tenancy_moved FROM PUBLIC;
-- Runs as its owner: tenant roles may ask about themselves without reading the table.
CREATE OR REPLACE FUNCTION public.sea_tenancy_resident(t text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    target text;
BEGIN
    -- A tenant role asks about itself only (it must not learn of, or hold up, another's move).
    IF to_regclass('public.sea_tenancy_tenants') IS NOT NULL
       AND EXISTS (SELECT FROM public.sea_tenancy_tenants m WHERE m.role = session_user AND m.schema <> t) THEN
        RAISE EXCEPTION 'sea-tenancy: a tenant may only ask about its own placement' USING ERRCODE = '42501';
    END IF;
    SELECT database INTO target FROM public.sea_tenancy_moved WHERE tenant = t;
    IF FOUND THEN
        RAISE EXCEPTION 'sea-tenancy: tenant % has moved to database %', t, target
            USING ERRCODE = 'ST001', HINT = 'the catalog routes it there; refresh the placement cache';
    END IF;
    -- Held shared for the transaction: `tenants move` takes it exclusively, so a move never
    -- starts while a tenant transaction that could still write is open, and none starts during one.
    IF NOT pg_try_advisory_xact_lock_shared(hashtextextended('sea_tenancy_move:' || t, 0)) THEN
        RAISE EXCEPTION 'sea-tenancy: tenant % is being moved to another database right now', t
            USING ERRCODE = 'ST002', HINT = 'retry in a moment';
    END IF;
    RETURN true;
END $fn$;";

/// Whether the catalog is installed in `db`.
pub async fn is_installed<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT to_regclass('public.sea_tenancy_tenant_databases') IS NOT NULL AS present",
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get("", "present")?,
        None => false,
    })
}

/// Of `tables`, those that exist in `public` of the database: one query.
pub(crate) const PRESENT_TABLES_SQL: &str = "SELECT t::text FROM unnest($1::text[]) AS t WHERE to_regclass(format('public.%I', t)) IS NOT NULL";

/// A database name: `[a-z][a-z0-9_]*`, at most 63 bytes.
pub fn validate_database_name(name: &str) -> Result<(), PlacementError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(PlacementError::InvalidName(name.to_owned()))
    }
}

/// Adds (or updates the URL of) the database `name`. `url: None` means the app's configuration
/// supplies it.
pub async fn add_database<C: ConnectionTrait>(
    db: &C,
    name: &str,
    url: Option<&DatabaseUrl>,
) -> Result<(), PlacementError> {
    validate_database_name(name)?;
    if name == DEFAULT_DATABASE {
        return Err(PlacementError::DefaultIsFixed);
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO public.sea_tenancy_databases (name, url) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET url = EXCLUDED.url",
        [name.into(), url.map(|u| u.expose().to_owned()).into()],
    ))
    .await
    .map_err(missing_catalog)?;
    Ok(())
}

/// Maps `tenant` to `database` by list (replacing any earlier entry).
pub async fn assign<C: ConnectionTrait>(
    db: &C,
    tenant: &Tenant,
    database: &str,
) -> Result<(), PlacementError> {
    validate_database_name(database)?;
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO public.sea_tenancy_tenant_databases (tenant, database) VALUES ($1, $2)
         ON CONFLICT (tenant) DO UPDATE SET database = EXCLUDED.database",
        [tenant.schema().into(), database.into()],
    ))
    .await
    .map_err(|e| unknown_database(e, database))?;
    Ok(())
}

/// Removes `tenant`'s list entry (a range or the default then applies).
pub async fn unassign<C: ConnectionTrait>(db: &C, tenant: &Tenant) -> Result<(), PlacementError> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM public.sea_tenancy_tenant_databases WHERE tenant = $1",
        [tenant.schema().into()],
    ))
    .await
    .map_err(missing_catalog)?;
    Ok(())
}

/// Carries `old`'s list entry over to `new` (a renamed tenant keeps its place). Does nothing
/// when the catalog is not installed.
pub(crate) async fn rename_tenant<C: ConnectionTrait>(
    db: &C,
    old: &Tenant,
    new: &Tenant,
) -> Result<(), DbErr> {
    // Both names are validated tenant names (`[a-z0-9_]`): safe as literals.
    db.execute_unprepared(&format!(
        "DO $sea_tenancy$ BEGIN
           IF to_regclass('public.sea_tenancy_tenant_databases') IS NOT NULL THEN
             UPDATE public.sea_tenancy_tenant_databases SET tenant = '{}' WHERE tenant = '{}';
           END IF;
         END $sea_tenancy$",
        new.schema(),
        old.schema()
    ))
    .await?;
    Ok(())
}

/// Maps the integer tenant keys `start..end` (start inclusive, end exclusive) to `database`.
/// A range overlapping an existing one is refused.
pub async fn add_range<C: ConnectionTrait>(
    db: &C,
    database: &str,
    start: i64,
    end: i64,
) -> Result<(), PlacementError> {
    validate_database_name(database)?;
    if start >= end {
        return Err(PlacementError::EmptyRange { start, end });
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO public.sea_tenancy_key_ranges (keys, database) VALUES (int8range($1, $2, '[)'), $3)",
        [start.into(), end.into(), database.into()],
    ))
    .await
    .map_err(|e| match super::sqlstate(&e).as_deref() {
        Some("23P01") => PlacementError::Overlap { start, end },
        _ => unknown_database(e, database),
    })?;
    Ok(())
}

/// Every named database with its mappings, `default` first.
pub async fn databases<C: ConnectionTrait>(db: &C) -> Result<Vec<DatabaseEntry>, PlacementError> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT d.name, d.url,
                    (SELECT count(*) FROM public.sea_tenancy_tenant_databases t WHERE t.database = d.name) AS listed,
                    coalesce((SELECT array_agg(lower(r.keys) ORDER BY lower(r.keys)) FROM public.sea_tenancy_key_ranges r WHERE r.database = d.name), '{}') AS starts,
                    coalesce((SELECT array_agg(upper(r.keys) ORDER BY lower(r.keys)) FROM public.sea_tenancy_key_ranges r WHERE r.database = d.name), '{}') AS ends
               FROM public.sea_tenancy_databases d
              ORDER BY d.name <> 'default', d.name",
        ))
        .await
        .map_err(missing_catalog)?;
    rows.iter()
        .map(|row| {
            let url: Option<String> = row.try_get("", "url")?;
            let starts: Vec<i64> = row.try_get("", "starts")?;
            let ends: Vec<i64> = row.try_get("", "ends")?;
            Ok(DatabaseEntry {
                name: row.try_get("", "name")?,
                url: url.map(DatabaseUrl::new).transpose()?,
                listed: row.try_get("", "listed")?,
                ranges: starts.into_iter().zip(ends).collect(),
            })
        })
        .collect()
}

/// The database of each tenant (`None`: the default database), in input order: one query,
/// each tenant an index lookup.
pub async fn lookup<C: ConnectionTrait>(
    db: &C,
    tenants: &[Tenant],
) -> Result<Vec<Option<String>>, PlacementError> {
    let schemas: Vec<String> = tenants.iter().map(|t| t.schema().to_owned()).collect();
    let keys: Vec<String> = tenants.iter().map(|t| t.key().to_owned()).collect();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            LOOKUP_SQL,
            [schemas.into(), keys.into()],
        ))
        .await
        .map_err(missing_catalog)?;
    if rows.len() != tenants.len() {
        return Err(PlacementError::Db(DbErr::Custom(format!(
            "catalog lookup returned {} rows for {} tenants",
            rows.len(),
            tenants.len()
        ))));
    }
    rows.iter()
        .map(|row| {
            let name: Option<String> = row.try_get("", "database")?;
            Ok(name.filter(|n| n != DEFAULT_DATABASE))
        })
        .collect()
}

const LOOKUP_SQL: &str = "
SELECT coalesce(
         (SELECT l.database FROM public.sea_tenancy_tenant_databases l WHERE l.tenant = s.tenant),
         (SELECT r.database FROM public.sea_tenancy_key_ranges r WHERE r.keys @> s.key LIMIT 1)
       ) AS database
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(tenant, text_key, ord)
 CROSS JOIN LATERAL (
       -- Only integer keys fall in ranges (18 digits at most: no overflow).
       SELECT t.tenant, CASE WHEN t.text_key ~ '^-?[0-9]{1,18}$' THEN t.text_key::int8 END AS key, t.ord
     ) s
 ORDER BY s.ord";

/// The stored URL of `name` (`Ok(None)`: stored without one); unknown names are an error.
pub async fn stored_url<C: ConnectionTrait>(
    db: &C,
    name: &str,
) -> Result<Option<DatabaseUrl>, PlacementError> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT url FROM public.sea_tenancy_databases WHERE name = $1",
            [name.into()],
        ))
        .await
        .map_err(missing_catalog)?
        .ok_or_else(|| PlacementError::UnknownDatabase(name.to_owned()))?;
    let url: Option<String> = row.try_get("", "url")?;
    Ok(url.map(DatabaseUrl::new).transpose()?)
}

fn missing_catalog(e: DbErr) -> PlacementError {
    if super::sqlstate(&e).as_deref() == Some("42P01") {
        PlacementError::CatalogMissing
    } else {
        PlacementError::Db(e)
    }
}

fn unknown_database(e: DbErr, database: &str) -> PlacementError {
    if super::sqlstate(&e).as_deref() == Some("23503") {
        PlacementError::UnknownDatabase(database.to_owned())
    } else {
        missing_catalog(e)
    }
}

//! Who is behind? The migration state of every tenant in one query.
//!
//! Asking each tenant's migrator costs one round trip (or several) per tenant — the reason
//! django-tenants spends 15 minutes on a no-op deploy over 300 schemas. Here the server reads
//! every tenant's `seaql_migrations` in a single statement (`query_to_xml` runs the per-schema
//! query server-side), and the runners migrate only the tenants that need it.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use sea_orm_migration::MigratorTrait;

use super::mirror;
use crate::tenant::Tenant;

/// The migration state of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantStatus {
    /// The tenant.
    pub tenant: Tenant,
    /// Its state.
    pub state: State,
    /// Migrations of the binary applied in it.
    pub applied: usize,
    /// Migrations of the binary not yet applied.
    pub pending: usize,
    /// The last applied version, if any.
    pub last: Option<String>,
    /// The schema has a `seaql_migrations` tracking table.
    pub tracked: bool,
    /// Its tracking table is mirrored into `public.sea_tenancy_migrations`.
    pub mirrored: bool,
}

/// Where a tenant stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Every migration of the binary is applied.
    Current,
    /// Some are pending.
    Behind,
    /// The schema does not exist yet (`migrate` creates it).
    MissingSchema,
    /// The schema exists and holds tables, but no tracking table: refusing to guess.
    Untracked,
    /// The database records migrations this binary does not have (a newer deploy ran?).
    UnknownMigrations(Vec<String>),
}

impl State {
    /// A short word for tables.
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Current => "current",
            State::Behind => "behind",
            State::MissingSchema => "missing schema",
            State::Untracked => "untracked",
            State::UnknownMigrations(_) => "unknown migrations",
        }
    }

    /// Whether `migrate` can bring the tenant up to date.
    pub fn is_migratable(&self) -> bool {
        matches!(self, State::Behind | State::MissingSchema)
    }
}

impl State {
    /// The error `migrate` reports for `tenant` in this state when it must not touch it.
    pub(crate) fn blocker(&self, tenant: &Tenant) -> Option<String> {
        match self {
            State::Untracked => Some(format!(
                "schema `{tenant}` holds tables but no seaql_migrations tracking table; refusing to migrate it (create the table with the versions it holds, or drop the schema)"
            )),
            State::UnknownMigrations(versions) => Some(format!(
                "schema `{tenant}` has applied migrations this binary does not contain: {}; deploy the binary that has them",
                versions.join(", ")
            )),
            _ => None,
        }
    }
}

impl TenantStatus {
    /// The error `migrate` reports for a tenant it must not touch, if any.
    pub fn blocker(&self) -> Option<String> {
        self.state.blocker(&self.tenant)
    }
}

/// A tenant's state from what its catalogs and tracking table say.
pub(crate) fn classify(
    exists: bool,
    tracked: bool,
    has_tables: bool,
    unknown: Vec<String>,
    pending: usize,
) -> State {
    if !exists {
        State::MissingSchema
    } else if !tracked && has_tables {
        State::Untracked
    } else if !unknown.is_empty() {
        State::UnknownMigrations(unknown)
    } else if pending > 0 {
        State::Behind
    } else {
        State::Current
    }
}

/// The migration names of `M`, in order.
pub fn versions<M: MigratorTrait>() -> Vec<String> {
    M::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

/// The state of every tenant in `tenants` against `M`'s migrations.
///
/// Two round trips whatever the number of tenants: one to see whether the mirror exists, one
/// joining the catalogs with the mirror. Tenants whose tracking table is not mirrored yet (a
/// database migrated before the mirror existed) are read from their own tables in one more
/// query, server-side.
pub async fn status<M: MigratorTrait, C: ConnectionTrait>(
    db: &C,
    tenants: &[Tenant],
) -> Result<Vec<TenantStatus>, DbErr> {
    let expected = versions::<M>();
    let schemas: Vec<String> = tenants.iter().map(|t| t.schema().to_owned()).collect();
    let found = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT to_regclass('{}') IS NOT NULL AS present,
                        EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') AS citus",
                mirror::TABLE
            ),
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the mirror".to_owned()))?;
    let mirror: bool = found.try_get("", "present")?;
    let citus: bool = found.try_get("", "citus")?;
    if !mirror {
        let rows = query(db, TABLES_SQL, &schemas, &expected).await?;
        return tenants
            .iter()
            .zip(rows)
            .map(|(tenant, row)| parse(tenant, &row, None, expected.len()))
            .collect();
    }
    // The catalogs and the mirror in two queries rather than one join: on Citus the mirror is
    // a reference table, and joining it with the catalogs row by row costs seconds per 1,000.
    let rows = query(db, CATALOG_SQL, &schemas, &expected).await?;
    let mut applied: HashMap<String, Applied> = HashMap::new();
    for row in query(db, MIRROR_ROWS_SQL, &schemas, &expected).await? {
        applied.insert(
            row.try_get("", "tenant")?,
            Applied {
                applied: row.try_get("", "applied")?,
                unknown: row.try_get("", "unknown")?,
                last: row.try_get("", "last")?,
            },
        );
    }
    let mut out = Vec::with_capacity(tenants.len());
    let mut unmirrored = Vec::new();
    for (i, (tenant, row)) in tenants.iter().zip(rows).enumerate() {
        let rows_of = applied.remove(tenant.schema());
        let mut st = parse(tenant, &row, Some(rows_of.as_ref()), expected.len())?;
        // On Citus, where triggers are refused, the runners write the mirror: a tenant is
        // mirrored once its rows are there.
        st.mirrored |= citus && rows_of.is_some();
        if st.tracked && !st.mirrored {
            unmirrored.push(i);
        }
        out.push(st);
    }
    if !unmirrored.is_empty() {
        let subset: Vec<String> = unmirrored.iter().map(|&i| schemas[i].clone()).collect();
        let rows = query(db, TABLES_SQL, &subset, &expected).await?;
        for (&i, row) in unmirrored.iter().zip(rows) {
            out[i] = parse(&tenants[i], &row, None, expected.len())?;
            out[i].mirrored = false;
        }
    }
    Ok(out)
}

/// A tenant's versions as the mirror records them.
struct Applied {
    applied: i64,
    unknown: Option<Vec<String>>,
    last: Option<String>,
}

async fn query<C: ConnectionTrait>(
    db: &C,
    sql: &str,
    schemas: &[String],
    expected: &[String],
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [schemas.to_vec().into(), expected.to_vec().into()],
    ))
    .await
}

/// One tenant's status from its catalog row and — when `mirrored` is given — its mirror rows
/// (`Some(None)`: none), else the versions the row read from its own tracking table.
fn parse(
    tenant: &Tenant,
    row: &sea_orm::QueryResult,
    mirrored_rows: Option<Option<&Applied>>,
    expected: usize,
) -> Result<TenantStatus, DbErr> {
    let exists: bool = row.try_get("", "schema_exists")?;
    let tracked: bool = row.try_get("", "tracked")?;
    let mirrored: bool = row.try_get("", "mirrored")?;
    let has_tables: bool = row.try_get("", "has_tables")?;
    let (applied, unknown, last) = match mirrored_rows {
        // Mirror rows count only for a schema that has its tracking table.
        Some(Some(a)) if tracked => (a.applied, a.unknown.clone(), a.last.clone()),
        Some(_) => (0, None, None),
        None => (
            row.try_get::<Option<i64>>("", "applied")?.unwrap_or(0),
            row.try_get("", "unknown")?,
            row.try_get("", "last")?,
        ),
    };
    let applied = applied as usize;
    let unknown = unknown.unwrap_or_default();
    let pending = expected.saturating_sub(applied);
    let state = classify(exists, tracked, has_tables, unknown, pending);
    Ok(TenantStatus {
        tenant: tenant.clone(),
        state,
        applied,
        pending,
        last,
        tracked,
        mirrored,
    })
}

/// The catalog part shared by both queries: one row per input schema, in input order, every
/// lookup through a catalog index. `$mirrored` says whether the tenant's tracking table is kept
/// in the mirror. Whether a schema holds tables matters only for a schema without a tracking
/// table (rare: `pg_class` has no index on the namespace alone), so it is asked only there: a
/// pass over `pg_class` joined by hash was re-run per input row once the planner's statistics
/// of the catalogs lagged behind thousands of new schemas (minutes at 10,000 tenants), and a
/// per-schema `EXISTS` for every tenant made status quadratic (8.5 s for 1,001 tenants on
/// Citus, whose coordinator lists every shard).
macro_rules! status_sql {
    ($mirrored:literal, $applied:literal) => {
        concat!(
            "SELECT s.ord,
                    n.oid IS NOT NULL AS schema_exists,
                    t.oid IS NOT NULL AS tracked,
                    ",
            $mirrored,
            " AS mirrored,
                    CASE WHEN n.oid IS NOT NULL AND t.oid IS NULL
                         THEN EXISTS (SELECT 1 FROM pg_class c
                                       WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p'))
                         ELSE false END AS has_tables,
                    a.applied, a.unknown, a.last
               FROM unnest($1::text[]) WITH ORDINALITY AS s(schema, ord)
               LEFT JOIN pg_namespace n ON n.nspname = s.schema
               LEFT JOIN pg_class t ON t.relnamespace = n.oid AND t.relname = 'seaql_migrations' ",
            $applied,
            " ORDER BY s.ord"
        )
    };
}

/// The catalogs of each tenant: whether its schema, tracking table, trigger and tables exist.
const CATALOG_SQL: &str = status_sql!(
    "EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = t.oid AND g.tgname = 'sea_tenancy_mirror')",
    "CROSS JOIN (SELECT NULL::bigint AS applied, NULL::text[] AS unknown, NULL::text AS last WHERE $2::text[] IS NOT NULL) a"
);

/// Applied versions from the mirror: one indexed scan of one table.
const MIRROR_ROWS_SQL: &str = "
SELECT tenant,
       count(*) FILTER (WHERE version = ANY($2::text[])) AS applied,
       array_agg(version ORDER BY version) FILTER (WHERE NOT version = ANY($2::text[])) AS unknown,
       max(version) AS last
  FROM public.sea_tenancy_migrations
 WHERE tenant = ANY($1::text[])
 GROUP BY tenant";

/// Applied versions from each tenant's own tracking table, read server-side with
/// `query_to_xml` (the slow path: a small query planned per tenant).
const TABLES_SQL: &str = status_sql!(
    "EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = t.oid AND g.tgname = 'sea_tenancy_mirror')",
    "LEFT JOIN LATERAL (
        SELECT (xpath('/row/applied/text()', x))[1]::text::bigint AS applied,
               string_to_array(NULLIF((xpath('/row/unknown/text()', x))[1]::text, ''), ',') AS unknown,
               (xpath('/row/last/text()', x))[1]::text AS last
          FROM (SELECT query_to_xml(format(
                 'SELECT count(*) FILTER (WHERE version = ANY(%L::text[])) AS applied,
                         string_agg(version, '','' ORDER BY version) FILTER (WHERE NOT version = ANY(%L::text[])) AS unknown,
                         max(version) AS last
                    FROM %I.seaql_migrations',
                 $2::text[], $2::text[], s.schema), false, true, '') AS x
                 WHERE t.oid IS NOT NULL) q
     ) a ON true"
);

//! What can go wrong reading across tenants, and finding *which* tenant it was.
//!
//! One statement reads hundreds of tenants: when PostgreSQL refuses it ("relation
//! `org_7.posts` does not exist", "permission denied for schema org_7"), the caller must learn
//! which tenant is behind and what to do, never get a silently shorter answer. A failed chunk is
//! therefore followed by one catalog query that names the first tenant whose schema or table is
//! missing or unreadable.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use crate::error::TenancyError;
use crate::tenant::Tenant;

/// An error of [`super::Across`].
#[derive(Debug, thiserror::Error)]
pub enum AcrossError {
    /// The connection is not a reporting login (or holds more than one may).
    #[error("sea-tenancy: queries across tenants need a reporting login: {0}")]
    NotReporting(TenancyError),
    /// The entity is not multitenant: query it on an ordinary connection.
    #[error(
        "sea-tenancy: table `{table}` is not multitenant; query it directly, not across tenants"
    )]
    NotMultitenant {
        /// The entity's table.
        table: String,
    },
    /// The statement reads tables of both strategies: each tenant's branch would join every
    /// tenant's attribute rows, which no tenant connection could.
    #[error(
        "sea-tenancy: `{table}` and `{other}` are multitenant with different strategies; query each across tenants on its own"
    )]
    Mixed {
        /// The entity's table.
        table: String,
        /// The table of the other strategy.
        other: String,
    },
    /// One tenant cannot answer: its schema or table is missing (behind on migrations) or the
    /// reporting group was never granted it.
    #[error(
        "sea-tenancy: tenant `{tenant}` cannot be read across tenants: {problem} `{table}`; {fix}"
    )]
    Tenant {
        /// The tenant's schema.
        tenant: String,
        /// The table (schema-qualified).
        table: String,
        /// What is wrong.
        problem: &'static str,
        /// What to do.
        fix: &'static str,
    },
    /// A statement over tenants `first..=last` failed for a reason no single tenant explains.
    #[error("sea-tenancy: query across tenants {first}..={last} failed: {source}")]
    Query {
        /// First tenant of the failed chunk.
        first: String,
        /// Last tenant of the failed chunk.
        last: String,
        /// PostgreSQL's error.
        source: DbErr,
    },
    /// A database of the placement catalog cannot be logged into as the reporting login.
    #[error(
        "sea-tenancy: database `{database}`: the reporting login cannot log in ({reason}); create it on that server with `<app> roles reporting create NAME`, which covers every database of the catalog"
    )]
    Database {
        /// The database's name in the catalog.
        database: String,
        /// What the driver said, password masked.
        reason: String,
    },
    /// Splitting the tenants by database failed (catalog missing, a database without URL).
    #[error(transparent)]
    Placement(crate::placement::PlacementError),
    /// The query could not be built (e.g. it names another schema explicitly).
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
    /// Any other database error.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// For each tenant (in order) and each schema table, the first problem, if any: the catalogs
/// are read directly, so the answer does not depend on the privileges being diagnosed.
const DIAGNOSE_SQL: &str = "
SELECT s.schema, t.name,
       CASE WHEN n.oid IS NULL THEN 'no schema for'
            WHEN NOT has_schema_privilege(n.oid, 'USAGE') THEN 'no USAGE on the schema of'
            WHEN c.oid IS NULL THEN 'no table'
            WHEN NOT has_table_privilege(c.oid, 'SELECT') THEN 'no SELECT on'
       END AS problem
  FROM unnest($1::text[]) WITH ORDINALITY AS s(schema, i)
 CROSS JOIN unnest($2::text[]) AS t(name)
  LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = s.schema
  LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.name
 ORDER BY s.i, t.name";

/// [`AcrossError::Query`] for the failure of a statement over `tenants`.
pub(super) fn query_failed(tenants: &[&Tenant], err: DbErr) -> AcrossError {
    match (tenants.first(), tenants.last()) {
        (Some(first), Some(last)) => AcrossError::Query {
            first: first.schema().to_owned(),
            last: last.schema().to_owned(),
            source: err,
        },
        _ => AcrossError::Db(err),
    }
}

/// Turns `err`, the failure of a statement over `tenants` reading `tables`, into an error
/// naming the first tenant that cannot answer, or [`AcrossError::Query`] if none.
pub(super) async fn diagnose<C: ConnectionTrait>(
    db: &C,
    tenants: &[&Tenant],
    tables: &[String],
    err: DbErr,
) -> AcrossError {
    let query = |first: &str, last: &str, source| AcrossError::Query {
        first: first.to_owned(),
        last: last.to_owned(),
        source,
    };
    let (first, last) = match (tenants.first(), tenants.last()) {
        (Some(f), Some(l)) => (f.schema(), l.schema()),
        _ => return AcrossError::Db(err),
    };
    let schemas: Vec<String> = tenants.iter().map(|t| t.schema().to_owned()).collect();
    let rows = match db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            DIAGNOSE_SQL,
            [schemas.into(), tables.to_vec().into()],
        ))
        .await
    {
        Ok(rows) => rows,
        Err(_) => return query(first, last, err),
    };
    for row in rows {
        let problem: Option<String> = row.try_get("", "problem").ok().flatten();
        let Some(problem) = problem else { continue };
        let (Ok(schema), Ok(table)) = (
            row.try_get::<String>("", "schema"),
            row.try_get::<String>("", "name"),
        ) else {
            continue;
        };
        let (problem, fix) = match problem.as_str() {
            "no schema for" => (
                "no schema for",
                "create the tenant (or drop it from the tenant list)",
            ),
            "no table" => (
                "no table",
                "the tenant is behind on migrations: run `<app> migrate`",
            ),
            "no USAGE on the schema of" => (
                "no USAGE on the schema of",
                "the reporting group was not granted this tenant: run `<app> roles sync`",
            ),
            _ => (
                "no SELECT on",
                "the reporting group was not granted this table: run `<app> roles sync`",
            ),
        };
        return AcrossError::Tenant {
            table: format!("{schema}.{table}"),
            tenant: schema,
            problem,
            fix,
        };
    }
    query(first, last, err)
}

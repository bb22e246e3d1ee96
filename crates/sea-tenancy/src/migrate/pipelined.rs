//! Migrating one tenant in two round trips.
//!
//! The general runner ([`super::migrate_tenant`]) speaks through a SeaORM transaction: BEGIN,
//! the tenant's lock, its state, its applied versions, the batch, COMMIT — six round trips,
//! each waiting for the one before, and a `status` query under the lock built for thousands of
//! tenants (one pass over `pg_class`, which grows with every tenant). When the tenant set can
//! be replayed as a recorded script (see `script`), the client only needs to look at one result
//! — the tenant's state — to choose the statements, so the same work fits in two
//! simple-protocol queries on one pooled connection:
//!
//! 1. `BEGIN; SELECT pg_advisory_xact_lock(..); SELECT <state, versions>` — each statement of a
//!    simple query takes its own snapshot, so the state is read once the lock is held, and a
//!    concurrent runner's committed work is visible (as in the general runner);
//! 2. `[CREATE SCHEMA;] search path; pending statements; version rows; mirror; [role;] COMMIT`.
//!
//! The probe reads one schema through the catalogs' indexes and its tracking table with
//! `query_to_xml` (dynamic SQL without a function of ours), so its cost does not grow with the
//! number of tenants. On an error the connection sends ROLLBACK before it goes back to the
//! pool; a future dropped mid-way closes its connection instead (the server rolls back), so the
//! pool never hands out a connection inside a transaction.
//!
//! Not used on Citus (DDL of distributed schemas goes statement by statement), for a set that
//! must go through the migrator, or for a set with migrations outside a transaction.

use std::collections::HashSet;

use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::{self, AssertSqlSafe, Row};
use sea_orm::{DatabaseConnection, DbErr, RuntimeErr};
use sea_orm_migration::MigratorTrait;

use super::connections::{Open, RunConnections, Source, pool};
use super::mirror;
use super::script::{Recorded, recorded};
use super::status::{State, TenantStatus, classify};
use crate::app::Setup;
use crate::error::TenancyError;
use crate::roles::tenant as role;
use crate::session;
use crate::tenant::{Tenant, quote_literal};

/// Migrates (or, with `create`, creates) `tenant` in two round trips; `None` when this runner
/// does not apply and the general one must run. Returns how many migrations it applied.
pub(crate) async fn migrate<M: MigratorTrait + 'static>(
    db: &DatabaseConnection,
    tenant: &Tenant,
    roles: &Setup,
    create: bool,
) -> Option<Result<usize, DbErr>> {
    let source = Source::Pool(pool(db)?);
    migrate_on::<M>(source, tenant, roles, create).await
}

/// [`migrate`] on connections from `source`.
async fn migrate_on<M: MigratorTrait + 'static>(
    source: Source<'_>,
    tenant: &Tenant,
    roles: &Setup,
    create: bool,
) -> Option<Result<usize, DbErr>> {
    // `recorded` is `None` for a set that must go through the migrator, including one with a
    // migration outside a transaction.
    if roles.citus {
        return None;
    }
    let recorded = recorded::<M>().await?;
    let mut open = match source.lease().await {
        Ok(open) => open,
        Err(e) => return Some(Err(e)),
    };
    let result = run(&mut open, tenant, roles, create, &recorded).await;
    if result.is_err() {
        open.rollback().await;
    }
    // Committed or rolled back.
    source.release(open).await;
    Some(result)
}

/// [`migrate`] for a tenant whose state a `status` query just read (`known`, outside the
/// lock): in **one** round trip, betting that nothing changed meanwhile. The batch asserts the
/// bet under the lock — the tracking table holds exactly the versions `known` implies, or the
/// schema does not exist yet (CREATE SCHEMA fails otherwise) — and when another runner won the
/// race, the transaction rolls back and the tenant goes the two-round-trip way.
pub(crate) async fn migrate_known<M: MigratorTrait + 'static>(
    run: &RunConnections,
    known: &TenantStatus,
    roles: &Setup,
) -> Option<Result<usize, DbErr>> {
    let source = Source::Run(run);
    if roles.citus {
        return None;
    }
    let found = match known.state {
        State::MissingSchema => Found {
            exists: false,
            tracked: false,
            mirror: Mirror::Sync,
        },
        State::Behind if known.tracked && known.mirrored => Found {
            exists: true,
            tracked: true,
            mirror: Mirror::Asserted,
        },
        _ => return None,
    };
    let recorded = recorded::<M>().await?;
    let tenant = &known.tenant;
    // Applied in order, as the runners apply them; a tenant migrated out of order fails the
    // assertion and takes the other way.
    let applied: HashSet<String> = recorded
        .versions()
        .take(known.applied)
        .map(str::to_owned)
        .collect();
    let assertion = if found.exists {
        assert_sql(tenant, &applied)
    } else {
        String::new()
    };
    let sql = format!(
        "BEGIN;\n{};\n{assertion}{}",
        lock_sql(tenant),
        batch(tenant, &recorded, &applied, found, roles)
    );
    let mut open = match source.lease().await {
        Ok(open) => open,
        Err(e) => return Some(Err(e)),
    };
    let result = sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut *open.conn())
        .await;
    let err = match result {
        Ok(_) => {
            source.release(open).await;
            return Some(Ok(known.pending));
        }
        Err(e) => sqlx_error_to_exec_err(e),
    };
    open.rollback().await;
    source.release(open).await;
    match crate::error::sqlstate(&err).as_deref() {
        Some(CHANGED_SQLSTATE) => {}
        Some("42P06") if !found.exists => {}
        _ => return Some(Err(err)),
    }
    migrate_on::<M>(source, tenant, roles, false).await
}

/// Raised by [`assert_sql`]; never reaches the caller.
const CHANGED_SQLSTATE: &str = "ST005";

/// Fails with [`CHANGED_SQLSTATE`] unless `tenant`'s tracking table and its rows of the mirror
/// both hold exactly `applied` (a PL/pgSQL block costs ~0.01 ms more than the bare query).
fn assert_sql(tenant: &Tenant, applied: &HashSet<String>) -> String {
    let mut versions: Vec<&String> = applied.iter().collect();
    versions.sort();
    let list = versions
        .iter()
        .map(|v| format!("'{}'", v.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "DO $sea_tenancy$ BEGIN
           IF (SELECT coalesce(array_agg(version::text ORDER BY version COLLATE \"C\"), '{{}}')
                 FROM {q}.seaql_migrations) IS DISTINCT FROM ARRAY[{list}]::text[]
              OR (SELECT coalesce(array_agg(version ORDER BY version COLLATE \"C\"), '{{}}')
                    FROM {mirror} WHERE tenant = '{schema}') IS DISTINCT FROM ARRAY[{list}]::text[] THEN
             RAISE EXCEPTION 'sea-tenancy: the migrations of % changed under the lock', '{schema}'
               USING ERRCODE = '{CHANGED_SQLSTATE}';
           END IF;
         END $sea_tenancy$;\n",
        q = tenant.quoted_schema(),
        schema = tenant.schema(),
        mirror = mirror::TABLE,
    )
}

/// The tenant's transaction-level lock, the one [`super::lock`] takes.
fn lock_sql(tenant: &Tenant) -> String {
    super::lock_sql(&quote_literal(tenant.schema()))
}

async fn run(
    open: &mut Open,
    tenant: &Tenant,
    roles: &Setup,
    create: bool,
    recorded: &Recorded,
) -> Result<usize, DbErr> {
    let conn = open.conn();
    let probe = format!("BEGIN;\n{};\n{}", lock_sql(tenant), probe_sql(tenant));
    let rows = sqlx::raw_sql(AssertSqlSafe(probe))
        .fetch_all(&mut *conn)
        .await
        .map_err(sqlx_error_to_query_err)?;
    let probe = Probe::read(
        rows.last()
            .ok_or_else(|| DbErr::Custom("the migration state query returned no row".into()))?,
    )?;
    if create && probe.exists {
        return Err(TenancyError::TenantExists(tenant.schema().to_owned()).into());
    }
    let expected: HashSet<&str> = recorded.versions().collect();
    let applied: HashSet<String> = probe.versions.into_iter().collect();
    let unknown: Vec<String> = {
        let mut u: Vec<String> = applied
            .iter()
            .filter(|v| !expected.contains(v.as_str()))
            .cloned()
            .collect();
        u.sort();
        u
    };
    let pending = expected.iter().filter(|v| !applied.contains(**v)).count();
    let state = classify(
        probe.exists,
        probe.tracked,
        probe.has_tables,
        unknown,
        pending,
    );
    if let Some(blocker) = state.blocker(tenant) {
        return Err(DbErr::Custom(blocker));
    }

    let batch = batch(
        tenant,
        recorded,
        &applied,
        Found {
            exists: probe.exists,
            tracked: probe.tracked,
            mirror: if probe.mirrored {
                Mirror::Heal
            } else {
                Mirror::Sync
            },
        },
        roles,
    );
    sqlx::raw_sql(AssertSqlSafe(batch))
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            let err = sqlx_error_to_exec_err(e);
            match crate::error::sqlstate(&err).as_deref() {
                Some("42P06") if create => {
                    TenancyError::TenantExists(tenant.schema().to_owned()).into()
                }
                _ => err,
            }
        })?;
    Ok(pending)
}

/// What the catalogs say of a tenant: the batch depends on it.
#[derive(Clone, Copy)]
struct Found {
    exists: bool,
    tracked: bool,
    mirror: Mirror,
}

/// What the batch does for the migration mirror.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mirror {
    /// No trigger yet: create what is missing and re-derive the rows (`mirror::sync_sql`).
    Sync,
    /// The trigger exists: re-derive the tenant's rows in plain statements.
    Heal,
    /// The trigger exists and the rows were asserted equal to the tracking table: the trigger
    /// adds the new versions, nothing else to do.
    Asserted,
}

/// Everything after the lock and the state: `[CREATE SCHEMA;]` search path, the statements of
/// the migrations not in `applied` with their version rows, the mirror, `[role;]` COMMIT.
fn batch(
    tenant: &Tenant,
    recorded: &Recorded,
    applied: &HashSet<String>,
    found: Found,
    roles: &Setup,
) -> String {
    let mut batch = String::new();
    if !found.exists {
        batch.push_str(&format!("CREATE SCHEMA {};\n", tenant.quoted_schema()));
    }
    batch.push_str(&format!(
        "SELECT set_config('search_path', '{}', true);\n",
        session::search_path_of(tenant)
    ));
    let statements = if found.tracked {
        recorded.pending(applied)
    } else {
        recorded.statements(applied)
    };
    for statement in statements {
        batch.push_str(&statement);
        batch.push_str(";\n");
    }
    // The trigger keeps the mirror in step with the version rows just written; a visit still
    // re-derives the tenant's rows (a schema restored by hand heals) unless they were asserted.
    match found.mirror {
        Mirror::Sync => batch.push_str(&format!("{};\n", mirror::sync_sql(tenant, false))),
        Mirror::Heal => batch.push_str(&format!("{};\n", mirror::heal_sql(tenant))),
        Mirror::Asserted => {}
    }
    if !found.tracked {
        // A tenant's first migration run also gives it its role.
        batch.push_str(&role::provision_sql(&roles.names, &roles.secret, tenant));
        batch.push('\n');
    }
    batch.push_str("COMMIT");
    batch
}

/// One tenant's state, read through the catalogs' indexes, and its applied versions.
fn probe_sql(tenant: &Tenant) -> String {
    let q = tenant.quoted_schema().replace('\'', "''");
    format!(
        "SELECT n.oid IS NOT NULL AS schema_exists,
                t.oid IS NOT NULL AS tracked,
                EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g
                         WHERE g.tgrelid = t.oid AND g.tgname = '{trigger}') AS mirrored,
                CASE WHEN n.oid IS NOT NULL AND t.oid IS NULL
                     THEN EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                                   WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p'))
                     ELSE false END AS has_tables,
                CASE WHEN t.oid IS NOT NULL
                     THEN ARRAY(SELECT v::text FROM unnest(xpath('//row/v/text()',
                            query_to_xml('SELECT version AS v FROM {q}.seaql_migrations',
                                         false, false, ''))) AS v)
                     ELSE '{{}}'::text[] END AS versions
           FROM (SELECT '{schema}'::name AS schema) s
           LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = s.schema
           LEFT JOIN pg_catalog.pg_class t
                  ON t.relnamespace = n.oid AND t.relname = 'seaql_migrations'",
        trigger = mirror::TRIGGER,
        schema = tenant.schema(),
    )
}

struct Probe {
    exists: bool,
    tracked: bool,
    mirrored: bool,
    has_tables: bool,
    versions: Vec<String>,
}

impl Probe {
    fn read(row: &PgRow) -> Result<Self, DbErr> {
        let get = |e: sqlx::Error| sqlx_error_to_query_err(e);
        Ok(Probe {
            exists: row.try_get("schema_exists").map_err(get)?,
            tracked: row.try_get("tracked").map_err(get)?,
            mirrored: row.try_get("mirrored").map_err(get)?,
            has_tables: row.try_get("has_tables").map_err(get)?,
            versions: row.try_get("versions").map_err(get)?,
        })
    }
}

/// As SeaORM reports a failed query and a failed statement.
fn sqlx_error_to_query_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(e.into()))
}

fn sqlx_error_to_exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(e.into()))
}

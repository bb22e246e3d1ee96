//! The public set's place in `migrate` and `status`: what was applied, what is pending.
//!
//! Read without writing: a database never migrated has no tracking table yet, and `status`
//! must not create one (sea-orm-migration's own status installs it).

use std::collections::HashSet;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use sea_orm_migration::MigratorTrait;

use super::State;

/// Where the public set of one database stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicStatus {
    /// Migrations of the set recorded as applied.
    pub applied: usize,
    /// Migrations of the set not applied yet.
    pub pending: usize,
    /// `Current`, `Behind`, or `UnknownMigrations` (recorded versions this program lacks).
    pub state: State,
    /// The newest applied version.
    pub last: Option<String>,
}

/// The public set `M` in `db`.
pub async fn public_status<M: MigratorTrait, C: ConnectionTrait>(
    db: &C,
) -> Result<PublicStatus, DbErr> {
    let table = M::migration_table_name().to_string();
    let recorded: Vec<String> = match db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT to_regclass(format('public.%I', $1::text)) IS NOT NULL AS present",
            [table.clone().into()],
        ))
        .await?
    {
        Some(row) if row.try_get::<bool>("", "present")? => db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT version FROM public.{} ORDER BY version",
                    crate::tenant::quote_ident(&table)
                ),
            ))
            .await?
            .iter()
            .map(|r| r.try_get::<String>("", "version"))
            .collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    let known: Vec<String> = M::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let applied: HashSet<&str> = recorded.iter().map(String::as_str).collect();
    let pending = known
        .iter()
        .filter(|v| !applied.contains(v.as_str()))
        .count();
    let unknown: Vec<String> = recorded
        .iter()
        .filter(|v| !known.contains(v))
        .cloned()
        .collect();
    let state = if !unknown.is_empty() {
        State::UnknownMigrations(unknown)
    } else if pending > 0 {
        State::Behind
    } else {
        State::Current
    };
    Ok(PublicStatus {
        applied: recorded.len(),
        pending,
        state,
        last: recorded.last().cloned(),
    })
}

/// Undoes the last `steps` applied migrations of `app`'s public set, newest first, in one
/// transaction under the public set's lock (the one `migrate` takes): all of them or, when a
/// `down` fails — e.g. PostgreSQL refusing to drop a table tenant tables still reference —
/// none. Returns the undone versions, newest first. Role grants are brought in line with the
/// tables that remain.
pub async fn rollback_public<A: crate::TenancyApp>(
    app: &A,
    db: &sea_orm::DatabaseConnection,
    steps: u32,
) -> Result<Vec<String>, crate::TenancyError> {
    use sea_orm::TransactionTrait;
    let setup = crate::app::Setup::of(app, db).await?;
    let txn = db.begin().await?;
    super::lock(&txn, "public").await?;
    let applied = A::PublicMigrator::get_applied_migrations(&txn).await?;
    let undone: Vec<String> = applied
        .iter()
        .rev()
        .take(steps as usize)
        .map(|m| m.name().to_owned())
        .collect();
    A::PublicMigrator::down(&txn, Some(steps)).await?;
    let registry = crate::registry::Registry::global()?;
    crate::roles::install(&txn, &setup, &registry, |t| app.tenant_access(t)).await?;
    txn.commit().await?;
    Ok(undone)
}

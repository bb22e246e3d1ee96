//! Moving a tenant to another database (`tenants move T --to <database>`), with nothing lost.
//!
//! 1. Both sides are checked: the tenant is current in its database, the target has no schema
//!    of that name, the target has the public set and the fence, and the tenant's schema is
//!    created and migrated there (empty, and not yet routed to).
//! 2. In the source, one transaction takes the tenant's advisory lock and
//!    `LOCK TABLE .. IN EXCLUSIVE MODE NOWAIT` on its tables: a tenant being written is refused
//!    at once, and from then on writes wait while reads go on.
//! 3. In the target, one transaction receives the rows with binary `COPY` — the global rows the
//!    tenant's data references first, then its tables parents-first — sets its sequences, and
//!    compares the row count of every table with the source's. Any difference rolls it back.
//! 4. The source is fenced — its schema renamed (or dropped with `drop_source`), the tenant
//!    recorded as moved so a process still routing it there gets an error, not a silent write —
//!    and the catalog switches to the target: in one transaction when the source is the default
//!    database, else fence first, so a failure in between leaves the tenant refused everywhere
//!    (never written in two places) until `databases assign` finishes the move.
//!
//! A failure before step 4 leaves the source untouched and removes the copy. Attribute tables
//! are shared, so their locks hold every tenant's writes to them for the copy's duration.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{self, AssertSqlSafe, Postgres, Row};
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};

use super::provision::prepare_database;
use super::{DEFAULT_DATABASE, Placement, PlacementError, catalog};
use crate::app::Setup;
use crate::app::TenancyApp;
use crate::migrate::{State, migrate_tenant, mirror, status};
use crate::registry::Registry;
use crate::roles::{RoleNames, tenant as role};
use crate::session;
use crate::tenant::{Tenant, quote_ident};

/// The move's own setting: the tenant key its statements filter attribute rows by.
const MOVE_KEY: &str = "sea_tenancy.moving";

/// What a move did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveReport {
    /// The database the tenant left.
    pub from: String,
    /// The database it lives in now.
    pub to: String,
    /// Rows copied per table (`schema.table`), verified against the source.
    pub tables: Vec<(String, u64)>,
    /// Global rows copied because the tenant's data references them (`public.table`).
    pub referenced: Vec<(String, u64)>,
    /// What became of the source copy.
    pub source: SourceFate,
}

/// What became of the tenant's data in the database it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFate {
    /// Kept: the schema renamed to this name, attribute rows left in place (unreachable through
    /// sea-tenancy: the catalog routes the tenant elsewhere and the fence refuses it there).
    Kept {
        /// The schema's new name.
        fenced_schema: String,
    },
    /// Dropped (`--drop-source`): the schema and the tenant's attribute rows.
    Dropped,
}

/// Why a move did not happen (or did not finish cleanly).
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// The tenant already lives there.
    #[error(
        "sea-tenancy: tenant `{tenant}` already lives in database `{database}`; nothing to move"
    )]
    SameDatabase {
        /// The tenant.
        tenant: String,
        /// Its database.
        database: String,
    },
    /// The tenant's schema is not current (or missing) in its database.
    #[error(
        "sea-tenancy: tenant `{tenant}` is `{state}` in database `{database}`; only a tenant whose migrations are all applied can move (run `migrate --tenant {tenant}` first); nothing was moved"
    )]
    NotCurrent {
        /// The tenant.
        tenant: String,
        /// Its database.
        database: String,
        /// Its state.
        state: String,
    },
    /// The target already has something of this tenant.
    #[error(
        "sea-tenancy: database `{database}` already holds {what} of tenant `{tenant}`; remove it first; nothing was moved"
    )]
    TargetOccupied {
        /// The tenant.
        tenant: String,
        /// The target database.
        database: String,
        /// What is in the way.
        what: String,
    },
    /// Another transaction is writing the tenant's tables.
    #[error(
        "sea-tenancy: tenant `{tenant}` is being written right now ({detail}); nothing was moved: retry when it is idle"
    )]
    Busy {
        /// The tenant.
        tenant: String,
        /// What PostgreSQL said.
        detail: String,
    },
    /// A table's row count differs after the copy.
    #[error(
        "sea-tenancy: `{table}` has {source_rows} rows of tenant `{tenant}` in `{from}` but {target_rows} after copying to `{to}`; nothing was moved"
    )]
    CountMismatch {
        /// The tenant.
        tenant: String,
        /// The table.
        table: String,
        /// The source database.
        from: String,
        /// The target database.
        to: String,
        /// Rows in the source.
        source_rows: i64,
        /// Rows in the target.
        target_rows: i64,
    },
    /// The copy is complete and verified and the source fenced, but the catalog switch failed:
    /// the tenant is refused everywhere until `databases assign` finishes the move.
    #[error(
        "sea-tenancy: tenant `{tenant}` was copied to `{to}` and verified, and its old copy in `{from}` is fenced, but switching the catalog failed: {reason}; it is unreachable until you finish the move with `databases assign {tenant} {to}`"
    )]
    SwitchFailed {
        /// The tenant.
        tenant: String,
        /// The source database.
        from: String,
        /// The target database.
        to: String,
        /// What failed.
        reason: String,
    },
    /// Something else failed; nothing was moved.
    #[error("sea-tenancy: moving tenant `{tenant}` failed, nothing was moved: {reason}")]
    Failed {
        /// The tenant.
        tenant: String,
        /// What failed.
        reason: String,
    },
    /// The catalog or a database could not be used; nothing was moved.
    #[error(transparent)]
    Placement(#[from] PlacementError),
}

/// One table to copy.
#[derive(Debug, Clone)]
pub(super) struct Item {
    /// `"schema"."table"`.
    qualified: String,
    /// `schema.table`, as the catalog query spells it.
    key: String,
    /// The tenant column, for attribute tables (copy only the tenant's rows).
    column: Option<String>,
}

impl Item {
    /// `WHERE ..` selecting the tenant's rows, empty for a schema table.
    fn filter(&self, alias: &str) -> String {
        match &self.column {
            Some(col) => format!(
                " WHERE {alias}.{}::text = current_setting('{MOVE_KEY}')",
                quote_ident(col)
            ),
            None => String::new(),
        }
    }
}

/// A foreign key from a copied table to a global table outside the copy.
#[derive(Debug, Clone)]
struct Reference {
    child: Item,
    child_columns: Vec<String>,
    parent: String,
    parent_key: String,
    parent_columns: Vec<String>,
}

type Conn = PoolConnection<Postgres>;

/// Moves `tenant` to database `to` (`default` for the default database). See the module docs
/// for the steps and guarantees.
pub async fn move_tenant<A: TenancyApp>(
    app: &A,
    placement: &Placement,
    tenant: &Tenant,
    to: &str,
    drop_source: bool,
) -> Result<MoveReport, MoveError> {
    catalog::validate_database_name(to)?;
    let failed = |reason: String| MoveError::Failed {
        tenant: tenant.schema().to_owned(),
        reason,
    };
    placement.invalidate(tenant);
    let from = placement.database_of(tenant).await?;
    let from_name = from.as_deref().unwrap_or(DEFAULT_DATABASE).to_owned();
    if from_name == to {
        return Err(MoveError::SameDatabase {
            tenant: tenant.schema().to_owned(),
            database: to.to_owned(),
        });
    }
    let src = placement.connection(from.as_deref()).await?;
    let dst = placement.connection(Some(to)).await?;
    let registry = Registry::global().map_err(|e| failed(e.to_string()))?;
    // Every database names roles as the default one does.
    let roles = Setup::of(app, placement.default_db())
        .await
        .map_err(|e| failed(e.to_string()))?;
    let state = status::<A::TenantMigrator, _>(&src, std::slice::from_ref(tenant))
        .await
        .map_err(|e| failed(e.to_string()))?
        .remove(0);
    if state.state != State::Current {
        return Err(MoveError::NotCurrent {
            tenant: tenant.schema().to_owned(),
            database: from_name,
            state: state.state.as_str().to_owned(),
        });
    }
    prepare_database(app, &dst, &roles)
        .await
        .map_err(|e| failed(format!("preparing `{to}`: {e}")))?;
    catalog::install_fence(&src)
        .await
        .map_err(|e| failed(format!("preparing `{from_name}`: {e}")))?;
    let there = status::<A::TenantMigrator, _>(&dst, std::slice::from_ref(tenant))
        .await
        .map_err(|e| failed(e.to_string()))?
        .remove(0);
    if there.state != State::MissingSchema {
        return Err(MoveError::TargetOccupied {
            tenant: tenant.schema().to_owned(),
            database: to.to_owned(),
            what: format!("a schema `{tenant}`"),
        });
    }
    migrate_tenant::<A>(&dst, tenant, &roles)
        .await
        .map_err(|e| failed(format!("creating the schema in `{to}`: {e}")))?;
    let mut transfer = Transfer {
        tenant,
        registry: &registry,
        names: &roles.names,
        from: &from_name,
        to,
    };
    let mut source = match transfer.run(&src, &dst).await {
        Ok(source) => source,
        Err(e) => {
            remove_tenant(&dst, tenant, &[], &roles.names, false).await;
            return Err(e);
        }
    };
    let report_tables = std::mem::take(&mut source.copied.tables);
    let referenced = std::mem::take(&mut source.copied.referenced);
    let fate = if drop_source {
        SourceFate::Dropped
    } else {
        SourceFate::Kept {
            fenced_schema: fenced_name(tenant),
        }
    };
    if from.is_none() {
        // The source is the default database: switch the catalog and fence the source in one
        // transaction, so the two cannot disagree.
        if let Err(e) = transfer.fence(&mut source, &fate, true).await {
            // A connection lost after COMMIT was sent leaves the outcome unknown: the catalog
            // tells. Only a move that did not happen may remove its copy.
            let routed =
                catalog::lookup(placement.default_db(), std::slice::from_ref(tenant)).await;
            match routed {
                Ok(found) if found[0].as_deref() == Some(to) => {}
                Ok(_) => {
                    remove_tenant(&dst, tenant, &source.copied.attribute, &roles.names, false)
                        .await;
                    return Err(MoveError::Failed {
                        tenant: tenant.schema().to_owned(),
                        reason: format!("switching the catalog and fencing the source: {e}"),
                    });
                }
                Err(check) => {
                    return Err(MoveError::Failed {
                        tenant: tenant.schema().to_owned(),
                        reason: format!(
                            "switching the catalog and fencing the source: {e}; whether it committed is unknown ({check}): `databases list` and `status` tell, and the copy in `{to}` was kept"
                        ),
                    });
                }
            }
        }
    } else {
        // Fence first, switch second: a failure in between leaves the tenant refused everywhere
        // (never written in two places), and one command finishes the move.
        let fenced = transfer.fence(&mut source, &fate, false).await;
        if let Err(e) = fenced {
            remove_tenant(&dst, tenant, &source.copied.attribute, &roles.names, false).await;
            return Err(MoveError::Failed {
                tenant: tenant.schema().to_owned(),
                reason: format!("fencing the source: {e}"),
            });
        }
        if let Err(e) = catalog::assign(placement.default_db(), tenant, to).await {
            return Err(MoveError::SwitchFailed {
                tenant: tenant.schema().to_owned(),
                from: from_name.clone(),
                to: to.to_owned(),
                reason: e.to_string(),
            });
        }
    }
    placement.invalidate(tenant);
    Ok(MoveReport {
        from: from_name,
        to: to.to_owned(),
        tables: report_tables,
        referenced,
        source: fate,
    })
}

/// The source side after a verified copy: its transaction still holds the tenant's locks.
struct Source {
    conn: Conn,
    copied: Copied,
}

/// What a verified copy put into the target.
struct Copied {
    /// The attribute tables the tenant's rows were copied from.
    attribute: Vec<Item>,
    /// Rows per table.
    tables: Vec<(String, u64)>,
    /// Referenced global rows per table.
    referenced: Vec<(String, u64)>,
}

/// One tenant's move between two databases.
struct Transfer<'a> {
    tenant: &'a Tenant,
    registry: &'a Registry,
    names: &'a RoleNames,
    from: &'a str,
    to: &'a str,
}

impl Transfer<'_> {
    fn failed(&self, e: impl std::fmt::Display) -> MoveError {
        MoveError::Failed {
            tenant: self.tenant.schema().to_owned(),
            reason: e.to_string(),
        }
    }

    /// Steps 2 and 3: lock the source, copy into the target, verify, commit the target.
    async fn run(
        &mut self,
        src: &DatabaseConnection,
        dst: &DatabaseConnection,
    ) -> Result<Source, MoveError> {
        let mut s = acquire(src, self.from).await?;
        let mut d = acquire(dst, self.to).await?;
        // On failure both connections are closed as they drop (see `acquire`), which ends
        // both transactions, even one stopped mid-COPY.
        let copied = self.copy(&mut s, &mut d).await?;
        Ok(Source { conn: s, copied })
    }

    async fn copy(&mut self, s: &mut Conn, d: &mut Conn) -> Result<Copied, MoveError> {
        let enter = format!(
            "SELECT pg_advisory_xact_lock(hashtextextended('sea_tenancy:' || $1, 0)), set_config('{MOVE_KEY}', $2, true), set_config('sea_tenancy.provisioning', 'on', true)"
        );
        for conn in [&mut *s, &mut *d] {
            exec(conn, "BEGIN".to_owned())
                .await
                .map_err(|e| self.failed(e))?;
            sqlx::query(AssertSqlSafe(enter.as_str()))
                .bind(self.tenant.schema())
                .bind(self.tenant.key())
                .execute(&mut **conn)
                .await
                .map_err(|e| self.failed(e))?;
        }
        // Tenant transactions of processes using a placement hold this lock shared (see
        // `catalog::install_fence`): one in flight might still write after the copy.
        let in_flight: bool = sqlx::query_scalar(
            "SELECT NOT pg_try_advisory_xact_lock(hashtextextended('sea_tenancy_move:' || $1, 0))",
        )
        .bind(self.tenant.schema())
        .fetch_one(&mut **s)
        .await
        .map_err(|e| self.failed(e))?;
        if in_flight {
            return Err(MoveError::Busy {
                tenant: self.tenant.schema().to_owned(),
                detail: "a transaction of the tenant is open".to_owned(),
            });
        }
        let (items, attribute) = self.items(s).await?;
        self.lock(s, &items).await?;
        let (order, references) = self.plan(s, &items).await?;
        // Rows a tenant left here when it moved away (fenced, unreachable) are replaced by the
        // copy coming back; any other rows of it here are a conflict to resolve by hand.
        let left_here: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM public.sea_tenancy_moved WHERE tenant = $1)",
        )
        .bind(self.tenant.schema())
        .fetch_one(&mut **d)
        .await
        .map_err(|e| self.failed(e))?;
        for item in &attribute {
            if left_here {
                exec(
                    d,
                    format!("DELETE FROM {} t{}", item.qualified, item.filter("t")),
                )
                .await
                .map_err(|e| self.failed(e))?;
            }
            let there = count(d, item).await.map_err(|e| self.failed(e))?;
            if there > 0 {
                return Err(MoveError::TargetOccupied {
                    tenant: self.tenant.schema().to_owned(),
                    database: self.to.to_owned(),
                    what: format!(
                        "{there} row(s) in `{}` (left by an earlier move?)",
                        item.key
                    ),
                });
            }
        }
        let mut referenced = Vec::new();
        for (i, r) in references.iter().enumerate() {
            let select = format!(
                "SELECT p.* FROM {} p WHERE ({}) IN (SELECT {} FROM {} c{})",
                r.parent,
                columns("p", &r.parent_columns),
                columns("c", &r.child_columns),
                r.child.qualified,
                r.child.filter("c"),
            );
            let rows = self
                .through_temp(s, d, &select, &r.parent, &format!("st_ref_{i}"), true)
                .await?;
            referenced.push((r.parent_key.clone(), rows));
        }
        let mut tables = Vec::new();
        for (i, item) in order.iter().enumerate() {
            let rows = match &item.column {
                None => self.copy_table(s, d, item).await?,
                Some(_) => {
                    let select = format!("SELECT * FROM {} t{}", item.qualified, item.filter("t"));
                    self.through_temp(
                        s,
                        d,
                        &select,
                        &item.qualified,
                        &format!("st_row_{i}"),
                        false,
                    )
                    .await?
                }
            };
            let source_rows = count(s, item).await.map_err(|e| self.failed(e))?;
            let target_rows = count(d, item).await.map_err(|e| self.failed(e))?;
            if source_rows != target_rows || rows != source_rows as u64 {
                return Err(MoveError::CountMismatch {
                    tenant: self.tenant.schema().to_owned(),
                    table: item.key.clone(),
                    from: self.from.to_owned(),
                    to: self.to.to_owned(),
                    source_rows,
                    target_rows,
                });
            }
            tables.push((item.key.clone(), rows));
        }
        let mut shared = attribute.clone();
        for r in &references {
            if !shared.iter().any(|i| i.key == r.parent_key) {
                shared.push(Item {
                    qualified: r.parent.clone(),
                    key: r.parent_key.clone(),
                    column: None,
                });
            }
        }
        self.sequences(s, d, &shared).await?;
        sqlx::query("DELETE FROM public.sea_tenancy_moved WHERE tenant = $1")
            .bind(self.tenant.schema())
            .execute(&mut **d)
            .await
            .map_err(|e| self.failed(e))?;
        exec(d, "COMMIT".to_owned())
            .await
            .map_err(|e| self.failed(e))?;
        Ok(Copied {
            attribute,
            tables,
            referenced,
        })
    }

    /// The tenant's schema tables and the attribute tables present in the source.
    async fn items(&self, s: &mut Conn) -> Result<(Vec<Item>, Vec<Item>), MoveError> {
        let schema = self.tenant.schema();
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                AND c.relname <> 'seaql_migrations' ORDER BY 1",
        )
        .bind(schema)
        .fetch_all(&mut **s)
        .await
        .map_err(|e| self.failed(e))?;
        let mut items: Vec<Item> = names
            .into_iter()
            .map(|t| Item {
                qualified: format!("{}.{}", self.tenant.quoted_schema(), quote_ident(&t)),
                key: format!("{schema}.{t}"),
                column: None,
            })
            .collect();
        let declared = self.registry.attribute_tables();
        let tables: Vec<&str> = declared.iter().map(|(table, _)| *table).collect();
        let present: Vec<String> = sqlx::query_scalar(catalog::PRESENT_TABLES_SQL)
            .bind(&tables)
            .fetch_all(&mut **s)
            .await
            .map_err(|e| self.failed(e))?;
        let attribute: Vec<Item> = declared
            .iter()
            .filter(|(table, _)| present.iter().any(|p| p == table))
            .map(|(table, column)| Item {
                qualified: format!("public.{}", quote_ident(table)),
                key: format!("public.{table}"),
                column: Some((*column).to_owned()),
            })
            .collect();
        items.extend(attribute.iter().cloned());
        Ok((items, attribute))
    }

    /// Locks out writers for the rest of the move, refusing at once if one is active.
    async fn lock(&self, s: &mut Conn, items: &[Item]) -> Result<(), MoveError> {
        if items.is_empty() {
            return Ok(());
        }
        let list: Vec<&str> = items.iter().map(|i| i.qualified.as_str()).collect();
        let sql = format!("LOCK TABLE {} IN EXCLUSIVE MODE NOWAIT", list.join(", "));
        match exec(s, sql).await {
            Ok(()) => Ok(()),
            Err(e) if sqlx_state(&e).as_deref() == Some("55P03") => Err(MoveError::Busy {
                tenant: self.tenant.schema().to_owned(),
                detail: e.to_string(),
            }),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// Parents-first order of `items`, and the references to global tables outside them.
    async fn plan(
        &self,
        s: &mut Conn,
        items: &[Item],
    ) -> Result<(Vec<Item>, Vec<Reference>), MoveError> {
        let keys: Vec<String> = items.iter().map(|i| i.key.clone()).collect();
        let rows = sqlx::query(
            "SELECT cn.nspname || '.' || cc.relname AS child,
                    pn.nspname::text AS parent_schema, pc.relname::text AS parent_table,
                    (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(att, ord)
                       JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.att) AS child_columns,
                    (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(con.confkey) WITH ORDINALITY k(att, ord)
                       JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.att) AS parent_columns
               FROM pg_constraint con
               JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
               JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
              WHERE con.contype = 'f' AND (cn.nspname || '.' || cc.relname) = ANY($1)",
        )
        .bind(&keys)
        .fetch_all(&mut **s)
        .await
        .map_err(|e| self.failed(e))?;
        let by_key: BTreeMap<&str, &Item> = items.iter().map(|i| (i.key.as_str(), i)).collect();
        let mut parents: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let mut references = Vec::new();
        for row in &rows {
            let child: String = row.try_get("child").map_err(|e| self.failed(e))?;
            let parent_schema: String = row.try_get("parent_schema").map_err(|e| self.failed(e))?;
            let parent_table: String = row.try_get("parent_table").map_err(|e| self.failed(e))?;
            let parent_key = format!("{parent_schema}.{parent_table}");
            let Some(child_item) = by_key.get(child.as_str()) else {
                continue;
            };
            if by_key.contains_key(parent_key.as_str()) {
                if parent_key != child {
                    parents
                        .entry(child_item.key.as_str())
                        .or_default()
                        .insert(parent_key);
                }
            } else if parent_schema == "public" {
                references.push(Reference {
                    child: (*child_item).clone(),
                    child_columns: row.try_get("child_columns").map_err(|e| self.failed(e))?,
                    parent: format!("public.{}", quote_ident(&parent_table)),
                    parent_key,
                    parent_columns: row.try_get("parent_columns").map_err(|e| self.failed(e))?,
                });
            }
        }
        // Kahn's algorithm; a cycle keeps its input order (its rows then fail loudly).
        let mut order = Vec::with_capacity(items.len());
        let mut placed: BTreeSet<String> = BTreeSet::new();
        let mut left: Vec<&Item> = items.iter().collect();
        while !left.is_empty() {
            let ready: Vec<usize> = (0..left.len())
                .filter(|&i| {
                    parents
                        .get(left[i].key.as_str())
                        .is_none_or(|ps| ps.iter().all(|p| placed.contains(p)))
                })
                .collect();
            let take = if ready.is_empty() { vec![0] } else { ready };
            for &i in take.iter().rev() {
                let item = left.remove(i);
                placed.insert(item.key.clone());
                order.push(item.clone());
            }
        }
        Ok((order, references))
    }

    /// `COPY` of a whole schema table, source to target.
    async fn copy_table(&self, s: &mut Conn, d: &mut Conn, item: &Item) -> Result<u64, MoveError> {
        let out = format!("COPY {} TO STDOUT (FORMAT binary)", item.qualified);
        let into = format!("COPY {} FROM STDIN (FORMAT binary)", item.qualified);
        self.pipe(s, d, &out, &into).await
    }

    /// Rows of `select` in the source into `table` of the target, through a temporary table:
    /// `INSERT .. SELECT` keeps row-level security's checks and the guard triggers in force
    /// (which `COPY FROM` into the table would not allow). Returns the rows inserted.
    async fn through_temp(
        &self,
        s: &mut Conn,
        d: &mut Conn,
        select: &str,
        table: &str,
        temp: &str,
        skip_existing: bool,
    ) -> Result<u64, MoveError> {
        exec(
            d,
            format!("CREATE TEMP TABLE {temp} (LIKE {table}) ON COMMIT DROP"),
        )
        .await
        .map_err(|e| self.failed(e))?;
        let out = format!("COPY ({select}) TO STDOUT (FORMAT binary)");
        let into = format!("COPY {temp} FROM STDIN (FORMAT binary)");
        self.pipe(s, d, &out, &into).await?;
        let conflict = if skip_existing {
            " ON CONFLICT DO NOTHING"
        } else {
            ""
        };
        let done = sqlx::raw_sql(AssertSqlSafe(format!(
            "INSERT INTO {table} SELECT * FROM {temp}{conflict}"
        )))
        .execute(&mut **d)
        .await
        .map_err(|e| self.failed(format!("copying into {table}: {e}")))?;
        if skip_existing {
            // A global row already there must be the same row, not another one that happens to
            // have the same key (sequences of two databases overlap).
            let differing: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT count(*) FROM {temp} t WHERE NOT EXISTS (SELECT 1 FROM {table} p WHERE ROW(p.*) IS NOT DISTINCT FROM ROW(t.*))"
            )))
            .fetch_one(&mut **d)
            .await
            .map_err(|e| self.failed(e))?;
            if differing > 0 {
                return Err(self.failed(format!(
                    "{differing} row(s) of {table} that the tenant's data references exist in `{}` with the same key but different values; keys of global tables referenced from tenant data must be unique across databases (UUIDs, or disjoint sequences)",
                    self.to
                )));
            }
        }
        Ok(done.rows_affected())
    }

    async fn pipe(
        &self,
        s: &mut Conn,
        d: &mut Conn,
        out: &str,
        into: &str,
    ) -> Result<u64, MoveError> {
        let mut sink = d.copy_in_raw(into).await.map_err(|e| self.failed(e))?;
        let mut stream = s.copy_out_raw(out).await.map_err(|e| self.failed(e))?;
        let mut failure = None;
        while let Some(chunk) = stream.next().await {
            let sent = match chunk {
                Ok(bytes) => sink.send(bytes).await.map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                failure = Some(e);
                break;
            }
        }
        // Drain the rest so the source connection stays usable.
        while stream.next().await.is_some() {}
        drop(stream);
        match failure {
            None => sink.finish().await.map_err(|e| self.failed(e)),
            Some(e) => {
                let _ = sink.abort("sea-tenancy: copy failed").await;
                Err(self.failed(e))
            }
        }
    }

    /// The tenant's sequences continue where the source's are; sequences of the shared tables
    /// it wrote to (attribute tables, referenced global rows) move past the copied keys.
    async fn sequences(
        &self,
        s: &mut Conn,
        d: &mut Conn,
        shared: &[Item],
    ) -> Result<(), MoveError> {
        let seqs: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relkind = 'S'",
        )
        .bind(self.tenant.schema())
        .fetch_all(&mut **s)
        .await
        .map_err(|e| self.failed(e))?;
        for seq in seqs {
            let qualified = format!("{}.{}", self.tenant.quoted_schema(), quote_ident(&seq));
            let row = sqlx::raw_sql(AssertSqlSafe(format!(
                "SELECT last_value, is_called FROM {qualified}"
            )))
            .fetch_one(&mut **s)
            .await
            .map_err(|e| self.failed(e))?;
            let last: i64 = row.try_get("last_value").map_err(|e| self.failed(e))?;
            let called: bool = row.try_get("is_called").map_err(|e| self.failed(e))?;
            sqlx::query("SELECT setval($1::regclass, $2, $3)")
                .bind(&qualified)
                .bind(last)
                .bind(called)
                .execute(&mut **d)
                .await
                .map_err(|e| self.failed(e))?;
        }
        for item in shared {
            let serials: Vec<(String, String)> = sqlx::query_as(
                "SELECT a.attname::text, pg_get_serial_sequence($1, a.attname)
                   FROM pg_attribute a
                  WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
                    AND pg_get_serial_sequence($1, a.attname) IS NOT NULL",
            )
            .bind(&item.qualified)
            .fetch_all(&mut **d)
            .await
            .map_err(|e| self.failed(e))?;
            for (column, seq) in serials {
                exec(
                    d,
                    format!(
                        "SELECT setval('{seq}', greatest((SELECT coalesce(max({col}), 1) FROM {t}), (SELECT last_value FROM {seq})))",
                        seq = seq.replace('\'', "''"),
                        col = quote_ident(&column),
                        t = item.qualified,
                    ),
                )
                .await
                .map_err(|e| self.failed(e))?;
            }
        }
        Ok(())
    }

    /// Step 4, source side: record the move, rename or drop what is left, release the locks;
    /// with `switch` (the source is the default database), switch the catalog in the same
    /// transaction.
    async fn fence(
        &self,
        source: &mut Source,
        fate: &SourceFate,
        switch: bool,
    ) -> Result<(), sqlx::Error> {
        let s = &mut source.conn;
        if switch {
            sqlx::query(
                "INSERT INTO public.sea_tenancy_tenant_databases (tenant, database) VALUES ($1, $2)
                 ON CONFLICT (tenant) DO UPDATE SET database = EXCLUDED.database",
            )
            .bind(self.tenant.schema())
            .bind(self.to)
            .execute(&mut **s)
            .await?;
        }
        let fenced = match fate {
            SourceFate::Kept { fenced_schema } => Some(fenced_schema.clone()),
            SourceFate::Dropped => None,
        };
        sqlx::query(
            "INSERT INTO public.sea_tenancy_moved (tenant, database, fenced_schema) VALUES ($1, $2, $3)
             ON CONFLICT (tenant) DO UPDATE SET database = EXCLUDED.database, fenced_schema = EXCLUDED.fenced_schema, moved_at = now()",
        )
        .bind(self.tenant.schema())
        .bind(self.to)
        .bind(&fenced)
        .execute(&mut **s)
        .await?;
        let mut sql = match &fenced {
            Some(name) => format!(
                "ALTER SCHEMA {} RENAME TO {};\n",
                self.tenant.quoted_schema(),
                quote_ident(name)
            ),
            None => format!("DROP SCHEMA {} CASCADE;\n", self.tenant.quoted_schema()),
        };
        if fenced.is_none() {
            sql.push_str(&delete_rows_sql(&source.copied.attribute));
        }
        // The tenant's role keeps nothing here: not the old copy, not its attribute rows.
        let left = fenced.as_deref().unwrap_or(self.tenant.schema());
        sql.push_str(&role::revoke_sql(
            self.names,
            self.tenant,
            left,
            Some(self.to),
        ));
        sql.push('\n');
        sql.push_str(&mirror::forget_sql(self.tenant));
        sql.push_str(";\nCOMMIT");
        exec(s, sql).await?;
        Ok(())
    }
}

/// `moved_<unix seconds>_<schema>`, cut to PostgreSQL's 63 bytes: out of `org_%` patterns,
/// and recorded in `public.sea_tenancy_moved` of the source database.
fn fenced_name(tenant: &Tenant) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut name = format!("moved_{secs}_{}", tenant.schema());
    name.truncate(63);
    name
}

/// Best effort: removes `tenant` from `db` — its schema, its rows of the `attribute` tables,
/// its mirror entries and its privileges (and its role, with `drop_role`: a provisioning that
/// created it) — after a move or a provisioning that failed half-way there.
pub(super) async fn remove_tenant(
    db: &DatabaseConnection,
    tenant: &Tenant,
    attribute: &[Item],
    names: &RoleNames,
    drop_role: bool,
) {
    let undo = async {
        let txn = db.begin().await?;
        // The tenant key the deletes filter by.
        session::set_local(&txn, MOVE_KEY, tenant.key()).await?;
        let roles = if drop_role {
            role::drop_sql(names, tenant)
        } else {
            role::revoke_sql(names, tenant, tenant.schema(), None)
        };
        let sql = format!(
            "{roles}\nDROP SCHEMA IF EXISTS {} CASCADE;\n{}{}",
            tenant.quoted_schema(),
            delete_rows_sql(attribute),
            mirror::forget_sql(tenant)
        );
        sea_orm::ConnectionTrait::execute_unprepared(&txn, &sql).await?;
        txn.commit().await
    };
    let result: Result<(), DbErr> = undo.await;
    if let Err(e) = result {
        tracing::warn!(tenant = %tenant, error = %e, "could not remove what a failed move or provisioning left");
    }
}

/// `DELETE` of the tenant's rows from each of `attribute` (the session holds its key in
/// [`MOVE_KEY`]).
fn delete_rows_sql(attribute: &[Item]) -> String {
    attribute
        .iter()
        .map(|item| format!("DELETE FROM {} t{};\n", item.qualified, item.filter("t")))
        .collect()
}

/// A connection of its own for the move. It is closed, not returned to the pool, when dropped:
/// a move cancelled mid-way (a dropped future) must not hand its open transaction, locks and
/// settings to the next borrower.
async fn acquire(db: &DatabaseConnection, name: &str) -> Result<Conn, MoveError> {
    let mut conn = db
        .get_postgres_connection_pool()
        .acquire()
        .await
        .map_err(|e| {
            MoveError::Placement(PlacementError::Unreachable {
                database: name.to_owned(),
                reason: super::mask(&e.to_string()),
            })
        })?;
    conn.close_on_drop();
    Ok(conn)
}

async fn exec(conn: &mut Conn, sql: String) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut **conn)
        .await?;
    Ok(())
}

async fn count(conn: &mut Conn, item: &Item) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT count(*) FROM {} t{}",
        item.qualified,
        item.filter("t")
    )))
    .fetch_one(&mut **conn)
    .await
}

fn columns(alias: &str, names: &[String]) -> String {
    names
        .iter()
        .map(|c| format!("{alias}.{}", quote_ident(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn sqlx_state(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
}

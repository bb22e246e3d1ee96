//! Moving a tenant to another Citus node: `citus_schema_move`, with the row counts checked.
//!
//! A tenant's schema lives whole on one worker; Citus copies it to another (by logical
//! replication in its default mode: reads go on, writes pause for a moment at the switch-over;
//! `block_writes` holds writes for the whole copy and needs no replica identity) and the
//! coordinator routes to the new place at once. Nothing in sea-tenancy caches where a schema
//! lives, so no process needs telling. Row counts of every table are read before and after: a
//! table with fewer rows after the move is reported, never passed over.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use crate::tenant::Tenant;

/// How Citus transfers the shards (`citus.shard_transfer_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferMode {
    /// Logical replication when every table has a replica identity, else an error (Citus's
    /// default; needs `wal_level = logical`).
    Auto,
    /// Logical replication; tables without a replica identity refuse updates and deletes while
    /// the move runs.
    ForceLogical,
    /// Writes wait for the whole copy.
    BlockWrites,
}

impl TransferMode {
    fn as_sql(self) -> &'static str {
        match self {
            TransferMode::Auto => "auto",
            TransferMode::ForceLogical => "force_logical",
            TransferMode::BlockWrites => "block_writes",
        }
    }
}

impl std::str::FromStr for TransferMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(TransferMode::Auto),
            "force_logical" => Ok(TransferMode::ForceLogical),
            "block_writes" => Ok(TransferMode::BlockWrites),
            other => Err(format!(
                "unknown transfer mode `{other}`: use auto, force_logical or block_writes"
            )),
        }
    }
}

/// A worker node, as Citus names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its host name.
    pub host: String,
    /// Its port.
    pub port: i32,
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// What a move did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeMove {
    /// The node the tenant left.
    pub from: Node,
    /// The node it lives on now.
    pub to: Node,
    /// Rows per table (`schema.table`), before and after.
    pub tables: Vec<(String, i64, i64)>,
}

/// The node holding `tenant`'s distributed schema.
pub async fn node_of<C: ConnectionTrait>(db: &C, tenant: &Tenant) -> Result<Node, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT s.nodename::text AS host, s.nodeport AS port
               FROM citus_shards s JOIN pg_class c ON c.oid = s.table_name
              WHERE c.relnamespace = to_regnamespace($1) LIMIT 1",
            [tenant.quoted_schema().into()],
        ))
        .await?
        .ok_or_else(|| {
            DbErr::Custom(format!(
                "sea-tenancy: tenant `{tenant}` has no distributed schema with tables on this Citus cluster (`citus_schemas` lists those that do)"
            ))
        })?;
    Ok(Node {
        host: row.try_get("", "host")?,
        port: row.try_get("", "port")?,
    })
}

/// Moves `tenant`'s schema to worker `to` (`citus_schema_move`) and checks that no table lost a
/// row. Run it on the coordinator, as the owner.
pub async fn move_tenant<C: ConnectionTrait>(
    db: &C,
    tenant: &Tenant,
    to: &Node,
    mode: TransferMode,
) -> Result<NodeMove, DbErr> {
    let from = node_of(db, tenant).await?;
    if &from == to {
        return Err(DbErr::Custom(format!(
            "sea-tenancy: tenant `{tenant}` already lives on {to}; nothing to move"
        )));
    }
    let before = counts(db, tenant).await?;
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT citus_schema_move(to_regnamespace($1), $2, $3, $4::citus.shard_transfer_mode)",
        [
            tenant.quoted_schema().into(),
            to.host.clone().into(),
            to.port.into(),
            mode.as_sql().into(),
        ],
    ))
    .await
    .map_err(|e| {
        let text = e.to_string();
        if text.contains("wal_level") || text.contains("REPLICA IDENTITY") {
            DbErr::Custom(format!(
                "sea-tenancy: moving `{tenant}` needs logical replication: {text}. Set `wal_level = logical` on every node, or move with mode block_writes (writes wait for the whole copy)"
            ))
        } else {
            e
        }
    })?;
    let after = counts(db, tenant).await?;
    let mut tables = Vec::new();
    for (table, rows) in before {
        let now = after
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n);
        if now < rows {
            return Err(DbErr::Custom(format!(
                "sea-tenancy: `{table}` of tenant `{tenant}` had {rows} rows before moving to {to} and has {now} after"
            )));
        }
        tables.push((table, rows, now));
    }
    Ok(NodeMove {
        from,
        to: to.clone(),
        tables,
    })
}

/// Rows of every table of `tenant`'s schema, counted in one statement.
async fn counts<C: ConnectionTrait>(db: &C, tenant: &Tenant) -> Result<Vec<(String, i64)>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT format('%s.%s', n.nspname, c.relname) AS name,
                    (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint AS rows
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
              ORDER BY 1",
            [tenant.schema().into()],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("", "name")?, r.try_get("", "rows")?)))
        .collect()
}

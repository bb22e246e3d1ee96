//! Citus: the same app on a distributed PostgreSQL cluster.
//!
//! When the `citus` extension is installed in the app's database, sea-tenancy maps its model
//! onto Citus's: tenant schemas become *distributed schemas* (each lives whole on one worker,
//! statements routed by the coordinator), attribute tables become tables *distributed* on their
//! tenant column (colocated, so tenant-matched foreign keys hold), and global tables become
//! *reference tables* (a copy on every node). Nothing is switched on by hand: the helpers below
//! do nothing on plain PostgreSQL, so one set of migrations serves both deployments.
//!
//! The generated public migrations call [`reference_table`] for every global table and
//! [`distribute_table`] for every attribute table right after creating them, before any foreign
//! key is added: Citus turns a table with a foreign key to a reference table into a local table
//! at once, which can then no longer be distributed.

pub mod relocate;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

pub use relocate::{Node, NodeMove, TransferMode, move_tenant, node_of};

use crate::tenant::{quote_ident, quote_literal, quote_qualified};

/// Whether the `citus` extension is installed in the database `db` is connected to.
pub async fn is_installed<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') AS citus",
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get("", "citus")?,
        None => false,
    })
}

/// Whether `qualified` (a quoted, qualified table name) is a Citus table of any kind.
pub(crate) async fn is_distributed<C: ConnectionTrait>(
    db: &C,
    qualified: &str,
) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = to_regclass($1)) AS d",
            [qualified.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get("", "d")?,
        None => false,
    })
}

/// Makes the global table `table` a reference table (a copy on every node) on Citus; does
/// nothing on plain PostgreSQL or when it already is one. A Citus local table (one that got a
/// foreign key to a reference table first) is converted; a distributed table is an error naming
/// the way out (Citus cannot convert it in place once it has an identity column).
pub async fn reference_table<C: ConnectionTrait>(db: &C, table: &str) -> Result<(), DbErr> {
    if !is_installed(db).await? {
        return Ok(());
    }
    db.execute_unprepared(&reference_table_sql(table)).await?;
    Ok(())
}

/// The statement of [`reference_table`], for a database known to run Citus.
pub(crate) fn reference_table_sql(table: &str) -> String {
    let qualified = quote_qualified(&public(table));
    format!(
        "DO $sea_tenancy$
         DECLARE
           placed record;
         BEGIN
           {placement}
           IF NOT FOUND OR placed.kind = 'local' THEN
             PERFORM create_reference_table({lit});
           ELSIF placed.kind <> 'reference' THEN
             RAISE EXCEPTION 'sea-tenancy: % is already a Citus % table, and Citus cannot make it a reference table in place: %', {lit}, placed.kind, {way_out};
           END IF;
         END $sea_tenancy$",
        lit = quote_literal(&qualified),
        placement = placement_sql(&qualified),
        way_out = quote_literal(WAY_OUT),
    )
}

/// The way out when Citus cannot convert a table in place.
const WAY_OUT: &str = "Citus converts a table between reference and distributed only without \
     identity columns or foreign keys (undistribute_table, then create_reference_table or \
     create_distributed_table); otherwise create the table under a new name, copy the rows and \
     drop the old one";

/// `SELECT ... INTO placed`: how Citus keeps `qualified` (`placed.kind`: `reference`, `local`,
/// `distributed` with `placed.dist_column`, or `single-shard`), `NOT FOUND` when it does not.
fn placement_sql(qualified: &str) -> String {
    format!(
        "SELECT CASE WHEN p.partmethod = 'h' THEN 'distributed'
                     WHEN p.repmodel = 't' THEN 'reference'
                     WHEN p.colocationid = 0 THEN 'local'
                     ELSE 'single-shard' END AS kind,
                CASE WHEN p.partmethod = 'h' THEN column_to_column_name(p.logicalrelid, p.partkey) END AS dist_column
           INTO placed FROM pg_dist_partition p WHERE p.logicalrelid = {}::regclass;",
        quote_literal(qualified)
    )
}

/// Sends `statements`: as one multi-statement query on plain PostgreSQL (one round trip), one
/// by one on Citus, which refuses to propagate some DDL (`CREATE INDEX` in a distributed
/// schema) out of a multi-statement query ("cannot insert multiple commands into a prepared
/// statement").
pub(crate) async fn send<C: ConnectionTrait>(
    db: &C,
    statements: &[String],
    citus: bool,
) -> Result<(), DbErr> {
    if citus {
        for statement in statements {
            db.execute_unprepared(statement).await?;
        }
    } else if !statements.is_empty() {
        db.execute_unprepared(&statements.join(";\n")).await?;
    }
    Ok(())
}

/// Distributes the attribute table `table` on its tenant column `column` on Citus, colocated
/// with the other attribute tables of that column type; does nothing on plain PostgreSQL or
/// when it already is distributed on `column`. A table Citus already keeps otherwise (a
/// reference table, a Citus local table, distributed on another column) is an error naming the
/// way out: Citus cannot convert it in place once it has an identity column.
///
/// Citus requires every primary key and unique constraint of a distributed table to include the
/// distribution column: a primary key without it (`(id)`) becomes `(column, id)` first. A unique
/// constraint without it is an error naming the constraint (the generator puts the tenant
/// column first in every unique key of an attribute table).
pub async fn distribute_table<C: ConnectionTrait>(
    db: &C,
    table: &str,
    column: &str,
) -> Result<(), DbErr> {
    if !is_installed(db).await? {
        return Ok(());
    }
    let qualified = quote_qualified(&public(table));
    let lit = quote_literal(&qualified);
    let col = quote_ident(column);
    let col_lit = quote_literal(column);
    db.execute_unprepared(&format!(
        "DO $sea_tenancy$
         DECLARE
           pk record;
           bad text;
           placed record;
         BEGIN
           {placement}
           IF FOUND AND placed.kind = 'distributed' AND placed.dist_column = {col_lit} THEN
             RETURN;
           ELSIF FOUND THEN
             RAISE EXCEPTION 'sea-tenancy: % is already a Citus % table%, and Citus cannot distribute it on % in place: %', {lit}, placed.kind,
                 CASE WHEN placed.kind = 'distributed' THEN format(' (on %s)', placed.dist_column)
                      WHEN placed.kind = 'local' THEN ' (it got a foreign key to a reference table before it was distributed)'
                      ELSE '' END,
                 {col_lit}, {way_out};
           END IF;
           SELECT i.indexrelid::regclass::text INTO bad FROM pg_index i
            WHERE i.indrelid = {lit}::regclass AND i.indisunique AND NOT i.indisprimary
              AND NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = i.indrelid
                                AND a.attnum = ANY (i.indkey) AND a.attname = {col_lit});
           IF bad IS NOT NULL THEN
             RAISE EXCEPTION 'sea-tenancy: unique constraint or index % of % does not include the tenant column %, which Citus requires of distributed tables: put the tenant column first in the unique key (the generator does for attribute tables)', bad, {lit}, {col_lit};
           END IF;
           SELECT c.conname, pg_get_constraintdef(c.oid) AS def INTO pk FROM pg_constraint c
            WHERE c.conrelid = {lit}::regclass AND c.contype = 'p';
           IF pk.conname IS NOT NULL AND NOT EXISTS (
                SELECT FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                 WHERE c.conrelid = {lit}::regclass AND c.contype = 'p' AND a.attname = {col_lit}) THEN
             EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', {lit}, pk.conname);
             EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (%s, %s)', {lit}, pk.conname, {col_lit_ident},
                            substring(pk.def FROM 'PRIMARY KEY \\((.*)\\)'));
           END IF;
           PERFORM create_distributed_table({lit}, {col_lit});
         END $sea_tenancy$;",
        col_lit_ident = quote_literal(&col),
        placement = placement_sql(&qualified),
        way_out = quote_literal(WAY_OUT),
    ))
    .await?;
    Ok(())
}

/// `table`, qualified with `public` unless it already names a schema.
fn public(table: &str) -> String {
    if table.contains('.') {
        table.to_owned()
    } else {
        format!("public.{table}")
    }
}

//! Runs operations directly on a connection: the same [`super::step`]s, built with the same
//! sea-query builders the rendered files use. For tools and tests that apply a plan without
//! compiling a migration crate (the reference app's own migrations are compiled from
//! [`super::render`]'s output).

use sea_orm::{ConnectionTrait, DbErr};
use sea_query::{
    Alias, ColumnDef, ColumnType, Expr, ExprTrait, ForeignKey, ForeignKeyAction,
    ForeignKeyCreateStatement, Index, IntoIden, Query, StringLen, Table,
};

use super::operation::Operation;
use super::snapshot::{Column, ForeignKey as Fk, Table as TableDef};
use super::step::{Modify, Step, steps};

/// Applies `ops`, in order, on `db` (whose search path selects the tenant schema, if any).
pub async fn apply<C: ConnectionTrait>(db: &C, ops: &[Operation]) -> Result<(), DbErr> {
    for op in ops {
        apply_one(db, op).await?;
    }
    Ok(())
}

fn a(name: &str) -> Alias {
    Alias::new(name)
}

fn column_type(sql: &str) -> ColumnType {
    let (base, args) = match sql.split_once('(') {
        Some((b, rest)) => (b.trim(), Some(rest.trim_end_matches(')'))),
        None => (sql, None),
    };
    let nums: Vec<u32> = args
        .map(|x| x.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default();
    match (base, nums.as_slice()) {
        ("smallint", []) => ColumnType::SmallInteger,
        ("integer", []) => ColumnType::Integer,
        ("bigint", []) => ColumnType::BigInteger,
        ("varchar", []) => ColumnType::String(StringLen::None),
        ("varchar", [n]) => ColumnType::String(StringLen::N(*n)),
        ("char", [n]) => ColumnType::Char(Some(*n)),
        ("text", []) => ColumnType::Text,
        ("boolean" | "bool", []) => ColumnType::Boolean,
        ("real", []) => ColumnType::Float,
        ("double precision", []) => ColumnType::Double,
        ("numeric", []) => ColumnType::Decimal(None),
        ("numeric", [p, s]) => ColumnType::Decimal(Some((*p, *s))),
        ("date", []) => ColumnType::Date,
        ("time", []) | ("time without time zone", []) => ColumnType::Time,
        ("timestamp", []) | ("timestamp without time zone", []) => ColumnType::DateTime,
        ("timestamp with time zone", []) => ColumnType::TimestampWithTimeZone,
        ("uuid", []) => ColumnType::Uuid,
        ("json", []) => ColumnType::Json,
        ("jsonb", []) => ColumnType::JsonBinary,
        _ => ColumnType::Custom(a(sql).into_iden()),
    }
}

fn column_def(c: &Column, primary: bool) -> ColumnDef {
    let mut def = ColumnDef::new_with_type(a(&c.name), column_type(&c.sql_type));
    if c.nullable {
        def.null();
    } else {
        def.not_null();
    }
    if c.auto_increment {
        def.auto_increment();
    }
    if primary {
        def.primary_key();
    }
    if let Some(d) = &c.default {
        def.default(Expr::cust(d.clone()));
    }
    def
}

fn action(x: &str) -> ForeignKeyAction {
    match x {
        "CASCADE" => ForeignKeyAction::Cascade,
        "SET NULL" => ForeignKeyAction::SetNull,
        "SET DEFAULT" => ForeignKeyAction::SetDefault,
        "RESTRICT" => ForeignKeyAction::Restrict,
        _ => ForeignKeyAction::NoAction,
    }
}

fn foreign_key(table: &str, fk: &Fk) -> ForeignKeyCreateStatement {
    let mut key = ForeignKey::create();
    key.name(&fk.name).from_tbl(a(table));
    for c in &fk.columns {
        key.from_col(a(c));
    }
    match &fk.references.schema {
        Some(schema) => key.to_tbl((a(schema).into_iden(), a(&fk.references.table).into_iden())),
        None => key.to_tbl(a(&fk.references.table)),
    };
    for c in &fk.references.columns {
        key.to_col(a(c));
    }
    if let Some(x) = &fk.on_delete {
        key.on_delete(action(x));
    }
    if let Some(x) = &fk.on_update {
        key.on_update(action(x));
    }
    key.to_owned()
}

fn create_table(t: &TableDef) -> sea_query::TableCreateStatement {
    let mut stmt = Table::create();
    stmt.table(a(&t.name));
    let single = t.primary_key.len() == 1;
    for c in &t.columns {
        stmt.col(column_def(c, single && t.primary_key[0] == c.name));
    }
    if t.primary_key.len() > 1 {
        let mut pk = Index::create();
        for c in &t.primary_key {
            pk.col(a(c));
        }
        stmt.primary_key(&mut pk);
    }
    for fk in &t.foreign_keys {
        stmt.foreign_key(&mut foreign_key(&t.name, fk));
    }
    stmt
}

async fn apply_one<C: ConnectionTrait>(db: &C, op: &Operation) -> Result<(), DbErr> {
    for step in steps(op) {
        run(db, &step).await?;
    }
    Ok(())
}

fn modify(table: &str, def: &mut ColumnDef) -> sea_query::TableAlterStatement {
    Table::alter().table(a(table)).modify_column(def).to_owned()
}

async fn run<C: ConnectionTrait>(db: &C, step: &Step) -> Result<(), DbErr> {
    match step {
        Step::Comment(_) => {}
        Step::Sql { sql, .. } => {
            db.execute_unprepared(sql).await?;
        }
        Step::CreateTable(t) => {
            db.execute(&create_table(t)).await?;
        }
        Step::DropTable(name) => {
            db.execute(Table::drop().table(a(name))).await?;
        }
        Step::ReferenceTable { table } => crate::citus::reference_table(db, table).await?,
        Step::DistributeTable { table, column } => {
            crate::citus::distribute_table(db, table, column).await?;
        }
        Step::AddColumn { table, column } => {
            db.execute(
                Table::alter()
                    .table(a(table))
                    .add_column(column_def(column, false)),
            )
            .await?;
        }
        Step::DropColumn { table, column } => {
            db.execute(Table::alter().table(a(table)).drop_column(a(column)))
                .await?;
        }
        Step::RenameColumn { table, from, to } => {
            db.execute(Table::alter().table(a(table)).rename_column(a(from), a(to)))
                .await?;
        }
        Step::ModifyColumn(Modify {
            table,
            column,
            sql_type,
            using,
            nullable,
            default,
        }) => {
            let mut def = match sql_type {
                Some(ty) => ColumnDef::new_with_type(a(column), column_type(ty)),
                None => ColumnDef::new(a(column)),
            };
            match nullable {
                Some(true) => {
                    def.null();
                }
                Some(false) => {
                    def.not_null();
                }
                None => {}
            }
            if let Some(default) = default {
                def.default(Expr::cust(default.clone()));
            }
            if let Some(using) = using {
                def.using(Expr::cust(using.clone()));
            }
            db.execute(&modify(table, &mut def)).await?;
        }
        Step::Fill {
            table,
            column,
            value,
        } => {
            db.execute(
                Query::update()
                    .table(a(table))
                    .value(a(column), Expr::cust(value.clone()))
                    .and_where(Expr::col(a(column)).is_null()),
            )
            .await?;
        }
        Step::CreateIndex { table, index } => {
            let mut stmt = Index::create();
            stmt.name(&index.name).table(a(table));
            for c in &index.columns {
                stmt.col(a(c));
            }
            if index.unique {
                stmt.unique();
            }
            db.execute(&stmt).await?;
        }
        Step::DropIndex { table, name } => {
            db.execute(Index::drop().name(name).table(a(table))).await?;
        }
        Step::AddForeignKey {
            table,
            foreign_key: fk,
        } => {
            db.execute(&foreign_key(table, fk)).await?;
        }
        Step::DropForeignKey { table, name } => {
            db.execute(ForeignKey::drop().name(name).table(a(table)))
                .await?;
        }
        Step::EnableIsolation {
            table,
            column,
            keep_default,
            global_rows,
        } => match (*global_rows, *keep_default) {
            (false, true) => {
                crate::rls::enable_tenant_isolation_keep_default(db, table, column).await?
            }
            (false, false) => crate::rls::enable_tenant_isolation(db, table, column).await?,
            (true, true) => {
                crate::rls::enable_tenant_isolation_with_global_rows_keep_default(db, table, column)
                    .await?
            }
            (true, false) => {
                crate::rls::enable_tenant_isolation_with_global_rows(db, table, column).await?
            }
        },
        Step::DisableIsolation { table, column } => {
            crate::rls::disable_tenant_isolation(db, table, column).await?;
        }
        Step::InstallGuard { table, columns } => {
            let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
            crate::manage::install_guard(db, table, &columns).await?;
        }
    }
    Ok(())
}

//! Runs operations directly on a connection, with the same sea-query builders the rendered
//! files use. For tools and tests that apply a plan without compiling a migration crate (the
//! reference app's own migrations are compiled from [`super::render`]'s output).

use sea_orm::{ConnectionTrait, DbErr};
use sea_query::{
    Alias, ColumnDef, ColumnType, Expr, ForeignKey, ForeignKeyAction, ForeignKeyCreateStatement,
    Index, IntoIden, StringLen, Table,
};

use super::operation::Operation;
use super::snapshot::{Column, ForeignKey as Fk, Table as TableDef};

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
    match op {
        Operation::CreateTable(t) => {
            db.execute(&create_table(t)).await?;
        }
        Operation::DropTable(t) => {
            db.execute(Table::drop().table(a(&t.name))).await?;
        }
        Operation::AddColumn { table, column } => {
            db.execute(
                Table::alter()
                    .table(a(table))
                    .add_column(column_def(column, false)),
            )
            .await?;
        }
        Operation::DropColumn { table, column } => {
            db.execute(Table::alter().table(a(table)).drop_column(a(&column.name)))
                .await?;
        }
        Operation::RenameColumn { table, from, to } => {
            db.execute(Table::alter().table(a(table)).rename_column(a(from), a(to)))
                .await?;
        }
        Operation::AlterColumn { table, from, to } => {
            let mut def = ColumnDef::new(a(&to.name));
            let mut any = false;
            if from.sql_type != to.sql_type {
                def = ColumnDef::new_with_type(a(&to.name), column_type(&to.sql_type));
                any = true;
            }
            if from.nullable != to.nullable {
                if to.nullable {
                    def.null();
                } else {
                    def.not_null();
                }
                any = true;
            }
            if let Some(d) = &to.default
                && from.default.as_ref() != Some(d)
            {
                def.default(Expr::cust(d.clone()));
                any = true;
            }
            if any {
                db.execute(Table::alter().table(a(table)).modify_column(def))
                    .await?;
            }
            if from.default.is_some() && to.default.is_none() {
                db.execute_unprepared(&format!(
                    "ALTER TABLE \"{table}\" ALTER COLUMN \"{}\" DROP DEFAULT",
                    to.name
                ))
                .await?;
            }
        }
        Operation::AddIndex { table, index } => {
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
        Operation::DropIndex { table, index } => {
            db.execute(Index::drop().name(&index.name).table(a(table)))
                .await?;
        }
        Operation::AddForeignKey {
            table,
            foreign_key: fk,
        } => {
            db.execute(&foreign_key(table, fk)).await?;
        }
        Operation::DropForeignKey { table, foreign_key } => {
            db.execute(ForeignKey::drop().name(&foreign_key.name).table(a(table)))
                .await?;
        }
        Operation::EnableTenantIsolation { table, column } => {
            crate::rls::enable_tenant_isolation(db, table, column).await?;
        }
        Operation::DisableTenantIsolation { table, column } => {
            crate::rls::disable_tenant_isolation(db, table, column).await?;
        }
        Operation::InstallGuard { table, columns } => {
            let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
            crate::manage::install_guard(db, table, &columns).await?;
        }
    }
    Ok(())
}

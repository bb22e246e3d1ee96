//! Shared by the generator's end-to-end tests: reads a live schema back from
//! `information_schema` / `pg_catalog` and compares it with the generator's model.
#![allow(dead_code)]

use std::collections::BTreeSet;

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_tenancy::generate::snapshot::Table;

/// `information_schema`'s spelling of the generator's types.
fn information_type(sql: &str) -> String {
    match sql {
        "varchar" => "character varying".into(),
        other if other.starts_with("varchar(") => "character varying".into(),
        other if other.starts_with("numeric(") => "numeric".into(),
        other => other.into(),
    }
}

/// Asserts that `schema.table` exists with exactly the model's columns (name, type,
/// nullability), foreign keys and unique indexes.
pub async fn assert_table_matches<C: ConnectionTrait>(db: &C, schema: &str, table: &Table) {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT column_name::text AS name, data_type::text AS ty, is_nullable::text AS nullable
               FROM information_schema.columns
              WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
            [schema.into(), table.name.clone().into()],
        ))
        .await
        .unwrap();
    let live: Vec<(String, String, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "name").unwrap(),
                r.try_get::<String>("", "ty").unwrap(),
                r.try_get::<String>("", "nullable").unwrap() == "YES",
            )
        })
        .collect();
    let expected: Vec<(String, String, bool)> = table
        .columns
        .iter()
        .map(|c| (c.name.clone(), information_type(&c.sql_type), c.nullable))
        .collect();
    assert_eq!(live, expected, "columns of {schema}.{}", table.name);

    let names = |sql: &'static str| {
        let schema = schema.to_owned();
        let t = table.name.clone();
        async move {
            db.query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                [schema.into(), t.into()],
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String>("", "name").unwrap())
            .collect::<BTreeSet<String>>()
        }
    };
    let fks = names(
        "SELECT c.conname::text AS name FROM pg_constraint c
           JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
          WHERE c.contype = 'f' AND n.nspname = $1 AND t.relname = $2",
    )
    .await;
    let expected_fks: BTreeSet<String> =
        table.foreign_keys.iter().map(|f| f.name.clone()).collect();
    assert_eq!(fks, expected_fks, "foreign keys of {schema}.{}", table.name);
    let indexes = names(
        "SELECT indexname::text AS name FROM pg_indexes WHERE schemaname = $1 AND tablename = $2",
    )
    .await;
    for index in &table.indexes {
        assert!(
            indexes.contains(&index.name),
            "{schema}.{} lacks index {}: {indexes:?}",
            table.name,
            index.name
        );
    }
    let rls = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT c.relrowsecurity AS rls FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relname = $2",
            [schema.into(), table.name.clone().into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<bool>("", "rls")
        .unwrap();
    assert_eq!(
        rls,
        table.tenancy.column().is_some(),
        "row-level security of {schema}.{}",
        table.name
    );
}

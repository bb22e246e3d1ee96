//! The catalog of a schema as sorted lines (columns with type, nullability, default and identity;
//! constraints; indexes; row-level security; policies; triggers; functions), so two states of a
//! database compare with `==` and a difference prints as the lines that differ. Column order is
//! not part of it: a column dropped and added back by a rollback comes last, which no query by
//! name notices.
#![allow(dead_code)]

use std::collections::BTreeSet;

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_tenancy::generate::snapshot::Table;

const CATALOG: &str = "
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
       || CASE WHEN a.attidentity <> '' THEN ' identity' ELSE '' END AS line
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint ' || c.relname || '.' || k.conname || ' ' || pg_get_constraintdef(k.oid)
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = $1
UNION ALL
SELECT 'table ' || c.relname || ' rls=' || c.relrowsecurity || ' forced=' || c.relforcerowsecurity
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relkind = 'r'
UNION ALL
SELECT 'policy ' || tablename || '.' || policyname || ' ' || coalesce(qual, '') || ' / '
       || coalesce(with_check, '') FROM pg_policies WHERE schemaname = $1
UNION ALL
SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND NOT t.tgisinternal
UNION ALL
SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = $1";

/// The catalog lines of `schemas`, each prefixed with its schema.
pub async fn read<C: ConnectionTrait>(db: &C, schemas: &[&str]) -> BTreeSet<String> {
    let mut lines = BTreeSet::new();
    for schema in schemas {
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                CATALOG,
                [(*schema).into()],
            ))
            .await
            .unwrap();
        for row in rows {
            let line: String = row.try_get("", "line").unwrap();
            // sea-tenancy's own objects (the tenant map and its functions) are infrastructure:
            // installed once, by the first attribute table or `migrate`, and kept.
            if !is_sea_tenancy_own(&line) {
                lines.insert(format!("{schema}: {line}"));
            }
        }
    }
    lines
}

/// A line about one of sea-tenancy's own objects (`sea_tenancy_tenants`, `sea_tenancy_key`, ...).
fn is_sea_tenancy_own(line: &str) -> bool {
    let object = line.split_once(' ').map_or("", |(_, rest)| rest);
    object.starts_with("sea_tenancy_") || line.contains(" ON public.sea_tenancy_")
}

/// Panics with the lines only one side has.
pub fn assert_same(expected: &BTreeSet<String>, actual: &BTreeSet<String>, context: &str) {
    if expected != actual {
        let missing: Vec<&String> = expected.difference(actual).collect();
        let extra: Vec<&String> = actual.difference(expected).collect();
        panic!("{context}: catalog differs\n  missing: {missing:#?}\n  extra: {extra:#?}");
    }
}

/// `format_type`'s spelling of the generator's types.
fn catalog_type(sql: &str) -> String {
    let s = sql.replace("varchar", "character varying");
    match s.as_str() {
        "timestamp" => "timestamp without time zone".into(),
        "time" => "time without time zone".into(),
        "numeric(10, 2)" => "numeric(10,2)".into(),
        _ => s,
    }
}

/// Asserts that `schema.table` has exactly the model's columns (type, nullability, whether a
/// default and an identity exist), foreign keys, primary key, indexes and row-level security.
pub async fn assert_matches_model<C: ConnectionTrait>(db: &C, schema: &str, table: &Table) {
    let lines = read(db, &[schema]).await;
    let of = |kind: &str| -> BTreeSet<String> {
        let prefix = format!("{schema}: {kind} {}.", table.name);
        lines
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    };
    let live_columns = of("column");
    let tenant_column = table.tenancy.column();
    let expected: BTreeSet<String> = table
        .columns
        .iter()
        .map(|c| {
            let stamped = tenant_column == Some(c.name.as_str()) && !table.keep_tenant_default;
            format!(
                "{} {}{}",
                c.name,
                catalog_type(&c.sql_type),
                if c.nullable { "" } else { " not null" }
            ) + if c.default.is_some() || stamped {
                " default"
            } else {
                ""
            } + if c.auto_increment { " identity" } else { "" }
        })
        .collect();
    // Defaults compare by presence (PostgreSQL prints them with casts); the tenant key's too.
    let live: BTreeSet<String> = live_columns
        .iter()
        .map(|l| match l.find(" default ") {
            Some(at) => {
                let rest = if l.ends_with(" identity") {
                    " identity"
                } else {
                    ""
                };
                format!("{} default{rest}", &l[..at])
            }
            None => l.clone(),
        })
        .collect();
    assert_eq!(live, expected, "columns of {schema}.{}", table.name);
    if let Some(column) = tenant_column.filter(|_| table.keep_tenant_default) {
        let declared = table
            .column(column)
            .and_then(|c| c.default.clone())
            .unwrap();
        // sea-query parenthesizes expressions; PostgreSQL prints them without.
        let declared = declared
            .strip_prefix('(')
            .and_then(|d| d.strip_suffix(')'))
            .unwrap_or(&declared)
            .to_owned();
        assert!(
            live_columns
                .iter()
                .any(|l| l.starts_with(&format!("{column} ")) && l.contains(&declared)),
            "{schema}.{}: declared default {declared} of the tenant column is gone: {live_columns:?}",
            table.name
        );
    }
    let constraints = of("constraint");
    let mut expected_names: BTreeSet<String> =
        table.foreign_keys.iter().map(|f| f.name.clone()).collect();
    expected_names.insert(sea_tenancy::generate::step::primary_key_name(&table.name));
    let names: BTreeSet<String> = constraints
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        names, expected_names,
        "constraints of {schema}.{}",
        table.name
    );
    let pk = constraints
        .iter()
        .find(|l| l.contains("PRIMARY KEY"))
        .unwrap();
    assert!(
        pk.ends_with(&format!("PRIMARY KEY ({})", table.primary_key.join(", "))),
        "{schema}.{}: {pk}",
        table.name
    );
    for index in &table.indexes {
        let columns = index.columns.join(", ");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("{schema}: index CREATE "))
                    && l.contains(&format!("INDEX {} ON ", index.name))
                    && l.contains(&format!("({columns})"))
                    && l.contains("UNIQUE") == index.unique),
            "{schema}.{} lacks index {} ({columns})",
            table.name,
            index.name
        );
    }
    let isolated = table.tenancy.column().is_some();
    // Enabled, never forced: the owner (migrations, moves) sees every row; tenant and global
    // roles never own tables.
    assert!(
        lines.contains(&format!(
            "{schema}: table {} rls={isolated} forced=false",
            table.name
        )),
        "row-level security of {schema}.{}",
        table.name
    );
}

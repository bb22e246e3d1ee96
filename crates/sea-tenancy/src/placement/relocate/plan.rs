//! Step 2 of a move: what moves (the tenant's schema tables and its rows of attribute tables),
//! the lock that keeps writers out from here on, and the parents-first order of the copy with
//! the global rows the tenant's data references.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::sqlx::{self, Row};

use super::{Conn, MOVE_KEY, MoveError, Transfer, exec};
use crate::error::sqlx_sqlstate;
use crate::placement::catalog;
use crate::tenant::quote_ident;

/// One table to copy.
#[derive(Debug, Clone)]
pub(in crate::placement) struct Item {
    /// `"schema"."table"`.
    pub(super) qualified: String,
    /// `schema.table`, as the catalog query spells it.
    pub(super) key: String,
    /// The tenant column, for attribute tables (copy only the tenant's rows).
    pub(super) column: Option<String>,
}

impl Item {
    /// `WHERE ..` selecting the tenant's rows, empty for a schema table.
    pub(super) fn filter(&self, alias: &str) -> String {
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
pub(super) struct Reference {
    pub(super) child: Item,
    pub(super) child_columns: Vec<String>,
    pub(super) parent: String,
    pub(super) parent_key: String,
    pub(super) parent_columns: Vec<String>,
}

impl Transfer<'_> {
    /// The tenant's schema tables and the attribute tables present in the source.
    pub(super) async fn items(&self, s: &mut Conn) -> Result<(Vec<Item>, Vec<Item>), MoveError> {
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
    pub(super) async fn lock(&self, s: &mut Conn, items: &[Item]) -> Result<(), MoveError> {
        if items.is_empty() {
            return Ok(());
        }
        let list: Vec<&str> = items.iter().map(|i| i.qualified.as_str()).collect();
        let sql = format!("LOCK TABLE {} IN EXCLUSIVE MODE NOWAIT", list.join(", "));
        match exec(s, sql).await {
            Ok(()) => Ok(()),
            Err(e) if sqlx_sqlstate(&e).as_deref() == Some("55P03") => Err(MoveError::Busy {
                tenant: self.tenant.schema().to_owned(),
                detail: e.to_string(),
            }),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// Parents-first order of `items`, and the references to global tables outside them.
    pub(super) async fn plan(
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
}

//! The order operations run in, from an explicit dependency graph: each operation names what it
//! creates, what it needs and what it removes, and an edge goes from whatever creates a thing to
//! whatever needs it, and from whatever still uses a thing to whatever removes it. Ties keep the
//! diff's order, so the result is deterministic.
//!
//! Public tables are made Citus reference or distributed tables ([`Operation::Distribute`])
//! before any foreign key of or to them is added (their keys are never inline, see
//! [`Operation::creation`]) and after their row-level security is enabled (which sets the
//! tenant column's default, and Citus refuses to alter a distribution column); they change
//! distribution only after the keys that involve them and their row-level security are gone.

use std::collections::BTreeSet;

use super::error::GenerateError;
use super::operation::{Distribution, Operation};

/// A thing in the database an operation creates, needs or removes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Table(String),
    Column(String, String),
    /// A unique index over exactly these columns (what a foreign key needs on its target).
    Unique(String, Vec<String>),
    Index(String),
    /// How Citus keeps a table (a reference table, distributed on its tenant column): set before
    /// any foreign key of or to the table is added, changed after those are dropped.
    Distribution(String),
    /// A table's row-level security, with the tenant column's default: in place before Citus
    /// distributes the table on that column (it refuses to change the column afterwards).
    Isolation(String),
}

#[derive(Default)]
struct Deps {
    provides: Vec<Key>,
    needs: Vec<Key>,
    removes: Vec<Key>,
    /// What the removed object used (it must go before what it used goes).
    used: Vec<Key>,
}

fn deps(op: &Operation) -> Deps {
    let mut d = Deps::default();
    let col = |t: &str, c: &str| Key::Column(t.to_owned(), c.to_owned());
    match op {
        Operation::CreateTable(t) | Operation::DropTable(t) => {
            let mut keys = vec![
                Key::Table(t.name.clone()),
                Key::Unique(t.name.clone(), t.primary_key.clone()),
            ];
            keys.extend(t.columns.iter().map(|c| col(&t.name, &c.name)));
            let mut uses = Vec::new();
            for fk in &t.foreign_keys {
                if fk.references.schema.is_none() && fk.references.table != t.name {
                    uses.push(Key::Table(fk.references.table.clone()));
                    uses.push(Key::Unique(
                        fk.references.table.clone(),
                        fk.references.columns.clone(),
                    ));
                }
            }
            if matches!(op, Operation::CreateTable(_)) {
                d.provides = keys;
                d.needs = uses;
            } else {
                d.removes = keys;
                d.used = uses;
            }
        }
        Operation::Distribute {
            table, from, to, ..
        } => {
            d.needs.push(Key::Table(table.clone()));
            if let Distribution::ByTenant { column } = to {
                d.needs.push(col(table, column));
                d.needs.push(Key::Isolation(table.clone()));
            }
            d.provides.push(Key::Distribution(table.clone()));
            if from.is_some() {
                d.removes.push(Key::Distribution(table.clone()));
            }
        }
        Operation::AddColumn { table, column, .. } => {
            d.needs.push(Key::Table(table.clone()));
            d.provides.push(col(table, &column.name));
        }
        Operation::DropColumn { table, column, .. } => d.removes.push(col(table, &column.name)),
        Operation::RenameColumn { table, from, to } => {
            d.removes.push(col(table, from));
            d.provides.push(col(table, to));
        }
        Operation::AlterColumn { table, to, .. } => d.needs.push(col(table, &to.name)),
        Operation::SetPrimaryKey { table, from, to } => {
            d.needs.extend(to.iter().map(|c| col(table, c)));
            d.provides.push(Key::Unique(table.clone(), to.clone()));
            d.removes.push(Key::Unique(table.clone(), from.clone()));
            d.used.extend(from.iter().map(|c| col(table, c)));
        }
        Operation::AddIndex { table, index } => {
            d.needs.extend(index.columns.iter().map(|c| col(table, c)));
            d.provides.push(Key::Index(index.name.clone()));
            if index.unique {
                d.provides
                    .push(Key::Unique(table.clone(), index.columns.clone()));
            }
        }
        Operation::DropIndex { table, index } => {
            d.removes.push(Key::Index(index.name.clone()));
            if index.unique {
                d.removes
                    .push(Key::Unique(table.clone(), index.columns.clone()));
            }
            d.used.extend(index.columns.iter().map(|c| col(table, c)));
        }
        Operation::AddForeignKey { table, foreign_key } => {
            d.needs
                .extend(foreign_key.columns.iter().map(|c| col(table, c)));
            d.needs.push(Key::Distribution(table.clone()));
            if foreign_key.references.schema.is_none() {
                let target = &foreign_key.references.table;
                d.needs.push(Key::Distribution(target.clone()));
                d.needs.push(Key::Table(target.clone()));
                d.needs.push(Key::Unique(
                    target.clone(),
                    foreign_key.references.columns.clone(),
                ));
            }
        }
        Operation::DropForeignKey { table, foreign_key } => {
            d.used
                .extend(foreign_key.columns.iter().map(|c| col(table, c)));
            d.used.push(Key::Distribution(table.clone()));
            if foreign_key.references.schema.is_none() {
                let target = &foreign_key.references.table;
                d.used.push(Key::Distribution(target.clone()));
                d.used.push(Key::Table(target.clone()));
                d.used.push(Key::Unique(
                    target.clone(),
                    foreign_key.references.columns.clone(),
                ));
            }
        }
        Operation::EnableTenantIsolation(i) => {
            d.needs.push(col(&i.table, &i.column));
            d.provides.push(Key::Isolation(i.table.clone()));
        }
        Operation::DisableTenantIsolation(i) => {
            d.used.push(col(&i.table, &i.column));
            d.used.push(Key::Distribution(i.table.clone()));
        }
        Operation::InstallGuard { table, columns } => {
            d.needs.push(Key::Table(table.clone()));
            d.needs.push(Key::Distribution(table.clone()));
            d.needs.extend(columns.iter().map(|c| col(table, c)));
        }
        Operation::RemoveGuard { table, columns } => {
            d.used.push(Key::Table(table.clone()));
            d.used.extend(columns.iter().map(|c| col(table, c)));
        }
    }
    d
}

/// Sorts `ops` so every operation comes after what it depends on. New tables whose foreign
/// keys form a cycle are created without those keys, which are added once all exist.
pub fn order(ops: Vec<Operation>) -> Result<Vec<Operation>, GenerateError> {
    match sort(ops) {
        Ok(sorted) => Ok(sorted),
        Err((ops, stuck)) => {
            let mut deferred = Vec::new();
            let mut split: Vec<Operation> = ops
                .into_iter()
                .enumerate()
                .map(|(i, op)| match op {
                    Operation::CreateTable(mut t) if stuck.contains(&i) => {
                        let (cyclic, kept) = t.foreign_keys.drain(..).partition(|fk| {
                            fk.references.schema.is_none() && fk.references.table != t.name
                        });
                        t.foreign_keys = kept;
                        deferred.extend(cyclic.into_iter().map(|foreign_key| {
                            Operation::AddForeignKey {
                                table: t.name.clone(),
                                foreign_key,
                            }
                        }));
                        Operation::CreateTable(t)
                    }
                    op => op,
                })
                .collect();
            if deferred.is_empty() {
                return Err(cycle(&split, &stuck));
            }
            split.extend(deferred);
            sort(split).map_err(|(ops, stuck)| cycle(&ops, &stuck))
        }
    }
}

fn cycle(ops: &[Operation], stuck: &BTreeSet<usize>) -> GenerateError {
    let mut tables: Vec<&str> = stuck.iter().map(|&i| ops[i].table()).collect();
    tables.sort();
    tables.dedup();
    GenerateError::Cycle(tables.join(", "))
}

/// A topological sort, ties in input order; on a cycle, the operations back with the indexes
/// of those that could not be placed.
#[allow(clippy::type_complexity)]
fn sort(ops: Vec<Operation>) -> Result<Vec<Operation>, (Vec<Operation>, BTreeSet<usize>)> {
    let deps: Vec<Deps> = ops.iter().map(deps).collect();
    let n = ops.len();
    let mut edges: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for (a, da) in deps.iter().enumerate() {
        for (b, db) in deps.iter().enumerate() {
            if a == b {
                continue;
            }
            let creates_needed = da.provides.iter().any(|k| db.needs.contains(k));
            let used_before_removed = da.used.iter().any(|k| db.removes.contains(k));
            let removed_before_recreated = da.removes.iter().any(|k| db.provides.contains(k));
            if creates_needed || used_before_removed || removed_before_recreated {
                edges[a].insert(b);
            }
        }
    }
    let mut indegree = vec![0usize; n];
    for targets in &edges {
        for &b in targets {
            indegree[b] += 1;
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut sorted = Vec::with_capacity(n);
    while let Some(&i) = ready.iter().next() {
        ready.remove(&i);
        sorted.push(i);
        for &b in &edges[i] {
            indegree[b] -= 1;
            if indegree[b] == 0 {
                ready.insert(b);
            }
        }
    }
    if sorted.len() < n {
        let stuck = (0..n).filter(|i| !sorted.contains(i)).collect();
        return Err((ops, stuck));
    }
    let mut slots: Vec<Option<Operation>> = ops.into_iter().map(Some).collect();
    Ok(sorted
        .into_iter()
        .map(|i| slots[i].take().expect("each once"))
        .collect())
}

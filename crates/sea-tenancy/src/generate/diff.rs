//! Two models → the operations that turn the old one into the new one, per migration set.
//!
//! A table that changes set (an entity moving between global, schema and attribute) is dropped
//! from one set and created in the other; global ↔ attribute stays in `public` and switches
//! row-level security on or off. Column renames are never guessed: a column that disappears
//! while another appears in the same table must be resolved by [`Renames`] (from `--rename`,
//! a question on a terminal, or `--no-rename`), otherwise [`GenerateError::AmbiguousRename`].

use std::collections::BTreeMap;

use super::error::GenerateError;
use super::operation::Operation;
use super::snapshot::{Set, Snapshot, Table, Tenancy};

/// How disappeared-and-appeared columns are resolved.
#[derive(Default)]
pub struct Renames {
    /// Confirmed renames: (table, old column, new column).
    pub given: Vec<(String, String, String)>,
    /// Treat every remaining drop + add as a drop and an add.
    pub no_rename: bool,
    /// Asked, when set, for each candidate: (table, old, new) → is it a rename?
    #[allow(clippy::type_complexity)]
    pub ask: Option<Box<dyn FnMut(&str, &str, &str) -> bool>>,
}

impl Renames {
    /// Parses `table.old=new`.
    pub fn parse_spec(spec: &str) -> Result<(String, String, String), GenerateError> {
        let bad = |reason: &str| GenerateError::BadRename {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let (left, new) = spec.split_once('=').ok_or_else(|| bad("no `=`"))?;
        let (table, old) = left
            .split_once('.')
            .ok_or_else(|| bad("no `.` before `=`"))?;
        if [table, old, new].iter().any(|s| s.is_empty()) {
            return Err(bad("empty name"));
        }
        Ok((table.to_owned(), old.to_owned(), new.to_owned()))
    }
}

/// The operations of each set, in diff order (see [`super::order`] for the final order).
pub fn diff(
    old: &Snapshot,
    new: &Snapshot,
    renames: &mut Renames,
) -> Result<BTreeMap<Set, Vec<Operation>>, GenerateError> {
    let mut out = BTreeMap::new();
    let mut used = vec![false; renames.given.len()];
    for set in Set::ALL {
        let old_tables: BTreeMap<&str, &Table> =
            old.set(set).map(|t| (t.name.as_str(), t)).collect();
        let new_tables: BTreeMap<&str, &Table> =
            new.set(set).map(|t| (t.name.as_str(), t)).collect();
        let mut ops = Vec::new();
        for (name, t) in &old_tables {
            if !new_tables.contains_key(name) {
                ops.push(Operation::DropTable((*t).clone()));
            }
        }
        for (name, t) in &new_tables {
            match old_tables.get(name) {
                None => create(t, &mut ops),
                Some(before) => alter(before, t, renames, &mut used, &mut ops)?,
            }
        }
        ops.sort_by_key(phase);
        out.insert(set, ops);
    }
    if let Some(i) = used.iter().position(|u| !u) {
        let (t, o, n) = &renames.given[i];
        return Err(GenerateError::BadRename {
            spec: format!("{t}.{o}={n}"),
            reason: format!("`{t}` has no column `{o}` that disappeared and `{n}` that appeared"),
        });
    }
    Ok(out)
}

/// Operations of one kind go together: drops first (constraints before what they use), then
/// creations (tables before what refers to them). [`super::order`] refines this.
fn phase(op: &Operation) -> u8 {
    match op {
        Operation::DropForeignKey { .. } => 0,
        Operation::DropIndex { .. } => 1,
        Operation::DisableTenantIsolation { .. } => 2,
        Operation::DropColumn { .. } => 3,
        Operation::DropTable(_) => 4,
        Operation::RenameColumn { .. } => 5,
        Operation::CreateTable(_) => 6,
        Operation::AddColumn { .. } => 7,
        Operation::AlterColumn { .. } => 8,
        Operation::AddIndex { .. } => 9,
        Operation::AddForeignKey { .. } => 10,
        Operation::EnableTenantIsolation { .. } => 11,
        Operation::InstallGuard { .. } => 12,
    }
}

fn create(t: &Table, ops: &mut Vec<Operation>) {
    ops.push(Operation::CreateTable(t.clone()));
    for index in &t.indexes {
        ops.push(Operation::AddIndex {
            table: t.name.clone(),
            index: index.clone(),
        });
    }
    if let Tenancy::Attribute { column } = &t.tenancy {
        ops.push(Operation::EnableTenantIsolation {
            table: t.name.clone(),
            column: column.clone(),
        });
    }
    if let Some(columns) = &t.manage_tenant {
        ops.push(Operation::InstallGuard {
            table: t.name.clone(),
            columns: columns.clone(),
        });
    }
}

fn alter(
    old: &Table,
    new: &Table,
    renames: &mut Renames,
    used: &mut [bool],
    ops: &mut Vec<Operation>,
) -> Result<(), GenerateError> {
    let name = &new.name;
    let mut dropped: Vec<&str> = old
        .columns
        .iter()
        .filter(|c| new.column(&c.name).is_none())
        .map(|c| c.name.as_str())
        .collect();
    let mut added: Vec<&str> = new
        .columns
        .iter()
        .filter(|c| old.column(&c.name).is_none())
        .map(|c| c.name.as_str())
        .collect();
    let mut renamed: Vec<(String, String)> = Vec::new();
    for (i, (t, o, n)) in renames.given.iter().enumerate() {
        if t == name && dropped.contains(&o.as_str()) && added.contains(&n.as_str()) {
            used[i] = true;
            renamed.push((o.clone(), n.clone()));
        }
    }
    dropped.retain(|d| !renamed.iter().any(|(o, _)| o == d));
    added.retain(|a| !renamed.iter().any(|(_, n)| n == a));
    if !dropped.is_empty() && !added.is_empty() && !renames.no_rename {
        if let Some(ask) = renames.ask.as_mut() {
            for d in dropped.clone() {
                if let Some(a) = added.clone().into_iter().find(|a| ask(name, d, a)) {
                    renamed.push((d.to_owned(), a.to_owned()));
                    dropped.retain(|x| *x != d);
                    added.retain(|x| *x != a);
                }
            }
        } else {
            return Err(GenerateError::AmbiguousRename {
                table: name.clone(),
                dropped: quoted(&dropped),
                added: quoted(&added),
                first_dropped: dropped[0].to_owned(),
                first_added: added[0].to_owned(),
            });
        }
    }
    for (o, n) in &renamed {
        ops.push(Operation::RenameColumn {
            table: name.clone(),
            from: o.clone(),
            to: n.clone(),
        });
        let (before, after) = (
            old.column(o).expect("dropped"),
            new.column(n).expect("added"),
        );
        let mut before = before.clone();
        before.name = n.clone();
        if before != *after {
            ops.push(Operation::AlterColumn {
                table: name.clone(),
                from: before,
                to: after.clone(),
            });
        }
    }
    for d in dropped {
        ops.push(Operation::DropColumn {
            table: name.clone(),
            column: old.column(d).expect("old column").clone(),
        });
    }
    for a in added {
        ops.push(Operation::AddColumn {
            table: name.clone(),
            column: new.column(a).expect("new column").clone(),
        });
    }
    for after in &new.columns {
        if let Some(before) = old.column(&after.name)
            && before != after
        {
            ops.push(Operation::AlterColumn {
                table: name.clone(),
                from: before.clone(),
                to: after.clone(),
            });
        }
    }
    for index in &old.indexes {
        if !new.indexes.contains(index) {
            ops.push(Operation::DropIndex {
                table: name.clone(),
                index: index.clone(),
            });
        }
    }
    for index in &new.indexes {
        if !old.indexes.contains(index) {
            ops.push(Operation::AddIndex {
                table: name.clone(),
                index: index.clone(),
            });
        }
    }
    for fk in &old.foreign_keys {
        if !new.foreign_keys.contains(fk) {
            ops.push(Operation::DropForeignKey {
                table: name.clone(),
                foreign_key: fk.clone(),
            });
        }
    }
    for fk in &new.foreign_keys {
        if !old.foreign_keys.contains(fk) {
            ops.push(Operation::AddForeignKey {
                table: name.clone(),
                foreign_key: fk.clone(),
            });
        }
    }
    if old.tenancy != new.tenancy {
        if let Tenancy::Attribute { column } = &old.tenancy {
            ops.push(Operation::DisableTenantIsolation {
                table: name.clone(),
                column: column.clone(),
            });
        }
        if let Tenancy::Attribute { column } = &new.tenancy {
            ops.push(Operation::EnableTenantIsolation {
                table: name.clone(),
                column: column.clone(),
            });
        }
    }
    if new.manage_tenant.is_some() && old.manage_tenant != new.manage_tenant {
        ops.push(Operation::InstallGuard {
            table: name.clone(),
            columns: new.manage_tenant.clone().unwrap_or_default(),
        });
    }
    Ok(())
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

//! Two models → the operations that turn the old one into the new one, per migration set.
//!
//! A table that changes set (an entity moving between global, schema and attribute) is dropped
//! from one set and created in the other; global ↔ attribute stays in `public` and switches
//! row-level security on or off (and its Citus distribution, see [`Operation::Distribute`]).
//! Column renames are never guessed: a column that disappears while another appears in the same
//! table must be resolved by [`Renames`] (from `--rename`, a question on a terminal, or
//! `--no-rename`), otherwise [`GenerateError::AmbiguousRename`].

use std::collections::BTreeMap;

use super::error::GenerateError;
use super::operation::{Conversion, Distribution, Isolation, Operation};
use super::snapshot::{Set, Snapshot, Table};

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
                None => ops.extend(Operation::creation(t)),
                Some(before) => alter(before, t, renames, &mut used, &mut ops)?,
            }
        }
        rebuild_blocked_keys(&old_tables, &new_tables, &mut ops);
        ops.sort_by_key(|op| {
            let created = !old_tables.contains_key(op.table());
            phase(op, created)
        });
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
/// creations (tables before what refers to them). A new table's row-level security and Citus
/// distribution stay with its creation (see [`Operation::creation`]); on an existing table,
/// row-level security comes back last, after the column changes it would block.
/// [`super::order`] refines this.
fn phase(op: &Operation, new_table: bool) -> u8 {
    match op {
        Operation::EnableTenantIsolation { .. } if new_table => 7,
        Operation::DropForeignKey { .. } => 0,
        Operation::DropIndex { .. } => 1,
        Operation::DisableTenantIsolation { .. } => 2,
        Operation::RemoveGuard { .. } => 3,
        Operation::DropColumn { .. } => 4,
        Operation::DropTable(_) => 5,
        Operation::RenameColumn { .. } => 6,
        // A table's distribution right after its creation (see `Operation::creation`).
        Operation::CreateTable(_) | Operation::Distribute { .. } => 7,
        Operation::AddColumn { .. } => 8,
        Operation::AlterColumn { .. } => 9,
        Operation::SetPrimaryKey { .. } => 10,
        Operation::AddIndex { .. } => 11,
        Operation::AddForeignKey { .. } => 12,
        Operation::EnableTenantIsolation { .. } => 13,
        Operation::InstallGuard { .. } => 14,
    }
}

/// Foreign keys that stay as they are can still be in the way: PostgreSQL refuses to drop a
/// primary key whose index a key uses, and to retype a column a key joins on. Such keys of the
/// same set are dropped before and added again after. (Tenant keys to public tables cannot be,
/// see [`super::cross_set`].)
fn rebuild_blocked_keys(
    old: &BTreeMap<&str, &Table>,
    new: &BTreeMap<&str, &Table>,
    ops: &mut Vec<Operation>,
) {
    let retyped = |table: &str, columns: &[String]| {
        let (Some(before), Some(after)) = (old.get(table), new.get(table)) else {
            return false;
        };
        columns.iter().any(|c| {
            let types = (before.column(c), after.column(c));
            matches!(types, (Some(b), Some(a)) if b.sql_type != a.sql_type)
        })
    };
    for (from, table) in new {
        let Some(previous) = old.get(from) else {
            continue;
        };
        for fk in &table.foreign_keys {
            if fk.references.schema.is_some() || !previous.foreign_keys.contains(fk) {
                continue;
            }
            let target = fk.references.table.as_str();
            let key_replaced = match (old.get(target), new.get(target)) {
                (Some(b), Some(a)) => {
                    b.primary_key != a.primary_key && fk.references.columns == b.primary_key
                }
                _ => false,
            };
            if key_replaced || retyped(from, &fk.columns) || retyped(target, &fk.references.columns)
            {
                ops.push(Operation::DropForeignKey {
                    table: (*from).to_owned(),
                    foreign_key: fk.clone(),
                });
                ops.push(Operation::AddForeignKey {
                    table: (*from).to_owned(),
                    foreign_key: fk.clone(),
                });
            }
        }
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
            ops.push(alter_column(name, before, after.clone()));
        }
    }
    for d in dropped {
        ops.push(Operation::DropColumn {
            table: name.clone(),
            column: old.column(d).expect("old column").clone(),
            fill: None,
        });
    }
    for a in added {
        ops.push(Operation::AddColumn {
            table: name.clone(),
            column: new.column(a).expect("new column").clone(),
            fill: None,
        });
    }
    for after in &new.columns {
        if let Some(before) = old.column(&after.name)
            && before != after
        {
            ops.push(alter_column(name, before.clone(), after.clone()));
        }
    }
    if old.primary_key != new.primary_key {
        ops.push(Operation::SetPrimaryKey {
            table: name.clone(),
            from: old.primary_key.clone(),
            to: new.primary_key.clone(),
        });
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
    // Citus: a global table that becomes an attribute table (or the reverse, or an attribute
    // table whose tenant column changes) changes distribution.
    if let (Some(from), Some(to)) = (Distribution::of(old), Distribution::of(new))
        && from != to
    {
        ops.push(Operation::Distribute {
            table: name.clone(),
            from: Some(from),
            to,
        });
    }
    // Row-level security: switched with the tenancy, and taken off around any change of the
    // tenant column (PostgreSQL refuses to retype a column a policy uses, and a new default
    // would overwrite the stamped tenant key).
    let (isolated_before, isolated_after) = (Isolation::of(old), Isolation::of(new));
    let tenant_column_changes = match (&isolated_before, &isolated_after) {
        (Some(a), Some(b)) if a.column == b.column => {
            old.column(&a.column) != new.column(&b.column)
        }
        _ => false,
    };
    if isolated_before != isolated_after || tenant_column_changes {
        ops.extend(isolated_before.map(Operation::DisableTenantIsolation));
        ops.extend(isolated_after.map(Operation::EnableTenantIsolation));
    }
    // The guard: removed before columns it watches may go, installed after they exist.
    if old.manage_tenant != new.manage_tenant {
        if let Some(columns) = old.manage_tenant.clone() {
            ops.push(Operation::RemoveGuard {
                table: name.clone(),
                columns,
            });
        }
        if let Some(columns) = new.manage_tenant.clone() {
            ops.push(Operation::InstallGuard {
                table: name.clone(),
                columns,
            });
        }
    }
    Ok(())
}

fn alter_column(
    table: &str,
    from: super::snapshot::Column,
    to: super::snapshot::Column,
) -> Operation {
    Operation::AlterColumn {
        table: table.to_owned(),
        from,
        to,
        forward: Conversion::default(),
        back: Conversion::default(),
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

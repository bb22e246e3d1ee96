//! Changes the public set cannot make while tenant tables still hold foreign keys to it.
//!
//! Public migrations run before tenant migrations (and a new tenant replays the tenant set after
//! the public one), so a public migration can never wait for a tenant migration to drop a key
//! first: dropping a referenced table, column, primary key or unique index in the same run as
//! the tenant keys that use it would fail in every database. Such a change is refused with the
//! two-step fix; nothing is written.

use super::error::GenerateError;
use super::operation::Operation;
use super::snapshot::{ForeignKey, Set, Snapshot};

/// Refuses public operations that tenant foreign keys of `old` would block.
pub fn check(old: &Snapshot, public: &[Operation]) -> Result<(), GenerateError> {
    let tenant_keys: Vec<(&str, &ForeignKey)> = old
        .set(Set::Tenant)
        .flat_map(|t| t.foreign_keys.iter().map(move |fk| (t.name.as_str(), fk)))
        .filter(|(_, fk)| fk.references.schema.is_some())
        .collect();
    type Blocked<'a> = Box<dyn Fn(&ForeignKey) -> bool + 'a>;
    for op in public {
        let (what, blocked): (String, Blocked) = match op {
            Operation::DropTable(t) => {
                (format!("table `{}` is dropped", t.name), Box::new(|_| true))
            }
            Operation::DropColumn { table, column, .. } => (
                format!("column `{table}.{}` is dropped", column.name),
                Box::new(move |fk| fk.references.columns.contains(&column.name)),
            ),
            Operation::SetPrimaryKey { table, from, .. } => (
                format!("the primary key of `{table}` is replaced"),
                Box::new(move |fk| fk.references.columns == *from),
            ),
            Operation::DropIndex { table, index } if index.unique => (
                format!("unique index `{}` of `{table}` is dropped", index.name),
                Box::new(move |fk| fk.references.columns == index.columns),
            ),
            _ => continue,
        };
        let references: Vec<String> = tenant_keys
            .iter()
            .filter(|(_, fk)| fk.references.table == op.table() && blocked(fk))
            .map(|(t, fk)| format!("`{t}.{}`", fk.columns.join(", ")))
            .collect();
        if !references.is_empty() {
            return Err(GenerateError::CrossSet {
                change: what,
                references: references.join(", "),
            });
        }
    }
    Ok(())
}

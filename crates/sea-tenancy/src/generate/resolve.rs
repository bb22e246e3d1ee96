//! Entities → the tables the database should have: the tenancy rules applied.
//!
//! - foreign keys follow the sets: schema → schema stays unqualified (it resolves inside each
//!   tenant's schema), schema → public is qualified `public.<table>`, and public → schema cannot
//!   exist (which of the tenants' tables would it reference?), so it is recorded as omitted and
//!   explained in the generated file;
//! - attribute → attribute keys are tenant-matched: `(org_id, x_id) → (org_id, id)`, which needs
//!   a unique constraint on the target's `(org_id, id)`, generated with it; the tenant column is
//!   NOT NULL and the key `MATCH SIMPLE`, so an absent reference is allowed but a present one must
//!   be the same tenant's row;
//! - unique indexes of attribute tables get the tenant column prepended (unique per tenant);
//! - every name is checked against PostgreSQL's 63-byte limit, before anything is written.

use std::collections::BTreeMap;

use super::error::GenerateError;
use super::parse::RawForeignKey;
use super::snapshot::{ForeignKey, Index, OmittedForeignKey, Reference, Snapshot, Table, Tenancy};
use super::source::{EntityDef, EntitySet};

use super::step::MAX_IDENT;

/// The resolved model and what the user should know about it.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// The tables.
    pub snapshot: Snapshot,
    /// Warnings (e.g. a vacuous uniqueness).
    pub warnings: Vec<String>,
}

/// Applies the tenancy rules to every entity.
pub fn resolve(set: &EntitySet) -> Result<Resolved, GenerateError> {
    let by_name: BTreeMap<&str, &EntityDef> = set
        .entities
        .iter()
        .map(|e| (e.table.name.as_str(), e))
        .collect();
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    let mut warnings = Vec::new();
    for entity in &set.entities {
        tables.insert(
            entity.table.name.clone(),
            base_table(entity, &mut warnings)?,
        );
    }
    // Foreign keys, which may add unique constraints to their targets.
    let mut extra_uniques: Vec<(String, Index)> = Vec::new();
    for entity in &set.entities {
        let name = &entity.table.name;
        for raw in &entity.table.foreign_keys {
            let target =
                by_name
                    .get(raw.table.as_str())
                    .ok_or_else(|| GenerateError::UnknownReference {
                        entity: entity.module.clone(),
                        table: name.clone(),
                        field: raw.columns.join(", "),
                        target: raw.table.clone(),
                    })?;
            let (fk, omitted, unique) = foreign_key(entity, target, raw)?;
            if let Some(fk) = &fk {
                warnings.extend(citus_warning(entity, target, fk));
            }
            let table = tables.get_mut(name).expect("inserted above");
            if let Some(fk) = fk {
                table.foreign_keys.push(fk);
            }
            if let Some(omitted) = omitted {
                table.omitted_foreign_keys.push(omitted);
            }
            if let Some(unique) = unique {
                extra_uniques.push((target.table.name.clone(), unique));
            }
        }
    }
    for (table, unique) in extra_uniques {
        let t = tables.get_mut(&table).expect("target exists");
        if !t
            .indexes
            .iter()
            .any(|i| i.unique && i.columns == unique.columns)
        {
            t.indexes.push(unique);
        }
    }
    disambiguate_index_names(&mut tables)?;
    for t in tables.values_mut() {
        t.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        t.indexes.dedup();
        t.foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
        t.omitted_foreign_keys
            .sort_by(|a, b| a.columns.cmp(&b.columns));
        let entity = by_name
            .get(t.name.as_str())
            .map_or("", |e| e.module.as_str());
        check_names(entity, t)?;
    }
    Ok(Resolved {
        snapshot: Snapshot { tables },
        warnings,
    })
}

fn base_table(entity: &EntityDef, warnings: &mut Vec<String>) -> Result<Table, GenerateError> {
    let raw = &entity.table;
    let tenant_column = entity.tenancy.column();
    if let Some(column) = tenant_column
        && !entity.global_rows
        && raw.columns.iter().any(|c| c.name == column && c.nullable)
    {
        return Err(GenerateError::NullableTenantColumn {
            entity: entity.module.clone(),
            table: raw.name.clone(),
            column: column.to_owned(),
        });
    }
    let mut indexes = Vec::new();
    let declared = raw
        .unique_columns
        .iter()
        .map(|c| Index {
            name: String::new(),
            columns: vec![c.clone()],
            unique: true,
        })
        .chain(raw.indexes.iter().cloned());
    for mut index in declared {
        // Every index of an attribute table leads with the tenant column: queries always filter
        // on it, uniqueness is per tenant, and tenant-matched keys are covered.
        if let Some(column) = tenant_column
            && !index.columns.iter().any(|c| c == column)
        {
            index.columns.insert(0, column.to_owned());
            if index.unique && raw.primary_key.iter().all(|pk| index.columns.contains(pk)) {
                warnings.push(format!(
                    "entity `{}`: unique ({}) of attribute table `{}` includes the primary key, so it constrains nothing",
                    entity.module,
                    index.columns.join(", "),
                    raw.name
                ));
            }
        }
        index.name = format!(
            "{}_{}_{}",
            if index.unique { "uq" } else { "idx" },
            raw.name,
            index.columns.join("_")
        );
        indexes.push(index);
    }
    Ok(Table {
        name: raw.name.clone(),
        tenancy: entity.tenancy.clone(),
        manage_tenant: entity.manage_tenant.clone(),
        columns: raw.columns.clone(),
        primary_key: raw.primary_key.clone(),
        indexes,
        foreign_keys: Vec::new(),
        omitted_foreign_keys: Vec::new(),
        keep_tenant_default: false,
        global_rows: entity.global_rows && tenant_column.is_some(),
    })
}

type Resolution = (Option<ForeignKey>, Option<OmittedForeignKey>, Option<Index>);

fn foreign_key(
    from: &EntityDef,
    to: &EntityDef,
    raw: &RawForeignKey,
) -> Result<Resolution, GenerateError> {
    let table = &from.table.name;
    let plain = |schema: Option<&str>, columns: Vec<String>, ref_columns: Vec<String>| ForeignKey {
        name: format!("fk_{table}_{}", raw.columns.join("_")),
        columns,
        references: Reference {
            schema: schema.map(str::to_owned),
            table: raw.table.clone(),
            columns: ref_columns,
        },
        on_delete: raw.on_delete.clone(),
        on_update: raw.on_update.clone(),
    };
    Ok(match (&from.tenancy, &to.tenancy) {
        (Tenancy::Schema, Tenancy::Schema) => (
            Some(plain(None, raw.columns.clone(), raw.ref_columns.clone())),
            None,
            None,
        ),
        (Tenancy::Schema, _) => (
            Some(plain(
                Some("public"),
                raw.columns.clone(),
                raw.ref_columns.clone(),
            )),
            None,
            None,
        ),
        (_, Tenancy::Schema) => (
            None,
            Some(OmittedForeignKey {
                columns: raw.columns.clone(),
                table: raw.table.clone(),
                reason: format!(
                    "`{table}` lives once in `public` and `{}` once per tenant schema: a foreign key can only name one of those tables, so none is created",
                    raw.table
                ),
            }),
            None,
        ),
        (Tenancy::Attribute { column: from_col }, Tenancy::Attribute { column: to_col })
            if !raw.columns.contains(from_col) =>
        {
            let mut columns = vec![from_col.clone()];
            columns.extend(raw.columns.iter().cloned());
            let mut ref_columns = vec![to_col.clone()];
            ref_columns.extend(raw.ref_columns.iter().cloned());
            let unique = Index {
                name: format!("uq_{}_{}", raw.table, ref_columns.join("_")),
                columns: ref_columns.clone(),
                unique: true,
            };
            let mut fk = plain(None, columns, ref_columns);
            // `SET NULL` / `SET DEFAULT` must leave the tenant column alone (PostgreSQL 15's
            // column list): nulling it too would violate its NOT NULL.
            if let Some(action) = &fk.on_delete
                && (action == "SET NULL" || action == "SET DEFAULT")
            {
                fk.on_delete = Some(format!("{action} ({})", raw.columns.join(", ")));
            }
            (Some(fk), None, Some(unique))
        }
        _ => (
            Some(plain(None, raw.columns.clone(), raw.ref_columns.clone())),
            None,
            None,
        ),
    })
}

/// A foreign key Citus refuses (see [`crate::citus`]: global tables are reference tables,
/// attribute tables are distributed on their tenant column): the migration works on plain
/// PostgreSQL and fails on Citus, so the user hears it when generating.
fn citus_warning(from: &EntityDef, to: &EntityDef, fk: &ForeignKey) -> Option<String> {
    let table = &from.table.name;
    let prefix = format!(
        "entity `{}`: foreign key `{}` ({table} → {})",
        from.module, fk.name, fk.references.table
    );
    let refused = match (&from.tenancy, &to.tenancy) {
        (Tenancy::Global, Tenancy::Attribute { .. }) => Some(format!(
            "Citus refuses it (a global table is a reference table there, and reference tables cannot reference distributed ones): make `{table}` an attribute table too, or drop the relation"
        )),
        (Tenancy::Schema, Tenancy::Attribute { column }) => Some(format!(
            "Citus refuses it (`{}` is distributed on `{column}` there, and its primary key becomes ({column}, ...)): make `{}` global, or drop the relation",
            fk.references.table, fk.references.table
        )),
        (Tenancy::Attribute { column }, _) if fk.columns.contains(column) => {
            let on_delete = fk.on_delete.as_deref().unwrap_or("");
            let on_update = fk.on_update.as_deref().unwrap_or("");
            let bad_delete = on_delete.starts_with("SET ");
            let bad_update = on_update.starts_with("SET ") || on_update == "CASCADE";
            (bad_delete || bad_update).then(|| {
                let action = if bad_delete {
                    format!("ON DELETE {on_delete}")
                } else {
                    format!("ON UPDATE {on_update}")
                };
                format!(
                    "Citus refuses `{action}` on a key that includes the tenant column `{column}` (its distribution column): use Cascade, Restrict or no action"
                )
            })
        }
        _ => None,
    };
    refused.map(|reason| format!("{prefix}: {reason}; this migration fails on Citus"))
}

/// Index names are `idx_<table>_<columns>`, which two tables can share (`post.tags_count`,
/// `post_tags.count`); indexes and tables share one namespace per schema. Colliding indexes
/// get `__` between table and columns (the others keep their names), and a clash that remains
/// is an error.
fn disambiguate_index_names(tables: &mut BTreeMap<String, Table>) -> Result<(), GenerateError> {
    for set in [super::snapshot::Set::Public, super::snapshot::Set::Tenant] {
        let owners = |tables: &BTreeMap<String, Table>| {
            let mut owners: BTreeMap<String, Vec<(String, Option<usize>)>> = BTreeMap::new();
            for t in tables.values().filter(|t| t.tenancy.set() == set) {
                owners
                    .entry(t.name.clone())
                    .or_default()
                    .push((t.name.clone(), None));
                for (i, index) in t.indexes.iter().enumerate() {
                    owners
                        .entry(index.name.clone())
                        .or_default()
                        .push((t.name.clone(), Some(i)));
                }
            }
            owners
        };
        for (_, holders) in owners(tables).into_iter().filter(|(_, h)| h.len() > 1) {
            for (table, index) in holders {
                let Some(i) = index else { continue };
                let index = &mut tables.get_mut(&table).expect("listed").indexes[i];
                let prefix = if index.unique { "uq" } else { "idx" };
                index.name = format!("{prefix}_{table}__{}", index.columns.join("_"));
            }
        }
        if let Some((name, holders)) = owners(tables).into_iter().find(|(_, h)| h.len() > 1) {
            let describe = |(table, index): &(String, Option<usize>)| match index {
                None => format!("table `{table}`"),
                Some(_) => format!("an index of `{table}`"),
            };
            return Err(GenerateError::NameClash {
                first: describe(&holders[0]),
                second: describe(&holders[1]),
                name,
            });
        }
    }
    Ok(())
}

fn check_names(entity: &str, t: &Table) -> Result<(), GenerateError> {
    let fields = |columns: &[String]| format!("field(s) `{}`", columns.join(", "));
    let names = std::iter::once((t.name.clone(), "the table".to_owned()))
        .chain(
            t.columns
                .iter()
                .map(|c| (c.name.clone(), format!("field `{}`", c.name))),
        )
        .chain(t.indexes.iter().map(|i| {
            let kind = if i.unique { "unique index" } else { "index" };
            (
                i.name.clone(),
                format!("the {kind} on {}", fields(&i.columns)),
            )
        }))
        .chain(t.foreign_keys.iter().map(|f| {
            (
                f.name.clone(),
                format!("the foreign key on {}", fields(&f.columns)),
            )
        }));
    for (name, what) in names {
        if name.len() > MAX_IDENT {
            return Err(GenerateError::IdentifierTooLong {
                entity: entity.to_owned(),
                table: t.name.clone(),
                what,
                len: name.len(),
                name,
            });
        }
    }
    Ok(())
}

//! `generate-migrations`: entities → sea-orm-migration files.
//!
//! The pipeline, one step per module:
//! 1. [`source`] reads every entity of the program (SeaORM's entity registry + sea-tenancy's
//!    tenancy registrations) and [`parse`] reads the DDL sea-orm builds for each;
//! 2. [`resolve`] applies the tenancy rules (foreign keys per set, tenant-matched keys, tenant
//!    column in unique indexes) → the [`snapshot`] model;
//! 3. [`diff`] compares it with the stored snapshot → [`operation`]s per set; [`decide`] gets
//!    what only the user can say (fill values, casts, a tenant column's default), [`cross_set`]
//!    refuses what the public set cannot do before the tenant set, [`order`] sorts them by
//!    their dependencies, [`step`] breaks each into statements and [`render`] writes each set's
//!    file;
//! 4. [`write`](mod@write) registers the files in the crates' `lib.rs` and rewrites the snapshots;
//!    [`redo`] takes the latest generation back (`--redo`).
//!
//! `cli` (feature `cli`) is the `generate-migrations` command around [`plan`]; [`execute`] runs
//! the same steps directly (tools and tests that cannot compile a migration crate).

pub mod cast;
#[cfg(feature = "cli")]
pub mod cli;
pub mod cross_set;
pub mod decide;
pub mod diff;
pub mod error;
pub mod execute;
mod format;
pub mod operation;
pub mod order;
pub mod parse;
pub mod redo;
pub mod render;
pub mod resolve;
pub mod snapshot;
pub mod source;
pub mod step;
pub mod write;

use std::collections::BTreeMap;

pub use decide::{Decisions, Question};
pub use diff::Renames;
pub use error::GenerateError;
pub use operation::Operation;
pub use snapshot::{Set, Snapshot, Tenancy};
pub use source::EntitySet;
pub use write::{FileChange, Layout};

/// What a run would change.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Ordered operations per set (empty sets omitted).
    pub operations: BTreeMap<Set, Vec<Operation>>,
    /// Files to write (migrations, `lib.rs`, snapshots), in a stable order.
    pub changes: Vec<FileChange>,
    /// Things to tell the user.
    pub warnings: Vec<String>,
}

impl Plan {
    /// Whether entities and snapshots agree.
    pub fn is_empty(&self) -> bool {
        self.operations.values().all(Vec::is_empty)
    }
}

/// Options of one run.
#[derive(Default)]
pub struct Options {
    /// The migration name (`mYYYYMMDD_HHMMSS_<name>`).
    pub name: String,
    /// The timestamp, `YYYYMMDD_HHMMSS` (injected so tests are byte-identical).
    pub timestamp: String,
    /// How disappeared-and-appeared columns are resolved.
    pub renames: Renames,
    /// Fill values, casts and tenant-column defaults the user decided.
    pub decisions: Decisions,
}

impl Options {
    /// Options with the current UTC time.
    pub fn now(name: impl Into<String>) -> Self {
        Options {
            name: name.into(),
            timestamp: chrono::Utc::now().format("%Y%m%d_%H%M%S").to_string(),
            ..Options::default()
        }
    }

    /// The module name of this run's migrations, `m<timestamp>_<name>` (the name in snake case).
    pub fn module(&self) -> Result<String, GenerateError> {
        let name = heck::ToSnakeCase::to_snake_case(self.name.as_str());
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(GenerateError::BadName(self.name.clone()));
        }
        Ok(format!("m{}_{name}", self.timestamp))
    }
}

/// The ordered operations of each set that turn `old` into `new` (the tables of `new` get the
/// tenant-default decisions recorded): diff, decisions, the public/tenant check, order.
pub fn operations(
    old: &Snapshot,
    new: &mut Snapshot,
    renames: &mut Renames,
    decisions: &mut Decisions,
) -> Result<BTreeMap<Set, Vec<Operation>>, GenerateError> {
    let mut asking = decide::Asking::new(decisions);
    decide::tenant_defaults(old, new, &mut asking)?;
    let mut out = BTreeMap::new();
    for (set, mut ops) in diff::diff(old, new, renames)? {
        decide::settle(&mut ops, &mut asking)?;
        if set == Set::Public {
            cross_set::check(old, &ops)?;
        }
        out.insert(set, order::order(ops)?);
    }
    if let Some(flag) = asking.unused() {
        return Err(GenerateError::BadDecision {
            flag,
            spec: String::new(),
            reason: "no change of this run needs it (check the table and column names)".into(),
        });
    }
    Ok(out)
}

/// What Citus will refuse in `ops` (public set; `tables`: the new model): the migration works
/// on plain PostgreSQL and stops there on Citus, so the user hears it when generating.
/// Global tables are reference tables on Citus, attribute tables distributed on their tenant
/// column (see [`crate::citus`]).
fn citus_warnings(ops: &[Operation], tables: &Snapshot) -> Vec<String> {
    use operation::Distribution;
    let kind = |d: &Distribution| match d {
        Distribution::Reference => "a reference table".to_owned(),
        Distribution::ByTenant { column } => format!("distributed on `{column}`"),
    };
    let tenant_column = |table: &str| tables.tables.get(table).and_then(|t| t.tenancy.column());
    let mut out = Vec::new();
    for op in ops {
        match op {
            Operation::Distribute {
                table,
                from: Some(from),
                to,
            } => out.push(format!(
                "table `{table}` changes tenancy: on Citus it is {} and would become {}, which sea-tenancy does not do in place (Citus cannot convert a table with an identity column); create the table under a new name, copy the rows and drop the old one instead",
                kind(from),
                kind(to)
            )),
            Operation::AlterColumn {
                table, from, to, ..
            } if from.auto_increment != to.auto_increment => out.push(format!(
                "column `{table}.{}` gains or loses its identity: Citus refuses ADD/DROP IDENTITY on reference and distributed tables",
                to.name
            )),
            Operation::AlterColumn {
                table, from, to, ..
            } if from.sql_type != to.sql_type && tenant_column(table) == Some(&to.name) => {
                out.push(format!(
                    "tenant column `{table}.{}` changes type: Citus refuses to alter the distribution column of a distributed table",
                    to.name
                ));
            }
            Operation::SetPrimaryKey { table, from, to } => {
                if let Some(column) = tenant_column(table)
                    && [from, to].iter().any(|key| !key.iter().any(|c| c == column))
                {
                    out.push(format!(
                        "the primary key of `{table}` changes: Citus keeps `{column}` in every primary key of a distributed table (`distribute_table` made it ({column}, ...)), so a key without it, here or in `down`, is refused"
                    ));
                }
            }
            _ => {}
        }
    }
    out.into_iter()
        .map(|w| format!("{w}; this migration fails on Citus (plain PostgreSQL is unaffected)"))
        .collect()
}

/// Computes what `generate-migrations` would write for `entities` in the app at `layout`.
pub fn plan(
    entities: &EntitySet,
    layout: &Layout,
    options: &mut Options,
) -> Result<Plan, GenerateError> {
    let mut resolved = resolve::resolve(entities)?;
    let stored = Snapshot::load(&layout.snapshots)?;
    let diffs = operations(
        &stored,
        &mut resolved.snapshot,
        &mut options.renames,
        &mut options.decisions,
    )?;
    let mut plan = Plan {
        warnings: resolved.warnings,
        ..Plan::default()
    };
    if let Some(public) = diffs.get(&Set::Public) {
        plan.warnings
            .extend(citus_warnings(public, &resolved.snapshot));
    }
    let module = options.module()?;
    for (set, ops) in diffs {
        if ops.is_empty() {
            continue;
        }
        let src = layout.src(set);
        if src.join(format!("{module}.rs")).exists() {
            return Err(GenerateError::MigrationExists(
                src.join(format!("{module}.rs")),
            ));
        }
        plan.changes.push(FileChange {
            path: src.join(format!("{module}.rs")),
            contents: Some(render::render(set, &ops)?),
        });
        let lib_path = src.join("lib.rs");
        let lib =
            std::fs::read_to_string(&lib_path).map_err(|e| GenerateError::io(&lib_path, e))?;
        plan.changes.push(FileChange {
            contents: Some(format::rustfmt(write::register(&lib_path, &lib, &module)?)),
            path: lib_path,
        });
        plan.operations.insert(set, ops);
    }
    if !plan.is_empty() {
        let old = stored.files();
        let new = resolved.snapshot.files();
        let mut record = redo::Record {
            module: module.clone(),
            sets: plan.operations.keys().copied().collect(),
            previous: BTreeMap::new(),
        };
        for path in old.keys().filter(|p| !new.contains_key(*p)) {
            record.previous.insert(path.clone(), old.get(path).cloned());
            plan.changes.push(FileChange {
                path: layout.snapshots.join(path),
                contents: None,
            });
        }
        for (path, json) in new {
            if old.get(&path) != Some(&json) {
                record
                    .previous
                    .insert(path.clone(), old.get(&path).cloned());
                plan.changes.push(FileChange {
                    path: layout.snapshots.join(path),
                    contents: Some(json),
                });
            }
        }
        plan.changes.push(record.file_change(layout));
    }
    Ok(plan)
}

//! `generate-migrations`: entities → sea-orm-migration files.
//!
//! The pipeline, one step per module:
//! 1. [`source`] reads every entity of the program (SeaORM's entity registry + sea-tenancy's
//!    tenancy registrations) and [`parse`] reads the DDL sea-orm builds for each;
//! 2. [`resolve`] applies the tenancy rules (foreign keys per set, tenant-matched keys, tenant
//!    column in unique indexes) → the [`snapshot`] model;
//! 3. [`diff`] compares it with the stored snapshot → [`operation`]s per set, [`order`] sorts
//!    them by their dependencies, [`render`] writes each set's file;
//! 4. [`write`](mod@write) registers the files in the crates' `lib.rs` and rewrites the snapshots.
//!
//! [`cli`] is the `generate-migrations` command around [`plan`]; [`execute`] applies operations
//! directly (tools and tests that cannot compile a migration crate).

pub mod cli;
pub mod diff;
pub mod error;
pub mod execute;
mod format;
pub mod operation;
pub mod order;
pub mod parse;
pub mod render;
pub mod resolve;
pub mod snapshot;
pub mod source;
pub mod write;

use std::collections::BTreeMap;

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
pub struct Options {
    /// The migration name (`mYYYYMMDD_HHMMSS_<name>`).
    pub name: String,
    /// The timestamp, `YYYYMMDD_HHMMSS` (injected so tests are byte-identical).
    pub timestamp: String,
    /// How disappeared-and-appeared columns are resolved.
    pub renames: Renames,
}

impl Options {
    /// Options with the current UTC time.
    pub fn now(name: impl Into<String>) -> Self {
        Options {
            name: name.into(),
            timestamp: chrono::Utc::now().format("%Y%m%d_%H%M%S").to_string(),
            renames: Renames::default(),
        }
    }
}

/// Computes what `generate-migrations` would write for `entities` in the app at `layout`.
pub fn plan(
    entities: &EntitySet,
    layout: &Layout,
    options: &mut Options,
) -> Result<Plan, GenerateError> {
    let resolved = resolve::resolve(entities)?;
    let stored = Snapshot::load(&layout.snapshots)?;
    let diffs = diff::diff(&stored, &resolved.snapshot, &mut options.renames)?;
    let mut plan = Plan {
        warnings: resolved.warnings,
        ..Plan::default()
    };
    for (set, ops) in diffs {
        if ops.is_empty() {
            continue;
        }
        let ops = order::order(ops)?;
        let module = format!("m{}_{}", options.timestamp, options.name.to_lowercase());
        let src = layout.src(set);
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
        for path in old.keys().filter(|p| !new.contains_key(*p)) {
            plan.changes.push(FileChange {
                path: layout.snapshots.join(path),
                contents: None,
            });
        }
        for (path, json) in new {
            if old.get(&path) != Some(&json) {
                plan.changes.push(FileChange {
                    path: layout.snapshots.join(path),
                    contents: Some(json),
                });
            }
        }
    }
    Ok(plan)
}

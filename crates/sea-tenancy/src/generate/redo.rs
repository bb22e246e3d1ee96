//! `--redo`: take the latest generation back — its migration files, their registration in the
//! crates' `lib.rs`, and the snapshot files as they were before it — so the next run generates
//! it again from the entities as they are now. For iterating on an entity before the migration
//! is applied anywhere (the command checks that on the database before calling [`undo`]).
//!
//! Each generation records what it replaced in `snapshots/last-generation.json` (its module
//! name, its sets, and the previous contents of every snapshot file it changed); only the
//! latest generation can be taken back.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::GenerateError;
use super::snapshot::Set;
use super::write::{FileChange, Layout, unregister};

/// The record's file name, in the snapshot folder.
pub const RECORD: &str = "last-generation.json";

/// What the latest generation wrote over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Its module name (`m20260101_000000_add_views`), the version sea-orm-migration records.
    pub module: String,
    /// The sets it wrote a migration for.
    pub sets: Vec<Set>,
    /// Snapshot files it changed (relative to the snapshot folder) → their contents before
    /// (`None`: the file did not exist).
    pub previous: BTreeMap<PathBuf, Option<String>>,
}

impl Record {
    /// The record as a file to write.
    pub fn file_change(&self, layout: &Layout) -> FileChange {
        let mut json = serde_json::to_string_pretty(self).expect("records serialize");
        json.push('\n');
        FileChange {
            path: layout.snapshots.join(RECORD),
            contents: Some(json),
        }
    }

    /// The record of the latest generation, if there is one.
    pub fn load(layout: &Layout) -> Result<Option<Record>, GenerateError> {
        let path = layout.snapshots.join(RECORD);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(GenerateError::io(path, e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| GenerateError::BadSnapshot {
                path,
                reason: e.to_string(),
            })
    }

    /// The name part of the module (`add_views`), for a redo without `--name`.
    pub fn name(&self) -> &str {
        // `m` + `YYYYMMDD_HHMMSS` + `_`
        self.module.get(17..).unwrap_or("schema_change")
    }
}

/// The file changes that take the latest generation back, and its record. Refuses when there is
/// no record, or when a migration was registered after it (by hand or by another tool).
pub fn undo(layout: &Layout) -> Result<(Vec<FileChange>, Record), GenerateError> {
    let record = Record::load(layout)?.ok_or_else(|| {
        GenerateError::Redo(format!(
            "no generation to redo (`{}` is missing); run without --redo",
            layout.snapshots.join(RECORD).display()
        ))
    })?;
    let mut changes = Vec::new();
    for set in &record.sets {
        let src = layout.src(*set);
        let file = src.join(format!("{}.rs", record.module));
        if !file.exists() {
            return Err(GenerateError::Redo(format!(
                "the latest generated migration `{}` is gone; restore it or delete `{}`",
                file.display(),
                layout.snapshots.join(RECORD).display()
            )));
        }
        let lib_path = src.join("lib.rs");
        let lib =
            std::fs::read_to_string(&lib_path).map_err(|e| GenerateError::io(&lib_path, e))?;
        let last = lib
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("mod ")?.strip_suffix(';'));
        if last != Some(record.module.as_str()) {
            return Err(GenerateError::Redo(format!(
                "`{}` is not the last migration of `{}` (the last is `{}`); only the latest generation can be redone",
                record.module,
                lib_path.display(),
                last.unwrap_or("none")
            )));
        }
        changes.push(FileChange {
            path: file,
            contents: None,
        });
        changes.push(FileChange {
            contents: Some(super::format::rustfmt(unregister(&lib, &record.module))),
            path: lib_path,
        });
    }
    for (path, before) in &record.previous {
        changes.push(FileChange {
            path: layout.snapshots.join(path),
            contents: before.clone(),
        });
    }
    changes.push(FileChange {
        path: layout.snapshots.join(RECORD),
        contents: None,
    });
    Ok((changes, record))
}

/// The current contents of the files `changes` touch (`None`: absent), to put back if what
/// follows fails.
pub fn backup(changes: &[FileChange]) -> Vec<FileChange> {
    changes
        .iter()
        .map(|c| FileChange {
            path: c.path.clone(),
            contents: std::fs::read_to_string(&c.path).ok(),
        })
        .collect()
}

/// The schemas of `db` whose `seaql_migrations` record `module` as applied (`public` for the
/// public set, tenant schemas for the tenant set).
pub async fn applied_in<C: sea_orm::ConnectionTrait>(
    db: &C,
    module: &str,
) -> Result<Vec<String>, sea_orm::DbErr> {
    use sea_orm::{DbBackend, Statement};
    let schemas: Vec<String> = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT table_schema::text AS s FROM information_schema.tables
              WHERE table_name = 'seaql_migrations' ORDER BY 1",
        ))
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "s"))
        .collect::<Result<_, _>>()?;
    let mut applied = Vec::new();
    for chunk in schemas.chunks(500) {
        let union = chunk
            .iter()
            .map(|s| {
                format!(
                    "SELECT '{lit}' AS s FROM {ident}.seaql_migrations WHERE version = $1",
                    lit = s.replace('\'', "''"),
                    ident = super::step::quote(s),
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        for row in db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                union,
                [module.into()],
            ))
            .await?
        {
            applied.push(row.try_get::<String>("", "s")?);
        }
    }
    Ok(applied)
}

//! `new-migration NAME [--tenant]`: an empty migration, registered in its crate's `lib.rs`,
//! for what the generator cannot derive from entities (data migrations, functions, grants) —
//! `sea-orm-cli migrate generate` for either migration set.

use std::path::PathBuf;

use crate::generate::{FileChange, Layout, Options, Set, write};

/// The options of `new-migration`.
#[derive(Debug, Clone, clap::Args)]
pub struct NewMigrationArgs {
    /// The migration's name (snake case: `backfill_slugs`).
    pub name: String,
    /// Write it into the tenant set (`tenant_migrations/`), run in every tenant schema; default:
    /// the public set (`migrations/`).
    #[arg(long)]
    pub tenant: bool,
    /// The app's root folder (default: `CARGO_MANIFEST_DIR`, else the current folder).
    #[arg(long)]
    pub root: Option<PathBuf>,
}

/// Writes the file and its registration; `Ok(true)` when written.
pub fn execute(args: NewMigrationArgs) -> Result<bool, String> {
    let root = Layout::root_or_default(args.root.clone());
    let set = if args.tenant {
        Set::Tenant
    } else {
        Set::Public
    };
    let layout = Layout::load(root).map_err(|e| e.to_string())?;
    let (path, _) = write_new(&layout, set, &Options::now(&args.name))?;
    println!("wrote {}", path.display());
    Ok(true)
}

/// The migration file of `options` in `set` and its registration in `lib.rs`, written; returns
/// the new file's path and its module name. Nothing is written when `lib.rs` cannot take it.
pub fn write_new(
    layout: &Layout,
    set: Set,
    options: &Options,
) -> Result<(PathBuf, String), String> {
    let module = options.module().map_err(|e| e.to_string())?;
    let src = layout.src(set);
    let lib_path = src.join("lib.rs");
    let lib = std::fs::read_to_string(&lib_path).map_err(|e| {
        format!(
            "{}: {e}; the {} migration crate is expected there (see the README's Set up)",
            lib_path.display(),
            match set {
                Set::Public => "public",
                Set::Tenant => "tenant",
            }
        )
    })?;
    let path = src.join(format!("{module}.rs"));
    if path.exists() {
        return Err(format!("{} already exists", path.display()));
    }
    let registered = write::register(&lib_path, &lib, &module).map_err(|e| e.to_string())?;
    let changes = [
        FileChange {
            path: path.clone(),
            contents: Some(template(set, &options.name)),
        },
        FileChange {
            path: lib_path,
            contents: Some(registered),
        },
    ];
    write::apply(&changes).map_err(|e| e.to_string())?;
    Ok((path, module))
}

fn template(set: Set, name: &str) -> String {
    let what = match set {
        Set::Public => {
            "of the public set (runs once, in `public`)".to_owned()
        }
        Set::Tenant => "of the tenant set (runs in every tenant schema, with `search_path` set to it: name tenant tables unqualified)".to_owned(),
    };
    format!(
        "//! `{name}`: a hand-written migration {what}.\n\
         //! Written by `new-migration`; `generate-migrations` leaves it alone.\n\
         \n\
         use sea_orm_migration::prelude::*;\n\
         \n\
         #[derive(DeriveMigrationName)]\n\
         pub struct Migration;\n\
         \n\
         #[async_trait::async_trait]\n\
         impl MigrationTrait for Migration {{\n    \
             async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {{\n        \
                 let db = manager.get_connection();\n        \
                 // The change, e.g. `db.execute_unprepared(\"UPDATE ...\").await?;`\n        \
                 let _ = db;\n        \
                 Ok(())\n    \
             }}\n\
         \n    \
             async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {{\n        \
                 let db = manager.get_connection();\n        \
                 // What undoes it (or `Err(DbErr::Migration(..))` when nothing can).\n        \
                 let _ = db;\n        \
                 Ok(())\n    \
             }}\n\
         }}\n"
    )
}

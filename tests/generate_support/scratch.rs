//! The scratch app the round-trip tests generate into: a temporary folder with two empty
//! migration crates, where each case's steps are generated as a user would run them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use sea_tenancy::generate::{Layout, Options, Set, Snapshot, plan, write};

use super::cases::Case;

/// Where the rendered files are checked in.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generate_support/roundtrip")
}

pub const LIB: &str = "pub use sea_orm_migration::prelude::*;\n\npub struct Migrator;\n\n#[async_trait::async_trait]\nimpl MigratorTrait for Migrator {\n    fn migrations() -> Vec<Box<dyn MigrationTrait>> {\n        vec![]\n    }\n}\n";

/// One generated step: the rendered file of each set (fixture name → text) and the model.
pub struct Generated {
    pub files: Vec<(Set, String, String)>,
    pub model: Snapshot,
}

/// Runs the generator over `case` in a scratch app folder, as a user would step by step; after
/// each step `--check` must pass.
pub fn generate(case: &Case) -> Vec<Generated> {
    let layout = app(&format!("roundtrip-{}", case.name));
    let mut out = Vec::new();
    for (i, step) in case.steps.iter().enumerate() {
        let n = i + 1;
        let timestamp = format!("20260101_0000{n:02}");
        let mut step_options = step.options(case.name, &timestamp);
        let generated = plan(&step.entities, &layout, &mut step_options)
            .unwrap_or_else(|e| panic!("{} step {n}: {e}", case.name));
        assert!(
            !generated.is_empty(),
            "{} step {n} changes nothing",
            case.name
        );
        write::apply(&generated.changes).unwrap();
        let files = generated
            .operations
            .keys()
            .map(|set| {
                let module = step_options.module().unwrap();
                let path = layout.src(*set).join(format!("{module}.rs"));
                let text = std::fs::read_to_string(path).unwrap();
                (*set, format!("{}_s{n}_{}", case.name, set.folder()), text)
            })
            .collect();
        let mut again = options("20990101_000000");
        let check = plan(&step.entities, &layout, &mut again);
        assert!(
            matches!(&check, Ok(p) if p.is_empty()),
            "{} step {n}: --check fails after generating",
            case.name
        );
        out.push(Generated {
            files,
            model: Snapshot::load(&layout.snapshots).unwrap(),
        });
    }
    let _ = std::fs::remove_dir_all(&layout.root);
    out
}

/// A scratch app folder (emptied) with two empty migration crates.
pub fn app(name: &str) -> Layout {
    let root = std::env::temp_dir().join(format!("sea-tenancy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let layout = Layout::new(&root);
    for set in Set::ALL {
        std::fs::create_dir_all(layout.src(set)).unwrap();
        std::fs::write(layout.src(set).join("lib.rs"), LIB).unwrap();
    }
    layout
}

/// Options without flags.
pub fn options(timestamp: &str) -> Options {
    Options {
        name: "case".into(),
        timestamp: timestamp.into(),
        ..Default::default()
    }
}

/// `roundtrip/mod.rs` for these fixture names.
pub fn index(names: &[String]) -> String {
    let mut text = String::from(
        "//! The rendered migrations of `tests/generate_roundtrip.rs`'s cases, compiled into it.\n//! Written by `UPDATE_GENERATED=1 cargo test --test generate_fixtures`; do not edit.\n#![deny(warnings)]\n\n",
    );
    for name in names {
        text.push_str(&format!("#[path = \"{name}.rs\"]\npub mod {name};\n"));
    }
    text.push_str("\nuse sea_orm_migration::MigrationTrait;\n\n/// The migration of fixture `name`.\npub fn migration(name: &str) -> Option<Box<dyn MigrationTrait>> {\n    let migration: Box<dyn MigrationTrait> = match name {\n");
    for name in names {
        text.push_str(&format!(
            "        \"{name}\" => Box::new({name}::Migration),\n"
        ));
    }
    text.push_str("        _ => return None,\n    };\n    Some(migration)\n}\n");
    text
}

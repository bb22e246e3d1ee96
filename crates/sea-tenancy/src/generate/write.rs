//! Where generated files go: the migration file of each set, its registration in the crate's
//! `lib.rs` (`mod …;` and `Box::new(….::Migration)` in `fn migrations()`), and the snapshot
//! files. Everything is computed first and written last, so an error writes nothing.

use std::path::{Path, PathBuf};

use super::error::GenerateError;
use super::snapshot::Set;

/// The optional file at an app's root that moves its migration crates and snapshots.
pub const CONFIG_FILE: &str = "sea-tenancy.toml";

/// Where an app keeps its migration crates and snapshots (relative to its root).
#[derive(Debug, Clone)]
pub struct Layout {
    /// The app's root (where `Cargo.toml` is).
    pub root: PathBuf,
    /// The public migration crate (`migrations`).
    pub public_crate: PathBuf,
    /// The tenant migration crate (`tenant_migrations`).
    pub tenant_crate: PathBuf,
    /// The snapshot folder (`snapshots`).
    pub snapshots: PathBuf,
}

impl Layout {
    /// The conventional layout under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Layout {
            public_crate: root.join("migrations"),
            tenant_crate: root.join("tenant_migrations"),
            snapshots: root.join("snapshots"),
            root,
        }
    }

    /// The layout under `root`: the conventional one, or what `root/sea-tenancy.toml` says —
    /// so an app keeping sea-orm-cli's `migration/` crate adopts it:
    ///
    /// ```toml
    /// [paths]
    /// public = "migration"            # default "migrations"
    /// tenant = "tenant_migration"     # default "tenant_migrations"
    /// snapshots = "db/snapshots"      # default "snapshots"
    /// ```
    pub fn load(root: impl Into<PathBuf>) -> Result<Self, GenerateError> {
        #[derive(serde::Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct Config {
            #[serde(default)]
            paths: Paths,
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct Paths {
            public: Option<PathBuf>,
            tenant: Option<PathBuf>,
            snapshots: Option<PathBuf>,
        }
        let mut layout = Layout::new(root);
        let path = layout.root.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(layout),
            Err(e) => return Err(GenerateError::io(path, e)),
        };
        let config: Config = toml::from_str(&text).map_err(|e| GenerateError::Config {
            path: path.clone(),
            reason: e.message().to_owned(),
        })?;
        let Paths {
            public,
            tenant,
            snapshots,
        } = config.paths;
        if let Some(p) = public {
            layout.public_crate = layout.root.join(p);
        }
        if let Some(p) = tenant {
            layout.tenant_crate = layout.root.join(p);
        }
        if let Some(p) = snapshots {
            layout.snapshots = layout.root.join(p);
        }
        if layout.public_crate == layout.tenant_crate {
            return Err(GenerateError::Config {
                path,
                reason: "`public` and `tenant` name the same crate; the two sets need a crate each"
                    .into(),
            });
        }
        Ok(layout)
    }

    /// The app's root the commands use: `given`, else `CARGO_MANIFEST_DIR` (set by `cargo run`),
    /// else the current folder.
    pub fn root_or_default(given: Option<PathBuf>) -> PathBuf {
        given
            .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// The `src/` folder of `set`'s crate.
    pub fn src(&self, set: Set) -> PathBuf {
        match set {
            Set::Public => self.public_crate.join("src"),
            Set::Tenant => self.tenant_crate.join("src"),
        }
    }
}

/// One file to write (whole contents) or delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// The path.
    pub path: PathBuf,
    /// New contents; `None` deletes it.
    pub contents: Option<String>,
}

/// `lib.rs` with migration `module` registered.
pub fn register(lib_path: &Path, lib: &str, module: &str) -> Result<String, GenerateError> {
    let unregistrable = || GenerateError::Unregistrable(lib_path.to_owned(), module.to_owned());
    let mut lines: Vec<String> = lib.lines().map(str::to_owned).collect();
    // `mod m…;` after the last one, else after the `use` lines.
    let mod_line = format!("mod {module};");
    let at = lines
        .iter()
        .rposition(|l| l.starts_with("mod m") || l.starts_with("pub mod m"))
        .or_else(|| {
            lines
                .iter()
                .rposition(|l| l.starts_with("pub use") || l.starts_with("use "))
        })
        .map(|i| i + 1)
        .unwrap_or(0);
    let needs_blank =
        at > 0 && !lines[at - 1].starts_with("mod ") && !lines[at - 1].starts_with("pub mod ");
    lines.insert(at, mod_line);
    if needs_blank {
        lines.insert(at, String::new());
    }
    let mut text = lines.join("\n");
    text.push('\n');
    // `Box::new(module::Migration)` at the end of `vec![..]`.
    let start = text.find("vec![").ok_or_else(unregistrable)? + "vec![".len();
    let mut depth = 1usize;
    let mut end = None;
    for (i, ch) in text[start..].char_indices() {
        match ch {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    end = Some(start + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let end = end.ok_or_else(unregistrable)?;
    let inner = text[start..end].trim().trim_end_matches(',').trim();
    let entry = format!("Box::new({module}::Migration)");
    let items = if inner.is_empty() {
        entry
    } else {
        format!("{inner},\n{entry}")
    };
    let indent = text[..start]
        .lines()
        .last()
        .map(|l| l.len() - l.trim_start().len())
        .unwrap_or(0);
    let pad = " ".repeat(indent + 4);
    let body = items
        .split('\n')
        .map(|i| format!("{pad}{},", i.trim().trim_end_matches(',')))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(format!(
        "{}\n{body}\n{}{}",
        &text[..start],
        " ".repeat(indent),
        &text[end..]
    ))
}

/// `lib.rs` without migration `module` (its `mod` line and its `Box::new(…)` entry), for
/// `--redo`.
pub fn unregister(lib: &str, module: &str) -> String {
    let mod_line = format!("mod {module};");
    let entry = format!("Box::new({module}::Migration)");
    let kept: Vec<&str> = lib.lines().filter(|l| l.trim() != mod_line).collect();
    let mut text = kept.join("\n");
    text.push('\n');
    for form in [format!("{entry},"), entry] {
        if let Some(at) = text.find(&form) {
            let line_start = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
            let alone =
                text[line_start..at].trim().is_empty() && text[at + form.len()..].starts_with('\n');
            if alone {
                text.replace_range(line_start..at + form.len() + 1, "");
            } else {
                text.replace_range(at..at + form.len(), "");
            }
            break;
        }
    }
    text
}

/// Applies the changes.
pub fn apply(changes: &[FileChange]) -> Result<(), GenerateError> {
    for change in changes {
        match &change.contents {
            Some(contents) => {
                if let Some(dir) = change.path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| GenerateError::io(dir, e))?;
                }
                std::fs::write(&change.path, contents)
                    .map_err(|e| GenerateError::io(&change.path, e))?;
            }
            None => match std::fs::remove_file(&change.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(GenerateError::io(&change.path, e)),
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_from_sea_tenancy_toml() {
        let root = std::env::temp_dir().join(format!("sea-tenancy-layout-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        assert_eq!(
            Layout::load(&root).unwrap().public_crate,
            root.join("migrations")
        );
        std::fs::write(
            root.join(CONFIG_FILE),
            "[paths]\npublic = \"migration\"\nsnapshots = \"db/snapshots\"\n",
        )
        .unwrap();
        let layout = Layout::load(&root).unwrap();
        assert_eq!(layout.src(Set::Public), root.join("migration/src"));
        assert_eq!(layout.src(Set::Tenant), root.join("tenant_migrations/src"));
        assert_eq!(layout.snapshots, root.join("db/snapshots"));
        std::fs::write(root.join(CONFIG_FILE), "[paths]\npublik = \"x\"\n").unwrap();
        let err = Layout::load(&root).unwrap_err().to_string();
        assert!(err.contains("publik") && err.contains("[paths]"), "{err}");
        std::fs::write(
            root.join(CONFIG_FILE),
            "[paths]\npublic = \"m\"\ntenant = \"m\"\n",
        )
        .unwrap();
        assert!(Layout::load(&root).is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn registers_after_the_last_migration() {
        let lib = "pub use sea_orm_migration::prelude::*;\n\nmod m1;\n\npub struct Migrator;\n\nimpl MigratorTrait for Migrator {\n    fn migrations() -> Vec<Box<dyn MigrationTrait>> {\n        vec![Box::new(m1::Migration)]\n    }\n}\n";
        let out = register(Path::new("lib.rs"), lib, "m2").unwrap();
        assert!(out.contains("mod m1;\nmod m2;\n"), "{out}");
        assert!(
            out.contains("        vec![\n            Box::new(m1::Migration),\n            Box::new(m2::Migration),\n        ]\n"),
            "{out}"
        );
        let back = unregister(&out, "m2");
        assert!(!back.contains("m2"), "{back}");
        assert!(
            back.contains("mod m1;") && back.contains("Box::new(m1::Migration),"),
            "{back}"
        );
    }
}

//! `init`: the two migration crates (and, for other paths, `sea-tenancy.toml`) an app needs
//! before its first `generate-migrations`, then the code to paste.
//!
//! Runs from the app (`cargo run -- init`) or, before the app has a `main` that can, from the
//! `sea-tenancy` binary (`sea-tenancy init`). What exists is kept — an app that already has
//! sea-orm-cli's `migration/` crate points `--public migration` at it and gets only what is
//! missing — and nothing is written when a file it would write is in the way.

use std::path::{Component, Path, PathBuf};

use heck::ToSnakeCase;

use crate::generate::write::CONFIG_FILE;
use crate::generate::{FileChange, Layout, write};

/// The options of `init`.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// The app's root folder, where its `Cargo.toml` is (default: `CARGO_MANIFEST_DIR`, else
    /// the current folder).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// The prefix of the migration crates' package names (default: the app's package name).
    #[arg(long)]
    pub name: Option<String>,
    /// The public migration crate's folder, relative to the root.
    #[arg(long, default_value = "migrations")]
    pub public: PathBuf,
    /// The tenant migration crate's folder, relative to the root.
    #[arg(long, default_value = "tenant_migrations")]
    pub tenant: PathBuf,
    /// The snapshot folder, relative to the root.
    #[arg(long, default_value = "snapshots")]
    pub snapshots: PathBuf,
    /// Depend on sea-tenancy by path (relative to the root) instead of by version.
    #[arg(long, value_name = "PATH")]
    pub sea_tenancy_path: Option<PathBuf>,
}

impl InitArgs {
    /// `init`'s defaults for `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        InitArgs {
            root: Some(root.into()),
            name: None,
            public: "migrations".into(),
            tenant: "tenant_migrations".into(),
            snapshots: "snapshots".into(),
            sea_tenancy_path: None,
        }
    }
}

/// What `init` wrote and what the app adds by hand.
#[derive(Debug, Clone)]
pub struct Initialized {
    /// Files written.
    pub written: Vec<PathBuf>,
    /// Crates found and kept.
    pub kept: Vec<PathBuf>,
    /// The dependency lines and code to paste into the app.
    pub next_steps: String,
}

/// Runs `init` and prints what it did and what to paste.
pub fn execute(args: InitArgs) -> Result<bool, String> {
    let done = init(&args)?;
    for path in &done.written {
        println!("wrote {}", path.display());
    }
    for path in &done.kept {
        println!("kept {} (already a crate)", path.display());
    }
    println!("\n{}", done.next_steps);
    Ok(true)
}

/// Writes what is missing; nothing when any file in the way exists.
pub fn init(args: &InitArgs) -> Result<Initialized, String> {
    let root = Layout::root_or_default(args.root.clone());
    let name = match &args.name {
        Some(name) => name.clone(),
        None => package_name(&root)?,
    };
    let prefix = name.to_snake_case().replace('_', "-");
    let mut changes = Vec::new();
    let mut kept = Vec::new();
    let sets = [
        (&args.public, format!("{prefix}-migrations"), PUBLIC_DOC),
        (
            &args.tenant,
            format!("{prefix}-tenant-migrations"),
            TENANT_DOC,
        ),
    ];
    for (dir, package, doc) in &sets {
        let krate = root.join(dir);
        if krate.join("Cargo.toml").exists() && krate.join("src/lib.rs").exists() {
            kept.push(krate);
            continue;
        }
        let dependency = sea_tenancy_dependency(dir, args.sea_tenancy_path.as_deref());
        changes.push(FileChange {
            path: krate.join("Cargo.toml"),
            contents: Some(cargo_toml(package, &dependency)),
        });
        changes.push(FileChange {
            path: krate.join("src/lib.rs"),
            contents: Some(LIB.replace("{doc}", doc)),
        });
    }
    let snapshots = root.join(&args.snapshots);
    if !snapshots.exists() {
        changes.push(FileChange {
            path: snapshots.join(".gitkeep"),
            contents: Some(String::new()),
        });
    }
    let defaults = InitArgs::at(&root);
    if (&args.public, &args.tenant, &args.snapshots)
        != (&defaults.public, &defaults.tenant, &defaults.snapshots)
    {
        changes.push(FileChange {
            path: root.join(CONFIG_FILE),
            contents: Some(format!(
                "# Where sea-tenancy's commands find the app's migration crates and snapshots.\n[paths]\npublic = {:?}\ntenant = {:?}\nsnapshots = {:?}\n",
                args.public.display().to_string(),
                args.tenant.display().to_string(),
                args.snapshots.display().to_string()
            )),
        });
    }
    let in_the_way: Vec<String> = changes
        .iter()
        .filter(|c| c.path.exists())
        .map(|c| c.path.display().to_string())
        .collect();
    if !in_the_way.is_empty() {
        return Err(format!(
            "nothing written: {} already exist(s); move them away, or point --public/--tenant/--snapshots elsewhere",
            in_the_way.join(", ")
        ));
    }
    write::apply(&changes).map_err(|e| e.to_string())?;
    let package_of = |dir: &Path| -> String { package_name(&root.join(dir)).unwrap_or_default() };
    Ok(Initialized {
        written: changes.into_iter().map(|c| c.path).collect(),
        kept,
        next_steps: next_steps(
            &args.public,
            &args.tenant,
            &package_of(&args.public),
            &package_of(&args.tenant),
            &args.sea_tenancy_path,
        ),
    })
}

const PUBLIC_DOC: &str =
    "The public migration set: global and attribute-strategy tables, run once in `public`.";
const TENANT_DOC: &str =
    "The tenant migration set: schema-strategy tables, run in every tenant schema.";

/// A migration crate's `lib.rs`: `generate-migrations` and `new-migration` register their
/// files in `vec![]`.
const LIB: &str = "//! {doc}\n//! `generate-migrations` and `new-migration` write and register the migrations.\n\npub use sea_orm_migration::prelude::*;\n\n/// The migration set.\npub struct Migrator;\n\n#[async_trait::async_trait]\nimpl MigratorTrait for Migrator {\n    fn migrations() -> Vec<Box<dyn MigrationTrait>> {\n        vec![]\n    }\n}\n";

fn cargo_toml(package: &str, sea_tenancy: &str) -> String {
    format!(
        "[package]\nname = \"{package}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[lib]\npath = \"src/lib.rs\"\n\n[dependencies]\nsea-orm-migration = {{ version = \"2.0.4\", default-features = false, features = [\"sqlx-postgres\", \"runtime-tokio\"] }}\nsea-tenancy = {sea_tenancy}\nasync-trait = \"0.1\"\n"
    )
}

/// `sea-tenancy = ...` for a crate in `dir`: the version, or the path seen from `dir`.
fn sea_tenancy_dependency(dir: &Path, path: Option<&Path>) -> String {
    match path {
        None => format!("\"{}\"", env!("CARGO_PKG_VERSION")),
        Some(path) => format!(
            "{{ path = {:?} }}",
            up_from(dir).join(path).display().to_string()
        ),
    }
}

/// `../` once per folder of `dir` (relative to the root).
fn up_from(dir: &Path) -> PathBuf {
    dir.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .map(|_| Component::ParentDir)
        .collect()
}

/// The `[package] name` of the crate at `dir`, else the folder's name.
fn package_name(dir: &Path) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        package: Option<Package>,
    }
    #[derive(serde::Deserialize)]
    struct Package {
        name: String,
    }
    let manifest = dir.join("Cargo.toml");
    if let Ok(text) = std::fs::read_to_string(&manifest) {
        let parsed: Manifest = toml::from_str(&text)
            .map_err(|e| format!("{}: {}", manifest.display(), e.message()))?;
        if let Some(package) = parsed.package {
            return Ok(package.name);
        }
    }
    let folder = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("cannot name the app at {}: pass --name", dir.display()))
}

fn next_steps(
    public: &Path,
    tenant: &Path,
    public_package: &str,
    tenant_package: &str,
    path: &Option<PathBuf>,
) -> String {
    let (public_crate, tenant_crate) = (
        public_package.replace('-', "_"),
        tenant_package.replace('-', "_"),
    );
    // The app's binary runs the command line: feature `cli`.
    let sea_tenancy = match path {
        Some(p) => format!(
            "{{ path = {:?}, features = [\"cli\"] }}",
            p.display().to_string()
        ),
        None => format!(
            "{{ version = \"{}\", features = [\"cli\"] }}",
            env!("CARGO_PKG_VERSION")
        ),
    };
    format!(
        "Next, in the app's Cargo.toml:

[dependencies]
sea-tenancy = {sea_tenancy}
{public_package} = {{ path = {public:?} }}
{tenant_package} = {{ path = {tenant:?} }}
sea-orm = {{ version = \"2.0.4\", default-features = false, features = [\"sqlx-postgres\", \"runtime-tokio\", \"macros\"] }}
tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}
async-trait = \"0.1\"

and in src/main.rs (entities with #[derive(Multitenant)] / #[derive(ManageTenant)] beside it):

struct App;

#[async_trait::async_trait]
impl sea_tenancy::TenancyApp for App {{
    type PublicMigrator = {public_crate}::Migrator;
    type TenantMigrator = {tenant_crate}::Migrator;
    // all_tenants: the rows of your one #[derive(ManageTenant)] entity; without one, write it
    // (e.g. sea_tenancy::all_tenants::schemas_like(db, \"org\\\\_%\").await).
}}

#[tokio::main]
async fn main() -> std::process::ExitCode {{
    sea_tenancy::cli::run(App).await
}}

Then: cargo run -- generate-migrations, and cargo run -- migrate, with DATABASE_URL (the
owner's connection) and SEA_TENANCY_SECRET (16+ bytes; tenant logins derive from it) set.",
        public = public.display().to_string(),
        tenant = tenant.display().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_seen_from_a_crate() {
        assert_eq!(up_from(Path::new("migrations")), PathBuf::from(".."));
        assert_eq!(up_from(Path::new("db/tenant")), PathBuf::from("../.."));
        assert_eq!(
            sea_tenancy_dependency(Path::new("migrations"), Some(Path::new("../sea-tenancy"))),
            "{ path = \"../../sea-tenancy\" }"
        );
    }
}

//! `init` — the new-app path: what it writes is what `examples/quickstart` (a workspace
//! member whose migrations `generate-migrations` wrote and whose test provisions and queries
//! tenants) builds on; an existing sea-orm-cli `migration/` crate is kept and pointed at;
//! nothing is written when a file is in the way.

use std::path::{Path, PathBuf};

use sea_tenancy::cli::init::{InitArgs, init};
use sea_tenancy::generate::write::{CONFIG_FILE, register};
use sea_tenancy::generate::{Layout, Set};

fn scratch(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("sea-tenancy-init-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    root
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

/// The `mod m…;` modules registered in a migration crate's `lib.rs`.
fn modules(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn init_writes_what_the_quickstart_builds_on() {
    let root = scratch("quickstart");
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"quickstart\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    let mut args = InitArgs::at(&root);
    args.sea_tenancy_path = Some("../../crates/sea-tenancy".into());
    let done = init(&args).unwrap();
    assert_eq!(done.written.len(), 5, "{:?}", done.written);
    assert!(
        done.next_steps
            .contains("type PublicMigrator = quickstart_migrations::Migrator;")
    );
    assert!(
        done.next_steps
            .contains("quickstart-tenant-migrations = { path = \"tenant_migrations\" }")
    );

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    for krate in ["migrations", "tenant_migrations"] {
        assert_eq!(
            read(root.join(krate).join("Cargo.toml")),
            read(example.join(krate).join("Cargo.toml")),
            "{krate}/Cargo.toml"
        );
        // The example's lib.rs is init's with generate-migrations' registrations.
        let committed = read(example.join(krate).join("src/lib.rs"));
        let lib_path = root.join(krate).join("src/lib.rs");
        let mut lib = read(&lib_path);
        let registered = modules(&committed);
        assert!(!registered.is_empty(), "{committed}");
        for module in &registered {
            lib = register(&lib_path, &lib, module).unwrap();
        }
        // (`cargo fmt` may have re-wrapped the committed file.)
        let squeeze = |s: &str| s.split_whitespace().collect::<String>().replace(",]", "]");
        assert_eq!(squeeze(&lib), squeeze(&committed), "{krate}/src/lib.rs");
    }
    // Run again: idempotent — both crates kept, nothing written.
    let again = init(&args).unwrap();
    assert!(again.written.is_empty(), "{:?}", again.written);
    assert_eq!(again.kept.len(), 2);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn an_existing_migration_crate_is_kept_and_pointed_at() {
    let root = scratch("adopt");
    // sea-orm-cli's layout: `migration/` with its own package.
    std::fs::create_dir_all(root.join("migration/src")).unwrap();
    std::fs::write(
        root.join("migration/Cargo.toml"),
        "[package]\nname = \"migration\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(root.join("migration/src/lib.rs"), "// theirs\n").unwrap();
    let mut args = InitArgs::at(&root);
    args.name = Some("shop".into());
    args.public = "migration".into();
    let done = init(&args).unwrap();
    assert_eq!(done.kept, [root.join("migration")]);
    assert_eq!(read(root.join("migration/src/lib.rs")), "// theirs\n");
    assert!(
        done.next_steps
            .contains("type PublicMigrator = migration::Migrator;")
    );
    assert!(
        read(root.join("tenant_migrations/Cargo.toml"))
            .contains("name = \"shop-tenant-migrations\"")
    );
    // The generator and new-migration find the crate through sea-tenancy.toml.
    assert!(root.join(CONFIG_FILE).exists());
    let layout = Layout::load(&root).unwrap();
    assert_eq!(layout.src(Set::Public), root.join("migration/src"));
    assert_eq!(layout.src(Set::Tenant), root.join("tenant_migrations/src"));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_file_in_the_way_means_nothing_is_written() {
    let root = scratch("blocked");
    std::fs::create_dir_all(root.join("tenant_migrations")).unwrap();
    std::fs::write(root.join("tenant_migrations/Cargo.toml"), "# mine\n").unwrap();
    let err = init(&InitArgs::at(&root)).unwrap_err();
    assert!(err.contains("tenant_migrations/Cargo.toml"), "{err}");
    assert!(!root.join("migrations").exists());
    assert!(!root.join("snapshots").exists());
    assert_eq!(read(root.join("tenant_migrations/Cargo.toml")), "# mine\n");
    std::fs::remove_dir_all(&root).unwrap();
}

/// The README's quickstart code blocks (each after a `<!-- quickstart: FILE -->` marker) are
/// verbatim parts of the example's files, so the README cannot drift from compiled code.
#[test]
fn the_readme_quickstart_is_the_examples_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = read(root.join("README.md"));
    let mut checked = 0;
    let mut rest = readme.as_str();
    while let Some(at) = rest.find("<!-- quickstart: ") {
        rest = &rest[at + "<!-- quickstart: ".len()..];
        let file = &rest[..rest.find(" -->").unwrap()];
        let start = rest.find("```rust\n").unwrap() + "```rust\n".len();
        let len = rest[start..].find("```\n").unwrap();
        let block = &rest[start..start + len];
        let source = read(root.join("examples/quickstart").join(file));
        assert!(
            source.contains(block),
            "README block for {file} is not in the example:\n{block}"
        );
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} quickstart blocks found");
}

//! The command line as an app grows around it: the app's own subcommands beside the library's
//! under the app's name and version, `new-migration` for hand-written migrations, and
//! `rollback --public`.

use std::process::Command;

use saas_app::SaasApp;
use saas_app::entities::organization;
use sea_orm::Set;
use sea_tenancy::cli::{Cli, Parsed, parse_with_commands};

#[derive(Debug, PartialEq, clap::Subcommand)]
enum AppCommand {
    /// Serve the API.
    Serve {
        #[arg(long, default_value_t = 3000)]
        port: u16,
    },
}

fn app_command() -> clap::Command {
    clap::Command::new("myapp")
        .version("9.9.9")
        .about("My multitenant app")
}

#[test]
fn app_subcommands_sit_beside_the_librarys() {
    let parsed = parse_with_commands::<AppCommand, _, _>(
        app_command(),
        [
            "myapp",
            "serve",
            "--port",
            "9",
            "--database-url",
            "postgres://h/db",
        ],
    )
    .unwrap();
    match parsed {
        Parsed::App {
            command,
            database_url,
        } => {
            assert_eq!(command, AppCommand::Serve { port: 9 });
            assert_eq!(database_url.as_deref(), Some("postgres://h/db"));
        }
        other => panic!("{other:?}"),
    }
    let parsed =
        parse_with_commands::<AppCommand, _, _>(app_command(), ["myapp", "status", "--json"])
            .unwrap();
    assert!(
        matches!(
            parsed,
            Parsed::Tenancy(Cli {
                command: sea_tenancy::cli::Command::Status { json: true, .. },
                ..
            })
        ),
        "{parsed:?}"
    );
    // The app's name, version and description; both command sets in the help.
    let version =
        parse_with_commands::<AppCommand, _, _>(app_command(), ["myapp", "--version"]).unwrap_err();
    assert_eq!(version.kind(), clap::error::ErrorKind::DisplayVersion);
    assert_eq!(version.to_string().trim(), "myapp 9.9.9");
    let help =
        parse_with_commands::<AppCommand, _, _>(app_command(), ["myapp", "--help"]).unwrap_err();
    let help = help.to_string();
    for part in [
        "My multitenant app",
        "serve",
        "Serve the API",
        "migrate",
        "status",
    ] {
        assert!(help.contains(part), "{part} missing from {help}");
    }
    assert!(!help.contains("sea-tenancy commands"), "{help}");
    // An unknown command is an error, not a fall-through.
    assert!(parse_with_commands::<AppCommand, _, _>(app_command(), ["myapp", "serv"]).is_err());
}

fn saas_app(url: Option<&str>, args: &[&str]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_saas-app"));
    command.args(args).env_remove("DATABASE_URL");
    if let Some(url) = url {
        command.env("DATABASE_URL", url);
    }
    let output = command.output().expect("run saas-app");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn the_reference_binary_shows_its_own_name_and_demo() {
    let (ok, out) = saas_app(None, &["--version"]);
    assert!(ok, "{out}");
    assert_eq!(
        out.trim(),
        format!("saas-app {}", env!("CARGO_PKG_VERSION"))
    );
    // Each command's help lists what it uses: the offline ones take no database.
    for (command, uses_database) in [
        ("init", false),
        ("new-migration", false),
        ("migrate", true),
        ("status", true),
    ] {
        let (ok, out) = saas_app(None, &[command, "--help"]);
        assert!(ok, "{out}");
        assert_eq!(
            out.contains("--database-url"),
            uses_database,
            "{command}: {out}"
        );
    }
    let (ok, out) = saas_app(None, &["--help"]);
    assert!(
        ok && out.contains("demo") && out.contains("generate-migrations"),
        "{out}"
    );
}

const LIB: &str = "pub use sea_orm_migration::prelude::*;\n\npub struct Migrator;\n\n#[async_trait::async_trait]\nimpl MigratorTrait for Migrator {\n    fn migrations() -> Vec<Box<dyn MigrationTrait>> {\n        vec![]\n    }\n}\n";

#[test]
fn new_migration_writes_a_registered_empty_migration_in_either_set() {
    let root = std::env::temp_dir().join(format!("sea-tenancy-newmig-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for krate in ["migrations", "tenant_migrations"] {
        std::fs::create_dir_all(root.join(krate).join("src")).unwrap();
        std::fs::write(root.join(krate).join("src/lib.rs"), LIB).unwrap();
    }
    let root_arg = root.to_str().unwrap();
    let (ok, out) = saas_app(
        None,
        &[
            "new-migration",
            "backfill_slugs",
            "--tenant",
            "--root",
            root_arg,
        ],
    );
    assert!(ok, "{out}");
    let src = root.join("tenant_migrations/src");
    let file = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("_backfill_slugs.rs"))
        .unwrap_or_else(|| panic!("no file in {src:?}: {out}"));
    let module = file.file_stem().unwrap().to_str().unwrap().to_owned();
    let code = std::fs::read_to_string(&file).unwrap();
    syn::parse_file(&code).unwrap_or_else(|e| panic!("{e}: {code}"));
    assert!(code.contains("impl MigrationTrait for Migration"), "{code}");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    assert!(lib.contains(&format!("mod {module};")), "{lib}");
    assert!(
        lib.contains(&format!("Box::new({module}::Migration)")),
        "{lib}"
    );
    syn::parse_file(&lib).unwrap();
    // The public set stays untouched; a bad name writes nothing.
    assert_eq!(
        std::fs::read_to_string(root.join("migrations/src/lib.rs")).unwrap(),
        LIB
    );
    let (ok, out) = saas_app(None, &["new-migration", "名前", "--root", root_arg]);
    assert!(!ok, "{out}");
    assert_eq!(
        std::fs::read_dir(root.join("migrations/src"))
            .unwrap()
            .count(),
        1
    );
    // Without the migration crate the error says where it was looked for.
    let (ok, out) = saas_app(
        None,
        &["new-migration", "x", "--root", "/nonexistent-sea-tenancy"],
    );
    assert!(!ok && out.contains("migrations/src/lib.rs"), "{out}");
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_public_undoes_the_public_sets_last_migration_or_nothing() {
    use sea_orm_migration::MigratorTrait;
    let database = sea_tenancy::testing::TestDatabase::create().await;
    let url = Some(database.url());
    let (ok, out) = saas_app(url, &["migrate"]);
    assert!(ok, "{out}");
    let raw = database.connect().await;
    sea_tenancy::manage::provision(
        &SaasApp,
        &raw,
        organization::ActiveModel {
            name: Set("Acme".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let names: Vec<String> = migrations::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let public = || async {
        sea_tenancy::migrate::public_status::<migrations::Migrator, _>(&raw)
            .await
            .unwrap()
    };

    let (ok, out) = saas_app(url, &["rollback", "--public"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "public: rolled back 1 migration(s): {}",
            names[names.len() - 1]
        )),
        "{out}"
    );
    assert_eq!(public().await.pending, 1);
    // The first migration creates `users`, which the tenant's tables reference: PostgreSQL
    // refuses to drop it, and nothing is undone.
    let (ok, out) = saas_app(url, &["rollback", "--public"]);
    assert!(
        !ok && out.contains("public rollback failed, nothing undone"),
        "{out}"
    );
    assert_eq!(public().await.applied, names.len() - 1);
    // Tenants and --public do not mix.
    let (ok, out) = saas_app(url, &["rollback", "--public", "--tenant", "org_1"]);
    assert!(!ok && out.contains("cannot be used with"), "{out}");
    let (ok, out) = saas_app(url, &["migrate"]);
    assert!(
        ok && out.contains("public: 1 migration(s) applied"),
        "{out}"
    );
}

//! The reference app's generated migrations, run on PostgreSQL (public + two tenants), give
//! exactly the schema its entities describe; and its snapshots are current.

mod common;
mod generate_support;

use sea_tenancy::generate::{EntitySet, Layout, Options, Set, plan, resolve::resolve};

#[tokio::test]
async fn generated_migrations_build_what_the_entities_describe() {
    let app = common::app().await;
    let (_, a) = app.org("Acme").await;
    let (_, b) = app.org("Globex").await;
    let model = resolve(&EntitySet::from_program().unwrap())
        .unwrap()
        .snapshot;
    assert_eq!(
        model.tables.keys().cloned().collect::<Vec<_>>(),
        [
            "comments",
            "invitations",
            "memberships",
            "organizations",
            "posts",
            "users"
        ]
    );
    for table in model.set(Set::Public) {
        generate_support::assert_table_matches(&app.raw, "public", table).await;
    }
    for tenant in [&a, &b] {
        for table in model.set(Set::Tenant) {
            generate_support::assert_table_matches(&app.raw, tenant.schema(), table).await;
        }
    }
}

/// A scratch copy of the reference app: its migration crates' `lib.rs` with no migration.
fn empty_app(name: &str) -> (std::path::PathBuf, Layout) {
    let root = std::env::temp_dir().join(format!("sea-tenancy-gen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let layout = Layout::new(&root);
    let lib = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/src/lib.rs"),
    )
    .unwrap();
    let empty = lib
        .lines()
        .filter(|l| !l.starts_with("mod m"))
        .map(|l| {
            if l.trim_start().starts_with("vec![") {
                "        vec![]"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    for set in Set::ALL {
        std::fs::create_dir_all(layout.src(set)).unwrap();
        std::fs::write(layout.src(set).join("lib.rs"), &empty).unwrap();
    }
    (root, layout)
}

#[test]
fn checked_in_snapshots_are_current() {
    let layout = Layout::new(env!("CARGO_MANIFEST_DIR"));
    let plan = plan(
        &EntitySet::from_program().unwrap(),
        &layout,
        &mut Options::now("unused"),
    )
    .unwrap();
    assert!(
        plan.is_empty(),
        "run `cargo run -- generate-migrations`: {:?}",
        plan.operations
    );
}

/// The command line: `--check` fails on a difference and writes nothing, `--dry-run` writes
/// nothing, a plain run writes the files, after which `--check` passes and a rerun writes
/// nothing new.
#[tokio::test]
async fn command_line_check_dry_run_and_write() {
    use clap::Parser;
    use sea_tenancy::cli::{Cli, execute};

    let (root, layout) = empty_app("cli");
    let count = || {
        Set::ALL
            .iter()
            .map(|s| std::fs::read_dir(layout.src(*s)).unwrap().count())
            .sum::<usize>()
    };
    let run = |args: &[&str]| {
        let mut argv = vec![
            "saas-app",
            "generate-migrations",
            "--root",
            root.to_str().unwrap(),
        ];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap()
    };
    let app = saas_app::SaasApp;
    assert_eq!(execute(&app, run(&["--check"])).await, Ok(false));
    assert_eq!(execute(&app, run(&["--dry-run"])).await, Ok(true));
    assert_eq!(count(), 2, "only the two lib.rs files");
    assert!(!layout.snapshots.exists());
    assert_eq!(execute(&app, run(&["--name", "initial"])).await, Ok(true));
    assert_eq!(count(), 4, "one migration file per set");
    assert!(layout.snapshots.join("public/organizations.json").exists());
    assert!(layout.snapshots.join("tenant/posts.json").exists());
    assert_eq!(execute(&app, run(&["--check"])).await, Ok(true));
    assert_eq!(execute(&app, run(&[])).await, Ok(true));
    assert_eq!(count(), 4, "no change, no file");
    let _ = std::fs::remove_dir_all(&root);
}

/// `--redo` on the command line: it needs a database to check the migration is not applied,
/// replaces it when it is not, and refuses (changing nothing) when it is.
#[tokio::test]
async fn command_line_redo_checks_the_database() {
    use clap::Parser;
    use sea_orm::ConnectionTrait;
    use sea_tenancy::cli::{Cli, execute};

    let (root, layout) = empty_app("redo");
    let app = saas_app::SaasApp;
    let cli = |args: &[&str]| {
        let mut argv = vec![
            "saas-app",
            "generate-migrations",
            "--root",
            root.to_str().unwrap(),
        ];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap()
    };
    assert_eq!(execute(&app, cli(&["--name", "initial"])).await, Ok(true));
    let module = |set| {
        std::fs::read_dir(layout.src(set))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .find(|n| n.starts_with('m'))
            .unwrap()
    };
    let first = module(Set::Public);
    let mut no_db = cli(&["--redo"]);
    no_db.database_url = None;
    let err = execute(&app, no_db).await.unwrap_err();
    assert!(err.contains("DATABASE_URL"), "{err}");

    let database = sea_tenancy::testing::TestDatabase::create().await;
    let url = database.url().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        execute(&app, cli(&["--redo", "--database-url", &url])).await,
        Ok(true)
    );
    let second = module(Set::Public);
    assert_ne!(first, second, "a new migration replaced the old one");
    assert!(
        second.ends_with("_initial.rs"),
        "the name is kept: {second}"
    );
    assert_eq!(
        std::fs::read_dir(layout.src(Set::Public)).unwrap().count(),
        2
    );

    let db = database.connect().await;
    db.execute_unprepared(&format!(
        "CREATE TABLE seaql_migrations (version varchar PRIMARY KEY, applied_at bigint);
         INSERT INTO seaql_migrations VALUES ('{}', 0)",
        second.trim_end_matches(".rs")
    ))
    .await
    .unwrap();
    let err = execute(&app, cli(&["--redo", "--database-url", &url]))
        .await
        .unwrap_err();
    assert!(err.contains("is applied in 1 schema(s) (public)"), "{err}");
    assert_eq!(module(Set::Public), second, "nothing changed");
    db.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&root);
}

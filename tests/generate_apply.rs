//! End to end on PostgreSQL with an in-test entity set: generate → migrate public + two
//! tenants → the live schemas match the entities; tenant-matched keys reject another tenant's
//! row; an added column makes the check fail, generates a tenant-set file, applies to the
//! existing tenants, and the check passes again; a bad relation writes nothing.

#[path = "../crates/sea-tenancy/tests/generate_entities.rs"]
mod entities;
mod generate_support;

use std::path::{Path, PathBuf};

use entities as e;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use sea_tenancy::generate::{
    EntitySet, GenerateError, Layout, Options, Plan, Set, Tenancy, execute, plan, resolve::resolve,
    write,
};
use sea_tenancy::testing::TestDatabase;

const LIB: &str = "pub use sea_orm_migration::prelude::*;\n\npub struct Migrator;\n\n#[async_trait::async_trait]\nimpl MigratorTrait for Migrator {\n    fn migrations() -> Vec<Box<dyn MigrationTrait>> {\n        vec![]\n    }\n}\n";

/// A fresh app folder with two empty migration crates.
fn app_dir(name: &str) -> Layout {
    let root = std::env::temp_dir().join(format!("sea-tenancy-gen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let layout = Layout::new(&root);
    for set in Set::ALL {
        std::fs::create_dir_all(layout.src(set)).unwrap();
        std::fs::write(layout.src(set).join("lib.rs"), LIB).unwrap();
    }
    layout
}

fn files(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn options(ts: &str, name: &str) -> Options {
    Options {
        name: name.into(),
        timestamp: ts.into(),
        ..Options::default()
    }
}

const TENANTS: [(&str, i64); 2] = [("t_1", 1), ("t_2", 2)];

/// Applies a plan as the runner would: public once, tenant set in each tenant schema.
async fn migrate(db: &DatabaseConnection, plan: &Plan, create_schemas: bool) {
    if let Some(ops) = plan.operations.get(&Set::Public) {
        execute::apply(db, ops).await.unwrap();
    }
    for (schema, _) in TENANTS {
        if create_schemas {
            db.execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                .await
                .unwrap();
        }
        if let Some(ops) = plan.operations.get(&Set::Tenant) {
            let txn = db.begin().await.unwrap();
            txn.execute_unprepared(&format!("SET LOCAL search_path TO {schema}, public"))
                .await
                .unwrap();
            execute::apply(&txn, ops).await.unwrap();
            txn.commit().await.unwrap();
        }
    }
}

async fn assert_live_matches(db: &DatabaseConnection, entities: &EntitySet) {
    let model = resolve(entities).unwrap().snapshot;
    for table in model.set(Set::Public) {
        generate_support::assert_table_matches(db, "public", table).await;
    }
    for (schema, _) in TENANTS {
        for table in model.set(Set::Tenant) {
            generate_support::assert_table_matches(db, schema, table).await;
        }
    }
}

fn with_post_v2() -> EntitySet {
    let mut set = e::all();
    set.entities.retain(|x| x.table.name != "posts");
    let v2 = EntitySet::new()
        .with::<e::post_v2::Entity>(Tenancy::Schema)
        .unwrap();
    set.entities.extend(v2.entities);
    set
}

#[tokio::test]
async fn generate_migrate_change_and_migrate_again() {
    let database = TestDatabase::create().await;
    let db = database.connect().await;
    let layout = app_dir("e2e");

    // Entities → files in the right crates, registered, snapshots written.
    let first = plan(
        &e::all(),
        &layout,
        &mut options("20260101_000000", "initial"),
    )
    .unwrap();
    assert!(!first.is_empty());
    write::apply(&first.changes).unwrap();
    for set in Set::ALL {
        let src = layout.src(set);
        assert!(src.join("m20260101_000000_initial.rs").exists());
        let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
        assert!(lib.contains("mod m20260101_000000_initial;"), "{lib}");
        assert!(
            lib.contains("Box::new(m20260101_000000_initial::Migration)"),
            "{lib}"
        );
    }
    assert!(layout.snapshots.join("public/tasks.json").exists());
    assert!(layout.snapshots.join("tenant/posts.json").exists());

    // Public + two tenants, then the live schemas against the entities.
    migrate(&db, &first, true).await;
    assert_live_matches(&db, &e::all()).await;

    // Tenant-matched key: a task of org 2 cannot point at a project of org 1.
    db.execute_unprepared(
        "INSERT INTO accounts (id, email) VALUES (1, 'a@x');
         INSERT INTO projects (id, org_id, slug) VALUES (10, 1, 'p');
         INSERT INTO tasks (org_id, project_id, owner_id) VALUES (1, 10, 1);
         INSERT INTO tasks (org_id, project_id, owner_id) VALUES (2, NULL, 1);",
    )
    .await
    .unwrap();
    let err = db
        .execute_unprepared("INSERT INTO tasks (org_id, project_id, owner_id) VALUES (2, 10, 1)")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("fk_tasks_project_id"), "{err}");
    // Unique per tenant: the same slug in another tenant is fine, twice in one is not.
    db.execute_unprepared("INSERT INTO projects (id, org_id, slug) VALUES (11, 2, 'p')")
        .await
        .unwrap();
    assert!(
        db.execute_unprepared("INSERT INTO projects (id, org_id, slug) VALUES (12, 2, 'p')")
            .await
            .is_err()
    );
    // Existing tenant rows, so the next migration runs on data.
    for (schema, _) in TENANTS {
        db.execute_unprepared(&format!(
            "INSERT INTO {schema}.posts (title, author_id) VALUES ('hello', 1)"
        ))
        .await
        .unwrap();
    }

    // Unchanged: no file. Changed (posts gains `views`, ...): the check fails and the new file
    // lands in the tenant set only.
    let same = plan(&e::all(), &layout, &mut options("20260102_000000", "noop")).unwrap();
    assert!(same.is_empty() && same.changes.is_empty());
    let changed = plan(
        &with_post_v2(),
        &layout,
        &mut options("20260102_000000", "post_views"),
    )
    .unwrap();
    assert!(!changed.is_empty(), "--check must fail");
    assert!(!changed.operations.contains_key(&Set::Public));
    assert!(changed.changes.iter().any(|c| {
        c.path
            == layout
                .src(Set::Tenant)
                .join("m20260102_000000_post_views.rs")
    }));
    assert!(
        changed
            .changes
            .iter()
            .all(|c| !c.path.starts_with(layout.src(Set::Public)))
    );
    write::apply(&changed.changes).unwrap();
    migrate(&db, &changed, false).await;
    assert_live_matches(&db, &with_post_v2()).await;
    let again = plan(
        &with_post_v2(),
        &layout,
        &mut options("20260103_000000", "x"),
    )
    .unwrap();
    assert!(
        again.is_empty(),
        "check passes after generating: {:?}",
        again.operations
    );

    let _ = std::fs::remove_dir_all(&layout.root);
}

#[test]
fn unknown_reference_is_an_error_and_writes_nothing() {
    let layout = app_dir("bad");
    let before = files(&layout.root);
    let entities = EntitySet::new()
        .with::<e::comment::Entity>(Tenancy::Schema)
        .unwrap();
    let err = plan(&entities, &layout, &mut options("20260101_000000", "bad")).unwrap_err();
    assert!(matches!(err, GenerateError::UnknownReference { .. }));
    let text = err.to_string();
    assert!(text.contains("entities::comment`"), "{text}");
    assert!(
        text.contains("field `post_id`") && text.contains("`posts`"),
        "{text}"
    );
    assert_eq!(files(&layout.root), before);
    let _ = std::fs::remove_dir_all(&layout.root);
}

#[test]
fn same_input_gives_byte_identical_files() {
    let a = plan(
        &e::all(),
        &app_dir("same-a"),
        &mut options("20260101_000000", "initial"),
    )
    .unwrap();
    let b = plan(
        &e::all(),
        &app_dir("same-b"),
        &mut options("20260101_000000", "initial"),
    )
    .unwrap();
    let contents = |p: &Plan| {
        p.changes
            .iter()
            .map(|c| c.contents.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(contents(&a), contents(&b));
}

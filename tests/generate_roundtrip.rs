//! The rendered-file path, which is what users run: for each case of issue #13 and every
//! operation kind (`generate_support/cases.rs`), the migration files the generator writes step by
//! step are compiled into this test from `generate_support/roundtrip/` (with
//! `#![deny(warnings)]`; `generate_fixtures.rs` proves they are the generator's current bytes), so
//! the scratch app is built once, with the test. On PostgreSQL, public plus two tenant schemas:
//! apply each step, compare the catalog with the model and write rows; then roll every step back,
//! tenants first, and compare the catalog with the one before that step.

#[path = "generate_support/cases.rs"]
mod cases;
#[path = "generate_support/catalog.rs"]
mod catalog;
#[path = "generate_support/entities.rs"]
mod entities;
#[path = "generate_support/roundtrip/mod.rs"]
mod roundtrip;
#[path = "generate_support/scratch.rs"]
mod scratch;

use std::collections::BTreeSet;
use std::time::Instant;

use cases::Case;
use scratch::{app, generate, options};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use sea_orm_migration::SchemaManager;
use sea_tenancy::generate::{GenerateError, Set, plan, write};
use sea_tenancy::testing::TestDatabase;

const TENANTS: [&str; 2] = ["t_1", "t_2"];
const SCHEMAS: [&str; 3] = ["public", "t_1", "t_2"];

async fn run(db: &DatabaseConnection, name: &str, schema: &str, down: bool) {
    let migration = roundtrip::migration(name).unwrap_or_else(|| {
        panic!("no compiled fixture `{name}`: run `UPDATE_GENERATED=1 cargo test --test generate_fixtures`")
    });
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared(&format!("SET LOCAL search_path TO {schema}, public"))
        .await
        .unwrap();
    let manager = SchemaManager::new(&txn);
    let result = if down {
        migration.down(&manager).await
    } else {
        migration.up(&manager).await
    };
    let way = if down { "down" } else { "up" };
    result.unwrap_or_else(|e| panic!("{name} {way} in {schema}: {e}"));
    txn.commit().await.unwrap();
}

async fn rows(db: &DatabaseConnection, sql: &str, schema: &str, context: &str) {
    if sql.is_empty() {
        return;
    }
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared(&format!("SET LOCAL search_path TO {schema}, public; {sql}"))
        .await
        .unwrap_or_else(|e| panic!("{context}: rows in {schema}: {e}"));
    txn.commit().await.unwrap();
}

async fn round_trip(db: &DatabaseConnection, case: &Case) {
    for schema in TENANTS {
        db.execute_unprepared(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
    }
    let generated = generate(case);
    let mut before: Vec<BTreeSet<String>> = Vec::new();
    for (i, (step, gen_step)) in case.steps.iter().zip(&generated).enumerate() {
        let context = format!("{} step {}", case.name, i + 1);
        before.push(catalog::read(db, &SCHEMAS).await);
        for (set, name, _) in &gen_step.files {
            match set {
                Set::Public => run(db, name, "public", false).await,
                Set::Tenant => {
                    for schema in TENANTS {
                        run(db, name, schema, false).await;
                    }
                }
            }
        }
        for table in gen_step.model.set(Set::Public) {
            catalog::assert_matches_model(db, "public", table).await;
        }
        for schema in TENANTS {
            for table in gen_step.model.set(Set::Tenant) {
                catalog::assert_matches_model(db, schema, table).await;
            }
        }
        rows(db, step.public_sql, "public", &context).await;
        for schema in TENANTS {
            rows(db, step.tenant_sql, schema, &context).await;
        }
    }
    for (i, gen_step) in generated.iter().enumerate().rev() {
        for (set, name, _) in gen_step.files.iter().rev() {
            match set {
                Set::Tenant => {
                    for schema in TENANTS {
                        run(db, name, schema, true).await;
                    }
                }
                Set::Public => run(db, name, "public", true).await,
            }
        }
        let after = catalog::read(db, &SCHEMAS).await;
        catalog::assert_same(
            &before[i],
            &after,
            &format!("{} after rolling back step {}", case.name, i + 1),
        );
    }
}

#[tokio::test]
async fn rendered_migrations_apply_and_roll_back() {
    for case in cases::all() {
        let started = Instant::now();
        let database = TestDatabase::create().await;
        let db = database.connect().await;
        round_trip(&db, &case).await;
        db.close().await.unwrap();
        eprintln!("{}: {:.2?}", case.name, started.elapsed());
    }
}

/// 5: a global table that tenant tables reference cannot leave the public set in one migration
/// (public migrations run first, and the tenant keys still point at it): refused, with the fix.
#[test]
fn moving_a_referenced_global_table_is_refused_with_the_fix() {
    use entities as e;
    use sea_tenancy::generate::{EntitySet, Tenancy};
    let layout = app("roundtrip-c05");
    let before = EntitySet::new()
        .with::<e::account::Entity>(Tenancy::Global)
        .unwrap()
        .with::<e::story::Entity>(Tenancy::Schema)
        .unwrap();
    let first = plan(&before, &layout, &mut options("20260101_000001")).unwrap();
    write::apply(&first.changes).unwrap();
    let after = EntitySet::new()
        .with::<e::account::Entity>(Tenancy::Schema)
        .unwrap()
        .with::<e::story::Entity>(Tenancy::Schema)
        .unwrap();
    let err = plan(&after, &layout, &mut options("20260101_000002")).unwrap_err();
    assert!(matches!(err, GenerateError::CrossSet { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("table `accounts` is dropped") && text.contains("`stories.account_id`"),
        "{text}"
    );
    assert!(
        text.contains("Remove those relations from the entities first"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&layout.root);
}

/// Citus: what it will refuse is said when generating (the files still serve plain PostgreSQL):
/// switching a table between global and attribute (no in-place conversion), and a `SET NULL` on
/// a tenant-matched key; a case Citus takes warns of nothing.
#[test]
fn what_citus_refuses_is_warned() {
    let cases = cases::all();
    let warnings = |name: &str, upto: usize| -> Vec<String> {
        let case = cases.iter().find(|c| c.name == name).unwrap();
        let layout = app(&format!("citus-{name}"));
        let mut last = Vec::new();
        for (i, step) in case.steps[..=upto].iter().enumerate() {
            let mut o = step.options(name, &format!("20260101_0000{i:02}"));
            let p = plan(&step.entities, &layout, &mut o).unwrap();
            write::apply(&p.changes).unwrap();
            last = p.warnings;
        }
        let _ = std::fs::remove_dir_all(&layout.root);
        last
    };
    let to_attribute = warnings("c02_strategy_switch", 1);
    assert!(
        to_attribute
            .iter()
            .any(|w| w.contains("table `notes` changes tenancy")
                && w.contains("it is a reference table and would become distributed on `org_id`")
                && w.contains("create the table under a new name")),
        "{to_attribute:?}"
    );
    let to_global = warnings("c14_tenant_default", 1);
    assert!(
        to_global
            .iter()
            .any(|w| w.contains("table `spaces` changes tenancy")
                && w.contains("distributed on `id` and would become a reference table")),
        "{to_global:?}"
    );
    let set_null = warnings("c09_set_null", 0);
    assert!(
        set_null
            .iter()
            .any(|w| w.contains("SET NULL") && w.ends_with("this migration fails on Citus")),
        "{set_null:?}"
    );
    assert!(warnings("c03_self_reference", 0).is_empty());
    assert!(warnings("c12_key_cycle", 0).is_empty());
}

/// 10: the 63-byte error names the entity, the table and the field.
#[test]
fn long_identifier_error_names_entity_and_field() {
    let set = sea_tenancy::generate::EntitySet::new()
        .with::<entities::long_field::Entity>(sea_tenancy::generate::Tenancy::Global)
        .unwrap();
    let err = sea_tenancy::generate::resolve::resolve(&set)
        .unwrap_err()
        .to_string();
    assert!(err.contains("entities::long_field`"), "{err}");
    assert!(err.contains("(table `subscriptions`)"), "{err}");
    assert!(
        err.contains("the index on field(s) `renewal_reminder_delivery_attempt_idempotency_key`"),
        "{err}"
    );
}

/// 11 and the other decisions: without a flag (and no terminal) the run stops, naming the flag,
/// and writes nothing; a flag no change needs (a typo) is refused.
#[test]
fn undecided_changes_name_their_flag() {
    let cases = cases::all();
    for (name, flag) in [
        ("c11_not_null_column", "--default jobs.priority=VALUE"),
        ("c06_type_change", "--using items.qty='\"qty\"::bigint'"),
        ("c14_tenant_default", "--tenant-default spaces=keep"),
    ] {
        let case = cases.iter().find(|c| c.name == name).unwrap();
        let layout = app(&format!("undecided-{name}"));
        let decided = case.steps.iter().position(|s| !s.flags.is_empty()).unwrap();
        for (i, step) in case.steps[..decided].iter().enumerate() {
            let mut o = step.options(name, &format!("20260101_0000{i:02}"));
            write::apply(&plan(&step.entities, &layout, &mut o).unwrap().changes).unwrap();
        }
        let files = |layout: &sea_tenancy::generate::Layout| {
            Set::ALL
                .iter()
                .map(|s| std::fs::read_dir(layout.src(*s)).unwrap().count())
                .sum::<usize>()
        };
        let before = files(&layout);
        let entities = &case.steps[decided].entities;
        let err = plan(entities, &layout, &mut options("20260102_000000")).unwrap_err();
        assert!(matches!(err, GenerateError::Undecided { .. }), "{err}");
        assert!(err.to_string().contains(flag), "{name}: {err}");
        assert_eq!(files(&layout), before, "{name}: nothing is written");
        if name == "c11_not_null_column" {
            let mut typo = options("20260102_000000");
            for spec in ["jobs.priority=0", "jobs.priorty=0"] {
                typo.decisions.fills.push(
                    sea_tenancy::generate::Decisions::parse_column_spec("--default", spec).unwrap(),
                );
            }
            let err = plan(entities, &layout, &mut typo).unwrap_err();
            assert!(err.to_string().contains("--default jobs.priorty"), "{err}");
        }
        let _ = std::fs::remove_dir_all(&layout.root);
    }
}

/// 13: `--redo` takes the latest generation back (file, `lib.rs` registration, snapshots), so
/// the next run generates it again from the fixed entity; it refuses when a migration was
/// registered after it, and finds where a migration is applied.
#[tokio::test]
async fn redo_replaces_the_latest_generation() {
    use sea_tenancy::generate::redo;
    let cases = cases::all();
    let case = cases
        .iter()
        .find(|c| c.name == "c11_not_null_column")
        .unwrap();
    let layout = app("redo");
    let run = |i: usize, timestamp: &str| {
        let step = &case.steps[i];
        let p = plan(
            &step.entities,
            &layout,
            &mut step.options("jobs", timestamp),
        )
        .unwrap();
        write::apply(&p.changes).unwrap();
    };
    run(0, "20260101_000001");
    let snapshot_before =
        std::fs::read_to_string(layout.snapshots.join("tenant/jobs.json")).unwrap();
    run(1, "20260101_000002");
    let src = layout.src(Set::Tenant);
    assert!(src.join("m20260101_000002_jobs.rs").exists());

    let (changes, record) = redo::undo(&layout).unwrap();
    assert_eq!(record.module, "m20260101_000002_jobs");
    write::apply(&changes).unwrap();
    assert!(!src.join("m20260101_000002_jobs.rs").exists());
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    assert!(!lib.contains("m20260101_000002_jobs"), "{lib}");
    assert!(
        lib.contains("Box::new(m20260101_000001_jobs::Migration)"),
        "{lib}"
    );
    assert_eq!(
        std::fs::read_to_string(layout.snapshots.join("tenant/jobs.json")).unwrap(),
        snapshot_before
    );
    // Generated again (the entity "fixed"): one migration after the first, not two.
    run(1, "20260101_000003");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    assert_eq!(lib.matches("::Migration)").count(), 2, "{lib}");

    // A migration registered after the latest generation: refused.
    std::fs::write(
        src.join("lib.rs"),
        lib.replace(
            "mod m20260101_000003_jobs;",
            "mod m20260101_000003_jobs;\nmod m20260101_000009_by_hand;",
        ),
    )
    .unwrap();
    let err = redo::undo(&layout).unwrap_err().to_string();
    assert!(err.contains("is not the last migration"), "{err}");

    // Where a version is applied: the tracking tables of public and tenant schemas.
    let database = TestDatabase::create().await;
    let db = database.connect().await;
    db.execute_unprepared(
        "CREATE SCHEMA t_1;
         CREATE TABLE public.seaql_migrations (version varchar PRIMARY KEY, applied_at bigint);
         CREATE TABLE t_1.seaql_migrations (version varchar PRIMARY KEY, applied_at bigint);
         INSERT INTO t_1.seaql_migrations VALUES ('m20260101_000003_jobs', 0);",
    )
    .await
    .unwrap();
    assert_eq!(
        redo::applied_in(&db, "m20260101_000003_jobs")
            .await
            .unwrap(),
        ["t_1"]
    );
    assert!(
        redo::applied_in(&db, "m20260101_000001_jobs")
            .await
            .unwrap()
            .is_empty()
    );
    db.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&layout.root);
}

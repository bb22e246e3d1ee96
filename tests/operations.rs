//! Operations at scale: migrate many tenants in parallel with failures, concurrent runners, a
//! runner killed mid-way, status, rollback, and the CLI's error paths.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Parser;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use sea_orm_migration::prelude::*;
use sea_tenancy::cli::{Cli, execute};
use sea_tenancy::migrate::{State, migrate_tenants, status};
use sea_tenancy::testing::{MigratorsApp, TestDatabase};
use sea_tenancy::{TenancyApp, Tenant};

/// The second tenant migration: a column and an index on it.
struct AddViews;

impl MigrationName for AddViews {
    fn name(&self) -> &str {
        "m_add_views"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddViews {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE posts ADD COLUMN views bigint NOT NULL DEFAULT 0")
            .await?;
        db.execute_unprepared("CREATE INDEX idx_posts_views ON posts (views)")
            .await?;
        Ok(())
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_posts_views").await?;
        db.execute_unprepared("ALTER TABLE posts DROP COLUMN views")
            .await?;
        Ok(())
    }
}

struct V1;
impl MigratorTrait for V1 {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        tenant_migrations::Migrator::migrations()
    }
}
struct V2;
impl MigratorTrait for V2 {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = tenant_migrations::Migrator::migrations();
        all.push(Box::new(AddViews));
        all
    }
}

/// The reference app's public set and secret with tenant set `M`; its tenants are a fixed list
/// `t_1 ..= t_n`.
type OpsApp<M> = MigratorsApp<migrations::Migrator, M>;

fn ops_app<M>(n: usize) -> OpsApp<M> {
    MigratorsApp::new()
        .with_login_secret(|| saas_app::SaasApp.login_secret())
        .with_tenants((1..=n).map(|i| Tenant::new(format!("t_{i}"), i).unwrap()))
}

fn cli(database: &TestDatabase, args: &[&str]) -> Cli {
    let mut argv = vec!["app", "--database-url", database.url()];
    argv.extend_from_slice(args);
    Cli::parse_from(argv)
}

async fn has_views(db: &DatabaseConnection, schema: &str) -> bool {
    db.query_one_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT 1 AS one FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'posts' AND column_name = 'views'",
        [schema.into()],
    ))
    .await
    .unwrap()
    .is_some()
}

async fn recorded(db: &DatabaseConnection, schema: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT count(*) AS n FROM \"{schema}\".seaql_migrations"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

/// Every tenant is fully at V1 or fully at V2: recorded versions and schema agree.
async fn assert_whole(db: &DatabaseConnection, tenants: &[Tenant]) -> (usize, usize) {
    let (mut old, mut new) = (0, 0);
    for t in tenants {
        match (
            recorded(db, t.schema()).await,
            has_views(db, t.schema()).await,
        ) {
            (1, false) => old += 1,
            (2, true) => new += 1,
            other => panic!("{t} is half migrated: {other:?}"),
        }
    }
    (old, new)
}

async fn setup(n: usize, pool: u32) -> (common::App, OpsApp<V1>) {
    let app = common::app_with_pool(pool).await;
    let v1 = ops_app::<V1>(n);
    let report = migrate_tenants(&v1, &app.raw, v1.tenants(), 4, |_| {})
        .await
        .unwrap();
    assert_eq!(report.failures().count(), 0);
    (app, v1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_tenants_one_failing_then_fixed() {
    let (app, v1) = setup(200, 8).await;
    let v2 = ops_app::<V2>(200);
    // A conflicting object in t_57 makes its migration fail.
    app.raw
        .execute_unprepared("CREATE INDEX idx_posts_views ON t_57.posts (id)")
        .await
        .unwrap();

    assert!(
        !execute(&v2, cli(&app.database, &["status", "--check"]))
            .await
            .unwrap()
    );
    let ok = execute(&v2, cli(&app.database, &["migrate", "--jobs", "4"]))
        .await
        .unwrap();
    assert!(!ok, "a failed tenant makes the run fail");
    let statuses = status::<V2, _>(&app.raw, v2.tenants()).await.unwrap();
    let behind: Vec<_> = statuses
        .iter()
        .filter(|s| s.state != State::Current)
        .map(|s| s.tenant.schema())
        .collect();
    assert_eq!(behind, ["t_57"]);
    assert_eq!(assert_whole(&app.raw, v2.tenants()).await, (1, 199));

    // Fix and re-run: only t_57 has work left.
    app.raw
        .execute_unprepared("DROP INDEX t_57.idx_posts_views")
        .await
        .unwrap();
    let report = migrate_tenants(&v2, &app.raw, v2.tenants(), 4, |_| {})
        .await
        .unwrap();
    assert_eq!(report.already_current, 199);
    assert_eq!(report.outcomes.len(), 1);
    assert_eq!(*report.outcomes[0].result.as_ref().unwrap(), 1);
    assert!(
        execute(&v2, cli(&app.database, &["status", "--check"]))
            .await
            .unwrap()
    );
    assert_eq!(assert_whole(&app.raw, v2.tenants()).await, (0, 200));

    // Rollback of one tenant only, from its own state.
    assert!(
        execute(
            &v2,
            cli(
                &app.database,
                &["rollback", "--tenant", "t_3", "--steps", "1"]
            )
        )
        .await
        .unwrap()
    );
    let statuses = status::<V2, _>(&app.raw, v2.tenants()).await.unwrap();
    assert_eq!(statuses[2].state, State::Behind);
    assert_eq!(
        statuses
            .iter()
            .filter(|s| s.state == State::Current)
            .count(),
        199
    );
    assert!(
        !execute(&v2, cli(&app.database, &["status", "--check", "--json"]))
            .await
            .unwrap()
    );
    drop(v1);
}

/// Migrates `v2`'s tenants from two runners at once, on two pools; neither may fail. Returns how
/// many migrations the two applied together.
async fn two_runners(app: &common::App, v2: &OpsApp<V2>) -> usize {
    let other = app.database.connect_with_pool_size(4).await;
    let (a, b) = tokio::join!(
        migrate_tenants(v2, &app.raw, v2.tenants(), 4, |_| {}),
        migrate_tenants(v2, &other, v2.tenants(), 4, |_| {}),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.failures().count() + b.failures().count(), 0);
    a.outcomes
        .iter()
        .chain(&b.outcomes)
        .map(|o| *o.result.as_ref().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_at_once_apply_each_migration_once() {
    let (app, _) = setup(40, 4).await;
    let v2 = ops_app::<V2>(40);
    assert_eq!(
        two_runners(&app, &v2).await,
        40,
        "each tenant's new migration applied exactly once"
    );
    assert_eq!(assert_whole(&app.raw, v2.tenants()).await, (0, 40));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_creating_the_same_new_tenants_create_each_once() {
    let (app, _) = setup(0, 4).await;
    let v2 = ops_app::<V2>(30);
    // Both read "missing schema" for every tenant, then race to create each one.
    assert_eq!(
        two_runners(&app, &v2).await,
        60,
        "each tenant's two migrations applied exactly once"
    );
    assert_eq!(assert_whole(&app.raw, v2.tenants()).await, (0, 30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_runner_killed_mid_way_leaves_whole_tenants() {
    let (app, _) = setup(60, 4).await;
    let v2 = Arc::new(ops_app::<V2>(60));
    let done = Arc::new(AtomicUsize::new(0));
    let notify = Arc::new(tokio::sync::Notify::new());
    let task = {
        let (v2, db, done, notify) = (v2.clone(), app.raw.clone(), done.clone(), notify.clone());
        tokio::spawn(async move {
            migrate_tenants(&*v2, &db, v2.tenants(), 2, |_| {
                if done.fetch_add(1, Ordering::SeqCst) + 1 == 10 {
                    notify.notify_one();
                }
            })
            .await
        })
    };
    notify.notified().await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());

    // Connections of the aborted transactions are rolled back by PostgreSQL; give the pool a
    // moment to drop them, then every tenant must be whole.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // No connection went back to the pool inside the aborted runner's transaction.
    let stuck = app
        .raw
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND state LIKE 'idle in transaction%'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(
        stuck, 0,
        "a pooled connection was left inside a transaction"
    );
    let (old, new) = assert_whole(&app.raw, v2.tenants()).await;
    assert!(new >= 10 && old >= 1, "aborted after {new} of 60");

    let report = migrate_tenants(&*v2, &app.raw, v2.tenants(), 4, |_| {})
        .await
        .unwrap();
    assert_eq!(report.failures().count(), 0);
    assert_eq!(assert_whole(&app.raw, v2.tenants()).await, (0, 60));
}

#[tokio::test]
async fn clear_errors_for_bad_states() {
    let (app, v1) = setup(3, 4).await;
    let v2 = ops_app::<V2>(3);

    // Unknown tenant.
    let err = execute(&v2, cli(&app.database, &["migrate", "--tenant", "nope"]))
        .await
        .unwrap_err();
    assert!(err.contains("unknown tenant `nope`"), "{err}");

    // A schema with tables but no tracking table: reported, not touched.
    app.raw
        .execute_unprepared("DROP TABLE t_2.seaql_migrations")
        .await
        .unwrap();
    let report = migrate_tenants(&v2, &app.raw, v2.tenants(), 2, |_| {})
        .await
        .unwrap();
    let failures: Vec<_> = report
        .failures()
        .map(|(t, e)| (t.schema().to_owned(), e.to_string()))
        .collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, "t_2");
    assert!(
        failures[0].1.contains("no seaql_migrations tracking table"),
        "{}",
        failures[0].1
    );

    // A migration applied in the database but missing from the binary (an older binary).
    let statuses = status::<V1, _>(&app.raw, v1.tenants()).await.unwrap();
    assert!(matches!(&statuses[0].state, State::UnknownMigrations(v) if v == &["m_add_views"]));
    let err = sea_tenancy::migrate::rollback::rollback_tenant::<V1>(&app.raw, &v1.tenants()[0], 1)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("this binary does not contain: m_add_views"),
        "{err}"
    );

    // Tenants commands: create, rename, drop (only with --yes), each with its error path.
    assert!(
        execute(&v2, cli(&app.database, &["tenants", "create", "t_new"]))
            .await
            .unwrap()
    );
    let err = execute(&v2, cli(&app.database, &["tenants", "create", "t_new"]))
        .await
        .unwrap_err();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(recorded(&app.raw, "t_new").await, 2);
    let err = execute(&v2, cli(&app.database, &["tenants", "create", "Bad\"Name"]))
        .await
        .unwrap_err();
    assert!(err.contains("not allowed"), "{err}");
    assert!(
        execute(
            &v2,
            cli(&app.database, &["tenants", "rename", "t_new", "t_renamed"])
        )
        .await
        .unwrap()
    );
    let err = execute(
        &v2,
        cli(&app.database, &["tenants", "rename", "t_new", "t_x"]),
    )
    .await
    .unwrap_err();
    assert!(err.contains("unknown tenant `t_new`"), "{err}");
    let err = execute(&v2, cli(&app.database, &["tenants", "drop", "t_renamed"]))
        .await
        .unwrap_err();
    assert!(err.contains("without --yes"), "{err}");
    assert!(
        execute(
            &v2,
            cli(&app.database, &["tenants", "drop", "t_renamed", "--yes"])
        )
        .await
        .unwrap()
    );
    assert!(
        sea_tenancy::all_tenants::schemas_like(&app.raw, "t_re%")
            .await
            .unwrap()
            .is_empty()
    );

    // No database reachable.
    let bad = Cli::parse_from([
        "app",
        "--database-url",
        "postgres://postgres@127.0.0.1:1/none",
        "status",
    ]);
    let err = execute(&v2, bad).await.unwrap_err();
    assert!(err.starts_with("cannot connect to the database"), "{err}");
}

async fn mirror_rows(db: &DatabaseConnection, schema: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM public.sea_tenancy_migrations WHERE tenant = $1",
            [schema.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test]
async fn the_status_mirror_follows_hand_runs_and_heals() {
    let (app, _) = setup(3, 4).await;
    let v2 = ops_app::<V2>(3);

    // A migration run by hand with plain sea-orm-migration is mirrored by the trigger.
    {
        use sea_orm::TransactionTrait;
        let txn = app.raw.begin().await.unwrap();
        txn.execute_unprepared("SET LOCAL search_path = t_1")
            .await
            .unwrap();
        V2::up(&txn, None).await.unwrap();
        txn.commit().await.unwrap();
    }
    assert_eq!(mirror_rows(&app.raw, "t_1").await, 2);

    // A tenant whose mirror was lost is read from its own table, then healed by migrate.
    app.raw
        .execute_unprepared(
            "DROP TRIGGER sea_tenancy_mirror ON t_2.seaql_migrations;
             DELETE FROM public.sea_tenancy_migrations WHERE tenant = 't_2';",
        )
        .await
        .unwrap();
    let statuses = status::<V1, _>(&app.raw, v2.tenants()).await.unwrap();
    assert_eq!(
        statuses[1].state,
        State::Current,
        "fallback read t_2's own table"
    );
    assert!(!statuses[1].mirrored);
    let states: Vec<_> = status::<V2, _>(&app.raw, v2.tenants())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.state)
        .collect();
    assert_eq!(states, [State::Current, State::Behind, State::Behind]);

    let report = migrate_tenants(&v2, &app.raw, v2.tenants(), 2, |_| {})
        .await
        .unwrap();
    assert_eq!(report.failures().count(), 0);
    assert_eq!(report.already_current, 1);
    for t in v2.tenants() {
        assert_eq!(mirror_rows(&app.raw, t.schema()).await, 2, "{t}");
    }
    assert!(
        status::<V2, _>(&app.raw, v2.tenants())
            .await
            .unwrap()
            .iter()
            .all(|s| s.mirrored)
    );

    // Renaming and dropping by hand carry the mirror along.
    assert!(
        execute(
            &v2,
            cli(&app.database, &["tenants", "rename", "t_3", "t_9"])
        )
        .await
        .unwrap()
    );
    assert_eq!(
        (
            mirror_rows(&app.raw, "t_3").await,
            mirror_rows(&app.raw, "t_9").await
        ),
        (0, 2)
    );
    assert!(
        execute(
            &v2,
            cli(&app.database, &["tenants", "drop", "t_9", "--yes"])
        )
        .await
        .unwrap()
    );
    assert_eq!(mirror_rows(&app.raw, "t_9").await, 0);
}

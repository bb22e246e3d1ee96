//! Issue #14 item 3: tenant migrations that must not run in a transaction
//! (`use_transaction() == Some(false)`, here `CREATE INDEX CONCURRENTLY`) — by `migrate` (on a
//! connection of the tenant's own, under its lock) and by `provision` (the migrations before
//! it with the row, the rest right after).

mod common;

use saas_app::SaasApp;
use saas_app::entities::organization;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Set, Statement, TransactionTrait,
};
use sea_orm_migration::prelude::*;
use sea_tenancy::manage::provision;
use sea_tenancy::migrate::migrate_tenants;
use sea_tenancy::testing::MigratorsApp;
use sea_tenancy::{TenancyApp, TenancyError, Tenant};

/// `CREATE INDEX CONCURRENTLY` on `posts (title)`, unique when the test thread asks.
struct Concurrently;
impl MigrationName for Concurrently {
    fn name(&self) -> &str {
        "m_900_concurrent_index"
    }
}
#[async_trait::async_trait]
impl MigrationTrait for Concurrently {
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE {} INDEX CONCURRENTLY posts_title ON posts (title)",
                UNIQUE_INDEX.with(|u| if u.get() { "UNIQUE" } else { "" })
            ))
            .await?;
        Ok(())
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX CONCURRENTLY posts_title")
            .await?;
        Ok(())
    }
}

thread_local! {
    static UNIQUE_INDEX: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// An ordinary migration after it.
#[derive(DeriveMigrationName)]
struct AddRank;
#[async_trait::async_trait]
impl MigrationTrait for AddRank {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE posts ADD COLUMN rank int")
            .await?;
        Ok(())
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE posts DROP COLUMN rank")
            .await?;
        Ok(())
    }
}

struct WithConcurrent;
impl MigratorTrait for WithConcurrent {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = tenant_migrations::Migrator::migrations();
        all.push(Box::new(Concurrently));
        all.push(Box::new(AddRank));
        all
    }
}

/// The reference app with the two migrations above in its tenant set.
fn outside() -> MigratorsApp<migrations::Migrator, WithConcurrent> {
    MigratorsApp::new()
        .with_login_secret(|| SaasApp.login_secret())
        .with_tenant_access(|table| SaasApp.tenant_access(table))
        .with_tenants_from(|db| TenancyApp::all_tenants(&SaasApp, db))
}

fn org(name: &str) -> organization::ActiveModel {
    organization::ActiveModel {
        name: Set(name.into()),
        ..Default::default()
    }
}

async fn versions(db: &DatabaseConnection, tenant: &Tenant) -> Vec<String> {
    db.query_all_raw(Statement::from_string(
        DbBackend::Postgres,
        format!(
            "SELECT version FROM {}.seaql_migrations ORDER BY version",
            tenant.quoted_schema()
        ),
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get("", "version").unwrap())
    .collect()
}

/// `valid`, or `invalid`, or `missing`, for the index `posts_title` of `tenant`.
async fn index(db: &DatabaseConnection, tenant: &Tenant) -> &'static str {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE c.relname = 'posts_title' AND c.relnamespace = $1::regnamespace",
            [tenant.schema().into()],
        ))
        .await
        .unwrap();
    match row.map(|r| r.try_get::<bool>("", "valid").unwrap()) {
        Some(true) => "valid",
        Some(false) => "invalid",
        None => "missing",
    }
}

async fn has_rank(db: &DatabaseConnection, tenant: &Tenant) -> bool {
    db.query_one_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT 1 AS one FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'posts' AND column_name = 'rank'",
        [tenant.schema().into()],
    ))
    .await
    .unwrap()
    .is_some()
}

#[tokio::test]
async fn provision_applies_them_right_after_the_row() {
    let app = common::app().await;
    let outside = outside();
    let acme = provision(&outside, &app.raw, org("Acme")).await.unwrap();
    let tenant = acme.tenant();
    assert_eq!(
        versions(&app.raw, &tenant).await.len(),
        WithConcurrent::migrations().len()
    );
    assert_eq!(index(&app.raw, &tenant).await, "valid");
    assert!(has_rank(&app.raw, &tenant).await);
    // The tenant's role works and sees its tables.
    let conn = app.db.with_tenant(tenant.clone());
    conn.execute_unprepared(
        "INSERT INTO posts (title, author_id, rank) SELECT 'x', id, 1 FROM users LIMIT 0",
    )
    .await
    .unwrap();

    // Inside a caller's transaction it cannot: refused, nothing created.
    let txn = app.raw.begin().await.unwrap();
    let err = provision(&outside, &txn, org("Globex")).await.unwrap_err();
    assert!(
        matches!(err, TenancyError::OutsideTransaction { ref migration } if migration == "m_900_concurrent_index"),
        "{err}"
    );
    txn.rollback().await.unwrap();
    assert_eq!(SaasApp.all_tenants(&app.raw).await.unwrap(), [tenant]);
}

#[tokio::test]
async fn migrate_applies_them_outside_a_transaction_and_resumes_after_a_failure() {
    let app = common::app().await;
    let outside = outside();
    // Three tenants on the reference set, one of them holding duplicate titles.
    let mut tenants = Vec::new();
    for name in ["A", "B", "C"] {
        tenants.push(app.org(name).await.1);
    }
    let alice = app.user("alice@example.com").await;
    let duplicates = format!(
        "INSERT INTO {}.posts (title, author_id) VALUES ('same', $1), ('same', $1)",
        tenants[2].quoted_schema()
    );
    app.raw
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            duplicates,
            [alice.id.into()],
        ))
        .await
        .unwrap();

    // A unique index: fails in C (duplicates), concurrently built elsewhere.
    UNIQUE_INDEX.with(|u| u.set(true));
    let report = migrate_tenants(&outside, &app.raw, &tenants, 2, |_| {})
        .await
        .unwrap();
    let base = tenant_migrations::Migrator::migrations().len();
    for outcome in &report.outcomes[..2] {
        assert_eq!(outcome.result.as_ref().unwrap(), &2, "{:?}", outcome.result);
        assert_eq!(outcome.outside_transaction, 1);
        assert_eq!(index(&app.raw, &outcome.tenant).await, "valid");
        assert!(has_rank(&app.raw, &outcome.tenant).await);
    }
    let failed = &report.outcomes[2];
    let err = failed.result.as_ref().unwrap_err().to_string();
    assert!(
        err.contains("m_900_concurrent_index") && err.contains(tenants[2].schema()),
        "{err}"
    );
    assert!(err.contains("outside a transaction"), "{err}");
    // Nothing after the failed migration ran; what CREATE INDEX CONCURRENTLY left is there.
    assert_eq!(versions(&app.raw, &tenants[2]).await.len(), base);
    assert_eq!(index(&app.raw, &tenants[2]).await, "invalid");
    assert!(!has_rank(&app.raw, &tenants[2]).await);

    // Fixed by hand (as the error says), migrate resumes; the others are current.
    app.raw
        .execute_unprepared(&format!(
            "DROP INDEX {0}.posts_title; DELETE FROM {0}.posts WHERE ctid IN (SELECT ctid FROM {0}.posts LIMIT 1)",
            tenants[2].quoted_schema()
        ))
        .await
        .unwrap();
    let report = migrate_tenants(&outside, &app.raw, &tenants, 2, |_| {})
        .await
        .unwrap();
    assert_eq!(report.already_current, 2);
    assert_eq!(report.outcomes.len(), 1);
    assert_eq!(report.outcomes[0].result.as_ref().unwrap(), &2);
    assert_eq!(index(&app.raw, &tenants[2]).await, "valid");
    assert_eq!(versions(&app.raw, &tenants[2]).await.len(), base + 2);
}

/// Two runners at once over the same tenants: each migration applied once per tenant (the
/// session lock of one conflicts with the other's), nobody fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_at_once_apply_each_migration_once() {
    let app = common::app_with_pool(8).await;
    let outside = outside();
    let mut tenants = Vec::new();
    for i in 0..6 {
        tenants.push(app.org(&format!("org {i}")).await.1);
    }
    let (a, b) = tokio::join!(
        migrate_tenants(&outside, &app.raw, &tenants, 3, |_| {}),
        migrate_tenants(&outside, &app.raw, &tenants, 3, |_| {}),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let failures: Vec<String> = a
        .failures()
        .chain(b.failures())
        .map(|(t, e)| format!("{t}: {e}"))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    let applied: usize = a
        .outcomes
        .iter()
        .chain(&b.outcomes)
        .map(|o| *o.result.as_ref().unwrap())
        .sum();
    assert_eq!(applied, 2 * tenants.len());
    for tenant in &tenants {
        assert_eq!(index(&app.raw, tenant).await, "valid");
        assert_eq!(
            versions(&app.raw, tenant).await.len(),
            WithConcurrent::migrations().len()
        );
    }
}

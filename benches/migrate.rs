//! Migrating many tenants: `sea_tenancy::migrate::migrate_tenants` applying one migration (add
//! column + index) against a raw SQL loop applying the same DDL over the same number of
//! connections, in one run; then `status` and a no-op `migrate` over all of them.
//!
//! ```text
//! cargo bench --bench migrate                         # 1,000 tenants per side, 4 jobs
//! MIGRATE_TENANTS=10000 cargo bench --bench migrate   # 10,000
//! MIGRATE_JOBS=8 cargo bench --bench migrate
//! ```

#[path = "common/mod.rs"]
mod common;

use std::marker::PhantomData;
use std::time::Instant;

use futures::StreamExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use sea_orm_migration::prelude::{MigrationName, MigrationTrait, MigratorTrait, SchemaManager};
use sea_tenancy::migrate::{migrate_tenants, status};
use sea_tenancy::testing::TestDatabase;
use sea_tenancy::{TenancyApp, Tenant};

const ADD_COLUMN: &str = "ALTER TABLE posts ADD COLUMN views bigint NOT NULL DEFAULT 0";
const ADD_INDEX: &str = "CREATE INDEX idx_posts_views ON posts (views)";

struct AddViews;
impl MigrationName for AddViews {
    fn name(&self) -> &str {
        "m_add_views"
    }
}
#[async_trait::async_trait]
impl MigrationTrait for AddViews {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(ADD_COLUMN)
            .await?;
        manager
            .get_connection()
            .execute_unprepared(ADD_INDEX)
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

struct BenchApp<M>(PhantomData<fn() -> M>);
#[async_trait::async_trait]
impl<M: MigratorTrait + 'static> TenancyApp for BenchApp<M> {
    type PublicMigrator = migrations::Migrator;
    type TenantMigrator = M;
    fn login_secret(&self) -> Result<sea_tenancy::roles::LoginSecret, sea_tenancy::TenancyError> {
        common::secret()
    }
    async fn all_tenants(&self, _: &DatabaseConnection) -> Result<Vec<Tenant>, DbErr> {
        Ok(vec![])
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let n = env("MIGRATE_TENANTS", 1_000);
    let jobs = env("MIGRATE_JOBS", 4);
    let database = TestDatabase::create().await;
    let db = database.connect_with_pool_size(jobs as u32 + 1).await;
    sea_tenancy::migrate::migrate_public(&BenchApp::<V1>(PhantomData), &db)
        .await
        .unwrap();
    let v1 = BenchApp::<V1>(PhantomData);
    let v2 = BenchApp::<V2>(PhantomData);
    let lib: Vec<Tenant> = (1..=n)
        .map(|i| Tenant::new(format!("a_{i}"), i).unwrap())
        .collect();
    let raw: Vec<Tenant> = (1..=n)
        .map(|i| Tenant::new(format!("r_{i}"), i).unwrap())
        .collect();

    let t = Instant::now();
    let all: Vec<Tenant> = lib.iter().chain(&raw).cloned().collect();
    let report = migrate_tenants(&v1, &db, &all, jobs, |_| {}).await.unwrap();
    assert_eq!(report.failures().count(), 0);
    let setup = t.elapsed();

    let t = Instant::now();
    let report = migrate_tenants(&v2, &db, &lib, jobs, |_| {}).await.unwrap();
    assert_eq!(report.failures().count(), 0);
    let lib_time = t.elapsed();

    let t = Instant::now();
    futures::stream::iter(&raw)
        .map(|tenant| {
            let db = &db;
            async move {
                db.execute_unprepared(&format!(
                    "BEGIN; SET LOCAL search_path = {s}; {ADD_COLUMN}; {ADD_INDEX}; \
                     INSERT INTO seaql_migrations (version, applied_at) VALUES ('m_add_views', 0); COMMIT",
                    s = tenant.quoted_schema()
                ))
                .await
                .unwrap();
            }
        })
        .buffer_unordered(jobs)
        .collect::<Vec<_>>()
        .await;
    let raw_time = t.elapsed();

    let t = Instant::now();
    let statuses = status::<V2, _>(&db, &all).await.unwrap();
    let status_time = t.elapsed();
    assert!(statuses.iter().all(|s| s.pending == 0));

    let t = Instant::now();
    let report = migrate_tenants(&v2, &db, &all, jobs, |_| {}).await.unwrap();
    let noop_time = t.elapsed();
    assert_eq!(report.already_current, all.len());

    println!(
        "\nmigrating {n} tenants per side, one migration (ADD COLUMN + CREATE INDEX), {jobs} connections\n"
    );
    println!("{:<56} {:>10} {:>12}", "path", "seconds", "tenants/s");
    for (name, d, count) in [
        (
            "setup: create 2×N tenants with migrate_tenants",
            setup,
            2 * n,
        ),
        ("raw SQL loop: one script per tenant", raw_time, n),
        ("sea_tenancy migrate_tenants", lib_time, n),
    ] {
        println!(
            "{:<56} {:>10.2} {:>12.0}",
            name,
            d.as_secs_f64(),
            count as f64 / d.as_secs_f64()
        );
    }
    println!(
        "\nmigrate_tenants / raw = {:.2}×",
        lib_time.as_secs_f64() / raw_time.as_secs_f64()
    );
    println!(
        "status of {} tenants (one query): {:.3} s",
        all.len(),
        status_time.as_secs_f64()
    );
    println!(
        "no-op migrate of {} tenants: {:.3} s",
        all.len(),
        noop_time.as_secs_f64()
    );
}

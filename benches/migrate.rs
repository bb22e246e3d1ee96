//! Migrating many tenants: `sea_tenancy::migrate::migrate_tenants` against a raw SQL loop doing
//! the same DDL over the same number of connections, on the same tenants.
//!
//! N tenants are created once (the library's provisioning path: schema, role, tenant set).
//! Then four passes, each adding a column and an index to every tenant's `posts` and recording
//! a version row: raw, library, library, raw — each pass is slower than the one before (the
//! table grows a column and an index), and this order cancels that drift from the sums; each
//! pass is timed on its own. Last, `status` and a no-op
//! `migrate` over all of them.
//!
//! ```text
//! cargo bench --bench migrate                         # 1,000 tenants, 4 jobs
//! MIGRATE_TENANTS=10000 cargo bench --bench migrate   # 10,000
//! MIGRATE_JOBS=8 cargo bench --bench migrate
//! ```

#[path = "common/mod.rs"]
mod common;

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use sea_orm_migration::prelude::{MigrationName, MigrationTrait, MigratorTrait, SchemaManager};
use sea_tenancy::migrate::{migrate_tenants, status};
use sea_tenancy::testing::TestDatabase;
use sea_tenancy::{TenancyApp, Tenant};

/// The migration of pass `k`: a column and an index, and its version.
fn pass_sql(k: usize) -> (String, String, String) {
    (
        format!("ALTER TABLE posts ADD COLUMN views_{k} bigint NOT NULL DEFAULT 0"),
        format!("CREATE INDEX idx_posts_views_{k} ON posts (views_{k})"),
        format!("m_add_views_{k}"),
    )
}

struct AddViews(usize, String);
impl MigrationName for AddViews {
    fn name(&self) -> &str {
        &self.1
    }
}
#[async_trait::async_trait]
impl MigrationTrait for AddViews {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (column, index, _) = pass_sql(self.0);
        let db = manager.get_connection();
        db.execute_unprepared(&column).await?;
        db.execute_unprepared(&index).await?;
        Ok(())
    }
}

/// The tenant set after pass `K` (`K` = 0: the reference app's set).
struct Upto<const K: usize>;
impl<const K: usize> MigratorTrait for Upto<K> {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = tenant_migrations::Migrator::migrations();
        for k in 1..=K {
            all.push(Box::new(AddViews(k, pass_sql(k).2)));
        }
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

async fn library<M: MigratorTrait + 'static>(
    db: &DatabaseConnection,
    tenants: &[Tenant],
    jobs: usize,
) -> Duration {
    let t = Instant::now();
    let report = migrate_tenants(&BenchApp::<M>(PhantomData), db, tenants, jobs, |_| {})
        .await
        .unwrap();
    let took = t.elapsed();
    assert_eq!(report.failures().count(), 0);
    assert_eq!(report.outcomes.len(), tenants.len());
    took
}

/// Pass `k` as one script per tenant — what a hand-written loop sends — on `jobs` connections
/// of its own, each replaced every 100 tenants as `migrate_tenants` does (on PostgreSQL 15 a
/// connection that has touched thousands of tenants slows every DDL; see
/// `migrate/connections.rs`).
async fn raw(db: &DatabaseConnection, tenants: &[Tenant], jobs: usize, k: usize) -> Duration {
    use sea_orm::sqlx::{AssertSqlSafe, Connection, PgConnection};
    let (column, index, version) = pass_sql(k);
    let options = db.get_postgres_connection_pool().connect_options();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let t = Instant::now();
    let worker = || async {
        let mut conn: Option<(PgConnection, usize)> = None;
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(tenant) = tenants.get(i) else { break };
            let (c, uses) = match conn.take() {
                Some((c, uses)) if uses < 100 => (c, uses),
                old => {
                    if let Some((c, _)) = old {
                        c.close().await.unwrap();
                    }
                    (PgConnection::connect_with(&options).await.unwrap(), 0)
                }
            };
            let mut c = c;
            let script = format!(
                "BEGIN; SET LOCAL search_path = {s}; {column}; {index}; \
                 INSERT INTO seaql_migrations (version, applied_at) VALUES ('{version}', 0); COMMIT",
                s = tenant.quoted_schema()
            );
            sea_orm::sqlx::raw_sql(AssertSqlSafe(script))
                .execute(&mut c)
                .await
                .unwrap();
            conn = Some((c, uses + 1));
        }
        if let Some((c, _)) = conn {
            c.close().await.unwrap();
        }
    };
    futures::future::join_all((0..jobs).map(|_| worker())).await;
    t.elapsed()
}

#[tokio::main]
async fn main() {
    let n = env("MIGRATE_TENANTS", 1_000);
    let jobs = env("MIGRATE_JOBS", 4);
    let database = TestDatabase::create().await;
    let db = database.connect_with_pool_size(jobs as u32 + 1).await;
    sea_tenancy::migrate::migrate_public(&BenchApp::<Upto<0>>(PhantomData), &db)
        .await
        .unwrap();
    let tenants: Vec<Tenant> = (1..=n)
        .map(|i| Tenant::new(format!("t_{i}"), i).unwrap())
        .collect();

    let setup = library::<Upto<0>>(&db, &tenants, jobs).await;
    let raw1 = raw(&db, &tenants, jobs, 1).await;
    let lib2 = library::<Upto<2>>(&db, &tenants, jobs).await;
    let lib3 = library::<Upto<3>>(&db, &tenants, jobs).await;
    let raw4 = raw(&db, &tenants, jobs, 4).await;

    let t = Instant::now();
    let statuses = status::<Upto<4>, _>(&db, &tenants).await.unwrap();
    let status_time = t.elapsed();
    assert!(statuses.iter().all(|s| s.pending == 0));
    let t = Instant::now();
    let report = migrate_tenants(
        &BenchApp::<Upto<4>>(PhantomData),
        &db,
        &tenants,
        jobs,
        |_| {},
    )
    .await
    .unwrap();
    let noop_time = t.elapsed();
    assert_eq!(report.already_current, n);

    println!(
        "\n{n} tenants, {jobs} connections; each pass: ADD COLUMN + CREATE INDEX + version row in every tenant\n"
    );
    println!("{:<52} {:>10} {:>12}", "pass", "seconds", "tenants/s");
    for (name, d) in [
        ("setup: create the tenants (migrate_tenants)", setup),
        ("1 raw SQL loop: one script per tenant", raw1),
        ("2 sea_tenancy migrate_tenants", lib2),
        ("3 sea_tenancy migrate_tenants", lib3),
        ("4 raw SQL loop", raw4),
    ] {
        println!(
            "{:<52} {:>10.2} {:>12.0}",
            name,
            d.as_secs_f64(),
            n as f64 / d.as_secs_f64()
        );
    }
    let ratio = |lib: Duration, raw: Duration| lib.as_secs_f64() / raw.as_secs_f64();
    println!(
        "\nmigrate_tenants / raw = {:.2}× (passes 2+3 / 1+4)",
        ratio(lib2 + lib3, raw1 + raw4)
    );
    println!(
        "status of {n} tenants (one query): {:.3} s; no-op migrate: {:.3} s",
        status_time.as_secs_f64(),
        noop_time.as_secs_f64()
    );
}

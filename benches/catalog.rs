//! Catalog lookups as the catalog grows: where does tenant T live, with 1,000 and with
//! 1,000,000 listed tenants and 100,000 key ranges. Both mappings are index lookups, so the
//! time per lookup should barely move.
//!
//! ```text
//! cargo bench --bench catalog                    # 1,000 then 1,000,000 tenants
//! CATALOG_TENANTS=5000000 cargo bench --bench catalog
//! ```

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection};
use sea_tenancy::Tenant;
use sea_tenancy::placement::{DatabaseUrl, catalog};
use sea_tenancy::testing::TestDatabase;

const CALLS: usize = 2000;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let big: i64 = std::env::var("CATALOG_TENANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let database = TestDatabase::create().await;
    let db = database.connect_with_pool_size(1).await;
    catalog::install(&db).await.unwrap();
    let url: DatabaseUrl = database.url().parse().unwrap();
    for name in ["eu", "us"] {
        catalog::add_database(&db, name, Some(&url)).await.unwrap();
    }
    println!("\ncatalog lookup, one connection, {CALLS} lookups per measure (median of 5 runs)\n");
    println!(
        "{:>10} {:>10}  {:>16} {:>16} {:>16} {:>22}",
        "listed", "ranges", "listed (µs)", "in range (µs)", "unmapped (µs)", "batch of 10,000 (ms)"
    );
    let mut filled = 0;
    for size in [1_000, big] {
        fill(&db, filled, size).await;
        filled = size;
        let ranges = size / 10;
        let listed = Tenant::new(format!("org_{}", size / 2), size / 2).unwrap();
        // Keys beyond the listed ones, inside the ranges, which start at 10,000,000.
        let ranged = Tenant::new("x_1", 10_000_000 + ranges * 5).unwrap();
        let unmapped = Tenant::new("x_2", -5).unwrap();
        let batch: Vec<Tenant> = (0..10_000)
            .map(|i| Tenant::new(format!("org_{}", i * (size / 10_000)), i).unwrap())
            .collect();
        let batch_time = median(5, || async {
            let t = Instant::now();
            let found = catalog::lookup(&db, &batch).await.unwrap();
            assert_eq!(found.len(), batch.len());
            t.elapsed()
        })
        .await;
        println!(
            "{:>10} {:>10}  {:>16.1} {:>16.1} {:>16.1} {:>22.1}",
            size,
            ranges,
            per_call(&db, &listed, Some("eu")).await,
            per_call(&db, &ranged, Some("us")).await,
            per_call(&db, &unmapped, None).await,
            batch_time.as_secs_f64() * 1e3
        );
    }
}

/// Lists tenants `org_<from>..org_<to>` (alternating databases) and one key range of 10 per 10
/// tenants, starting at key 10,000,000.
async fn fill(db: &DatabaseConnection, from: i64, to: i64) {
    db.execute_unprepared(&format!(
        "INSERT INTO public.sea_tenancy_tenant_databases (tenant, database)
           SELECT 'org_' || i, CASE WHEN i % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series({from}, {to} - 1) i;
         INSERT INTO public.sea_tenancy_key_ranges (keys, database)
           SELECT int8range(10000000 + i * 10, 10000000 + i * 10 + 10), 'us' FROM generate_series({} , {} - 1) i;
         ANALYZE public.sea_tenancy_tenant_databases; ANALYZE public.sea_tenancy_key_ranges;",
        from / 10,
        to / 10
    ))
    .await
    .unwrap();
}

async fn per_call(db: &DatabaseConnection, tenant: &Tenant, expected: Option<&str>) -> f64 {
    let one = std::slice::from_ref(tenant);
    // Warm up: statement cache, plan, buffers.
    for _ in 0..200 {
        catalog::lookup(db, one).await.unwrap();
    }
    let t = median(5, || async {
        let t = Instant::now();
        for _ in 0..CALLS {
            let found = catalog::lookup(db, one).await.unwrap();
            assert_eq!(found[0].as_deref(), expected, "{tenant}");
        }
        t.elapsed()
    })
    .await;
    t.as_secs_f64() * 1e6 / CALLS as f64
}

async fn median<F, Fut>(runs: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        times.push(f().await);
    }
    times.sort();
    times[runs / 2]
}

//! Queries across tenants: `sea_tenancy::across` (chunked `UNION ALL` on a reporting login)
//! against a loop of the same query per tenant, at 100 and 1,000 tenants, and a sweep of the
//! chunk size (tenants per statement).
//!
//! Two loops: per-tenant queries on one warm connection (the strongest baseline: the same
//! statement, schema-qualified, one round trip per tenant, no login) and per-tenant queries
//! through `Tenancy::with_tenant` (what an app loop does: each tenant's own role, a login for
//! every tenant not among the `LoginLimits` cap's open connections).
//!
//! ```text
//! cargo bench --bench across                    # 1,000 tenants, 10 posts each
//! ACROSS_TENANTS=2000 ACROSS_POSTS=20 cargo bench --bench across
//! ```

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use saas_app::entities::post;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select, Statement,
};
use sea_tenancy::across::{Across, DEFAULT_CHUNK_SIZE};
use sea_tenancy::{Setup, Tenancy, Tenant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The measured query: a filter, an order and a per-tenant limit.
fn query() -> Select<post::Entity> {
    post::Entity::find()
        .filter(post::Column::AuthorId.eq(1))
        .order_by_desc(post::Column::Id)
        .limit(5)
}

/// The same query qualified with `tenant`'s schema, for the warm-connection loop.
fn qualified(tenant: &Tenant) -> Statement {
    let mut statement = query().build(DbBackend::Postgres);
    statement.sql = statement.sql.replace(
        "FROM \"posts\"",
        &format!("FROM {}.\"posts\"", tenant.quoted_schema()),
    );
    statement
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let n = env("ACROSS_TENANTS", 1000);
    let posts = env("ACROSS_POSTS", 10);
    let runs = env("ACROSS_RUNS", 5);

    let common::Tenants {
        app,
        owner,
        took,
        database,
    } = common::tenants(
        n,
        4,
        &["one@example.com", "two@example.com"],
        &format!(
            "INSERT INTO %I.posts (title, author_id) SELECT ''post '' || j, 1 + mod(j, 2) FROM generate_series(1, {posts}) j"
        ),
    )
    .await;
    println!(
        "setup: {n} tenants with {posts} posts each in {:.1} s",
        took.as_secs_f64()
    );

    let roles = Setup::of(&app, &owner).await.unwrap();
    let login = format!("{}_reports", roles.names.namespace());
    sea_tenancy::roles::reporting::create_login(&owner, &roles, &login)
        .await
        .unwrap();
    let across = Across::connect(&app, database.connect_options(), &login)
        .await
        .unwrap();
    let warm = across.connection().clone();
    // A loaded machine can take seconds to accept a login: no timeouts in the measurement.
    let mut options = database.connect_options();
    options.connect_timeout(Duration::from_secs(60));
    let tenancy = Tenancy::connect(&app, options).await.unwrap();

    #[derive(FromQueryResult)]
    struct Row {
        #[allow(dead_code)]
        id: i64,
    }

    println!(
        "\nquery: posts WHERE author_id = 1 ORDER BY id DESC LIMIT 5 per tenant; median of {runs} runs, ms\n"
    );
    println!(
        "{:>8}  {:>12} {:>18} {:>22} {:>10} {:>10}",
        "tenants", "across", "loop, warm conn", "loop, tenant logins", "vs warm", "vs logins"
    );
    for size in [100, n] {
        let tenants = &app.tenants()[..size];
        let expected = size * (posts / 2).min(5);
        // Warm both sides once.
        let rows = across.select(tenants, query()).all().await.unwrap();
        assert_eq!(rows.len(), expected);
        let helper = median(runs, || async {
            let t = Instant::now();
            let rows = across.select(tenants, query()).all().await.unwrap();
            assert_eq!(rows.len(), expected);
            t.elapsed()
        })
        .await;
        let loop_warm = median(runs, || async {
            let t = Instant::now();
            let mut total = 0;
            for tenant in tenants {
                let rows = Row::find_by_statement(qualified(tenant))
                    .all(&warm)
                    .await
                    .unwrap();
                total += rows.len();
            }
            assert_eq!(total, expected);
            t.elapsed()
        })
        .await;
        // Tenant logins are slow: fewer runs.
        let loop_logins = median(runs.min(3), || async {
            let t = Instant::now();
            let mut total = 0;
            for tenant in tenants {
                let conn = tenancy.with_tenant(tenant.clone());
                total += query().all(&conn).await.unwrap().len();
            }
            assert_eq!(total, expected);
            t.elapsed()
        })
        .await;
        println!(
            "{:>8}  {:>12.1} {:>18.1} {:>22.1} {:>9.1}× {:>9.1}×",
            size,
            ms(helper),
            ms(loop_warm),
            ms(loop_logins),
            loop_warm.as_secs_f64() / helper.as_secs_f64(),
            loop_logins.as_secs_f64() / helper.as_secs_f64(),
        );
    }

    println!(
        "\ncount per tenant at {n} tenants (no rows fetched) vs a loop of counts on the warm connection, ms\n"
    );
    let counted = median(runs, || async {
        let t = Instant::now();
        let counts = across.select(app.tenants(), query()).count().await.unwrap();
        assert_eq!(counts.len(), n);
        t.elapsed()
    })
    .await;
    let count_loop = median(runs, || async {
        let t = Instant::now();
        for tenant in app.tenants() {
            let mut statement = qualified(tenant);
            statement.sql = format!("SELECT count(*) AS n FROM ({}) q", statement.sql);
            warm.query_one_raw(statement).await.unwrap();
        }
        t.elapsed()
    })
    .await;
    println!(
        "across count {:.1}  loop {:.1}  ({:.1}×)",
        ms(counted),
        ms(count_loop),
        count_loop.as_secs_f64() / counted.as_secs_f64()
    );

    println!(
        "\nchunk size sweep at {n} tenants (default {DEFAULT_CHUNK_SIZE}), parallelism 1 and 2, ms\n"
    );
    println!("{:>8}  {:>12} {:>12}", "chunk", "parallel 1", "parallel 2");
    for chunk in [25, 50, 100, 250, 500, 1000] {
        let mut cells = Vec::new();
        for parallel in [1, 2] {
            let sized = across.clone().chunk_size(chunk).parallelism(parallel);
            sized.select(app.tenants(), query()).all().await.unwrap();
            cells.push(
                median(runs, || async {
                    let t = Instant::now();
                    sized.select(app.tenants(), query()).all().await.unwrap();
                    t.elapsed()
                })
                .await,
            );
        }
        println!(
            "{:>8}  {:>12.1} {:>12.1}",
            chunk,
            ms(cells[0]),
            ms(cells[1])
        );
    }
}

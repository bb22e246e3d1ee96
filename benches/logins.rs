//! Tenant logins under load: many tenants active at once against a connection cap, compared
//! with one shared pool (plain SeaORM as the owner) doing the same lookups.
//!
//! ```text
//! cargo bench --bench logins
//! LOGIN_TENANTS=1000 LOGIN_CAP=20 LOGIN_WORKERS=32 LOGIN_SECONDS=10 cargo bench --bench logins
//! ```
//!
//! Every case runs `LOGIN_WORKERS` tasks for `LOGIN_SECONDS`, each doing primary-key lookups of
//! `posts` for tenants taken round-robin from the case's set. Reported: lookups per second,
//! latency percentiles, and tenant connections opened and evicted per second.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use saas_app::entities::post;
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Statement};
use sea_tenancy::{LoginLimits, Tenancy};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One measured case.
struct Outcome {
    lookups: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

/// Which tenant the `i`-th lookup goes to.
#[derive(Clone, Copy)]
enum Mix {
    /// Round-robin over the first `n` tenants.
    RoundRobin(usize),
    /// Nine lookups in ten to the first `hot` tenants, the tenth to the next of all `n`.
    Hot { hot: usize, n: usize },
}

impl Mix {
    fn tenant(self, i: usize) -> usize {
        match self {
            Mix::RoundRobin(n) => i % n,
            Mix::Hot { n, .. } if i % 10 == 9 => (i / 10) % n,
            Mix::Hot { hot, .. } => i % hot,
        }
    }
}

/// `workers` tasks, each looking up post 1 of the next tenant of `mix` for `seconds`.
async fn drive<F, Fut>(workers: usize, seconds: u64, mix: Mix, lookup: F) -> Outcome
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let lookup = Arc::new(lookup);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (lookup, next) = (lookup.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let i = mix.tenant(next.fetch_add(1, Ordering::Relaxed));
                let t = Instant::now();
                lookup(i).await;
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    latencies.sort();
    Outcome {
        lookups: latencies.len(),
        latencies,
        elapsed: start.elapsed(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

#[tokio::main]
async fn main() {
    let n = env("LOGIN_TENANTS", 1000);
    let cap = env("LOGIN_CAP", 20) as u32;
    let workers = env("LOGIN_WORKERS", 32);
    let seconds = env("LOGIN_SECONDS", 10) as u64;

    let common::Tenants {
        app,
        owner,
        took,
        database,
    } = common::tenants(
        n,
        cap,
        &["bench@example.com"],
        "INSERT INTO %I.posts (title, author_id) VALUES (''hello'', 1)",
    )
    .await;
    println!(
        "setup: {n} tenants with their roles in {:.1} s",
        took.as_secs_f64()
    );
    let mut options = database.connect_options();
    options.max_connections(cap);

    let mut rows = Vec::new();
    let hot = cap as usize;
    // The baseline: one shared pool of `cap` connections, logged in as the owner.
    for (label, mix) in [
        (
            format!("shared pool of {cap}, {n} tenants round-robin"),
            Mix::RoundRobin(n),
        ),
        (
            format!("shared pool of {cap}, {hot} tenants round-robin"),
            Mix::RoundRobin(hot),
        ),
    ] {
        let shared = owner.clone();
        let outcome = drive(workers, seconds, mix, move |i| {
            let shared = shared.clone();
            async move {
                shared
                    .query_one_raw(Statement::from_string(
                        DbBackend::Postgres,
                        format!(
                            "SELECT \"posts\".\"id\", \"posts\".\"title\", \"posts\".\"author_id\" FROM \"t_{}\".\"posts\" WHERE \"posts\".\"id\" = 1 LIMIT 1",
                            i + 1
                        ),
                    ))
                    .await
                    .unwrap()
                    .unwrap();
            }
        })
        .await;
        rows.push((label, outcome, None));
    }

    for (label, mix) in [
        (
            format!("tenant logins, cap {cap}, {n} tenants round-robin"),
            Mix::RoundRobin(n),
        ),
        (
            format!("tenant logins, cap {cap}, {hot} tenants round-robin"),
            Mix::RoundRobin(hot),
        ),
        (
            format!("tenant logins, cap {cap}, 90% to {hot} of {n} tenants"),
            Mix::Hot { hot, n },
        ),
    ] {
        let tenancy = Tenancy::builder(options.clone())
            .app(&app)
            .unwrap()
            .logins(LoginLimits {
                max_connections: cap,
                per_tenant: 4,
                acquire_timeout: Duration::from_secs(60),
                ..LoginLimits::default()
            })
            .connect()
            .await
            .unwrap();
        let conns: Arc<Vec<_>> = Arc::new(
            app.tenants()
                .iter()
                .map(|t| tenancy.with_tenant(t.clone()))
                .collect(),
        );
        let outcome = drive(workers, seconds, mix, move |i| {
            let conns = conns.clone();
            async move {
                post::Entity::find_by_id(1)
                    .one(&conns[i])
                    .await
                    .unwrap()
                    .unwrap();
            }
        })
        .await;
        rows.push((label, outcome, Some(tenancy.login_stats())));
    }

    println!("\n{workers} workers, {seconds} s per case, primary-key lookups of `posts`\n");
    println!(
        "{:<48} {:>10} {:>9} {:>9} {:>12} {:>12}",
        "case", "lookups/s", "p50 ms", "p99 ms", "logins/s", "evictions/s"
    );
    for (label, o, stats) in rows {
        let secs = o.elapsed.as_secs_f64();
        let (logins, evictions) = stats.map_or((0.0, 0.0), |s| {
            (s.opened as f64 / secs, s.evicted as f64 / secs)
        });
        println!(
            "{:<48} {:>10.0} {:>9.2} {:>9.2} {:>12.1} {:>12.1}",
            label,
            o.lookups as f64 / secs,
            percentile(&o.latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&o.latencies, 0.99).as_secs_f64() * 1e3,
            logins,
            evictions
        );
    }
}

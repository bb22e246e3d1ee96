//! Tenant routing overhead: the same SeaORM calls through a `TenantConnection` and through a
//! plain `DatabaseConnection`, in one run, on the same PostgreSQL.
//!
//! ```text
//! cargo bench --bench routing                 # 25 rounds × 400 calls per case
//! ROUTING_ITERS=2000 cargo bench --bench routing  # calls per case per round
//! ```
//!
//! Cases are interleaved round by round so that drift of the machine hits all alike; the
//! reported time is the median round.

use std::time::{Duration, Instant};

use saas_app::entities::{membership, organization, post};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, Set, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use sea_tenancy::roles::{DEFAULT_APP_ROLE, install_app_role};
use sea_tenancy::testing::TestDatabase;
use sea_tenancy::{Tenancy, TenantConnection};

/// The baseline: a global entity shaped exactly like `post`, in `public`.
mod plain_post {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "plain_posts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub title: String,
        pub author_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Short rounds, many of them: drift of the machine (other processes, the server's own work)
/// hits every case alike, and the median discards the disturbed rounds.
const ROUNDS: usize = 25;

struct Case {
    name: &'static str,
    rounds: Vec<Duration>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let iters: u32 = std::env::var("ROUTING_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let database = TestDatabase::create().await;
    let raw = database.connect_with_pool_size(1).await;
    migrations::Migrator::up(&raw, None).await.unwrap();
    install_app_role(&raw, DEFAULT_APP_ROLE).await.unwrap();
    raw.execute_unprepared(
        "CREATE TABLE plain_posts (id bigserial PRIMARY KEY, title varchar NOT NULL, author_id bigint NOT NULL);
         INSERT INTO users (email) VALUES ('bench@example.com');
         INSERT INTO plain_posts (title, author_id) VALUES ('hello', 1);",
    )
    .await
    .unwrap();
    let org = sea_tenancy::manage::provision(
        &saas_app::SaasApp,
        &raw,
        organization::ActiveModel {
            name: Set("bench".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let tenant = org.tenant();
    let db = Tenancy::new(raw.clone())
        .with_app_role(DEFAULT_APP_ROLE)
        .unwrap();
    let acme = db.with_tenant(tenant);
    post::ActiveModel {
        title: Set("hello".into()),
        author_id: Set(1),
        ..Default::default()
    }
    .insert(&acme)
    .await
    .unwrap();
    raw.execute_unprepared(
        "INSERT INTO memberships (org_id, user_id, role) VALUES (1, 1, 'owner')",
    )
    .await
    .unwrap();

    // A tenant placed in a second database, reached through the catalog (cached).
    let second = TestDatabase::create().await;
    let second_raw = second.connect_with_pool_size(1).await;
    sea_tenancy::placement::catalog::install(&raw)
        .await
        .unwrap();
    let url: sea_tenancy::placement::DatabaseUrl = second.url().parse().unwrap();
    sea_tenancy::placement::catalog::add_database(&raw, "second", Some(&url))
        .await
        .unwrap();
    let placement = sea_tenancy::placement::Placement::builder(raw.clone())
        .limits(sea_tenancy::placement::PoolLimits {
            per_database: 1,
            ..Default::default()
        })
        .build()
        .await
        .unwrap();
    let placed_org = sea_tenancy::placement::provision::provision(
        &saas_app::SaasApp,
        &placement,
        organization::ActiveModel {
            name: Set("placed".into()),
            ..Default::default()
        },
        Some("second"),
    )
    .await
    .unwrap();
    second_raw
        .execute_unprepared(
            "CREATE TABLE plain_posts (id bigserial PRIMARY KEY, title varchar NOT NULL, author_id bigint NOT NULL);
             INSERT INTO users (email) VALUES ('bench@example.com');
             INSERT INTO plain_posts (title, author_id) VALUES ('hello', 1);",
        )
        .await
        .unwrap();
    let placed = db
        .clone()
        .with_placement(placement)
        .with_tenant(placed_org.tenant());
    post::ActiveModel {
        title: Set("hello".into()),
        author_id: Set(1),
        ..Default::default()
    }
    .insert(&placed)
    .await
    .unwrap();
    let second_side = (&second_raw, &placed);

    let mut cases = vec![
        Case {
            name: "pk lookup      plain SeaORM (public.plain_posts)",
            rounds: vec![],
        },
        Case {
            name: "pk lookup      TenantConnection, schema strategy",
            rounds: vec![],
        },
        Case {
            name: "1-row insert   plain SeaORM (public.plain_posts)",
            rounds: vec![],
        },
        Case {
            name: "1-row insert   TenantConnection, schema strategy",
            rounds: vec![],
        },
        Case {
            name: "pk lookup      plain SeaORM (public.memberships)",
            rounds: vec![],
        },
        Case {
            name: "pk lookup      TenantConnection, attribute (RLS)",
            rounds: vec![],
        },
        Case {
            name: "10 lookups/txn plain SeaORM transaction",
            rounds: vec![],
        },
        Case {
            name: "10 lookups/txn TenantTransaction, schema strategy",
            rounds: vec![],
        },
        Case {
            name: "pk lookup      plain SeaORM on the second database",
            rounds: vec![],
        },
        Case {
            name: "pk lookup      TenantConnection placed there (catalog)",
            rounds: vec![],
        },
    ];
    // Warm up statement caches on both paths.
    run_round(&raw, &acme, second_side, 200, &mut cases).await;
    for case in &mut cases {
        case.rounds.clear();
    }
    for _ in 0..ROUNDS {
        run_round(&raw, &acme, second_side, iters, &mut cases).await;
    }

    println!(
        "\nrouting overhead, {iters} calls per case per round, median of {ROUNDS} rounds, pool of 1 connection\n"
    );
    println!("{:<52} {:>12} {:>10}", "case", "µs / call", "vs plain");
    for pair in cases.chunks(2) {
        let base = median(&pair[0].rounds);
        for case in pair {
            let t = median(&case.rounds);
            println!(
                "{:<52} {:>12.1} {:>9.2}×",
                case.name,
                t.as_secs_f64() * 1e6 / f64::from(iters),
                t.as_secs_f64() / base.as_secs_f64()
            );
        }
    }
}

fn median(rounds: &[Duration]) -> Duration {
    let mut r = rounds.to_vec();
    r.sort();
    r[r.len() / 2]
}

async fn run_round(
    raw: &DatabaseConnection,
    acme: &TenantConnection,
    (second, placed): (&DatabaseConnection, &TenantConnection),
    iters: u32,
    cases: &mut [Case],
) {
    let t = Instant::now();
    for _ in 0..iters {
        plain_post::Entity::find_by_id(1)
            .one(second)
            .await
            .unwrap()
            .unwrap();
    }
    cases[8].rounds.push(t.elapsed());
    let t = Instant::now();
    for _ in 0..iters {
        post::Entity::find_by_id(1)
            .one(placed)
            .await
            .unwrap()
            .unwrap();
    }
    cases[9].rounds.push(t.elapsed());

    let t = Instant::now();
    for _ in 0..iters {
        plain_post::Entity::find_by_id(1)
            .one(raw)
            .await
            .unwrap()
            .unwrap();
    }
    cases[0].rounds.push(t.elapsed());
    let t = Instant::now();
    for _ in 0..iters {
        post::Entity::find_by_id(1)
            .one(acme)
            .await
            .unwrap()
            .unwrap();
    }
    cases[1].rounds.push(t.elapsed());

    let t = Instant::now();
    for _ in 0..iters {
        plain_post::ActiveModel {
            title: Set("x".into()),
            author_id: Set(1),
            ..Default::default()
        }
        .insert(raw)
        .await
        .unwrap();
    }
    cases[2].rounds.push(t.elapsed());
    let t = Instant::now();
    for _ in 0..iters {
        post::ActiveModel {
            title: Set("x".into()),
            author_id: Set(1),
            ..Default::default()
        }
        .insert(acme)
        .await
        .unwrap();
    }
    cases[3].rounds.push(t.elapsed());

    let t = Instant::now();
    for _ in 0..iters {
        membership::Entity::find_by_id(1)
            .one(raw)
            .await
            .unwrap()
            .unwrap();
    }
    cases[4].rounds.push(t.elapsed());
    let t = Instant::now();
    for _ in 0..iters {
        membership::Entity::find_by_id(1)
            .one(acme)
            .await
            .unwrap()
            .unwrap();
    }
    cases[5].rounds.push(t.elapsed());

    let t = Instant::now();
    for _ in 0..iters / 10 {
        let txn = raw.begin().await.unwrap();
        for _ in 0..10 {
            plain_post::Entity::find_by_id(1)
                .one(&txn)
                .await
                .unwrap()
                .unwrap();
        }
        txn.commit().await.unwrap();
    }
    cases[6].rounds.push(t.elapsed());
    let t = Instant::now();
    for _ in 0..iters / 10 {
        let txn = acme.begin().await.unwrap();
        for _ in 0..10 {
            post::Entity::find_by_id(1)
                .one(&txn)
                .await
                .unwrap()
                .unwrap();
        }
        txn.commit().await.unwrap();
    }
    cases[7].rounds.push(t.elapsed());
}

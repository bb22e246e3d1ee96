//! Routing overhead: the same SeaORM calls through a `TenantConnection` (logged in as the
//! tenant's role) and through plain SeaORM (logged in as the owner, a superuser: no privilege
//! checks, no row-level security), in one run, on the same PostgreSQL.
//!
//! ```text
//! cargo bench --bench routing                     # 25 rounds × 400 calls per case
//! ROUTING_ITERS=2000 cargo bench --bench routing  # calls per case per round
//! ```
//!
//! The baseline tables are the tenant's own twins: schema `plain` is built by the same tenant
//! migrations as the tenant's schema (same columns, keys, foreign keys, indexes), and
//! `plain.memberships` copies `public.memberships` with every constraint and index — only row
//! level security, which is ours, is left out; the plain side filters by `org_id` itself, as
//! hand-written multitenancy must. The two sides of a case alternate call by call,
//! so that both meet the same moment of the machine; the reported time is the median of the
//! rounds.

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use saas_app::entities::{membership, organization, post};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait,
    QueryFilter, Set, TransactionTrait,
};
use sea_tenancy::Setup;
use sea_tenancy::placement::{DatabaseUrl, Placement, PoolLimits, catalog};
use sea_tenancy::testing::TestDatabase;
use sea_tenancy::{LoginLimits, Tenancy, Tenant, TenantConnection};

/// `post`'s twin in schema `plain`.
mod plain_post {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(schema_name = "plain", table_name = "posts")]
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

/// `membership`'s twin in schema `plain`.
mod plain_membership {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(schema_name = "plain", table_name = "memberships")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub user_id: i64,
        pub role: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Short rounds, many of them: drift of the machine hits every case alike, and the median
/// discards the disturbed rounds.
const ROUNDS: usize = 25;

/// A pair of sides doing the same work: plain SeaORM, then sea-tenancy.
struct Pair {
    name: &'static str,
    plain: Vec<Duration>,
    tenant: Vec<Duration>,
}

/// Builds, in `db` (the owner's), the plain twins of the tenant tables.
async fn plain_twins(db: &DatabaseConnection, roles: &Setup) {
    let plain = Tenant::from_schema("plain").unwrap();
    sea_tenancy::migrate::migrate_tenant::<common::Saas>(db, &plain, roles)
        .await
        .expect("plain schema");
    db.execute_unprepared(
        "CREATE TABLE plain.memberships (LIKE public.memberships INCLUDING ALL);
         DO $$ DECLARE c record; BEGIN
           FOR c IN SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
                     WHERE conrelid = 'public.memberships'::regclass AND contype = 'f' LOOP
             EXECUTE format('ALTER TABLE plain.memberships ADD CONSTRAINT %I %s', c.conname, c.def);
           END LOOP;
         END $$;",
    )
    .await
    .expect("plain memberships");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let iters: u32 = std::env::var("ROUTING_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let database = TestDatabase::create().await;
    let mut options = database.connect_options();
    options.max_connections(1);
    let raw = Database::connect(options.clone()).await.unwrap();
    sea_tenancy::migrate::migrate_public(&common::Saas, &raw)
        .await
        .unwrap();
    let roles = Setup::of(&common::Saas, &raw).await.unwrap();
    raw.execute_unprepared("INSERT INTO users (email) VALUES ('bench@example.com')")
        .await
        .unwrap();
    let org = |name: &str| organization::ActiveModel {
        name: Set(name.into()),
        ..Default::default()
    };
    let acme_org = sea_tenancy::manage::provision(&common::Saas, &raw, org("bench"))
        .await
        .unwrap();
    plain_twins(&raw, &roles).await;

    // A tenant placed in a second database, reached through the catalog (cached).
    let second = TestDatabase::create().await;
    let mut second_options = second.connect_options();
    second_options.max_connections(1);
    let second_raw = Database::connect(second_options).await.unwrap();
    catalog::install(&raw).await.unwrap();
    let url: DatabaseUrl = second.url().parse().unwrap();
    catalog::add_database(&raw, "second", Some(&url))
        .await
        .unwrap();
    let placement = Placement::builder(raw.clone())
        .limits(PoolLimits {
            per_database: 1,
            ..Default::default()
        })
        .build()
        .await
        .unwrap();
    let placed_org = sea_tenancy::placement::provision::provision(
        &common::Saas,
        &placement,
        org("placed"),
        Some("second"),
    )
    .await
    .unwrap();
    second_raw
        .execute_unprepared("INSERT INTO users (id, email) VALUES (1, 'bench@example.com')")
        .await
        .unwrap();
    plain_twins(&second_raw, &roles).await;

    // An app without placement, and one with it (whose transactions check the move fence).
    let limits = LoginLimits {
        max_connections: 1,
        per_tenant: 1,
        ..LoginLimits::default()
    };
    let db = Tenancy::builder(options.clone())
        .app(&common::Saas)
        .unwrap()
        .logins(limits.clone())
        .connect()
        .await
        .unwrap();
    let placed_db = Tenancy::builder(options)
        .app(&common::Saas)
        .unwrap()
        .logins(limits)
        .placement(placement)
        .connect()
        .await
        .unwrap();
    let acme = db.with_tenant(acme_org.tenant());
    let placed = placed_db.with_tenant(placed_org.tenant());
    for (conn, plain, org_id) in [
        (&acme, &raw, acme_org.id),
        (&placed, &second_raw, placed_org.id),
    ] {
        post::ActiveModel {
            title: Set("hello".into()),
            author_id: Set(1),
            ..Default::default()
        }
        .insert(conn)
        .await
        .unwrap();
        membership::ActiveModel {
            user_id: Set(1),
            role: Set("owner".into()),
            ..Default::default()
        }
        .insert(conn)
        .await
        .unwrap();
        plain
            .execute_unprepared(&format!(
                "INSERT INTO plain.posts (title, author_id) VALUES ('hello', 1);
                 INSERT INTO plain.memberships (org_id, user_id, role) VALUES ({org_id}, 1, 'owner');"
            ))
            .await
            .unwrap();
    }

    let names = [
        "pk lookup, schema strategy",
        "1-row insert, schema strategy",
        "pk lookup, attribute strategy",
        "1-row insert, attribute strategy",
        "10 lookups in a transaction, schema",
        "10 lookups in a transaction, attribute",
        "pk lookup, placed tenant, schema",
        "pk lookup, placed tenant, attribute",
        "10 lookups in a transaction, placed tenant",
    ];
    let mut pairs: Vec<Pair> = names
        .iter()
        .map(|name| Pair {
            name,
            plain: vec![],
            tenant: vec![],
        })
        .collect();
    let sides = Sides {
        org: acme_org.id,
        placed_org: placed_org.id,
        raw: &raw,
        acme: &acme,
        second: &second_raw,
        placed: &placed,
    };
    // Warm up statement caches on both paths.
    sides.round(200, &mut pairs).await;
    for pair in &mut pairs {
        pair.plain.clear();
        pair.tenant.clear();
    }
    for _ in 0..ROUNDS {
        sides.round(iters, &mut pairs).await;
    }

    println!(
        "\nrouting overhead, {iters} calls per case per round, median of {ROUNDS} rounds, one connection per side\n"
    );
    println!(
        "{:<44} {:>12} {:>12} {:>9}",
        "case", "plain µs", "tenant µs", "ratio"
    );
    for pair in &pairs {
        let (plain, tenant) = (median(&pair.plain), median(&pair.tenant));
        let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(iters);
        println!(
            "{:<44} {:>12.1} {:>12.1} {:>8.2}×",
            pair.name,
            per(plain),
            per(tenant),
            tenant.as_secs_f64() / plain.as_secs_f64()
        );
    }
    println!(
        "\ntenant logins: {:?}, placed: {:?}",
        db.login_stats(),
        placed_db.login_stats()
    );
}

fn median(rounds: &[Duration]) -> Duration {
    let mut r = rounds.to_vec();
    r.sort();
    r[r.len() / 2]
}

struct Sides<'a> {
    /// The tenants' keys, which the plain side filters by as hand-written multitenancy would.
    org: i64,
    placed_org: i64,
    raw: &'a DatabaseConnection,
    acme: &'a TenantConnection,
    second: &'a DatabaseConnection,
    placed: &'a TenantConnection,
}

/// Runs `$plain` and `$tenant` alternately, `$n` times each, adding their times to the pair's
/// last round: both sides meet the same moment of the machine (a VM's wake-up latencies drift
/// on the scale of milliseconds, which would otherwise favour whichever side ran in a good one).
macro_rules! alternate {
    ($pair:expr, $n:expr, $plain:expr, $tenant:expr) => {{
        let (mut plain, mut tenant) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..$n {
            let t = Instant::now();
            $plain;
            plain += t.elapsed();
            let t = Instant::now();
            $tenant;
            tenant += t.elapsed();
        }
        $pair.plain.push(plain);
        $pair.tenant.push(tenant);
    }};
}

impl Sides<'_> {
    async fn round(&self, iters: u32, pairs: &mut [Pair]) {
        let (raw, acme, second, placed) = (self.raw, self.acme, self.second, self.placed);
        alternate!(
            pairs[0],
            iters,
            plain_post::Entity::find_by_id(1)
                .one(raw)
                .await
                .unwrap()
                .unwrap(),
            post::Entity::find_by_id(1)
                .one(acme)
                .await
                .unwrap()
                .unwrap()
        );
        alternate!(
            pairs[1],
            iters,
            plain_post::ActiveModel {
                title: Set("x".into()),
                author_id: Set(1),
                ..Default::default()
            }
            .insert(raw)
            .await
            .unwrap(),
            post::ActiveModel {
                title: Set("x".into()),
                author_id: Set(1),
                ..Default::default()
            }
            .insert(acme)
            .await
            .unwrap()
        );
        alternate!(
            pairs[2],
            iters,
            plain_membership::Entity::find_by_id(1)
                .filter(plain_membership::Column::OrgId.eq(self.org))
                .one(raw)
                .await
                .unwrap()
                .unwrap(),
            membership::Entity::find_by_id(1)
                .one(acme)
                .await
                .unwrap()
                .unwrap()
        );
        alternate!(
            pairs[3],
            iters,
            plain_membership::ActiveModel {
                org_id: Set(self.org),
                user_id: Set(1),
                role: Set("x".into()),
                ..Default::default()
            }
            .insert(raw)
            .await
            .unwrap(),
            membership::ActiveModel {
                user_id: Set(1),
                role: Set("x".into()),
                ..Default::default()
            }
            .insert(acme)
            .await
            .unwrap()
        );
        alternate!(
            pairs[4],
            iters / 10,
            {
                let txn = raw.begin().await.unwrap();
                for _ in 0..10 {
                    plain_post::Entity::find_by_id(1)
                        .one(&txn)
                        .await
                        .unwrap()
                        .unwrap();
                }
                txn.commit().await.unwrap();
            },
            {
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
        );
        alternate!(
            pairs[5],
            iters / 10,
            {
                let txn = raw.begin().await.unwrap();
                for _ in 0..10 {
                    plain_membership::Entity::find_by_id(1)
                        .filter(plain_membership::Column::OrgId.eq(self.org))
                        .one(&txn)
                        .await
                        .unwrap()
                        .unwrap();
                }
                txn.commit().await.unwrap();
            },
            {
                let txn = acme.begin().await.unwrap();
                for _ in 0..10 {
                    membership::Entity::find_by_id(1)
                        .one(&txn)
                        .await
                        .unwrap()
                        .unwrap();
                }
                txn.commit().await.unwrap();
            }
        );
        alternate!(
            pairs[6],
            iters,
            plain_post::Entity::find_by_id(1)
                .one(second)
                .await
                .unwrap()
                .unwrap(),
            post::Entity::find_by_id(1)
                .one(placed)
                .await
                .unwrap()
                .unwrap()
        );
        alternate!(
            pairs[7],
            iters,
            plain_membership::Entity::find_by_id(1)
                .filter(plain_membership::Column::OrgId.eq(self.placed_org))
                .one(second)
                .await
                .unwrap()
                .unwrap(),
            membership::Entity::find_by_id(1)
                .one(placed)
                .await
                .unwrap()
                .unwrap()
        );
        alternate!(
            pairs[8],
            iters / 10,
            {
                let txn = second.begin().await.unwrap();
                for _ in 0..10 {
                    plain_post::Entity::find_by_id(1)
                        .one(&txn)
                        .await
                        .unwrap()
                        .unwrap();
                }
                txn.commit().await.unwrap();
            },
            {
                let txn = placed.begin().await.unwrap();
                for _ in 0..10 {
                    post::Entity::find_by_id(1)
                        .one(&txn)
                        .await
                        .unwrap()
                        .unwrap();
                }
                txn.commit().await.unwrap();
            }
        );
    }
}

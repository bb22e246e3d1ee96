//! sea-tenancy on a Citus cluster (a coordinator and two workers started by
//! `sea_tenancy::testing::CitusCluster`; the extension from `.ci/citus/install.sh`):
//!
//! - routing: primary-key lookup and 1-row insert of a tenant's `posts` through a
//!   `TenantConnection` on the coordinator, against plain SeaORM (the owner) on the coordinator
//!   doing the same to a twin table in another distributed schema built by the same migrations;
//! - provisioning: `provision` against the same statements sent by hand (schema, role, tables,
//!   grants, rows), tenants alternating;
//! - status of every provisioned tenant (one query).
//!
//! ```text
//! cargo bench --bench citus                       # 50 tenants per side, 25 rounds × 200 calls
//! CITUS_TENANTS=500 cargo bench --bench citus     # status of 1,000 tenants
//! ```

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use saas_app::entities::{organization, post};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, Set};
use sea_tenancy::testing::CitusCluster;
use sea_tenancy::{LoginLimits, Setup, Tenancy, TenancyApp, Tenant};

/// `post`'s twin in distributed schema `plain`.
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

const ROUNDS: usize = 25;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut rounds: Vec<Duration>) -> Duration {
    rounds.sort();
    rounds[rounds.len() / 2]
}

fn org(name: String) -> organization::ActiveModel {
    organization::ActiveModel {
        name: Set(name),
        ..Default::default()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let tenants = env("CITUS_TENANTS", 50);
    let iters = env("CITUS_ITERS", 200) as u32;
    let cluster = CitusCluster::start(2).await.expect("a Citus cluster");
    let database = cluster.create_database().await.expect("a database");
    let mut options = database.connect_options();
    options.max_connections(1);
    let owner = Database::connect(options.clone()).await.unwrap();
    sea_tenancy::migrate::migrate_public(&common::Saas, &owner)
        .await
        .unwrap();
    let setup = Setup::of(&common::Saas, &owner).await.unwrap();
    owner
        .execute_unprepared("INSERT INTO users (email) VALUES ('bench@example.com')")
        .await
        .unwrap();

    // Routing: a tenant and the plain twin, both distributed schemas.
    let acme = sea_tenancy::manage::provision(&common::Saas, &owner, org("acme".into()))
        .await
        .unwrap();
    let plain = Tenant::from_schema("plain").unwrap();
    sea_tenancy::migrate::migrate_tenant::<common::Saas>(&owner, &plain, &setup)
        .await
        .unwrap();
    owner
        .execute_unprepared("INSERT INTO plain.posts (title, author_id) VALUES ('hello', 1)")
        .await
        .unwrap();
    let tenancy = Tenancy::builder(options)
        .app(&common::Saas)
        .unwrap()
        .logins(LoginLimits {
            max_connections: 1,
            per_tenant: 1,
            ..LoginLimits::default()
        })
        .connect()
        .await
        .unwrap();
    let conn = tenancy.with_tenant(acme.tenant());
    post::ActiveModel {
        title: Set("hello".into()),
        author_id: Set(1),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .unwrap();
    let mut lookups = (Vec::new(), Vec::new());
    let mut inserts = (Vec::new(), Vec::new());
    for round in 0..=ROUNDS {
        let (mut pl, mut tl, mut pi, mut ti) = (
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
        );
        for _ in 0..iters {
            let t = Instant::now();
            plain_post::Entity::find_by_id(1)
                .one(&owner)
                .await
                .unwrap()
                .unwrap();
            pl += t.elapsed();
            let t = Instant::now();
            post::Entity::find_by_id(1)
                .one(&conn)
                .await
                .unwrap()
                .unwrap();
            tl += t.elapsed();
            let t = Instant::now();
            plain_post::ActiveModel {
                title: Set("x".into()),
                author_id: Set(1),
                ..Default::default()
            }
            .insert(&owner)
            .await
            .unwrap();
            pi += t.elapsed();
            let t = Instant::now();
            post::ActiveModel {
                title: Set("x".into()),
                author_id: Set(1),
                ..Default::default()
            }
            .insert(&conn)
            .await
            .unwrap();
            ti += t.elapsed();
        }
        // Round 0 warms statement caches and worker connections.
        if round > 0 {
            lookups.0.push(pl);
            lookups.1.push(tl);
            inserts.0.push(pi);
            inserts.1.push(ti);
        }
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(iters);
    println!(
        "\nCitus, coordinator + 2 workers, {iters} calls per round, median of {ROUNDS} rounds\n"
    );
    println!(
        "{:<34} {:>10} {:>10} {:>8}",
        "case", "plain µs", "tenant µs", "ratio"
    );
    for (name, (plain, tenant)) in [
        ("pk lookup, schema strategy", lookups),
        ("1-row insert, schema strategy", inserts),
    ] {
        let (p, t) = (median(plain), median(tenant));
        println!(
            "{name:<34} {:>10.1} {:>10.1} {:>7.2}×",
            per(p),
            per(t),
            t.as_secs_f64() / p.as_secs_f64()
        );
    }

    // Provisioning: the library and the same statements by hand, tenant by tenant.
    let (mut lib, mut raw) = (Duration::ZERO, Duration::ZERO);
    for i in 0..tenants {
        let t = Instant::now();
        sea_tenancy::manage::provision(&common::Saas, &owner, org(format!("tenant {i}")))
            .await
            .unwrap();
        lib += t.elapsed();
        let t = Instant::now();
        raw_tenant(&owner, &setup, i).await;
        raw += t.elapsed();
    }
    println!(
        "\nprovisioning {tenants} tenants per side: raw {:.1} tenants/s, provision {:.1} tenants/s = {:.2}×",
        tenants as f64 / raw.as_secs_f64(),
        tenants as f64 / lib.as_secs_f64(),
        lib.as_secs_f64() / raw.as_secs_f64()
    );

    let all = common::Saas.all_tenants(&owner).await.unwrap();
    let t = Instant::now();
    let statuses = sea_tenancy::migrate::status::<tenant_migrations::Migrator, _>(&owner, &all)
        .await
        .unwrap();
    println!(
        "status of {} distributed tenants (one query): {:.3} s",
        statuses.len(),
        t.elapsed().as_secs_f64()
    );
    drop((conn, tenancy, owner));
    drop(database);
    cluster.stop().await.ok();
}

/// What a hand-written provisioner does on Citus: the row, a distributed schema, the role, the
/// tenant set's statements (one by one: Citus refuses some DDL of distributed schemas in a
/// multi-statement query), the grants and the role's record, in one transaction.
async fn raw_tenant(db: &DatabaseConnection, setup: &Setup, i: usize) {
    use sea_orm::TransactionTrait;
    let txn = db.begin().await.unwrap();
    let row = txn
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "INSERT INTO organizations (name) VALUES ($1) RETURNING id",
            [format!("raw {i}").into()],
        ))
        .await
        .unwrap()
        .unwrap();
    let id: i64 = row.try_get("", "id").unwrap();
    let schema = format!("raw_{id}");
    let role = setup.names.tenant(&schema);
    let group = setup.names.tenants();
    let verifier = setup.secret.verifier(&role);
    let mut statements = vec![
        "SET LOCAL citus.enable_schema_based_sharding = on".to_owned(),
        format!("CREATE SCHEMA {schema}"),
        format!("CREATE ROLE \"{role}\" LOGIN PASSWORD '{verifier}' IN ROLE \"{group}\""),
        format!("SET LOCAL search_path = {schema}"),
    ];
    statements.extend(tenant_ddl());
    statements.extend([
        "CREATE TABLE seaql_migrations (version varchar PRIMARY KEY, applied_at bigint NOT NULL)".to_owned(),
        format!("GRANT USAGE ON SCHEMA {schema} TO \"{role}\""),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO \"{role}\""),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO \"{role}\""),
        format!("INSERT INTO public.sea_tenancy_tenants (role, schema, key) VALUES ('{role}', '{schema}', '{id}')"),
    ]);
    // Every version the tenant set holds, in its tracking table and in the mirror.
    for version in sea_tenancy::migrate::versions::<tenant_migrations::Migrator>() {
        statements.push(format!(
            "INSERT INTO seaql_migrations VALUES ('{version}', 0)"
        ));
        statements.push(format!(
            "INSERT INTO public.sea_tenancy_migrations VALUES ('{schema}', '{version}')"
        ));
    }
    for statement in statements {
        txn.execute_unprepared(&statement).await.unwrap();
    }
    txn.commit().await.unwrap();
}

/// The reference tenant set's statements, as the library records them.
fn tenant_ddl() -> Vec<String> {
    static DDL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    DDL.get_or_init(tenant_migration_statements).clone()
}

/// `tenant_migrations`'s statements, recorded through SeaORM's proxy connection.
fn tenant_migration_statements() -> Vec<String> {
    use std::sync::{Arc, Mutex};

    use sea_orm::{DbBackend, DbErr, ProxyDatabaseTrait, ProxyExecResult, ProxyRow, Statement};
    use sea_orm_migration::{MigratorTrait, SchemaManager};

    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<String>>);
    #[derive(Debug)]
    struct Shared(Arc<Recorder>);
    #[async_trait::async_trait]
    impl ProxyDatabaseTrait for Shared {
        async fn query(&self, _: Statement) -> Result<Vec<ProxyRow>, DbErr> {
            Ok(vec![])
        }
        async fn execute(&self, statement: Statement) -> Result<ProxyExecResult, DbErr> {
            self.0.0.lock().unwrap().push(statement.sql);
            Ok(ProxyExecResult::default())
        }
    }
    let recorder = Arc::new(Recorder::default());
    let shared = Shared(recorder.clone());
    // A runtime of its own, on a thread of its own: called from inside the benchmark's runtime.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let conn = Database::connect_proxy(
                        DbBackend::Postgres,
                        Arc::new(Box::new(shared) as Box<dyn ProxyDatabaseTrait>),
                    )
                    .await
                    .unwrap();
                    let manager = SchemaManager::new(&conn);
                    for migration in tenant_migrations::Migrator::migrations() {
                        migration.up(&manager).await.unwrap();
                    }
                })
            })
            .join()
            .unwrap()
    });
    recorder.0.lock().unwrap().clone()
}

//! sea-tenancy on a real Citus 13 cluster: a coordinator and two workers, started by the harness
//! (`sea_tenancy::testing::CitusCluster`; the extension comes from `.ci/citus/install.sh`).
//!
//! The reference app, unchanged, through the coordinator: its public set becomes reference and
//! distributed tables, 20 provisioned tenants spread over both workers as distributed schemas,
//! the isolation cases and every adversary attack hold, attribute rows are sharded by `org_id`
//! with a cross-tenant composite key refused, a new tenant migration reaches all 20, `status
//! --check` agrees, a tenant moves to the other worker with its rows while it is being read, and
//! a failed provisioning leaves nothing on any node.

mod common;

#[path = "adversary/attacks.rs"]
mod attacks;
#[path = "adversary/world.rs"]
mod world;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use clap::Parser;
use saas_app::SaasApp;
use saas_app::entities::{invitation, membership, organization, post};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, Set, Statement,
};
use sea_orm_migration::prelude::*;
use sea_tenancy::TenancyApp;
use sea_tenancy::citus::{Node, TransferMode, move_tenant, node_of};
use sea_tenancy::cli::{Cli, execute};
use sea_tenancy::testing::{CitusCluster, MigratorsApp, TestDatabase};
use tokio::sync::OnceCell;

/// One cluster for the whole test binary; every test gets databases of its own on it.
async fn cluster() -> &'static CitusCluster {
    static CLUSTER: OnceCell<CitusCluster> = OnceCell::const_new();
    CLUSTER
        .get_or_init(|| async {
            CitusCluster::start(2)
                .await
                .unwrap_or_else(|e| panic!("a Citus cluster: {e}"))
        })
        .await
}

async fn database() -> TestDatabase {
    cluster()
        .await
        .create_database()
        .await
        .unwrap_or_else(|e| panic!("a database on the Citus cluster: {e}"))
}

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    rows(db, sql).await[0].try_get_by_index::<i64>(0).unwrap()
}

fn cli(database: &TestDatabase, args: &[&str]) -> Cli {
    let mut argv = vec!["app", "--database-url", database.url()];
    argv.extend_from_slice(args);
    Cli::parse_from(argv)
}

/// The tenant set plus one migration (a column and an index), to migrate every tenant with.
struct V2;
impl MigratorTrait for V2 {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = tenant_migrations::Migrator::migrations();
        all.push(Box::new(AddViews));
        all
    }
}

#[derive(DeriveMigrationName)]
struct AddViews;

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
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_posts_views; ALTER TABLE posts DROP COLUMN views")
            .await?;
        Ok(())
    }
}

/// A tenant set whose last migration fails.
struct Failing;
impl MigratorTrait for Failing {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = tenant_migrations::Migrator::migrations();
        all.push(Box::new(Fails));
        all
    }
}

#[derive(DeriveMigrationName)]
struct Fails;

#[async_trait::async_trait]
impl MigrationTrait for Fails {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE no_such_table ADD COLUMN x int")
            .await?;
        Ok(())
    }
    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

/// The reference app with another tenant set.
fn with_set<M>() -> MigratorsApp<migrations::Migrator, M> {
    MigratorsApp::new()
        .with_login_secret(|| SaasApp.login_secret())
        .with_tenant_access(|table| SaasApp.tenant_access(table))
        .with_tenants_from(|db| TenancyApp::all_tenants(&SaasApp, db))
}

fn org(name: &str) -> organization::ActiveModel {
    organization::ActiveModel {
        name: Set(name.to_owned()),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_reference_app_on_a_three_node_cluster() {
    let database = database().await;
    let owner = database.connect().await;
    assert!(
        execute(&SaasApp, cli(&database, &["migrate"]))
            .await
            .unwrap()
    );

    // Global tables are reference tables, attribute tables distributed and colocated.
    let kinds: Vec<(String, String)> = rows(
        &owner,
        "SELECT logicalrelid::text, partmethod::text FROM pg_dist_partition ORDER BY 1",
    )
    .await
    .iter()
    .map(|r| {
        (
            r.try_get_by_index(0).unwrap(),
            r.try_get_by_index(1).unwrap(),
        )
    })
    .collect();
    for (table, kind) in [
        ("users", "n"),
        ("organizations", "n"),
        ("sea_tenancy_tenants", "n"),
        ("sea_tenancy_migrations", "n"),
        ("memberships", "h"),
        ("invitations", "h"),
    ] {
        assert!(
            kinds.iter().any(|(t, k)| t == table && k == kind),
            "{table} should be {kind}: {kinds:?}"
        );
    }
    assert_eq!(
        scalar(
            &owner,
            "SELECT count(DISTINCT colocationid) FROM pg_dist_partition WHERE partmethod = 'h'"
        )
        .await,
        1,
        "attribute tables are colocated"
    );

    // 20 tenants, each a distributed schema; both workers hold some.
    let mut tenants = Vec::new();
    for i in 0..20 {
        let row = sea_tenancy::manage::provision(&SaasApp, &owner, org(&format!("Org {i}")))
            .await
            .unwrap_or_else(|e| panic!("provision {i}: {e}"));
        tenants.push(row);
    }
    assert_eq!(
        scalar(&owner, "SELECT count(*) FROM citus_schemas").await,
        20
    );
    assert_eq!(
        scalar(
            &owner,
            "SELECT count(DISTINCT nodeport) FROM citus_shards WHERE citus_table_type = 'schema'"
        )
        .await,
        2,
        "tenant schemas spread over both workers"
    );

    // Attribute rows through tenant connections, sharded by org_id.
    let tenancy = sea_tenancy::Tenancy::connect(&SaasApp, database.connect_options())
        .await
        .unwrap();
    let author = saas_app::entities::user::ActiveModel {
        email: Set("author@example.com".into()),
        ..Default::default()
    }
    .insert(&tenancy)
    .await
    .unwrap();
    let mut memberships = Vec::new();
    for t in &tenants {
        let conn = tenancy.with_tenant(t.tenant());
        post::ActiveModel {
            title: Set(format!("post of {}", t.name)),
            author_id: Set(author.id),
            ..Default::default()
        }
        .insert(&conn)
        .await
        .unwrap();
        let m = membership::ActiveModel {
            user_id: Set(author.id),
            role: Set(format!("member of {}", t.name)),
            ..Default::default()
        }
        .insert(&conn)
        .await
        .unwrap();
        assert_eq!(m.org_id, t.id, "stamped with the tenant's key");
        invitation::ActiveModel {
            membership_id: Set(m.id),
            email: Set(format!("guest@{}", t.id)),
            ..Default::default()
        }
        .insert(&conn)
        .await
        .unwrap();
        assert_eq!(membership::Entity::find().count(&conn).await.unwrap(), 1);
        memberships.push(m);
    }
    assert!(
        scalar(
            &owner,
            "SELECT count(DISTINCT get_shard_id_for_distribution_column('memberships', org_id)) FROM memberships"
        )
        .await
            > 1,
        "rows of different tenants live in different shards"
    );
    assert_eq!(
        scalar(
            &owner,
            "SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'memberships'::regclass"
        )
        .await,
        2
    );
    // A tenant-matched key refuses another tenant's row, even from the owner (no RLS).
    let err = owner
        .execute_unprepared(&format!(
            "INSERT INTO invitations (org_id, membership_id, email) VALUES ({}, {}, 'cross')",
            tenants[0].id, memberships[1].id
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("foreign key"), "{err}");
    // And through A's connection, B's membership is not even there.
    let err = invitation::ActiveModel {
        membership_id: Set(memberships[1].id),
        email: Set("cross@x".into()),
        ..Default::default()
    }
    .insert(&tenancy.with_tenant(tenants[0].tenant()))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("foreign key"), "{err}");

    // A new tenant migration reaches all 20; status agrees.
    let v2 = with_set::<V2>();
    assert!(
        !execute(&v2, cli(&database, &["status", "--check"]))
            .await
            .unwrap()
    );
    assert!(execute(&v2, cli(&database, &["migrate"])).await.unwrap());
    assert!(
        execute(&v2, cli(&database, &["status", "--check"]))
            .await
            .unwrap()
    );
    for t in &tenants {
        let views = rows(
            &owner,
            &format!("SELECT views FROM \"{}\".posts", t.tenant().schema()),
        )
        .await;
        assert_eq!(views.len(), 1);
    }

    // One tenant moves to the other worker while it is being read; no row is lost.
    let moving = tenants[3].tenant();
    let conn = tenancy.with_tenant(moving.clone());
    let before = post::Entity::find().count(&conn).await.unwrap();
    let from = node_of(&owner, &moving).await.unwrap();
    let (host, port) = cluster()
        .await
        .workers()
        .into_iter()
        .find(|(_, p)| i32::from(*p) != from.port)
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (conn, stop, reads) = (conn.clone(), stop.clone(), reads.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                post::Entity::find()
                    .count(&conn)
                    .await
                    .expect("reads go on");
                reads.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    };
    let moved = move_tenant(
        &owner,
        &moving,
        &Node {
            host,
            port: i32::from(port),
        },
        TransferMode::Auto,
    )
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    reader.await.unwrap();
    assert!(reads.load(Ordering::Relaxed) > 0);
    assert_eq!(moved.to.port, i32::from(port));
    assert!(
        moved
            .tables
            .iter()
            .all(|(_, before, after)| before == after)
    );
    assert_eq!(
        node_of(&owner, &moving).await.unwrap().port,
        i32::from(port)
    );
    assert_eq!(post::Entity::find().count(&conn).await.unwrap(), before);
    assert_eq!(membership::Entity::find().count(&conn).await.unwrap(), 1);

    // A provisioning that fails leaves nothing, on any node.
    let failing = with_set::<Failing>();
    let next_id = scalar(&owner, "SELECT max(id) + 1 FROM organizations").await;
    let doomed = format!("org_{next_id}");
    let role = tenancy.role_names().tenant(&doomed);
    let err = sea_tenancy::manage::provision(&failing, &owner, org("Doomed"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no_such_table"), "{err}");
    assert_eq!(
        organization::Entity::find().count(&owner).await.unwrap(),
        20
    );
    let leftovers = format!(
        "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = '{doomed}') + (SELECT count(*) FROM pg_roles WHERE rolname = '{role}')"
    );
    assert_eq!(
        scalar(&owner, &leftovers).await,
        0,
        "nothing on the coordinator"
    );
    for (_, port) in cluster().await.workers() {
        let worker = Database::connect(format!(
            "postgres://postgres@127.0.0.1:{port}/{}",
            database.name()
        ))
        .await
        .unwrap();
        assert_eq!(
            scalar(&worker, &leftovers).await,
            0,
            "nothing on worker {port}"
        );
        assert_eq!(
            scalar(
                &worker,
                "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'org\\_%'"
            )
            .await,
            20,
            "the 20 tenants' schemas exist on the workers (shells or shards)"
        );
        worker.close().await.ok();
    }
}

/// The isolation cases of `tests/isolation.rs`, through the coordinator.
#[tokio::test]
async fn isolation_cases_through_the_coordinator() {
    use common::isolation_cases as cases;
    cases::schema_entities_stay_in_their_tenant(&common::app_in(database().await, 5).await).await;
    cases::attribute_entities_are_filtered_and_stamped(&common::app_in(database().await, 5).await)
        .await;
    cases::transactions_and_savepoints_stay_in_the_tenant(
        &common::app_in(database().await, 5).await,
    )
    .await;
    cases::no_tenant_is_an_error_not_a_query_of_everything(
        &common::app_in(database().await, 5).await,
    )
    .await;
}

/// Every attack of `tests/adversary.rs`, through the coordinator.
#[tokio::test]
async fn every_attack_through_the_coordinator() {
    let world = world::World::new_in(database().await, world::Layout::PoolOfMany).await;
    for attack in &attacks::all() {
        world.run(attack).await;
    }
}

/// Queries across tenants through the coordinator: tenant schemas are distributed schemas on
/// both workers, attribute rows shards; Citus fans the statement out and the answer equals
/// the tenants' own queries, in list order.
#[tokio::test]
async fn across_tenants_through_the_coordinator() {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    use sea_tenancy::across::Across;

    let database = database().await;
    let owner = database.connect().await;
    assert!(
        execute(&SaasApp, cli(&database, &["migrate"]))
            .await
            .unwrap()
    );
    let tenancy = sea_tenancy::Tenancy::connect(&SaasApp, database.connect_options())
        .await
        .unwrap();
    let author = saas_app::entities::user::ActiveModel {
        email: Set("author@example.com".into()),
        ..Default::default()
    }
    .insert(&tenancy)
    .await
    .unwrap();
    let mut tenants = Vec::new();
    for i in 0..6 {
        let row = sea_tenancy::manage::provision(&SaasApp, &owner, org(&format!("Org {i}")))
            .await
            .unwrap();
        let conn = tenancy.with_tenant(row.tenant());
        for p in 0..=i {
            post::ActiveModel {
                title: Set(format!("post {p} of {}", row.name)),
                author_id: Set(author.id),
                ..Default::default()
            }
            .insert(&conn)
            .await
            .unwrap();
        }
        membership::ActiveModel {
            user_id: Set(author.id),
            role: Set(format!("member of {}", row.name)),
            ..Default::default()
        }
        .insert(&conn)
        .await
        .unwrap();
        tenants.push(row.tenant());
    }
    assert_eq!(
        scalar(
            &owner,
            "SELECT count(DISTINCT nodeport) FROM citus_shards WHERE citus_table_type = 'schema'"
        )
        .await,
        2,
        "tenant schemas on both workers"
    );

    let login = format!("{}_reports", tenancy.role_names().namespace());
    assert!(
        execute(&SaasApp, cli(&database, &["reporting", "create", &login]))
            .await
            .unwrap()
    );
    let across = Across::connect(&SaasApp, database.connect_options(), &login)
        .await
        .expect("the reporting login connects through the coordinator")
        .chunk_size(4);

    let select = || {
        post::Entity::find()
            .filter(post::Column::Title.contains("post"))
            .order_by_desc(post::Column::Id)
    };
    let mut expected = Vec::new();
    let mut expected_members = Vec::new();
    for t in &tenants {
        let conn = tenancy.with_tenant(t.clone());
        for p in select().all(&conn).await.unwrap() {
            expected.push((t.clone(), p));
        }
        for m in membership::Entity::find().all(&conn).await.unwrap() {
            expected_members.push((t.clone(), m));
        }
    }
    let got = across.select(&tenants, select()).all().await.unwrap();
    assert_eq!(got, expected);
    assert_eq!(got.len(), 21, "1 + 2 + … + 6 posts");
    let counts = across
        .select(&tenants, post::Entity::find())
        .count()
        .await
        .unwrap();
    assert_eq!(
        counts.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    // Attribute rows, sharded by org_id: one statement with the tenant column.
    let members = across
        .select(
            &tenants,
            membership::Entity::find().order_by_asc(membership::Column::Id),
        )
        .all()
        .await
        .unwrap();
    assert_eq!(members, expected_members);
    // The reporting login writes nothing, here either.
    let write = across
        .connection()
        .execute_unprepared(&format!("DELETE FROM {}.posts", tenants[0].quoted_schema()))
        .await;
    assert!(write.is_err(), "the reporting login deleted tenant rows");
}

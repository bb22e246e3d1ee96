//! Tenant isolation against an adversary: SQL text sent through tenant A's connection — raw
//! queries, `find_by_statement`, custom expressions, an injection bug — must not read or change
//! tenant B's data, make A someone else, run anything privileged, or leave state that B or the
//! app's global connection inherits.
//!
//! Every attack of `adversary/attacks.rs` runs in three layouts — a single tenant connection for
//! all tenants, a pool of eight, and A in a database of its own — and after each one the
//! runner checks (with the owner's connection) that nothing A must not change changed. The
//! forms sea-tenancy's statement reader misses are included on purpose: PostgreSQL refuses
//! them, because A's connection is logged in as A's role.

mod common;

#[path = "adversary/attacks.rs"]
mod attacks;
#[path = "adversary/world.rs"]
mod world;

use saas_app::entities::{membership, post, user};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, Set, Statement,
};
use world::{Layout, SECRET, World};

async fn every_attack(layout: Layout) {
    let world = World::new(layout).await;
    let attacks = attacks::all();
    assert!(attacks.len() >= 40, "{} attacks", attacks.len());
    for attack in &attacks {
        world.run(attack).await;
    }
    // Nothing was created on the server's file system.
    assert!(!std::path::Path::new("/tmp/sea_tenancy_adversary_pwned").exists());
    // B still works, sees exactly its own rows, and its new rows land in its own schema.
    let b = &world.b;
    assert_eq!(post::Entity::find().count(b).await.unwrap(), 3);
    assert_eq!(membership::Entity::find().count(b).await.unwrap(), 1);
    let p = post::ActiveModel {
        title: Set(format!("{SECRET}-after")),
        author_id: Set(1),
        ..Default::default()
    }
    .insert(b)
    .await
    .unwrap();
    let in_b = world
        .owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            world.expand(&format!(
                "SELECT count(*) AS n FROM \"{{B}}\".posts WHERE id = {} AND title = '{SECRET}-after'",
                p.id
            )),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(in_b, 1, "B's insert landed in B's schema");
    // A still sees only its own.
    assert_eq!(post::Entity::find().count(&world.a).await.unwrap(), 3);
    let mine = membership::Entity::find().all(&world.a).await.unwrap();
    assert!(mine.iter().all(|m| m.role == "A-membership"), "{mine:?}");
}

#[tokio::test]
async fn every_attack_with_one_connection_for_all_tenants() {
    every_attack(Layout::PoolOfOne).await;
}

#[tokio::test]
async fn every_attack_with_a_pool_of_eight() {
    every_attack(Layout::PoolOfMany).await;
}

#[tokio::test]
async fn every_attack_with_the_attacker_in_another_database() {
    every_attack(Layout::APlacedElsewhere).await;
}

/// Temporary objects and prepared statements of one tenant never capture another tenant's
/// statements: A leaves a shadowing temporary table and a prepared statement behind, and B's
/// ORM statements that follow — on a single connection slot for all tenants — still reach B's
/// own tables.
#[tokio::test]
async fn what_a_tenant_leaves_on_its_connection_never_reaches_another() {
    let world = World::new(Layout::PoolOfOne).await;
    let a = &world.a;
    a.execute_unprepared(
        "SELECT 0::bigint AS id, 'captured'::text AS title, 0::bigint AS author_id INTO TEMP posts",
    )
    .await
    .unwrap();
    a.execute_unprepared("SELECT * INTO TEMP users FROM public.users WHERE false")
        .await
        .unwrap();
    // The same SQL text B's ORM insert will send, prepared under A's session by the driver.
    post::ActiveModel {
        title: Set("A-primer".into()),
        author_id: Set(1),
        ..Default::default()
    }
    .insert(a)
    .await
    .unwrap();
    for i in 0..3 {
        post::ActiveModel {
            title: Set(format!("{SECRET}-late-{i}")),
            author_id: Set(1),
            ..Default::default()
        }
        .insert(&world.b)
        .await
        .unwrap();
    }
    let captured = a
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT title FROM pg_temp.posts",
        ))
        .await
        // Gone with A's evicted connection, or there and untouched: both are fine.
        .map(|rows| rows.len())
        .unwrap_or(0);
    assert!(captured <= 1, "A's temporary table caught {captured} rows");
    assert_eq!(post::Entity::find().count(&world.b).await.unwrap(), 6);
    // The global connection is untouched by both.
    assert_eq!(user::Entity::find().count(&world.tenancy).await.unwrap(), 1);
    let stats = world.tenancy.login_stats();
    assert!(stats.open <= 1, "{stats:?}");
    assert!(
        stats.evicted > 0,
        "tenants took turns on one slot: {stats:?}"
    );
}

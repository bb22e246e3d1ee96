//! The README's quickstart test: a fresh database, the public set migrated, two organizations
//! provisioned (each with its schema, role and tenant migrations), and each sees only its own
//! projects and tasks — through the ORM and through raw SQL.

use quickstart::{App, organization, project, task};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, Set, Statement,
};
use sea_tenancy::Tenancy;
use sea_tenancy::manage::provision;
use sea_tenancy::testing::TestDatabase;

fn raw(sql: &str) -> Statement {
    Statement::from_string(DbBackend::Postgres, sql)
}

#[tokio::test]
async fn each_organization_sees_only_its_own_projects_and_tasks() {
    // A database of its own, migrated as `cargo run -- migrate` would.
    let database = TestDatabase::create().await;
    let owner = database.connect().await;
    sea_tenancy::migrate::migrate_public(&App, &owner)
        .await
        .unwrap();

    // Sign-ups: row + schema org_<id> + role + tenant migrations, in one transaction each.
    let new_org = |name: &str| organization::ActiveModel {
        name: Set(name.to_owned()),
        ..Default::default()
    };
    let acme = provision(&App, &owner, new_org("Acme")).await.unwrap();
    let globex = provision(&App, &owner, new_org("Globex")).await.unwrap();

    // The app's connection; a tenant's view of it.
    let db = Tenancy::connect(&App, database.connect_options())
        .await
        .unwrap();
    let as_acme = db.with_tenant(acme.tenant());
    let as_globex = db.with_tenant(globex.tenant());

    project::ActiveModel {
        name: Set("Rocket".into()),
        ..Default::default()
    }
    .insert(&as_acme)
    .await
    .unwrap();
    let task = task::ActiveModel {
        title: Set("Design the rocket".into()),
        done: Set(false),
        ..Default::default()
    }
    .insert(&as_acme)
    .await
    .unwrap();
    assert_eq!(task.org_id, acme.id, "the tenant key is filled in");

    assert_eq!(project::Entity::find().count(&as_acme).await.unwrap(), 1);
    assert_eq!(task::Entity::find().count(&as_acme).await.unwrap(), 1);
    assert_eq!(project::Entity::find().count(&as_globex).await.unwrap(), 0);
    assert_eq!(task::Entity::find().count(&as_globex).await.unwrap(), 0);

    // Raw SQL aimed at Acme's data from Globex's connection: refused or empty.
    let sql = format!("SELECT * FROM {}.projects", acme.tenant().schema());
    assert!(as_globex.query_all_raw(raw(&sql)).await.is_err());
    let rows = as_globex
        .query_all_raw(raw("SELECT * FROM tasks"))
        .await
        .unwrap();
    assert!(rows.is_empty());

    // Without a tenant, multitenant tables are an error, not everyone's rows.
    assert!(project::Entity::find().all(&db).await.is_err());
}

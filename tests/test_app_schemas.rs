//! `sea_tenancy::testing::TestApp` for an app whose tenants are schemas alone (made as
//! `tenants create` makes them), and the mistakes it refuses: bare schemas for an app whose
//! tenants are rows, schemas the app would never list.

use saas_app::SaasApp;
use saas_app::entities::{post, user};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use sea_tenancy::TenancyApp;
use sea_tenancy::testing::{MigratorsApp, TestApp};

/// The reference app's migrations, with tenants found by schema name (`team_*`) instead of by
/// organization row.
fn team_app() -> MigratorsApp<migrations::Migrator, tenant_migrations::Migrator> {
    MigratorsApp::new()
        .with_login_secret(|| SaasApp.login_secret())
        .with_schemas_like("team\\_%")
}

#[tokio::test]
async fn creates_migrated_tenant_schemas_with_their_roles() {
    let app = TestApp::create(team_app(), ["team_a", "team_b"]).await;
    let schemas: Vec<&str> = app.tenants().iter().map(|t| t.schema()).collect();
    assert_eq!(schemas, ["team_a", "team_b"]);
    assert!(app.rows().is_empty());

    let author = user::ActiveModel {
        email: Set("author@example.com".into()),
        ..Default::default()
    }
    .insert(app.tenancy())
    .await
    .unwrap();
    post::ActiveModel {
        title: Set("a's post".into()),
        author_id: Set(author.id),
        ..Default::default()
    }
    .insert(&app.tenant(0))
    .await
    .unwrap();
    // Each schema holds the tenant tables and is reached as its own role.
    let a = post::Entity::find().all(&app.tenant(0)).await.unwrap();
    assert_eq!(a.len(), 1);
    assert!(
        post::Entity::find()
            .all(&app.tenant(1))
            .await
            .unwrap()
            .is_empty()
    );
    // Each tenant is reached as a role of its own, not the owner's.
    let mut users = Vec::new();
    for i in 0..2 {
        let row = app
            .tenant(i)
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT current_user::text AS u",
            ))
            .await
            .unwrap()
            .unwrap();
        users.push(row.try_get::<String>("", "u").unwrap());
    }
    assert_ne!(users[0], users[1]);
    assert!(!users.contains(&"postgres".to_owned()), "{users:?}");
}

#[tokio::test]
#[should_panic(expected = "use TestApp::provision")]
async fn refuses_bare_schemas_for_an_app_whose_tenants_are_rows() {
    let _app = TestApp::create(SaasApp, ["org_1"]).await;
}

#[tokio::test]
#[should_panic(expected = "does not list `crew_a`")]
async fn refuses_schemas_the_app_does_not_list() {
    let _app = TestApp::create(team_app(), ["crew_a"]).await;
}

#[tokio::test]
#[should_panic(expected = "TestApp has 2 tenant(s); there is no tenant 2")]
async fn tenant_out_of_range_names_the_count() {
    let app = TestApp::create(team_app(), ["team_x", "team_y"]).await;
    let _ = app.tenant(2);
}

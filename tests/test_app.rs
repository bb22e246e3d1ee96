use saas_app::SaasApp;
use saas_app::entities::{organization, post, user};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use sea_tenancy::testing::TestApp;

#[tokio::test]
async fn each_organization_sees_only_its_own_posts() {
    // A fresh database: public set migrated, roles installed, and two organizations provisioned
    // (row, schema, role, tenant migrations) with `manage::provision`, as a sign-up would.
    let app = TestApp::provision(SaasApp, 2, |i| organization::ActiveModel {
        name: Set(format!("org {i}")),
        ..Default::default()
    })
    .await;
    // Global tables through the app's global role...
    let author = user::ActiveModel {
        email: Set("author@example.com".into()),
        ..Default::default()
    }
    .insert(app.tenancy())
    .await
    .unwrap();
    // ...tenant tables through a tenant's own role.
    post::ActiveModel {
        title: Set("hello".into()),
        author_id: Set(author.id),
        ..Default::default()
    }
    .insert(&app.tenant(0))
    .await
    .unwrap();

    let first = post::Entity::find().all(&app.tenant(0)).await.unwrap();
    let second = post::Entity::find().all(&app.tenant(1)).await.unwrap();
    assert_eq!((first.len(), second.len()), (1, 0));
    // The rows the tenants were made from, with their generated keys.
    assert_eq!(app.rows()[1].name, "org 1");
    assert_eq!(app.tenants()[1], app.rows()[1].tenant());
} // the database and the tenants' roles are dropped here

// ---- not in the README: the check that the README shows the example above verbatim ----

#[test]
fn the_readme_shows_this_example() {
    let this = include_str!("test_app.rs");
    let example = this
        .split("\n// ---- not in the README")
        .next()
        .expect("the marker line")
        .trim_end();
    let readme = include_str!("../README.md");
    assert!(
        readme.contains(&format!("```rust\n{example}\n```")),
        "README.md's \"Testing\" section must show tests/test_app.rs up to its marker line, verbatim"
    );
}

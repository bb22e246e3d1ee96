//! Tenant lifecycle behaviours AshPostgres users rely on, and CLI commands that never half-act.

mod common;

use clap::Parser;
use saas_app::SaasApp;
use saas_app::entities::{organization, post};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, Set, Statement,
};
use sea_orm_migration::prelude::*;
use sea_tenancy::cli::{Cli, execute};
use sea_tenancy::manage::update_tenant;
use sea_tenancy::testing::MigratorsApp;
use sea_tenancy::{TenancyApp, TenancyError, TenantError};

async fn schemas(db: &sea_orm::DatabaseConnection, like: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT nspname::text AS n FROM pg_namespace WHERE nspname LIKE $1 ORDER BY 1",
        [like.into()],
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get("", "n").unwrap())
    .collect()
}

fn cli(app: &common::App, args: &[&str]) -> Cli {
    let mut argv = vec!["app", "--database-url", app.database.url()];
    argv.extend_from_slice(args);
    Cli::parse_from(argv)
}

/// `template = ["org_", id]`: changing the primary key renames the row, the schema and the
/// role in one transaction; an invalid name changes nothing.
#[tokio::test]
async fn renaming_when_the_template_is_the_primary_key() {
    let app = common::app().await;
    let (acme, tenant) = app.org("Acme").await;
    let alice = app.user("alice@example.com").await;
    post::ActiveModel {
        title: Set("kept".into()),
        author_id: Set(alice.id),
        ..Default::default()
    }
    .insert(&app.db.with_tenant(tenant))
    .await
    .unwrap();

    let mut am = acme.clone().into_active_model();
    am.id = Set(77);
    let moved = update_tenant(&SaasApp, &app.raw, &acme, am).await.unwrap();
    assert_eq!(moved.id, 77);
    assert_eq!(schemas(&app.raw, "org\\_%").await, ["org_77"]);
    let conn = app.db.with_tenant(moved.tenant());
    assert_eq!(post::Entity::find().count(&conn).await.unwrap(), 1);
    assert!(
        organization::Entity::find_by_id(acme.id)
            .one(&app.raw)
            .await
            .unwrap()
            .is_none()
    );

    // An id that makes no valid schema name: refused, nothing changed.
    let mut am = moved.clone().into_active_model();
    am.id = Set(-5);
    let err = update_tenant(&SaasApp, &app.raw, &moved, am)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TenancyError::Tenant(TenantError::InvalidCharacter { .. })
        ),
        "{err}"
    );
    assert_eq!(schemas(&app.raw, "org\\_%").await, ["org_77"]);
    assert!(
        organization::Entity::find_by_id(77)
            .one(&app.raw)
            .await
            .unwrap()
            .is_some()
    );
    // A stale `before` (its row is gone): not found, nothing changed.
    let mut am = acme.clone().into_active_model();
    am.id = Set(78);
    let err = update_tenant(&SaasApp, &app.raw, &acme, am)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("None of the records are updated"),
        "{err}"
    );
    assert_eq!(schemas(&app.raw, "org\\_%").await, ["org_77"]);
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

/// Tenants listed by schema name (no managing entity), with the failing set.
fn by_schema() -> MigratorsApp<migrations::Migrator, Failing> {
    MigratorsApp::new()
        .with_login_secret(|| SaasApp.login_secret())
        .with_schemas_like("shop\\_%")
}

/// `tenants create` is one transaction: a failing migration leaves no schema and no role.
#[tokio::test]
async fn tenants_create_is_atomic() {
    let app = common::app().await;
    let err = execute(&by_schema(), cli(&app, &["tenants", "create", "shop_1"]))
        .await
        .unwrap_err();
    assert!(err.contains("nothing was created"), "{err}");
    assert!(err.contains("no_such_table"), "{err}");
    assert!(schemas(&app.raw, "shop\\_%").await.is_empty());
    let role = app.db.role_names().tenant("shop_1");
    let roles = app
        .raw
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 FROM pg_roles WHERE rolname = $1",
            [role.into()],
        ))
        .await
        .unwrap();
    assert!(roles.is_empty(), "no role left behind");
}

/// With a managing entity, schemas follow rows: the schema commands refuse and name the function
/// that keeps both in step.
#[tokio::test]
async fn schema_commands_refuse_when_tenants_are_rows() {
    let app = common::app().await;
    let (_, acme) = app.org("Acme").await;
    for (args, function) in [
        (vec!["tenants", "create", "org_99"], "provision"),
        (
            vec!["tenants", "rename", acme.schema(), "org_100"],
            "update_tenant",
        ),
        (
            vec!["tenants", "drop", acme.schema(), "--yes"],
            "delete_tenant",
        ),
    ] {
        let err = execute(&SaasApp, cli(&app, &args)).await.unwrap_err();
        assert!(err.contains(function), "{args:?}: {err}");
        assert!(err.contains("organizations"), "{args:?}: {err}");
    }
    assert_eq!(schemas(&app.raw, "org\\_%").await, [acme.schema()]);
}

/// Upserts on attribute tables: the unique key is `(org_id, user_id)`, the app names
/// `user_id` alone (as it would without tenants); the tenant column joins the conflict target,
/// so each tenant upserts its own row and never meets another tenant's.
#[tokio::test]
async fn upserts_on_attribute_tables_are_per_tenant() {
    use saas_app::entities::membership;
    use sea_orm::sea_query::OnConflict;
    let app = common::app().await;
    app.raw
        .execute_unprepared(
            "CREATE UNIQUE INDEX memberships_org_user ON memberships (org_id, user_id)",
        )
        .await
        .unwrap();
    let (_, acme) = app.org("Acme").await;
    let (_, globex) = app.org("Globex").await;
    let alice = app.user("alice@example.com").await;
    let upsert = |role: &str| {
        membership::Entity::insert(membership::ActiveModel {
            user_id: Set(alice.id),
            role: Set(role.into()),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::column(membership::Column::UserId)
                .update_column(membership::Column::Role)
                .to_owned(),
        )
    };
    let a = app.db.with_tenant(acme.clone());
    let g = app.db.with_tenant(globex.clone());
    upsert("member").exec(&a).await.unwrap();
    upsert("admin").exec(&a).await.unwrap();
    upsert("viewer").exec(&g).await.unwrap();
    let roles = |rows: Vec<membership::Model>| rows.into_iter().map(|m| m.role).collect::<Vec<_>>();
    assert_eq!(
        roles(membership::Entity::find().all(&a).await.unwrap()),
        ["admin"]
    );
    assert_eq!(
        roles(membership::Entity::find().all(&g).await.unwrap()),
        ["viewer"]
    );
    assert_eq!(membership::Entity::find().count(&app.raw).await.unwrap(), 2);
    // Raw SQL is routed the same way; a target naming a constraint is left as written.
    a.execute_unprepared(&format!(
        "INSERT INTO memberships (user_id, role) VALUES ({}, 'owner') ON CONFLICT (user_id) DO UPDATE SET role = excluded.role",
        alice.id
    ))
    .await
    .unwrap();
    a.execute_unprepared(&format!(
        "INSERT INTO memberships (user_id, role) VALUES ({}, 'x') ON CONFLICT ON CONSTRAINT memberships_pkey DO NOTHING",
        alice.id
    ))
    .await
    .unwrap_err();
    assert_eq!(
        roles(membership::Entity::find().all(&a).await.unwrap()),
        ["owner"]
    );
    assert_eq!(
        roles(membership::Entity::find().all(&g).await.unwrap()),
        ["viewer"]
    );
}

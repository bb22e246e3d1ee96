//! manage_tenant: rows of a `ManageTenant` entity are tenants; their schemas are created,
//! renamed and dropped with them, atomically.

mod common;

use saas_app::SaasApp;
use saas_app::entities::{organization, post};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, Set, Statement, TransactionTrait,
    sea_query::Expr,
};
use sea_orm_migration::prelude::*;
use sea_tenancy::manage::{delete_tenant, install_guard, provision, update_tenant};
use sea_tenancy::testing::MigratorsApp;
use sea_tenancy::{TenancyApp, TenancyError, Tenant};

/// A tenant entity whose template field can change: `ws_<slug>`, schemas kept on delete.
mod workspace {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::ManageTenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, ManageTenant)]
    #[sea_orm(table_name = "workspaces")]
    #[manage_tenant(template = ["ws_", slug])]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub slug: String,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Like `workspace`, but declared `update = false`.
mod frozen {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::ManageTenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, ManageTenant)]
    #[sea_orm(table_name = "frozen_workspaces")]
    #[manage_tenant(template = ["fz_", slug], update = false)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub slug: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The first column of every row of `sql`, as text.
async fn texts(db: &DatabaseConnection, sql: &str, params: Vec<sea_orm::Value>) -> Vec<String> {
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        params,
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get_by_index::<String>(0).unwrap())
    .collect()
}

async fn schemas(db: &DatabaseConnection, like: &str) -> Vec<String> {
    let sql = "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1 ORDER BY 1";
    texts(db, sql, vec![like.into()]).await
}

async fn tables_in(db: &DatabaseConnection, schema: &str) -> Vec<String> {
    let sql =
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1";
    texts(db, sql, vec![schema.into()]).await
}

async fn applied_versions(db: &DatabaseConnection, schema: &str) -> Vec<String> {
    let sql = format!("SELECT version FROM \"{schema}\".seaql_migrations ORDER BY version");
    texts(db, &sql, vec![]).await
}

fn org(name: &str) -> organization::ActiveModel {
    organization::ActiveModel {
        name: Set(name.into()),
        ..Default::default()
    }
}

async fn workspaces_table(db: &DatabaseConnection) {
    db.execute_unprepared(
        "CREATE TABLE workspaces (id bigserial PRIMARY KEY, slug text NOT NULL, name text NOT NULL);
         CREATE TABLE frozen_workspaces (id bigserial PRIMARY KEY, slug text NOT NULL);",
    )
    .await
    .unwrap();
    install_guard(db, "workspaces", &["slug"]).await.unwrap();
    install_guard(db, "frozen_workspaces", &["slug"])
        .await
        .unwrap();
}

fn ws(slug: &str) -> workspace::ActiveModel {
    workspace::ActiveModel {
        slug: Set(slug.into()),
        name: Set(slug.to_uppercase()),
        ..Default::default()
    }
}

#[tokio::test]
async fn insert_creates_a_fully_migrated_schema() {
    let app = common::app().await;
    let acme = provision(&SaasApp, &app.raw, org("Acme")).await.unwrap();
    assert_eq!(acme.tenant(), Tenant::new("org_1", 1).unwrap());
    assert_eq!(
        tables_in(&app.raw, "org_1").await,
        ["comments", "posts", "seaql_migrations"]
    );
    let expected: Vec<String> = tenant_migrations::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    assert_eq!(applied_versions(&app.raw, "org_1").await, expected);
    // The caller's session is left as it was.
    let row = app
        .raw
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SHOW search_path",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.try_get::<String>("", "search_path").unwrap(),
        "\"$user\", public"
    );
    // all_tenants lists the rows; schemas_like finds the schemas.
    assert_eq!(
        SaasApp.all_tenants(&app.raw).await.unwrap(),
        vec![acme.tenant()]
    );
    let by_schema = sea_tenancy::all_tenants::schemas_like(&app.raw, "org\\_%")
        .await
        .unwrap();
    assert_eq!(
        by_schema.iter().map(|t| t.schema()).collect::<Vec<_>>(),
        ["org_1"]
    );
}

#[tokio::test]
async fn a_plain_orm_insert_cannot_make_half_a_tenant() {
    let app = common::app().await;
    let err = org("Sneaky").insert(&app.raw).await.unwrap_err();
    assert!(
        err.to_string().contains("their schemas must follow them"),
        "{err}"
    );
    assert_eq!(
        organization::Entity::find().count(&app.raw).await.unwrap(),
        0
    );
    // update_many / delete_many skip SeaORM hooks, but not the trigger.
    let acme = provision(&SaasApp, &app.raw, org("Acme")).await.unwrap();
    let err = organization::Entity::update_many()
        .col_expr(organization::Column::Id, Expr::value(99))
        .exec(&app.raw)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("their schemas must follow them"),
        "{err}"
    );
    let err = organization::Entity::delete_many()
        .exec(&app.raw)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("their schemas must follow them"),
        "{err}"
    );
    // Columns outside the template change freely.
    let mut am = acme.into_active_model();
    am.name = Set("Acme Inc".into());
    am.update(&app.raw).await.unwrap();
}

/// The reference tenant set plus a migration that creates a table and then fails.
fn failing_app() -> MigratorsApp<migrations::Migrator, FailingMigrator> {
    MigratorsApp::new().with_login_secret(|| SaasApp.login_secret())
}

struct FailingMigrator;

#[derive(DeriveMigrationName)]
struct Fails;

#[async_trait::async_trait]
impl MigrationTrait for Fails {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("CREATE TABLE half_done (id int)")
            .await?;
        manager
            .get_connection()
            .execute_unprepared("SELECT * FROM no_such_table")
            .await?;
        Ok(())
    }
}

impl MigratorTrait for FailingMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = tenant_migrations::Migrator::migrations();
        all.push(Box::new(Fails));
        all
    }
}

#[tokio::test]
async fn a_failing_tenant_migration_leaves_nothing() {
    let app = common::app().await;

    // Given the pool.
    let err = provision(&failing_app(), &app.raw, org("Doomed"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no_such_table"), "{err}");
    assert_eq!(
        organization::Entity::find().count(&app.raw).await.unwrap(),
        0
    );
    assert!(schemas(&app.raw, "org_%").await.is_empty());

    // Given the caller's transaction: the failure is contained, the caller's own work goes on.
    let txn = app.raw.begin().await.unwrap();
    let err = provision(&failing_app(), &txn, org("Doomed too"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no_such_table"), "{err}");
    let ok = provision(&SaasApp, &txn, org("Fine")).await.unwrap();
    txn.commit().await.unwrap();
    let orgs = organization::Entity::find().all(&app.raw).await.unwrap();
    assert_eq!(
        orgs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        ["Fine"]
    );
    assert_eq!(schemas(&app.raw, "org_%").await, [ok.tenant().schema()]);

    // A caller that rolls back takes the tenant with it.
    let txn = app.raw.begin().await.unwrap();
    provision(&SaasApp, &txn, org("Rolled back")).await.unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(
        organization::Entity::find().count(&app.raw).await.unwrap(),
        1
    );
    assert_eq!(schemas(&app.raw, "org_%").await.len(), 1);
}

#[tokio::test]
async fn rename_follows_the_template_or_changes_nothing() {
    let app = common::app().await;
    workspaces_table(&app.raw).await;
    let alpha = provision(&SaasApp, &app.raw, ws("alpha")).await.unwrap();
    let alice = app.user("alice@example.com").await;
    post::ActiveModel {
        title: Set("kept".into()),
        author_id: Set(alice.id),
        ..Default::default()
    }
    .insert(&app.db.with_tenant(alpha.tenant()))
    .await
    .unwrap();

    // Rename: the schema moves, its data with it.
    let mut am = alpha.clone().into_active_model();
    am.slug = Set("beta".into());
    let beta = update_tenant(&SaasApp, &app.raw, &alpha, am).await.unwrap();
    assert_eq!(schemas(&app.raw, "ws_%").await, ["ws_beta"]);
    // The tenant's role moves with it: the old one is gone, the new one logs in.
    let names = app.db.role_names().clone();
    let roles = |like: &str| {
        let sql = format!(
            "SELECT count(*) AS n FROM pg_roles WHERE rolname = '{}'",
            names.tenant(like)
        );
        let raw = app.raw.clone();
        async move {
            raw.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
                .await
                .unwrap()
                .unwrap()
                .try_get::<i64>("", "n")
                .unwrap()
        }
    };
    assert_eq!((roles("ws_alpha").await, roles("ws_beta").await), (0, 1));
    let posts = post::Entity::find()
        .all(&app.db.with_tenant(beta.tenant()))
        .await
        .unwrap();
    assert_eq!(posts[0].title, "kept");

    // Target exists: refused, nothing changed.
    app.raw
        .execute_unprepared("CREATE SCHEMA ws_taken")
        .await
        .unwrap();
    let mut am = beta.clone().into_active_model();
    am.slug = Set("taken".into());
    let err = update_tenant(&SaasApp, &app.raw, &beta, am)
        .await
        .unwrap_err();
    assert!(
        matches!(err, TenancyError::TenantExists(ref s) if s == "ws_taken"),
        "{err}"
    );
    // Invalid name: refused before any SQL of the rename, nothing changed.
    let mut am = beta.clone().into_active_model();
    am.slug = Set("Bad Slug\"; DROP SCHEMA public; --".into());
    let err = update_tenant(&SaasApp, &app.raw, &beta, am)
        .await
        .unwrap_err();
    assert!(matches!(err, TenancyError::Tenant(_)), "{err}");
    // Stale `before`: its schema is gone, refused.
    let mut am = alpha.clone().into_active_model();
    am.slug = Set("gamma".into());
    let err = update_tenant(&SaasApp, &app.raw, &alpha, am)
        .await
        .unwrap_err();
    assert!(
        matches!(err, TenancyError::TenantMissing(ref s) if s == "ws_alpha"),
        "{err}"
    );

    let row = workspace::Entity::find_by_id(beta.id)
        .one(&app.raw)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.slug, "beta");
    assert_eq!(schemas(&app.raw, "ws_%").await, ["ws_beta", "ws_taken"]);

    // Non-template changes never touch the schema.
    let mut am = row.clone().into_active_model();
    am.name = Set("Beta team".into());
    update_tenant(&SaasApp, &app.raw, &row, am).await.unwrap();
    assert_eq!(schemas(&app.raw, "ws_%").await, ["ws_beta", "ws_taken"]);

    // `update = false`: a template change is refused.
    let frozen = provision(
        &SaasApp,
        &app.raw,
        frozen::ActiveModel {
            slug: Set("ice".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut am = frozen.clone().into_active_model();
    am.slug = Set("water".into());
    let err = update_tenant(&SaasApp, &app.raw, &frozen, am)
        .await
        .unwrap_err();
    assert!(matches!(err, TenancyError::RenameDisabled { .. }), "{err}");
    let row = frozen::Entity::find_by_id(frozen.id)
        .one(&app.raw)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.slug, "ice");
}

#[tokio::test]
async fn delete_drops_or_keeps_as_declared() {
    let app = common::app().await;
    workspaces_table(&app.raw).await;
    // organizations: on_delete = "drop".
    let acme = provision(&SaasApp, &app.raw, org("Acme")).await.unwrap();
    let globex = provision(&SaasApp, &app.raw, org("Globex")).await.unwrap();
    delete_tenant(&SaasApp, &app.raw, acme).await.unwrap();
    assert_eq!(schemas(&app.raw, "org_%").await, [globex.tenant().schema()]);
    // workspaces: the default, keep.
    let w = provision(&SaasApp, &app.raw, ws("kept")).await.unwrap();
    delete_tenant(&SaasApp, &app.raw, w).await.unwrap();
    assert_eq!(workspace::Entity::find().count(&app.raw).await.unwrap(), 0);
    assert_eq!(schemas(&app.raw, "ws_%").await, ["ws_kept"]);
    // Deleting inside a caller's transaction that rolls back keeps row and schema.
    let txn = app.raw.begin().await.unwrap();
    delete_tenant(&SaasApp, &txn, globex.clone()).await.unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(schemas(&app.raw, "org_%").await, [globex.tenant().schema()]);
    assert!(
        organization::Entity::find_by_id(globex.id)
            .one(&app.raw)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_sign_ups_make_fifty_complete_schemas() {
    let app = common::app_with_pool(8).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let raw = app.raw.clone();
        tasks.push(tokio::spawn(async move {
            provision(&SaasApp, &raw, org(&format!("org {i}")))
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let tenants = SaasApp.all_tenants(&app.raw).await.unwrap();
    assert_eq!(tenants.len(), 50);
    let expected = tenant_migrations::Migrator::migrations().len();
    for tenant in tenants {
        assert_eq!(
            tables_in(&app.raw, tenant.schema()).await,
            ["comments", "posts", "seaql_migrations"]
        );
        assert_eq!(
            applied_versions(&app.raw, tenant.schema()).await.len(),
            expected
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sign_ups_for_one_schema_one_wins_cleanly() {
    let app = common::app_with_pool(4).await;
    workspaces_table(&app.raw).await;
    let (a, b) = tokio::join!(
        provision(&SaasApp, &app.raw, ws("same")),
        provision(&SaasApp, &app.raw, ws("same")),
    );
    let (ok, err) = match (a, b) {
        (Ok(ok), Err(err)) | (Err(err), Ok(ok)) => (ok, err),
        other => panic!("expected one success and one failure, got {other:?}"),
    };
    assert!(
        matches!(err, TenancyError::TenantExists(ref s) if s == "ws_same"),
        "{err}"
    );
    let rows = workspace::Entity::find()
        .filter(sea_orm::ColumnTrait::eq(&workspace::Column::Slug, "same"))
        .all(&app.raw)
        .await
        .unwrap();
    assert_eq!(rows, vec![ok]);
    assert_eq!(
        tables_in(&app.raw, "ws_same").await,
        ["comments", "posts", "seaql_migrations"]
    );
}

/// Everything that defines a schema's tables, with the schema name taken out.
async fn shape(db: &DatabaseConnection, schema: &str) -> Vec<String> {
    let sql = "SELECT format('%s.%s %s %s %s', table_name, column_name, data_type, is_nullable,
                      replace(coalesce(column_default, ''), $1 || '.', ''))
                 FROM information_schema.columns WHERE table_schema = $1
               UNION ALL
               SELECT format('%s %s %s', conrelid::regclass::text, conname, pg_get_constraintdef(oid))
                 FROM pg_constraint WHERE connamespace = $1::regnamespace
               UNION ALL
               SELECT replace(indexdef, $1 || '.', '') FROM pg_indexes WHERE schemaname = $1
               ORDER BY 1";
    let rows = texts(db, sql, vec![schema.into()]).await;
    let mut rows: Vec<String> = rows
        .into_iter()
        .map(|r| r.replace(&format!("{schema}."), ""))
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn the_recorded_script_builds_what_the_migrator_builds() {
    let app = common::app().await;
    // Through provision: a fresh schema gets the recorded script.
    let org = provision(&SaasApp, &app.raw, org("Scripted"))
        .await
        .unwrap();
    // Through the migrator, by hand.
    let txn = app.raw.begin().await.unwrap();
    txn.execute_unprepared("CREATE SCHEMA by_hand; SET LOCAL search_path = by_hand, public")
        .await
        .unwrap();
    tenant_migrations::Migrator::up(&txn, None).await.unwrap();
    txn.commit().await.unwrap();

    let scripted = shape(&app.raw, org.tenant().schema()).await;
    assert!(scripted.len() > 10, "{scripted:?}");
    assert_eq!(scripted, shape(&app.raw, "by_hand").await);
    assert_eq!(
        applied_versions(&app.raw, org.tenant().schema()).await,
        applied_versions(&app.raw, "by_hand").await
    );
}

/// A tenant set whose migration reads the database: it cannot be recorded and runs through the
/// migrator instead.
fn reading_app() -> MigratorsApp<migrations::Migrator, ReadingMigrator> {
    MigratorsApp::new().with_login_secret(|| SaasApp.login_secret())
}

struct ReadingMigrator;

#[derive(DeriveMigrationName)]
struct CreatesIfMissing;

#[async_trait::async_trait]
impl MigrationTrait for CreatesIfMissing {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !manager.has_table("notes").await? {
            manager
                .get_connection()
                .execute_unprepared("CREATE TABLE notes (id bigserial PRIMARY KEY)")
                .await?;
        }
        Ok(())
    }
}

impl MigratorTrait for ReadingMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = tenant_migrations::Migrator::migrations();
        all.push(Box::new(CreatesIfMissing));
        all
    }
}

#[tokio::test]
async fn migrations_that_read_run_through_the_migrator() {
    let app = common::app().await;
    let org = provision(&reading_app(), &app.raw, org("Reader"))
        .await
        .unwrap();
    assert_eq!(
        tables_in(&app.raw, org.tenant().schema()).await,
        ["comments", "notes", "posts", "seaql_migrations"]
    );
    assert_eq!(
        applied_versions(&app.raw, org.tenant().schema())
            .await
            .len(),
        2
    );
}

/// This program declares three managing entities (organizations, workspaces, frozen
/// workspaces): the default `all_tenants` refuses to guess and names them.
struct NoTenantList;

#[async_trait::async_trait]
impl TenancyApp for NoTenantList {
    type PublicMigrator = migrations::Migrator;
    type TenantMigrator = tenant_migrations::Migrator;
}

#[tokio::test]
async fn the_default_tenant_list_refuses_to_guess_between_managing_entities() {
    let app = common::app().await;
    let err = NoTenantList.all_tenants(&app.raw).await.unwrap_err();
    let text = err.to_string();
    for table in ["`organizations`", "`workspaces`", "`frozen_workspaces`"] {
        assert!(text.contains(table), "{text}");
    }
    assert!(
        text.contains("implement `TenancyApp::all_tenants`"),
        "{text}"
    );
}

/// `migrate_tenant_in` in the owner's transaction: a new schema gets the whole set (tracking
/// table included), a schema one migration behind gets that one — the same decision
/// (recorded script or migrator) as `migrate` and `provision` — and the caller's search path
/// is restored.
#[tokio::test]
async fn migrate_tenant_in_brings_a_schema_up_to_date_inside_the_callers_transaction() {
    use sea_tenancy::manage::{create_schema, migrate_tenant_in};
    use sea_tenancy::migrate::{State, rollback::rollback_tenant, status};
    let app = common::app().await;
    let tenant = Tenant::from_schema("ws_manual").unwrap();
    let txn = app.raw.begin().await.unwrap();
    create_schema(&txn, &tenant, false).await.unwrap();
    migrate_tenant_in::<tenant_migrations::Migrator>(&txn, &tenant)
        .await
        .unwrap();
    let path = txn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('search_path') AS p",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "p")
        .unwrap();
    assert!(!path.contains("ws_manual"), "{path}");
    txn.commit().await.unwrap();
    let current = |app: &common::App| {
        let tenant = tenant.clone();
        let db = app.raw.clone();
        async move {
            status::<tenant_migrations::Migrator, _>(&db, &[tenant])
                .await
                .unwrap()
                .remove(0)
                .state
        }
    };
    assert_eq!(current(&app).await, State::Current);
    assert!(
        tables_in(&app.raw, "ws_manual")
            .await
            .contains(&"posts".to_owned())
    );

    rollback_tenant::<tenant_migrations::Migrator>(&app.raw, &tenant, 1)
        .await
        .unwrap();
    assert_eq!(current(&app).await, State::Behind);
    let txn = app.raw.begin().await.unwrap();
    migrate_tenant_in::<tenant_migrations::Migrator>(&txn, &tenant)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(current(&app).await, State::Current);
}

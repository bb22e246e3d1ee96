//! Issue #14 item 1: a managing entity that is attribute-multitenant on its own key, with a
//! key the database generates (AshPostgres's usual "org" resource: `id uuid DEFAULT
//! gen_random_uuid()`), is provisioned without a client-side id; provisioning depends on no
//! session setting.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, DbErr, Set};
use sea_orm_migration::prelude::*;
use sea_tenancy::manage::provision;
use sea_tenancy::testing::{MigratorsApp, TestDatabase};
use sea_tenancy::{ManageTenant, Multitenant, Tenancy, TenancyError};

mod space {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, ManageTenant, Multitenant)]
    #[sea_orm(table_name = "spaces")]
    #[manage_tenant(template = ["sp_", slug])]
    #[multitenant(strategy = "attribute", column = "id")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub slug: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `spaces`, its tenant column's declared default kept (the generator's "keep" answer).
#[derive(DeriveMigrationName)]
struct CreateSpaces;

#[async_trait::async_trait]
impl MigrationTrait for CreateSpaces {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE spaces (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), slug text NOT NULL UNIQUE)",
        )
        .await?;
        sea_tenancy::rls::enable_tenant_isolation_keep_default(db, "spaces", "id").await
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE spaces")
            .await?;
        Ok(())
    }
}

struct Public;
impl MigratorTrait for Public {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateSpaces)]
    }
}

#[derive(DeriveMigrationName)]
struct CreateNotes;

#[async_trait::async_trait]
impl MigrationTrait for CreateNotes {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("CREATE TABLE notes (id bigserial PRIMARY KEY, body text NOT NULL)")
            .await?;
        Ok(())
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE notes")
            .await?;
        Ok(())
    }
}

struct TenantSet;
impl MigratorTrait for TenantSet {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateNotes)]
    }
}

/// The public set with `spaces`, whose rows are the tenants.
fn spaces() -> MigratorsApp<Public, TenantSet> {
    MigratorsApp::new().with_managed::<space::Entity>()
}

#[tokio::test]
async fn a_managing_row_with_a_database_generated_key_is_provisioned() {
    let database = TestDatabase::create().await;
    let spaces = spaces();
    let raw = database.connect().await;
    sea_tenancy::migrate::migrate_public(&spaces, &raw)
        .await
        .unwrap();
    let acme = provision(
        &spaces,
        &raw,
        space::ActiveModel {
            slug: Set("acme".into()),
            ..Default::default()
        },
    )
    .await
    .expect("provisioned without a client-side id");
    let globex = provision(
        &spaces,
        &raw,
        space::ActiveModel {
            slug: Set("globex".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_ne!(acme.id, globex.id);
    assert_eq!(acme.tenant().key(), acme.id.to_string());

    // Each tenant sees its own row of `spaces` (row-level security on its key) and its schema.
    let db = Tenancy::connect(&spaces, database.connect_options())
        .await
        .unwrap();
    let conn = db.with_tenant(acme.tenant());
    assert_eq!(
        space::Entity::find().all(&conn).await.unwrap(),
        std::slice::from_ref(&acme)
    );
    conn.execute_unprepared("INSERT INTO notes (body) VALUES ('hello')")
        .await
        .unwrap();
    let other = db.with_tenant(globex.tenant());
    assert_eq!(space::Entity::find().all(&other).await.unwrap(), [globex]);
    // The declared default is still the column's default (not replaced by the tenant key).
    let default: String = raw
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_get_expr(adbin, adrelid) AS d FROM pg_attrdef WHERE adrelid = 'spaces'::regclass",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "d")
        .unwrap();
    assert_eq!(default, "gen_random_uuid()");
}

/// With the default replaced by the tenant key (the generator's "replace" answer), a row
/// without an id has no key to take: refused with an error naming the column and the fix,
/// nothing created.
#[tokio::test]
async fn a_replaced_default_needs_the_key_from_the_row() {
    let database = TestDatabase::create().await;
    let spaces = spaces();
    let raw = database.connect().await;
    sea_tenancy::migrate::migrate_public(&spaces, &raw)
        .await
        .unwrap();
    raw.execute_unprepared("ALTER TABLE spaces ALTER COLUMN id DROP DEFAULT")
        .await
        .unwrap();
    sea_tenancy::rls::enable_tenant_isolation(&raw, "spaces", "id")
        .await
        .unwrap();
    let err = provision(
        &spaces,
        &raw,
        space::ActiveModel {
            slug: Set("acme".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, TenancyError::KeyMissing { ref table, ref column } if table == "spaces" && column == "id"),
        "{text}"
    );
    let schemas: Option<sea_orm::QueryResult> = raw
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT 1 AS x FROM pg_namespace WHERE nspname = 'sp_acme'",
        ))
        .await
        .unwrap();
    assert!(schemas.is_none());
}

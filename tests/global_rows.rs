//! Issue #14 item 5: attribute entities declared with `global_rows` — a NULL tenant column is a
//! shared row: every tenant reads it and none writes it; the global connection reads and writes
//! shared rows only. Enforced by PostgreSQL (row-level security), tried with raw SQL too.

mod common;

use saas_app::SaasApp;
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, DbErr, QueryOrder, Set};
use sea_orm_migration::prelude::*;
use sea_tenancy::testing::{MigratorsApp, TestDatabase};
use sea_tenancy::{Multitenant, Tenancy, TenancyApp};

mod tag {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
    #[sea_orm(table_name = "tags")]
    #[multitenant(strategy = "attribute", column = "org_id", global_rows)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: Option<i64>,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(DeriveMigrationName)]
struct CreateTags;

#[async_trait::async_trait]
impl MigrationTrait for CreateTags {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE tags (id bigserial PRIMARY KEY, org_id bigint REFERENCES organizations (id), name text NOT NULL)",
        )
        .await?;
        sea_tenancy::rls::enable_tenant_isolation_with_global_rows(db, "tags", "org_id").await
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE tags")
            .await?;
        Ok(())
    }
}

struct Public;
impl MigratorTrait for Public {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = migrations::Migrator::migrations();
        all.push(Box::new(CreateTags));
        all
    }
}

/// The reference app with `tags` in its public set.
fn tagged() -> MigratorsApp<Public, tenant_migrations::Migrator> {
    MigratorsApp::new()
        .with_login_secret(|| SaasApp.login_secret())
        .with_tenant_access(|table| SaasApp.tenant_access(table))
        .with_tenants_from(|db| TenancyApp::all_tenants(&SaasApp, db))
}

fn names(rows: Vec<tag::Model>) -> Vec<String> {
    rows.into_iter().map(|t| t.name).collect()
}

async fn all(conn: &impl ConnectionTrait) -> Vec<String> {
    names(
        tag::Entity::find()
            .order_by_asc(tag::Column::Name)
            .all(conn)
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn shared_rows_are_read_by_every_tenant_and_written_only_globally() {
    let database = TestDatabase::create().await;
    let tagged = tagged();
    let raw = database.connect().await;
    sea_tenancy::migrate::migrate_public(&tagged, &raw)
        .await
        .unwrap();
    let db = Tenancy::connect(&tagged, database.connect_options())
        .await
        .unwrap();
    let acme = sea_tenancy::manage::provision(
        &tagged,
        &raw,
        saas_app::entities::organization::ActiveModel {
            name: Set("Acme".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let globex = sea_tenancy::manage::provision(
        &tagged,
        &raw,
        saas_app::entities::organization::ActiveModel {
            name: Set("Globex".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (a, g) = (
        db.with_tenant(acme.tenant()),
        db.with_tenant(globex.tenant()),
    );

    // The global connection makes a shared row (the column left unset stays NULL) ...
    let shared = tag::ActiveModel {
        name: Set("shared".into()),
        ..Default::default()
    }
    .insert(&db)
    .await
    .unwrap();
    assert_eq!(shared.org_id, None);
    // ... and cannot write a tenant's row.
    tag::ActiveModel {
        org_id: Set(Some(acme.id)),
        name: Set("forged".into()),
        ..Default::default()
    }
    .insert(&db)
    .await
    .unwrap_err();
    // Tenants make their own rows (stamped).
    let mine = tag::ActiveModel {
        name: Set("acme only".into()),
        ..Default::default()
    }
    .insert(&a)
    .await
    .unwrap();
    assert_eq!(mine.org_id, Some(acme.id));
    tag::ActiveModel {
        name: Set("globex only".into()),
        ..Default::default()
    }
    .insert(&g)
    .await
    .unwrap();

    // Reads: each tenant its rows and the shared ones; the global connection the shared ones.
    assert_eq!(all(&a).await, ["acme only", "shared"]);
    assert_eq!(all(&g).await, ["globex only", "shared"]);
    assert_eq!(all(&db).await, ["shared"]);

    // A tenant cannot write shared rows, by the ORM or by raw SQL.
    let mut am: tag::ActiveModel = shared.clone().into();
    am.name = Set("taken over".into());
    assert!(am.update(&a).await.is_err());
    for sql in [
        "UPDATE tags SET name = 'taken over' WHERE org_id IS NULL",
        "DELETE FROM tags WHERE org_id IS NULL",
    ] {
        let done = a.execute_unprepared(sql).await.unwrap();
        assert_eq!(done.rows_affected(), 0, "{sql}");
    }
    for sql in [
        "INSERT INTO tags (org_id, name) VALUES (NULL, 'fake shared')",
        "UPDATE tags SET org_id = NULL WHERE name = 'acme only'",
    ] {
        assert!(a.execute_unprepared(sql).await.is_err(), "{sql}");
    }
    // Nor can the global connection reach a tenant's rows.
    let done = db
        .execute_unprepared("UPDATE tags SET name = 'x' WHERE org_id IS NOT NULL")
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 0);
    // The global connection maintains the shared rows.
    let mut am: tag::ActiveModel = shared.into();
    am.name = Set("shared, renamed".into());
    am.update(&db).await.unwrap();
    assert_eq!(all(&g).await, ["globex only", "shared, renamed"]);
    let raw_names: Vec<String> = names(tag::Entity::find().all(&raw).await.unwrap());
    assert_eq!(raw_names.len(), 3);
    assert!(raw_names.contains(&"acme only".to_owned()));
}

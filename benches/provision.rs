//! Tenant creation rate: `sea_tenancy::manage::provision` of an 8-table tenant (foreign keys,
//! indexes) and its login role against a raw SQL script doing the same DDL, `CREATE ROLE` (with
//! a pre-computed SCRAM verifier) and grants, over one connection, in one run.
//!
//! ```text
//! cargo bench --bench provision                # 100 tenants per side
//! PROVISION_TENANTS=500 cargo bench --bench provision
//! ```

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use sea_orm::sea_query::{ColumnDef, ForeignKey, Index, PostgresQueryBuilder, Table};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Set, TransactionTrait};
use sea_orm_migration::prelude::{
    DeriveMigrationName, MigrationTrait, MigratorTrait, SchemaManager,
};
use sea_tenancy::Setup;
use sea_tenancy::manage::{install_guard, provision};
use sea_tenancy::testing::TestDatabase;

mod tenant_row {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::ManageTenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, ManageTenant)]
    #[sea_orm(table_name = "bench_tenants")]
    #[manage_tenant(template = ["t_", id])]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The 8 tables, 8 foreign keys and 12 indexes of a realistic tenant, as SQL.
fn tenant_ddl() -> Vec<String> {
    let id = |name: &str| {
        ColumnDef::new(name.to_owned())
            .big_integer()
            .not_null()
            .auto_increment()
            .primary_key()
            .to_owned()
    };
    let text = |name: &str| {
        ColumnDef::new(name.to_owned())
            .string()
            .not_null()
            .to_owned()
    };
    let big = |name: &str| {
        ColumnDef::new(name.to_owned())
            .big_integer()
            .not_null()
            .to_owned()
    };
    let fk = |from: &str, col: &str, to: &str| {
        ForeignKey::create()
            .name(format!("fk_{from}_{col}"))
            .from(from.to_owned(), col.to_owned())
            .to(to.to_owned(), "id".to_owned())
            .to_owned()
    };
    let tables = [
        Table::create()
            .table("projects")
            .col(id("id"))
            .col(text("name"))
            .to_owned(),
        Table::create()
            .table("tasks")
            .col(id("id"))
            .col(big("project_id"))
            .col(text("title"))
            .foreign_key(&mut fk("tasks", "project_id", "projects"))
            .to_owned(),
        Table::create()
            .table("labels")
            .col(id("id"))
            .col(text("name"))
            .to_owned(),
        Table::create()
            .table("task_labels")
            .col(id("id"))
            .col(big("task_id"))
            .col(big("label_id"))
            .foreign_key(&mut fk("task_labels", "task_id", "tasks"))
            .foreign_key(&mut fk("task_labels", "label_id", "labels"))
            .to_owned(),
        Table::create()
            .table("comments")
            .col(id("id"))
            .col(big("task_id"))
            .col(text("body"))
            .foreign_key(&mut fk("comments", "task_id", "tasks"))
            .to_owned(),
        Table::create()
            .table("attachments")
            .col(id("id"))
            .col(big("task_id"))
            .col(big("comment_id"))
            .col(text("url"))
            .foreign_key(&mut fk("attachments", "task_id", "tasks"))
            .foreign_key(&mut fk("attachments", "comment_id", "comments"))
            .to_owned(),
        Table::create()
            .table("events")
            .col(id("id"))
            .col(big("project_id"))
            .col(text("kind"))
            .foreign_key(&mut fk("events", "project_id", "projects"))
            .to_owned(),
        Table::create()
            .table("settings")
            .col(id("id"))
            .col(big("project_id"))
            .col(text("key"))
            .foreign_key(&mut fk("settings", "project_id", "projects"))
            .to_owned(),
    ];
    let indexes = [
        ("tasks", "project_id"),
        ("tasks", "title"),
        ("task_labels", "task_id"),
        ("task_labels", "label_id"),
        ("comments", "task_id"),
        ("attachments", "task_id"),
        ("attachments", "comment_id"),
        ("events", "project_id"),
        ("events", "kind"),
        ("settings", "project_id"),
        ("settings", "key"),
        ("labels", "name"),
    ];
    let mut sql: Vec<String> = tables
        .iter()
        .map(|t| t.to_string(PostgresQueryBuilder))
        .collect();
    sql.extend(indexes.iter().map(|(t, c)| {
        Index::create()
            .name(format!("idx_{t}_{c}"))
            .table(t.to_string())
            .col(c.to_string())
            .to_string(PostgresQueryBuilder)
    }));
    sql
}

#[derive(DeriveMigrationName)]
struct CreateTenantTables;

#[async_trait::async_trait]
impl MigrationTrait for CreateTenantTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for statement in tenant_ddl() {
            manager
                .get_connection()
                .execute_unprepared(&statement)
                .await?;
        }
        Ok(())
    }
}

struct BenchMigrator;
impl MigratorTrait for BenchMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateTenantTables)]
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::var("PROVISION_TENANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let database = TestDatabase::create().await;
    let db = database.connect_with_pool_size(1).await;
    let app = common::app::<BenchMigrator>();
    // The roles (group, global, tenant map) both sides build on.
    sea_tenancy::migrate::migrate_public(&app, &db)
        .await
        .unwrap();
    let roles = Setup::of(&app, &db).await.unwrap();
    db.execute_unprepared(
        "CREATE TABLE bench_tenants (id bigserial PRIMARY KEY, name text NOT NULL);
         CREATE TABLE raw_tenants (id bigserial PRIMARY KEY, name text NOT NULL);",
    )
    .await
    .unwrap();
    install_guard(&db, "bench_tenants", &["id"]).await.unwrap();
    let ddl = tenant_ddl();

    // Warm-up, one of each.
    provision(&app, &db, row("warm")).await.unwrap();
    raw_tenant(&db, &roles, &ddl, "warm").await.unwrap();

    // Alternating tenant by tenant, so that both sides meet the same moments of the machine.
    let (mut lib, mut raw) = (Duration::ZERO, Duration::ZERO);
    for i in 0..n {
        let t = Instant::now();
        provision(&app, &db, row(&format!("tenant {i}")))
            .await
            .unwrap();
        lib += t.elapsed();
        let t = Instant::now();
        raw_tenant(&db, &roles, &ddl, &format!("tenant {i}"))
            .await
            .unwrap();
        raw += t.elapsed();
    }

    println!(
        "\ntenant creation, 8 tables + 8 FKs + 12 indexes, {n} tenants each, one connection\n"
    );
    println!("{:<58} {:>10} {:>10}", "path", "tenants/s", "ms/tenant");
    for (name, d) in [
        (
            "raw SQL: row + schema + role + DDL + grants, one script",
            raw,
        ),
        (
            "sea_tenancy::manage::provision (row, schema, role, set)",
            lib,
        ),
    ] {
        println!(
            "{:<58} {:>10.1} {:>10.2}",
            name,
            n as f64 / d.as_secs_f64(),
            d.as_secs_f64() * 1e3 / n as f64
        );
    }
    println!(
        "\nprovision / raw = {:.2}×",
        lib.as_secs_f64() / raw.as_secs_f64()
    );
}

fn row(name: &str) -> tenant_row::ActiveModel {
    tenant_row::ActiveModel {
        name: Set(name.to_owned()),
        ..Default::default()
    }
}

/// What a hand-written provisioner does: one transaction, one script — schema, login role
/// (password as a pre-computed SCRAM verifier), tables, grants, the role's tenant record.
async fn raw_tenant(
    db: &DatabaseConnection,
    roles: &Setup,
    ddl: &[String],
    name: &str,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    let row = txn
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "INSERT INTO raw_tenants (name) VALUES ($1) RETURNING id",
            [name.into()],
        ))
        .await?
        .unwrap();
    let id: i64 = row.try_get("", "id")?;
    let schema = format!("raw_{id}");
    let role = roles.names.tenant(&schema);
    let group = roles.names.tenants();
    let verifier = roles.secret.verifier(&role);
    let script = format!(
        "CREATE SCHEMA {schema}; \
         CREATE ROLE \"{role}\" LOGIN PASSWORD '{verifier}' IN ROLE \"{group}\"; \
         SET LOCAL search_path = {schema}; {}; \
         CREATE TABLE seaql_migrations (version varchar PRIMARY KEY, applied_at bigint NOT NULL); \
         INSERT INTO seaql_migrations VALUES ('m_create_tenant_tables', 0); \
         GRANT USAGE ON SCHEMA {schema} TO \"{role}\"; \
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO \"{role}\"; \
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO \"{role}\"; \
         ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO \"{role}\"; \
         ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO \"{role}\"; \
         REVOKE ALL ON seaql_migrations FROM \"{role}\"; \
         INSERT INTO public.sea_tenancy_tenants (role, schema, key) VALUES ('{role}', '{schema}', '{id}')",
        ddl.join("; ")
    );
    txn.execute_unprepared(&script).await?;
    txn.commit().await
}

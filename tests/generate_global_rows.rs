//! The generator and `global_rows` (issue #14 item 5): a nullable tenant column is refused
//! unless the entity declares shared rows, the rendered migration installs the shared-row
//! policies, they apply on PostgreSQL, and switching `global_rows` off swaps the policies back.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_tenancy::generate::{
    EntitySet, GenerateError, Layout, Operation, Options, Set, Tenancy, execute, plan, write,
};
use sea_tenancy::testing::TestDatabase;

mod tag {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tags")]
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

mod tag_owned {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tags")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub name: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

const LIB: &str = "pub use sea_orm_migration::prelude::*;\n\npub struct Migrator;\n\n#[async_trait::async_trait]\nimpl MigratorTrait for Migrator {\n    fn migrations() -> Vec<Box<dyn MigrationTrait>> {\n        vec![]\n    }\n}\n";

fn app_dir(name: &str) -> Layout {
    let root = std::env::temp_dir().join(format!(
        "sea-tenancy-gen-shared-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    let layout = Layout::new(&root);
    for set in Set::ALL {
        std::fs::create_dir_all(layout.src(set)).unwrap();
        std::fs::write(layout.src(set).join("lib.rs"), LIB).unwrap();
    }
    layout
}

fn options(ts: &str, name: &str) -> Options {
    Options {
        name: name.into(),
        timestamp: ts.into(),
        ..Options::default()
    }
}

fn attribute() -> Tenancy {
    Tenancy::Attribute {
        column: "org_id".into(),
    }
}

async fn policies(db: &impl ConnectionTrait) -> Vec<String> {
    db.query_all_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT policyname::text AS p FROM pg_policies WHERE tablename = 'tags' ORDER BY 1",
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get::<String>("", "p").unwrap())
    .collect()
}

#[test]
fn nullable_tenant_column_without_global_rows_is_refused_naming_the_fix() {
    let layout = app_dir("refused");
    let entities = EntitySet::new().with::<tag::Entity>(attribute()).unwrap();
    let err = plan(&entities, &layout, &mut options("20260101_000000", "x")).unwrap_err();
    assert!(
        matches!(err, GenerateError::NullableTenantColumn { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("global_rows"), "{err}");
    let _ = std::fs::remove_dir_all(&layout.root);
}

#[tokio::test]
async fn global_rows_render_apply_and_switch_off() {
    let database = TestDatabase::create().await;
    let db = database.connect().await;
    let layout = app_dir("apply");

    let shared = EntitySet::new()
        .with::<tag::Entity>(attribute())
        .unwrap()
        .with_global_rows("tags");
    let first = plan(&shared, &layout, &mut options("20260101_000000", "tags")).unwrap();
    let rendered: String = first
        .changes
        .iter()
        .filter(|c| c.path.extension().is_some_and(|e| e == "rs"))
        .filter_map(|c| c.contents.clone())
        .collect();
    assert!(
        rendered.contains("enable_tenant_isolation_with_global_rows("),
        "{rendered}"
    );
    let snapshot = first
        .changes
        .iter()
        .find(|c| c.path.ends_with("tags.json"))
        .and_then(|c| c.contents.clone())
        .unwrap();
    assert!(snapshot.contains("\"global_rows\": true"), "{snapshot}");
    write::apply(&first.changes).unwrap();
    execute::apply(&db, &first.operations[&Set::Public])
        .await
        .unwrap();
    assert_eq!(
        policies(&db).await,
        [
            "sea_tenancy_isolation",
            "sea_tenancy_shared_read",
            "sea_tenancy_shared_write"
        ]
    );
    // A shared row (NULL tenant) is accepted by the table.
    db.execute_unprepared("INSERT INTO tags (id, org_id, name) VALUES (1, NULL, 'shared')")
        .await
        .unwrap();

    // Unchanged entities: nothing to generate.
    let same = plan(&shared, &layout, &mut options("20260102_000000", "same")).unwrap();
    assert!(same.is_empty(), "{:?}", same.operations);

    // The entity drops `global_rows` (and the column becomes NOT NULL): the shared-row
    // policies go, plain isolation comes back.
    db.execute_unprepared("DELETE FROM tags").await.unwrap();
    let owned = EntitySet::new()
        .with::<tag_owned::Entity>(attribute())
        .unwrap();
    let mut decided = options("20260102_000000", "owned");
    decided
        .decisions
        .fills
        .push(("tags".into(), "org_id".into(), "0".into()));
    let second = plan(&owned, &layout, &mut decided).unwrap();
    let ops = &second.operations[&Set::Public];
    assert!(
        ops.iter()
            .any(|o| matches!(o, Operation::DisableTenantIsolation(i) if i.global_rows))
            && ops
                .iter()
                .any(|o| matches!(o, Operation::EnableTenantIsolation(i) if !i.global_rows)),
        "{ops:?}"
    );
    execute::apply(&db, ops).await.unwrap();
    assert_eq!(policies(&db).await, ["sea_tenancy_isolation"]);
    let err = db
        .execute_unprepared("INSERT INTO tags (id, org_id, name) VALUES (2, NULL, 'x')")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("null value"), "{err}");
    let _ = std::fs::remove_dir_all(&layout.root);
}

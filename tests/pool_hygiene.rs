//! One pooled connection shared by tenant A, tenant B and plain `db`, through commits,
//! rollbacks, failing statements and dropped transactions: no session state survives.

mod common;

use saas_app::entities::{membership, post};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, Set, Statement,
    TransactionTrait,
};

async fn show(db: &impl ConnectionTrait, setting: &str) -> String {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT coalesce(current_setting($1, true), '') AS v",
            [setting.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "v").unwrap()
}

async fn assert_clean(app: &common::App) {
    // Plain `db` on the one pooled connection: default path, no tenant key, login role.
    assert_eq!(show(&app.raw, "search_path").await, "\"$user\", public");
    assert_eq!(show(&app.raw, "sea_tenancy.tenant").await, "");
    assert_eq!(show(&app.raw, "role").await, "none");
    let err = post::Entity::find().all(&app.raw).await.unwrap_err();
    assert!(
        err.to_string().contains("does not exist"),
        "plain db saw a tenant table: {err}"
    );
}

#[tokio::test]
async fn one_connection_never_leaks_a_tenant() {
    let app = common::app_with_pool(1).await;
    let (_, ta) = app.org("Acme").await;
    let (_, tb) = app.org("Globex").await;
    let alice = app.user("alice@example.com").await;
    let (a, b) = (
        app.db.with_tenant(ta.clone()),
        app.db.with_tenant(tb.clone()),
    );
    let new_post = |title: &str| post::ActiveModel {
        title: Set(title.into()),
        author_id: Set(alice.id),
        ..Default::default()
    };
    let new_membership = || membership::ActiveModel {
        user_id: Set(alice.id),
        role: Set("member".into()),
        ..Default::default()
    };

    for round in 0..3 {
        // Commit in A.
        let txn = a.begin().await.unwrap();
        new_post(&format!("a{round}")).insert(&txn).await.unwrap();
        new_membership().insert(&txn).await.unwrap();
        txn.commit().await.unwrap();
        assert_clean(&app).await;

        // Rollback in B.
        let txn = b.begin().await.unwrap();
        new_post("rolled back").insert(&txn).await.unwrap();
        txn.rollback().await.unwrap();
        assert_clean(&app).await;

        // A failing statement inside a tenant transaction of A.
        let txn = a.begin().await.unwrap();
        let err = txn
            .execute_unprepared("SELECT * FROM no_such_table")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no_such_table"));
        drop(txn);
        assert_clean(&app).await;

        // A transaction of B dropped half-way (as when a request handler panics or is cancelled).
        {
            let txn = b.begin().await.unwrap();
            new_post("dropped").insert(&txn).await.unwrap();
            new_membership().insert(&txn).await.unwrap();
        }
        assert_clean(&app).await;

        // Autocommit statements of both tenants, one after another on the same connection.
        new_post(&format!("b{round}")).insert(&b).await.unwrap();
        new_membership().insert(&b).await.unwrap();
        assert_clean(&app).await;

        let a_titles: Vec<String> = post::Entity::find()
            .all(&a)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.title)
            .collect();
        let b_titles: Vec<String> = post::Entity::find()
            .all(&b)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.title)
            .collect();
        assert_eq!(
            a_titles,
            (0..=round).map(|r| format!("a{r}")).collect::<Vec<_>>()
        );
        assert_eq!(
            b_titles,
            (0..=round).map(|r| format!("b{r}")).collect::<Vec<_>>()
        );
        let a_members = membership::Entity::find().all(&a).await.unwrap();
        let b_members = membership::Entity::find().all(&b).await.unwrap();
        assert_eq!(a_members.len(), round + 1);
        assert_eq!(b_members.len(), round + 1);
        assert!(a_members.iter().all(|m| m.org_id.to_string() == ta.key()));
        assert!(b_members.iter().all(|m| m.org_id.to_string() == tb.key()));
        assert_clean(&app).await;
    }
    assert_eq!(post::Entity::find().count(&a).await.unwrap(), 3);
}

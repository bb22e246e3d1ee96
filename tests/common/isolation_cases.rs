//! The isolation cases (`tests/isolation.rs`): two tenants, both strategies, each sees only its
//! own rows through every SeaORM call. They take the app so that the same cases run on plain
//! PostgreSQL and on a Citus cluster (`tests/citus.rs`).

use saas_app::entities::{comment, membership, post, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    ModelTrait, PaginatorTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use sea_tenancy::TenantConnection;

use super::App;

async fn add_post(db: &TenantConnection, title: &str, author: i64) -> post::Model {
    post::ActiveModel {
        title: Set(title.into()),
        author_id: Set(author),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap()
}

fn titles(posts: &[post::Model]) -> Vec<&str> {
    posts.iter().map(|p| p.title.as_str()).collect()
}

pub async fn schema_entities_stay_in_their_tenant(app: &App) {
    let (_, a) = app.org("Acme").await;
    let (_, b) = app.org("Globex").await;
    let alice = app.user("alice@example.com").await;
    let (a, b) = (app.db.with_tenant(a), app.db.with_tenant(b));

    // insert / ActiveModel::insert, ids are per schema.
    let a1 = add_post(&a, "a1", alice.id).await;
    let b1 = add_post(&b, "b1", alice.id).await;
    assert_eq!((a1.id, b1.id), (1, 1), "each tenant has its own sequence");
    // insert_many
    post::Entity::insert_many([
        post::ActiveModel {
            title: Set("a2".into()),
            author_id: Set(alice.id),
            ..Default::default()
        },
        post::ActiveModel {
            title: Set("a3".into()),
            author_id: Set(alice.id),
            ..Default::default()
        },
    ])
    .exec(&a)
    .await
    .unwrap();

    // find / order / filter
    let all_a = post::Entity::find()
        .order_by_asc(post::Column::Id)
        .all(&a)
        .await
        .unwrap();
    assert_eq!(titles(&all_a), ["a1", "a2", "a3"]);
    let all_b = post::Entity::find().all(&b).await.unwrap();
    assert_eq!(titles(&all_b), ["b1"]);
    assert!(
        post::Entity::find()
            .filter(post::Column::Title.eq("a1"))
            .one(&b)
            .await
            .unwrap()
            .is_none()
    );
    // find_by_id: the same id is a different row in each tenant.
    assert_eq!(
        post::Entity::find_by_id(1)
            .one(&a)
            .await
            .unwrap()
            .unwrap()
            .title,
        "a1"
    );
    assert_eq!(
        post::Entity::find_by_id(1)
            .one(&b)
            .await
            .unwrap()
            .unwrap()
            .title,
        "b1"
    );
    assert!(post::Entity::find_by_id(2).one(&b).await.unwrap().is_none());

    // relations: find_related, find_with_related, and schema → global (post → user)
    comment::ActiveModel {
        post_id: Set(a1.id),
        body: Set("on a1".into()),
        ..Default::default()
    }
    .insert(&a)
    .await
    .unwrap();
    comment::ActiveModel {
        post_id: Set(b1.id),
        body: Set("on b1".into()),
        ..Default::default()
    }
    .insert(&b)
    .await
    .unwrap();
    let a_comments = a1.find_related(comment::Entity).all(&a).await.unwrap();
    assert_eq!(
        a_comments
            .iter()
            .map(|c| c.body.as_str())
            .collect::<Vec<_>>(),
        ["on a1"]
    );
    let with = post::Entity::find()
        .order_by_asc(post::Column::Id)
        .find_with_related(comment::Entity)
        .all(&b)
        .await
        .unwrap();
    assert_eq!(with.len(), 1);
    assert_eq!(with[0].1[0].body, "on b1");
    let author = a1
        .find_related(user::Entity)
        .one(&a)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(author.email, "alice@example.com");
    let (p, u) = post::Entity::find()
        .find_also_related(user::Entity)
        .one(&b)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p.title.as_str(), u.unwrap().id), ("b1", alice.id));

    // paginate
    let pages = post::Entity::find()
        .order_by_asc(post::Column::Id)
        .paginate(&a, 2);
    assert_eq!(pages.num_items().await.unwrap(), 3);
    assert_eq!(pages.num_pages().await.unwrap(), 2);
    assert_eq!(titles(&pages.fetch_page(1).await.unwrap()), ["a3"]);
    assert_eq!(post::Entity::find().count(&b).await.unwrap(), 1);

    // update / save / delete through ActiveModel
    let mut am = a1.clone().into_active_model();
    am.title = Set("a1 edited".into());
    am.update(&a).await.unwrap();
    let mut am = b1.clone().into_active_model();
    am.title = Set("b1 saved".into());
    am.save(&b).await.unwrap();
    assert_eq!(
        post::Entity::find_by_id(1)
            .one(&a)
            .await
            .unwrap()
            .unwrap()
            .title,
        "a1 edited"
    );
    assert_eq!(
        post::Entity::find_by_id(1)
            .one(&b)
            .await
            .unwrap()
            .unwrap()
            .title,
        "b1 saved"
    );

    // update_many / delete_many touch only the tenant's rows
    let res = post::Entity::update_many()
        .col_expr(
            post::Column::Title,
            sea_orm::sea_query::Expr::value("renamed"),
        )
        .exec(&b)
        .await
        .unwrap();
    assert_eq!(res.rows_affected, 1);
    assert_eq!(
        titles(
            &post::Entity::find()
                .order_by_asc(post::Column::Id)
                .all(&a)
                .await
                .unwrap()
        ),
        ["a1 edited", "a2", "a3"]
    );
    let res = post::Entity::delete_many()
        .filter(post::Column::Id.gte(2))
        .exec(&a)
        .await
        .unwrap();
    assert_eq!(res.rows_affected, 2);
    assert_eq!(post::Entity::find().count(&b).await.unwrap(), 1);
    let a1 = post::Entity::find_by_id(1).one(&a).await.unwrap().unwrap();
    a1.delete(&a).await.unwrap();
    assert_eq!(post::Entity::find().count(&a).await.unwrap(), 0);
    assert_eq!(post::Entity::find().count(&b).await.unwrap(), 1);
}

pub async fn attribute_entities_are_filtered_and_stamped(app: &App) {
    let (org_a, a) = app.org("Acme").await;
    let (org_b, b) = app.org("Globex").await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let (a, b) = (app.db.with_tenant(a), app.db.with_tenant(b));

    // Insert without the tenant column: stamped with the connection's tenant.
    let m = membership::ActiveModel {
        user_id: Set(alice.id),
        role: Set("owner".into()),
        ..Default::default()
    }
    .insert(&a)
    .await
    .unwrap();
    assert_eq!(m.org_id, org_a.id);
    // Insert that names its own tenant explicitly: fine.
    membership::ActiveModel {
        org_id: Set(org_b.id),
        user_id: Set(bob.id),
        role: Set("owner".into()),
        ..Default::default()
    }
    .insert(&b)
    .await
    .unwrap();
    membership::Entity::insert_many([membership::ActiveModel {
        user_id: Set(bob.id),
        role: Set("member".into()),
        ..Default::default()
    }])
    .exec(&a)
    .await
    .unwrap();

    // Insert that names another tenant: refused by PostgreSQL, nothing written.
    let err = membership::ActiveModel {
        org_id: Set(org_b.id),
        user_id: Set(alice.id),
        role: Set("intruder".into()),
        ..Default::default()
    }
    .insert(&a)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");

    // Reads are filtered.
    let in_a = membership::Entity::find()
        .order_by_asc(membership::Column::Id)
        .all(&a)
        .await
        .unwrap();
    assert_eq!(in_a.len(), 2);
    assert!(in_a.iter().all(|m| m.org_id == org_a.id));
    let in_b = membership::Entity::find().all(&b).await.unwrap();
    assert_eq!(in_b.len(), 1);
    assert!(
        membership::Entity::find_by_id(m.id)
            .one(&b)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        membership::Entity::find()
            .paginate(&b, 10)
            .num_items()
            .await
            .unwrap(),
        1
    );
    let (mm, u) = membership::Entity::find()
        .find_also_related(user::Entity)
        .one(&b)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((mm.org_id, u.unwrap().id), (org_b.id, bob.id));

    // Updates and deletes reach only the tenant's rows.
    let res = membership::Entity::update_many()
        .col_expr(
            membership::Column::Role,
            sea_orm::sea_query::Expr::value("x"),
        )
        .exec(&b)
        .await
        .unwrap();
    assert_eq!(res.rows_affected, 1);
    let res = membership::Entity::delete_many().exec(&a).await.unwrap();
    assert_eq!(res.rows_affected, 2);
    assert_eq!(membership::Entity::find().count(&b).await.unwrap(), 1);
    // Moving a row to another tenant is refused.
    let mut am = in_b[0].clone().into_active_model();
    am.org_id = Set(org_a.id);
    assert!(am.update(&b).await.is_err());
    // A row of tenant b updated through tenant a: not found, not changed.
    let mut am = in_b[0].clone().into_active_model();
    am.role = Set("hijacked".into());
    assert!(matches!(am.update(&a).await, Err(DbErr::RecordNotUpdated)));
    let still = membership::Entity::find().one(&b).await.unwrap().unwrap();
    assert_eq!(still.role, "x");
}

pub async fn transactions_and_savepoints_stay_in_the_tenant(app: &App) {
    let (_, a) = app.org("Acme").await;
    let (_, b) = app.org("Globex").await;
    let alice = app.user("alice@example.com").await;
    let (a, b) = (app.db.with_tenant(a), app.db.with_tenant(b));

    let txn = a.begin().await.unwrap();
    post::ActiveModel {
        title: Set("kept".into()),
        author_id: Set(alice.id),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .unwrap();
    membership::ActiveModel {
        user_id: Set(alice.id),
        role: Set("owner".into()),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .unwrap();
    {
        let nested = txn.begin().await.unwrap();
        post::ActiveModel {
            title: Set("rolled back".into()),
            author_id: Set(alice.id),
            ..Default::default()
        }
        .insert(&nested)
        .await
        .unwrap();
        nested.rollback().await.unwrap();
    }
    // After ROLLBACK TO SAVEPOINT the tenant session still holds.
    assert_eq!(membership::Entity::find().count(&txn).await.unwrap(), 1);
    txn.commit().await.unwrap();

    // The closure form commits on Ok, rolls back on Err.
    b.transaction::<_, _, DbErr>(|txn| {
        Box::pin(async move {
            post::ActiveModel {
                title: Set("b".into()),
                author_id: Set(alice.id),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            Ok(())
        })
    })
    .await
    .unwrap();
    let failed = b
        .transaction::<_, (), DbErr>(|txn| {
            Box::pin(async move {
                post::ActiveModel {
                    title: Set("lost".into()),
                    author_id: Set(alice.id),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                Err(DbErr::Custom("abort".into()))
            })
        })
        .await;
    assert!(failed.is_err());

    assert_eq!(
        titles(&post::Entity::find().all(&a).await.unwrap()),
        ["kept"]
    );
    assert_eq!(titles(&post::Entity::find().all(&b).await.unwrap()), ["b"]);
}

pub async fn no_tenant_is_an_error_not_a_query_of_everything(app: &App) {
    let (_, a) = app.org("Acme").await;
    let alice = app.user("alice@example.com").await;
    let a = app.db.with_tenant(a);
    add_post(&a, "secret", alice.id).await;
    membership::ActiveModel {
        user_id: Set(alice.id),
        role: Set("owner".into()),
        ..Default::default()
    }
    .insert(&a)
    .await
    .unwrap();

    // Caught by sea-tenancy: `Tenancy` without a tenant, and its transactions.
    for err in [
        post::Entity::find().all(&app.db).await.unwrap_err(),
        membership::Entity::find().all(&app.db).await.unwrap_err(),
        membership::Entity::delete_many()
            .exec(&app.db)
            .await
            .unwrap_err(),
        post::Entity::find()
            .all(&app.db.begin().await.unwrap())
            .await
            .unwrap_err(),
    ] {
        assert!(err.to_string().contains("has no tenant"), "{err}");
    }
    // Global entities work without a tenant.
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 1);

    // Stopped by PostgreSQL: a plain SeaORM connection finds no `posts` table in `public`.
    let err = post::Entity::find().all(&app.raw).await.unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    // The global role itself, past sea-tenancy's checks: no tenant schema, no attribute rows.
    let global = app.db.inner();
    let err = global
        .execute_unprepared("SELECT * FROM org_1.posts")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    let rows = global
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT * FROM memberships",
        ))
        .await
        .unwrap();
    assert!(
        rows.is_empty(),
        "the global role is no tenant: no attribute rows"
    );

    // A tenant connection never reaches another tenant's schema, even when asked by name.
    let (_, b) = app.org("Globex").await;
    let b = app.db.with_tenant(b);
    let err = b
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT * FROM org_1.posts",
        ))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("only reaches its own schema"),
        "{err}"
    );
}

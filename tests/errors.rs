//! Errors that keep their advice: what sea-tenancy's guards (the managing table's trigger,
//! row-level security, role privileges) raise becomes a typed `TenancyError` whose `Display`
//! says what happened and what to do; the raw database error stays reachable.

mod common;

use saas_app::entities::{membership, organization, post};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use sea_tenancy::TenancyError;
use sea_tenancy::error::{GUARD_SQLSTATE, sqlstate};

fn org(name: &str) -> organization::ActiveModel {
    organization::ActiveModel {
        name: Set(name.to_owned()),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_guard_names_the_functions_to_call_even_in_the_raw_error() {
    let app = common::app().await;
    let err = org("Sneaky").insert(&app.raw).await.unwrap_err();
    assert_eq!(sqlstate(&err).as_deref(), Some(GUARD_SQLSTATE));
    // The plain DbErr's text carries the fix (it used to sit in HINT, which Display drops).
    let raw = err.to_string();
    assert!(raw.contains("sea_tenancy::manage::provision"), "{raw}");
    let typed = TenancyError::from(err);
    assert!(
        matches!(&typed, TenancyError::Guarded { table, .. } if table == "organizations"),
        "{typed:?}"
    );
    let text = typed.to_string();
    assert!(
        text.contains("`organizations`") && text.contains("`update_tenant`"),
        "{text}"
    );
    assert!(typed.db_err().is_some());
}

#[tokio::test]
async fn another_tenants_row_is_a_row_security_error_saying_what_to_do() {
    let app = common::app().await;
    let (_, acme) = app.org("Acme").await;
    let (globex_org, _) = app.org("Globex").await;
    let user = app.user("a@x").await;
    let err = membership::ActiveModel {
        org_id: Set(globex_org.id),
        user_id: Set(user.id),
        role: Set("owner".into()),
        ..Default::default()
    }
    .insert(&app.db.with_tenant(acme))
    .await
    .unwrap_err();
    let typed = TenancyError::from(err);
    assert!(
        matches!(&typed, TenancyError::RowSecurity { table, .. } if table == "memberships"),
        "{typed:?}"
    );
    assert!(typed.to_string().contains("leave the tenant column unset"));
}

#[tokio::test]
async fn missing_privileges_name_the_rule_and_the_fix() {
    let app = common::app().await;
    let (_, acme) = app.org("Acme").await;
    let (_, globex) = app.org("Globex").await;
    // A tenant's raw SQL aimed at another tenant's schema: PostgreSQL refuses.
    let acme_db = app.db.with_tenant(acme);
    let err = acme_db
        .execute_unprepared(&format!("UPDATE {}.posts SET title = 'x'", globex.schema()))
        .await
        .unwrap_err();
    let typed = TenancyError::from(err);
    match &typed {
        TenancyError::PermissionDenied { object, .. } => {
            assert!(object.contains(globex.schema()), "{object}")
        }
        // The router may refuse it first; either way the error says why.
        TenancyError::Db(db) => assert!(db.to_string().contains("sea-tenancy"), "{db}"),
        other => panic!("{other:?}"),
    }
    // The global role cannot insert managing rows (the guard by privileges).
    let err = org("Direct").insert(&app.db).await.unwrap_err();
    let typed = TenancyError::from(err);
    assert!(
        matches!(&typed, TenancyError::PermissionDenied { object, .. } if object.contains("organizations")),
        "{typed:?}"
    );
    assert!(typed.to_string().contains("sea_tenancy::manage"), "{typed}");
    // Errors of other kinds stay Db, unchanged.
    let err = post::Entity::find()
        .all(&app.db)
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(!matches!(
        TenancyError::from(err),
        TenancyError::PermissionDenied { .. }
    ));
}

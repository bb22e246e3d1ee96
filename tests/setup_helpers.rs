//! Helpers that remove boilerplate: `all_tenants` defaults to the one managing entity's rows,
//! `Entity::tenant_for(key)` renders a tenant from its key, `manage::find_tenant` finds it.
//! (This test program links one `#[derive(ManageTenant)]` entity: the reference app's.)

mod common;

use saas_app::SaasApp;
use saas_app::entities::organization;
use sea_orm::DatabaseConnection;
use sea_tenancy::manage::find_tenant;
use sea_tenancy::roles::{LoginSecret, TableAccess};
use sea_tenancy::{TenancyApp, TenancyError, Tenant};

/// The reference app with nothing but its migrators and secret: `all_tenants` is the default.
struct Minimal;

#[async_trait::async_trait]
impl TenancyApp for Minimal {
    type PublicMigrator = migrations::Migrator;
    type TenantMigrator = tenant_migrations::Migrator;

    fn login_secret(&self) -> Result<LoginSecret, TenancyError> {
        SaasApp.login_secret()
    }

    fn tenant_access(&self, table: &str) -> TableAccess {
        SaasApp.tenant_access(table)
    }
}

async fn tenants(app: &impl TenancyApp, db: &DatabaseConnection) -> Vec<Tenant> {
    app.all_tenants(db).await.unwrap()
}

#[tokio::test]
async fn all_tenants_defaults_to_the_managing_entitys_rows() {
    let app = common::app().await;
    assert!(tenants(&Minimal, &app.raw).await.is_empty());
    let (_, acme) = app.org("Acme").await;
    let (_, globex) = app.org("Globex").await;
    assert_eq!(tenants(&Minimal, &app.raw).await, [acme, globex]);
    assert_eq!(
        tenants(&Minimal, &app.raw).await,
        tenants(&SaasApp, &app.raw).await
    );
}

#[tokio::test]
async fn tenant_for_renders_from_the_key_and_find_tenant_checks_the_row() {
    let app = common::app().await;
    let (acme_org, acme) = app.org("Acme").await;
    assert_eq!(organization::Entity::tenant_for(acme_org.id).unwrap(), acme);
    let seven = organization::Entity::tenant_for(7).unwrap();
    assert_eq!((seven.schema(), seven.key()), ("org_7", "7"));

    assert_eq!(
        find_tenant::<organization::Entity, _>(&app.raw, acme_org.id)
            .await
            .unwrap(),
        Some(acme.clone())
    );
    assert_eq!(
        find_tenant::<organization::Entity, _>(&app.raw, 7)
            .await
            .unwrap(),
        None
    );
    // Through the app's global connection too.
    assert_eq!(
        find_tenant::<organization::Entity, _>(&app.db, acme_org.id)
            .await
            .unwrap(),
        Some(acme)
    );
}

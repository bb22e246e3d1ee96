//! Shared set-up for the integration tests: a fresh database per test, migrated with the
//! reference app's public set, and organizations provisioned as tenants.
#![allow(dead_code)]

pub mod isolation_cases;

use saas_app::SaasApp;
use saas_app::entities::{organization, user};
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};
use sea_tenancy::testing::TestDatabase;
use sea_tenancy::{Tenancy, Tenant};

pub struct App {
    /// Keeps the database alive; dropped last.
    pub database: TestDatabase,
    /// The owner's SeaORM connection (migrations, provisioning, administration).
    pub raw: DatabaseConnection,
    /// The tenancy-aware connection the app uses: the global role, and tenant roles through
    /// `with_tenant`.
    pub db: Tenancy,
}

pub async fn app() -> App {
    app_with_pool(5).await
}

pub async fn app_with_pool(max_connections: u32) -> App {
    app_in(TestDatabase::create().await, max_connections).await
}

/// The app in `database` (a fresh one: on a Citus cluster, say).
pub async fn app_in(database: TestDatabase, max_connections: u32) -> App {
    let raw = database.connect_with_pool_size(max_connections).await;
    sea_tenancy::migrate::migrate_public(&SaasApp, &raw)
        .await
        .expect("public migrations and roles");
    let mut options = database.connect_options();
    options.max_connections(max_connections);
    let db = Tenancy::connect(&SaasApp, options)
        .await
        .expect("tenancy connects as the global role");
    App { database, raw, db }
}

impl App {
    /// Inserts an organization and provisions its schema.
    pub async fn org(&self, name: &str) -> (organization::Model, Tenant) {
        let org = sea_tenancy::manage::provision(
            &saas_app::SaasApp,
            &self.raw,
            organization::ActiveModel {
                name: Set(name.to_owned()),
                ..Default::default()
            },
        )
        .await
        .expect("provision organization");
        let tenant = org.tenant();
        (org, tenant)
    }

    pub async fn user(&self, email: &str) -> user::Model {
        user::ActiveModel {
            email: Set(email.to_owned()),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .expect("insert user")
    }
}

//! The README's quickstart as a compiled, tested app: organizations are tenants, each with a
//! schema of its own for `projects`, while `tasks` is one table whose rows carry `org_id`.

use sea_tenancy::TenancyError;
use sea_tenancy::roles::LoginSecret;

/// Organizations: every row is a tenant with schema `org_<id>`.
pub mod organization {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::ManageTenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, ManageTenant)]
    #[sea_orm(table_name = "organizations")]
    #[manage_tenant(template = ["org_", id], on_delete = "drop")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Schema strategy: a `projects` table in every tenant's schema.
pub mod project {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::Multitenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
    #[sea_orm(table_name = "projects")]
    #[multitenant(strategy = "schema")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Attribute strategy: one `tasks` table; PostgreSQL keeps each tenant to its rows.
pub mod task {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::Multitenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
    #[sea_orm(table_name = "tasks")]
    #[multitenant(strategy = "attribute", column = "org_id")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub title: String,
        pub done: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The app as sea-tenancy sees it: its two migration sets (written by `init`, filled by
/// `generate-migrations`); tenants are the rows of `organization` (the default).
pub struct App;

#[async_trait::async_trait]
impl sea_tenancy::TenancyApp for App {
    type PublicMigrator = quickstart_migrations::Migrator;
    type TenantMigrator = quickstart_tenant_migrations::Migrator;

    /// `SEA_TENANCY_SECRET`, or in debug builds a development secret.
    fn login_secret(&self) -> Result<LoginSecret, TenancyError> {
        Ok(LoginSecret::from_env_or_development(
            "quickstart development secret: never deploy this",
        )?)
    }
}

//! [`TenancyApp`]: what the library needs to know about an application to run its commands.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use sea_orm_migration::MigratorTrait;

use crate::error::TenancyError;
use crate::roles::{LoginSecret, RoleNames, TableAccess};
use crate::tenant::Tenant;

/// An application using sea-tenancy: its two migration sets and how to find every tenant.
///
/// ```ignore
/// struct SaasApp;
///
/// #[async_trait::async_trait]
/// impl sea_tenancy::TenancyApp for SaasApp {
///     type PublicMigrator = migrations::Migrator;
///     type TenantMigrator = tenant_migrations::Migrator;
///     // `all_tenants` defaults to the rows of the one `#[derive(ManageTenant)]` entity.
/// }
/// ```
#[async_trait::async_trait]
pub trait TenancyApp: Send + Sync + 'static {
    /// Migrations of `public`: global and attribute-strategy tables.
    type PublicMigrator: MigratorTrait + 'static;
    /// Migrations run in every tenant schema: schema-strategy tables.
    type TenantMigrator: MigratorTrait + 'static;

    /// The secret every role's password is derived from (see [`crate::roles`]); the app and
    /// its migrations must use the same one. Default: [`LoginSecret::from_env`]
    /// (`SEA_TENANCY_SECRET`).
    fn login_secret(&self) -> Result<LoginSecret, TenancyError> {
        Ok(LoginSecret::from_env()?)
    }

    /// The prefix of every role name (see [`RoleNames`]). Default: `None`, derived from the
    /// name of the app's database, which is unique on its server.
    fn role_namespace(&self) -> Option<&str> {
        None
    }

    /// Whether the app's tenants are rows of a `#[derive(ManageTenant)]` entity (default: when
    /// the program has one). Then the CLI's `tenants create/rename/drop`, which act on schemas
    /// alone, refuse and name the function that keeps row and schema in step.
    fn tenants_are_rows(&self) -> bool {
        !crate::registry::manage_tenant_tables().is_empty()
    }

    /// What tenant connections may do with global table `table` (default: read it). Attribute
    /// tables are always readable and writable, row-level security keeping each tenant to its
    /// rows; tenant schemas are always the tenant's own.
    fn tenant_access(&self, table: &str) -> TableAccess {
        let _ = table;
        TableAccess::Read
    }

    /// Connection URLs of tenant databases from the app's configuration, by name (see
    /// [`crate::placement`]); they win over URLs stored in the catalog, so credentials need not
    /// live in a table. Names must still be added to the catalog.
    fn databases(&self) -> Vec<(String, crate::placement::DatabaseUrl)> {
        Vec::new()
    }

    /// Every tenant the runners must migrate. Default: the rows of the program's one
    /// `#[derive(ManageTenant)]` entity ([`crate::all_tenants::of_managing_entity`]); apps
    /// without one (or with several) implement it, e.g. with
    /// [`crate::all_tenants::schemas_like`].
    async fn all_tenants(&self, db: &DatabaseConnection) -> Result<Vec<Tenant>, DbErr> {
        crate::all_tenants::of_managing_entity(db).await
    }
}

/// What the owner's work in an app database needs to know: the role names, the login secret,
/// and whether the database runs Citus (whose DDL must then be sent statement by statement, and
/// which refuses triggers).
#[derive(Clone, Debug)]
pub struct Setup {
    /// The role names.
    pub names: RoleNames,
    /// The secret passwords are derived from.
    pub secret: LoginSecret,
    /// The `citus` extension is installed in the database.
    pub citus: bool,
}

impl Setup {
    /// `app`'s names (its namespace, or the name of the database `db` is connected to), its
    /// secret, and whether `db` runs Citus: one query.
    pub async fn of<A: TenancyApp + ?Sized, C: ConnectionTrait>(
        app: &A,
        db: &C,
    ) -> Result<Self, TenancyError> {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT current_database()::text AS name, EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') AS citus",
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("current_database()".to_owned()))?;
        let database: String = row.try_get("", "name")?;
        Ok(Self {
            names: names_for(app, &database)?,
            secret: app.login_secret()?,
            citus: row.try_get("", "citus")?,
        })
    }
}

/// The role names of `app` in database `database`.
pub(crate) fn names_for<A: TenancyApp + ?Sized>(
    app: &A,
    database: &str,
) -> Result<RoleNames, TenancyError> {
    Ok(match app.role_namespace() {
        Some(ns) => RoleNames::new(ns)?,
        None => RoleNames::for_database(database),
    })
}

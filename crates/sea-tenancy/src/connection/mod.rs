//! Tenant-scoped connections.
//!
//! - [`Tenancy`] is the app's handle: its own statements run as the *global* role (no tenant
//!   schema, no attribute rows) and refuse multitenant tables up front
//!   ([`TenancyError::TenantRequired`]).
//! - [`Tenancy::with_tenant`] gives a [`TenantConnection`]: every statement sent through it runs
//!   on a connection logged in as the tenant's own role (see `logins`), so PostgreSQL lets it
//!   reach only that tenant's schema and rows — whatever the SQL text says.
//! - Its transactions are [`TenantTransaction`]s (nested ones are savepoints).
//!
//! All of them implement SeaORM's `ConnectionTrait` and `TransactionTrait`, so entities, active
//! models, relations, pagination and transactions work unchanged. See `route` for what is
//! checked before a statement is sent.

mod builder;
pub(crate) mod ops;
mod tenant;

use std::sync::Arc;

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, TransactionOptions, TransactionTrait,
};

pub use builder::TenancyBuilder;
pub use tenant::{TenantConnection, TenantTransaction};

use crate::error::TenancyError;
use crate::logins::{LoginLimits, Logins};
use crate::placement::Placement;
use crate::registry::{Registry, RegistryError};
use crate::roles::RoleNames;
use crate::route::check_without_tenant;
use crate::tenant::Tenant;
use ops::{Op, routed_connection, session, wrapped_transactions};

/// The app's connection to a multitenant database.
///
/// ```no_run
/// # struct SaasApp;
/// # struct Empty;
/// # impl sea_orm_migration::MigratorTrait for Empty {
/// #     fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> { vec![] }
/// # }
/// # #[async_trait::async_trait]
/// # impl sea_tenancy::TenancyApp for SaasApp {
/// #     type PublicMigrator = Empty;
/// #     type TenantMigrator = Empty;
/// #     async fn all_tenants(&self, _: &sea_orm::DatabaseConnection) -> Result<Vec<sea_tenancy::Tenant>, sea_orm::DbErr> { Ok(vec![]) }
/// # }
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use sea_tenancy::{Tenancy, Tenant};
///
/// // The owner's URL (the one migrations use): tenant and global logins are derived from it
/// // and from the app's login secret (`SEA_TENANCY_SECRET`).
/// let db = Tenancy::connect(&SaasApp, "postgres://app_owner@localhost/app").await?;
/// let acme = db.with_tenant(Tenant::new("org_1", 1)?);
/// // `&acme` goes wherever SeaORM takes a connection: `Entity::find().all(&acme)`, ...
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Tenancy {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    /// Logged in as the global role.
    global: DatabaseConnection,
    logins: Logins,
    registry: Result<Arc<Registry>, RegistryError>,
    /// Where tenants live, when some live in databases of their own.
    placement: Option<Placement>,
}

impl Tenancy {
    /// A builder over the owner's connection options (a URL or SeaORM `ConnectOptions`): the
    /// pool settings apply to every login, the user and password are replaced by the global
    /// role's and each tenant role's.
    pub fn builder(options: impl Into<sea_orm::ConnectOptions>) -> TenancyBuilder {
        TenancyBuilder::new(options.into())
    }

    /// Connects with the app's login secret, role namespace and the registry of every
    /// `#[derive(Multitenant)]` entity: `Tenancy::builder(options).app(app)?.connect()`.
    pub async fn connect<A: crate::TenancyApp>(
        app: &A,
        options: impl Into<sea_orm::ConnectOptions>,
    ) -> Result<Self, TenancyError> {
        Self::builder(options).app(app)?.connect().await
    }

    /// A connection scoped to `tenant`. Cheap: connections are opened (or reused) per
    /// statement.
    pub fn with_tenant(&self, tenant: Tenant) -> TenantConnection {
        TenantConnection::new(self.shared.clone(), tenant)
    }

    /// The pool of the global role, without any tenancy check.
    pub fn inner(&self) -> &DatabaseConnection {
        &self.shared.global
    }

    /// The registry this connection routes by.
    pub fn registry(&self) -> Result<&Registry, TenancyError> {
        self.shared.registry()
    }

    /// The placement this connection routes by, if any.
    pub fn placement(&self) -> Option<&Placement> {
        self.shared.placement.as_ref()
    }

    /// The names of the roles this connection logs in as.
    pub fn role_names(&self) -> &RoleNames {
        self.shared.logins.names()
    }

    /// The limits of tenant logins.
    pub fn login_limits(&self) -> &LoginLimits {
        self.shared.logins.limits()
    }

    /// Tenant connections open now, and opened and closed since start (for monitoring the
    /// churn [`LoginLimits`] trades against).
    pub fn login_stats(&self) -> crate::logins::LoginStats {
        self.shared.logins.stats()
    }

    async fn run<O: Op>(&self, op: O) -> Result<O::Out, DbErr> {
        check_without_tenant(op.sql(), self.shared.registry()?)?;
        op.run(&self.shared.global).await
    }

    async fn open(&self, options: TransactionOptions) -> Result<TenancyTransaction, DbErr> {
        Ok(TenancyTransaction {
            shared: self.shared.clone(),
            txn: self.shared.global.begin_with_options(options).await?,
        })
    }
}

impl Shared {
    fn registry(&self) -> Result<&Registry, TenancyError> {
        self.registry
            .as_deref()
            .map_err(|e| TenancyError::Registry(e.clone()))
    }
}

/// A transaction of the global role: like [`Tenancy`], it refuses multitenant tables.
#[derive(Debug)]
pub struct TenancyTransaction {
    shared: Arc<Shared>,
    txn: DatabaseTransaction,
}

impl TenancyTransaction {
    /// Commits.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }

    async fn run<O: Op>(&self, op: O) -> Result<O::Out, DbErr> {
        check_without_tenant(op.sql(), self.shared.registry()?)?;
        op.run(&self.txn).await
    }

    async fn open(&self, options: TransactionOptions) -> Result<TenancyTransaction, DbErr> {
        Ok(TenancyTransaction {
            shared: self.shared.clone(),
            txn: self.txn.begin_with_options(options).await?,
        })
    }
}

routed_connection!(Tenancy);
routed_connection!(TenancyTransaction);
wrapped_transactions!(Tenancy, TenancyTransaction);
wrapped_transactions!(TenancyTransaction, TenancyTransaction);
session!(TenancyTransaction);

//! Tenant-scoped connections.
//!
//! - [`Tenancy`] wraps SeaORM's `DatabaseConnection`. Used without a tenant it refuses every
//!   statement that touches a multitenant table ([`TenancyError::TenantRequired`]).
//! - [`Tenancy::with_tenant`] gives a [`TenantConnection`]: ordinary SeaORM code run through it
//!   reaches only that tenant's schema and rows.
//! - Its transactions are [`TenantTransaction`]s (nested ones are savepoints).
//!
//! All three implement SeaORM's `ConnectionTrait` and `TransactionTrait`, so entities, active
//! models, relations, pagination and transactions work unchanged. See `route` for how a
//! statement is routed and `session` for what a tenant transaction sets.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, IsolationLevel, QueryResult, Statement, TransactionError, TransactionOptions,
    TransactionSession, TransactionTrait,
};
use tokio::sync::OwnedSemaphorePermit;

use crate::error::TenancyError;
use crate::placement::{Placement, Target, is_misplaced};
use crate::registry::{Registry, RegistryError};
use crate::route::{check_without_tenant, route_for_tenant};
use crate::session;
use crate::tenant::{Tenant, validate_role_name};

/// A database connection that knows which tables are multitenant.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use sea_tenancy::{Tenancy, Tenant};
///
/// let db = Tenancy::new(sea_orm::Database::connect("postgres://localhost/app").await?)
///     .with_app_role("sea_tenancy_app")?;
/// let acme = db.with_tenant(Tenant::new("org_1", 1)?);
/// // `&acme` goes wherever SeaORM takes a connection: `Entity::find().all(&acme)`, ...
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Tenancy {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    db: DatabaseConnection,
    registry: Result<Arc<Registry>, RegistryError>,
    app_role: Option<String>,
    /// Where tenants live, when some live in databases of their own.
    placement: Option<Placement>,
    /// Whether the login role bypasses row-level security (`Some(role)`), asked once per
    /// database (`None`: the default database): each may log in as another role.
    bypasses_rls: std::sync::Mutex<std::collections::HashMap<Option<Arc<str>>, Option<String>>>,
}

impl Tenancy {
    /// Wraps `db`, with the registry of every `#[derive(Multitenant)]` entity of the program.
    pub fn new(db: DatabaseConnection) -> Self {
        Self::build(db, Registry::global(), None, None)
    }

    /// Wraps `db` with an explicit registry (tests, or apps that register tables by hand).
    pub fn with_registry(db: DatabaseConnection, registry: Registry) -> Self {
        Self::build(db, Ok(Arc::new(registry)), None, None)
    }

    fn build(
        db: DatabaseConnection,
        registry: Result<Arc<Registry>, RegistryError>,
        app_role: Option<String>,
        placement: Option<Placement>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                db,
                registry,
                app_role,
                placement,
                bypasses_rls: Default::default(),
            }),
        }
    }

    /// Runs tenant transactions as `role` (`SET LOCAL ROLE`), a role without `BYPASSRLS`, so
    /// row-level security isolates attribute-strategy tables even when the app logs in as a
    /// superuser. Create it with [`crate::roles::install_app_role`].
    pub fn with_app_role(self, role: impl Into<String>) -> Result<Self, TenancyError> {
        let role = role.into();
        validate_role_name(&role)?;
        let shared = &self.shared;
        Ok(Self::build(
            shared.db.clone(),
            shared.registry.clone(),
            Some(role),
            shared.placement.clone(),
        ))
    }

    /// Routes each tenant to the database the catalog places it in (see
    /// [`crate::placement`]). Statements that name a multitenant table go to the tenant's
    /// database; statements on global tables only, and this `Tenancy` itself, use the default
    /// database `placement` was built on.
    pub fn with_placement(self, placement: Placement) -> Self {
        let shared = &self.shared;
        Self::build(
            placement.default_db().clone(),
            shared.registry.clone(),
            shared.app_role.clone(),
            Some(placement),
        )
    }

    /// The placement this connection routes by, if any.
    pub fn placement(&self) -> Option<&Placement> {
        self.shared.placement.as_ref()
    }

    /// A connection scoped to `tenant`.
    pub fn with_tenant(&self, tenant: Tenant) -> TenantConnection {
        TenantConnection {
            shared: self.shared.clone(),
            tenant,
        }
    }

    /// The wrapped connection, without any tenancy check: for migrations and administration.
    pub fn inner(&self) -> &DatabaseConnection {
        &self.shared.db
    }

    /// The registry this connection routes by.
    pub fn registry(&self) -> Result<&Registry, TenancyError> {
        self.shared.registry()
    }
}

impl Shared {
    fn registry(&self) -> Result<&Registry, TenancyError> {
        self.registry
            .as_deref()
            .map_err(|e| TenancyError::Registry(e.clone()))
    }

    /// Starts a tenant transaction on `begin` (a `DatabaseTransaction` of the pool) and sets the
    /// tenant's session in it.
    async fn enter(
        &self,
        txn: DatabaseTransaction,
        tenant: &Tenant,
        database: Option<&Arc<str>>,
    ) -> Result<DatabaseTransaction, DbErr> {
        if self.app_role.is_none() && self.registry()?.has_attribute_tables() {
            let known = self
                .bypasses_rls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&database.cloned())
                .cloned();
            let bypassing = match known {
                Some(answer) => answer,
                None => {
                    let answer = bypassing_role(&txn).await?;
                    self.bypasses_rls
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(database.cloned(), answer.clone());
                    answer
                }
            };
            if let Some(role) = bypassing {
                return Err(TenancyError::RlsBypassed { role }.into());
            }
        }
        let fenced = self.placement.is_some();
        session::enter(&txn, tenant, self.app_role.as_deref(), fenced).await?;
        Ok(txn)
    }
}

/// The login role, if it bypasses row-level security (superuser or `BYPASSRLS`).
async fn bypassing_role(txn: &DatabaseTransaction) -> Result<Option<String>, DbErr> {
    let row = txn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_user::text AS role, (rolsuper OR rolbypassrls) AS bypass FROM pg_roles WHERE rolname = current_user",
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let bypass: bool = row.try_get("", "bypass")?;
    bypass
        .then(|| row.try_get::<String>("", "role"))
        .transpose()
}

/// A connection scoped to one tenant. Cheap to clone; create one per request or task.
#[derive(Clone, Debug)]
pub struct TenantConnection {
    shared: Arc<Shared>,
    tenant: Tenant,
}

impl TenantConnection {
    /// The tenant this connection serves.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    async fn run<O: Op>(&self, mut op: O) -> Result<O::Out, DbErr> {
        let routed = route_for_tenant(op.sql(), self.shared.registry()?, &self.tenant)?;
        let needs_session = routed.needs_session;
        let touches_tenant = routed.touches_tenant;
        if let std::borrow::Cow::Owned(sql) = routed.sql {
            op.set_sql(sql);
        }
        if let Some(placement) = &self.shared.placement
            && touches_tenant
        {
            return self.run_placed(placement, op, needs_session).await;
        }
        if !needs_session {
            return op.run(&self.shared.db).await;
        }
        let txn = self.begin().await?;
        let out = op.run(&txn.txn).await?;
        txn.commit().await?;
        Ok(out)
    }

    /// Runs `op` in the tenant's database (in a tenant transaction when it needs the session).
    async fn run_placed<O: Op>(
        &self,
        placement: &Placement,
        op: O,
        needs_session: bool,
    ) -> Result<O::Out, DbErr> {
        self.on_target(placement, |target| {
            let op = op.clone();
            async move {
                if !needs_session {
                    // `target` (and its share of the connection limit) lives until the end.
                    return op.run(&target.db).await;
                }
                let txn = self.begin_on(target, TransactionOptions::default()).await?;
                let out = op.run(&txn.txn).await?;
                txn.commit().await?;
                Ok(out)
            }
        })
        .await
    }

    /// Runs `work` against the tenant's database. A tenant moved since the cache was filled is
    /// refused by its old database (the move fence, or its schema gone): the catalog is asked
    /// again and, if it now says elsewhere, `work` runs once more, there.
    async fn on_target<T, F, Fut>(&self, placement: &Placement, mut work: F) -> Result<T, DbErr>
    where
        F: FnMut(Target) -> Fut,
        Fut: Future<Output = Result<T, DbErr>>,
    {
        let mut retried = false;
        loop {
            let target = placement.target(&self.tenant).await?;
            let database = target.database.clone();
            match work(target).await {
                Err(e) if !retried && is_misplaced(&e) => {
                    placement.invalidate(&self.tenant);
                    if placement.database_of(&self.tenant).await? == database {
                        return Err(e);
                    }
                    retried = true;
                }
                other => return other,
            }
        }
    }

    /// Begins a tenant transaction on `db` and sets the tenant's session in it.
    async fn enter_on(
        &self,
        db: &DatabaseConnection,
        database: Option<&Arc<str>>,
        options: TransactionOptions,
    ) -> Result<TenantTransaction, DbErr> {
        let txn = self
            .shared
            .enter(
                db.begin_with_options(options).await?,
                &self.tenant,
                database,
            )
            .await?;
        Ok(TenantTransaction {
            shared: self.shared.clone(),
            tenant: self.tenant.clone(),
            txn,
            _permit: None,
        })
    }

    /// Begins a tenant transaction on `target`, holding its share of the connection limit.
    async fn begin_on(
        &self,
        target: Target,
        options: TransactionOptions,
    ) -> Result<TenantTransaction, DbErr> {
        let mut txn = self
            .enter_on(&target.db, target.database.as_ref(), options)
            .await?;
        txn._permit = target.permit;
        Ok(txn)
    }

    /// Begins a tenant transaction in the tenant's database.
    async fn open(&self, options: TransactionOptions) -> Result<TenantTransaction, DbErr> {
        match &self.shared.placement {
            None => self.enter_on(&self.shared.db, None, options).await,
            Some(placement) => {
                self.on_target(placement, |target| self.begin_on(target, options))
                    .await
            }
        }
    }
}

/// A transaction of one tenant: the tenant's search path, key and role are set for its whole
/// life and vanish with it. Dropping it without `commit` rolls it back.
#[derive(Debug)]
pub struct TenantTransaction {
    shared: Arc<Shared>,
    tenant: Tenant,
    txn: DatabaseTransaction,
    /// Its share of the placement's connection limit, released with it.
    _permit: Option<OwnedSemaphorePermit>,
}

impl TenantTransaction {
    /// The tenant this transaction serves.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }

    async fn run<O: Op>(&self, mut op: O) -> Result<O::Out, DbErr> {
        let routed = route_for_tenant(op.sql(), self.shared.registry()?, &self.tenant)?;
        if let std::borrow::Cow::Owned(sql) = routed.sql {
            op.set_sql(sql);
        }
        op.run(&self.txn).await
    }

    async fn open(&self, options: TransactionOptions) -> Result<TenantTransaction, DbErr> {
        Ok(TenantTransaction {
            shared: self.shared.clone(),
            tenant: self.tenant.clone(),
            txn: self.txn.begin_with_options(options).await?,
            _permit: None,
        })
    }
}

/// A transaction without a tenant: like [`Tenancy`], it refuses multitenant tables.
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
}

/// One SeaORM connection call, so each is routed by one piece of code.
trait Op: Send + Clone {
    type Out: Send;
    fn sql(&self) -> &str;
    fn set_sql(&mut self, sql: String);
    fn run<C: ConnectionTrait>(
        self,
        conn: &C,
    ) -> impl Future<Output = Result<Self::Out, DbErr>> + Send;
}

#[derive(Clone)]
struct Execute(Statement);
#[derive(Clone)]
struct QueryOne(Statement);
#[derive(Clone)]
struct QueryAll(Statement);
#[derive(Clone)]
struct Unprepared(String);

macro_rules! statement_op {
    ($op:ident, $out:ty, $method:ident) => {
        impl Op for $op {
            type Out = $out;
            fn sql(&self) -> &str {
                &self.0.sql
            }
            fn set_sql(&mut self, sql: String) {
                self.0.sql = sql;
            }
            fn run<C: ConnectionTrait>(
                self,
                conn: &C,
            ) -> impl Future<Output = Result<Self::Out, DbErr>> + Send {
                conn.$method(self.0)
            }
        }
    };
}
statement_op!(Execute, ExecResult, execute_raw);
statement_op!(QueryOne, Option<QueryResult>, query_one_raw);
statement_op!(QueryAll, Vec<QueryResult>, query_all_raw);

impl Op for Unprepared {
    type Out = ExecResult;
    fn sql(&self) -> &str {
        &self.0
    }
    fn set_sql(&mut self, sql: String) {
        self.0 = sql;
    }
    #[allow(clippy::manual_async_fn)] // `async fn` would not promise `Send`
    fn run<C: ConnectionTrait>(
        self,
        conn: &C,
    ) -> impl Future<Output = Result<ExecResult, DbErr>> + Send {
        async move { conn.execute_unprepared(&self.0).await }
    }
}

/// `ConnectionTrait` by routing every call through `self.run`.
macro_rules! routed_connection {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl ConnectionTrait for $ty {
            fn get_database_backend(&self) -> DbBackend {
                DbBackend::Postgres
            }
            async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
                self.run(Execute(stmt)).await
            }
            async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
                self.run(Unprepared(sql.to_owned())).await
            }
            async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
                self.run(QueryOne(stmt)).await
            }
            async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
                self.run(QueryAll(stmt)).await
            }
        }
    };
}
routed_connection!(Tenancy);
routed_connection!(TenancyTransaction);
routed_connection!(TenantConnection);
routed_connection!(TenantTransaction);

impl Tenancy {
    async fn run<O: Op>(&self, op: O) -> Result<O::Out, DbErr> {
        check_without_tenant(op.sql(), self.shared.registry()?)?;
        op.run(&self.shared.db).await
    }
}

impl TenancyTransaction {
    async fn run<O: Op>(&self, op: O) -> Result<O::Out, DbErr> {
        check_without_tenant(op.sql(), self.shared.registry()?)?;
        op.run(&self.txn).await
    }
}

impl Tenancy {
    async fn open(&self, options: TransactionOptions) -> Result<TenancyTransaction, DbErr> {
        Ok(TenancyTransaction {
            shared: self.shared.clone(),
            txn: self.shared.db.begin_with_options(options).await?,
        })
    }
}

impl TenancyTransaction {
    async fn open(&self, options: TransactionOptions) -> Result<TenancyTransaction, DbErr> {
        Ok(TenancyTransaction {
            shared: self.shared.clone(),
            txn: self.txn.begin_with_options(options).await?,
        })
    }
}

/// `TransactionTrait` for a wrapper whose transactions are `$txn`, begun by its
/// `open(TransactionOptions)`.
macro_rules! wrapped_transactions {
    ($ty:ty, $txn:ty) => {
        #[async_trait::async_trait]
        impl TransactionTrait for $ty {
            type Transaction = $txn;

            async fn begin(&self) -> Result<$txn, DbErr> {
                self.open(TransactionOptions::default()).await
            }

            async fn begin_with_config(
                &self,
                isolation_level: Option<IsolationLevel>,
                access_mode: Option<AccessMode>,
            ) -> Result<$txn, DbErr> {
                self.open(TransactionOptions {
                    isolation_level,
                    access_mode,
                    ..Default::default()
                })
                .await
            }

            async fn begin_with_options(&self, options: TransactionOptions) -> Result<$txn, DbErr> {
                self.open(options).await
            }

            async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
            where
                F: for<'c> FnOnce(
                        &'c $txn,
                    )
                        -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
                    + Send,
                T: Send,
                E: std::fmt::Display + std::fmt::Debug + Send,
            {
                let txn = self.begin().await.map_err(TransactionError::Connection)?;
                run_transaction(txn, callback).await
            }

            async fn transaction_with_config<F, T, E>(
                &self,
                callback: F,
                isolation_level: Option<IsolationLevel>,
                access_mode: Option<AccessMode>,
            ) -> Result<T, TransactionError<E>>
            where
                F: for<'c> FnOnce(
                        &'c $txn,
                    )
                        -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
                    + Send,
                T: Send,
                E: std::fmt::Display + std::fmt::Debug + Send,
            {
                let txn = self
                    .begin_with_config(isolation_level, access_mode)
                    .await
                    .map_err(TransactionError::Connection)?;
                run_transaction(txn, callback).await
            }
        }
    };
}

wrapped_transactions!(TenantConnection, TenantTransaction);
wrapped_transactions!(TenantTransaction, TenantTransaction);
wrapped_transactions!(Tenancy, TenancyTransaction);
wrapped_transactions!(TenancyTransaction, TenancyTransaction);

macro_rules! session {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl TransactionSession for $ty {
            async fn commit(self) -> Result<(), DbErr> {
                self.txn.commit().await
            }
            async fn rollback(self) -> Result<(), DbErr> {
                self.txn.rollback().await
            }
        }
    };
}
session!(TenantTransaction);
session!(TenancyTransaction);

/// Commits when `callback` succeeds, rolls back when it fails.
async fn run_transaction<Txn, F, T, E>(txn: Txn, callback: F) -> Result<T, TransactionError<E>>
where
    Txn: TransactionSession + Send + Sync,
    F: for<'c> FnOnce(&'c Txn) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>> + Send,
    T: Send,
    E: std::fmt::Display + std::fmt::Debug + Send,
{
    let res = callback(&txn).await.map_err(TransactionError::Transaction);
    if res.is_ok() {
        txn.commit().await.map_err(TransactionError::Connection)?;
    } else {
        txn.rollback().await.map_err(TransactionError::Connection)?;
    }
    res
}

/// `db.with_tenant(tenant)` on a plain SeaORM connection.
///
/// The returned [`TenantConnection`] routes exactly like one from [`Tenancy::with_tenant`]
/// (without an app role). The plain connection itself stays unguarded: prefer [`Tenancy`] so
/// that forgetting the tenant is an error from sea-tenancy rather than from PostgreSQL.
pub trait TenancyExt {
    /// A connection scoped to `tenant`.
    fn with_tenant(&self, tenant: Tenant) -> TenantConnection;
}

impl TenancyExt for DatabaseConnection {
    fn with_tenant(&self, tenant: Tenant) -> TenantConnection {
        Tenancy::new(self.clone()).with_tenant(tenant)
    }
}

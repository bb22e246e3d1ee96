//! [`TenantConnection`] and [`TenantTransaction`]: one tenant's statements, each run on a
//! connection logged in as the tenant's role.

use std::future::Future;
use std::sync::Arc;

use sea_orm::{DatabaseTransaction, DbErr, TransactionOptions, TransactionTrait};

use super::Shared;
use super::ops::{Op, routed_connection, session, wrapped_transactions};
use crate::logins::{Lease, Placed};
use crate::placement::{Placement, is_misplaced};
use crate::route::route_for_tenant;
use crate::session;
use crate::tenant::Tenant;

/// A connection scoped to one tenant. Cheap to clone; create one per request or task.
#[derive(Clone, Debug)]
pub struct TenantConnection {
    shared: Arc<Shared>,
    tenant: Tenant,
}

impl TenantConnection {
    pub(super) fn new(shared: Arc<Shared>, tenant: Tenant) -> Self {
        Self { shared, tenant }
    }

    /// The tenant this connection serves.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    async fn run<O: Op>(&self, mut op: O) -> Result<O::Out, DbErr> {
        let routed = route_for_tenant(op.sql(), self.shared.registry()?, &self.tenant)?;
        let touches_tenant = routed.touches_tenant;
        if let std::borrow::Cow::Owned(sql) = routed.sql {
            op.set_sql(sql);
        }
        match &self.shared.placement {
            // A stale route fails by itself: the schema is gone from the old database and the
            // tenant's key there raises `ST001` (see `roles::install`); `on_target` re-routes.
            Some(placement) if touches_tenant => {
                self.on_target(placement, |database| {
                    let op = op.clone();
                    async move {
                        let lease = self.lease(placement, database.as_ref()).await?;
                        op.run(lease.db()).await
                    }
                })
                .await
            }
            _ => {
                let lease = self.shared.logins.acquire(&self.tenant, None).await?;
                op.run(lease.db()).await
            }
        }
    }

    /// A connection of the tenant's role in `database` (`None`: the default database).
    async fn lease(
        &self,
        placement: &Placement,
        database: Option<&Arc<str>>,
    ) -> Result<Lease, DbErr> {
        let placed = database.map(|name| Placed { name, placement });
        Ok(self.shared.logins.acquire(&self.tenant, placed).await?)
    }

    /// Runs `work` against the tenant's database. A tenant moved since the cache was filled is
    /// refused by its old database (the move fence, or its schema gone): the catalog is asked
    /// again and, if it now says elsewhere, `work` runs once more, there.
    async fn on_target<T, F, Fut>(&self, placement: &Placement, mut work: F) -> Result<T, DbErr>
    where
        F: FnMut(Option<Arc<str>>) -> Fut,
        Fut: Future<Output = Result<T, DbErr>>,
    {
        let mut retried = false;
        loop {
            let database = placement.database_of(&self.tenant).await?;
            match work(database.clone()).await {
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

    /// Begins a tenant transaction in the tenant's database: a connection of its role, lent
    /// for the transaction's whole life.
    async fn open(&self, options: TransactionOptions) -> Result<TenantTransaction, DbErr> {
        let Some(placement) = &self.shared.placement else {
            let lease = self.shared.logins.acquire(&self.tenant, None).await?;
            return self.begin_on(lease, options, false).await;
        };
        self.on_target(placement, |database| async move {
            let lease = self.lease(placement, database.as_ref()).await?;
            self.begin_on(lease, options, true).await
        })
        .await
    }

    async fn begin_on(
        &self,
        lease: Lease,
        options: TransactionOptions,
        fenced: bool,
    ) -> Result<TenantTransaction, DbErr> {
        let txn = lease.db().begin_with_options(options).await?;
        if fenced {
            session::fence(&txn, &self.tenant).await?;
        }
        Ok(TenantTransaction {
            shared: self.shared.clone(),
            tenant: self.tenant.clone(),
            txn,
            _lease: Some(lease),
        })
    }
}

/// A transaction of one tenant, on a connection of the tenant's role. Dropping it without
/// `commit` rolls it back.
#[derive(Debug)]
pub struct TenantTransaction {
    shared: Arc<Shared>,
    tenant: Tenant,
    txn: DatabaseTransaction,
    /// The connection, lent to the outermost transaction for its whole life. Declared after
    /// `txn`, so it goes back to the tenant only once the transaction has let go of it.
    _lease: Option<Lease>,
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
            _lease: None,
        })
    }
}

routed_connection!(TenantConnection);
routed_connection!(TenantTransaction);
wrapped_transactions!(TenantConnection, TenantTransaction);
wrapped_transactions!(TenantTransaction, TenantTransaction);
session!(TenantTransaction);

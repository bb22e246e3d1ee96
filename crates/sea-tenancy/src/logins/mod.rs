//! Connections logged in as tenant roles.
//!
//! A tenant's statements run on connections that *are* the tenant (see [`crate::roles`]), so
//! connections cannot be shared between tenants the way one pool shares them between requests.
//! Instead each connection is a *slot*: one PostgreSQL session logged in as one tenant role,
//! kept open while the tenant is active and lent only to that tenant's statements.
//!
//! - A warm tenant costs what plain SeaORM costs: its idle slot is taken from a map under a
//!   mutex (no round trip, no session setup — the search path is part of the login).
//! - [`LoginLimits::max_connections`] caps the slots *in use* at once across all tenants, and
//!   the slots *open* at once: a tenant that has none takes the place of the least recently used
//!   idle slot of another tenant. [`LoginLimits::per_tenant`] caps one tenant's share. Both
//!   waits are first come, first served (fair semaphores), bounded by
//!   [`LoginLimits::acquire_timeout`]. A tenant that already holds a slot waits for one of its
//!   own rather than evicting another tenant's, so that a steady set of active tenants no
//!   larger than the cap never churns.
//! - Idle slots close after [`LoginLimits::idle_timeout`], so tenants that went quiet hold no
//!   connection.
//!
//! The trade-off: a tenant with no open slot pays a new connection (a login: ~5 ms on loopback,
//! more with SCRAM or TLS). With more tenants active at once than the cap, connections churn;
//! [`crate::Tenancy::login_stats`] shows it — raise the cap (and the server's
//! `max_connections`) until evictions stop.

mod lease;
mod open;
mod slots;

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sea_orm::ConnectOptions;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(crate) use lease::Lease;
use slots::{Key, Next, State};

use crate::error::TenancyError;
use crate::placement::Placement;
use crate::roles::{LoginSecret, RoleNames};
use crate::tenant::Tenant;

/// Bounds of the connections tenant roles log in with.
#[derive(Debug, Clone)]
pub struct LoginLimits {
    /// Tenant connections in use, and open, at once — across all tenants and databases
    /// (default 50).
    pub max_connections: u32,
    /// Connections one tenant may use at once (default 4): its concurrent statements beyond
    /// that wait for one of them.
    pub per_tenant: u32,
    /// An idle tenant connection closes after this long (default 60 s).
    pub idle_timeout: Duration,
    /// How long a statement waits for a connection when all are busy (default 30 s).
    pub acquire_timeout: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            max_connections: 50,
            per_tenant: 4,
            idle_timeout: Duration::from_secs(60),
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

/// What [`crate::Tenancy::login_stats`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginStats {
    /// Tenant connections open now (idle or in use).
    pub open: u32,
    /// Tenant connections opened since the `Tenancy` was built.
    pub opened: u64,
    /// Idle connections closed to make room for another tenant's.
    pub evicted: u64,
    /// Idle connections closed after `idle_timeout`.
    pub expired: u64,
}

/// Where a slot logs in, when not in the default database.
pub(crate) struct Placed<'a> {
    pub name: &'a Arc<str>,
    /// Knows the database's URL (asked only when a slot opens).
    pub placement: &'a Placement,
}

/// The tenant slots of one [`crate::Tenancy`]. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Logins {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    limits: LoginLimits,
    names: RoleNames,
    secret: LoginSecret,
    /// The app's connection options (default database); slots copy everything but the user.
    template: ConnectOptions,
    state: Mutex<State>,
    /// One permit per slot in use (`max_connections`).
    in_use: Arc<Semaphore>,
}

impl Logins {
    pub(crate) fn new(
        template: ConnectOptions,
        names: RoleNames,
        secret: LoginSecret,
        limits: LoginLimits,
    ) -> Self {
        let inner = Arc::new(Inner {
            in_use: Arc::new(Semaphore::new(limits.max_connections.max(1) as usize)),
            limits,
            names,
            secret,
            template,
            state: Mutex::default(),
        });
        spawn_sweeper(Arc::downgrade(&inner));
        Self { inner }
    }

    pub(crate) fn names(&self) -> &RoleNames {
        &self.inner.names
    }

    pub(crate) fn limits(&self) -> &LoginLimits {
        &self.inner.limits
    }

    pub(crate) fn stats(&self) -> LoginStats {
        self.inner.lock().stats()
    }

    /// A connection logged in as `tenant`'s role, in the default database or in `placed`.
    pub(crate) async fn acquire(
        &self,
        tenant: &Tenant,
        placed: Option<Placed<'_>>,
    ) -> Result<Lease, TenancyError> {
        let inner = &self.inner;
        let key: Key = (placed.as_ref().map(|p| p.name.clone()), tenant.clone());
        let deadline = Instant::now() + inner.limits.acquire_timeout;
        let tenant_gate = inner
            .lock()
            .gate(&key, inner.limits.per_tenant.max(1) as usize);
        let tenant_permit = self.permit(&tenant_gate.permits, deadline).await?;
        let global_permit = self.permit(&inner.in_use, deadline).await?;
        let permits = (tenant_permit, global_permit);
        loop {
            let returned = tenant_gate.returned.notified();
            tokio::pin!(returned);
            let next = {
                let mut state = inner.lock();
                let expired = state.sweep(inner.limits.idle_timeout);
                let next = state.next(&key, inner.limits.max_connections.max(1));
                if matches!(next, Next::WaitForOwn) {
                    // Registered under the lock: a slot returned after we looked wakes us.
                    returned.as_mut().enable();
                }
                slots::close_all(expired);
                next
            };
            match next {
                Next::Use(db) => {
                    return Ok(Lease::new(
                        db,
                        key,
                        inner.clone(),
                        tenant_gate.clone(),
                        permits,
                    ));
                }
                Next::Open(evicted) => {
                    slots::close_all(evicted);
                    return match open::open(inner, tenant, placed.as_ref()).await {
                        Ok(db) => Ok(Lease::new(
                            db,
                            key,
                            inner.clone(),
                            tenant_gate.clone(),
                            permits,
                        )),
                        Err(e) => {
                            inner.lock().release_count(&key);
                            Err(e)
                        }
                    };
                }
                Next::WaitForOwn => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if tokio::time::timeout(left, returned).await.is_err() {
                        return Err(self.exhausted());
                    }
                }
            }
        }
    }

    /// A permit of `gate`, or [`TenancyError::LoginsExhausted`] at `deadline`.
    async fn permit(
        &self,
        gate: &Arc<Semaphore>,
        deadline: Instant,
    ) -> Result<OwnedSemaphorePermit, TenancyError> {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, gate.clone().acquire_owned()).await {
            Ok(permit) => Ok(permit.expect("the semaphores are never closed")),
            Err(_) => Err(self.exhausted()),
        }
    }

    fn exhausted(&self) -> TenancyError {
        let limits = &self.inner.limits;
        TenancyError::LoginsExhausted {
            max: limits.max_connections,
            per_tenant: limits.per_tenant,
            waited: limits.acquire_timeout,
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sweeps idle slots while the app is quiet (acquisitions sweep when it is busy); ends with the
/// last `Tenancy`.
fn spawn_sweeper(inner: Weak<Inner>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        loop {
            let period = match inner.upgrade() {
                Some(inner) => (inner.limits.idle_timeout / 2).max(Duration::from_secs(1)),
                None => return,
            };
            tokio::time::sleep(period).await;
            let Some(inner) = inner.upgrade() else { return };
            let expired = inner.lock().sweep(inner.limits.idle_timeout);
            slots::close_all(expired);
        }
    });
}

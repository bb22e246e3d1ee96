//! Connections logged in as tenant roles.
//!
//! A tenant's statements run on connections that *are* the tenant (see [`crate::roles`]), so
//! connections cannot be shared between tenants the way one pool shares them between requests.
//! Instead each connection is a *slot*: one PostgreSQL session logged in as one tenant role,
//! kept open while the tenant is active and handed only to that tenant's statements.
//!
//! - A warm tenant costs what plain SeaORM costs: its idle slot is taken from a map under a
//!   mutex (no round trip, no session setup — the search path is part of the login).
//! - [`LoginLimits::max_connections`] caps the slots open at once across all tenants (the
//!   server's connection budget); [`LoginLimits::per_tenant`] caps one tenant's share. When the
//!   cap is reached, a new tenant takes the place of the least recently used idle slot of
//!   another tenant; when every slot is busy, statements wait (up to
//!   [`LoginLimits::acquire_timeout`]).
//! - Idle slots close after [`LoginLimits::idle_timeout`], so tenants that went quiet hold no
//!   connection.
//!
//! The trade-off: a tenant that has no open slot pays a new connection (a login: ~5 ms on
//! loopback, more with SCRAM or TLS). With more tenants active at once than the cap, connections
//! churn; raise the cap (and the server's `max_connections`) until the churn stops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use tokio::sync::Notify;

use crate::error::TenancyError;
use crate::placement::{Placement, mask, sqlstate};
use crate::roles::{LoginSecret, RoleNames, check_login};
use crate::tenant::Tenant;

/// Bounds of the connections tenant roles log in with.
#[derive(Debug, Clone)]
pub struct LoginLimits {
    /// Tenant connections open at once, across all tenants and databases (default 50).
    pub max_connections: u32,
    /// Connections one tenant may hold at once (default 4): its concurrent statements beyond
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
    freed: Notify,
}

/// A tenant in one database: `None` is the default database.
type Key = (Option<Arc<str>>, String);

#[derive(Debug, Default)]
struct State {
    open: u32,
    tenants: HashMap<Key, Entry>,
    last_sweep: Option<Instant>,
    stats: LoginStats,
}

#[derive(Debug, Default)]
struct Entry {
    /// Idle slots, most recently used last.
    idle: Vec<(DatabaseConnection, Instant)>,
    /// Slots open (idle, in use or being opened).
    open: u32,
}

/// Where a slot logs in, when not in the default database.
pub(crate) struct Placed<'a> {
    pub name: &'a Arc<str>,
    /// Knows the database's URL (asked only when a slot opens).
    pub placement: &'a Placement,
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

enum Next {
    Use(DatabaseConnection),
    Open(Option<DatabaseConnection>),
    Wait,
}

impl Logins {
    pub(crate) fn new(
        template: ConnectOptions,
        names: RoleNames,
        secret: LoginSecret,
        limits: LoginLimits,
    ) -> Self {
        let inner = Arc::new(Inner {
            limits,
            names,
            secret,
            template,
            state: Mutex::default(),
            freed: Notify::new(),
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
        let state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        LoginStats {
            open: state.open,
            ..state.stats
        }
    }

    /// A connection logged in as `tenant`'s role, in the default database or in `placed`.
    pub(crate) async fn acquire(
        &self,
        tenant: &Tenant,
        placed: Option<Placed<'_>>,
    ) -> Result<Lease, TenancyError> {
        let key: Key = (
            placed.as_ref().map(|p| p.name.clone()),
            tenant.schema().to_owned(),
        );
        let inner = &self.inner;
        let deadline = Instant::now() + inner.limits.acquire_timeout;
        loop {
            let freed = inner.freed.notified();
            tokio::pin!(freed);
            let (next, expired) = {
                let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
                let expired = state.sweep(inner.limits.idle_timeout);
                let next = state.next(&key, &inner.limits);
                if matches!(next, Next::Wait) {
                    // Registered under the lock: a slot freed after we looked wakes us.
                    freed.as_mut().enable();
                }
                (next, expired)
            };
            close_all(expired);
            match next {
                Next::Use(db) => return Ok(self.lease(key, db)),
                Next::Open(evicted) => {
                    close_all(evicted);
                    return match self.open(tenant, placed.as_ref()).await {
                        Ok(db) => Ok(self.lease(key, db)),
                        Err(e) => {
                            self.forget(&key);
                            Err(e)
                        }
                    };
                }
                Next::Wait => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if tokio::time::timeout(left, freed).await.is_err() {
                        return Err(TenancyError::LoginsExhausted {
                            max: inner.limits.max_connections,
                            per_tenant: inner.limits.per_tenant,
                            waited: inner.limits.acquire_timeout,
                        });
                    }
                }
            }
        }
    }

    fn lease(&self, key: Key, db: DatabaseConnection) -> Lease {
        Lease {
            db: Some(db),
            key,
            inner: self.inner.clone(),
        }
    }

    /// A slot that failed to open no longer counts.
    fn forget(&self, key: &Key) {
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        state.release_count(key);
        drop(state);
        self.inner.freed.notify_waiters();
    }

    async fn open(
        &self,
        tenant: &Tenant,
        placed: Option<&Placed<'_>>,
    ) -> Result<DatabaseConnection, TenancyError> {
        let inner = &self.inner;
        let role = inner.names.tenant(tenant.schema());
        let password = inner.secret.password(&role);
        let search_path = format!("{}, public", tenant.quoted_schema());
        let target = match placed {
            // Already validated by the same parser when the URL was built.
            Some(p) => Some(
                p.placement
                    .url_of(p.name)
                    .await?
                    .expose()
                    .parse::<sea_orm::sqlx::postgres::PgConnectOptions>()
                    .map_err(|e| {
                        DbErr::Custom(format!(
                            "sea-tenancy: database `{}`: {}",
                            p.name,
                            mask(&e.to_string())
                        ))
                    })?,
            ),
            None => None,
        };
        let mut options = inner.template.clone();
        options
            .max_connections(1)
            .min_connections(0)
            .connect_lazy(false)
            .map_sqlx_postgres_opts({
                let role = role.clone();
                move |o| {
                    let o = match &target {
                        Some(t) => {
                            let o = o
                                .host(t.get_host())
                                .port(t.get_port())
                                .ssl_mode(t.get_ssl_mode());
                            match t.get_database() {
                                Some(db) => o.database(db),
                                None => o,
                            }
                        }
                        None => o,
                    };
                    o.username(&role)
                        .password(&password)
                        .options([("search_path", search_path.as_str())])
                }
            });
        let db = Database::connect(options)
            .await
            .map_err(|e| login_error(e, &role, tenant, placed.map(|p| p.name.as_ref())))?;
        if let Err(e) = check_login(&db, &role, Some(inner.names.tenants())).await {
            let _ = db.close().await;
            return Err(e);
        }
        Ok(db)
    }
}

impl State {
    fn next(&mut self, key: &Key, limits: &LoginLimits) -> Next {
        let open = match self.tenants.get_mut(key) {
            Some(entry) => {
                if let Some((db, _)) = entry.idle.pop() {
                    return Next::Use(db);
                }
                entry.open
            }
            None => 0,
        };
        if open >= limits.per_tenant.max(1) {
            return Next::Wait;
        }
        if self.open < limits.max_connections.max(1) {
            self.tenants.entry(key.clone()).or_default().open += 1;
            self.open += 1;
            self.stats.opened += 1;
            return Next::Open(None);
        }
        // At the cap: the least recently used idle slot of another tenant makes room.
        let victim = self
            .tenants
            .iter()
            .filter(|(k, e)| *k != key && !e.idle.is_empty())
            .min_by_key(|(_, e)| e.idle[0].1)
            .map(|(k, _)| k.clone());
        let Some(victim) = victim else {
            return Next::Wait;
        };
        let evicted = self.take_idle(&victim, 0);
        self.tenants.entry(key.clone()).or_default().open += 1;
        self.open += 1;
        self.stats.opened += 1;
        self.stats.evicted += 1;
        Next::Open(Some(evicted))
    }

    /// Removes idle slot `i` of `key` from the books and returns it for closing.
    fn take_idle(&mut self, key: &Key, i: usize) -> DatabaseConnection {
        let entry = self.tenants.get_mut(key).expect("victim exists");
        let (db, _) = entry.idle.remove(i);
        self.release_count(key);
        db
    }

    fn release_count(&mut self, key: &Key) {
        self.open = self.open.saturating_sub(1);
        if let Some(entry) = self.tenants.get_mut(key) {
            entry.open = entry.open.saturating_sub(1);
            if entry.open == 0 && entry.idle.is_empty() {
                self.tenants.remove(key);
            }
        }
    }

    /// Takes out the slots idle for longer than `timeout` (at most once a second).
    fn sweep(&mut self, timeout: Duration) -> Vec<DatabaseConnection> {
        let now = Instant::now();
        if self
            .last_sweep
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return Vec::new();
        }
        self.last_sweep = Some(now);
        let mut expired = Vec::new();
        let stale: Vec<Key> = self
            .tenants
            .iter()
            .filter(|(_, e)| {
                e.idle
                    .first()
                    .is_some_and(|(_, t)| now.duration_since(*t) > timeout)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            while self.tenants.get(&key).is_some_and(|e| {
                e.idle
                    .first()
                    .is_some_and(|(_, t)| now.duration_since(*t) > timeout)
            }) {
                expired.push(self.take_idle(&key, 0));
                self.stats.expired += 1;
            }
        }
        expired
    }
}

/// Closes `slots` in the background (a polite `Terminate` instead of a dropped socket).
fn close_all(slots: impl IntoIterator<Item = DatabaseConnection>) {
    for db in slots {
        tokio::spawn(async move {
            let _ = db.close().await;
        });
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
            let expired = {
                let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
                state.sweep(inner.limits.idle_timeout)
            };
            if !expired.is_empty() {
                inner.freed.notify_waiters();
            }
            close_all(expired);
        }
    });
}

/// One slot lent to one statement or transaction; it goes back to its tenant when dropped.
#[derive(Debug)]
pub(crate) struct Lease {
    db: Option<DatabaseConnection>,
    key: Key,
    inner: Arc<Inner>,
}

impl Lease {
    pub(crate) fn db(&self) -> &DatabaseConnection {
        self.db.as_ref().expect("present until dropped")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(db) = self.db.take() else { return };
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.tenants.get_mut(&self.key) {
            Some(entry) => entry.idle.push((db, Instant::now())),
            // Not on the books (cannot happen while the lease lives): close it.
            None => {
                drop(state);
                close_all([db]);
                return;
            }
        }
        drop(state);
        self.inner.freed.notify_waiters();
    }
}

/// A failed login, with the fix for the usual causes.
fn login_error(err: DbErr, role: &str, tenant: &Tenant, database: Option<&str>) -> TenancyError {
    let place = database.unwrap_or("default");
    let fix = match sqlstate(&err).as_deref() {
        // invalid_authorization_specification: the role does not exist (or may not log in).
        Some("28000") => format!(
            "the role is missing or cannot log in: provision the tenant, or run `<app> roles sync --tenant {tenant}` for tenants created before roles existed"
        ),
        Some("28P01") => "the password was refused: the app and its migrations must share one login secret (SEA_TENANCY_SECRET); after changing it run `<app> roles sync`".to_owned(),
        _ => "check that the database is reachable with the app's connection settings".to_owned(),
    };
    TenancyError::Login {
        role: role.to_owned(),
        tenant: tenant.schema().to_owned(),
        database: place.to_owned(),
        reason: mask(&err.to_string()),
        fix,
    }
}

//! Database placement: tenants that live in databases of their own.
//!
//! Most tenants share the default database (one schema each, or rows of shared tables). Some
//! outgrow it — a big customer, a data-residency contract — and get a database of their own, on
//! the same server or another; several tenants may share one. The [`catalog`] in the default
//! database says where each tenant lives, by list or by key range; [`Placement`] keeps one
//! lazily opened pool per database and a small cache of answers, and
//! [`crate::Tenancy::with_placement`] makes `db.with_tenant(t)` go there. System data stays in
//! the default database.
//!
//! [`provision`](crate::placement::provision::provision) creates a tenant in its database,
//! [`run`] migrates and audits every database, and [`relocate`] moves a tenant between them.

pub mod catalog;
pub mod provision;
pub mod relocate;
pub mod run;
mod url;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use tokio::sync::OnceCell;

pub(crate) use crate::error::sqlstate;
use crate::tenant::Tenant;
pub use catalog::{DEFAULT_DATABASE, DatabaseEntry};
pub use url::{DatabaseUrl, UrlError, mask};

/// Why placing a tenant failed.
#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    /// The catalog tables are not installed in the default database.
    #[error(
        "sea-tenancy: the tenant catalog is not installed in the default database; run `<app> databases add <name> --url <url>` or call `sea_tenancy::placement::catalog::install`"
    )]
    CatalogMissing,
    /// A database name outside `[a-z][a-z0-9_]*` (63 bytes at most).
    #[error(
        "sea-tenancy: database name {0:?} is invalid: use a lower-case letter followed by lower-case letters, digits and `_`, at most 63 bytes"
    )]
    InvalidName(String),
    /// The name `default` is the database the app connects to.
    #[error("sea-tenancy: `default` is the database the app connects to; it cannot be redefined")]
    DefaultIsFixed,
    /// The catalog does not know this database.
    #[error(
        "sea-tenancy: unknown database `{0}`: add it with `<app> databases add {0} --url <url>` (or configure its URL and add it without --url)"
    )]
    UnknownDatabase(String),
    /// The database has no URL, neither in the catalog nor in the configuration.
    #[error(
        "sea-tenancy: database `{0}` has no connection URL: store one with `databases add {0} --url <url>` or supply it in `TenancyApp::databases`"
    )]
    NoUrl(String),
    /// A key range with `start >= end`.
    #[error(
        "sea-tenancy: key range [{start}, {end}) is empty; the end is exclusive and must be greater than the start"
    )]
    EmptyRange {
        /// Its start.
        start: i64,
        /// Its end.
        end: i64,
    },
    /// The key range overlaps one already mapped.
    #[error(
        "sea-tenancy: key range [{start}, {end}) overlaps a range already mapped; `databases list` shows them"
    )]
    Overlap {
        /// Its start.
        start: i64,
        /// Its end.
        end: i64,
    },
    /// A connection URL was refused.
    #[error("sea-tenancy: {0}")]
    Url(#[from] UrlError),
    /// The database could not be reached. The reason never contains a password.
    #[error("sea-tenancy: database `{database}` is unreachable: {reason}")]
    Unreachable {
        /// The database name.
        database: String,
        /// What the driver said, password masked.
        reason: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<PlacementError> for DbErr {
    fn from(err: PlacementError) -> Self {
        match err {
            PlacementError::Db(db) => db,
            other => DbErr::Custom(other.to_string()),
        }
    }
}

/// Limits of the pools [`Placement`] opens.
#[derive(Debug, Clone)]
pub struct PoolLimits {
    /// Connections per tenant database (default 5), for the owner's work there: provisioning,
    /// migrations, moves. Tenant statements use logins of their own (see [`crate::logins`]).
    pub per_database: u32,
    /// Idle connections of tenant databases close after this long (default 60 s), so databases
    /// no longer used hold no connections.
    pub idle_timeout: Duration,
    /// How long opening a connection may take (default 5 s).
    pub connect_timeout: Duration,
}

impl Default for PoolLimits {
    fn default() -> Self {
        Self {
            per_database: 5,
            idle_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Where tenants live: the default database, the catalog in it, and one pool per other
/// database, opened on first use. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use sea_tenancy::placement::Placement;
/// use sea_tenancy::{Tenancy, Tenant};
///
/// let url = "postgres://owner@localhost/app";
/// let default = sea_orm::Database::connect(url).await?;
/// let placement = Placement::builder(default.clone())
///     .database("eu", "postgres://owner@db-eu/app".parse()?) // or stored in the catalog
///     .build()
///     .await?;
/// let db = Tenancy::builder(url).placement(placement).connect().await?;
/// let acme = db.with_tenant(Tenant::new("org_7", 7)?); // goes to `eu` if the catalog says so
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Placement {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    default: DatabaseConnection,
    configured: HashMap<String, DatabaseUrl>,
    limits: PoolLimits,
    ttl: Duration,
    pools: Mutex<HashMap<String, Arc<OnceCell<DatabaseConnection>>>>,
    cache: RwLock<HashMap<String, Cached>>,
}

#[derive(Debug, Clone)]
struct Cached {
    database: Option<Arc<str>>,
    at: Instant,
}

/// The most cached answers kept before the cache is emptied (a cheap bound on memory).
const CACHE_CAPACITY: usize = 100_000;

/// Builds a [`Placement`].
#[derive(Debug)]
pub struct PlacementBuilder {
    default: DatabaseConnection,
    configured: HashMap<String, DatabaseUrl>,
    limits: PoolLimits,
    ttl: Duration,
}

impl PlacementBuilder {
    /// Supplies the URL of database `name` from configuration (it overrides a URL stored in
    /// the catalog). The name must still be added to the catalog (`databases add <name>`).
    pub fn database(mut self, name: impl Into<String>, url: DatabaseUrl) -> Self {
        self.configured.insert(name.into(), url);
        self
    }

    /// Pool limits of the tenant databases.
    pub fn limits(mut self, limits: PoolLimits) -> Self {
        self.limits = limits;
        self
    }

    /// How long an answer of the catalog is reused (default 30 s). A tenant moved meanwhile is
    /// still safe: its old place refuses it and the next attempt asks the catalog again.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Checks the configured names and that the catalog is installed.
    pub async fn build(self) -> Result<Placement, PlacementError> {
        for name in self.configured.keys() {
            catalog::validate_database_name(name)?;
        }
        if !catalog::is_installed(&self.default).await? {
            return Err(PlacementError::CatalogMissing);
        }
        Ok(Placement {
            inner: Arc::new(Inner {
                default: self.default,
                configured: self.configured,
                limits: self.limits,
                ttl: self.ttl,
                pools: Mutex::new(HashMap::new()),
                cache: RwLock::new(HashMap::new()),
            }),
        })
    }
}

impl Placement {
    /// A builder over the default database `default`.
    pub fn builder(default: DatabaseConnection) -> PlacementBuilder {
        PlacementBuilder {
            default,
            configured: HashMap::new(),
            limits: PoolLimits::default(),
            ttl: Duration::from_secs(30),
        }
    }

    /// The default database.
    pub fn default_db(&self) -> &DatabaseConnection {
        &self.inner.default
    }

    /// The database `tenant` lives in (`None`: the default database), from the cache or the
    /// catalog.
    pub async fn database_of(&self, tenant: &Tenant) -> Result<Option<Arc<str>>, PlacementError> {
        if let Some(hit) = self.cached(tenant) {
            return Ok(hit);
        }
        let found = catalog::lookup(&self.inner.default, std::slice::from_ref(tenant))
            .await?
            .remove(0)
            .map(Arc::<str>::from);
        let mut cache = self.inner.cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(
            tenant.schema().to_owned(),
            Cached {
                database: found.clone(),
                at: Instant::now(),
            },
        );
        Ok(found)
    }

    fn cached(&self, tenant: &Tenant) -> Option<Option<Arc<str>>> {
        let cache = self.inner.cache.read().unwrap_or_else(|e| e.into_inner());
        let hit = cache.get(tenant.schema())?;
        (hit.at.elapsed() < self.inner.ttl).then(|| hit.database.clone())
    }

    /// Forgets what the cache knows of `tenant` (after moving it, say).
    pub fn invalidate(&self, tenant: &Tenant) {
        let mut cache = self.inner.cache.write().unwrap_or_else(|e| e.into_inner());
        cache.remove(tenant.schema());
    }

    /// Forgets every cached answer.
    pub fn invalidate_all(&self) {
        let mut cache = self.inner.cache.write().unwrap_or_else(|e| e.into_inner());
        cache.clear();
    }

    /// The pool of database `name` (`None` or `default`: the default database), opened on first
    /// use.
    pub async fn connection(
        &self,
        name: Option<&str>,
    ) -> Result<DatabaseConnection, PlacementError> {
        self.connection_with(&self.inner.default, name).await
    }

    /// [`connection`](Self::connection), reading a stored URL through `catalog` (the caller's
    /// transaction on the default database, so that a small pool cannot deadlock).
    pub(crate) async fn connection_with<C: sea_orm::ConnectionTrait>(
        &self,
        catalog: &C,
        name: Option<&str>,
    ) -> Result<DatabaseConnection, PlacementError> {
        let Some(name) = name.filter(|n| *n != DEFAULT_DATABASE) else {
            return Ok(self.inner.default.clone());
        };
        let cell = {
            let mut pools = self.inner.pools.lock().unwrap_or_else(|e| e.into_inner());
            pools.entry(name.to_owned()).or_default().clone()
        };
        // Failures are not cached: the next use tries again.
        cell.get_or_try_init(|| self.open(catalog, name))
            .await
            .cloned()
    }

    /// The URL of database `name`: configuration first, then the catalog.
    pub async fn url_of(&self, name: &str) -> Result<DatabaseUrl, PlacementError> {
        self.url_with(&self.inner.default, name).await
    }

    async fn url_with<C: sea_orm::ConnectionTrait>(
        &self,
        catalog: &C,
        name: &str,
    ) -> Result<DatabaseUrl, PlacementError> {
        if let Some(url) = self.inner.configured.get(name) {
            return Ok(url.clone());
        }
        catalog::stored_url(catalog, name)
            .await?
            .ok_or_else(|| PlacementError::NoUrl(name.to_owned()))
    }

    async fn open<C: sea_orm::ConnectionTrait>(
        &self,
        catalog: &C,
        name: &str,
    ) -> Result<DatabaseConnection, PlacementError> {
        let url = self.url_with(catalog, name).await?;
        let limits = &self.inner.limits;
        let mut options = ConnectOptions::new(url.expose().to_owned());
        options
            .max_connections(limits.per_database.max(1))
            .min_connections(0)
            .idle_timeout(limits.idle_timeout)
            .connect_timeout(limits.connect_timeout)
            .acquire_timeout(limits.connect_timeout)
            .sqlx_logging(false);
        tracing::debug!(database = name, url = %url, "opening a tenant database pool");
        Database::connect(options)
            .await
            .map_err(|e| PlacementError::Unreachable {
                database: name.to_owned(),
                reason: mask(&e.to_string()),
            })
    }

    /// Splits `tenants` by database (`None`: the default database, listed first), keeping their
    /// order within each: one catalog query.
    pub async fn group(
        &self,
        tenants: &[Tenant],
    ) -> Result<Vec<(Option<String>, Vec<Tenant>)>, PlacementError> {
        let databases = catalog::lookup(&self.inner.default, tenants).await?;
        let mut groups: Vec<(Option<String>, Vec<Tenant>)> = vec![(None, Vec::new())];
        for (tenant, database) in tenants.iter().zip(databases) {
            match groups.iter_mut().find(|(d, _)| *d == database) {
                Some((_, list)) => list.push(tenant.clone()),
                None => groups.push((database, vec![tenant.clone()])),
            }
        }
        groups[1..].sort_by(|a, b| a.0.cmp(&b.0));
        Ok(groups)
    }
}

/// Whether `err` says the tenant is not (or no longer) where the statement was sent: the move
/// fence, or its schema gone from this database.
pub(crate) fn is_misplaced(err: &DbErr) -> bool {
    matches!(
        sqlstate(err).as_deref(),
        Some(catalog::MOVED_SQLSTATE) | Some("42P01") | Some("3F000")
    ) || err.to_string().contains("has moved to database")
}

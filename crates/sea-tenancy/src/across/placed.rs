//! Queries across tenants that live in several databases ([`crate::placement`]).
//!
//! One statement reads one database, so [`AcrossPlaced`] splits the tenant list by database
//! (one catalog query), runs the [`Across`] query of each database — all at once, one reporting
//! login per database, opened on first use — and puts the answers back in the order of the
//! list, exactly as [`Across`] orders one database's.
//!
//! The reporting login must exist on every server that holds tenants: `roles reporting create
//! NAME` creates it in the default database and in every database of the catalog (roles are
//! per server; on the same server that is the same role). The role names are the default
//! database's, as everywhere in placement.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::try_join_all;
use sea_orm::{ConnectOptions, EntityTrait, FromQueryResult, Select};
use tokio::sync::{Mutex, OnceCell};

use super::{Across, AcrossError, login};
use crate::app::TenancyApp;
use crate::placement::{Placement, PlacementError};
use crate::roles::{LoginSecret, RoleNames};
use crate::tenant::Tenant;

/// [`Across`] over every database of a [`Placement`]. Cheap to clone.
#[derive(Clone)]
pub struct AcrossPlaced {
    inner: Arc<Inner>,
    chunk_size: usize,
    parallelism: usize,
}

struct Inner {
    placement: Placement,
    login: String,
    secret: LoginSecret,
    names: RoleNames,
    /// The reporting connection of each database (`None`: the default one).
    databases: Mutex<HashMap<Option<String>, Arc<OnceCell<Across>>>>,
}

impl std::fmt::Debug for AcrossPlaced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcrossPlaced")
            .field("login", &self.inner.login)
            .finish_non_exhaustive()
    }
}

impl AcrossPlaced {
    /// Logs in as the reporting login `login` to the default database (`options`: the owner's
    /// URL, as for [`Across::connect`]); the other databases of `placement` are logged into
    /// on first use, at the URLs the catalog (or the app's configuration) gives them, with the
    /// same login.
    pub async fn connect<A: TenancyApp + ?Sized>(
        app: &A,
        placement: &Placement,
        options: impl Into<ConnectOptions>,
        login_name: &str,
    ) -> Result<Self, AcrossError> {
        let secret = app.login_secret()?;
        let (home, names) = Across::connect_with(app, &secret, options.into(), login_name).await?;
        let databases = HashMap::from([(None, Arc::new(OnceCell::new_with(Some(home))))]);
        Ok(Self {
            inner: Arc::new(Inner {
                placement: placement.clone(),
                login: login_name.to_owned(),
                secret,
                names,
                databases: Mutex::new(databases),
            }),
            chunk_size: super::DEFAULT_CHUNK_SIZE,
            parallelism: super::DEFAULT_PARALLELISM,
        })
    }

    /// Tenants per statement in each database (see [`Across::chunk_size`]).
    pub fn chunk_size(mut self, tenants: usize) -> Self {
        self.chunk_size = tenants.max(1);
        self
    }

    /// Statements in flight at once in each database (see [`Across::parallelism`]).
    pub fn parallelism(mut self, statements: usize) -> Self {
        self.parallelism = statements.max(1);
        self
    }

    /// `select` over `tenants`, wherever each lives, as `(tenant, model)` in the order of
    /// `tenants` (each tenant's rows in its own query's order).
    pub async fn all<E>(
        &self,
        tenants: &[Tenant],
        select: Select<E>,
    ) -> Result<Vec<(Tenant, E::Model)>, AcrossError>
    where
        E: EntityTrait,
    {
        self.into_model::<E, E::Model>(tenants, select).await
    }

    /// [`all`](Self::all) into any `FromQueryResult` (see [`super::AcrossSelect::into_model`]).
    pub async fn into_model<E, M>(
        &self,
        tenants: &[Tenant],
        select: Select<E>,
    ) -> Result<Vec<(Tenant, M)>, AcrossError>
    where
        E: EntityTrait,
        M: FromQueryResult,
    {
        let parts = self
            .per_database(tenants, |across, group| {
                let select = select.clone();
                async move { across.select(&group, select).into_model::<M>().await }
            })
            .await?;
        Ok(in_list_order(tenants, parts))
    }

    /// How many rows each tenant's query returns, in the order of `tenants` (zero included).
    pub async fn count<E: EntityTrait>(
        &self,
        tenants: &[Tenant],
        select: Select<E>,
    ) -> Result<Vec<(Tenant, u64)>, AcrossError> {
        let parts = self
            .per_database(tenants, |across, group| {
                let select = select.clone();
                async move { across.select(&group, select).count().await }
            })
            .await?;
        Ok(in_list_order(tenants, parts))
    }

    /// The sum of integer `column` over each tenant's rows, in the order of `tenants`.
    pub async fn sum<E: EntityTrait>(
        &self,
        tenants: &[Tenant],
        select: Select<E>,
        column: E::Column,
    ) -> Result<Vec<(Tenant, i64)>, AcrossError> {
        let parts = self
            .per_database(tenants, |across, group| {
                let select = select.clone();
                async move { across.select(&group, select).sum(column).await }
            })
            .await?;
        Ok(in_list_order(tenants, parts))
    }

    /// Runs `query` on each database's [`Across`] with that database's tenants, concurrently.
    async fn per_database<T, F, Fut>(
        &self,
        tenants: &[Tenant],
        query: F,
    ) -> Result<Vec<Vec<(Tenant, T)>>, AcrossError>
    where
        F: Fn(Across, Vec<Tenant>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<(Tenant, T)>, AcrossError>>,
    {
        let groups = self
            .inner
            .placement
            .group(tenants)
            .await
            .map_err(placement_error)?;
        let runs = groups
            .into_iter()
            .filter(|(_, group)| !group.is_empty())
            .map(|(database, group)| {
                let query = &query;
                async move {
                    let across = self.across_of(database.as_deref()).await?;
                    query(across, group).await
                }
            });
        try_join_all(runs).await
    }

    /// The reporting [`Across`] of `database`, logged in on first use.
    async fn across_of(&self, database: Option<&str>) -> Result<Across, AcrossError> {
        let inner = &self.inner;
        let cell = inner
            .databases
            .lock()
            .await
            .entry(database.map(str::to_owned))
            .or_default()
            .clone();
        let across = cell
            .get_or_try_init(|| async {
                let name = database.expect("the default database is logged in at connect");
                let url = inner
                    .placement
                    .url_of(name)
                    .await
                    .map_err(placement_error)?;
                let options = ConnectOptions::new(url.expose().to_owned());
                let db =
                    login(&inner.secret, options, &inner.login)
                        .await
                        .map_err(|e| match e {
                            AcrossError::Db(err) => AcrossError::Database {
                                database: name.to_owned(),
                                reason: crate::placement::mask(&err.to_string()),
                            },
                            other => other,
                        })?;
                Across::new(db, &inner.names).await
            })
            .await?;
        Ok(across
            .clone()
            .chunk_size(self.chunk_size)
            .parallelism(self.parallelism))
    }
}

fn placement_error(err: PlacementError) -> AcrossError {
    match err {
        PlacementError::Db(db) => AcrossError::Db(db),
        other => AcrossError::Placement(other),
    }
}

/// The answers of each database, merged in the order of `tenants` (stable within a tenant).
fn in_list_order<T>(tenants: &[Tenant], parts: Vec<Vec<(Tenant, T)>>) -> Vec<(Tenant, T)> {
    let position: HashMap<&str, usize> = tenants
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| (t.schema(), i))
        .collect();
    let mut rows: Vec<(Tenant, T)> = parts.into_iter().flatten().collect();
    rows.sort_by_key(|(t, _)| position.get(t.schema()).copied().unwrap_or(usize::MAX));
    rows
}

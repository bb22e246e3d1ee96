//! [`TenantLayer`]: resolves each request's tenant before the handler runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::Request;
use http::request::Parts;
use sea_tenancy::{Tenancy, TenantConnection};
use tower::{Layer, Service};

use crate::error::TenantRejection;
use crate::resolver::{TenantCache, TenantResolver};
use crate::source::TenantSource;

/// What the layer leaves in the request's extensions for the extractors: per request, so two
/// concurrent requests can never see each other's tenant.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub(crate) id: Arc<str>,
    pub(crate) conn: TenantConnection,
}

/// A tower [`Layer`] that reads each request's tenant identifier with a [`TenantSource`],
/// maps it to a [`sea_tenancy::Tenant`] with the app's [`TenantResolver`] (through a
/// [`TenantCache`]), and puts a tenant-scoped connection into the request for
/// [`crate::TenantDb`].
///
/// Refusals answer before the handler runs, with a JSON body ([`TenantRejection`]): no tenant
/// named → 400, missing or bad credentials → 401, unknown tenant → 404, resolver failure → 500.
/// With [`optional`](Self::optional), a request that names no tenant reaches the handler
/// without one (a bad token or an unknown tenant is still refused).
///
/// Apply it with `Router::layer` (or `route_layer`) on the routes that are tenant-scoped; it
/// runs after routing, so a path that matches no route is still a plain 404.
#[derive(Clone)]
pub struct TenantLayer {
    tenancy: Tenancy,
    source: Arc<TenantSource>,
    resolver: Arc<dyn TenantResolver>,
    cache: TenantCache,
    optional: bool,
}

impl std::fmt::Debug for TenantLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantLayer")
            .field("source", &self.source)
            .field("cache", &self.cache)
            .field("optional", &self.optional)
            .finish_non_exhaustive()
    }
}

impl TenantLayer {
    /// A layer that hands out connections of `tenancy`, reading the tenant with `source` and
    /// resolving it with `resolver`, cached 60 s ([`TenantCache::default`]).
    pub fn new(tenancy: Tenancy, source: TenantSource, resolver: impl TenantResolver) -> Self {
        Self {
            tenancy,
            source: Arc::new(source),
            resolver: Arc::new(resolver),
            cache: TenantCache::default(),
            optional: false,
        }
    }

    /// Caches resolved tenants for `ttl` instead (see [`TenantCache::new`]).
    pub fn cache_ttl(self, ttl: Duration) -> Self {
        self.with_cache(TenantCache::new(ttl))
    }

    /// Uses `cache`, e.g. one the app also keeps to invalidate, or one shared by several
    /// layers that resolve the same identifiers.
    pub fn with_cache(mut self, cache: TenantCache) -> Self {
        self.cache = cache;
        self
    }

    /// Lets requests that name no tenant through, without one; handlers then take
    /// `Option<TenantDb>`.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// The cache, to [`invalidate`](TenantCache::invalidate) when a tenant changes.
    pub fn cache(&self) -> &TenantCache {
        &self.cache
    }

    /// The identifier and tenant connection `parts` ask for; `None` if it names none and the
    /// layer is optional.
    async fn resolve(&self, parts: &Parts) -> Result<Option<Resolved>, TenantRejection> {
        let id = match self.source.identify(parts) {
            Ok(id) => id,
            Err(
                TenantRejection::MissingTenant { .. } | TenantRejection::MissingCredentials { .. },
            ) if self.optional => return Ok(None),
            Err(e) => return Err(e),
        };
        let tenant = self
            .cache
            .get_or_resolve(&id, self.resolver.as_ref())
            .await
            .map_err(TenantRejection::ResolverFailed)?
            .ok_or_else(|| TenantRejection::UnknownTenant(id.clone()))?;
        Ok(Some(Resolved {
            id: id.into(),
            conn: self.tenancy.with_tenant(tenant),
        }))
    }
}

impl<S> Layer<S> for TenantLayer {
    type Service = TenantService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TenantService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`TenantLayer`] wraps around the app's.
#[derive(Clone, Debug)]
pub struct TenantService<S> {
    inner: S,
    layer: TenantLayer,
}

impl<S, B> Service<Request<B>> for TenantService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The clone that was driven to readiness serves this request (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            // Always start clean: a tenant can only come from this request's own resolution.
            parts.extensions.remove::<Resolved>();
            match layer.resolve(&parts).await {
                Ok(Some(resolved)) => {
                    parts.extensions.insert(resolved);
                }
                Ok(None) => {}
                Err(rejection) => return Ok(rejection.into_response()),
            }
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}

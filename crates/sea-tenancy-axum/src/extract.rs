//! Extractors that hand handlers what [`crate::TenantLayer`] resolved.

use std::ops::Deref;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use sea_tenancy::{Tenant, TenantConnection};

use crate::error::TenantRejection;
use crate::layer::Resolved;

/// The request's tenant-scoped connection: pass `&db` wherever SeaORM takes a connection.
///
/// Named `TenantDb` so it does not clash with [`sea_tenancy::Tenancy`]. Rejects with 500
/// ([`TenantRejection::LayerMissing`]) on a route no [`crate::TenantLayer`] wraps; take
/// `Option<TenantDb>` on routes behind an [optional](crate::TenantLayer::optional) layer.
#[derive(Clone, Debug)]
pub struct TenantDb(pub TenantConnection);

impl TenantDb {
    /// The tenant this request belongs to.
    pub fn tenant(&self) -> &Tenant {
        self.0.tenant()
    }
}

impl Deref for TenantDb {
    type Target = TenantConnection;

    fn deref(&self) -> &TenantConnection {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TenantDb {
    type Rejection = TenantRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Resolved>()
            .map(|r| TenantDb(r.conn.clone()))
            .ok_or(TenantRejection::LayerMissing)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for TenantDb {
    type Rejection = TenantRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Resolved>()
            .map(|r| TenantDb(r.conn.clone())))
    }
}

/// The identifier the request named its tenant by (the header value, subdomain, path segment
/// or claim), e.g. for logging or for links back to the tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for TenantId {
    type Rejection = TenantRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Resolved>()
            .map(|r| TenantId(r.id.to_string()))
            .ok_or(TenantRejection::LayerMissing)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for TenantId {
    type Rejection = TenantRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Resolved>()
            .map(|r| TenantId(r.id.to_string())))
    }
}

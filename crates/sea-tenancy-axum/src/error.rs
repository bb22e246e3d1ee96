//! Why a request was refused, and how each refusal becomes an HTTP response.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// An error a tenant resolver returns when it cannot answer (database down, timeout): the
/// request fails with 500, never with "unknown tenant", so an outage is not mistaken for a
/// missing customer.
pub type ResolveError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why [`crate::TenantLayer`] or an extractor refused a request.
///
/// Each variant maps to one status code and a JSON body
/// `{"error": "<code>", "message": "<sentence>"}` (see [`TenantRejection::code`]), so clients
/// can branch on `error` while humans read `message`.
#[derive(Debug, thiserror::Error)]
pub enum TenantRejection {
    /// The request names no tenant where the route needs one (no header, bare domain, path
    /// outside the prefix). 400.
    #[error("this route needs a tenant, and the request names none: {expected}")]
    MissingTenant {
        /// What the request should have carried, e.g. "send header `x-tenant: <tenant id>`".
        expected: String,
    },
    /// The request names a tenant in a form that cannot be an identifier (not UTF-8, empty,
    /// too long, a subdomain of several labels). 400.
    #[error("the tenant identifier in the request is malformed: {0}")]
    MalformedTenant(String),
    /// No `Authorization: Bearer <token>` header. 401.
    #[error(
        "this route needs a bearer token: send header `Authorization: Bearer <JWT>` whose claim `{claim}` names the tenant"
    )]
    MissingCredentials {
        /// The claim that names the tenant.
        claim: String,
    },
    /// The token is present but is not acceptable: bad signature, wrong algorithm, expired,
    /// not yet valid, malformed, or without the tenant claim. 401.
    #[error("the bearer token was refused: {reason}")]
    InvalidCredentials {
        /// What was wrong with it (never includes the key or the token).
        reason: String,
    },
    /// The resolver knows no tenant by this identifier. 404.
    #[error("no tenant `{0}` exists")]
    UnknownTenant(String),
    /// The resolver failed (e.g. the database is unreachable). 500; details go to the log, not
    /// to the client.
    #[error("the tenant could not be looked up; try again later")]
    ResolverFailed(#[source] ResolveError),
    /// A [`crate::TenantDb`] extractor ran on a route that no [`crate::TenantLayer`] wraps — a
    /// wiring mistake in the app, so 500.
    #[error(
        "this route extracts a tenant but no TenantLayer wraps it: add `.layer(tenant_layer)` to its router"
    )]
    LayerMissing,
}

impl TenantRejection {
    /// The HTTP status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingTenant { .. } | Self::MalformedTenant(_) => StatusCode::BAD_REQUEST,
            Self::MissingCredentials { .. } | Self::InvalidCredentials { .. } => {
                StatusCode::UNAUTHORIZED
            }
            Self::UnknownTenant(_) => StatusCode::NOT_FOUND,
            Self::ResolverFailed(_) | Self::LayerMissing => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable, machine-readable code for the JSON body's `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingTenant { .. } => "missing_tenant",
            Self::MalformedTenant(_) => "malformed_tenant",
            Self::MissingCredentials { .. } => "missing_credentials",
            Self::InvalidCredentials { .. } => "invalid_credentials",
            Self::UnknownTenant(_) => "unknown_tenant",
            Self::ResolverFailed(_) => "tenant_lookup_failed",
            Self::LayerMissing => "tenant_layer_missing",
        }
    }
}

/// The JSON body of every rejection.
#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
}

impl IntoResponse for TenantRejection {
    fn into_response(self) -> Response {
        match &self {
            Self::ResolverFailed(e) => tracing::error!(error = %e, "tenant resolver failed"),
            Self::LayerMissing => tracing::error!("{self}"),
            _ => tracing::debug!(error = %self, "request refused"),
        }
        let mut response = (
            self.status(),
            Json(Body {
                error: self.code(),
                message: self.to_string(),
            }),
        )
            .into_response();
        if self.status() == StatusCode::UNAUTHORIZED {
            // RFC 6750: a 401 tells the client which scheme to use.
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A [`crate::TenantSource`] that cannot be built (a malformed key, an invalid header name).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The RSA public key is not a PEM-encoded RSA public key.
    #[error(
        "the RS256 public key is not a valid PEM RSA public key (expected `-----BEGIN PUBLIC KEY-----` or `-----BEGIN RSA PUBLIC KEY-----`): {0}"
    )]
    RsaKey(#[source] jsonwebtoken::errors::Error),
    /// The HS256 secret is empty, which would let anyone forge tokens.
    #[error("the HS256 secret is empty; use at least 32 random bytes")]
    EmptySecret,
    /// The header name is not a valid HTTP header name.
    #[error("`{0}` is not a valid HTTP header name")]
    HeaderName(String),
    /// The subdomain base or path prefix is empty.
    #[error("{0}")]
    Invalid(String),
}

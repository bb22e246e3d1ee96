//! # sea-tenancy-axum
//!
//! Request → tenant for [axum](https://docs.rs/axum) apps built on
//! [sea-tenancy](sea_tenancy): a tower [`TenantLayer`] reads each request's tenant identifier
//! (a header, a subdomain, a path prefix or a claim of a verified JWT, or the first of several
//! present — [`TenantSource`]), maps it to a [`sea_tenancy::Tenant`] with a resolver
//! ([`TenantResolver`]: any async closure, or a [`ready`] one that loads the row of a
//! `ManageTenant` entity by key or slug), caches the answer in-process ([`TenantCache`]) and hands handlers a
//! tenant-scoped [`sea_tenancy::TenantConnection`] through the [`TenantDb`] extractor.
//!
//! The tenant travels in the request's extensions, never in a global or a task-local, so
//! concurrent requests cannot see each other's tenant; handlers cannot forget to scope a
//! query, because the only connection they get is already scoped.
//!
//! ```no_run
//! use axum::{Json, Router, routing::get};
//! use sea_orm::EntityTrait;
//! use sea_tenancy::{Tenancy, Tenant};
//! use sea_tenancy_axum::{JwtConfig, ResolveError, TenantDb, TenantLayer, TenantSource};
//!
//! use saas_app::entities::{organization, post};
//!
//! async fn list_posts(TenantDb(db): TenantDb) -> Json<Vec<String>> {
//!     // Only this request's organization's posts: the connection is scoped to it.
//!     let posts = post::Entity::find().all(&db).await.unwrap_or_default();
//!     Json(posts.into_iter().map(|p| p.title).collect())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let url = "postgres://postgres@127.0.0.1/saas_app_axum";
//! let raw = sea_orm::Database::connect(url).await?;
//! // Tenant statements run as each tenant's own role, global ones as the app's global role.
//! let tenancy = Tenancy::connect(&saas_app::SaasApp, url).await?;
//!
//! // The JWT claim `org` holds an organization id; the resolver looks it up.
//! let resolver = move |id: String| {
//!     let raw = raw.clone();
//!     async move {
//!         let Ok(id) = id.parse::<i64>() else { return Ok(None) };
//!         let org = organization::Entity::find_by_id(id).one(&raw).await?;
//!         Ok::<Option<Tenant>, ResolveError>(org.map(|o| o.tenant()))
//!     }
//! };
//! let source = TenantSource::jwt(JwtConfig::hs256(b"a secret of 32 bytes or more.....")?.claim("org"));
//! let layer = TenantLayer::new(tenancy, source, resolver);
//! let cache = layer.cache().clone(); // call cache.invalidate(id) when an org changes
//!
//! let app = Router::new().route("/posts", get(list_posts)).layer(layer);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod error;
mod extract;
mod layer;
pub mod ready;
mod resolver;
mod source;

pub use error::{ConfigError, ResolveError, TenantRejection};
pub use extract::{TenantDb, TenantId};
pub use layer::{TenantLayer, TenantService};
pub use resolver::{ResolveFuture, TenantCache, TenantResolver};
pub use source::{JwtConfig, MAX_ID_LEN, TenantSource};

/// The workspace README's "Web apps: axum" section (extracted by `build.rs`): compiled as
/// doctests so the README's code keeps compiling against this API.
#[cfg(doctest)]
#[doc = include_str!(concat!(env!("OUT_DIR"), "/readme_axum.md"))]
pub struct ReadmeAxumSection;

/// The JWT library this crate verifies tokens with, re-exported so apps that issue tokens
/// (or tests that forge them) use the same version.
pub use jsonwebtoken;

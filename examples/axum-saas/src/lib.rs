//! `axum-saas`: a REST API over the reference SaaS app (`saas-app`), one tenant per
//! organization, resolved per request by [`sea_tenancy_axum::TenantLayer`].
//!
//! | route | tenant | what |
//! |---|---|---|
//! | `POST /users` `{"email"}` | none (global) | creates a user (posts need an author) |
//! | `POST /orgs` `{"name"}` | none (global) | creates an organization and provisions schema `org_<id>` |
//! | `POST /token` `{"org", "ttl_seconds"?}` | none | **demo only**: issues an HS256 token whose claim `org` names the organization |
//! | `GET /tenant` | required | the resolved tenant (identifier and schema) |
//! | `GET/POST /posts`, `GET/PUT/DELETE /posts/{id}` | required | the organization's posts |
//!
//! The tenant comes from the JWT claim `org` ([`TenantMode::Jwt`]) or from header `X-Tenant`
//! holding the organization id ([`TenantMode::Header`]); the library binary picks with
//! `--header-mode` or `TENANT_MODE=header`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{EncodingKey, Header};
use saas_app::SaasApp;
use saas_app::entities::{organization, post, user};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryOrder, Set, SqlErr,
};
use sea_tenancy::{Tenancy, TenancyError};
use sea_tenancy_axum::{
    ConfigError, JwtConfig, TenantCache, TenantDb, TenantId, TenantLayer, TenantSource, ready,
};
use serde::{Deserialize, Serialize};

/// The database the binary creates (if missing) and migrates on the chosen server.
pub const DATABASE: &str = "saas_app_axum";

/// The JWT claim that carries the organization id.
pub const ORG_CLAIM: &str = "org";

/// The header that carries the organization id in [`TenantMode::Header`].
pub const TENANT_HEADER: &str = "x-tenant";

/// Where requests name their organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantMode {
    /// `Authorization: Bearer <JWT>` with claim `org` (HS256, signed with the config's secret).
    Jwt,
    /// `X-Tenant: <organization id>` — only behind a gateway that sets it: any client can send
    /// any header.
    Header,
}

/// How the API is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where requests name their organization.
    pub mode: TenantMode,
    /// The HS256 secret `POST /token` signs with and the layer verifies with.
    pub jwt_secret: Vec<u8>,
    /// How long resolved organizations stay cached.
    pub cache_ttl: Duration,
}

/// Why the API could not be built or started.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The tenant source is misconfigured (e.g. an empty JWT secret).
    #[error("invalid tenant configuration: {0}")]
    Config(#[from] ConfigError),
    /// The app role name was refused.
    #[error("invalid app role: {0}")]
    Tenancy(#[from] TenancyError),
    /// The database could not be reached, created or migrated.
    #[error("{what}: {source}")]
    Database {
        /// What was being done.
        what: String,
        /// The database's error.
        source: DbErr,
    },
}

fn db_step(what: impl Into<String>) -> impl FnOnce(DbErr) -> SetupError {
    let what = what.into();
    move |source| SetupError::Database { what, source }
}

/// Shared by every handler.
#[derive(Clone)]
struct AppState {
    /// Plain connection: organizations are provisioned through it.
    raw: DatabaseConnection,
    /// Tenancy-aware connection for global entities (users).
    tenancy: Tenancy,
    /// The layer's cache, invalidated when an organization is created.
    cache: TenantCache,
    /// Signs demo tokens.
    signing: EncodingKey,
}

/// Builds the API over `raw`, the owner's connection to a database migrated with
/// `sea_tenancy::migrate::migrate_public(&SaasApp, ..)`, and `tenancy`, the app's connection
/// to it (`Tenancy::connect(&SaasApp, url)`: the global role and each tenant's own role).
pub fn app(
    raw: DatabaseConnection,
    tenancy: Tenancy,
    config: &Config,
) -> Result<Router, SetupError> {
    let source = match config.mode {
        TenantMode::Jwt => {
            TenantSource::jwt(JwtConfig::hs256(&config.jwt_secret)?.claim(ORG_CLAIM))
        }
        TenantMode::Header => TenantSource::header(TENANT_HEADER)?,
    };
    // Identifiers are organization ids: load the row, build its tenant from the entity's
    // template; an id that does not parse or names no row is a 404.
    let resolver = ready::by_key::<organization::Entity>(raw.clone());
    let layer = TenantLayer::new(tenancy.clone(), source, resolver).cache_ttl(config.cache_ttl);
    let state = AppState {
        raw,
        tenancy,
        cache: layer.cache().clone(),
        signing: EncodingKey::from_secret(&config.jwt_secret),
    };
    let tenant_routes = Router::new()
        .route("/tenant", get(current_tenant))
        .route("/posts", get(list_posts).post(create_post))
        .route(
            "/posts/{id}",
            get(get_post).put(update_post).delete(delete_post),
        )
        .layer(layer);
    Ok(Router::new()
        .route("/users", post(create_user))
        .route("/orgs", post(create_org))
        .route("/token", post(issue_token))
        .merge(tenant_routes)
        .with_state(state))
}

/// Connects to `server_url`'s server, creates database [`DATABASE`] if it is missing, migrates
/// `public` and brings every existing organization's schema up to date. Returns the owner's
/// connection and the app's.
pub async fn prepare_database(
    server_url: &str,
) -> Result<(DatabaseConnection, Tenancy), SetupError> {
    let admin_url = with_database(server_url, "postgres");
    let admin = Database::connect(admin_url.as_str())
        .await
        .map_err(db_step(format!(
            "could not connect to PostgreSQL at {admin_url} (set DATABASE_URL to a reachable server)"
        )))?;
    let exists = admin
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT 1 AS one FROM pg_database WHERE datname = $1",
            [DATABASE.into()],
        ))
        .await
        .map_err(db_step("could not list databases"))?
        .is_some();
    if !exists {
        admin
            .execute_unprepared(&format!("CREATE DATABASE {DATABASE}"))
            .await
            .map_err(db_step(format!("could not create database {DATABASE}")))?;
    }
    admin.close().await.ok();
    let url = with_database(server_url, DATABASE);
    let raw = Database::connect(url.as_str())
        .await
        .map_err(db_step(format!("could not connect to {url}")))?;
    sea_tenancy::migrate::migrate_public(&SaasApp, &raw)
        .await
        .map_err(|e| db_step("could not migrate the public schema")(e.into()))?;
    let tenants = <SaasApp as sea_tenancy::TenancyApp>::all_tenants(&SaasApp, &raw)
        .await
        .map_err(db_step("could not list organizations"))?;
    let report = sea_tenancy::migrate::migrate_tenants(&SaasApp, &raw, &tenants, 4, |_| {})
        .await
        .map_err(db_step("could not migrate the organizations' schemas"))?;
    if let Some((tenant, e)) = report.failures().next() {
        return Err(SetupError::Database {
            what: format!("could not migrate schema {}", tenant.schema()),
            source: e.clone(),
        });
    }
    let tenancy = Tenancy::connect(&SaasApp, url.as_str()).await?;
    Ok((raw, tenancy))
}

/// `server_url` with its database replaced by `database` (query string kept).
pub fn with_database(server_url: &str, database: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server_url, None),
    };
    let prefix_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[prefix_end..].find('/') {
        Some(slash) => &base[..prefix_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// An API error with a JSON body `{"error", "message"}`, like the layer's refusals.
#[derive(Debug, thiserror::Error)]
enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("{0}")]
    Tenancy(#[from] TenancyError),
    #[error("could not sign the token: {0}")]
    Token(#[from] jsonwebtoken::errors::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            Self::Tenancy(TenancyError::TenantExists { .. }) => (StatusCode::CONFLICT, "conflict"),
            Self::Db(_) | Self::Tenancy(_) | Self::Token(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            eprintln!("internal error: {self}");
            "internal error; see the server log".to_owned()
        } else {
            self.to_string()
        };
        (
            status,
            Json(serde_json::json!({ "error": code, "message": message })),
        )
            .into_response()
    }
}

/// Maps a post's foreign-key violation (unknown `author_id`) to a 422.
fn post_error(author_id: i64) -> impl FnOnce(DbErr) -> ApiError {
    move |e| match e.sql_err() {
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
            ApiError::Invalid(format!("author_id {author_id} is not a user"))
        }
        _ => ApiError::Db(e),
    }
}

/// A user as the API shows it (the entity derives no serde).
#[derive(Serialize)]
struct UserOut {
    id: i64,
    email: String,
}

/// A post as the API shows it.
#[derive(Serialize)]
struct PostOut {
    id: i64,
    title: String,
    author_id: i64,
}

impl From<post::Model> for PostOut {
    fn from(p: post::Model) -> Self {
        Self {
            id: p.id,
            title: p.title,
            author_id: p.author_id,
        }
    }
}

#[derive(Deserialize)]
struct NewUser {
    email: String,
}

async fn create_user(
    State(state): State<AppState>,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    let created = user::ActiveModel {
        email: Set(body.email),
        ..Default::default()
    }
    .insert(&state.tenancy)
    .await
    .map_err(|e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            ApiError::Invalid("a user with this email exists".into())
        }
        _ => ApiError::Db(e),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(UserOut {
            id: created.id,
            email: created.email,
        }),
    ))
}

#[derive(Deserialize)]
struct NewOrg {
    name: String,
}

#[derive(Serialize)]
struct OrgOut {
    id: i64,
    name: String,
    schema: String,
}

async fn create_org(
    State(state): State<AppState>,
    Json(body): Json<NewOrg>,
) -> Result<(StatusCode, Json<OrgOut>), ApiError> {
    let org = sea_tenancy::manage::provision(
        &SaasApp,
        &state.raw,
        organization::ActiveModel {
            name: Set(body.name),
            ..Default::default()
        },
    )
    .await?;
    // A request for this id may have been answered "unknown" (and cached) moments ago.
    state.cache.invalidate(&org.id.to_string());
    Ok((
        StatusCode::CREATED,
        Json(OrgOut {
            schema: org.tenant().schema().to_owned(),
            id: org.id,
            name: org.name,
        }),
    ))
}

#[derive(Deserialize)]
struct TokenRequest {
    org: i64,
    ttl_seconds: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    org: i64,
    exp: u64,
    iat: u64,
}

/// **Demo only**: anyone who can reach it gets a token for any organization. A real app issues
/// tokens after authenticating the user and checking their membership.
async fn issue_token(
    State(state): State<AppState>,
    Json(body): Json<TokenRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if organization::Entity::find_by_id(body.org)
        .one(&state.raw)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!("no organization {}", body.org)));
    }
    let ttl = body.ttl_seconds.unwrap_or(3600).min(86_400);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = Claims {
        org: body.org,
        iat: now,
        exp: now + ttl,
    };
    let token = jsonwebtoken::encode(&Header::default(), &claims, &state.signing)?;
    Ok(Json(serde_json::json!({
        "token": token,
        "token_type": "Bearer",
        "expires_in": ttl,
    })))
}

async fn current_tenant(TenantId(id): TenantId, db: TenantDb) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "id": id, "schema": db.tenant().schema() }))
}

async fn list_posts(TenantDb(db): TenantDb) -> Result<Json<Vec<PostOut>>, ApiError> {
    let posts = post::Entity::find()
        .order_by_asc(post::Column::Id)
        .all(&db)
        .await?;
    Ok(Json(posts.into_iter().map(PostOut::from).collect()))
}

#[derive(Deserialize)]
struct NewPost {
    title: String,
    author_id: i64,
}

async fn create_post(
    TenantDb(db): TenantDb,
    Json(body): Json<NewPost>,
) -> Result<(StatusCode, Json<PostOut>), ApiError> {
    let created = post::ActiveModel {
        title: Set(body.title),
        author_id: Set(body.author_id),
        ..Default::default()
    }
    .insert(&db)
    .await
    .map_err(post_error(body.author_id))?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

async fn find_post(db: &impl ConnectionTrait, id: i64) -> Result<post::Model, ApiError> {
    post::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no post {id} in this organization")))
}

async fn get_post(TenantDb(db): TenantDb, Path(id): Path<i64>) -> Result<Json<PostOut>, ApiError> {
    Ok(Json(find_post(&db, id).await?.into()))
}

#[derive(Deserialize)]
struct PostChanges {
    title: Option<String>,
    author_id: Option<i64>,
}

async fn update_post(
    TenantDb(db): TenantDb,
    Path(id): Path<i64>,
    Json(body): Json<PostChanges>,
) -> Result<Json<PostOut>, ApiError> {
    let found = find_post(&db, id).await?;
    let author_id = body.author_id.unwrap_or(found.author_id);
    let mut changes = found.into_active_model();
    if let Some(title) = body.title {
        changes.title = Set(title);
    }
    changes.author_id = Set(author_id);
    let updated = changes.update(&db).await.map_err(post_error(author_id))?;
    Ok(Json(updated.into()))
}

async fn delete_post(TenantDb(db): TenantDb, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    let found = find_post(&db, id).await?;
    post::Entity::delete_by_id(found.id).exec(&db).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}

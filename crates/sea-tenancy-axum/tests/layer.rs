//! `TenantLayer` over HTTP against real PostgreSQL: every tenant source, the refusals and
//! their status codes, the cache, and the optional mode.
//!
//! Each test gets its own database (`sea_tenancy::testing::TestDatabase`) with the reference
//! app's public set, two organizations (`acme`, `globex`) with their schemas provisioned and
//! one post each, and serves a small router on `127.0.0.1:0`.

/// A small HTTP/1.1 client (why not reqwest: see the file).
#[path = "support/http.rs"]
mod web;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Json, Router};
use saas_app::SaasApp;
use saas_app::entities::{organization, post, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use sea_tenancy::testing::TestDatabase;
use sea_tenancy::{Tenancy, Tenant};
use sea_tenancy_axum::jsonwebtoken::{self, Algorithm, EncodingKey, Header};
use sea_tenancy_axum::{
    JwtConfig, ResolveError, TenantCache, TenantDb, TenantId, TenantLayer, TenantSource,
};
use serde_json::{Value, json};

const PRIVATE_PEM: &[u8] = include_bytes!("keys/rs256_private.pem");
const PUBLIC_PEM: &[u8] = include_bytes!("keys/rs256_public.pem");
const FORGER_PEM: &[u8] = include_bytes!("keys/other_private.pem");
const SECRET: &[u8] = b"layer test secret, 32 bytes or more";

struct Fixture {
    _database: TestDatabase,
    raw: DatabaseConnection,
    tenancy: Tenancy,
    /// (id, name) of acme and globex.
    orgs: Vec<(i64, String)>,
}

async fn fixture() -> Fixture {
    let database = TestDatabase::create().await;
    let raw = database.connect_with_pool_size(10).await;
    // Migrates public and installs the roles.
    sea_tenancy::migrate::migrate_public(&SaasApp, &raw)
        .await
        .expect("public migrations");
    let tenancy = Tenancy::connect(&SaasApp, database.connect_options())
        .await
        .expect("tenancy");
    let author = user::ActiveModel {
        email: Set("author@example.com".into()),
        ..Default::default()
    }
    .insert(&tenancy)
    .await
    .expect("user");
    let mut orgs = Vec::new();
    for name in ["acme", "globex"] {
        let org = sea_tenancy::manage::provision(
            &SaasApp,
            &raw,
            organization::ActiveModel {
                name: Set(name.into()),
                ..Default::default()
            },
        )
        .await
        .expect("provision");
        post::ActiveModel {
            title: Set(format!("{name} post")),
            author_id: Set(author.id),
            ..Default::default()
        }
        .insert(&tenancy.with_tenant(org.tenant()))
        .await
        .expect("post");
        orgs.push((org.id, org.name));
    }
    Fixture {
        _database: database,
        raw,
        tenancy,
        orgs,
    }
}

/// Resolves organization ids, counting its calls.
fn by_id(
    raw: &DatabaseConnection,
    calls: Arc<AtomicUsize>,
) -> impl sea_tenancy_axum::TenantResolver {
    let raw = raw.clone();
    move |id: String| {
        let raw = raw.clone();
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            let Ok(id) = id.parse::<i64>() else {
                return Ok(None);
            };
            let org = organization::Entity::find_by_id(id).one(&raw).await?;
            Ok::<Option<Tenant>, ResolveError>(org.map(|o| o.tenant()))
        }
    }
}

/// Resolves organization names (slugs).
fn by_name(raw: &DatabaseConnection) -> impl sea_tenancy_axum::TenantResolver {
    let raw = raw.clone();
    move |name: String| {
        let raw = raw.clone();
        async move {
            let org = organization::Entity::find()
                .filter(organization::Column::Name.eq(name))
                .one(&raw)
                .await?;
            Ok::<Option<Tenant>, ResolveError>(org.map(|o| o.tenant()))
        }
    }
}

async fn titles(TenantDb(db): TenantDb) -> Json<Vec<String>> {
    let posts = post::Entity::find()
        .order_by_asc(post::Column::Id)
        .all(&db)
        .await
        .expect("list posts");
    Json(posts.into_iter().map(|p| p.title).collect())
}

async fn whoami(id: Option<TenantId>, db: Option<TenantDb>) -> Json<Value> {
    Json(json!({
        "id": id.map(|TenantId(id)| id),
        "schema": db.map(|db| db.tenant().schema().to_owned()),
    }))
}

/// Serves `layer` in front of `GET /posts`, `GET /whoami` and `GET /t/{tenant}/posts` on a
/// random loopback port; returns the base URL.
async fn serve(layer: TenantLayer) -> String {
    let app = Router::new()
        .route("/posts", get(titles))
        .route("/whoami", get(whoami))
        .route("/t/{tenant}/posts", get(titles))
        .layer(layer)
        // Not behind the layer: the extractor must refuse, not panic.
        .route("/unlayered", get(titles));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}")
}

async fn get_json(req: web::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn token(alg: Algorithm, key: &EncodingKey, claims: Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), &claims, key).expect("encode")
}

#[tokio::test]
async fn subdomain_resolves_each_tenant_and_refuses_unknown_and_bare_hosts() {
    let f = fixture().await;
    let layer = TenantLayer::new(
        f.tenancy.clone(),
        TenantSource::subdomain("example.com").unwrap(),
        by_name(&f.raw),
    );
    let base = serve(layer).await;
    let client = web::Client::new();
    let get = |host: &str| client.get(format!("{base}/posts")).header("host", host);

    assert_eq!(
        get_json(get("acme.example.com")).await,
        (200, json!(["acme post"]))
    );
    assert_eq!(
        get_json(get("globex.example.com:8080")).await,
        (200, json!(["globex post"]))
    );
    let (status, body) = get_json(get("nope.example.com")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "unknown_tenant");
    assert!(body["message"].as_str().unwrap().contains("nope"));
    let (status, body) = get_json(get("example.com")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "missing_tenant");
    let (status, body) = get_json(get("a.b.example.com")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("malformed_tenant"))
    );
}

#[tokio::test]
async fn path_prefix_resolves_each_tenant() {
    let f = fixture().await;
    let layer = TenantLayer::new(
        f.tenancy.clone(),
        TenantSource::path_prefix("/t").unwrap(),
        by_name(&f.raw),
    );
    let base = serve(layer).await;
    let client = web::Client::new();
    for name in ["acme", "globex"] {
        assert_eq!(
            get_json(client.get(format!("{base}/t/{name}/posts"))).await,
            (200, json!([format!("{name} post")]))
        );
    }
    assert_eq!(
        get_json(client.get(format!("{base}/t/nope/posts"))).await.0,
        404
    );
    // A layered route outside the prefix names no tenant.
    assert_eq!(get_json(client.get(format!("{base}/posts"))).await.0, 400);
}

#[tokio::test]
async fn rs256_accepts_the_issuers_tokens_and_refuses_forged_expired_and_confused_ones() {
    let f = fixture().await;
    let source = TenantSource::jwt(JwtConfig::rs256_pem(PUBLIC_PEM).unwrap().claim("org"));
    let layer = TenantLayer::new(f.tenancy.clone(), source, by_id(&f.raw, Arc::default()));
    let base = serve(layer).await;
    let client = web::Client::new();
    let issuer = EncodingKey::from_rsa_pem(PRIVATE_PEM).unwrap();
    let forger = EncodingKey::from_rsa_pem(FORGER_PEM).unwrap();
    let with = |token: &str| client.get(format!("{base}/posts")).bearer_auth(token);
    let (acme, globex) = (f.orgs[0].0, f.orgs[1].0);

    let good = token(
        Algorithm::RS256,
        &issuer,
        json!({"org": acme, "exp": now() + 600}),
    );
    assert_eq!(get_json(with(&good)).await, (200, json!(["acme post"])));
    // The claim may also be a string.
    let good = token(
        Algorithm::RS256,
        &issuer,
        json!({"org": globex.to_string(), "exp": now() + 600}),
    );
    assert_eq!(get_json(with(&good)).await, (200, json!(["globex post"])));

    let refused = [
        (
            "forged",
            token(
                Algorithm::RS256,
                &forger,
                json!({"org": acme, "exp": now() + 600}),
            ),
        ),
        (
            "expired",
            token(
                Algorithm::RS256,
                &issuer,
                json!({"org": acme, "exp": now() - 3600}),
            ),
        ),
        (
            "no exp",
            token(Algorithm::RS256, &issuer, json!({"org": acme})),
        ),
        (
            "no claim",
            token(Algorithm::RS256, &issuer, json!({"exp": now() + 600})),
        ),
        (
            // Algorithm confusion: HS256 keyed with the public key, which anyone has.
            "hs256 with the public key",
            token(
                Algorithm::HS256,
                &EncodingKey::from_secret(PUBLIC_PEM),
                json!({"org": acme, "exp": now() + 600}),
            ),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (what, token) in refused {
        let res = with(&token).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 401, "{what}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer", "{what}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_credentials", "{what}: {body}");
    }
    let (status, body) = get_json(client.get(format!("{base}/posts"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("missing_credentials"))
    );
    let (status, _) = get_json(
        client
            .get(format!("{base}/posts"))
            .header("authorization", "Basic dTpw"), // u:p
    )
    .await;
    assert_eq!(status, 401);
    // A valid token for an organization that does not exist.
    let ghost = token(
        Algorithm::RS256,
        &issuer,
        json!({"org": 999_999, "exp": now() + 600}),
    );
    assert_eq!(get_json(with(&ghost)).await.0, 404);
}

#[tokio::test]
async fn hs256_refuses_a_token_signed_with_another_secret_or_expired() {
    let f = fixture().await;
    let source = TenantSource::jwt(JwtConfig::hs256(SECRET).unwrap().claim("org"));
    let layer = TenantLayer::new(f.tenancy.clone(), source, by_id(&f.raw, Arc::default()));
    let base = serve(layer).await;
    let client = web::Client::new();
    let key = EncodingKey::from_secret(SECRET);
    let wrong = EncodingKey::from_secret(b"some other secret of enough length");
    let acme = f.orgs[0].0;
    let with = |token: String| client.get(format!("{base}/posts")).bearer_auth(token);

    let ok = token(
        Algorithm::HS256,
        &key,
        json!({"org": acme, "exp": now() + 60}),
    );
    assert_eq!(get_json(with(ok)).await, (200, json!(["acme post"])));
    let forged = token(
        Algorithm::HS256,
        &wrong,
        json!({"org": acme, "exp": now() + 60}),
    );
    let (status, body) = get_json(with(forged)).await;
    assert_eq!(status, 401);
    assert!(
        body["message"].as_str().unwrap().contains("signature"),
        "{body}"
    );
    let expired = token(
        Algorithm::HS256,
        &key,
        json!({"org": acme, "exp": now() - 3600}),
    );
    let (status, body) = get_json(with(expired)).await;
    assert_eq!(status, 401);
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn cached_requests_skip_the_resolver_until_invalidated() {
    let f = fixture().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let cache = TenantCache::new(Duration::from_secs(300));
    let layer = TenantLayer::new(
        f.tenancy.clone(),
        TenantSource::header("X-Tenant").unwrap(),
        by_id(&f.raw, calls.clone()),
    )
    .with_cache(cache.clone());
    let base = serve(layer).await;
    let client = web::Client::new();
    let acme = f.orgs[0].0.to_string();
    let get = |id: &str| client.get(format!("{base}/posts")).header("x-tenant", id);

    for _ in 0..10 {
        assert_eq!(get_json(get(&acme)).await, (200, json!(["acme post"])));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one lookup for ten requests"
    );
    cache.invalidate(&acme);
    assert_eq!(get_json(get(&acme)).await.0, 200);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "invalidation forces a lookup"
    );

    // Unknown identifiers are cached briefly too, so a flood does not reach the database...
    for _ in 0..5 {
        assert_eq!(get_json(get("424242")).await.0, 404);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // ...and clear() forgets everything.
    cache.clear();
    assert_eq!(get_json(get(&acme)).await.0, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn header_mode_refuses_requests_without_a_tenant() {
    let f = fixture().await;
    let layer = TenantLayer::new(
        f.tenancy.clone(),
        TenantSource::header("X-Tenant").unwrap(),
        by_id(&f.raw, Arc::default()),
    );
    let base = serve(layer).await;
    let client = web::Client::new();
    let (status, body) = get_json(client.get(format!("{base}/posts"))).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "missing_tenant");
    assert!(
        body["message"].as_str().unwrap().contains("x-tenant"),
        "{body}"
    );
    let (status, body) = get_json(client.get(format!("{base}/unlayered"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("tenant_layer_missing"))
    );
}

#[tokio::test]
async fn optional_layer_lets_tenantless_requests_through() {
    let f = fixture().await;
    let layer = TenantLayer::new(
        f.tenancy.clone(),
        TenantSource::header("X-Tenant").unwrap(),
        by_id(&f.raw, Arc::default()),
    )
    .optional();
    let base = serve(layer).await;
    let client = web::Client::new();
    assert_eq!(
        get_json(client.get(format!("{base}/whoami"))).await,
        (200, json!({"id": null, "schema": null}))
    );
    let acme = f.orgs[0].0;
    assert_eq!(
        get_json(
            client
                .get(format!("{base}/whoami"))
                .header("x-tenant", acme.to_string())
        )
        .await,
        (
            200,
            json!({"id": acme.to_string(), "schema": format!("org_{acme}")})
        )
    );
    // Naming a tenant that does not exist is still an error.
    assert_eq!(
        get_json(client.get(format!("{base}/whoami")).header("x-tenant", "0"))
            .await
            .0,
        404
    );
}

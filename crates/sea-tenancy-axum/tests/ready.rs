//! `TenantSource::first_of` and the `ready` resolvers over HTTP against real PostgreSQL: which
//! source wins, that a present but invalid source is refused instead of skipped, lookups by
//! primary key and by a text column (hits, misses, ambiguity) and their caching.
//!
//! Each test gets its own database with the reference app's public set and two organizations
//! (`acme`, `globex`) provisioned through `sea_tenancy::manage::provision` (a
//! `sea_tenancy::testing::TestApp`), one post each.

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
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, QueryOrder, Set};
use sea_tenancy::Tenancy;
use sea_tenancy::testing::TestApp;
use sea_tenancy_axum::jsonwebtoken::{self, Algorithm, EncodingKey, Header};
use sea_tenancy_axum::{
    JwtConfig, TenantCache, TenantDb, TenantLayer, TenantResolver, TenantSource, ready,
};
use serde_json::{Value, json};

const SECRET: &[u8] = b"ready test secret, 32 bytes or more";

struct Fixture {
    /// Keeps the database alive.
    _app: TestApp<SaasApp, organization::Model>,
    raw: DatabaseConnection,
    tenancy: Tenancy,
    /// Ids of acme and globex.
    acme: i64,
    globex: i64,
}

async fn fixture() -> Fixture {
    const NAMES: [&str; 2] = ["acme", "globex"];
    let app = TestApp::provision(SaasApp, NAMES.len(), |i| organization::ActiveModel {
        name: Set(NAMES[i].into()),
        ..Default::default()
    })
    .await;
    let author = user::ActiveModel {
        email: Set("author@example.com".into()),
        ..Default::default()
    }
    .insert(app.tenancy())
    .await
    .expect("user");
    for (i, name) in NAMES.into_iter().enumerate() {
        post::ActiveModel {
            title: Set(format!("{name} post")),
            author_id: Set(author.id),
            ..Default::default()
        }
        .insert(&app.tenant(i))
        .await
        .expect("post");
    }
    Fixture {
        raw: app.owner().clone(),
        tenancy: app.tenancy().clone(),
        acme: app.rows()[0].id,
        globex: app.rows()[1].id,
        _app: app,
    }
}

async fn provision(raw: &DatabaseConnection, name: &str) -> organization::Model {
    sea_tenancy::manage::provision(
        &SaasApp,
        raw,
        organization::ActiveModel {
            name: Set(name.into()),
            ..Default::default()
        },
    )
    .await
    .expect("provision")
}

async fn titles(TenantDb(db): TenantDb) -> Json<Vec<String>> {
    let posts = post::Entity::find()
        .order_by_asc(post::Column::Id)
        .all(&db)
        .await
        .expect("list posts");
    Json(posts.into_iter().map(|p| p.title).collect())
}

/// Serves `layer` in front of `GET /posts` on a random loopback port; returns the base URL.
async fn serve(layer: TenantLayer) -> String {
    let app = Router::new().route("/posts", get(titles)).layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}")
}

async fn send(req: web::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json::<Value>().await.unwrap_or(Value::Null))
}

fn token(claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .expect("encode")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Counts the lookups that reach `inner`, i.e. the ones the cache did not answer.
fn counted(inner: impl TenantResolver, calls: Arc<AtomicUsize>) -> impl TenantResolver {
    let inner = Arc::new(inner);
    move |id: String| {
        let (inner, calls) = (inner.clone(), calls.clone());
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            inner.resolve(&id).await
        }
    }
}

#[tokio::test]
async fn first_of_takes_the_first_present_source_and_refuses_a_present_invalid_one() {
    let f = fixture().await;
    // Every source carries an organization name, resolved by the `name` column.
    let source = TenantSource::first_of([
        TenantSource::header("X-Tenant").unwrap(),
        TenantSource::subdomain("example.com").unwrap(),
        TenantSource::jwt(JwtConfig::hs256(SECRET).unwrap().claim("org")),
    ])
    .unwrap();
    let resolver =
        ready::by_column::<organization::Entity>(f.raw.clone(), organization::Column::Name)
            .unwrap();
    let base = serve(TenantLayer::new(f.tenancy.clone(), source, resolver)).await;
    let client = web::Client::new();
    let posts = || client.get(format!("{base}/posts"));
    let acme_token = token(json!({"org": "acme", "exp": now() + 600}));
    let globex_token = token(json!({"org": "globex", "exp": now() + 600}));

    // All three present: the header wins, then the subdomain, then the token.
    let all = posts()
        .header("x-tenant", "acme")
        .header("host", "globex.example.com")
        .bearer_auth(&globex_token);
    assert_eq!(send(all).await, (200, json!(["acme post"])));
    let host_and_token = posts()
        .header("host", "globex.example.com")
        .bearer_auth(&acme_token);
    assert_eq!(send(host_and_token).await, (200, json!(["globex post"])));
    // The bare domain names no tenant: on to the token.
    let token_only = posts()
        .header("host", "example.com")
        .bearer_auth(&acme_token);
    assert_eq!(send(token_only).await, (200, json!(["acme post"])));

    // Present but invalid stops the search, whatever comes after it.
    let empty_header = posts()
        .header("x-tenant", "")
        .header("host", "globex.example.com");
    let (status, body) = send(empty_header).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("malformed_tenant"))
    );
    let deep_host = posts()
        .header("host", "a.b.example.com")
        .bearer_auth(&acme_token);
    let (status, body) = send(deep_host).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("malformed_tenant"))
    );
    let expired = token(json!({"org": "acme", "exp": now() - 3600}));
    let (status, body) = send(posts().header("host", "example.com").bearer_auth(expired)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_credentials"))
    );
    // A header naming an unknown tenant is a 404, not a reason to try the subdomain.
    let unknown = posts()
        .header("x-tenant", "nope")
        .header("host", "globex.example.com");
    let (status, body) = send(unknown).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_tenant"))
    );

    // None present: one 400 naming every way to name a tenant.
    let (status, body) = send(posts().header("host", "example.com")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("missing_tenant"))
    );
    let message = body["message"].as_str().unwrap();
    for expected in ["x-tenant", "example.com", "Authorization: Bearer", "`org`"] {
        assert!(message.contains(expected), "{expected} in {message}");
    }
}

#[tokio::test]
async fn header_or_subdomain_prefers_the_header() {
    let f = fixture().await;
    let resolver =
        ready::by_column::<organization::Entity>(f.raw.clone(), organization::Column::Name)
            .unwrap();
    let source = TenantSource::header_or_subdomain("X-Tenant", "example.com").unwrap();
    let base = serve(TenantLayer::new(f.tenancy.clone(), source, resolver)).await;
    let client = web::Client::new();
    let posts = || client.get(format!("{base}/posts"));
    let both = posts()
        .header("x-tenant", "globex")
        .header("host", "acme.example.com");
    assert_eq!(send(both).await, (200, json!(["globex post"])));
    let host = posts().header("host", "acme.example.com");
    assert_eq!(send(host).await, (200, json!(["acme post"])));
    assert_eq!(send(posts()).await.0, 400, "neither header nor subdomain");
}

#[tokio::test]
async fn by_key_resolves_ids_refuses_unknown_ones_and_is_cached() {
    let f = fixture().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let cache = TenantCache::new(Duration::from_secs(300));
    let resolver = counted(
        ready::by_key::<organization::Entity>(f.raw.clone()),
        calls.clone(),
    );
    let layer = TenantLayer::new(
        f.tenancy.clone(),
        TenantSource::header("X-Tenant").unwrap(),
        resolver,
    )
    .with_cache(cache.clone());
    let base = serve(layer).await;
    let client = web::Client::new();
    let get = |id: &str| client.get(format!("{base}/posts")).header("x-tenant", id);
    let (acme, globex) = (f.acme.to_string(), f.globex.to_string());

    for _ in 0..5 {
        assert_eq!(send(get(&acme)).await, (200, json!(["acme post"])));
    }
    assert_eq!(send(get(&globex)).await, (200, json!(["globex post"])));
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one lookup per tenant");

    for unknown in ["999999", "not-a-number"] {
        let (status, body) = send(get(unknown)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("unknown_tenant"))
        );
        assert!(
            body["message"].as_str().unwrap().contains(unknown),
            "{body}"
        );
    }
    // Unknown answers are cached too.
    assert_eq!(send(get("999999")).await.0, 404);
    assert_eq!(calls.load(Ordering::SeqCst), 4);

    // A tenant provisioned while serving: looked up once, then cached until invalidated.
    let initech = provision(&f.raw, "initech").await.id.to_string();
    assert_eq!(send(get(&initech)).await, (200, json!([])));
    assert_eq!(send(get(&initech)).await, (200, json!([])));
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    cache.invalidate(&initech);
    assert_eq!(send(get(&initech)).await, (200, json!([])));
    assert_eq!(calls.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn by_column_resolves_slugs_serves_the_cache_until_invalidated_and_refuses_ambiguity() {
    let f = fixture().await;
    let layer = TenantLayer::new(
        f.tenancy.clone(),
        TenantSource::subdomain("example.com").unwrap(),
        ready::by_column::<organization::Entity>(f.raw.clone(), organization::Column::Name)
            .unwrap(),
    );
    let cache = layer.cache().clone();
    let base = serve(layer).await;
    let client = web::Client::new();
    let get = |host: &str| client.get(format!("{base}/posts")).header("host", host);

    assert_eq!(
        send(get("acme.example.com")).await,
        (200, json!(["acme post"]))
    );
    assert_eq!(
        send(get("globex.example.com")).await,
        (200, json!(["globex post"]))
    );
    let (status, body) = send(get("nope.example.com")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_tenant"))
    );

    // Renaming the row: the cached answer stands until invalidated, then the old name is
    // unknown and the new one resolves.
    organization::ActiveModel {
        id: Set(f.acme),
        name: Set("acme2".into()),
    }
    .update(&f.raw)
    .await
    .expect("rename");
    assert_eq!(
        send(get("acme.example.com")).await,
        (200, json!(["acme post"]))
    );
    cache.invalidate("acme");
    assert_eq!(send(get("acme.example.com")).await.0, 404);
    assert_eq!(
        send(get("acme2.example.com")).await,
        (200, json!(["acme post"]))
    );

    // Two rows with one name: refused (500), never one of them at random.
    provision(&f.raw, "globex").await;
    cache.clear();
    let (status, body) = send(get("globex.example.com")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("tenant_lookup_failed"))
    );
}

#[test]
fn by_column_refuses_a_column_that_is_not_text() {
    // Never connects: the check is on the column's declared type.
    let db = DatabaseConnection::default();
    let err = ready::by_column::<organization::Entity>(db, organization::Column::Id).unwrap_err();
    assert!(err.to_string().contains("`id`"), "{err}");
}

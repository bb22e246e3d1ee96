//! The demo API over HTTP on 127.0.0.1, against a fresh PostgreSQL database per test: two
//! organizations see disjoint data through the same routes, bad credentials are 401, a
//! missing tenant is 400, and 200 concurrent requests across 10 organizations never see a
//! row of another organization.

/// A small HTTP/1.1 client (why not reqwest: see the file).
#[path = "../../../crates/sea-tenancy-axum/tests/support/http.rs"]
mod web;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum_saas::{Config, TenantMode};
use saas_app::SaasApp;
use sea_tenancy::testing::TestDatabase;
use serde_json::{Value, json};

const SECRET: &[u8] = b"axum-saas test secret of enough bytes";

struct Server {
    _database: TestDatabase,
    base: String,
    client: web::Client,
}

async fn start(mode: TenantMode) -> Server {
    let database = TestDatabase::create().await;
    let raw = database.connect_with_pool_size(10).await;
    sea_tenancy::migrate::migrate_public(&SaasApp, &raw)
        .await
        .expect("public migrations");
    let mut options = database.connect_options();
    options.max_connections(10);
    let tenancy = sea_tenancy::Tenancy::connect(&SaasApp, options)
        .await
        .expect("tenancy");
    let app = axum_saas::app(
        raw,
        tenancy,
        &Config {
            mode,
            jwt_secret: SECRET.to_vec(),
            cache_ttl: Duration::from_secs(60),
        },
    )
    .expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    Server {
        _database: database,
        base,
        client: web::Client::new(),
    }
}

impl Server {
    async fn send(&self, req: web::RequestBuilder) -> (u16, Value) {
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let body = res.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.client.post(self.url(path)).json(&body))
            .await
    }

    async fn user(&self, email: &str) -> i64 {
        let (status, body) = self.post("/users", json!({ "email": email })).await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_i64().expect("user id")
    }

    async fn org(&self, name: &str) -> i64 {
        let (status, body) = self.post("/orgs", json!({ "name": name })).await;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_i64().expect("org id");
        assert_eq!(body["schema"], format!("org_{id}"));
        id
    }

    async fn token(&self, org: i64) -> String {
        let (status, body) = self.post("/token", json!({ "org": org })).await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }
}

/// Attaches the tenant the way `mode` expects it.
fn as_tenant(req: web::RequestBuilder, credential: &Credential) -> web::RequestBuilder {
    match credential {
        Credential::Bearer(token) => req.bearer_auth(token),
        Credential::Header(id) => req.header("x-tenant", id.to_string()),
    }
}

enum Credential {
    Bearer(String),
    Header(i64),
}

fn titles(body: &Value) -> Vec<String> {
    body.as_array()
        .expect("a list of posts")
        .iter()
        .map(|p| p["title"].as_str().expect("title").to_owned())
        .collect()
}

#[tokio::test]
async fn two_organizations_same_routes_disjoint_data_jwt() {
    two_organizations_same_routes_disjoint_data(TenantMode::Jwt).await;
}

#[tokio::test]
async fn two_organizations_same_routes_disjoint_data_header() {
    two_organizations_same_routes_disjoint_data(TenantMode::Header).await;
}

async fn two_organizations_same_routes_disjoint_data(mode: TenantMode) {
    let s = start(mode).await;
    let author = s.user("alice@example.com").await;
    let acme = s.org("Acme").await;
    let globex = s.org("Globex").await;
    let (acme_cred, globex_cred) = match mode {
        TenantMode::Jwt => (
            Credential::Bearer(s.token(acme).await),
            Credential::Bearer(s.token(globex).await),
        ),
        TenantMode::Header => (Credential::Header(acme), Credential::Header(globex)),
    };

    let (status, tenant) = s
        .send(as_tenant(s.client.get(s.url("/tenant")), &acme_cred))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        tenant,
        json!({"id": acme.to_string(), "schema": format!("org_{acme}")})
    );

    let mut ids = Vec::new();
    for (cred, title) in [
        (&acme_cred, "acme launch"),
        (&globex_cred, "globex secrets"),
    ] {
        let req = s
            .client
            .post(s.url("/posts"))
            .json(&json!({"title": title, "author_id": author}));
        let (status, body) = s.send(as_tenant(req, cred)).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_i64().unwrap());
    }
    let list = |cred| as_tenant(s.client.get(s.url("/posts")), cred);
    assert_eq!(titles(&s.send(list(&acme_cred)).await.1), ["acme launch"]);
    assert_eq!(
        titles(&s.send(list(&globex_cred)).await.1),
        ["globex secrets"]
    );

    // Each schema has its own sequence: both first posts are id 1. Globex's post is not
    // reachable through acme's tenant even by id — only acme's own row with that id is.
    assert_eq!(ids[0], ids[1]);
    let id = ids[0];
    let one = |cred| as_tenant(s.client.get(s.url(&format!("/posts/{id}"))), cred);
    assert_eq!(s.send(one(&acme_cred)).await.1["title"], "acme launch");
    assert_eq!(s.send(one(&globex_cred)).await.1["title"], "globex secrets");

    // PUT changes only acme's row.
    let put = s
        .client
        .put(s.url(&format!("/posts/{id}")))
        .json(&json!({"title": "acme relaunch"}));
    let (status, body) = s.send(as_tenant(put, &acme_cred)).await;
    assert_eq!(
        (status, body["title"].as_str()),
        (200, Some("acme relaunch"))
    );
    assert_eq!(
        titles(&s.send(list(&globex_cred)).await.1),
        ["globex secrets"]
    );

    // DELETE removes only acme's row; then it is a 404 for acme and untouched for globex.
    let delete = |cred| as_tenant(s.client.delete(s.url(&format!("/posts/{id}"))), cred);
    let res = delete(&acme_cred).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(s.send(one(&acme_cred)).await.0, 404);
    assert_eq!(s.send(delete(&acme_cred)).await.0, 404);
    assert_eq!(
        titles(&s.send(list(&acme_cred)).await.1),
        Vec::<String>::new()
    );
    assert_eq!(
        titles(&s.send(list(&globex_cred)).await.1),
        ["globex secrets"]
    );

    // An unknown author is the client's mistake, not a 500.
    let req = s
        .client
        .post(s.url("/posts"))
        .json(&json!({"title": "x", "author_id": 987654}));
    assert_eq!(s.send(as_tenant(req, &acme_cred)).await.0, 422);
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn forged_expired_and_missing_tokens_are_401_and_unknown_orgs_404() {
    use sea_tenancy_axum::jsonwebtoken::{EncodingKey, Header, encode};

    let s = start(TenantMode::Jwt).await;
    let acme = s.org("Acme").await;
    let sign = |key: &[u8], claims: Value| {
        encode(&Header::default(), &claims, &EncodingKey::from_secret(key)).unwrap()
    };
    let posts = |token: String| s.client.get(s.url("/posts")).bearer_auth(token);

    let forged = sign(
        b"not the server's secret at all!!",
        json!({"org": acme, "exp": unix_now() + 600}),
    );
    let (status, body) = s.send(posts(forged)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_credentials"))
    );

    let expired = sign(SECRET, json!({"org": acme, "exp": unix_now() - 3600}));
    let (status, body) = s.send(posts(expired)).await;
    assert_eq!(status, 401);
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    let (status, body) = s.send(s.client.get(s.url("/posts"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("missing_credentials"))
    );

    // Correctly signed, but for an organization that does not exist.
    let ghost = sign(SECRET, json!({"org": acme + 1000, "exp": unix_now() + 600}));
    let (status, body) = s.send(posts(ghost)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_tenant"))
    );

    // The demo token endpoint refuses unknown organizations too.
    assert_eq!(s.post("/token", json!({"org": acme + 1000})).await.0, 404);
    // And its tokens work.
    let good = s.token(acme).await;
    assert_eq!(s.send(posts(good)).await, (200, json!([])));
}

#[tokio::test]
async fn header_mode_missing_tenant_is_400_and_unknown_is_404() {
    let s = start(TenantMode::Header).await;
    let acme = s.org("Acme").await;
    let (status, body) = s.send(s.client.get(s.url("/posts"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("missing_tenant"))
    );
    let unknown = s.client.get(s.url("/posts")).header("x-tenant", "31337");
    assert_eq!(s.send(unknown).await.0, 404);
    let not_an_id = s.client.get(s.url("/posts")).header("x-tenant", "acme");
    assert_eq!(s.send(not_an_id).await.0, 404);
    let ok = s
        .client
        .get(s.url("/posts"))
        .header("x-tenant", acme.to_string());
    assert_eq!(s.send(ok).await, (200, json!([])));
}

#[tokio::test]
async fn an_org_created_after_a_miss_is_found_at_once() {
    // The layer caches "unknown" answers; POST /orgs invalidates the new id.
    let s = start(TenantMode::Header).await;
    let first = s.org("First").await;
    let next = (first + 1).to_string();
    let probe = || {
        s.client
            .get(s.url("/posts"))
            .header("x-tenant", next.clone())
    };
    assert_eq!(s.send(probe()).await.0, 404);
    let second = s.org("Second").await;
    assert_eq!(second.to_string(), next);
    assert_eq!(s.send(probe()).await.0, 200);
}

#[tokio::test]
async fn concurrent_requests_across_ten_organizations_never_cross() {
    const ORGS: usize = 10;
    const REQUESTS: usize = 200;
    let s = start(TenantMode::Jwt).await;
    let author = s.user("author@example.com").await;
    let mut tenants = Vec::new();
    for i in 0..ORGS {
        let org = s.org(&format!("Org {i}")).await;
        let token = s.token(org).await;
        // A different number of posts per organization, each titled with its owner.
        for n in 0..=i {
            let req = s
                .client
                .post(s.url("/posts"))
                .bearer_auth(&token)
                .json(&json!({"title": format!("org {org} post {n}"), "author_id": author}));
            assert_eq!(s.send(req).await.0, 201);
        }
        tenants.push((org, token, i + 1));
    }

    let requests = (0..REQUESTS).map(|r| {
        let (org, token, expected) = tenants[r % ORGS].clone();
        let req = s.client.get(s.url("/posts")).bearer_auth(token);
        async move {
            let res = req.send().await.expect("request");
            assert_eq!(res.status().as_u16(), 200);
            let body: Value = res.json().await.expect("json");
            (org, expected, titles(&body))
        }
    });
    let handles: Vec<_> = requests.map(tokio::spawn).collect();
    let mut crossed = 0;
    for handle in handles {
        let (org, expected, titles) = handle.await.expect("request task");
        assert_eq!(titles.len(), expected, "org {org}: {titles:?}");
        let prefix = format!("org {org} post ");
        crossed += titles.iter().filter(|t| !t.starts_with(&prefix)).count();
    }
    assert_eq!(crossed, 0, "rows of another organization in a response");
}

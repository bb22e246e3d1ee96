//! The reference app's binary as users run it: two `migrate` processes at once over the same
//! tenants, then `status`.

mod common;

use std::process::{Command, Output};

use saas_app::SaasApp;
use saas_app::entities::organization;
use sea_orm::Set;
use sea_tenancy::TenancyApp;
use sea_tenancy::manage::provision;
use sea_tenancy::migrate::rollback::rollback_tenant;

fn saas_app(url: &str, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_saas-app"))
        .args(args)
        .env("DATABASE_URL", url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start saas-app")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `tenants: U updated (A migrations applied), ...` → A.
fn applied(summary: &str) -> usize {
    let line = summary
        .lines()
        .find(|l| l.starts_with("tenants:"))
        .unwrap_or_else(|| panic!("no summary in {summary}"));
    let start = line.find('(').unwrap() + 1;
    line[start..].split(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_migrate_processes_apply_each_migration_once() {
    let app = common::app().await;
    let mut tenants = Vec::new();
    for i in 0..12 {
        let org = provision(
            &SaasApp,
            &app.raw,
            organization::ActiveModel {
                name: Set(format!("org {i}")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        // Put every tenant one migration behind.
        rollback_tenant::<tenant_migrations::Migrator>(&app.raw, &org.tenant(), 1)
            .await
            .unwrap();
        tenants.push(org.tenant());
    }
    let url = app.database.url();
    let status = saas_app(url, &["status", "--check"])
        .wait_with_output()
        .unwrap();
    assert!(!status.status.success(), "{}", text(&status));

    let a = saas_app(url, &["migrate", "--tenants-only", "--jobs", "3"]);
    let b = saas_app(url, &["migrate", "--tenants-only", "--jobs", "3"]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", text(&a));
    assert!(b.status.success(), "{}", text(&b));
    assert_eq!(
        applied(&text(&a)) + applied(&text(&b)),
        tenants.len(),
        "each migration applied exactly once:\n{}\n{}",
        text(&a),
        text(&b)
    );

    let status = saas_app(url, &["status", "--check"])
        .wait_with_output()
        .unwrap();
    assert!(status.status.success(), "{}", text(&status));
    let table = text(&status);
    assert!(table.contains("12 tenants, 0 not current"), "{table}");
    let json = saas_app(url, &["status", "--json"])
        .wait_with_output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let listed = json["tenants"].as_array().unwrap();
    assert_eq!(listed.len(), 12);
    assert!(
        listed
            .iter()
            .all(|t| t["state"] == "current" && t["pending"] == 0)
    );
    assert_eq!(SaasApp.all_tenants(&app.raw).await.unwrap(), tenants);
}

fn run(url: &str, args: &[&str]) -> (bool, String) {
    let output = saas_app(url, args).wait_with_output().unwrap();
    (output.status.success(), text(&output))
}

fn json(url: &str) -> serde_json::Value {
    let (ok, out) = run(url, &["status", "--json"]);
    assert!(ok, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// `migrate` says what it applied to `public`; `status` shows the public set like a tenant's
/// and the orphan schemas, which `tenants prune` archives or drops (and refuses without --yes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_set_and_orphans_through_the_binary() {
    use sea_orm::ConnectionTrait;
    use sea_orm_migration::MigratorTrait;
    let database = sea_tenancy::testing::TestDatabase::create().await;
    let url = database.url();
    let (ok, out) = run(url, &["status", "--json"]);
    assert!(ok, "{out}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    let total = migrations::Migrator::migrations().len();
    assert_eq!(status["public"]["applied"], 0);
    assert_eq!(status["public"]["pending"], total);
    let (ok, _) = run(url, &["status", "--check"]);
    assert!(!ok, "a pending public set fails --check");

    let (ok, out) = run(url, &["migrate"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("public: {total} migration(s) applied")),
        "{out}"
    );
    let (ok, out) = run(url, &["migrate"]);
    assert!(ok && out.contains("public: up to date"), "{out}");
    let status = json(url);
    assert_eq!(status["public"]["applied"], total);
    assert_eq!(status["public"]["pending"], 0);
    assert_eq!(status["public"]["state"], "current");
    assert_eq!(status["orphans"], serde_json::json!([]));

    // A real tenant, and two schemas no organization names.
    let raw = database.connect().await;
    let acme = provision(
        &SaasApp,
        &raw,
        organization::ActiveModel {
            name: Set("Acme".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    raw.execute_unprepared(
        "CREATE SCHEMA org_998; CREATE TABLE org_998.seaql_migrations (version text PRIMARY KEY);
         CREATE SCHEMA org_999; CREATE TABLE org_999.seaql_migrations (version text PRIMARY KEY);
         CREATE TABLE org_999.notes (body text); INSERT INTO org_999.notes VALUES ('keep me');
         CREATE SCHEMA reports",
    )
    .await
    .unwrap();
    assert_eq!(
        json(url)["orphans"],
        serde_json::json!(["org_998", "org_999"])
    );
    let (ok, out) = run(url, &["status"]);
    assert!(
        ok && out.contains("orphan schemas") && out.contains("org_999"),
        "{out}"
    );

    // Without --yes: listed, nothing changed.
    let (ok, out) = run(url, &["tenants", "prune"]);
    assert!(
        !ok && out.contains("without --yes") && out.contains("org_998"),
        "{out}"
    );
    assert_eq!(
        json(url)["orphans"],
        serde_json::json!(["org_998", "org_999"])
    );

    let (ok, out) = run(url, &["tenants", "prune", "--archive", "--yes"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("org_999: archived as archived_org_999"),
        "{out}"
    );
    assert_eq!(json(url)["orphans"], serde_json::json!([]));
    let kept = raw
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT body FROM archived_org_999.notes",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.try_get::<String>("", "body").unwrap(), "keep me");

    raw.execute_unprepared(
        "CREATE SCHEMA org_997; CREATE TABLE org_997.seaql_migrations (version text)",
    )
    .await
    .unwrap();
    let (ok, out) = run(url, &["tenants", "prune", "--yes"]);
    assert!(ok && out.contains("org_997: dropped"), "{out}");
    let left: Vec<String> = raw
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT nspname::text AS n FROM pg_namespace WHERE nspname LIKE 'org%' OR nspname LIKE 'archived%' OR nspname = 'reports' ORDER BY 1",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("", "n").unwrap())
        .collect();
    assert_eq!(
        left,
        [
            "archived_org_998".to_owned(),
            "archived_org_999".to_owned(),
            acme.tenant().schema().to_owned(),
            "reports".to_owned()
        ]
    );
}

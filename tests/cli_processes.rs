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

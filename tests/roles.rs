//! Tenant roles: created, renamed and dropped with their tenants; logins that could do more
//! than their tenant refused at once with the fix; passwords derived from the login secret
//! checked by a server that asks for them; and the path from a deployment without roles.

mod common;

use clap::Parser;
use saas_app::SaasApp;
use saas_app::entities::{membership, organization, post};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, DbBackend, EntityTrait,
    PaginatorTrait, Set, Statement,
};
use sea_tenancy::cli::{Cli, execute};
use sea_tenancy::manage::{delete_tenant, provision};
use sea_tenancy::roles::LoginSecret;
use sea_tenancy::testing::{
    ClusterAuth, MigratorsApp, start_throwaway_cluster_with, stop_throwaway_cluster,
};
use sea_tenancy::{Tenancy, TenancyApp, TenancyError, Tenant};

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect(sql)
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("an integer")
}

async fn role_exists(db: &DatabaseConnection, role: &str) -> bool {
    scalar(
        db,
        &format!("SELECT count(*) FROM pg_roles WHERE rolname = '{role}'"),
    )
    .await
        == 1
}

fn org(name: &str) -> organization::ActiveModel {
    organization::ActiveModel {
        name: Set(name.to_owned()),
        ..Default::default()
    }
}

#[tokio::test]
async fn roles_follow_provision_rename_and_delete() {
    let app = common::app().await;
    let names = app.db.role_names().clone();
    let acme = provision(&SaasApp, &app.raw, org("Acme")).await.unwrap();
    let role = names.tenant(acme.tenant().schema());
    assert!(role_exists(&app.raw, &role).await);
    // It logs in as itself, a member of the tenants' group only.
    let conn = app.db.with_tenant(acme.tenant());
    let who = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT session_user::text AS s, (SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = session_user) AS groups",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(who.try_get::<String>("", "s").unwrap(), role);
    assert_eq!(who.try_get::<i64>("", "groups").unwrap(), 1);

    // A tenant that has no role (never provisioned) cannot log in; the error says what to do.
    let stale = app
        .db
        .with_tenant(Tenant::new("org_1000", 1000).unwrap())
        .execute_unprepared("SELECT 1")
        .await
        .unwrap_err();
    assert!(stale.to_string().contains("roles sync"), "{stale}");

    // Deleting the tenant drops its role (and with on_delete = "drop", its schema).
    delete_tenant(&SaasApp, &app.raw, acme).await.unwrap();
    assert!(!role_exists(&app.raw, &role).await);
    assert_eq!(
        scalar(&app.raw, "SELECT count(*) FROM public.sea_tenancy_tenants").await,
        0
    );
}

/// Each way a tenant role can be given more than its tenant is refused at its first login,
/// with the statement that fixes it; once fixed, the tenant works again.
#[tokio::test]
async fn logins_with_more_than_their_tenant_are_refused() {
    let app = common::app().await;
    let (_, acme) = app.org("Acme").await;
    let (_, globex) = app.org("Globex").await;
    let names = app.db.role_names().clone();
    let role = names.tenant(acme.schema());
    let other = names.tenant(globex.schema());
    let cases = [
        (
            format!("ALTER ROLE \"{role}\" SUPERUSER"),
            "NOSUPERUSER",
            format!("ALTER ROLE \"{role}\" NOSUPERUSER"),
        ),
        (
            format!("ALTER ROLE \"{role}\" BYPASSRLS"),
            "NOBYPASSRLS",
            format!("ALTER ROLE \"{role}\" NOBYPASSRLS"),
        ),
        (
            format!("ALTER ROLE \"{role}\" CREATEROLE"),
            "NOCREATEROLE",
            format!("ALTER ROLE \"{role}\" NOCREATEROLE"),
        ),
        (
            format!("GRANT \"{other}\" TO \"{role}\""),
            "REVOKE",
            format!("REVOKE \"{other}\" FROM \"{role}\""),
        ),
        (
            "GRANT pg_read_all_data TO \"ROLE\"".replace("ROLE", &role),
            "pg_read_all_data",
            format!("REVOKE pg_read_all_data FROM \"{role}\""),
        ),
        (
            "GRANT CREATE ON SCHEMA public TO PUBLIC".to_owned(),
            "REVOKE CREATE ON SCHEMA public",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC".to_owned(),
        ),
    ];
    for (harm, named_fix, fix) in cases {
        app.raw.execute_unprepared(&harm).await.unwrap();
        // A fresh Tenancy: its first login for the tenant is checked.
        let tenancy = Tenancy::connect(&SaasApp, app.database.connect_options()).await;
        let err = match tenancy {
            // The global login is checked too: CREATE on public stops it already.
            Err(e) => e,
            Ok(tenancy) => post::Entity::find()
                .count(&tenancy.with_tenant(acme.clone()))
                .await
                .map(|_| ())
                .unwrap_err()
                .into(),
        };
        let text = err.to_string();
        assert!(text.contains("refusing to use login"), "{harm}: {text}");
        assert!(
            text.contains(named_fix),
            "{harm}: the fix is not named: {text}"
        );
        app.raw.execute_unprepared(&fix).await.unwrap();
        let tenancy = Tenancy::connect(&SaasApp, app.database.connect_options())
            .await
            .unwrap();
        assert_eq!(
            post::Entity::find()
                .count(&tenancy.with_tenant(acme.clone()))
                .await
                .unwrap(),
            0
        );
    }
    // The global role is checked at start-up.
    let global = names.global().to_owned();
    app.raw
        .execute_unprepared(&format!("GRANT \"{role}\" TO \"{global}\""))
        .await
        .unwrap();
    let err = Tenancy::connect(&SaasApp, app.database.connect_options())
        .await
        .unwrap_err();
    assert!(matches!(err, TenancyError::UnsafeLogin { .. }), "{err}");
    assert!(err.to_string().contains(&role), "{err}");
}

/// The reference app's sets and tenants with a second secret that differs from the app's.
fn wrong_secret() -> MigratorsApp<migrations::Migrator, tenant_migrations::Migrator> {
    MigratorsApp::new()
        .with_login_secret(|| Ok(LoginSecret::new("a different secret, also long enough")?))
        .with_tenants_from(|db| TenancyApp::all_tenants(&SaasApp, db))
}

/// On a server that checks passwords, tenant and global roles log in with the passwords the
/// secret derives (the server stores only their SCRAM verifiers), and a wrong secret is
/// refused with the fix.
#[tokio::test]
async fn derived_passwords_open_a_server_that_asks_for_them() {
    let admin = start_throwaway_cluster_with(ClusterAuth::Password)
        .await
        .expect("a cluster with password authentication");
    let url = format!("{}/saas", admin.rsplit_once('/').unwrap().0);
    let server = Database::connect(admin.as_str()).await.unwrap();
    server
        .execute_unprepared("CREATE DATABASE saas")
        .await
        .unwrap();
    let owner = Database::connect(url.as_str()).await.unwrap();
    sea_tenancy::migrate::migrate_public(&SaasApp, &owner)
        .await
        .unwrap();
    let acme = provision(&SaasApp, &owner, org("Acme")).await.unwrap();
    let verifier: String = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT rolpassword FROM pg_authid WHERE rolname = 'saas_t_org_1'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");

    let tenancy = Tenancy::connect(&SaasApp, url.as_str()).await.unwrap();
    let conn = tenancy.with_tenant(acme.tenant());
    let who: String = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT session_user::text",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(who, "saas_t_org_1");
    assert_eq!(post::Entity::find().count(&conn).await.unwrap(), 0);
    assert_eq!(membership::Entity::find().count(&conn).await.unwrap(), 0);

    let wrong_secret = wrong_secret();
    let err = Tenancy::connect(&wrong_secret, url.as_str())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("password"), "{err}");
    assert!(err.to_string().contains("SEA_TENANCY_SECRET"), "{err}");
    // A tenant login with the wrong secret fails the same way (the global role is fine).
    sea_tenancy::migrate::migrate_public(&wrong_secret, &owner)
        .await
        .unwrap();
    let wrong = Tenancy::connect(&wrong_secret, url.as_str()).await.unwrap();
    let err = post::Entity::find()
        .count(&wrong.with_tenant(acme.tenant()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("roles sync"), "{err}");
    // `roles sync` with the new secret lets it in.
    let cli = Cli::parse_from(["app", "--database-url", url.as_str(), "roles", "sync"]);
    assert!(execute(&wrong_secret, cli).await.unwrap());
    let synced = Tenancy::connect(&wrong_secret, url.as_str()).await.unwrap();
    assert_eq!(
        post::Entity::find()
            .count(&synced.with_tenant(acme.tenant()))
            .await
            .unwrap(),
        0
    );
    drop((tenancy, wrong, synced));
    owner.close().await.ok();
    server.close().await.ok();
    stop_throwaway_cluster(&admin).await.unwrap();
}

/// A deployment made before tenant roles: schemas, rows and a shared app role with rights on
/// every tenant schema, policies keyed by a setting. `roles sync` gives every tenant its role,
/// re-creates the policies and takes the shared role's rights away.
#[tokio::test]
async fn roles_sync_upgrades_a_deployment_without_roles() {
    let app = common::app().await;
    let (_, acme) = app.org("Acme").await;
    let names = app.db.role_names().clone();
    let role = names.tenant(acme.schema());
    // Back to the old world: no tenant role, a shared role with DML on the schema, the old
    // policy.
    app.raw
        .execute_unprepared(&format!(
            "DROP OWNED BY \"{role}\"; DROP ROLE \"{role}\"; DELETE FROM public.sea_tenancy_tenants;
             DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sea_tenancy_app') THEN CREATE ROLE sea_tenancy_app NOLOGIN; END IF; END $$;
             GRANT USAGE ON SCHEMA {s} TO sea_tenancy_app;
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO sea_tenancy_app;
             DROP POLICY sea_tenancy_isolation ON memberships;
             CREATE POLICY sea_tenancy_isolation ON memberships USING (org_id = current_setting('sea_tenancy.tenant')::bigint);",
            s = acme.quoted_schema()
        ))
        .await
        .unwrap();
    let err = post::Entity::find()
        .count(&app.db.with_tenant(acme.clone()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("roles sync"), "{err}");

    let cli = Cli::parse_from([
        "app",
        "--database-url",
        app.database.url(),
        "roles",
        "sync",
        "--revoke-legacy-role",
        "sea_tenancy_app",
    ]);
    assert!(execute(&SaasApp, cli).await.unwrap());
    let conn = app.db.with_tenant(acme.clone());
    assert_eq!(post::Entity::find().count(&conn).await.unwrap(), 0);
    let mine = membership::ActiveModel {
        user_id: Set(app.user("a@example.com").await.id),
        role: Set("owner".into()),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .unwrap();
    assert_eq!(mine.org_id, 1, "stamped from the role's key");
    let policy: String = app
        .raw
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polname = 'sea_tenancy_isolation'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert!(policy.to_lowercase().contains("current_user"), "{policy}");
    assert!(!policy.contains("current_setting"), "{policy}");
    let legacy = scalar(
        &app.raw,
        &format!(
            "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = 'sea_tenancy_app' AND table_schema = '{}'",
            acme.schema()
        ),
    )
    .await;
    assert_eq!(
        legacy, 0,
        "the shared role lost its rights on the tenant schema"
    );
}

/// Tenants listed by schema name (no managing entity), as `tenants create` serves them.
fn shops() -> MigratorsApp<migrations::Migrator, tenant_migrations::Migrator> {
    MigratorsApp::new()
        .with_login_secret(|| SaasApp.login_secret())
        .with_schemas_like("shop\\_%")
}

/// `tenants create/rename/drop` carry the role as well.
#[tokio::test]
async fn cli_tenant_commands_carry_the_role() {
    let app = common::app().await;
    let names = app.db.role_names().clone();
    let run = |args: &'static [&'static str]| {
        let url = app.database.url().to_owned();
        async move {
            let mut argv = vec!["app", "--database-url", url.as_str()];
            argv.extend_from_slice(args);
            execute(&shops(), Cli::parse_from(argv)).await
        }
    };
    assert!(run(&["tenants", "create", "shop_a"]).await.unwrap());
    assert!(role_exists(&app.raw, &names.tenant("shop_a")).await);
    let shop = Tenant::from_schema("shop_a").unwrap();
    assert_eq!(
        post::Entity::find()
            .count(&app.db.with_tenant(shop))
            .await
            .unwrap(),
        0
    );
    assert!(
        run(&["tenants", "rename", "shop_a", "shop_b"])
            .await
            .unwrap()
    );
    assert!(!role_exists(&app.raw, &names.tenant("shop_a")).await);
    assert!(role_exists(&app.raw, &names.tenant("shop_b")).await);
    let shop = Tenant::from_schema("shop_b").unwrap();
    assert_eq!(
        post::Entity::find()
            .count(&app.db.with_tenant(shop))
            .await
            .unwrap(),
        0
    );
    assert!(run(&["tenants", "drop", "shop_b", "--yes"]).await.unwrap());
    assert!(!role_exists(&app.raw, &names.tenant("shop_b")).await);
}

//! Database placement on real PostgreSQL: tenants spread over the default database, two extra
//! databases and a second cluster; migrate/status per database; an unreachable database; and
//! `tenants move` there and back with row counts and foreign keys intact.

use saas_app::SaasApp;
use saas_app::entities::{comment, membership, organization, post, user};
use sea_orm::QueryOrder;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait,
    Set, Statement, TransactionTrait,
};
use sea_tenancy::across::AcrossPlaced;
use sea_tenancy::cli::{Cli, execute};
use sea_tenancy::placement::{Placement, PlacementError, catalog, run};
use sea_tenancy::testing::{
    MigratorsApp, TestDatabase, start_throwaway_cluster, stop_throwaway_cluster,
};
use sea_tenancy::{Tenancy, Tenant};

use clap::Parser;

fn cli(url: &str, args: &[&str]) -> Cli {
    let mut argv = vec!["saas-app", "--database-url", url];
    argv.extend_from_slice(args);
    Cli::parse_from(argv)
}

async fn run_cli(url: &str, args: &[&str]) -> Result<bool, String> {
    execute(&SaasApp, cli(url, args)).await
}

/// The reference app, but with tenants made by hand (`tenants create/rename`) besides its rows.
fn by_hand() -> MigratorsApp<migrations::Migrator, tenant_migrations::Migrator> {
    MigratorsApp::new()
        .with_login_secret(|| sea_tenancy::TenancyApp::login_secret(&SaasApp))
        .with_tenant_access(|table| sea_tenancy::TenancyApp::tenant_access(&SaasApp, table))
        .with_tenants_from(|db| sea_tenancy::TenancyApp::all_tenants(&SaasApp, db))
        .with_tenants_are_rows(false)
}

async fn run_cli_by_hand(url: &str, args: &[&str]) -> Result<bool, String> {
    execute(&by_hand(), cli(url, args)).await
}

/// `url` with a password added (the servers trust every local connection, so it is ignored),
/// to check that it never shows.
fn with_password(url: &str) -> String {
    url.replacen("postgres://postgres@", "postgres://postgres:hunter2@", 1)
}

async fn default_db(database: &TestDatabase) -> DatabaseConnection {
    let raw = database.connect().await;
    sea_tenancy::migrate::migrate_public(&SaasApp, &raw)
        .await
        .expect("public set and roles");
    raw
}

async fn tenancy(home: &TestDatabase, raw: &DatabaseConnection) -> Tenancy {
    let placement = Placement::builder(raw.clone())
        .build()
        .await
        .expect("placement");
    Tenancy::builder(home.connect_options())
        .app(&SaasApp)
        .expect("secret")
        .placement(placement)
        .connect()
        .await
        .expect("tenancy")
}

async fn provision(placement: &Placement, name: &str, into: Option<&str>) -> Tenant {
    sea_tenancy::placement::provision::provision(
        &SaasApp,
        placement,
        organization::ActiveModel {
            name: Set(name.to_owned()),
            ..Default::default()
        },
        into,
    )
    .await
    .unwrap_or_else(|e| panic!("provision {name}: {e}"))
    .tenant()
}

/// A user (written by the owner into the tenant's database: tenants only read global tables),
/// `posts` posts by them with one comment each, and a membership, in one tenant transaction.
async fn fill(db: &Tenancy, tenant: &Tenant, email: &str, posts: usize) {
    // Tenants only read global tables: the owner writes the author into the tenant's database.
    let placement = db.placement().expect("placement");
    let home = placement.database_of(tenant).await.expect("catalog");
    let owner = placement
        .connection(home.as_deref())
        .await
        .expect("tenant database");
    let u = user::ActiveModel {
        email: Set(email.to_owned()),
        ..Default::default()
    }
    .insert(&owner)
    .await
    .expect("user");
    let txn = db.with_tenant(tenant.clone()).begin().await.expect("begin");
    add_posts(&txn, u.id, email, posts).await;
    membership::ActiveModel {
        user_id: Set(u.id),
        role: Set("owner".to_owned()),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .expect("membership");
    txn.commit().await.expect("commit");
}

async fn add_posts<C: ConnectionTrait>(conn: &C, author: i64, title: &str, posts: usize) {
    for i in 0..posts {
        let p = post::ActiveModel {
            title: Set(format!("{title} {i}")),
            author_id: Set(author),
            ..Default::default()
        }
        .insert(conn)
        .await
        .expect("post");
        comment::ActiveModel {
            post_id: Set(p.id),
            body: Set(format!("on {i}")),
            ..Default::default()
        }
        .insert(conn)
        .await
        .expect("comment");
    }
}

/// What `tenant` sees through `db`: its authors' emails (posts joined with the global users
/// table, in the tenant's database), posts, comments, memberships.
async fn seen(db: &Tenancy, tenant: &Tenant) -> (Vec<String>, u64, u64, u64) {
    let conn = db.with_tenant(tenant.clone());
    let emails = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT DISTINCT u.email FROM posts p JOIN users u ON u.id = p.author_id ORDER BY 1",
        ))
        .await
        .expect("authors")
        .iter()
        .map(|r| r.try_get::<String>("", "email").unwrap())
        .collect();
    (
        emails,
        post::Entity::find().count(&conn).await.expect("posts"),
        comment::Entity::find()
            .count(&conn)
            .await
            .expect("comments"),
        membership::Entity::find()
            .count(&conn)
            .await
            .expect("memberships"),
    )
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect(sql)
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("an integer")
}

async fn has_schema(db: &DatabaseConnection, schema: &str) -> bool {
    scalar(
        db,
        &format!("SELECT count(*) FROM pg_namespace WHERE nspname = '{schema}'"),
    )
    .await
        == 1
}

#[tokio::test]
async fn tenants_spread_over_databases_and_a_second_cluster() {
    let home = TestDatabase::create().await;
    let db_a = TestDatabase::create().await;
    let db_b = TestDatabase::create().await;
    let cluster = start_throwaway_cluster().await.expect("a second cluster");
    let raw = default_db(&home).await;
    let url = home.url();

    // The catalog: two databases on this server, one on the second cluster.
    let a_url = with_password(db_a.url());
    let far_url = with_password(&cluster);
    assert!(
        run_cli(url, &["databases", "add", "a", "--url", &a_url])
            .await
            .unwrap()
    );
    assert!(
        run_cli(url, &["databases", "add", "b", "--url", db_b.url()])
            .await
            .unwrap()
    );
    assert!(
        run_cli(url, &["databases", "add", "far", "--url", &far_url])
            .await
            .unwrap()
    );
    assert!(
        run_cli(url, &["databases", "range", "b", "3", "5"])
            .await
            .unwrap()
    );
    assert!(run_cli(url, &["databases", "list"]).await.unwrap());

    // Bad input is refused with the reason.
    let err = run_cli(url, &["databases", "range", "a", "4", "10"])
        .await
        .unwrap_err();
    assert!(err.contains("overlaps"), "{err}");
    let err = run_cli(url, &["databases", "add", "Bad-Name", "--url", db_b.url()])
        .await
        .unwrap_err();
    assert!(err.contains("invalid"), "{err}");
    let err = run_cli(
        url,
        &["databases", "add", "c", "--url", "postgres://u:pw@h:5432"],
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("names no database") && !err.contains("pw@"),
        "{err}"
    );
    let err = run_cli(url, &["databases", "assign", "org_99", "nowhere"])
        .await
        .unwrap_err();
    assert!(err.contains("unknown database `nowhere`"), "{err}");

    let db = tenancy(&home, &raw).await;
    let placement = db.placement().unwrap().clone();
    let t1 = provision(&placement, "home", None).await; // key 1: default
    let t2 = provision(&placement, "listed", Some("a")).await; // key 2: listed to a
    let t3 = provision(&placement, "ranged 3", None).await; // keys 3, 4: range → b
    let t4 = provision(&placement, "ranged 4", None).await;
    let t5 = provision(&placement, "far away", Some("far")).await; // key 5: listed to far
    let tenants = [&t1, &t2, &t3, &t4, &t5];
    for (i, t) in tenants.iter().enumerate() {
        fill(&db, t, &format!("user{}@{}", i + 1, t.schema()), i + 1).await;
    }

    // Isolation: each tenant sees exactly its own rows, wherever it lives.
    for (i, t) in tenants.iter().enumerate() {
        let n = (i + 1) as u64;
        assert_eq!(
            seen(&db, t).await,
            (vec![format!("user{}@{}", i + 1, t.schema())], n, n, 1),
            "{t}"
        );
    }

    // ...and the rows are physically where the catalog says.
    let a = db_a.connect().await;
    let b = db_b.connect().await;
    let far = sea_orm::Database::connect(far_url.as_str()).await.unwrap();
    assert!(has_schema(&raw, "org_1").await && !has_schema(&raw, "org_2").await);
    assert!(has_schema(&a, "org_2").await && !has_schema(&a, "org_3").await);
    assert!(has_schema(&b, "org_3").await && has_schema(&b, "org_4").await);
    assert!(has_schema(&far, "org_5").await && !has_schema(&far, "org_1").await);
    assert_eq!(scalar(&a, "SELECT count(*) FROM org_2.posts").await, 2);
    // Re-pointing a database that holds tenants needs --force.
    let err = run_cli(url, &["databases", "add", "b", "--url", &a_url])
        .await
        .unwrap_err();
    assert!(
        err.contains("already holds tenants") && !err.contains("hunter2"),
        "{err}"
    );
    assert!(
        run_cli(url, &["databases", "add", "b", "--url", db_b.url()])
            .await
            .unwrap(),
        "the same URL again is fine"
    );
    // A schema-only tenant created by hand lands where it is listed; re-listing it is refused.
    assert!(
        run_cli(url, &["databases", "assign", "org_77", "b"])
            .await
            .unwrap()
    );
    assert!(
        run_cli_by_hand(url, &["tenants", "create", "org_77"])
            .await
            .unwrap()
    );
    assert!(has_schema(&b, "org_77").await && !has_schema(&raw, "org_77").await);
    // A renamed tenant keeps its list entry.
    assert!(
        run_cli(url, &["databases", "assign", "org_88", "default"])
            .await
            .unwrap()
    );
    assert!(
        run_cli_by_hand(url, &["tenants", "create", "org_88"])
            .await
            .unwrap()
    );
    assert!(
        run_cli_by_hand(url, &["tenants", "rename", "org_88", "org_89"])
            .await
            .unwrap()
    );
    assert_eq!(
        scalar(
            &raw,
            "SELECT count(*) FROM sea_tenancy_tenant_databases WHERE tenant = 'org_89' AND database = 'default'"
        )
        .await,
        1
    );
    assert!(run_cli(url, &["tenants", "list"]).await.unwrap());
    let err = run_cli(url, &["databases", "assign", "org_77", "a"])
        .await
        .unwrap_err();
    assert!(err.contains("tenants move"), "{err}");
    assert_eq!(
        scalar(&b, "SELECT count(*) FROM public.memberships").await,
        2
    );
    assert_eq!(
        scalar(&raw, "SELECT count(*) FROM public.memberships").await,
        1
    );
    // System data stays home; the tenant database holds its own row for foreign keys.
    assert_eq!(scalar(&raw, "SELECT count(*) FROM organizations").await, 5);
    assert_eq!(scalar(&far, "SELECT count(*) FROM organizations").await, 1);
    // Global-only statements go to the default database (as the tenant's role).
    user::ActiveModel {
        email: Set("only-at-home@example.com".into()),
        ..Default::default()
    }
    .insert(&raw)
    .await
    .unwrap();
    let at_home = scalar(&raw, "SELECT count(*) FROM users").await;
    assert_ne!(at_home, scalar(&far, "SELECT count(*) FROM users").await);
    let via_tenant = user::Entity::find()
        .count(&db.with_tenant(t5.clone()))
        .await
        .unwrap();
    assert_eq!(via_tenant as i64, at_home);

    // Per-database status and migrate.
    let all: Vec<Tenant> = tenants.iter().map(|t| (*t).clone()).collect();
    let groups = run::status_all::<SaasApp>(&raw, Some(&placement), &all)
        .await
        .unwrap();
    let names: Vec<(&str, usize)> = groups.iter().map(|g| (g.name(), g.tenants.len())).collect();
    assert_eq!(names, [("default", 1), ("a", 1), ("b", 2), ("far", 1)]);
    assert!(groups.iter().all(|g| g.result.as_ref().is_ok_and(|s| {
        s.iter()
            .all(|s| s.state == sea_tenancy::migrate::State::Current)
    })));
    assert!(run_cli(url, &["migrate"]).await.unwrap());
    assert!(run_cli(url, &["status", "--check"]).await.unwrap());
    assert!(
        run_cli(url, &["rollback", "--tenant", "org_4", "--steps", "0"])
            .await
            .unwrap()
    );

    // Queries across tenants, wherever they live: the CLI creates the reporting login on every
    // server of the catalog; the answer is the tenants' own queries, in the order of the list.
    let login = format!("{}_reports", db.role_names().namespace());
    assert!(
        run_cli(url, &["reporting", "create", &login])
            .await
            .unwrap()
    );
    let across = AcrossPlaced::connect(&SaasApp, &placement, home.connect_options(), &login)
        .await
        .expect("the reporting login connects");
    let order: Vec<Tenant> = [&t5, &t1, &t3, &t2, &t4]
        .iter()
        .map(|t| (*t).clone())
        .collect();
    let mut expected = Vec::new();
    let mut expected_counts = Vec::new();
    for t in &order {
        let conn = db.with_tenant(t.clone());
        let posts = post::Entity::find()
            .order_by_desc(post::Column::Id)
            .all(&conn)
            .await
            .unwrap();
        expected_counts.push((t.clone(), posts.len() as u64));
        expected.extend(posts.into_iter().map(|p| (t.clone(), p)));
    }
    let got = across
        .all(&order, post::Entity::find().order_by_desc(post::Column::Id))
        .await
        .unwrap();
    assert_eq!(got, expected);
    assert_eq!(got.len(), 15, "1 + 2 + 3 + 4 + 5 posts from four databases");
    let counts = across.count(&order, post::Entity::find()).await.unwrap();
    assert_eq!(counts, expected_counts);
    let sums = across
        .clone()
        .chunk_size(1)
        .sum(&order, post::Entity::find(), post::Column::AuthorId)
        .await
        .unwrap();
    assert_eq!(sums.len(), 5);
    assert!(sums.iter().zip(&order).all(|((t, s), o)| t == o && *s > 0));

    // The second cluster's database becomes unreachable (its address now leads nowhere):
    // reported, the others still served, exit non-zero.
    far.close().await.ok();
    drop(db);
    drop(placement);
    let gone = "postgres://postgres:hunter2@127.0.0.1:1/gone";
    assert!(
        run_cli(url, &["databases", "add", "far", "--url", gone, "--force"])
            .await
            .unwrap()
    );
    let placement = Placement::builder(raw.clone()).build().await.unwrap();
    let groups = run::status_all::<SaasApp>(&raw, Some(&placement), &all)
        .await
        .unwrap();
    for g in &groups {
        match g.name() {
            "far" => {
                let err = g.result.as_ref().unwrap_err();
                assert!(err.contains("database `far` is unreachable"), "{err}");
                assert!(!err.contains("hunter2"), "password leaked: {err}");
            }
            other => assert!(g.result.is_ok(), "{other}: {:?}", g.result),
        }
    }
    assert!(!run_cli(url, &["status"]).await.unwrap());
    assert!(!run_cli(url, &["migrate"]).await.unwrap());
    let report = run::migrate(&SaasApp, &raw, Some(&placement), &all, 2, true, |_| {})
        .await
        .unwrap();
    assert_eq!(report.iter().filter(|g| g.result.is_ok()).count(), 3);
    let err = PlacementError::Unreachable {
        database: "x".into(),
        reason: "y".into(),
    };
    assert!(err.to_string().contains("unreachable"));
    // Best effort: the harness's watchdog stops it when this process ends anyway.
    let _ = stop_throwaway_cluster(&cluster).await;
}

#[tokio::test]
async fn tenants_move_round_trip_keeps_rows_and_foreign_keys() {
    let home = TestDatabase::create().await;
    let other = TestDatabase::create().await;
    let raw = default_db(&home).await;
    let url = home.url();
    assert!(
        run_cli(url, &["databases", "add", "a", "--url", other.url()])
            .await
            .unwrap()
    );
    let db = tenancy(&home, &raw).await;
    let placement = db.placement().unwrap().clone();
    let moving = provision(&placement, "moving", None).await;
    let staying = provision(&placement, "staying", None).await;
    fill(&db, &moving, "m1@x", 5).await;
    fill(&db, &moving, "m2@x", 3).await;
    fill(&db, &staying, "s@x", 2).await;
    let before = seen(&db, &moving).await;
    let staying_before = seen(&db, &staying).await;
    let fks = "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'org_1' AND c.contype = 'f'";
    let fk_count = scalar(&raw, fks).await;
    assert!(fk_count >= 2, "posts → users and comments → posts");

    // A tenant transaction open (not yet written): refused, it could still write.
    let open = db.with_tenant(moving.clone()).begin().await.unwrap();
    let err = run_cli(url, &["tenants", "move", "org_1", "--to", "a"])
        .await
        .unwrap_err();
    assert!(err.contains("transaction of the tenant is open"), "{err}");
    open.rollback().await.unwrap();

    // Being written: refused at once, nothing moved.
    let writer = raw.begin().await.unwrap();
    writer
        .execute_unprepared("UPDATE org_1.posts SET title = title")
        .await
        .unwrap();
    let err = run_cli(url, &["tenants", "move", "org_1", "--to", "a"])
        .await
        .unwrap_err();
    assert!(err.contains("being written"), "{err}");
    writer.rollback().await.unwrap();
    let a = other.connect().await;
    assert!(
        !has_schema(&a, "org_1").await,
        "a refused move leaves no copy"
    );
    assert_eq!(seen(&db, &moving).await, before);

    // Out to `a`, keeping the source.
    assert!(
        run_cli(url, &["tenants", "move", "org_1", "--to", "a"])
            .await
            .unwrap()
    );
    let fresh = tenancy(&home, &raw).await;
    assert_eq!(seen(&fresh, &moving).await, before);
    assert_eq!(scalar(&a, "SELECT count(*) FROM org_1.posts").await, 8);
    assert_eq!(scalar(&a, fks).await, fk_count);
    assert_eq!(
        scalar(
            &a,
            "SELECT count(*) FROM public.memberships WHERE org_id = 1"
        )
        .await,
        2
    );
    // The old copy is fenced: renamed, and the process that cached the old place is refused
    // there and re-routed instead of writing to it.
    assert!(!has_schema(&raw, "org_1").await);
    let fenced = scalar(
        &raw,
        "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'moved_%_org_1'",
    )
    .await;
    assert_eq!(fenced, 1);
    assert_eq!(seen(&db, &moving).await, before, "stale cache re-routed");
    // New rows continue the sequences (posts by a user whose row was copied along).
    let m1: i64 = scalar(&a, "SELECT id FROM public.users WHERE email = 'm1@x'").await;
    add_posts(&fresh.with_tenant(moving.clone()), m1, "later", 1).await;
    assert_eq!(scalar(&a, "SELECT count(*) FROM org_1.posts").await, 9);
    let mut expected = before.clone();
    expected.1 += 1;
    expected.2 += 1;
    assert_eq!(seen(&db, &moving).await, expected);
    let err = run_cli(url, &["tenants", "move", "org_1", "--to", "a"])
        .await
        .unwrap_err();
    assert!(err.contains("already lives"), "{err}");
    assert!(run_cli(url, &["status", "--check"]).await.unwrap());

    // And back home, dropping the copy in `a`.
    assert!(
        run_cli(
            url,
            &[
                "tenants",
                "move",
                "org_1",
                "--to",
                "default",
                "--drop-source"
            ]
        )
        .await
        .unwrap()
    );
    let fresh = tenancy(&home, &raw).await;
    assert_eq!(seen(&fresh, &moving).await, expected);
    assert_eq!(
        seen(&db, &moving).await,
        expected,
        "stale cache re-routed back"
    );
    assert!(has_schema(&raw, "org_1").await && !has_schema(&a, "org_1").await);
    assert_eq!(
        scalar(&a, "SELECT count(*) FROM public.memberships").await,
        0
    );
    assert_eq!(scalar(&raw, fks).await, fk_count);
    assert_eq!(seen(&fresh, &staying).await, staying_before);
    let where_now = catalog::lookup(&raw, std::slice::from_ref(&moving))
        .await
        .unwrap();
    assert_eq!(where_now, [None]);
}

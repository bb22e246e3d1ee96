//! Queries across tenants (`sea_tenancy::across`): one `Select` over many tenants equals the
//! per-tenant queries concatenated; a tenant behind on migrations is named, never skipped; only
//! a reporting login may run them, and it can write nothing.

mod common;

use clap::Parser;
use futures::TryStreamExt;
use saas_app::SaasApp;
use saas_app::entities::{comment, membership, post, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, Database, DbBackend, EntityTrait,
    FromQueryResult, JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
    Set, Statement,
};
use sea_tenancy::across::{Across, AcrossError};
use sea_tenancy::cli::{Cli, execute};
use sea_tenancy::{TenancyApp, Tenant};

/// The reporting login of `app`: named after its role namespace, so that the test harness drops
/// it with the test database (roles are cluster-wide).
fn login(app: &common::App) -> String {
    format!("{}_reports", app.db.role_names().namespace())
}

fn cli(app: &common::App, args: &[&str]) -> Cli {
    let mut argv = vec!["app", "--database-url", app.database.url()];
    argv.extend_from_slice(args);
    Cli::parse_from(argv)
}

/// A reporting login made by the CLI, as an `Across`.
async fn reporting(app: &common::App) -> Across {
    assert_eq!(
        execute(&SaasApp, cli(app, &["reporting", "create", &login(app)])).await,
        Ok(true)
    );
    Across::connect(&SaasApp, app.database.connect_options(), &login(app))
        .await
        .expect("the reporting login connects")
}

/// Three tenants with different posts, comments and memberships; users are global.
async fn world(app: &common::App) -> Vec<Tenant> {
    let ann = app.user("ann@example.com").await;
    let bob = app.user("bob@example.com").await;
    let mut tenants = Vec::new();
    for (n, name) in ["Acme", "Globex", "Initech"].into_iter().enumerate() {
        let (_, tenant) = app.org(name).await;
        let conn = app.db.with_tenant(tenant.clone());
        for i in 0..(3 + 2 * n) {
            let author = if i % 2 == 0 { ann.id } else { bob.id };
            let post = post::ActiveModel {
                title: Set(format!(
                    "{name} post {i}{}",
                    if i % 3 == 0 { " alpha" } else { "" }
                )),
                author_id: Set(author),
                ..Default::default()
            }
            .insert(&conn)
            .await
            .unwrap();
            if i % 2 == 1 {
                comment::ActiveModel {
                    post_id: Set(post.id),
                    body: Set(format!("on {}", post.title)),
                    ..Default::default()
                }
                .insert(&conn)
                .await
                .unwrap();
            }
        }
        for (user, role) in [(ann.id, "owner"), (bob.id, "member")]
            .iter()
            .take(1 + n % 2)
        {
            membership::ActiveModel {
                user_id: Set(*user),
                role: Set(role.to_string()),
                ..Default::default()
            }
            .insert(&conn)
            .await
            .unwrap();
        }
        tenants.push(tenant);
    }
    tenants
}

#[derive(Debug, PartialEq, Eq, FromQueryResult)]
struct TitleAndAuthor {
    title: String,
    email: String,
}

fn filtered() -> sea_orm::Select<post::Entity> {
    post::Entity::find()
        .filter(post::Column::AuthorId.is_not_null())
        .filter(post::Column::Title.contains("post"))
        .order_by_desc(post::Column::Id)
        .limit(3)
}

fn with_authors() -> sea_orm::Select<post::Entity> {
    post::Entity::find()
        .select_only()
        .column(post::Column::Title)
        .column_as(user::Column::Email, "email")
        .join(JoinType::InnerJoin, post::Relation::Author.def())
        .filter(user::Column::Email.starts_with("ann"))
        .order_by_asc(post::Column::Title)
}

#[tokio::test]
async fn across_equals_the_per_tenant_queries() {
    let app = common::app().await;
    // The login exists before the tenants: every tenant provisioned later is readable.
    let across = reporting(&app).await.chunk_size(2);
    let tenants = world(&app).await;

    // Filters, order and a per-tenant limit: the tenants' answers, concatenated in list order.
    let mut expected = Vec::new();
    let mut expected_joined = Vec::new();
    let mut expected_counts = Vec::new();
    let mut expected_sums = Vec::new();
    let mut expected_members = Vec::new();
    for tenant in &tenants {
        let conn = app.db.with_tenant(tenant.clone());
        for model in filtered().all(&conn).await.unwrap() {
            expected.push((tenant.clone(), model));
        }
        for row in with_authors()
            .into_model::<TitleAndAuthor>()
            .all(&conn)
            .await
            .unwrap()
        {
            expected_joined.push((tenant.clone(), row));
        }
        let all = post::Entity::find().all(&conn).await.unwrap();
        expected_counts.push((
            tenant.clone(),
            post::Entity::find().count(&conn).await.unwrap(),
        ));
        expected_sums.push((tenant.clone(), all.iter().map(|p| p.author_id).sum::<i64>()));
        for m in membership::Entity::find()
            .order_by_asc(membership::Column::Id)
            .all(&conn)
            .await
            .unwrap()
        {
            expected_members.push((tenant.clone(), m));
        }
    }
    let got = across.select(&tenants, filtered()).all().await.unwrap();
    assert_eq!(got, expected);
    assert_eq!(got.len(), 9, "three per tenant");
    assert!(got.iter().any(|(t, _)| *t == tenants[2]));

    // A join to a global table, into a custom FromQueryResult.
    let joined = across
        .select(&tenants, with_authors())
        .into_model::<TitleAndAuthor>()
        .await
        .unwrap();
    assert_eq!(joined, expected_joined);
    assert!(!joined.is_empty());

    // Aggregates per tenant, without fetching rows.
    let counts = across
        .select(&tenants, post::Entity::find())
        .count()
        .await
        .unwrap();
    assert_eq!(counts, expected_counts);
    assert_eq!(
        counts.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        [3, 5, 7]
    );
    let sums = across
        .select(&tenants, post::Entity::find())
        .sum(post::Column::AuthorId)
        .await
        .unwrap();
    assert_eq!(sums, expected_sums);
    // Filters apply to aggregates too; a tenant without matches counts zero.
    let alpha = across
        .select(
            &tenants,
            post::Entity::find().filter(post::Column::Title.contains("Globex")),
        )
        .count()
        .await
        .unwrap();
    assert_eq!(alpha.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [0, 5, 0]);

    // An overall limit: the first rows in tenant order; an overall order: top_by.
    let first = across
        .select(&tenants, filtered())
        .limit(4)
        .all()
        .await
        .unwrap();
    assert_eq!(first, expected[..4]);

    // Streamed, chunk by chunk (two tenants each here): the same rows in the same order.
    let streamed: Vec<_> = across
        .select(&tenants, filtered())
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, expected);
    let streamed: Vec<_> = across
        .select(&tenants, with_authors())
        .stream_model::<TitleAndAuthor>()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, expected_joined);
    let streamed: Vec<_> = across
        .select(&tenants, filtered())
        .limit(4)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, expected[..4]);
    let newest = across
        .select(
            &tenants,
            post::Entity::find()
                .order_by_desc(post::Column::Id)
                .limit(2),
        )
        .top_by(2, |a, b| {
            b.1.id.cmp(&a.1.id).then(a.0.schema().cmp(b.0.schema()))
        })
        .await
        .unwrap();
    assert_eq!(newest.len(), 2);
    assert_eq!(newest[0].1.id, 7, "Initech has the most posts: {newest:?}");
    assert_eq!(newest[0].0, tenants[2]);

    // A subset, in the order given.
    let subset = vec![tenants[2].clone(), tenants[0].clone()];
    let got = across.select(&subset, filtered()).all().await.unwrap();
    let want: Vec<_> = expected
        .iter()
        .filter(|(t, _)| *t == tenants[2])
        .chain(expected.iter().filter(|(t, _)| *t == tenants[0]))
        .cloned()
        .collect();
    assert_eq!(got, want);
    assert!(got.iter().all(|(t, _)| *t != tenants[1]));

    // Attribute entities: one statement per chunk on the shared table, tagged by the tenant column.
    let members = across
        .select(
            &tenants,
            membership::Entity::find().order_by_asc(membership::Column::Id),
        )
        .all()
        .await
        .unwrap();
    assert_eq!(members, expected_members);
    let member_counts = across
        .select(&subset, membership::Entity::find())
        .count()
        .await
        .unwrap();
    assert_eq!(
        member_counts,
        vec![(tenants[2].clone(), 1), (tenants[0].clone(), 1)]
    );

    // A statement mixing strategies is refused: each tenant would join every tenant's rows.
    let mixed = across
        .select(
            &tenants,
            post::Entity::find().filter(sea_orm::sea_query::Expr::cust(
                "EXISTS (SELECT 1 FROM memberships)",
            )),
        )
        .all()
        .await;
    assert!(matches!(mixed, Err(AcrossError::Mixed { .. })), "{mixed:?}");
}

#[tokio::test]
async fn a_tenant_behind_on_migrations_is_named_not_skipped() {
    let app = common::app().await;
    let tenants = world(&app).await;
    let across = reporting(&app).await;
    let behind = &tenants[1];
    app.raw
        .execute_unprepared(&format!(
            "DROP TABLE {}.comments, {}.posts",
            behind.quoted_schema(),
            behind.quoted_schema()
        ))
        .await
        .unwrap();
    for chunk in [1, 2, 500] {
        let err = across
            .clone()
            .chunk_size(chunk)
            .select(&tenants, post::Entity::find())
            .all()
            .await
            .unwrap_err();
        match &err {
            AcrossError::Tenant {
                tenant, problem, ..
            } => {
                assert_eq!(tenant, behind.schema());
                assert_eq!(*problem, "no table");
            }
            other => panic!("expected the tenant to be named, got {other:?}"),
        }
        assert!(err.to_string().contains("migrate"), "{err}");
    }
    // Streaming ends with the same error, after the rows of the tenants before it.
    let one_by_one = across.clone().chunk_size(1);
    let mut rows = std::pin::pin!(one_by_one.select(&tenants, post::Entity::find()).stream());
    let mut before = 0;
    let err = loop {
        match rows.try_next().await {
            Ok(Some((tenant, _))) => {
                assert_eq!(tenant, tenants[0]);
                before += 1;
            }
            Ok(None) => panic!("the stream ended without naming the tenant behind"),
            Err(err) => break err,
        }
    };
    assert_eq!(before, 3, "the first tenant's rows come first");
    assert!(
        matches!(&err, AcrossError::Tenant { tenant, .. } if tenant == behind.schema()),
        "{err:?}"
    );
    // Counting fails the same way; leaving the tenant out works.
    assert!(matches!(
        across.select(&tenants, post::Entity::find()).count().await,
        Err(AcrossError::Tenant { .. })
    ));
    let others = vec![tenants[0].clone(), tenants[2].clone()];
    let counts = across
        .select(&others, post::Entity::find())
        .count()
        .await
        .unwrap();
    assert_eq!(counts.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [3, 7]);

    // A tenant the reporting group was never granted (a deployment from before it existed):
    // named, with `roles sync` as the fix, which restores it.
    let old = &tenants[2];
    let group = app.db.role_names().reporting().to_owned();
    app.raw
        .execute_unprepared(&format!(
            "REVOKE ALL ON SCHEMA {s} FROM \"{group}\"; REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM \"{group}\"",
            s = old.quoted_schema()
        ))
        .await
        .unwrap();
    let err = across
        .select(&others, post::Entity::find())
        .count()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AcrossError::Tenant { tenant, .. } if tenant == old.schema()),
        "{err:?}"
    );
    assert!(err.to_string().contains("roles sync"), "{err}");
    assert_eq!(
        execute(
            &SaasApp,
            cli(&app, &["roles", "sync", "--tenant", old.schema()])
        )
        .await,
        Ok(true)
    );
    assert!(
        across
            .select(&others, post::Entity::find())
            .count()
            .await
            .is_ok()
    );
}

async fn refused(db: &sea_orm::DatabaseConnection, sql: &str) {
    let err = db
        .execute_unprepared(sql)
        .await
        .expect_err("PostgreSQL must refuse");
    assert!(
        err.to_string().contains("permission denied"),
        "{sql}: {err}"
    );
}

#[tokio::test]
async fn only_a_reporting_login_may_and_it_cannot_write() {
    let app = common::app().await;
    let tenants = world(&app).await;
    let across = reporting(&app).await;
    let names = app.db.role_names().clone();
    let login = login(&app);

    // The owner (a superuser here), a tenant's role, the global role: refused at construction.
    let err = Across::new(app.raw.clone(), &names).await.unwrap_err();
    assert!(matches!(err, AcrossError::NotReporting(_)), "{err}");
    let secret = SaasApp.login_secret().unwrap();
    for role in [names.tenant(tenants[0].schema()), names.global().to_owned()] {
        let mut options = app.database.connect_options();
        let password = secret.password(&role);
        options.map_sqlx_postgres_opts({
            let role = role.clone();
            move |o| o.username(&role).password(&password)
        });
        let db = Database::connect(options).await.unwrap();
        let err = Across::new(db, &names).await.unwrap_err();
        assert!(matches!(err, AcrossError::NotReporting(_)), "{role}: {err}");
        assert!(err.to_string().contains(&role), "{err}");
    }
    // (A TenantConnection is not a DatabaseConnection: `Across::new(tenant_conn, ..)` does not
    // compile.) A reporting login given more than reading is refused too.
    app.raw
        .execute_unprepared(&format!(
            "GRANT \"{}\" TO \"{login}\"",
            names.tenant(tenants[0].schema())
        ))
        .await
        .unwrap();
    let err = Across::connect(&SaasApp, app.database.connect_options(), &login)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("REVOKE"), "{err}");
    app.raw
        .execute_unprepared(&format!(
            "REVOKE \"{}\" FROM \"{login}\"",
            names.tenant(tenants[0].schema())
        ))
        .await
        .unwrap();

    // `reporting create` refuses sea-tenancy's own role names, and changes nothing for them.
    for reserved in [
        names.global().to_owned(),
        names.tenants().to_owned(),
        names.reporting().to_owned(),
        names.tenant(tenants[1].schema()),
    ] {
        let out = execute(&SaasApp, cli(&app, &["reporting", "create", &reserved])).await;
        assert!(out.is_err(), "{reserved}: {out:?}");
    }
    let tenant_role = names.tenant(tenants[1].schema());
    let row = app
        .raw
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT pg_has_role('{tenant_role}', '{}', 'MEMBER') AS m",
                names.reporting()
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(!row.try_get::<bool>("", "m").unwrap());

    // The reporting login reads, and PostgreSQL refuses every write.
    let db = across.connection();
    let s = tenants[0].quoted_schema();
    for sql in [
        format!("INSERT INTO {s}.posts (title, author_id) VALUES ('x', 1)"),
        format!("UPDATE {s}.posts SET title = 'x'"),
        format!("DELETE FROM {s}.posts"),
        format!("TRUNCATE {s}.posts"),
        format!("CREATE TABLE {s}.evil (id int)"),
        "INSERT INTO public.users (email) VALUES ('x@example.com')".to_owned(),
        "UPDATE public.memberships SET role = 'owner'".to_owned(),
        "DELETE FROM public.organizations".to_owned(),
        "UPDATE public.sea_tenancy_tenants SET key = '1'".to_owned(),
    ] {
        refused(db, &sql).await;
    }
    // Nothing changed; it is a member of the reporting group only, and no tenant role is a
    // member of it: tenant roles gain nothing.
    let row = app
        .raw
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT (SELECT count(*) FROM {s}.posts) AS posts,
                        ARRAY(SELECT r.rolname::text FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
                               WHERE m.member = '{login}'::regrole) AS member_of,
                        (SELECT count(*) FROM pg_auth_members m WHERE m.roleid = '{}'::regrole
                            AND m.member <> '{login}'::regrole) AS other_members,
                        pg_has_role('{}', '{}', 'USAGE') AS tenant_reads",
                names.reporting(),
                names.tenant(tenants[0].schema()),
                names.reporting(),
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "posts").unwrap(), 3);
    assert_eq!(
        row.try_get::<Vec<String>>("", "member_of").unwrap(),
        vec![names.reporting().to_owned()]
    );
    assert_eq!(row.try_get::<i64>("", "other_members").unwrap(), 0);
    assert!(!row.try_get::<bool>("", "tenant_reads").unwrap());

    // A table a later migration adds is readable at once (default privileges).
    app.raw
        .execute_unprepared(&format!(
            "CREATE TABLE {s}.later (id int); INSERT INTO {s}.later VALUES (1)"
        ))
        .await
        .unwrap();
    let n = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT count(*) AS n FROM {s}.later"),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(n, 1);

    // A tenant connection still reads only its own tenant.
    let conn = app.db.with_tenant(tenants[0].clone());
    assert!(
        conn.execute_unprepared(&format!(
            "SELECT * FROM {}.posts",
            tenants[1].quoted_schema()
        ))
        .await
        .is_err()
    );
}

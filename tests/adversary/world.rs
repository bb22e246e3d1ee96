//! The attacker's world: tenant A (the attacker's connection) and tenant B (the victim, whose
//! rows carry `B-SECRET` markers), a fingerprint of everything A must not change, and a runner
//! that sends one attack through A's connection and checks the outcome.

#![allow(dead_code)] // Shared by `tests/adversary.rs` and `tests/citus.rs`, which use different parts.

use std::time::Duration;

use saas_app::SaasApp;
use saas_app::entities::{comment, membership, organization, post, user};
use sea_orm::prelude::Expr;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryResult, Set, Statement, TransactionTrait,
};
use sea_tenancy::placement::Placement;
use sea_tenancy::testing::TestDatabase;
use sea_tenancy::{LoginLimits, Tenancy, TenantConnection};

/// The marker every row of tenant B carries.
pub const SECRET: &str = "B-SECRET";

/// How the tenants are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One tenant connection at most, for all tenants together (each switch evicts).
    PoolOfOne,
    /// Eight tenant connections.
    PoolOfMany,
    /// A lives in a database of its own; B in the default database.
    APlacedElsewhere,
}

pub struct World {
    pub layout: Layout,
    /// Kept alive for the test's duration.
    _databases: Vec<TestDatabase>,
    /// The owner's connection to the default database (where B lives).
    pub owner: DatabaseConnection,
    pub tenancy: Tenancy,
    pub a: TenantConnection,
    pub b: TenantConnection,
    /// Substitutions for attack templates: `{A}`, `{B}`, `{B_KEY}`, `{A_ROLE}`, `{B_ROLE}`,
    /// `{GROUP}`, `{GLOBAL}`, `{B_UESC}` (B's schema as a `U&".."` identifier body).
    pub vars: Vec<(&'static str, String)>,
}

impl World {
    pub async fn new(layout: Layout) -> World {
        World::new_in(TestDatabase::create().await, layout).await
    }

    /// The world in database `home` (a fresh one; on a Citus cluster, say).
    pub async fn new_in(home: TestDatabase, layout: Layout) -> World {
        let owner = home.connect().await;
        sea_tenancy::migrate::migrate_public(&SaasApp, &owner)
            .await
            .expect("public set and roles");
        let mut databases = vec![];
        let limits = LoginLimits {
            max_connections: if layout == Layout::PoolOfOne { 1 } else { 8 },
            per_tenant: if layout == Layout::PoolOfOne { 1 } else { 4 },
            acquire_timeout: Duration::from_secs(20),
            ..LoginLimits::default()
        };
        let mut builder = Tenancy::builder(home.connect_options())
            .app(&SaasApp)
            .expect("secret")
            .logins(limits);
        let org = |name: &str| organization::ActiveModel {
            name: Set(name.to_owned()),
            ..Default::default()
        };
        let (a, b) = if layout == Layout::APlacedElsewhere {
            let other = TestDatabase::create().await;
            sea_tenancy::placement::catalog::install(&owner)
                .await
                .expect("catalog");
            sea_tenancy::placement::catalog::add_database(
                &owner,
                "elsewhere",
                Some(&other.url().parse().expect("url")),
            )
            .await
            .expect("catalog");
            databases.push(other);
            let placement = Placement::builder(owner.clone())
                .build()
                .await
                .expect("placement");
            let provision = |name: &'static str, into: Option<&'static str>| {
                let placement = placement.clone();
                async move {
                    sea_tenancy::placement::provision::provision(
                        &SaasApp,
                        &placement,
                        org(name),
                        into,
                    )
                    .await
                    .expect("provision")
                }
            };
            let a = provision("Acme", Some("elsewhere")).await;
            let b = provision("Globex", None).await;
            builder = builder.placement(placement);
            (a, b)
        } else {
            let a = sea_tenancy::manage::provision(&SaasApp, &owner, org("Acme"))
                .await
                .expect("provision");
            let b = sea_tenancy::manage::provision(&SaasApp, &owner, org("Globex"))
                .await
                .expect("provision");
            (a, b)
        };
        let tenancy = builder.connect().await.expect("tenancy");
        let names = tenancy.role_names().clone();
        let (at, bt) = (a.tenant(), b.tenant());
        let vars = vec![
            ("{A_ROLE}", names.tenant(at.schema())),
            ("{B_ROLE}", names.tenant(bt.schema())),
            ("{GROUP}", names.tenants().to_owned()),
            ("{GLOBAL}", names.global().to_owned()),
            ("{B_KEY}", bt.key().to_owned()),
            ("{B_UESC}", bt.schema().replace('_', "\\005f")),
            ("{A}", at.schema().to_owned()),
            ("{B}", bt.schema().to_owned()),
        ];
        let world = World {
            layout,
            _databases: {
                databases.insert(0, home);
                databases
            },
            owner,
            a: tenancy.with_tenant(at),
            b: tenancy.with_tenant(bt),
            tenancy,
            vars,
        };
        world.fill().await;
        world
    }

    /// Rows for both tenants; B's carry the secret marker. Statistics are gathered so that
    /// attacks on `pg_stats` have something to find.
    async fn fill(&self) {
        // Global rows are the app's (the global role), not the tenants'.
        let author = user::ActiveModel {
            email: Set("author@example.com".into()),
            ..Default::default()
        }
        .insert(&self.tenancy)
        .await
        .expect("user");
        if self.layout == Layout::APlacedElsewhere {
            // A's posts reference the author in A's own database.
            let placement = self.tenancy.placement().expect("placement");
            let elsewhere = placement
                .connection(Some("elsewhere"))
                .await
                .expect("database");
            user::ActiveModel {
                id: Set(author.id),
                email: Set(author.email.clone()),
            }
            .insert(&elsewhere)
            .await
            .expect("user copy");
        }
        for (conn, prefix) in [(&self.a, "A"), (&self.b, SECRET)] {
            for i in 1..=3 {
                let p = post::ActiveModel {
                    title: Set(format!("{prefix}-post-{i}")),
                    author_id: Set(author.id),
                    ..Default::default()
                }
                .insert(conn)
                .await
                .expect("post");
                comment::ActiveModel {
                    post_id: Set(p.id),
                    body: Set(format!("{prefix}-comment-{i}")),
                    ..Default::default()
                }
                .insert(conn)
                .await
                .expect("comment");
            }
            membership::ActiveModel {
                user_id: Set(author.id),
                role: Set(format!("{prefix}-membership")),
                ..Default::default()
            }
            .insert(conn)
            .await
            .expect("membership");
        }
        self.owner
            .execute_unprepared("ANALYZE")
            .await
            .expect("analyze");
    }

    pub fn expand(&self, template: &str) -> String {
        let mut out = template.to_owned();
        for (k, v) in &self.vars {
            out = out.replace(k, v);
        }
        out
    }

    /// Everything A must not be able to change: B's rows and sequence, the global tables,
    /// the tenant map, every role of the app and its memberships, objects and grants in
    /// `public` and B's schema, and the policies.
    pub async fn fingerprint(&self) -> String {
        let sql = self.expand(
            "SELECT md5(coalesce(string_agg(r, '|' ORDER BY r), '')) AS f FROM (
               SELECT 'p' || p::text AS r FROM \"{B}\".posts p
               UNION ALL SELECT 'c' || c::text FROM \"{B}\".comments c
               UNION ALL SELECT 's' || last_value::text || is_called::text FROM \"{B}\".posts_id_seq
               UNION ALL SELECT 'm' || m::text FROM public.memberships m WHERE org_id::text = '{B_KEY}'
               UNION ALL SELECT 'mall' || count(*)::text FROM public.memberships
               UNION ALL SELECT 'o' || o::text FROM public.organizations o
               UNION ALL SELECT 'u' || u::text FROM public.users u
               UNION ALL SELECT 't' || t::text FROM public.sea_tenancy_tenants t
               UNION ALL SELECT 'r' || row(rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolbypassrls, rolreplication, rolconfig)::text
                 FROM pg_roles WHERE rolname IN ('{A_ROLE}', '{B_ROLE}', '{GROUP}', '{GLOBAL}') OR rolname LIKE 'evil%'
               UNION ALL SELECT 'am' || a.roleid::regrole::text || '>' || a.member::regrole::text
                 FROM pg_auth_members a WHERE a.member::regrole::text IN ('{A_ROLE}', '{B_ROLE}', '{GLOBAL}')
               UNION ALL SELECT 'rel' || row(n.nspname, c.relname, c.relkind, c.relacl, c.relrowsecurity, c.relforcerowsecurity)::text
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', '{B}')
               UNION ALL SELECT 'ns' || row(nspname, nspacl)::text FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'
               UNION ALL SELECT 'pol' || row(polname, polrelid::regclass, pg_get_expr(polqual, polrelid))::text FROM pg_policy
               UNION ALL SELECT 'fn' || p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
             ) x",
        );
        self.owner
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .expect("fingerprint")
            .expect("a row")
            .try_get("", "f")
            .expect("text")
    }
}

/// What an attack is expected to meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// sea-tenancy refuses it before sending (an error starting `sea-tenancy:`).
    Refused,
    /// PostgreSQL refuses it (any database error).
    Denied,
    /// It runs and gets nothing of B's (no rows, or only A's / harmless metadata).
    Harmless,
    /// Refused, denied or harmless: only the invariants matter.
    Any,
}

/// How an attack reaches A's connection.
pub enum Via {
    /// `execute_unprepared` (simple protocol; several statements allowed).
    Unprepared(&'static str),
    /// `query_all_raw` of one statement.
    Query(&'static str),
    /// `find_by_statement` into `post::Model`.
    Model(&'static str),
    /// `post::Entity::find().filter(Expr::cust(..))`.
    Cust(&'static str),
    /// Several statements, one by one, in autocommit.
    Steps(&'static [&'static str]),
    /// Several statements inside one tenant transaction of A (committed if all succeed).
    Txn(&'static [&'static str]),
}

pub struct Attack {
    pub name: &'static str,
    pub via: Via,
    pub expect: Expect,
}

/// The text of every row (each column read as text, integer or boolean when it can be).
fn render(rows: &[QueryResult]) -> String {
    let mut out = String::new();
    for row in rows {
        for col in row.column_names() {
            if let Ok(Some(v)) = row.try_get::<Option<String>>("", &col) {
                out.push_str(&v);
            } else if let Ok(Some(v)) = row.try_get::<Option<i64>>("", &col) {
                out.push_str(&v.to_string());
            } else if let Ok(Some(v)) = row.try_get::<Option<i32>>("", &col) {
                out.push_str(&v.to_string());
            } else if let Ok(Some(v)) = row.try_get::<Option<bool>>("", &col) {
                out.push_str(&v.to_string());
            } else if let Ok(Some(v)) = row.try_get::<Option<serde_json::Value>>("", &col) {
                out.push_str(&v.to_string());
            }
            out.push(',');
        }
        out.push('\n');
    }
    out
}

impl World {
    /// Sends `attack` through A's connection and checks that it met what it should, that
    /// nothing it got back holds B's data, and that nothing A must not change changed.
    pub async fn run(&self, attack: &Attack) {
        let before = self.fingerprint().await;
        let x = |s: &str| self.expand(s);
        let a = &self.a;
        let outcome: Result<String, DbErr> = match &attack.via {
            Via::Unprepared(sql) => a.execute_unprepared(&x(sql)).await.map(|_| String::new()),
            Via::Query(sql) => a
                .query_all_raw(Statement::from_string(DbBackend::Postgres, x(sql)))
                .await
                .map(|rows| render(&rows)),
            Via::Model(sql) => post::Entity::find()
                .from_raw_sql(Statement::from_string(DbBackend::Postgres, x(sql)))
                .all(a)
                .await
                .map(|posts| format!("{posts:?}")),
            Via::Cust(expr) => post::Entity::find()
                .filter(Expr::cust(x(expr)))
                .all(a)
                .await
                .map(|posts| format!("{posts:?}")),
            Via::Steps(steps) => {
                let mut out = Ok(String::new());
                for sql in *steps {
                    out = a
                        .query_all_raw(Statement::from_string(DbBackend::Postgres, x(sql)))
                        .await
                        .map(|rows| render(&rows));
                    if out.is_err() {
                        break;
                    }
                    if let Ok(text) = &out {
                        assert!(
                            !text.contains(SECRET),
                            "{}: step {sql} read {text}",
                            attack.name
                        );
                    }
                }
                out
            }
            Via::Txn(steps) => {
                let txn = a.begin().await.expect("begin");
                let mut out = Ok(String::new());
                for sql in *steps {
                    out = txn
                        .query_all_raw(Statement::from_string(DbBackend::Postgres, x(sql)))
                        .await
                        .map(|rows| render(&rows));
                    match &out {
                        Err(_) => break,
                        Ok(text) => assert!(
                            !text.contains(SECRET),
                            "{}: step {sql} read {text}",
                            attack.name
                        ),
                    }
                }
                if out.is_ok() {
                    out = txn.commit().await.map(|_| String::new());
                }
                out
            }
        };
        let name = attack.name;
        match (&outcome, attack.expect) {
            (Err(e), Expect::Refused) => {
                assert!(
                    e.to_string().contains("sea-tenancy:"),
                    "{name}: not refused by sea-tenancy: {e}"
                )
            }
            (Err(e), Expect::Denied) => {
                assert!(
                    !e.to_string().contains("sea-tenancy:"),
                    "{name}: expected PostgreSQL to deny it, sea-tenancy refused: {e}"
                )
            }
            (Ok(_), Expect::Harmless) | (_, Expect::Any) => {}
            (Err(e), Expect::Harmless) => panic!("{name}: expected to run harmlessly, failed: {e}"),
            (Ok(text), _) => panic!("{name}: expected {:?}, it ran: {text}", attack.expect),
        }
        let text = match &outcome {
            Ok(t) => {
                // What ran must not even name B's role (the tenant map, session lists).
                let b_role = self.expand("{B_ROLE}");
                assert!(!t.contains(&b_role), "{name}: learned B's role: {t}");
                t.clone()
            }
            Err(e) => e.to_string(),
        };
        assert!(!text.contains(SECRET), "{name}: read B's data: {text}");
        assert_eq!(
            self.fingerprint().await,
            before,
            "{name}: changed what tenant A must not change"
        );
        // A's connection still works, and only ever as A.
        let whoami = a
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT current_user::text AS u, session_user::text AS s",
            ))
            .await
            .unwrap_or_else(|e| panic!("{name}: A's connection broke: {e}"))
            .expect("a row");
        let a_role = self.expand("{A_ROLE}");
        assert_eq!(whoami.try_get::<String>("", "s").unwrap(), a_role, "{name}");
        let current: String = whoami.try_get("", "u").unwrap();
        // The only role A can switch to is the tenants' group, which has less than A.
        assert!(
            current == a_role || current == self.expand("{GROUP}"),
            "{name}: A became {current}"
        );
        // Undo what an attack may have left on A's own connection (temporary objects, the
        // search path, the group role), so that attacks stay independent of each other.
        a.execute_unprepared(&self.expand(
            "DISCARD TEMP; SELECT set_config('search_path', '\"{A}\", public', false), set_config(concat('ro', 'le'), 'none', false)",
        ))
        .await
        .unwrap_or_else(|e| panic!("{name}: cleanup: {e}"));
    }
}

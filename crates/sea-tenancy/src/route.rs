//! Routing one statement of a tenant connection: qualifying its tenant tables, and refusing
//! early what would fail or has no place on a tenant connection.
//!
//! Schema-strategy tables are *qualified* — `"posts"` becomes `"org_1"."posts"` — which costs
//! no round trip, makes a table missing from the tenant schema an error instead of a fall-back
//! to `public`, and turns another tenant's schema into a clear error before PostgreSQL's
//! "permission denied". None of this is the boundary: the statement runs on a connection logged
//! in as the tenant's role (see `roles`, `logins`), which PostgreSQL lets reach only the
//! tenant's schema and rows, whatever this reader understood.

use std::borrow::Cow;

use crate::error::TenancyError;
use crate::registry::{Registry, Strategy};
use crate::sql::relations::{Analysis, analyze};
use crate::tenant::Tenant;
use crate::tenant::quote_ident;

/// A statement after routing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Routed<'a> {
    /// The SQL to send: tenant tables qualified with the tenant schema.
    pub sql: Cow<'a, str>,
    /// It names a multitenant table, so it goes to the tenant's database (statements on global
    /// tables only go to the default database, which holds system data).
    pub touches_tenant: bool,
}

/// Where an upsert on an attribute table needs its tenant column in the conflict target, and
/// that column. Unique keys of attribute tables are per tenant, `(org_id, name)`: a target of
/// `(name)` alone matches no key (`42P10`), so the column is added, as AshPostgres does. A
/// target given as `ON CONSTRAINT name` is left as written.
fn conflict_column(analysis: &Analysis<'_>, registry: &Registry) -> Option<(usize, &'static str)> {
    let conflict = analysis.conflict.as_ref()?;
    let info = registry.get(&analysis.relations[conflict.relation].table)?;
    match info.strategy {
        Strategy::Attribute { column } if !conflict.columns.iter().any(|c| c == column) => {
            Some((conflict.insert_at, column))
        }
        _ => None,
    }
}

/// Copies `sql` up to `at` into `out` (started on first use), then `parts`.
fn insert(sql: &str, out: &mut Option<String>, copied: &mut usize, at: usize, parts: &[&str]) {
    let buf = out.get_or_insert_with(|| String::with_capacity(sql.len() + 32));
    buf.push_str(&sql[*copied..at]);
    for part in parts {
        buf.push_str(part);
    }
    *copied = at;
}

/// Routes `sql` for `tenant`.
pub(crate) fn route_for_tenant<'a>(
    sql: &'a str,
    registry: &Registry,
    tenant: &Tenant,
) -> Result<Routed<'a>, TenancyError> {
    let analysis = analyze(sql);
    if let Some((what, why)) = analysis.refused {
        return Err(TenancyError::Refused { what, why });
    }
    if analysis.sets_session_state {
        return Err(TenancyError::SessionState);
    }
    let mut touches_tenant = !analysis.single_dml;
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut conflict = conflict_column(&analysis, registry);
    for relation in &analysis.relations {
        if let Some((at, column)) = conflict.take_if(|(at, _)| *at <= relation.span.start) {
            insert(
                sql,
                &mut out,
                &mut copied,
                at,
                &[&quote_ident(column), ", "],
            );
        }
        let Some(info) = registry.get(&relation.table) else {
            continue;
        };
        touches_tenant = true;
        match (info.strategy, &relation.schema) {
            (Strategy::Attribute { .. }, _) => {}
            (Strategy::Schema, Some(schema)) if schema != tenant.schema() => {
                return Err(TenancyError::CrossTenant {
                    tenant: tenant.schema().to_owned(),
                    schema: schema.to_string(),
                    table: relation.table.to_string(),
                });
            }
            (Strategy::Schema, Some(_)) => {}
            (Strategy::Schema, None) => {
                let at = relation.span.start;
                insert(
                    sql,
                    &mut out,
                    &mut copied,
                    at,
                    &[tenant.quoted_schema(), "."],
                );
            }
        }
    }
    if let Some((at, column)) = conflict {
        insert(
            sql,
            &mut out,
            &mut copied,
            at,
            &[&quote_ident(column), ", "],
        );
    }
    let sql = match out {
        Some(mut buf) => {
            buf.push_str(&sql[copied..]);
            Cow::Owned(buf)
        }
        None => Cow::Borrowed(sql),
    };
    Ok(Routed {
        sql,
        touches_tenant,
    })
}

/// Checks that `sql`, sent without a tenant, touches no multitenant table.
///
/// A schema-strategy table explicitly qualified with a schema (`org_1.posts`) is allowed: that
/// is deliberate cross-tenant administration, not an accident.
pub(crate) fn check_without_tenant(sql: &str, registry: &Registry) -> Result<(), TenancyError> {
    for relation in analyze(sql).relations {
        let Some(info) = registry.get(&relation.table) else {
            continue;
        };
        let strategy = match info.strategy {
            Strategy::Schema if relation.schema.is_some() => continue,
            // Shared rows: the global role reaches those, row-level security hides the rest.
            Strategy::Attribute { .. } if info.global_rows => continue,
            Strategy::Schema => "schema strategy",
            Strategy::Attribute { .. } => "attribute strategy",
        };
        return Err(TenancyError::TenantRequired {
            table: relation.table.into_owned(),
            strategy,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        Registry::default()
            .with_table("posts", Strategy::Schema)
            .with_table("comments", Strategy::Schema)
            .with_table("memberships", Strategy::Attribute { column: "org_id" })
    }

    fn org1() -> Tenant {
        Tenant::new("org_1", 1).unwrap()
    }

    #[test]
    fn qualifies_schema_tables_and_leaves_globals() {
        let routed = route_for_tenant(
            r#"SELECT "posts"."id" FROM "posts" INNER JOIN "users" ON "users"."id" = "posts"."author_id" LEFT JOIN "comments" AS "r0" ON "r0"."post_id" = "posts"."id""#,
            &registry(),
            &org1(),
        )
        .unwrap();
        assert_eq!(
            routed.sql,
            r#"SELECT "posts"."id" FROM "org_1"."posts" INNER JOIN "users" ON "users"."id" = "posts"."author_id" LEFT JOIN "org_1"."comments" AS "r0" ON "r0"."post_id" = "posts"."id""#
        );
    }

    #[test]
    fn upserts_on_attribute_tables_name_the_tenant_column() {
        let routed = |sql| route_for_tenant(sql, &registry(), &org1()).unwrap().sql;
        assert_eq!(
            routed(
                r#"INSERT INTO "memberships" ("role") VALUES ($1) ON CONFLICT ("role") DO UPDATE SET "role" = "excluded"."role""#
            ),
            r#"INSERT INTO "memberships" ("role") VALUES ($1) ON CONFLICT ("org_id", "role") DO UPDATE SET "role" = "excluded"."role""#
        );
        // Named already, a constraint, or not an attribute table: as written.
        for sql in [
            r#"INSERT INTO memberships (role) VALUES ($1) ON CONFLICT (role, org_id) DO NOTHING"#,
            r#"INSERT INTO memberships (role) VALUES ($1) ON CONFLICT ON CONSTRAINT k DO NOTHING"#,
            r#"INSERT INTO users (email) VALUES ($1) ON CONFLICT (email) DO NOTHING"#,
        ] {
            assert_eq!(routed(sql), sql);
        }
        // With schema tables before and after the target: every edit in its place.
        assert_eq!(
            routed(
                "WITH p AS (SELECT id FROM posts) INSERT INTO memberships (role) SELECT 'a' FROM p ON CONFLICT (role) DO UPDATE SET role = (SELECT title FROM comments LIMIT 1)"
            ),
            r#"WITH p AS (SELECT id FROM "org_1".posts) INSERT INTO memberships (role) SELECT 'a' FROM p ON CONFLICT ("org_id", role) DO UPDATE SET role = (SELECT title FROM "org_1".comments LIMIT 1)"#
        );
    }

    #[test]
    fn untouched_statements_are_not_copied() {
        let routed = route_for_tenant("SELECT * FROM users", &registry(), &org1()).unwrap();
        assert!(matches!(routed.sql, Cow::Borrowed(_)));
    }

    #[test]
    fn tenant_tables_and_ddl_go_to_the_tenant_database() {
        let r = route_for_tenant(r#"SELECT * FROM "memberships""#, &registry(), &org1()).unwrap();
        assert!(r.touches_tenant);
        let r = route_for_tenant("CREATE INDEX i ON x (id)", &registry(), &org1()).unwrap();
        assert!(r.touches_tenant);
        let r = route_for_tenant("SELECT * FROM users", &registry(), &org1()).unwrap();
        assert!(!r.touches_tenant);
    }

    #[test]
    fn refuses_other_tenants_and_session_state() {
        assert!(matches!(
            route_for_tenant("SELECT * FROM org_2.posts", &registry(), &org1()),
            Err(TenancyError::CrossTenant { .. })
        ));
        assert!(matches!(
            route_for_tenant("SELECT * FROM public.posts", &registry(), &org1()),
            Err(TenancyError::CrossTenant { .. })
        ));
        assert!(route_for_tenant("SELECT * FROM org_1.posts", &registry(), &org1()).is_ok());
        assert!(matches!(
            route_for_tenant("SET search_path TO org_2", &registry(), &org1()),
            Err(TenancyError::SessionState)
        ));
        assert!(matches!(
            route_for_tenant("SELECT 1; COMMIT", &registry(), &org1()),
            Err(TenancyError::Refused { .. })
        ));
    }

    #[test]
    fn without_tenant_multitenant_tables_are_refused() {
        let reg = registry();
        assert!(check_without_tenant("SELECT * FROM users", &reg).is_ok());
        assert!(check_without_tenant("SELECT * FROM org_1.posts", &reg).is_ok());
        for sql in [
            r#"SELECT * FROM "posts""#,
            r#"SELECT * FROM "users" JOIN comments ON true"#,
            r#"INSERT INTO "memberships" ("user_id") VALUES ($1)"#,
            r#"DELETE FROM public.memberships"#,
        ] {
            assert!(
                matches!(
                    check_without_tenant(sql, &reg),
                    Err(TenancyError::TenantRequired { .. })
                ),
                "{sql}"
            );
        }
    }
}

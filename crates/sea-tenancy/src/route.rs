//! Routing one statement: which tenant schema it goes to, and whether it needs the tenant's
//! transaction-local session (search path, tenant key, role).
//!
//! Schema-strategy tables are routed by *qualifying* them — `"posts"` becomes `"org_1"."posts"`
//! — so an autocommit statement costs exactly the round trip it would cost in plain SeaORM,
//! and the SQL text (hence sqlx's prepared-statement cache key) differs per tenant, so no plan
//! or cache entry can be shared across tenants. Attribute-strategy tables are isolated by
//! PostgreSQL's row-level security, which reads the tenant key from a transaction-local
//! setting; statements touching them run inside a tenant transaction.

use std::borrow::Cow;

use crate::error::TenancyError;
use crate::registry::{Registry, Strategy};
use crate::sql::relations::analyze;
use crate::tenant::Tenant;

/// A statement after routing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Routed<'a> {
    /// The SQL to send: tenant tables qualified with the tenant schema.
    pub sql: Cow<'a, str>,
    /// It must run inside a tenant transaction (attribute tables, DDL, raw multi-statements).
    pub needs_session: bool,
    /// It names a multitenant table, so it goes to the tenant's database (statements on global
    /// tables only go to the default database, which holds system data).
    pub touches_tenant: bool,
}

/// Routes `sql` for `tenant`.
pub(crate) fn route_for_tenant<'a>(
    sql: &'a str,
    registry: &Registry,
    tenant: &Tenant,
) -> Result<Routed<'a>, TenancyError> {
    let analysis = analyze(sql);
    if analysis.sets_session_state {
        return Err(TenancyError::SessionState);
    }
    let mut needs_session = !analysis.single_dml;
    let mut touches_tenant = !analysis.single_dml;
    let mut out: Option<String> = None;
    let mut copied = 0;
    for relation in &analysis.relations {
        let Some(info) = registry.get(&relation.table) else {
            continue;
        };
        touches_tenant = true;
        match (info.strategy, &relation.schema) {
            (Strategy::Attribute { .. }, _) => needs_session = true,
            (Strategy::Schema, Some(schema)) if schema != tenant.schema() => {
                return Err(TenancyError::CrossTenant {
                    tenant: tenant.schema().to_owned(),
                    schema: schema.to_string(),
                    table: relation.table.to_string(),
                });
            }
            (Strategy::Schema, Some(_)) => {}
            (Strategy::Schema, None) => {
                let buf = out.get_or_insert_with(|| String::with_capacity(sql.len() + 32));
                buf.push_str(&sql[copied..relation.span.start]);
                buf.push_str(tenant.quoted_schema());
                buf.push('.');
                copied = relation.span.start;
            }
        }
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
        needs_session,
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
        assert!(!routed.needs_session);
    }

    #[test]
    fn untouched_statements_are_not_copied() {
        let routed = route_for_tenant("SELECT * FROM users", &registry(), &org1()).unwrap();
        assert!(matches!(routed.sql, Cow::Borrowed(_)));
    }

    #[test]
    fn attribute_tables_and_ddl_need_the_session() {
        let r = route_for_tenant(r#"SELECT * FROM "memberships""#, &registry(), &org1()).unwrap();
        assert!(r.needs_session);
        let r = route_for_tenant("CREATE INDEX i ON posts (id)", &registry(), &org1()).unwrap();
        assert!(r.needs_session);
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

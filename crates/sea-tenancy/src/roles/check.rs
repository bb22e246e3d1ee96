//! Refusing a login that could do more than the role it stands for.
//!
//! Isolation rests on each tenant statement running with its tenant's privileges and nothing
//! more; a role altered by hand (made superuser, granted another role, given `CREATE` in
//! `public`) would quietly undo that. Every new tenant connection, and the global pool at
//! start-up, asks the server who it is and what it may do, and refuses to go on with an error
//! that names the fix.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::error::TenancyError;

const CHECK_SQL: &str = "
WITH RECURSIVE me AS (
    SELECT oid, rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication
      FROM pg_catalog.pg_roles WHERE rolname = current_user
), member_of(oid) AS (
    SELECT a.roleid FROM pg_catalog.pg_auth_members a JOIN me ON a.member = me.oid
    UNION
    SELECT a.roleid FROM pg_catalog.pg_auth_members a JOIN member_of m ON a.member = m.oid
)
SELECT me.rolname::text AS role,
       array_remove(ARRAY[
           CASE WHEN me.rolsuper THEN 'SUPERUSER' END,
           CASE WHEN me.rolbypassrls THEN 'BYPASSRLS' END,
           CASE WHEN me.rolcreaterole THEN 'CREATEROLE' END,
           CASE WHEN me.rolcreatedb THEN 'CREATEDB' END,
           CASE WHEN me.rolreplication THEN 'REPLICATION' END
       ], NULL) AS attributes,
       ARRAY(SELECT r.rolname::text FROM member_of m JOIN pg_catalog.pg_roles r ON r.oid = m.oid ORDER BY 1) AS member_of,
       has_schema_privilege('public', 'CREATE') AS creates_in_public
  FROM me";

/// Checks that the session is logged in as `role`, holds no role attribute beyond `LOGIN`,
/// belongs to no role but `group` (the tenants' group, or none for the global role) and cannot
/// create objects in `public`.
pub(crate) async fn check_login<C: ConnectionTrait>(
    db: &C,
    role: &str,
    group: Option<&str>,
) -> Result<(), TenancyError> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, CHECK_SQL))
        .await?
        .ok_or_else(|| unsafe_login(role, "the server does not know the session's role", ""))?;
    let actual: String = row.try_get("", "role")?;
    if actual != role {
        return Err(unsafe_login(
            role,
            &format!("the connection is logged in as `{actual}` instead"),
            "connect to PostgreSQL directly or through a pooler that keeps the user name",
        ));
    }
    let attributes: Vec<String> = row.try_get("", "attributes")?;
    if !attributes.is_empty() {
        let no: Vec<String> = attributes.iter().map(|a| format!("NO{a}")).collect();
        return Err(unsafe_login(
            role,
            &format!("it has {}", attributes.join(", ")),
            &format!("ALTER ROLE \"{role}\" {}", no.join(" ")),
        ));
    }
    let member_of: Vec<String> = row.try_get("", "member_of")?;
    if let Some(extra) = member_of.iter().find(|m| Some(m.as_str()) != group) {
        return Err(unsafe_login(
            role,
            &format!("it is a member of role `{extra}`, whose privileges it can use"),
            &format!("REVOKE \"{extra}\" FROM \"{role}\""),
        ));
    }
    let creates_in_public: bool = row.try_get("", "creates_in_public")?;
    if creates_in_public {
        return Err(unsafe_login(
            role,
            "it may create objects in schema public, where they would shadow what other sessions use",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC (PostgreSQL 15's default), and from the role",
        ));
    }
    Ok(())
}

fn unsafe_login(role: &str, problem: &str, fix: &str) -> TenancyError {
    TenancyError::UnsafeLogin {
        role: role.to_owned(),
        problem: problem.to_owned(),
        fix: fix.to_owned(),
    }
}

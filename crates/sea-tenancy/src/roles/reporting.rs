//! Reporting logins: the only roles that may run queries across tenants ([`crate::across`]).
//!
//! A query across tenants reads many tenant schemas in one statement, which no tenant role can
//! (each reaches its own schema only) and the global role must not (it reaches none, so that a
//! bug on the request path cannot leak tenants into one another). Reporting is therefore a role
//! of its own, configured separately, with the least that reading needs:
//!
//! - the group `<ns>_reporting` (NOLOGIN, created by `migrate`'s role install) holds `USAGE` on
//!   every tenant schema and `SELECT` on its tables — granted where tenant schemas get their
//!   grants, with default privileges for tables later migrations add — plus `SELECT` on
//!   `public`'s app tables (a `SELECT` policy of its own lets it see every row of attribute
//!   tables). Nothing else: no `INSERT`, `UPDATE`, `DELETE`, `TRUNCATE`, no sequences;
//! - a reporting *login* (any name the operator chooses, `roles reporting create NAME` or
//!   [`create_login`]) is a member of that group only, with no attribute beyond `LOGIN` and a
//!   password derived from the login secret like every other role's;
//! - it is not a member of any tenant role and no tenant role is a member of it: tenant roles
//!   gain nothing. [`crate::across::Across`] refuses a login that holds more.

use sea_orm::ConnectionTrait;

use super::install::create_role_sql;
use crate::app::Setup;
use crate::error::TenancyError;
use crate::tenant::{TenantError, quote_ident, quote_literal, validate_role_name};

/// Creates (or brings in line) the reporting login `name`: `LOGIN` with the password the login
/// secret derives for it ([`super::LoginSecret::password`]), a member of the reporting group
/// only (the group is created too if `migrate` has not run since it existed). Run as the owner.
///
/// Refuses names sea-tenancy manages itself (tenant, group and global roles) and a role that
/// already holds more than a reporting login may (it would be refused at login anyway).
pub async fn create_login<C: ConnectionTrait>(
    db: &C,
    setup: &Setup,
    name: &str,
) -> Result<(), TenancyError> {
    validate_role_name(name)?;
    let names = &setup.names;
    let ns = names.namespace();
    if [names.global(), names.tenants(), names.reporting()].contains(&name)
        || name.starts_with(&format!("{ns}_t_"))
        || name.starts_with(&format!("{ns}_h_"))
    {
        return Err(TenancyError::Tenant(TenantError::Reserved(name.to_owned())));
    }
    let q = quote_ident(name);
    let lit = quote_literal(name);
    let group = quote_ident(names.reporting());
    let verifier = quote_literal(&setup.secret.verifier(name));
    let sql = format!(
        "{group_sql};
         DO $sea_tenancy$ BEGIN
           IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {lit}
                      AND (rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb OR rolreplication)) THEN
             RAISE EXCEPTION 'sea-tenancy: role % exists and holds more than a reporting login may', {lit}
               USING ERRCODE = 'ST004', HINT = 'choose another name, or ALTER ROLE it NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION';
           END IF;
           IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {lit}) THEN
             CREATE ROLE {q} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
           END IF;
         END $sea_tenancy$;
         ALTER ROLE {q} LOGIN PASSWORD {verifier};
         GRANT {group} TO {q};",
        group_sql = create_role_sql(names.reporting(), None),
    );
    db.execute_unprepared(&sql).await?;
    Ok(())
}

//! The app role: a role without `BYPASSRLS` that tenant transactions switch to
//! (`SET LOCAL ROLE`), so row-level security holds even when the app logs in as a superuser.
//!
//! Install it once per cluster and grant it each schema the app uses: `public` (done by
//! [`install_app_role`]) and every tenant schema (done by provisioning, or [`grant_schema`]).

use sea_orm::{ConnectionTrait, DbErr};

use crate::tenant::{quote_ident, validate_role_name, validate_schema_name};

/// The role name the reference app and the docs use.
pub const DEFAULT_APP_ROLE: &str = "sea_tenancy_app";

/// Creates `role` (`NOLOGIN NOBYPASSRLS`) if it does not exist and grants it `public`.
///
/// Safe to run concurrently and repeatedly: roles are cluster-wide, so several databases (or
/// test processes) may race to create the same one.
pub async fn install_app_role<C: ConnectionTrait>(db: &C, role: &str) -> Result<(), DbErr> {
    validate_role_name(role).map_err(|e| DbErr::Custom(format!("sea-tenancy: app role: {e}")))?;
    let q = quote_ident(role);
    db.execute_unprepared(&format!(
        "DO $sea_tenancy$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {q} NOLOGIN NOSUPERUSER NOBYPASSRLS;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $sea_tenancy$"
    ))
    .await?;
    grant_in_schema(db, &q, "public").await
}

/// Grants `role` the use of every table and sequence in `schema`, now and later.
pub async fn grant_schema<C: ConnectionTrait>(
    db: &C,
    role: &str,
    schema: &str,
) -> Result<(), DbErr> {
    db.execute_unprepared(&grant_sql(role, schema)?).await?;
    Ok(())
}

/// The statements of [`grant_schema`], for callers that batch them with others.
pub(crate) fn grant_sql(role: &str, schema: &str) -> Result<String, DbErr> {
    validate_role_name(role).map_err(|e| DbErr::Custom(format!("sea-tenancy: app role: {e}")))?;
    validate_schema_name(schema).map_err(|e| DbErr::Custom(format!("sea-tenancy: schema: {e}")))?;
    Ok(grant_in_schema_sql(&quote_ident(role), schema))
}

async fn grant_in_schema<C: ConnectionTrait>(
    db: &C,
    quoted_role: &str,
    schema: &str,
) -> Result<(), DbErr> {
    db.execute_unprepared(&grant_in_schema_sql(quoted_role, schema))
        .await?;
    Ok(())
}

fn grant_in_schema_sql(quoted_role: &str, schema: &str) -> String {
    let s = quote_ident(schema);
    format!(
        "GRANT USAGE ON SCHEMA {s} TO {quoted_role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {quoted_role};
         GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {quoted_role};
         ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted_role};
         ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {quoted_role};"
    )
}

//! `roles sync`: brings every role in line with the tenants — the path from a deployment made
//! before tenant roles existed, and the way to rotate the login secret.
//!
//! In one transaction per database: the group and global roles and their grants in `public`
//! (as `migrate` installs them), every attribute table's policy (re-created keyed by role), and
//! for each tenant its role (created if missing, password reset from the current secret), its
//! record and its schema grants. With a legacy role (the shared `sea_tenancy_app` role of
//! earlier versions), that role's privileges on tenant schemas are revoked, so the only way
//! into a tenant schema is the tenant's own role.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};

use super::{install, tenant as role};
use crate::app::Setup;
use crate::app::TenancyApp;
use crate::error::TenancyError;
use crate::registry::Registry;
use crate::tenant::{Tenant, validate_role_name};

/// What [`sync`] did in one database.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Tenants whose role, record and grants were brought in line.
    pub tenants: usize,
    /// Of those, tenants that had no schema here (role and record only).
    pub without_schema: usize,
    /// Attribute tables whose policy was re-created.
    pub attribute_tables: usize,
}

/// Brings the roles of `tenants` (all living in `db`) in line, with the names and secret of
/// `roles`; `legacy_role`, if given, loses its privileges on their schemas.
pub async fn sync<A: TenancyApp>(
    app: &A,
    db: &DatabaseConnection,
    roles: &Setup,
    tenants: &[Tenant],
    legacy_role: Option<&str>,
) -> Result<SyncReport, TenancyError> {
    if let Some(legacy) = legacy_role {
        validate_role_name(legacy)?;
    }
    let registry = Registry::global()?;
    let txn = db.begin().await?;
    crate::migrate::lock(&txn, "public").await?;
    install(&txn, roles, &registry, |t| app.tenant_access(t)).await?;
    let mut report = SyncReport::default();
    for (table, column) in registry.attribute_tables() {
        let global_rows = registry.get(table).is_some_and(|t| t.global_rows);
        let present = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT to_regclass(format('public.%I', $1::text)) IS NOT NULL AS present",
                [table.into()],
            ))
            .await?
            .map(|r| r.try_get::<bool>("", "present"))
            .transpose()?
            .unwrap_or(false);
        if present {
            // Policies only: the column's default is the migrations' business (kept or stamped).
            crate::rls::reinstall_policies(&txn, table, column, global_rows).await?;
            report.attribute_tables += 1;
        }
    }
    let schemas: Vec<String> = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT nspname::text AS name FROM pg_catalog.pg_namespace WHERE nspname = ANY($1)",
            [tenants
                .iter()
                .map(|t| t.schema().to_owned())
                .collect::<Vec<_>>()
                .into()],
        ))
        .await?
        .iter()
        .map(|r| r.try_get("", "name"))
        .collect::<Result<_, _>>()?;
    // A few hundred tenants per round trip.
    for chunk in tenants.chunks(200) {
        let mut sql = String::new();
        for tenant in chunk {
            let has_schema = schemas.iter().any(|s| s == tenant.schema());
            if has_schema {
                sql.push_str(&role::provision_sql(&roles.names, &roles.secret, tenant));
                if let Some(legacy) = legacy_role {
                    sql.push_str(&role::revoke_privileges_sql(legacy, tenant.schema()));
                }
            } else {
                sql.push_str(&role::ensure_sql(&roles.names, &roles.secret, tenant));
                report.without_schema += 1;
            }
            sql.push('\n');
            report.tenants += 1;
        }
        txn.execute_unprepared(&sql).await?;
    }
    txn.commit().await?;
    Ok(report)
}

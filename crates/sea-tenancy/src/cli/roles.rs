//! `roles sync`: every tenant's role brought in line (see [`crate::roles::sync`]).

use clap::Subcommand;
use sea_orm::DatabaseConnection;

use crate::app::Setup;
use crate::app::TenancyApp;
use crate::roles::sync;

/// `roles` subcommands.
#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    /// Create missing tenant roles, reset every role's password from the current login secret,
    /// re-grant, and re-create attribute tables' policies (after upgrading from a version without
    /// tenant roles, or after rotating SEA_TENANCY_SECRET).
    Sync {
        /// Only these tenants (repeatable; default: every tenant).
        #[arg(long = "tenant", value_name = "SCHEMA")]
        tenants: Vec<String>,
        /// Revoke this role's privileges on every tenant schema (the shared app role of earlier
        /// versions, `sea_tenancy_app`).
        #[arg(long, value_name = "ROLE")]
        revoke_legacy_role: Option<String>,
    },
}

pub(super) async fn execute<A: TenancyApp>(
    app: &A,
    db: &DatabaseConnection,
    command: RolesCommand,
) -> Result<bool, String> {
    let RolesCommand::Sync {
        tenants,
        revoke_legacy_role,
    } = command;
    let selected = super::select(app, db, &tenants, &[]).await?;
    let roles = Setup::of(app, db).await.map_err(|e| e.to_string())?;
    let legacy = revoke_legacy_role.as_deref();
    // Every tenant has its role (and record) in the default database: its statements on global
    // tables run there. Tenants placed elsewhere get their schema grants there too.
    let report = sync(app, db, &roles, &selected, legacy)
        .await
        .map_err(|e| {
            format!("roles sync failed in database default, nothing changed there: {e}")
        })?;
    println!(
        "database default: {} tenant role(s) in line ({} without a schema here), {} attribute table policy(ies) re-created",
        report.tenants, report.without_schema, report.attribute_tables
    );
    if let Some(placement) = super::placement(app, db).await? {
        let groups = placement
            .group(&selected)
            .await
            .map_err(|e| e.to_string())?;
        for (database, tenants) in groups {
            let Some(name) = database else { continue };
            let conn = placement
                .connection(Some(&name))
                .await
                .map_err(|e| e.to_string())?;
            let report = sync(app, &conn, &roles, &tenants, legacy)
                .await
                .map_err(|e| format!("roles sync failed in database {name}: {e}"))?;
            println!("database {name}: {} tenant role(s) in line", report.tenants);
        }
    }
    Ok(true)
}

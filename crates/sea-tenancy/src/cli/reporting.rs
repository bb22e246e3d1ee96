//! `reporting create NAME`: a reporting login for queries across tenants (see
//! [`crate::roles::reporting`] and [`crate::across`]).

use clap::Subcommand;
use sea_orm::DatabaseConnection;

use crate::app::{Setup, TenancyApp};
use crate::roles::reporting::create_login;

/// `reporting` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportingCommand {
    /// Create (or bring in line) a login that may read every tenant schema and nothing else:
    /// a member of `<ns>_reporting` only, its password derived from the login secret.
    Create {
        /// The login's name (`[a-z0-9_]`, not one of sea-tenancy's own role names).
        name: String,
        /// Print the derived password (for tools that log in by themselves).
        #[arg(long)]
        show_password: bool,
    },
}

pub(super) async fn execute<A: TenancyApp>(
    app: &A,
    db: &DatabaseConnection,
    command: ReportingCommand,
) -> Result<bool, String> {
    let ReportingCommand::Create {
        name,
        show_password,
    } = command;
    let setup = Setup::of(app, db).await.map_err(|e| e.to_string())?;
    create_login(db, &setup, &name)
        .await
        .map_err(|e| format!("reporting login `{name}` not created: {e}"))?;
    // Roles live per server: the databases of the catalog (placement) get it too, so that
    // `AcrossPlaced` logs in everywhere (on the same server, the same role again).
    if let Some(placement) = super::placement(app, db).await? {
        let databases = crate::placement::catalog::databases(db)
            .await
            .map_err(|e| e.to_string())?;
        for entry in databases
            .iter()
            .filter(|e| e.name != crate::placement::DEFAULT_DATABASE)
        {
            let conn = placement.connection(Some(&entry.name)).await.map_err(|e| {
                format!(
                    "reporting login `{name}` not created in `{}`: {e}",
                    entry.name
                )
            })?;
            create_login(&conn, &setup, &name).await.map_err(|e| {
                format!(
                    "reporting login `{name}` not created in `{}`: {e}",
                    entry.name
                )
            })?;
            println!(
                "reporting login `{name}`: ready in database `{}`",
                entry.name
            );
        }
    }
    println!(
        "reporting login `{name}`: member of `{}` only (SELECT on tenant schemas and app tables, nothing else); log in with sea_tenancy::across::Across::connect(app, url, \"{name}\")",
        setup.names.reporting()
    );
    if show_password {
        println!("password: {}", setup.secret.password(&name));
    }
    Ok(true)
}

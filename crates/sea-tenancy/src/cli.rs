//! The command line an app hands its `main` to: `cargo run -- <command>`.
//!
//! ```ignore
//! #[tokio::main]
//! async fn main() {
//!     sea_tenancy::cli::run(SaasApp).await
//! }
//! ```

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::app::TenancyApp;
use crate::migrate::{migrate_public, migrate_tenants};
use crate::tenant::Tenant;

/// sea-tenancy commands of this application.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the public migrations, then the tenant migrations in every tenant.
    Migrate {
        /// Only these tenants (repeatable).
        #[arg(long = "tenant", value_name = "SCHEMA")]
        tenants: Vec<String>,
        /// Skip these tenants (repeatable).
        #[arg(long = "except", value_name = "SCHEMA")]
        except: Vec<String>,
        /// Tenants migrated at once.
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        /// Only the public set.
        #[arg(long, conflicts_with = "tenants_only")]
        public_only: bool,
        /// Only the tenant set.
        #[arg(long)]
        tenants_only: bool,
    },
    /// Manage tenants.
    Tenants {
        /// What to do with tenants.
        #[command(subcommand)]
        command: TenantsCommand,
    },
}

/// `tenants` subcommands.
#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// List every tenant.
    List,
}

/// Parses the process arguments and runs the command; returns the process exit code.
pub async fn run<A: TenancyApp>(app: A) -> ExitCode {
    run_with(app, Cli::parse()).await
}

/// Runs an already parsed command line.
pub async fn run_with<A: TenancyApp>(app: A, cli: Cli) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    match execute(app, cli).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn connect(url: Option<String>) -> Result<DatabaseConnection, String> {
    let url = url.ok_or("no database: set DATABASE_URL or pass --database-url")?;
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false);
    Database::connect(options)
        .await
        .map_err(|e| format!("cannot connect to the database: {e}"))
}

async fn execute<A: TenancyApp>(app: A, cli: Cli) -> Result<ExitCode, String> {
    let db = connect(cli.database_url).await?;
    match cli.command {
        Command::Migrate {
            tenants,
            except,
            jobs,
            public_only,
            tenants_only,
        } => {
            if !tenants_only {
                migrate_public(&app, &db)
                    .await
                    .map_err(|e| format!("public migrations failed: {e}"))?;
                println!("public: up to date");
            }
            if public_only {
                return Ok(ExitCode::SUCCESS);
            }
            let selected = select(&app, &db, &tenants, &except).await?;
            let outcomes = migrate_tenants(&app, &db, &selected, jobs).await;
            let mut failed = 0;
            for outcome in &outcomes {
                match &outcome.result {
                    Ok(0) => {}
                    Ok(n) => println!("{}: applied {n} migration(s)", outcome.tenant),
                    Err(e) => {
                        failed += 1;
                        println!("{}: FAILED, rolled back: {e}", outcome.tenant);
                    }
                }
            }
            println!(
                "tenants: {} migrated, {} failed, {} total",
                outcomes.len() - failed,
                failed,
                outcomes.len()
            );
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Tenants {
            command: TenantsCommand::List,
        } => {
            for tenant in all(&app, &db).await? {
                println!("{}\t{}", tenant.schema(), tenant.key());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn all<A: TenancyApp>(app: &A, db: &DatabaseConnection) -> Result<Vec<Tenant>, String> {
    app.all_tenants(db)
        .await
        .map_err(|e| format!("cannot list tenants: {e}"))
}

async fn select<A: TenancyApp>(
    app: &A,
    db: &DatabaseConnection,
    only: &[String],
    except: &[String],
) -> Result<Vec<Tenant>, String> {
    let all = all(app, db).await?;
    for name in only.iter().chain(except) {
        if !all.iter().any(|t| t.schema() == name) {
            return Err(format!(
                "unknown tenant `{name}`: `tenants list` shows every tenant"
            ));
        }
    }
    Ok(all
        .into_iter()
        .filter(|t| only.is_empty() || only.iter().any(|n| n == t.schema()))
        .filter(|t| !except.iter().any(|n| n == t.schema()))
        .collect())
}

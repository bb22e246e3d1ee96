//! The command line an app hands its `main` to: `cargo run -- <command>`.
//!
//! ```ignore
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     sea_tenancy::cli::run(SaasApp).await
//! }
//! ```

mod progress;
mod status_output;
mod tenants;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::app::TenancyApp;
use crate::migrate::rollback::rollback_tenant;
use crate::migrate::{migrate_public, migrate_tenants, status};
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
    /// Apply the public migrations, then the tenant migrations in every tenant that is behind.
    Migrate {
        /// Only these tenants (repeatable).
        #[arg(long = "tenant", value_name = "SCHEMA")]
        tenants: Vec<String>,
        /// Skip these tenants (repeatable).
        #[arg(long = "except", value_name = "SCHEMA")]
        except: Vec<String>,
        /// Tenants migrated at once (default: the connection pool size).
        #[arg(long)]
        jobs: Option<usize>,
        /// Only the public set.
        #[arg(long, conflicts_with = "tenants_only")]
        public_only: bool,
        /// Only the tenant set.
        #[arg(long)]
        tenants_only: bool,
    },
    /// The migration state of every tenant.
    Status {
        /// Exit non-zero when any tenant is not current.
        #[arg(long)]
        check: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Undo the last migrations of tenants, each from its own applied state.
    Rollback {
        /// Only these tenants (repeatable; default: every tenant).
        #[arg(long = "tenant", value_name = "SCHEMA")]
        tenants: Vec<String>,
        /// How many migrations to undo in each tenant.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// Compare the entities with the stored snapshots and write the migrations that close the
    /// gap (public set into `migrations/src/`, tenant set into `tenant_migrations/src/`).
    GenerateMigrations {
        /// The migration name (`mYYYYMMDD_HHMMSS_<name>.rs`).
        #[arg(long, default_value = "schema_change")]
        name: String,
        /// Write nothing; exit non-zero when entities and snapshots disagree (for CI).
        #[arg(long, conflicts_with = "dry_run")]
        check: bool,
        /// Print what would be written instead of writing it.
        #[arg(long)]
        dry_run: bool,
        /// A renamed column: `TABLE.OLD=NEW` (repeatable).
        #[arg(long = "rename", value_name = "TABLE.OLD=NEW")]
        renames: Vec<String>,
        /// Treat columns that disappeared while others appeared as dropped and added.
        #[arg(long)]
        no_rename: bool,
        /// The app's root folder (default: `CARGO_MANIFEST_DIR`, else the current folder).
        #[arg(long)]
        root: Option<std::path::PathBuf>,
    },
    /// Manage tenant schemas by hand.
    Tenants {
        /// What to do with tenants.
        #[command(subcommand)]
        command: tenants::TenantsCommand,
    },
}

/// Default pool size, and so default `--jobs`.
const POOL_SIZE: u32 = 8;

/// Parses the process arguments and runs the command; returns the process exit code.
pub async fn run<A: TenancyApp>(app: A) -> ExitCode {
    run_with(app, Cli::parse()).await
}

/// Runs an already parsed command line (for tests and apps that embed the CLI).
pub async fn run_with<A: TenancyApp>(app: A, cli: Cli) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    match execute(&app, cli).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `cli`; `Ok(false)` when the command ran but some tenant failed or lags (`--check`).
pub async fn execute<A: TenancyApp>(app: &A, cli: Cli) -> Result<bool, String> {
    if let Command::GenerateMigrations {
        name,
        check,
        dry_run,
        renames,
        no_rename,
        root,
    } = cli.command
    {
        // Needs no database: entities and snapshots are both in the program and the repo.
        return crate::generate::cli::execute(name, check, dry_run, renames, no_rename, root);
    }
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
                migrate_public(app, &db)
                    .await
                    .map_err(|e| format!("public migrations failed: {e}"))?;
                println!("public: up to date");
            }
            if public_only {
                return Ok(true);
            }
            let selected = select(app, &db, &tenants, &except).await?;
            let jobs = jobs.unwrap_or(POOL_SIZE as usize);
            let bar = progress::Progress::new(selected.len());
            let report = migrate_tenants(app, &db, &selected, jobs, |o| bar.tenant_done(o))
                .await
                .map_err(|e| format!("cannot read tenant migration state: {e}"))?;
            bar.finish();
            let failed: Vec<_> = report.failures().collect();
            for (tenant, err) in &failed {
                println!("{tenant}: FAILED, left unchanged: {err}");
            }
            // A tenant another runner finished while we waited for its lock counts as current.
            let applied: Vec<usize> = report
                .outcomes
                .iter()
                .filter_map(|o| o.result.as_ref().ok().copied())
                .collect();
            let updated = applied.iter().filter(|n| **n > 0).count();
            println!(
                "tenants: {updated} updated ({} migrations applied), {} already current, {} failed, {} total",
                applied.iter().sum::<usize>(),
                report.already_current + applied.len() - updated,
                failed.len(),
                selected.len()
            );
            Ok(failed.is_empty())
        }
        Command::Status { check, json } => {
            let all = all(app, &db).await?;
            let statuses = status::<A::TenantMigrator, _>(&db, &all)
                .await
                .map_err(|e| format!("cannot read tenant migration state: {e}"))?;
            if json {
                println!("{}", status_output::json(&statuses));
            } else {
                print!("{}", status_output::table(&statuses));
            }
            let lagging = statuses
                .iter()
                .filter(|s| s.state != crate::migrate::State::Current)
                .count();
            Ok(!check || lagging == 0)
        }
        Command::Rollback { tenants, steps } => {
            let selected = select(app, &db, &tenants, &[]).await?;
            let mut ok = true;
            for tenant in &selected {
                match rollback_tenant::<A::TenantMigrator>(&db, tenant, steps).await {
                    Ok(n) => println!("{tenant}: rolled back {n} migration(s)"),
                    Err(e) => {
                        ok = false;
                        println!("{tenant}: FAILED, left unchanged: {e}");
                    }
                }
            }
            Ok(ok)
        }
        Command::Tenants { command } => tenants::execute(app, &db, command).await,
        Command::GenerateMigrations { .. } => unreachable!("handled before connecting"),
    }
}

async fn connect(url: Option<String>) -> Result<DatabaseConnection, String> {
    let url = url.ok_or("no database: set DATABASE_URL or pass --database-url")?;
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .max_connections(POOL_SIZE)
        .connect_timeout(std::time::Duration::from_secs(10));
    // The error text of a failed connection never contains the password.
    Database::connect(options)
        .await
        .map_err(|e| format!("cannot connect to the database: {e}"))
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

//! The command line an app hands its `main` to: `cargo run -- <command>`.
//!
//! ```ignore
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     sea_tenancy::cli::run(SaasApp).await
//! }
//! ```

mod compose;
mod databases;
pub mod init;
mod new_migration;
mod progress;
mod reporting;
mod roles;
mod status_output;
mod tenants;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait;

use crate::app::TenancyApp;
use crate::placement::{Placement, catalog, run as across};
use crate::tenant::Tenant;

pub use compose::{Parsed, parse_with_commands, run_with_commands};

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
    /// Undo the last migrations of tenants, each from its own applied state (or, with
    /// `--public`, of the public set).
    Rollback {
        /// Only these tenants (repeatable; default: every tenant).
        #[arg(long = "tenant", value_name = "SCHEMA")]
        tenants: Vec<String>,
        /// How many migrations to undo in each tenant (or in the public set).
        #[arg(long, default_value_t = 1)]
        steps: u32,
        /// Undo the public set's last migrations instead, in one transaction.
        #[arg(long, conflicts_with = "tenants")]
        public: bool,
    },
    /// Create the two migration crates (and the snapshot folder) a new app needs, keeping
    /// what exists, and print the code to paste.
    Init(init::InitArgs),
    /// Write an empty, registered migration for hand-written changes (data migrations):
    /// `migrations/src/mYYYYMMDD_HHMMSS_NAME.rs`, or with `--tenant` in the tenant set.
    NewMigration(new_migration::NewMigrationArgs),
    /// Compare the entities with the stored snapshots and write the migrations that close the
    /// gap (public set into `migrations/src/`, tenant set into `tenant_migrations/src/`).
    GenerateMigrations(crate::generate::cli::GenerateArgs),
    /// The tenant catalog: databases tenants can live in, and which tenants live where.
    Databases {
        /// What to do with the catalog.
        #[command(subcommand)]
        command: databases::DatabasesCommand,
    },
    /// Tenant roles: create missing ones, reset passwords, re-grant.
    Roles {
        /// What to do with roles.
        #[command(subcommand)]
        command: roles::RolesCommand,
    },
    /// Reporting logins: read-only access to every tenant, for queries across tenants.
    Reporting {
        /// What to do with reporting logins.
        #[command(subcommand)]
        command: reporting::ReportingCommand,
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
    let matches = help_fitted(<Cli as clap::CommandFactory>::command()).get_matches();
    match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => run_with(app, cli).await,
        Err(e) => e.exit(),
    }
}

/// Commands that never connect: `--database-url` (a global flag) is left out of their help.
const OFFLINE: [&str; 2] = ["init", "new-migration"];

/// `command` with the global `--database-url` hidden from the help of [`OFFLINE`] commands,
/// so that each command's `--help` lists only what it uses: they get a hidden flag of the same
/// name (still accepted, never read), which the global one does not replace.
pub(crate) fn help_fitted(mut command: clap::Command) -> clap::Command {
    for name in OFFLINE {
        command = command.mut_subcommand(name, |sub| {
            sub.arg(
                clap::Arg::new("database_url")
                    .long("database-url")
                    .env("DATABASE_URL")
                    .hide(true),
            )
        });
    }
    command
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
    if let Command::GenerateMigrations(args) = cli.command {
        // Needs no database (entities and snapshots are both in the program and the repo),
        // except `--redo`, which checks that the migration it replaces is not applied.
        return crate::generate::cli::execute(args, cli.database_url).await;
    }
    match cli.command {
        Command::NewMigration(args) => return new_migration::execute(args),
        Command::Init(args) => return init::execute(args),
        _ => {}
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
            let placement = placement(app, &db).await?;
            if !tenants_only {
                let applied = crate::migrate::migrate_public(app, &db)
                    .await
                    .map_err(|e| format!("public migrations failed, none applied: {e}"))?;
                if applied.is_empty() {
                    println!("public: up to date");
                } else {
                    println!(
                        "public: {} migration(s) applied: {}",
                        applied.len(),
                        applied.join(", ")
                    );
                }
            }
            if public_only {
                return Ok(true);
            }
            let selected = select(app, &db, &tenants, &except).await?;
            let jobs = jobs.unwrap_or(POOL_SIZE as usize);
            let bar = progress::Progress::new(selected.len());
            // The default database's public set ran above; other databases get theirs first.
            let groups = across::migrate(
                app,
                &db,
                placement.as_ref(),
                &selected,
                jobs,
                !tenants_only,
                |o| bar.tenant_done(o),
            )
            .await?;
            bar.finish();
            let (mut updated, mut applied_total, mut current, mut failed) = (0, 0, 0, 0);
            let mut outside = 0;
            for group in &groups {
                let name = group.name();
                let report = match &group.result {
                    Ok(report) => report,
                    Err(e) => {
                        failed += group.tenants.len();
                        println!(
                            "database {name}: FAILED ({} tenant(s) left unchanged): {e}",
                            group.tenants.len()
                        );
                        continue;
                    }
                };
                for (tenant, err) in report.failures() {
                    failed += 1;
                    println!("{tenant}: FAILED, left unchanged: {err}");
                }
                // A tenant another runner finished while we waited for its lock counts as current.
                let applied: Vec<usize> = report
                    .outcomes
                    .iter()
                    .filter_map(|o| o.result.as_ref().ok().copied())
                    .collect();
                outside += report
                    .outcomes
                    .iter()
                    .map(|o| o.outside_transaction)
                    .sum::<usize>();
                let n = applied.iter().filter(|n| **n > 0).count();
                updated += n;
                applied_total += applied.iter().sum::<usize>();
                current += report.already_current + applied.len() - n;
                if placement.is_some() {
                    println!(
                        "database {name}: {} tenant(s), {n} updated, {} failed",
                        group.tenants.len(),
                        report.failures().count()
                    );
                }
            }
            println!(
                "tenants: {updated} updated ({applied_total} migrations applied), {current} already current, {failed} failed, {} total",
                selected.len()
            );
            if outside > 0 {
                println!(
                    "{outside} of the applied migrations ran outside a transaction (use_transaction = false): each tenant's migrations committed one by one, under the tenant's lock"
                );
            }
            Ok(failed == 0)
        }
        Command::Status { check, json } => {
            let public = crate::migrate::public_status::<A::PublicMigrator, _>(&db)
                .await
                .map_err(|e| format!("cannot read the public set's status: {e}"))?;
            // A database never migrated has no tenants yet (and no table to list them from).
            let all = if public.applied == 0 {
                Vec::new()
            } else {
                all(app, &db).await?
            };
            let placement = placement(app, &db).await?;
            let groups = across::status_all::<A>(&db, placement.as_ref(), &all).await?;
            let tracking = A::TenantMigrator::migration_table_name().to_string();
            let orphans = crate::migrate::orphans(&db, &tracking, &all)
                .await
                .map_err(|e| format!("cannot look for orphan schemas: {e}"))?;
            let shown = status_output::Shown {
                public: &public,
                groups: &groups,
                orphans: &orphans,
            };
            if json {
                println!("{}", status_output::json(&shown));
            } else {
                print!("{}", status_output::table(&shown));
            }
            let unreachable = groups.iter().any(|g| g.result.is_err());
            let lagging = status_output::lagging(&groups) > 0
                || public.state != crate::migrate::State::Current;
            Ok(!unreachable && (!check || !lagging))
        }
        Command::Rollback {
            public: true,
            steps,
            ..
        } => {
            let undone = crate::migrate::rollback_public(app, &db, steps)
                .await
                .map_err(|e| format!("public rollback failed, nothing undone: {e}"))?;
            if undone.is_empty() {
                println!("public: nothing to roll back");
            } else {
                println!(
                    "public: rolled back {} migration(s): {}",
                    undone.len(),
                    undone.join(", ")
                );
            }
            Ok(true)
        }
        Command::Rollback { tenants, steps, .. } => {
            let placement = placement(app, &db).await?;
            let selected = select(app, &db, &tenants, &[]).await?;
            let groups = across::rollback::<A>(&db, placement.as_ref(), &selected, steps).await?;
            let mut ok = true;
            for group in &groups {
                let outcomes = match &group.result {
                    Ok(outcomes) => outcomes,
                    Err(e) => {
                        ok = false;
                        println!(
                            "database {}: FAILED ({} tenant(s) left unchanged): {e}",
                            group.name(),
                            group.tenants.len()
                        );
                        continue;
                    }
                };
                for outcome in outcomes {
                    let tenant = &outcome.tenant;
                    match &outcome.result {
                        Ok(n) => println!("{tenant}: rolled back {n} migration(s)"),
                        Err(e) => {
                            ok = false;
                            println!("{tenant}: FAILED, left unchanged: {e}");
                        }
                    }
                }
            }
            Ok(ok)
        }
        Command::Databases { command } => databases::execute(app, &db, command).await,
        Command::Tenants { command } => tenants::execute(app, &db, command).await,
        Command::Roles { command } => roles::execute(app, &db, command).await,
        Command::Reporting { command } => reporting::execute(app, &db, command).await,
        Command::GenerateMigrations(_) | Command::NewMigration(_) | Command::Init(_) => {
            unreachable!("handled before connecting")
        }
    }
}

/// The placement of tenants when the catalog is installed in `db`, with the app's configured
/// database URLs.
async fn placement<A: TenancyApp>(
    app: &A,
    db: &DatabaseConnection,
) -> Result<Option<Placement>, String> {
    let installed = catalog::is_installed(db)
        .await
        .map_err(|e| format!("cannot read the tenant catalog: {e}"))?;
    if !installed {
        return Ok(None);
    }
    let mut builder = Placement::builder(db.clone());
    for (name, url) in app.databases() {
        builder = builder.database(name, url);
    }
    builder.build().await.map(Some).map_err(|e| e.to_string())
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

//! The app's own subcommands beside the library's, under the app's name and version.
//!
//! An app binary usually does more than migrate (`serve`, `demo`, a worker). Rather than
//! owning `main`, the library's commands join the app's: the app derives `clap::Subcommand`
//! for its own, passes `clap::command!()` (its crate's name, version and description) and
//! handles its commands itself; every other command runs as in [`super::run`].
//!
//! ```ignore
//! #[derive(clap::Subcommand)]
//! enum AppCommand {
//!     /// Serve the HTTP API.
//!     Serve { #[arg(long, default_value_t = 3000)] port: u16 },
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     sea_tenancy::cli::run_with_commands(SaasApp, clap::command!(), |cmd, database_url| async move {
//!         match cmd {
//!             AppCommand::Serve { port } => serve(port, database_url).await,
//!         }
//!     })
//!     .await
//! }
//! ```

use std::future::Future;
use std::process::ExitCode;

use clap::{Args, FromArgMatches, Subcommand};

use super::Cli;
use crate::app::TenancyApp;

/// A command line parsed by [`parse_with_commands`].
#[derive(Debug)]
pub enum Parsed<C> {
    /// One of sea-tenancy's commands.
    Tenancy(Cli),
    /// One of the app's, with the `--database-url`/`DATABASE_URL` given.
    App {
        /// The app's command.
        command: C,
        /// The database URL, if any.
        database_url: Option<String>,
    },
}

/// The library's commands and `--database-url` added to `command` (the app's name, version,
/// about: `clap::command!()`), then the app's subcommands `C`. A name used by both is a
/// clap error in debug builds (clap's own duplicate check).
pub fn command_with<C: Subcommand>(command: clap::Command) -> clap::Command {
    let (name, version, about) = (
        command.get_name().to_owned(),
        command.get_version().map(str::to_owned),
        command.get_about().cloned(),
    );
    // `Cli`'s `version`/`about` and the doc comment of `C` must not replace the app's.
    let merged = C::augment_subcommands(Cli::augment_args(command)).name(name);
    let merged = match version {
        Some(version) => merged.version(version),
        None => merged,
    };
    match about {
        Some(about) => merged.about(about),
        None => merged.about(clap::builder::Resettable::<clap::builder::StyledStr>::Reset),
    }
}

/// Parses `args` (the program name first) against the library's commands and the app's `C`.
pub fn parse_with_commands<C, I, T>(
    command: clap::Command,
    args: I,
) -> Result<Parsed<C>, clap::Error>
where
    C: Subcommand,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = super::help_fitted(command_with::<C>(command)).try_get_matches_from(args)?;
    match matches.subcommand_name() {
        Some(name) if C::has_subcommand(name) => Ok(Parsed::App {
            command: C::from_arg_matches(&matches)?,
            database_url: matches.get_one::<String>("database_url").cloned(),
        }),
        _ => Ok(Parsed::Tenancy(Cli::from_arg_matches(&matches)?)),
    }
}

/// Parses the process arguments; runs the app's commands with `handle` and the library's as
/// [`super::run`] does. Returns the process exit code.
pub async fn run_with_commands<A, C, F, Fut>(app: A, command: clap::Command, handle: F) -> ExitCode
where
    A: TenancyApp,
    C: Subcommand,
    F: FnOnce(C, Option<String>) -> Fut,
    Fut: Future<Output = ExitCode>,
{
    match parse_with_commands::<C, _, _>(command, std::env::args_os()) {
        Ok(Parsed::Tenancy(cli)) => super::run_with(app, cli).await,
        Ok(Parsed::App {
            command,
            database_url,
        }) => handle(command, database_url).await,
        Err(e) => {
            // `--help`/`--version` print and succeed; usage errors print and fail.
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

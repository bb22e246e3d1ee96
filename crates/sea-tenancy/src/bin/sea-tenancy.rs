//! `sea-tenancy`: the commands that need no app, for before the app has a `main` of its own
//! (`sea-tenancy init`). Every other command runs from the app: `cargo run -- <command>`.

use std::process::ExitCode;

use clap::Parser;

/// sea-tenancy's app-less commands.
#[derive(Debug, Parser)]
#[command(version, about)]
enum Command {
    /// Create the two migration crates (and the snapshot folder) a new app needs, keeping what
    /// exists, and print the code to paste.
    Init(sea_tenancy::cli::init::InitArgs),
}

fn main() -> ExitCode {
    let result = match Command::parse() {
        Command::Init(args) => sea_tenancy::cli::init::execute(args),
    };
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

//! `saas-app`: the reference app's binary. `demo` is its own command; every other command is
//! sea-tenancy's (`migrate`, `tenants`, ...), all under the app's name and version.

use std::process::ExitCode;

use saas_app::SaasApp;

/// The local server the demo uses when `DATABASE_URL` is not set.
const LOCAL_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The app's own commands.
#[derive(Debug, clap::Subcommand)]
enum AppCommand {
    /// Recreate database `saas_app_demo`, sign up two organizations and show what each sees.
    Demo,
}

#[tokio::main]
async fn main() -> ExitCode {
    sea_tenancy::cli::run_with_commands(
        SaasApp,
        clap::command!(),
        |command, database_url| async move {
            match command {
                AppCommand::Demo => {
                    let server = database_url.unwrap_or_else(|| LOCAL_SERVER.to_owned());
                    match saas_app::demo::run(&server).await {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(e) => {
                            eprintln!("error: {e}");
                            ExitCode::FAILURE
                        }
                    }
                }
            }
        },
    )
    .await
}

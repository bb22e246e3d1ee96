//! `saas-app`: the reference app's binary. `demo` is its own; every other command is
//! sea-tenancy's (`migrate`, `tenants`, ...).

use std::process::ExitCode;

use saas_app::SaasApp;

/// The local server the demo uses when `DATABASE_URL` is not set.
const LOCAL_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("demo") {
        let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| LOCAL_SERVER.to_owned());
        return match saas_app::demo::run(&server).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    sea_tenancy::cli::run(SaasApp).await
}

//! `cargo run -p quickstart -- <command>`: sea-tenancy's commands for the quickstart app.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sea_tenancy::cli::run(quickstart::App).await
}

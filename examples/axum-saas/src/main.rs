//! `cargo run -p axum-saas`: serves the demo API on 127.0.0.1:3000 (or `BIND`), with its own
//! database `saas_app_axum` on `DATABASE_URL`'s server (else the local one).
//!
//! Flags and environment:
//! - `--header-mode` or `TENANT_MODE=header`: tenant from `X-Tenant: <org id>` instead of the
//!   JWT claim `org`.
//! - `JWT_SECRET`: the HS256 secret (default: a fixed demo secret — fine on a laptop, never
//!   in production).
//! - `BIND`: the listen address (default `127.0.0.1:3000`).

use std::process::ExitCode;
use std::time::Duration;

use axum_saas::{Config, DATABASE, TenantMode};

const LOCAL_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const DEMO_SECRET: &str = "axum-saas demo secret: change me, never use in production";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let header_mode = std::env::args().skip(1).any(|a| a == "--header-mode")
        || std::env::var("TENANT_MODE").is_ok_and(|m| m.eq_ignore_ascii_case("header"));
    let mode = if header_mode {
        TenantMode::Header
    } else {
        TenantMode::Jwt
    };
    let jwt_secret = match std::env::var("JWT_SECRET") {
        Ok(s) => s,
        Err(_) => {
            eprintln!("warning: JWT_SECRET is not set; using the built-in demo secret");
            DEMO_SECRET.to_owned()
        }
    };
    let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| LOCAL_SERVER.to_owned());
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());

    let (raw, tenancy) = axum_saas::prepare_database(&server).await?;
    println!("database {DATABASE}: ready (public and every organization migrated)");
    let app = axum_saas::app(
        raw,
        tenancy,
        &Config {
            mode,
            jwt_secret: jwt_secret.into_bytes(),
            cache_ttl: Duration::from_secs(60),
        },
    )?;
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| format!("could not listen on {bind}: {e} (set BIND to another address)"))?;
    println!(
        "listening on http://{} — tenant from {}",
        listener.local_addr()?,
        match mode {
            TenantMode::Jwt =>
                "the JWT claim `org` (Authorization: Bearer, get one at POST /token)",
            TenantMode::Header => "header `X-Tenant: <org id>`",
        }
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    Ok(())
}

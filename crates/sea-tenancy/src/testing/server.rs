//! Which server the tests use: `DATABASE_URL`, else the local server, else a throwaway cluster
//! shared by this user's test processes (see the module docs of `sea_tenancy::testing`).

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::cluster::{
    cluster_admin_url, init_cluster, start_server, start_throwaway_cluster, stop_args,
    wait_until_ready,
};
use super::connect::{probe, with_database};
use super::process::{
    PgBin, Runner, current_euid, find_pg_bin, find_program, free_port, owner_uid, run, set_mode,
};
use super::watchdog::{register_process, spawn_watchdog, watchdog_alive};
use super::{CLUSTER_ROOT, CONNECT_TIMEOUT, HarnessError, LOCAL_PROBE_TIMEOUT};

/// The local server tried when `DATABASE_URL` is not set.
const LOCAL_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Seconds the shared throwaway cluster keeps running once no process that used it is alive,
/// so the next test binary of the same `cargo test` run finds it still up.
const SHARED_CLUSTER_GRACE_SECS: u32 = 30;

/// How long we wait for another process that is starting the shared cluster.
const LOCK_TIMEOUT: Duration = Duration::from_secs(120);

/// The single sentence every test panics with when no server can be had.
const NO_SERVER: &str = "sea_tenancy::testing found no PostgreSQL server: set DATABASE_URL to a \
    server whose user may CREATE DATABASE, start the local server with \
    `pg_ctlcluster --skip-systemctl-redirect 15 main start`, or install postgresql so that \
    `initdb` and `pg_ctl` are available";

/// The resolved server, or the sentence to panic with; kept so later tests fail fast.
static SERVER: OnceCell<Result<String, String>> = OnceCell::const_new();

/// The admin URL of the server used for tests (to a maintenance database such as `postgres`),
/// resolved once per process and cached: `DATABASE_URL`, else the local server on
/// `127.0.0.1:5432`, else a shared throwaway cluster (see the [module docs](super)).
///
/// It is `async` because resolution connects to servers and may start one. Connections made
/// during resolution are closed before it returns, so the cached URL can be used from any
/// runtime (each `#[tokio::test]` has its own).
///
/// # Panics
///
/// With one sentence saying how to get PostgreSQL when no server can be had (every call
/// panics the same way; the search runs only once).
pub async fn server_url() -> &'static str {
    match SERVER.get_or_init(resolve_server).await {
        Ok(url) => url,
        Err(sentence) => panic!("{sentence}"),
    }
}

async fn resolve_server() -> Result<String, String> {
    if let Some(url) = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return resolve_database_url(url.trim()).await;
    }
    if probe(LOCAL_SERVER_URL, LOCAL_PROBE_TIMEOUT).await.is_ok() {
        tracing::info!("sea_tenancy::testing uses the local PostgreSQL server on 127.0.0.1:5432");
        return Ok(LOCAL_SERVER_URL.to_owned());
    }
    match shared_throwaway_cluster().await {
        Ok(url) => {
            tracing::info!(%url, "sea_tenancy::testing uses a throwaway PostgreSQL cluster");
            Ok(url)
        }
        Err(HarnessError::NoBinaries) => Err(format!("{NO_SERVER}.")),
        Err(e) => Err(format!(
            "{NO_SERVER} (starting a throwaway cluster from them failed: {e})."
        )),
    }
}

/// `DATABASE_URL` is an explicit choice: if its server is unreachable we say so instead of
/// silently testing somewhere else.
async fn resolve_database_url(url: &str) -> Result<String, String> {
    let maintenance = with_database(url, "postgres");
    // Both at once, so an unreachable server costs one timeout, not two.
    let (via_maintenance, direct) = tokio::join!(
        async { maintenance != url && probe(&maintenance, CONNECT_TIMEOUT).await.is_ok() },
        probe(url, CONNECT_TIMEOUT),
    );
    if via_maintenance {
        return Ok(maintenance);
    }
    match direct {
        Ok(()) => Ok(url.to_owned()),
        Err(e) => Err(format!(
            "sea_tenancy::testing cannot reach the PostgreSQL server named by DATABASE_URL \
             ({e}); fix DATABASE_URL or unset it to use the local server or a throwaway cluster."
        )),
    }
}

/// The cluster used by [`server_url`]: shared by this user's test processes, falling back to a
/// private one when sharing is not possible.
async fn shared_throwaway_cluster() -> Result<String, HarnessError> {
    let bin = find_pg_bin()?;
    let runner = Runner::detect()?;
    match use_shared_cluster(&bin, &runner).await {
        Ok(url) => Ok(url),
        Err(e) => {
            tracing::warn!(error = %e, "cannot share a throwaway cluster; starting one for this process");
            start_throwaway_cluster().await
        }
    }
}

/// Sharing is safe because everything below happens under an exclusive `flock` on
/// `<state>/lock`, and the watchdog takes the same lock before stopping the server: a process
/// registers its pid under the lock, so the watchdog cannot stop the server under a live user,
/// and a process never sees a half-initialized cluster.
async fn use_shared_cluster(bin: &PgBin, runner: &Runner) -> Result<String, HarnessError> {
    if find_program("flock").is_none() {
        return Err(HarnessError::Unsupported(
            "the `flock` command (util-linux), which the watchdog needs, is missing".into(),
        ));
    }
    let euid = current_euid()?;
    // Per user: another user's processes could neither reuse nor stop our cluster.
    let state = PathBuf::from(format!("{CLUSTER_ROOT}/sea-tenancy-pg-shared-{euid}"));
    match fs::create_dir(&state) {
        Ok(()) => set_mode(&state, 0o755)?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(HarnessError::io(
                format!("could not create {}", state.display()),
                e,
            ));
        }
    }
    // Never trust a directory (or symlink) someone else planted in /tmp.
    let meta = fs::symlink_metadata(&state)
        .map_err(|e| HarnessError::io(format!("could not inspect {}", state.display()), e))?;
    if !meta.is_dir() || owner_uid(&meta).is_some_and(|uid| uid != euid) {
        return Err(HarnessError::Unsupported(format!(
            "{} is not a directory owned by uid {euid}",
            state.display()
        )));
    }
    let lock = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state.join("lock"))
        .map_err(|e| HarnessError::io("could not open the cluster lock file", e))?;
    let deadline = Instant::now() + LOCK_TIMEOUT;
    loop {
        match lock.try_lock() {
            Ok(()) => break,
            Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(HarnessError::Unsupported(format!(
                    "another process held {} for {} s",
                    state.join("lock").display(),
                    LOCK_TIMEOUT.as_secs()
                )));
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(HarnessError::io("could not lock the cluster lock file", e));
            }
        }
    }
    let result = use_shared_cluster_locked(bin, runner, &state).await;
    drop(lock); // releases the flock
    result
}

async fn use_shared_cluster_locked(
    bin: &PgBin,
    runner: &Runner,
    state: &Path,
) -> Result<String, HarnessError> {
    register_process(state)?;
    let data = state.join("data");
    let port_file = state.join("port");
    let previous_port = fs::read_to_string(&port_file)
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok());

    // Running already (started by an earlier test binary)? Other processes may be using it,
    // so a slow answer is waited for, and a running server is never stopped from here.
    if data.join("PG_VERSION").is_file()
        && run(
            runner,
            &bin.pg_ctl(),
            &[
                OsStr::new("status"),
                OsStr::new("--pgdata"),
                data.as_os_str(),
            ],
        )
        .await
        .is_ok()
    {
        let port = previous_port.ok_or_else(|| {
            HarnessError::Unsupported(format!("{} records no port", state.display()))
        })?;
        let url = cluster_admin_url(port);
        probe(&url, CONNECT_TIMEOUT).await?;
        if !watchdog_alive(state) {
            spawn_watchdog(state, &data, SHARED_CLUSTER_GRACE_SECS, false, runner, bin)?;
        }
        return Ok(url);
    }

    // Initialized but stopped (the watchdog stopped it after an earlier run): restart it.
    if data.join("PG_VERSION").is_file() {
        let _ = run(runner, &bin.pg_ctl(), &stop_args(&data, "immediate")).await;
        match start_shared(bin, runner, state, &data, &port_file).await {
            Ok(url) => return Ok(url),
            // E.g. initialized by another PostgreSQL version: start from scratch.
            Err(e) => tracing::warn!(error = %e, "re-initializing the shared throwaway cluster"),
        }
        let _ = run(runner, &bin.pg_ctl(), &stop_args(&data, "immediate")).await;
    }

    if data.exists() {
        fs::remove_dir_all(&data)
            .map_err(|e| HarnessError::io(format!("could not remove {}", data.display()), e))?;
    }
    init_cluster(bin, runner, &data, &[]).await?;
    start_shared(bin, runner, state, &data, &port_file).await
}

async fn start_shared(
    bin: &PgBin,
    runner: &Runner,
    state: &Path,
    data: &Path,
    port_file: &Path,
) -> Result<String, HarnessError> {
    let mut attempts = 0;
    let port = loop {
        attempts += 1;
        let port = free_port()?;
        match start_server(bin, runner, data, port).await {
            Ok(()) => break port,
            Err(e) if attempts < 3 && e.to_string().contains("Address already in use") => {}
            Err(e) => return Err(e),
        }
    };
    fs::write(port_file, port.to_string())
        .map_err(|e| HarnessError::io("could not record the cluster port", e))?;
    spawn_watchdog(state, data, SHARED_CLUSTER_GRACE_SECS, false, runner, bin)?;
    wait_until_ready(port).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDatabase;
    use crate::testing::test_support::select_one;

    /// Step 3 of `server_url`, called directly (the local server would win otherwise): the
    /// shared cluster starts (or is found running), is reused by a second call, and hosts test
    /// databases. It is left running for the next test process; its watchdog stops it
    /// 30 seconds after the last process that used it has exited.
    #[tokio::test]
    async fn shared_cluster_is_reused_and_hosts_test_databases() {
        let url = match shared_throwaway_cluster().await {
            Err(HarnessError::NoBinaries) => {
                eprintln!("skipped: no initdb/pg_ctl on this machine");
                return;
            }
            other => other.unwrap(),
        };
        assert_eq!(shared_throwaway_cluster().await.unwrap(), url);
        let url: &'static str = Box::leak(url.into_boxed_str());
        let db = TestDatabase::create_on(url).await.unwrap();
        let conn = db.connect().await;
        assert_eq!(select_one(&conn).await, 1);
        drop(conn);
        drop(db);
    }
}

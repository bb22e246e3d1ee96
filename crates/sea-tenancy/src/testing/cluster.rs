//! Throwaway clusters: `initdb`, configuration, `pg_ctl start`/`stop`, and the public
//! functions that start a private cluster and stop it again.
//!
//! The steps are `pub(crate)` so that clusters needing more (extra `postgresql.conf` lines, a
//! preloaded extension) can be started from the same pieces.

use std::ffi::OsStr;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::connect::probe;
use super::process::{PgBin, Runner, chown, find_pg_bin, free_port, run, set_mode, tail};
use super::watchdog::{register_process, spawn_watchdog};
use super::{CLUSTER_ROOT, CONNECT_TIMEOUT, HarnessError, LOCAL_PROBE_TIMEOUT};

/// The admin URL of the throwaway cluster listening on `port`.
pub(crate) fn cluster_admin_url(port: u16) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}

/// Starts a new, private PostgreSQL cluster from the local `initdb`/`pg_ctl` binaries and
/// returns its admin URL, `postgres://postgres@127.0.0.1:<port>/postgres`.
///
/// * Binaries: the first directory holding both `initdb` and `pg_ctl`, searched on `PATH`,
///   then in `/usr/lib/postgresql/*/bin`, newest version first.
/// * Layout: `/tmp/sea-tenancy-pg-<port>/data`, created with `initdb --auth=trust
///   --username=postgres --locale=C --encoding=UTF8 --no-sync`.
/// * Server: listens on `127.0.0.1:<port>` (a free port) only, unix socket in the data
///   directory, trust authentication, superuser `postgres`, `fsync` off (test data is
///   disposable), `max_connections = 200`. It runs in its own process group, so Ctrl-C on
///   `cargo test` does not reach it.
/// * Root: PostgreSQL refuses to run as root, so the binaries then run as `nobody` (through
///   `setpriv`, else `runuser -u nobody --`), which owns the data directory.
/// * Lifetime: stop it with [`stop_throwaway_cluster`]; in any case a small `sh` watchdog stops
///   it and deletes its directory within about a second of this process exiting (five
///   seconds if the process dies while the cluster is still starting).
///
/// Trust authentication means any local user may connect as superuser: only for tests.
///
/// # Errors
///
/// [`HarnessError::NoBinaries`] when `initdb`/`pg_ctl` cannot be found; otherwise the failing
/// step, with the end of the server log when the server did not start.
pub async fn start_throwaway_cluster() -> Result<String, HarnessError> {
    start_throwaway_cluster_with(ClusterAuth::Trust).await
}

/// How a throwaway cluster authenticates TCP connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterAuth {
    /// Everyone is trusted (what [`start_throwaway_cluster`] starts).
    Trust,
    /// `postgres` is trusted, every other role must log in with its password
    /// (`scram-sha-256`): for tests of what passwords guard, such as tenant logins.
    Password,
}

/// [`start_throwaway_cluster`] with the given authentication.
pub async fn start_throwaway_cluster_with(auth: ClusterAuth) -> Result<String, HarnessError> {
    start_throwaway_cluster_configured(auth, &[]).await
}

/// [`start_throwaway_cluster_with`], with `extra_conf` appended to `postgresql.conf` (see
/// [`init_cluster`]): for clusters that need more settings, such as a preloaded extension.
pub(crate) async fn start_throwaway_cluster_configured(
    auth: ClusterAuth,
    extra_conf: &[&str],
) -> Result<String, HarnessError> {
    let bin = find_pg_bin()?;
    let runner = Runner::detect()?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let port = free_port()?;
        let state = PathBuf::from(format!("{CLUSTER_ROOT}/sea-tenancy-pg-{port}"));
        match fs::create_dir(&state) {
            Ok(()) => {}
            // Left over by a process killed before its watchdog ran: try another port.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempts < 5 => continue,
            Err(e) => {
                return Err(HarnessError::io(
                    format!("could not create {}", state.display()),
                    e,
                ));
            }
        }
        let data = state.join("data");
        let result = async {
            set_mode(&state, 0o755)?;
            register_process(&state)?;
            // Before initdb, so a process killed mid-start leaves nothing behind either.
            spawn_watchdog(&state, &data, 0, true, &runner, &bin)?;
            init_cluster(&bin, &runner, &data, extra_conf).await?;
            if auth == ClusterAuth::Password {
                require_passwords(&data)?;
            }
            start_server(&bin, &runner, &data, port).await?;
            wait_until_ready(port).await
        }
        .await;
        match result {
            Ok(url) => return Ok(url),
            Err(e) => {
                let _ = run(&runner, &bin.pg_ctl(), &stop_args(&data, "immediate")).await;
                let _ = fs::remove_dir_all(&state);
                // Another process took the port between our check and the server's bind, or
                // the machine was briefly short of something (seen under parallel builds):
                // a fresh directory and port get two more tries.
                if attempts < 3 {
                    tracing::warn!(error = %e, attempt = attempts, "throwaway cluster did not start; retrying");
                    continue;
                }
                return Err(e);
            }
        }
    }
}

/// Stops a cluster started by [`start_throwaway_cluster`] (`pg_ctl stop -m fast`) and deletes
/// its directory. `admin_url` is the URL that function returned.
///
/// # Errors
///
/// When `admin_url` is not such a URL, no cluster lives in its directory, or `pg_ctl stop`
/// fails.
pub async fn stop_throwaway_cluster(admin_url: &str) -> Result<(), HarnessError> {
    let port = admin_url
        .strip_prefix("postgres://postgres@127.0.0.1:")
        .and_then(|rest| rest.strip_suffix("/postgres"))
        .and_then(|port| port.parse::<u16>().ok())
        .ok_or_else(|| {
            HarnessError::Unsupported(format!(
                "{admin_url} is not a URL returned by start_throwaway_cluster"
            ))
        })?;
    let state = PathBuf::from(format!("{CLUSTER_ROOT}/sea-tenancy-pg-{port}"));
    let data = state.join("data");
    if !data.join("PG_VERSION").is_file() {
        return Err(HarnessError::Unsupported(format!(
            "{} holds no throwaway cluster",
            state.display()
        )));
    }
    let bin = find_pg_bin()?;
    let runner = Runner::detect()?;
    run(&runner, &bin.pg_ctl(), &stop_args(&data, "fast")).await?;
    fs::remove_dir_all(&state)
        .map_err(|e| HarnessError::io(format!("could not remove {}", state.display()), e))
}

/// Creates `data` owned by the user the server runs as and runs `initdb` in it.
///
/// `extra_conf` lines are appended to `postgresql.conf` after our settings, so they win over
/// them (e.g. `shared_preload_libraries = 'citus'`).
pub(crate) async fn init_cluster(
    bin: &PgBin,
    runner: &Runner,
    data: &Path,
    extra_conf: &[&str],
) -> Result<(), HarnessError> {
    fs::create_dir(data)
        .map_err(|e| HarnessError::io(format!("could not create {}", data.display()), e))?;
    set_mode(data, 0o700)?;
    if let Some((uid, gid)) = runner.ids {
        chown(data, uid, gid)?;
    }
    let data_arg = data.as_os_str();
    run(
        runner,
        &bin.initdb(),
        &[
            OsStr::new("--pgdata"),
            data_arg,
            OsStr::new("--username=postgres"),
            OsStr::new("--auth=trust"),
            OsStr::new("--encoding=UTF8"),
            OsStr::new("--locale=C"),
            OsStr::new("--no-sync"),
        ],
    )
    .await?;
    let mut settings = format!(
        "\n# Added by sea_tenancy::testing: a throwaway cluster for tests; its data is disposable.\n\
         listen_addresses = '127.0.0.1'\n\
         unix_socket_directories = '{}'\n\
         max_connections = 200\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n",
        data.display()
    );
    for line in extra_conf {
        settings.push_str(line);
        settings.push('\n');
    }
    let conf = data.join("postgresql.conf");
    fs::OpenOptions::new()
        .append(true)
        .open(&conf)
        .and_then(|mut f| f.write_all(settings.as_bytes()))
        .map_err(|e| HarnessError::io(format!("could not write {}", conf.display()), e))
}

/// Replaces `pg_hba.conf`: `postgres` trusted (the harness is its admin), every other role
/// must present its SCRAM-SHA-256 password over TCP.
fn require_passwords(data: &Path) -> Result<(), HarnessError> {
    let hba = data.join("pg_hba.conf");
    fs::write(
        &hba,
        "# Written by sea_tenancy::testing (ClusterAuth::Password).\n\
         local all all trust\n\
         host all postgres 127.0.0.1/32 trust\n\
         host all all 127.0.0.1/32 scram-sha-256\n",
    )
    .map_err(|e| HarnessError::io(format!("could not write {}", hba.display()), e))
}

/// `pg_ctl start -w`; the port is passed on the command line (pg_ctl keeps it in
/// `postmaster.opts`), so a restarted shared cluster can move to another free port.
pub(crate) async fn start_server(
    bin: &PgBin,
    runner: &Runner,
    data: &Path,
    port: u16,
) -> Result<(), HarnessError> {
    let log = data.join("server.log");
    let port_opt = format!("-p {port}");
    let result = run(
        runner,
        &bin.pg_ctl(),
        &[
            OsStr::new("start"),
            OsStr::new("--pgdata"),
            data.as_os_str(),
            OsStr::new("--log"),
            log.as_os_str(),
            OsStr::new("-o"),
            OsStr::new(&port_opt),
            OsStr::new("--wait"),
            OsStr::new("--timeout=60"),
            OsStr::new("--silent"),
        ],
    )
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(HarnessError::Command {
            command,
            status,
            output,
        }) => {
            // pg_ctl only says "could not start server": the reason is in the log.
            let server_log = fs::read_to_string(&log).unwrap_or_default();
            Err(HarnessError::Command {
                command,
                status,
                output: format!("{output} {}", tail(&server_log, 1500)),
            })
        }
        Err(e) => Err(e),
    }
}

/// The arguments of `pg_ctl stop` for the cluster in `data`, with shutdown `mode` (`fast`,
/// `immediate`).
pub(crate) fn stop_args<'a>(data: &'a Path, mode: &'a str) -> [&'a OsStr; 7] {
    [
        OsStr::new("stop"),
        OsStr::new("--pgdata"),
        data.as_os_str(),
        OsStr::new("--mode"),
        OsStr::new(mode),
        OsStr::new("--wait"),
        OsStr::new("--silent"),
    ]
}

/// `pg_ctl --wait` returns once the postmaster reports ready; this also proves that TCP on
/// 127.0.0.1 works, and returns the admin URL.
pub(crate) async fn wait_until_ready(port: u16) -> Result<String, HarnessError> {
    let url = cluster_admin_url(port);
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        match probe(&url, LOCAL_PROBE_TIMEOUT).await {
            Ok(()) => return Ok(url),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::ConnectionTrait;

    use super::*;
    use crate::testing::connect::connect_admin;
    use crate::testing::test_support::select_one;

    /// Slow (initdb): starts a private cluster from the local binaries, as step 3 of
    /// `server_url` would.
    #[tokio::test]
    async fn throwaway_cluster_starts_answers_and_stops() {
        let url = match start_throwaway_cluster().await {
            Err(HarnessError::NoBinaries) => {
                eprintln!("skipped: no initdb/pg_ctl on this machine");
                return;
            }
            other => other.unwrap(),
        };
        let conn = connect_admin(&url, CONNECT_TIMEOUT).await.unwrap();
        assert_eq!(select_one(&conn).await, 1);
        let is_superuser: String = conn
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT current_setting('is_superuser') AS s",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get("", "s")
            .unwrap();
        assert_eq!(is_superuser, "on");
        conn.close().await.unwrap();

        stop_throwaway_cluster(&url).await.unwrap();
        assert!(
            probe(&url, LOCAL_PROBE_TIMEOUT).await.is_err(),
            "still running"
        );
        let port = url
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches("/postgres");
        assert!(!Path::new(&format!("{CLUSTER_ROOT}/sea-tenancy-pg-{port}")).exists());
    }
}

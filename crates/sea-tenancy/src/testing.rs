//! A throwaway-PostgreSQL harness for tests: one fresh database per test (feature `testing`).
//!
//! Multitenancy bugs live in the SQL PostgreSQL actually runs — `search_path`, schema creation,
//! transactional DDL — so our tests run on a real server, never a mock. To let them run in
//! parallel without seeing each other's schemas, every test gets its own database:
//!
//! ```no_run
//! use sea_orm::ConnectionTrait;
//! use sea_tenancy::testing::TestDatabase;
//!
//! # async fn example() {
//! let db = TestDatabase::create().await; // `st_<random hex>`, created on the test server
//! let conn = db.connect().await; // a pool of 5 connections to it
//! conn.execute_unprepared("CREATE SCHEMA org_1").await.unwrap();
//! // ...
//! drop(conn);
//! drop(db); // `DROP DATABASE .. WITH (FORCE)`, best effort
//! # }
//! ```
//!
//! # Which server
//!
//! [`server_url`] picks the server once per process, first match wins:
//!
//! 1. `DATABASE_URL`, if set: its server, administered through its `postgres` database when that
//!    accepts connections, otherwise through the database the URL names. Its user must be allowed
//!    to `CREATE DATABASE`.
//! 2. The local server at `postgres://postgres@127.0.0.1:5432/postgres`, if it answers within
//!    about two seconds.
//! 3. A throwaway cluster started from the local `initdb`/`pg_ctl` binaries (on `PATH`, then in
//!    `/usr/lib/postgresql/*/bin`, newest version first). It is shared by all the test processes
//!    of one user (so the test binaries of one `cargo test` run pay for `initdb` at most once),
//!    and a small watchdog stops it when no process that used it has been alive for
//!    30 seconds. See [`start_throwaway_cluster`] for how it runs.
//! 4. Otherwise every test panics with one sentence saying how to get a server.
//!
//! # Why one database per test
//!
//! Schemas, roles of a tenant and the `search_path` are per database, so a private database is
//! the smallest unit that keeps parallel tests from interfering, and dropping it cleans up
//! everything a test created, even after a failed assertion.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
};
use tokio::sync::OnceCell;

/// The local server tried when `DATABASE_URL` is not set.
const LOCAL_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long the local server gets to answer before we look elsewhere.
const LOCAL_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a server we were told to use (`DATABASE_URL`) or started ourselves gets to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Pool size of [`TestDatabase::connect`].
const DEFAULT_POOL_SIZE: u32 = 5;

/// Seconds the shared throwaway cluster keeps running once no process that used it is alive,
/// so the next test binary of the same `cargo test` run finds it still up.
const SHARED_CLUSTER_GRACE_SECS: u32 = 30;

/// How long we wait for another process that is starting the shared cluster.
const LOCK_TIMEOUT: Duration = Duration::from_secs(120);

/// Where throwaway clusters live. Not `std::env::temp_dir()`: the unix socket goes in the data
/// directory and socket paths must stay short (about 100 bytes).
const CLUSTER_ROOT: &str = "/tmp";

/// The unprivileged user the PostgreSQL binaries run as when we are root.
const UNPRIVILEGED_USER: &str = "nobody";

/// The single sentence every test panics with when no server can be had.
const NO_SERVER: &str = "sea_tenancy::testing found no PostgreSQL server: set DATABASE_URL to a \
    server whose user may CREATE DATABASE, start the local server with \
    `pg_ctlcluster --skip-systemctl-redirect 15 main start`, or install postgresql so that \
    `initdb` and `pg_ctl` are available";

/// Why the harness could not provide a server or database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// No directory holds both `initdb` and `pg_ctl`.
    #[error(
        "no PostgreSQL server binaries: looked for `initdb` and `pg_ctl` on PATH and in /usr/lib/postgresql/*/bin"
    )]
    NoBinaries,
    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A PostgreSQL binary (or a helper such as `setpriv`) exited unsuccessfully.
    #[error("`{command}` failed ({status}): {output}")]
    Command {
        /// The command line.
        command: String,
        /// How it exited.
        status: String,
        /// The end of its output (and of the server log, for `pg_ctl start`).
        output: String,
    },
    /// A statement or connection failed.
    #[error("{context}: {source}")]
    Database {
        /// What we were doing.
        context: String,
        /// The underlying error.
        #[source]
        source: DbErr,
    },
    /// The environment cannot run a throwaway cluster (e.g. root without `setpriv`/`runuser`).
    #[error("{0}")]
    Unsupported(String),
}

impl HarnessError {
    fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        HarnessError::Io {
            context: context.into(),
            source,
        }
    }

    fn db(context: impl Into<String>, source: DbErr) -> Self {
        HarnessError::Database {
            context: context.into(),
            source,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Test databases
// ---------------------------------------------------------------------------------------------

/// A fresh database, dropped (best effort, `DROP DATABASE .. WITH (FORCE)`) when this value is
/// dropped.
///
/// The drop does not need the caller's runtime: it runs on a short-lived thread with its own
/// current-thread tokio runtime, so it works from `#[tokio::test]` (any flavor), from plain
/// `#[test]`s and while a failed test unwinds. `WITH (FORCE)` terminates sessions still
/// connected to the database, so it does not matter whether the pools from
/// [`connect`](Self::connect) were closed or dropped first. Failures are only logged
/// (`tracing::warn!`): a leftover `st_*` database must not turn a passing test into a failure.
#[derive(Debug)]
#[must_use = "the database is dropped again as soon as this value is dropped"]
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: &'static str,
}

impl TestDatabase {
    /// Creates `st_<random hex>` on the server chosen by [`server_url`].
    ///
    /// The name carries 64 random bits, so parallel test processes never collide. Roles are
    /// cluster-wide: the tenant, group and global roles a test creates are named after its
    /// database and dropped with it.
    ///
    /// # Panics
    ///
    /// With one sentence saying how to get PostgreSQL when no server can be had, or with the
    /// server's error when it refuses `CREATE DATABASE`.
    pub async fn create() -> TestDatabase {
        let admin_url = server_url().await;
        match Self::create_on(admin_url).await {
            Ok(db) => db,
            Err(e) => panic!("sea_tenancy::testing could not create a test database: {e}"),
        }
    }

    async fn create_on(admin_url: &'static str) -> Result<TestDatabase, HarnessError> {
        // 19 bytes: short enough to be the role namespace itself (see `roles::RoleNames`), so
        // the roles of a dropped test database can be found again by name.
        let name = format!("st_{:016x}", rand::random::<u64>());
        let admin = connect_admin(admin_url, CONNECT_TIMEOUT)
            .await
            .map_err(|e| HarnessError::db("could not connect to the test server", e))?;
        let sql = format!("CREATE DATABASE {}", quote_ident(&name));
        let mut attempt = 0;
        let created = loop {
            match admin.execute_unprepared(&sql).await {
                // Another session briefly on `template1` makes CREATE DATABASE fail; retry.
                Err(e)
                    if attempt < 5 && e.to_string().contains("being accessed by other users") =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                other => break other,
            }
        };
        if created.is_ok() {
            drop_orphan_roles(&admin).await;
        }
        let _ = admin.close().await;
        created.map_err(|e| HarnessError::db(format!("CREATE DATABASE {name} failed"), e))?;
        tracing::debug!(database = %name, "created test database");
        Ok(TestDatabase {
            url: with_database(admin_url, &name),
            name,
            admin_url,
        })
    }

    /// The database name, `st_<16 hex digits>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The connection URL of this database (same server, user and options as [`server_url`]).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The options [`connect`](Self::connect) uses: this database's URL, a pool of 5 and
    /// `sqlx_logging(false)` (statement logs drown test output). Adjust and pass to
    /// [`Database::connect`] for anything else.
    pub fn connect_options(&self) -> ConnectOptions {
        let mut options = ConnectOptions::new(self.url.clone());
        options
            .max_connections(DEFAULT_POOL_SIZE)
            .connect_timeout(CONNECT_TIMEOUT)
            .sqlx_logging(false);
        options
    }

    /// A pool of (at most) 5 connections to this database.
    ///
    /// # Panics
    ///
    /// When the database cannot be reached.
    pub async fn connect(&self) -> DatabaseConnection {
        self.connect_with_pool_size(DEFAULT_POOL_SIZE).await
    }

    /// A pool of at most `max_connections` connections to this database.
    ///
    /// # Panics
    ///
    /// When `max_connections` is zero or the database cannot be reached.
    pub async fn connect_with_pool_size(&self, max_connections: u32) -> DatabaseConnection {
        assert!(max_connections > 0, "a pool needs at least one connection");
        let mut options = self.connect_options();
        options.max_connections(max_connections);
        Database::connect(options).await.unwrap_or_else(|e| {
            panic!(
                "sea_tenancy::testing could not connect to test database {}: {e}",
                self.name
            )
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        let admin_url = self.admin_url;
        // Our own thread and runtime: the caller's runtime may be a current-thread one we must
        // not block, may be shutting down, or may not exist at all.
        let spawned = std::thread::Builder::new()
            .name("sea-tenancy-drop-db".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| HarnessError::io("could not build a tokio runtime", e))?;
                runtime.block_on(drop_database(admin_url, &name))
            });
        let outcome = match spawned {
            Ok(handle) => match handle.join() {
                Ok(result) => result,
                Err(_) => Err(HarnessError::Unsupported(
                    "the thread dropping the database panicked".into(),
                )),
            },
            Err(e) => Err(HarnessError::io("could not spawn a thread", e)),
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "could not drop a sea_tenancy::testing database");
        }
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), HarnessError> {
    let work = async {
        let admin = connect_admin(admin_url, CONNECT_TIMEOUT)
            .await
            .map_err(|e| HarnessError::db("could not connect to the test server", e))?;
        let quoted = quote_ident(name);
        let mut result = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
            .await;
        // `WITH (FORCE)` needs PostgreSQL 13; older servers get the same effect in two steps.
        if matches!(&result, Err(e) if e.to_string().contains("syntax error")) {
            let _ = admin
                .execute_unprepared(&format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                ))
                .await;
            result = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {quoted}"))
                .await;
        }
        if result.is_ok() {
            drop_roles_of(&admin, name).await;
        }
        let _ = admin.close().await;
        result.map_err(|e| HarnessError::db(format!("DROP DATABASE {name} failed"), e))?;
        tracing::debug!(database = %name, "dropped test database");
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .map_err(|_| HarnessError::Unsupported(format!("DROP DATABASE {name} timed out")))?
}

/// Drops the roles named after test database `name` (best effort: a role still holding
/// privileges in another live database stays until that one is dropped).
async fn drop_roles_of(admin: &DatabaseConnection, name: &str) {
    drop_roles(
        admin,
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT rolname::text AS name FROM pg_roles WHERE starts_with(rolname, $1)",
            [format!("{name}_").into()],
        ),
    )
    .await;
}

/// Drops roles of test databases that no longer exist (a test process killed before its
/// databases were dropped).
async fn drop_orphan_roles(admin: &DatabaseConnection) {
    drop_roles(
        admin,
        Statement::from_string(
            DbBackend::Postgres,
            "SELECT rolname::text AS name FROM pg_roles
              WHERE rolname ~ '^st_[0-9a-f]{16}_'
                AND NOT EXISTS (SELECT FROM pg_database d WHERE d.datname = left(rolname, 19))",
        ),
    )
    .await;
}

/// Drops every role `query` names (column `name`).
async fn drop_roles(admin: &DatabaseConnection, query: Statement) {
    let Ok(rows) = admin.query_all_raw(query).await else {
        return;
    };
    for row in rows {
        let Ok(role) = row.try_get::<String>("", "name") else {
            continue;
        };
        if let Err(e) = admin
            .execute_unprepared(&format!("DROP ROLE IF EXISTS {}", quote_ident(&role)))
            .await
        {
            tracing::debug!(role = %role, error = %e, "test role kept for now");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server resolution
// ---------------------------------------------------------------------------------------------

/// The resolved server, or the sentence to panic with; kept so later tests fail fast.
static SERVER: OnceCell<Result<String, String>> = OnceCell::const_new();

/// The admin URL of the server used for tests (to a maintenance database such as `postgres`),
/// resolved once per process and cached: `DATABASE_URL`, else the local server on
/// `127.0.0.1:5432`, else a shared throwaway cluster (see the [module docs](self)).
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

/// Connects with one connection and no statement logging; used for all admin work.
async fn connect_admin(url: &str, timeout: Duration) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .connect_timeout(timeout)
        .sqlx_logging(false);
    Database::connect(options).await
}

/// Succeeds when `url` accepts a connection and `SELECT 1` within `timeout`.
async fn probe(url: &str, timeout: Duration) -> Result<(), HarnessError> {
    let attempt = async {
        let conn = connect_admin(url, timeout).await?;
        let result = conn.execute_unprepared("SELECT 1").await;
        let _ = conn.close().await;
        result.map(|_| ())
    };
    match tokio::time::timeout(timeout + Duration::from_millis(500), attempt).await {
        Ok(result) => result.map_err(|e| HarnessError::db("connection failed", e)),
        Err(_) => Err(HarnessError::Unsupported(format!(
            "no answer within {} s",
            timeout.as_secs()
        ))),
    }
}

/// `url` with its database replaced by `database` (any `dbname=` query parameter, which would
/// override the path, is removed).
fn with_database(url: &str, database: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let path_end = url[authority_end..]
        .find(['?', '#'])
        .map_or(url.len(), |i| authority_end + i);
    let mut out = format!("{}/{database}", &url[..authority_end]);
    if let Some(query) = url[path_end..].strip_prefix('?') {
        let query = query.split('#').next().unwrap_or_default();
        let kept: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("dbname="))
            .collect();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
    }
    out
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

// ---------------------------------------------------------------------------------------------
// Throwaway clusters
// ---------------------------------------------------------------------------------------------

fn cluster_admin_url(port: u16) -> String {
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
            init_cluster(&bin, &runner, &data).await?;
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
    init_cluster(bin, runner, &data).await?;
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

/// Creates `data` owned by the user the server runs as and runs `initdb` in it.
async fn init_cluster(bin: &PgBin, runner: &Runner, data: &Path) -> Result<(), HarnessError> {
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
    let settings = format!(
        "\n# Added by sea_tenancy::testing: a throwaway cluster for tests; its data is disposable.\n\
         listen_addresses = '127.0.0.1'\n\
         unix_socket_directories = '{}'\n\
         max_connections = 200\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n",
        data.display()
    );
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
async fn start_server(
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

fn stop_args<'a>(data: &'a Path, mode: &'a str) -> [&'a OsStr; 7] {
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
async fn wait_until_ready(port: u16) -> Result<String, HarnessError> {
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

/// Records this process as a user of the cluster in `state`: the watchdog keeps the server
/// running while any recorded process is alive.
fn register_process(state: &Path) -> Result<(), HarnessError> {
    let users = state.join("users");
    fs::create_dir_all(&users)
        .and_then(|()| fs::write(users.join(std::process::id().to_string()), b""))
        .map_err(|e| HarnessError::io(format!("could not register in {}", users.display()), e))
}

/// The watchdog: `sh` polling once a second. It runs as the invoking user (so it may check
/// the registered pids with `kill -0` and delete the directory) and stops the server through
/// the same privilege drop as every other `pg_ctl` call.
///
/// Once no registered process has been alive for `grace` seconds it takes the lock, checks
/// again, stops the server and exits. It also exits when the server it has seen running is
/// gone (stopped by [`stop_throwaway_cluster`] or by hand), and when the server never came up
/// and its process died (after 5 seconds, for an `initdb`/`pg_ctl` that process left running).
///
/// Arguments: state dir, data dir, grace seconds, 1 to delete the state dir on exit, then the
/// `pg_ctl` command (with its privilege-drop prefix).
const WATCHDOG_SCRIPT: &str = r#"
state=$1 data=$2 grace=$3 remove=$4
shift 4
busy() {
  found=1
  for f in "$state"/users/*; do
    [ -e "$f" ] || continue
    if kill -0 "${f##*/}" 2>/dev/null; then found=0; else rm -f "$f"; fi
  done
  return $found
}
finish() {
  # Retried: an initdb left running by a killed process may still be writing into it.
  n=0
  while [ "$remove" = 1 ] && [ -e "$state" ] && [ "$n" -lt 30 ]; do
    rm -rf "$state" 2>/dev/null || sleep 1
    n=$((n + 1))
  done
  exit 0
}
seen=0
idle=0
while sleep 1; do
  if [ -f "$data/postmaster.pid" ]; then
    seen=1
  elif [ "$seen" = 1 ]; then
    finish
  fi
  if busy; then idle=0; continue; fi
  idle=$((idle + 1))
  if [ "$seen" = 0 ]; then
    [ "$idle" -ge 5 ] || continue
    [ -f "$data/postmaster.pid" ] && continue
    finish
  fi
  [ "$idle" -ge "$grace" ] || continue
  exec 9>>"$state/lock"
  flock 9 2>/dev/null
  if busy; then exec 9>&-; idle=0; continue; fi
  "$@" stop --pgdata "$data" --mode fast --wait --silent >/dev/null 2>&1
  finish
done
"#;

fn spawn_watchdog(
    state: &Path,
    data: &Path,
    grace_secs: u32,
    remove: bool,
    runner: &Runner,
    bin: &PgBin,
) -> Result<(), HarnessError> {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(WATCHDOG_SCRIPT)
        .arg("sea-tenancy-watchdog")
        .arg(state)
        .arg(data)
        .arg(grace_secs.to_string())
        .arg(if remove { "1" } else { "0" })
        .args(&runner.prefix)
        .arg(bin.pg_ctl())
        .current_dir("/")
        // Holding our stdout/stderr open would stall anything reading the test output.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd
        .spawn()
        .map_err(|e| HarnessError::io("could not start the cluster watchdog", e))?;
    // Not waited for: it outlives this process on purpose.
    fs::write(state.join("watchdog.pid"), child.id().to_string())
        .map_err(|e| HarnessError::io("could not record the watchdog pid", e))
}

fn watchdog_alive(state: &Path) -> bool {
    let Some(pid) = fs::read_to_string(state.join("watchdog.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
    else {
        return false;
    };
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The directory holding `initdb` and `pg_ctl`.
struct PgBin {
    dir: PathBuf,
}

impl PgBin {
    fn initdb(&self) -> PathBuf {
        self.dir.join("initdb")
    }

    fn pg_ctl(&self) -> PathBuf {
        self.dir.join("pg_ctl")
    }
}

/// `PATH` first (an explicit choice), then `/usr/lib/postgresql/<version>/bin`, newest first.
fn find_pg_bin() -> Result<PgBin, HarnessError> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    let mut versioned: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(|part| part.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versioned.sort_by(|a, b| b.0.cmp(&a.0));
    candidates.extend(versioned.into_iter().map(|(_, dir)| dir));
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .map(|dir| PgBin { dir })
        .ok_or(HarnessError::NoBinaries)
}

/// How PostgreSQL binaries are run: directly, or — when we are root, which they refuse — as
/// `nobody` through a privilege-dropping prefix.
struct Runner {
    prefix: Vec<OsString>,
    /// The uid and gid the binaries run as, when not ours.
    ids: Option<(u32, u32)>,
}

impl Runner {
    fn detect() -> Result<Runner, HarnessError> {
        if current_euid()? != 0 {
            return Ok(Runner {
                prefix: Vec::new(),
                ids: None,
            });
        }
        let uid = id_of(UNPRIVILEGED_USER, "-u")?;
        let gid = id_of(UNPRIVILEGED_USER, "-g")?;
        // `setpriv` only switches ids (no PAM session); `runuser` is the common alternative.
        let prefix: Vec<OsString> = if let Some(setpriv) = find_program("setpriv") {
            vec![
                setpriv.into(),
                format!("--reuid={uid}").into(),
                format!("--regid={gid}").into(),
                "--clear-groups".into(),
                "--".into(),
            ]
        } else if let Some(runuser) = find_program("runuser") {
            vec![
                runuser.into(),
                "-u".into(),
                UNPRIVILEGED_USER.into(),
                "--".into(),
            ]
        } else {
            return Err(HarnessError::Unsupported(
                "PostgreSQL refuses to run as root, and neither `setpriv` nor `runuser` is \
                 available to run it as nobody"
                    .into(),
            ));
        };
        Ok(Runner {
            prefix,
            ids: Some((uid, gid)),
        })
    }

    fn command(&self, program: &Path) -> tokio::process::Command {
        let mut cmd = match self.prefix.split_first() {
            Some((first, rest)) => {
                let mut cmd = tokio::process::Command::new(first);
                cmd.args(rest).arg(program);
                cmd
            }
            None => tokio::process::Command::new(program),
        };
        // `/` is readable by `nobody`; our working directory may not be.
        cmd.current_dir("/")
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .stdin(Stdio::null());
        // Its own process group: the server pg_ctl starts inherits it and so does not receive
        // the Ctrl-C meant for `cargo test`.
        #[cfg(unix)]
        cmd.process_group(0);
        cmd
    }
}

/// Runs `program args` through `runner`, returning its output or a [`HarnessError::Command`].
async fn run(runner: &Runner, program: &Path, args: &[&OsStr]) -> Result<String, HarnessError> {
    let mut cmd = runner.command(program);
    cmd.args(args);
    let shown = || {
        let mut line = runner
            .prefix
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        line.push(program.display().to_string());
        line.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
        line.join(" ")
    };
    let output = cmd
        .output()
        .await
        .map_err(|e| HarnessError::io(format!("could not run `{}`", shown()), e))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(HarnessError::Command {
            command: shown(),
            status: output.status.to_string(),
            output: tail(&text, 1500).to_owned(),
        })
    }
}

/// The last `max` bytes of `text` (on a char boundary), trimmed.
fn tail(text: &str, max: usize) -> &str {
    let text = text.trim();
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn free_port() -> Result<u16, HarnessError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| HarnessError::io("could not find a free port", e))
}

/// Looks for an executable on `PATH` and in the usual system directories (`runuser` lives in
/// `/usr/sbin`, which is not always on `PATH`).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The effective uid: from `/proc/self/status` on Linux, else `id -u`.
fn current_euid() -> Result<u32, HarnessError> {
    if let Ok(status) = fs::read_to_string("/proc/self/status")
        && let Some(euid) = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|euid| euid.parse().ok())
    {
        return Ok(euid);
    }
    id_of_args(&["-u"])
}

fn id_of(user: &str, flag: &str) -> Result<u32, HarnessError> {
    id_of_args(&[flag, user])
}

fn id_of_args(args: &[&str]) -> Result<u32, HarnessError> {
    let output = std::process::Command::new("id")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| HarnessError::io("could not run `id`", e))?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|_| HarnessError::Unsupported(format!("`id {}` failed", args.join(" "))))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), HarnessError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| HarnessError::io(format!("could not chmod {}", path.display()), e))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), HarnessError> {
    Ok(())
}

#[cfg(unix)]
fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), HarnessError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|e| HarnessError::io(format!("could not chown {}", path.display()), e))
}

#[cfg(not(unix))]
fn chown(_path: &Path, _uid: u32, _gid: u32) -> Result<(), HarnessError> {
    Ok(())
}

#[cfg(unix)]
fn owner_uid(meta: &fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    Some(meta.uid())
}

#[cfg(not(unix))]
fn owner_uid(_meta: &fs::Metadata) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn database_exists(name: &str) -> bool {
        let admin = connect_admin(server_url().await, CONNECT_TIMEOUT)
            .await
            .unwrap();
        let row = admin
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT count(*) AS n FROM pg_database WHERE datname = $1",
                [name.into()],
            ))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get("", "n").unwrap();
        admin.close().await.unwrap();
        n == 1
    }

    async fn select_one(conn: &DatabaseConnection) -> i32 {
        let row = conn
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT 1 AS one",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "one").unwrap()
    }

    #[tokio::test]
    async fn two_databases_have_different_names_and_both_answer() {
        let a = TestDatabase::create().await;
        let b = TestDatabase::create().await;
        assert_ne!(a.name(), b.name());
        for db in [&a, &b] {
            assert!(db.name().starts_with("st_"), "{}", db.name());
            assert!(
                db.url().ends_with(&format!("/{}", db.name())),
                "{}",
                db.url()
            );
            let conn = db.connect().await;
            assert_eq!(select_one(&conn).await, 1);
            let current = conn
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT current_database() AS db",
                ))
                .await
                .unwrap()
                .unwrap()
                .try_get::<String>("", "db")
                .unwrap();
            assert_eq!(current, db.name());
        }
    }

    #[tokio::test]
    async fn dropping_removes_the_database_even_with_open_connections() {
        let db = TestDatabase::create().await;
        let name = db.name().to_owned();
        assert!(database_exists(&name).await);
        // A pool still open when the database is dropped: `WITH (FORCE)` must cope.
        let conn = db.connect_with_pool_size(2).await;
        assert_eq!(select_one(&conn).await, 1);
        drop(db);
        assert!(!database_exists(&name).await, "{name} survived its drop");
        assert!(
            conn.ping().await.is_err(),
            "the forced drop ends open sessions"
        );
    }

    #[test]
    fn drop_works_without_a_runtime() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let db = runtime.block_on(TestDatabase::create());
        let name = db.name().to_owned();
        drop(runtime);
        drop(db); // no runtime here at all
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert!(!runtime.block_on(database_exists(&name)));
    }

    #[test]
    fn with_database_replaces_only_the_database() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/app", "postgres"),
            "postgres://u:p@h:5432/postgres"
        );
        assert_eq!(
            with_database("postgres://u@h", "st_1"),
            "postgres://u@h/st_1"
        );
        assert_eq!(
            with_database("postgres://u@h/app?sslmode=disable&dbname=x", "st_1"),
            "postgres://u@h/st_1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql:///app?host=/var/run/postgresql", "st_1"),
            "postgresql:///st_1?host=/var/run/postgresql"
        );
    }

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

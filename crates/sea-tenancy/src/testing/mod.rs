//! A throwaway-PostgreSQL harness for tests: one fresh database per test, [`TestApp`]: an
//! app's migrated database with tenants made the way production makes them, and
//! [`MigratorsApp`]: a `TenancyApp` made of two migration sets, for tests that need a variant
//! of their app.
//!
//! Always compiled (no feature to enable): a feature would give `cargo test` a build of
//! sea-tenancy, and of every crate depending on it, separate from `cargo build`'s. The module
//! needs no dependency feature the rest of the crate lacks, and what a binary does not call is
//! not linked into it.
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

use std::time::Duration;

use sea_orm::DbErr;

// One layer per file, listed bottom up; each uses only layers listed before it:
//
// * `process`: finding `initdb`/`pg_ctl` and running them (as `nobody` when we are root),
//   ports, ids and file modes.
// * `watchdog`: the `sh` watchdog that stops a cluster once no process using it is alive.
// * `connect`: admin connections, probes and URL rewriting.
// * `cluster`: starting and stopping throwaway clusters; its building blocks are
//   `pub(crate)`, for clusters that need extra settings or extensions.
// * `server`: which server the tests use (`server_url`), including the shared cluster.
// * `database`: `TestDatabase`, one fresh database per test.
// * `app`: `TestApp`, an app's migrated database with tenants, on a `TestDatabase`.
// * `migrators_app`: `MigratorsApp`, a `TenancyApp` made of two migration sets, for tests and
//   benchmarks (independent of the layers above).
// * `citus`: Citus clusters (a coordinator and workers, each a throwaway cluster) and their
//   databases.
mod app;
mod citus;
mod cluster;
mod connect;
mod database;
mod migrators_app;
mod process;
mod server;
mod watchdog;

pub use app::TestApp;
pub use citus::CitusCluster;
pub use cluster::{
    ClusterAuth, start_throwaway_cluster, start_throwaway_cluster_with, stop_throwaway_cluster,
};
pub use database::TestDatabase;
pub use migrators_app::{FindTenants, MigratorsApp, THROWAWAY_SECRET};
pub use server::server_url;

/// How long the local server gets to answer before we look elsewhere.
const LOCAL_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a server we were told to use (`DATABASE_URL`) or started ourselves gets to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where throwaway clusters live. Not `std::env::temp_dir()`: the unix socket goes in the data
/// directory and socket paths must stay short (about 100 bytes).
const CLUSTER_ROOT: &str = "/tmp";

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

/// Helpers shared by the unit tests of the submodules.
#[cfg(test)]
mod test_support {
    use sea_orm::{ConnectionTrait, DatabaseConnection};

    pub(super) async fn select_one(conn: &DatabaseConnection) -> i32 {
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
}

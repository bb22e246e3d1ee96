//! Throwaway Citus clusters: a coordinator and workers, each a throwaway PostgreSQL cluster with
//! the Citus extension preloaded, on loopback.
//!
//! The Citus extension must be installed in the local PostgreSQL (the repository's
//! `.ci/citus/install.sh` does it for PostgreSQL 15); [`CitusCluster::start`] says so when it is
//! not. Nodes run with `wal_level = logical` (so that `citus_schema_move` can move a tenant
//! online) and `synchronous_commit = on` (an online move under `off` was seen to lose
//! acknowledged writes); like every throwaway cluster they stop when the test process ends.

use sea_orm::ConnectionTrait;

use super::cluster::{start_throwaway_cluster_configured, stop_throwaway_cluster};
use super::connect::{connect_admin, with_database};
use super::database::TestDatabase;
use super::process::find_pg_bin;
use super::{CONNECT_TIMEOUT, ClusterAuth, HarnessError};

/// The settings every node gets.
const NODE_CONF: &[&str] = &[
    "shared_preload_libraries = 'citus'",
    "wal_level = logical",
    "synchronous_commit = on",
    "max_wal_senders = 20",
    "max_replication_slots = 20",
    // Citus runs a maintenance daemon (a background worker) per database on every node; with
    // the default 8 workers, a dozen test databases leave none for the logical replication
    // that moves a tenant, and the move waits forever.
    "max_worker_processes = 64",
    "max_logical_replication_workers = 16",
    "citus.shard_count = 8",
    // The servers run as `nobody` with the caller's HOME; without this, libpq inside Citus looks
    // for client certificates there and fails on permissions (loopback needs no TLS).
    "citus.node_conninfo = 'sslmode=disable'",
];

/// A running Citus cluster: a coordinator and its workers.
#[derive(Debug)]
pub struct CitusCluster {
    /// The admin URL of the coordinator (`.../postgres`).
    coordinator: &'static str,
    /// The admin URLs of the workers.
    workers: Vec<String>,
    /// Databases are created one at a time: registering workers in several new databases at
    /// once was seen to fail (`failure on connection marked as essential`).
    creating: tokio::sync::Mutex<()>,
}

impl CitusCluster {
    /// Starts a coordinator and `workers` workers.
    ///
    /// # Errors
    ///
    /// When Citus is not installed (with the command that installs it), or a node does not
    /// start.
    pub async fn start(workers: usize) -> Result<CitusCluster, HarnessError> {
        require_citus()?;
        let coordinator = start_throwaway_cluster_configured(ClusterAuth::Trust, NODE_CONF).await?;
        let mut started = Vec::new();
        for _ in 0..workers {
            match start_throwaway_cluster_configured(ClusterAuth::Trust, NODE_CONF).await {
                Ok(url) => started.push(url),
                Err(e) => {
                    for url in started.iter().chain([&coordinator]) {
                        let _ = stop_throwaway_cluster(url).await;
                    }
                    return Err(e);
                }
            }
        }
        Ok(CitusCluster {
            // One per cluster, for `TestDatabase`s that outlive any borrow of the cluster.
            coordinator: Box::leak(coordinator.into_boxed_str()),
            workers: started,
            creating: tokio::sync::Mutex::new(()),
        })
    }

    /// The coordinator's admin URL.
    pub fn coordinator(&self) -> &str {
        self.coordinator
    }

    /// The workers' `(host, port)`, as Citus names them.
    pub fn workers(&self) -> Vec<(String, u16)> {
        self.workers
            .iter()
            .map(|url| ("127.0.0.1".to_owned(), port_of(url)))
            .collect()
    }

    /// A fresh database on every node with the Citus extension, the workers registered with
    /// the coordinator, schema-based sharding on: dropped from the coordinator when the value
    /// is dropped (the workers' copies go with the cluster).
    pub async fn create_database(&self) -> Result<TestDatabase, HarnessError> {
        let _one_at_a_time = self.creating.lock().await;
        let database = TestDatabase::create_on(self.coordinator).await?;
        let name = database.name().to_owned();
        for worker in &self.workers {
            let admin = connect_admin(worker, CONNECT_TIMEOUT)
                .await
                .map_err(|e| HarnessError::db("could not connect to a worker", e))?;
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .map_err(|e| HarnessError::db(format!("CREATE DATABASE {name} on a worker"), e))?;
            let _ = admin.close().await;
            let db = connect_admin(&with_database(worker, &name), CONNECT_TIMEOUT)
                .await
                .map_err(|e| HarnessError::db("could not connect to a worker", e))?;
            db.execute_unprepared("CREATE EXTENSION citus")
                .await
                .map_err(|e| HarnessError::db("CREATE EXTENSION citus on a worker", e))?;
            let _ = db.close().await;
        }
        let coordinator = connect_admin(database.url(), CONNECT_TIMEOUT)
            .await
            .map_err(|e| HarnessError::db("could not connect to the coordinator", e))?;
        let mut setup = vec![
            "CREATE EXTENSION citus".to_owned(),
            format!(
                "SELECT citus_set_coordinator_host('127.0.0.1', {})",
                port_of(self.coordinator)
            ),
        ];
        for worker in &self.workers {
            setup.push(format!(
                "SELECT citus_add_node('127.0.0.1', {})",
                port_of(worker)
            ));
        }
        setup.push(format!(
            "ALTER DATABASE \"{name}\" SET citus.enable_schema_based_sharding = on"
        ));
        for statement in setup {
            coordinator
                .execute_unprepared(&statement)
                .await
                .map_err(|e| HarnessError::db(format!("{statement} on the coordinator"), e))?;
        }
        let _ = coordinator.close().await;
        Ok(database)
    }

    /// Stops every node and deletes their directories.
    pub async fn stop(self) -> Result<(), HarnessError> {
        for url in self
            .workers
            .iter()
            .map(String::as_str)
            .chain([self.coordinator])
        {
            stop_throwaway_cluster(url).await?;
        }
        Ok(())
    }
}

/// The port of a `postgres://postgres@127.0.0.1:<port>/...` URL.
fn port_of(url: &str) -> u16 {
    url.rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next()?.parse().ok())
        .expect("a throwaway cluster URL has a port")
}

/// Fails with the installation command when the local PostgreSQL lacks the Citus extension.
fn require_citus() -> Result<(), HarnessError> {
    let bin = find_pg_bin()?;
    // `initdb` may be a link (e.g. in /usr/local/bin): the library sits beside the real one.
    let initdb = std::fs::canonicalize(bin.initdb()).unwrap_or_else(|_| bin.initdb());
    let lib = initdb
        .parent()
        .and_then(|dir| dir.parent())
        .map(|p| p.join("lib").join("citus.so"))
        .filter(|p| p.is_file());
    if lib.is_some() {
        return Ok(());
    }
    Err(HarnessError::Unsupported(format!(
        "the Citus extension is not installed for the PostgreSQL in {}: run `bash .ci/citus/install.sh` (as root) from the repository",
        bin.dir().display()
    )))
}

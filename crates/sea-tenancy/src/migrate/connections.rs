//! The connections the pipelined runner (`pipelined`) migrates tenants on: the app's pool for
//! one tenant, and for a run over many, connections of the run's own that are replaced every
//! [`RECYCLE_AFTER`] tenants.
//!
//! Why replace them: on PostgreSQL 15 a connection's caches grow with every tenant it touches
//! (relation and type cache entries for each tenant's tables), and every DDL anywhere in the
//! database sends invalidation messages that each connection then processes by walking those
//! caches (`TypeCacheRelCallback` scans the whole type cache per message). A connection that
//! has migrated thousands of tenants spends most of its time there, so migrating grows
//! quadratic. Measured on 10,000 tenants: one `psql` connection slowed from 3.0 s to 6.8 s per
//! 500 tenants; a fresh connection per 500 stayed at 2.9 s. A fresh connection costs a few
//! milliseconds, against ~100 tenants' worth of migrating per connection before it is replaced.

use std::sync::{Arc, Mutex};

use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
use sea_orm::sqlx::{self, AssertSqlSafe, Connection, PgPool, Postgres};
use sea_orm::{DatabaseConnection, DatabaseConnectionType, DbErr, RuntimeErr};

/// Tenants a run's connection migrates before it is closed and replaced.
pub(crate) const RECYCLE_AFTER: usize = 100;

/// The sqlx pool under `db`, when it is one (not a mock or proxy connection).
pub(crate) fn pool(db: &DatabaseConnection) -> Option<&PgPool> {
    matches!(
        db.inner,
        DatabaseConnectionType::SqlxPostgresPoolConnection(_)
    )
    .then(|| db.get_postgres_connection_pool())
}

/// Connections of one run over many tenants, opened with the options of the app's pool.
pub(crate) struct RunConnections {
    options: Arc<PgConnectOptions>,
    idle: Mutex<Vec<(PgConnection, usize)>>,
}

impl RunConnections {
    /// For a run on `db`; `None` when it is not a PostgreSQL pool.
    pub(crate) fn of(db: &DatabaseConnection) -> Option<Self> {
        Some(Self {
            options: pool(db)?.connect_options(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Closes the idle connections (the run is over).
    pub(crate) async fn close(&self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for (conn, _) in idle {
            let _ = conn.close().await;
        }
    }
}

/// Where a connection comes from.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    /// The app's pool (one tenant).
    Pool(&'a PgPool),
    /// A run's own connections.
    Run(&'a RunConnections),
}

impl Source<'_> {
    /// A connection, outside any transaction.
    pub(crate) async fn lease(self) -> Result<Open, DbErr> {
        let conn_err = |e: sqlx::Error| DbErr::Conn(RuntimeErr::SqlxError(e.into()));
        let lease = match self {
            Source::Pool(pool) => Lease::Pooled(pool.acquire().await.map_err(conn_err)?),
            Source::Run(run) => {
                let idle = run.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
                match idle {
                    Some((conn, uses)) => Lease::Own(conn, uses),
                    None => Lease::Own(
                        PgConnection::connect_with(&run.options)
                            .await
                            .map_err(conn_err)?,
                        0,
                    ),
                }
            }
        };
        Ok(Open(Some(lease)))
    }

    /// Takes back a connection whose transaction ended (committed or rolled back).
    pub(crate) async fn release(self, mut open: Open) {
        match (open.0.take(), self) {
            (Some(Lease::Own(conn, uses)), Source::Run(run)) if uses + 1 < RECYCLE_AFTER => {
                let mut idle = run.idle.lock().unwrap_or_else(|e| e.into_inner());
                idle.push((conn, uses + 1));
            }
            (Some(Lease::Own(conn, _)), _) => {
                let _ = conn.close().await;
            }
            // Back to the pool.
            (Some(Lease::Pooled(conn)), _) => drop(conn),
            (None, _) => {}
        }
    }
}

enum Lease {
    Pooled(PoolConnection<Postgres>),
    Own(PgConnection, usize),
}

/// A leased connection that may be inside a transaction: dropped while it holds one (the
/// future was cancelled), it is closed (the server rolls back) instead of going back to the
/// pool or the run, so nobody is ever handed a connection inside a transaction.
pub(crate) struct Open(Option<Lease>);

impl Open {
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        match self
            .0
            .as_mut()
            .expect("the connection is held until released")
        {
            Lease::Pooled(conn) => conn,
            Lease::Own(conn, _) => conn,
        }
    }

    /// Ends a failed transaction; a connection that cannot is closed.
    pub(crate) async fn rollback(&mut self) {
        let failed = sqlx::raw_sql(AssertSqlSafe("ROLLBACK"))
            .execute(&mut *self.conn())
            .await
            .is_err();
        if failed {
            self.discard();
        }
    }

    fn discard(&mut self) {
        match self.0.take() {
            Some(Lease::Pooled(mut conn)) => conn.close_on_drop(),
            // Dropping the connection closes its socket.
            Some(Lease::Own(..)) | None => {}
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.discard();
    }
}

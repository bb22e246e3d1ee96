//! [`TestDatabase`]: a fresh database per test, and dropping it again together with the roles
//! the test created.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};

use super::connect::{connect_admin, with_database};
use super::server::server_url;
use super::{CONNECT_TIMEOUT, HarnessError};

/// Pool size of [`TestDatabase::connect`].
const DEFAULT_POOL_SIZE: u32 = 5;

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

    pub(super) async fn create_on(admin_url: &'static str) -> Result<TestDatabase, HarnessError> {
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

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_support::select_one;

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
}

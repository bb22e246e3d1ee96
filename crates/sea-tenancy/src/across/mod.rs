//! Queries across tenants: one ordinary SeaORM `Select` run over many tenants (or all), in a
//! few statements, each row tagged with its tenant — for reports, admin dashboards, billing.
//!
//! ```no_run
//! # async fn demo(app: &impl sea_tenancy::TenancyApp, url: &str) -> Result<(), sea_tenancy::across::AcrossError> {
//! use sea_tenancy::across::Across;
//! // Logged in as a reporting login (`<app> roles reporting create reports`), never a tenant.
//! let across = Across::connect(app, url, "reports").await?;
//! # let _ = across; Ok(()) }
//! ```
//!
//! See `README.md`, "Queries across tenants", for a full example with its numbers.
//!
//! **Who may.** A tenant connection reaches one schema; the global connection none. Reading
//! many is the business of a *reporting login* ([`crate::roles::reporting`]): a member of
//! `<ns>_reporting` only, which may `SELECT` and nothing else. [`Across`] is built on such a
//! connection and checks at construction that it is one (no superuser, no tenant role, no other
//! membership): the type takes a plain `DatabaseConnection`, so a `TenantConnection` does not
//! compile, and a pool logged in as a tenant role, the global role or the owner is refused.
//!
//! **How.** [`Across::select`] takes the `Select` and the tenants; see [`AcrossSelect`] and
//! `sql` for the statements: `UNION ALL` of the tenants' queries, `chunk_size` tenants per
//! statement (50 by default, chosen by `benches/across.rs`).

mod error;
mod placed;
mod select;
mod sql;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, EntityTrait, Select,
    Statement,
};
use std::sync::Arc;

pub use error::AcrossError;
pub use placed::AcrossPlaced;
pub use select::AcrossSelect;

use crate::app::{TenancyApp, names_for};
use crate::error::TenancyError;
use crate::registry::Registry;
use crate::roles::{LoginSecret, RoleNames, check_login};
use crate::tenant::Tenant;

/// Tenants per statement unless [`Across::chunk_size`] says otherwise: chosen by
/// `benches/across.rs` (README "Queries across tenants"). PostgreSQL's planning time grows
/// faster than the number of branches of one statement: at 1,000 tenants, two statements in
/// flight, chunks of 25–50 took 77–120 ms, of 1,000 (one statement) 139–210 ms.
pub const DEFAULT_CHUNK_SIZE: usize = 50;

/// Statements in flight at once unless [`Across::parallelism`] says otherwise.
pub const DEFAULT_PARALLELISM: usize = 2;

/// Runs `Select`s across tenants on a reporting login. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Across {
    db: DatabaseConnection,
    registry: Arc<Registry>,
    chunk_size: usize,
    parallelism: usize,
}

impl Across {
    /// Wraps `reporting`, a connection logged in as a reporting login of the app whose roles
    /// are `names`, after checking that it is one: a member of `<ns>_reporting` and of nothing
    /// else, without `SUPERUSER`, `BYPASSRLS` or other attributes. Anything else — a tenant
    /// role, the global role, the owner — is [`AcrossError::NotReporting`], naming the fix.
    pub async fn new(
        reporting: DatabaseConnection,
        names: &RoleNames,
    ) -> Result<Self, AcrossError> {
        let row = reporting
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT current_user::text AS me,
                        EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1)
                          AND pg_has_role(current_user, $1, 'MEMBER') AS reporting",
                [names.reporting().into()],
            ))
            .await?
            .ok_or_else(|| sea_orm::DbErr::RecordNotFound("current_user".to_owned()))?;
        let me: String = row.try_get("", "me")?;
        check_login(&reporting, &me, Some(names.reporting()))
            .await
            .map_err(AcrossError::NotReporting)?;
        let is_reporting: bool = row.try_get("", "reporting")?;
        if !is_reporting {
            return Err(AcrossError::NotReporting(TenancyError::UnsafeLogin {
                role: me.clone(),
                problem: format!("it is not a member of `{}`", names.reporting()),
                fix: format!(
                    "log in as a reporting login: `<app> roles reporting create NAME` (or `GRANT \"{}\" TO \"{me}\"`)",
                    names.reporting()
                ),
            }));
        }
        Ok(Self {
            db: reporting,
            registry: Registry::global().map_err(TenancyError::from)?,
            chunk_size: DEFAULT_CHUNK_SIZE,
            parallelism: DEFAULT_PARALLELISM,
        })
    }

    /// Logs in as the reporting login `login` to the database of `options` (the owner's URL:
    /// only its user and password are replaced, by `login` and the password the app's login
    /// secret derives for it), with `search_path` `public`, then [`Across::new`].
    pub async fn connect<A: TenancyApp + ?Sized>(
        app: &A,
        options: impl Into<ConnectOptions>,
        login: &str,
    ) -> Result<Self, AcrossError> {
        let (across, _) =
            Self::connect_with(app, &app.login_secret()?, options.into(), login).await?;
        Ok(across)
    }

    /// [`connect`](Self::connect) with the secret given; also returns the app's role names in
    /// that database.
    pub(super) async fn connect_with<A: TenancyApp + ?Sized>(
        app: &A,
        secret: &LoginSecret,
        options: ConnectOptions,
        login: &str,
    ) -> Result<(Self, RoleNames), AcrossError> {
        let db = self::login(secret, options, login).await?;
        let database: String = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT current_database()::text AS name",
            ))
            .await?
            .ok_or_else(|| sea_orm::DbErr::RecordNotFound("current_database()".to_owned()))?
            .try_get("", "name")?;
        let names = names_for(app, &database)?;
        Ok((Self::new(db, &names).await?, names))
    }

    /// Tenants per statement (at least 1).
    pub fn chunk_size(mut self, tenants: usize) -> Self {
        self.chunk_size = tenants.max(1);
        self
    }

    /// Statements in flight at once (at least 1; bounded by the pool's size too).
    pub fn parallelism(mut self, statements: usize) -> Self {
        self.parallelism = statements.max(1);
        self
    }

    /// Uses `registry` instead of the entities registered by `#[derive(Multitenant)]`.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Arc::new(registry);
        self
    }

    /// The reporting connection (for plain reads of global tables).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// `select` over `tenants` (all of the app's, e.g. from `TenancyApp::all_tenants`, or a
    /// subset). Nothing runs until one of [`AcrossSelect`]'s methods is awaited.
    pub fn select<'a, E: EntityTrait>(
        &'a self,
        tenants: &'a [Tenant],
        select: Select<E>,
    ) -> AcrossSelect<'a, E> {
        AcrossSelect::new(self, tenants, select)
    }
}

/// Connects as the reporting login `login`, at the database of `options` (the owner's URL:
/// only its user and password are replaced, by `login` and the password `secret` derives for
/// it), with `search_path` `public`.
async fn login(
    secret: &LoginSecret,
    mut options: ConnectOptions,
    login: &str,
) -> Result<DatabaseConnection, AcrossError> {
    let password = secret.password(login);
    options.map_sqlx_postgres_opts({
        let login = login.to_owned();
        move |o| {
            o.username(&login)
                .password(&password)
                .options([("search_path", "public")])
        }
    });
    Ok(Database::connect(options).await?)
}

//! [`TenancyBuilder`]: how a [`Tenancy`] logs in.

use std::sync::Arc;

use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::{ConnectOptions, Database, DbErr};

use super::{Shared, Tenancy};
use crate::error::TenancyError;
use crate::logins::{LoginLimits, Logins};
use crate::placement::{Placement, mask, sqlstate};
use crate::registry::{Registry, RegistryError};
use crate::roles::{LoginSecret, RoleNames, check_login};

/// Builds a [`Tenancy`]: `Tenancy::builder(url).secret(..).connect().await`.
#[derive(Debug)]
pub struct TenancyBuilder {
    options: ConnectOptions,
    secret: Option<LoginSecret>,
    names: Option<RoleNames>,
    registry: Option<Result<Arc<Registry>, RegistryError>>,
    limits: LoginLimits,
    placement: Option<Placement>,
}

impl TenancyBuilder {
    pub(super) fn new(options: ConnectOptions) -> Self {
        Self {
            options,
            secret: None,
            names: None,
            registry: None,
            limits: LoginLimits::default(),
            placement: None,
        }
    }

    /// Takes the login secret and role namespace from `app` ([`crate::TenancyApp`]).
    pub fn app<A: crate::TenancyApp>(mut self, app: &A) -> Result<Self, TenancyError> {
        self.secret = Some(app.login_secret()?);
        if let Some(ns) = app.role_namespace() {
            self.names = Some(RoleNames::new(ns)?);
        }
        Ok(self)
    }

    /// The secret role passwords are derived from (default: [`LoginSecret::from_env`]).
    pub fn secret(mut self, secret: LoginSecret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// The role names (default: derived from the database name, see [`RoleNames`]).
    pub fn role_names(mut self, names: RoleNames) -> Self {
        self.names = Some(names);
        self
    }

    /// Routes by `registry` instead of every `#[derive(Multitenant)]` entity of the program.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(Ok(Arc::new(registry)));
        self
    }

    /// Bounds of the tenant logins.
    pub fn logins(mut self, limits: LoginLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Routes each tenant to the database the catalog places it in (see
    /// [`crate::placement`]). Statements that name a multitenant table go to the tenant's
    /// database; statements on global tables only use the default database.
    pub fn placement(mut self, placement: Placement) -> Self {
        self.placement = Some(placement);
        self
    }

    /// Opens the global role's pool and checks that it holds no more than it should. Tenant
    /// connections open later, on each tenant's first statement.
    pub async fn connect(self) -> Result<Tenancy, TenancyError> {
        let secret = match self.secret {
            Some(secret) => secret,
            None => LoginSecret::from_env()?,
        };
        let names = match self.names {
            Some(names) => names,
            None => RoleNames::for_database(&database_name(&self.options)?),
        };
        let role = names.global().to_owned();
        let password = secret.password(&role);
        let mut options = self.options.clone();
        options.map_sqlx_postgres_opts({
            let role = role.clone();
            move |o| o.username(&role).password(&password)
        });
        let global = Database::connect(options)
            .await
            .map_err(|e| global_login_error(e, &role))?;
        check_login(&global, &role, None).await?;
        Ok(Tenancy {
            shared: Arc::new(Shared {
                global,
                logins: Logins::new(self.options, names, secret, self.limits),
                registry: self.registry.unwrap_or_else(Registry::global),
                placement: self.placement,
            }),
        })
    }
}

/// The database `options` connect to (PostgreSQL's default: the user's name).
fn database_name(options: &ConnectOptions) -> Result<String, TenancyError> {
    let parsed: PgConnectOptions =
        options
            .get_url()
            .parse()
            .map_err(|e: sea_orm::sqlx::Error| {
                TenancyError::Db(DbErr::Custom(format!(
                    "sea-tenancy: invalid connection URL: {}",
                    mask(&e.to_string())
                )))
            })?;
    Ok(parsed
        .get_database()
        .unwrap_or(parsed.get_username())
        .to_owned())
}

fn global_login_error(err: DbErr, role: &str) -> TenancyError {
    let fix = match sqlstate(&err).as_deref() {
        Some("28000") => {
            "the global role is created by `migrate` (sea_tenancy::migrate::migrate_public): run `<app> migrate` with the same login secret"
        }
        Some("28P01") => {
            "the password was refused: the app and its migrations must share one login secret (SEA_TENANCY_SECRET); run `<app> migrate --public-only` after changing it"
        }
        _ => "check that the database is reachable with these connection settings",
    };
    TenancyError::Login {
        role: role.to_owned(),
        tenant: "(none: the global role)".to_owned(),
        database: "default".to_owned(),
        reason: mask(&err.to_string()),
        fix: fix.to_owned(),
    }
}

//! Opening a slot: a login as the tenant's role, checked before first use.

use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::{Database, DatabaseConnection, DbErr};

use super::{Inner, Placed};
use crate::error::TenancyError;
use crate::placement::{mask, sqlstate};
use crate::roles::check_login;
use crate::session::search_path_of;
use crate::tenant::Tenant;

/// A connection (a pool of exactly one, so that SeaORM's transactions work on it unchanged)
/// logged in as `tenant`'s role with the tenant's search path, in the default database or in
/// `placed`, and checked to hold no more than the role should.
pub(super) async fn open(
    inner: &Inner,
    tenant: &Tenant,
    placed: Option<&Placed<'_>>,
) -> Result<DatabaseConnection, TenancyError> {
    let role = inner.names.tenant(tenant.schema());
    let password = inner.secret.password(&role);
    let search_path = search_path_of(tenant);
    let target = match placed {
        // Already validated by the same parser when the URL was stored or configured.
        Some(p) => Some(
            p.placement
                .url_of(p.name)
                .await?
                .expose()
                .parse::<PgConnectOptions>()
                .map_err(|e| {
                    DbErr::Custom(format!(
                        "sea-tenancy: database `{}`: {}",
                        p.name,
                        mask(&e.to_string())
                    ))
                })?,
        ),
        None => None,
    };
    let mut options = inner.template.clone();
    options
        .max_connections(1)
        .min_connections(0)
        .connect_lazy(false)
        .map_sqlx_postgres_opts({
            let role = role.clone();
            move |o| {
                let o = match &target {
                    Some(t) => {
                        let o = o
                            .host(t.get_host())
                            .port(t.get_port())
                            .ssl_mode(t.get_ssl_mode());
                        match t.get_database() {
                            Some(db) => o.database(db),
                            None => o,
                        }
                    }
                    None => o,
                };
                o.username(&role)
                    .password(&password)
                    .options([("search_path", search_path.as_str())])
            }
        });
    let db = Database::connect(options)
        .await
        .map_err(|e| login_error(e, &role, tenant, placed.map(|p| p.name.as_ref())))?;
    if let Err(e) = check_login(&db, &role, Some(inner.names.tenants())).await {
        let _ = db.close().await;
        return Err(e);
    }
    Ok(db)
}

/// A failed login, with the fix for the usual causes.
fn login_error(err: DbErr, role: &str, tenant: &Tenant, database: Option<&str>) -> TenancyError {
    let place = database.unwrap_or("default");
    let fix = match sqlstate(&err).as_deref() {
        // invalid_authorization_specification: the role does not exist (or may not log in).
        Some("28000") => format!(
            "the role is missing or cannot log in: provision the tenant, or run `<app> roles sync --tenant {tenant}` for tenants created before roles existed"
        ),
        Some("28P01") => "the password was refused: the app and its migrations must share one login secret (SEA_TENANCY_SECRET); after changing it run `<app> roles sync`".to_owned(),
        _ => "check that the database is reachable with the app's connection settings".to_owned(),
    };
    TenancyError::Login {
        role: role.to_owned(),
        tenant: tenant.schema().to_owned(),
        database: place.to_owned(),
        reason: mask(&err.to_string()),
        fix,
    }
}

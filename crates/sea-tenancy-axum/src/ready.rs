//! Ready-made [`TenantResolver`]s for apps whose tenants are rows of a `#[derive(ManageTenant)]`
//! entity: look the row up with SeaORM and turn it into its [`Tenant`] with the entity's own
//! template ([`ManageTenant::tenant_of`], what the derive's `Model::try_tenant` calls).
//!
//! Both are plain resolvers, so [`crate::TenantLayer`] caches their answers in its
//! [`crate::TenantCache`] like any other (a hit costs no query; an unknown identifier is a 404,
//! cached briefly). Give them a connection that can read the managing table without a tenant —
//! the owner's pool the app already has (`Database::connect`), never a tenant connection.
//!
//! ```no_run
//! use sea_tenancy_axum::{TenantLayer, TenantSource, ready};
//! use saas_app::entities::organization;
//!
//! # async fn run(raw: sea_orm::DatabaseConnection, tenancy: sea_tenancy::Tenancy) -> Result<(), Box<dyn std::error::Error>> {
//! // `X-Tenant: 42` → organization 42 → schema org_42.
//! let by_id = TenantLayer::new(
//!     tenancy.clone(),
//!     TenantSource::header("X-Tenant")?,
//!     ready::by_key::<organization::Entity>(raw.clone()),
//! );
//! // `acme.example.com` → the organization named `acme`.
//! let by_name = TenantLayer::new(
//!     tenancy,
//!     TenantSource::subdomain("example.com")?,
//!     ready::by_column::<organization::Entity>(raw, organization::Column::Name)?,
//! );
//! # let _ = (by_id, by_name); Ok(()) }
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use sea_orm::sea_query::ColumnType;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, IdenStatic, PrimaryKeyTrait, QueryFilter,
    QuerySelect,
};
use sea_tenancy::{ManageTenant, Tenant};

use crate::error::{ConfigError, ResolveError};
use crate::resolver::{ResolveFuture, TenantResolver};

/// Resolves an identifier that is the managing entity's primary key (`42` → organization 42).
///
/// The identifier is parsed with the key type's [`FromStr`] (`i64`, `Uuid`, `String`, ...); one
/// that does not parse names no tenant (404), without a query. Entities with a composite key
/// have no such parse and are refused at compile time.
pub fn by_key<E>(db: DatabaseConnection) -> ByKey<E>
where
    E: ManageTenant,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: FromStr,
{
    ByKey {
        db,
        entity: PhantomData,
    }
}

/// Resolves an identifier held in a text column of the managing entity, e.g. a slug
/// (`acme` → the organization whose `slug` is `acme`).
///
/// The column must be unique: two rows with the identifier are a failed lookup (500, logged),
/// never "the first one", because picking one would hand a request another tenant's data.
/// A column that is not text is a [`ConfigError`] here rather than a database error on every
/// request (PostgreSQL does not compare text with numbers; use [`by_key`] for numeric keys).
pub fn by_column<E>(db: DatabaseConnection, column: E::Column) -> Result<ByColumn<E>, ConfigError>
where
    E: ManageTenant,
{
    match column.def().get_column_type() {
        ColumnType::String(_) | ColumnType::Text | ColumnType::Char(_) => {
            Ok(ByColumn { db, column })
        }
        other => Err(ConfigError::Invalid(format!(
            "`ready::by_column` needs a text column to compare the request's identifier with; `{}` is {other:?} (use `ready::by_key` for a primary key)",
            column.as_str()
        ))),
    }
}

/// The resolver [`by_key`] returns.
pub struct ByKey<E> {
    db: DatabaseConnection,
    entity: PhantomData<fn() -> E>,
}

impl<E: EntityTrait> fmt::Debug for ByKey<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByKey")
            .field("table", &table::<E>())
            .finish_non_exhaustive()
    }
}

impl<E> TenantResolver for ByKey<E>
where
    E: ManageTenant,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: FromStr,
{
    fn resolve<'a>(&'a self, id: &'a str) -> ResolveFuture<'a> {
        Box::pin(async move {
            let Ok(key) = id.parse::<<E::PrimaryKey as PrimaryKeyTrait>::ValueType>() else {
                return Ok(None);
            };
            let row = E::find_by_id(key).one(&self.db).await?;
            row.map(|row| tenant_of::<E>(&row)).transpose()
        })
    }
}

/// The resolver [`by_column`] returns.
pub struct ByColumn<E: EntityTrait> {
    db: DatabaseConnection,
    column: E::Column,
}

impl<E: EntityTrait> fmt::Debug for ByColumn<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByColumn")
            .field("table", &table::<E>())
            .field("column", &self.column.as_str())
            .finish_non_exhaustive()
    }
}

impl<E> TenantResolver for ByColumn<E>
where
    E: ManageTenant,
{
    fn resolve<'a>(&'a self, id: &'a str) -> ResolveFuture<'a> {
        Box::pin(async move {
            // Two rows are enough to tell "unique" from "ambiguous".
            let mut rows = E::find()
                .filter(self.column.eq(id))
                .limit(2)
                .all(&self.db)
                .await?;
            if rows.len() > 1 {
                return Err(format!(
                    "several rows of `{}` have `{}` = {id:?}; the column that names tenants must be unique",
                    table::<E>(),
                    self.column.as_str()
                )
                .into());
            }
            rows.pop().map(|row| tenant_of::<E>(&row)).transpose()
        })
    }
}

/// The row's tenant; a row whose template renders no valid schema name is a failed lookup
/// (500, logged), not an unknown tenant: the tenant exists, the data is wrong.
fn tenant_of<E: ManageTenant>(row: &E::Model) -> Result<Tenant, ResolveError> {
    E::tenant_of(row)
        .map_err(|e| format!("a row of `{}` names no valid tenant: {e}", table::<E>()).into())
}

fn table<E: EntityTrait>() -> String {
    E::default().table_name().to_owned()
}

//! Tenant schema lifecycle: create a tenant's schema and run the tenant migrations in it.
//!
//! Everything happens in one transaction: the schema, every tenant table and the migration
//! tracking table (`seaql_migrations`, inside the tenant schema) commit together or not at all.

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use sea_orm_migration::MigratorTrait;

use crate::roles::grant_schema;
use crate::session;
use crate::tenant::Tenant;

/// Creates `tenant`'s schema and applies every migration of `M` in it, in one transaction of
/// its own. Fails (and changes nothing) if the schema exists.
pub async fn create_tenant<M: MigratorTrait>(
    db: &DatabaseConnection,
    tenant: &Tenant,
    app_role: Option<&str>,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    create_tenant_in::<M>(&txn, tenant, app_role).await?;
    txn.commit().await
}

/// Like [`create_tenant`], inside the caller's transaction: the tenant exists only if the
/// caller commits.
pub async fn create_tenant_in<M: MigratorTrait>(
    txn: &DatabaseTransaction,
    tenant: &Tenant,
    app_role: Option<&str>,
) -> Result<(), DbErr> {
    txn.execute_unprepared(&format!("CREATE SCHEMA {}", tenant.quoted_schema()))
        .await?;
    migrate_tenant_in::<M>(txn, tenant, app_role).await
}

/// Applies the pending migrations of `M` in `tenant`'s existing schema, inside `txn`.
pub async fn migrate_tenant_in<M: MigratorTrait>(
    txn: &DatabaseTransaction,
    tenant: &Tenant,
    app_role: Option<&str>,
) -> Result<(), DbErr> {
    // Search path only (no role): migrations need the login role's rights to create objects.
    session::enter(txn, tenant, None).await?;
    M::up(txn, None).await?;
    if let Some(role) = app_role {
        grant_schema(txn, role, tenant.schema()).await?;
    }
    Ok(())
}

//! Rolling back tenant migrations, each tenant from its own applied state.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};
use sea_orm_migration::MigratorTrait;

use super::lock;
use crate::session;
use crate::tenant::Tenant;

/// Undoes the last `steps` migrations applied in `tenant`, in one transaction under the
/// tenant's lock; returns how many were undone. Tenants need not be at the same version.
pub async fn rollback_tenant<M: MigratorTrait>(
    db: &DatabaseConnection,
    tenant: &Tenant,
    steps: u32,
) -> Result<usize, DbErr> {
    let txn = db.begin().await?;
    lock(&txn, tenant.schema()).await?;
    let state = super::status::<M, _>(&txn, std::slice::from_ref(tenant)).await?;
    if let Some(blocker) = state[0].blocker() {
        return Err(DbErr::Custom(blocker));
    }
    if state[0].state == super::State::MissingSchema {
        return Err(DbErr::Custom(format!(
            "tenant schema `{tenant}` does not exist; nothing to roll back"
        )));
    }
    session::search_path(&txn, tenant).await?;
    let undone = state[0].applied.min(steps as usize);
    if undone > 0 {
        M::down(&txn, Some(steps)).await?;
    }
    let citus = crate::citus::is_installed(&txn).await?;
    txn.execute_unprepared(&super::mirror::sync_sql(tenant, citus))
        .await?;
    txn.commit().await?;
    Ok(undone)
}

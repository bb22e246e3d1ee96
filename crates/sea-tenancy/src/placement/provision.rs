//! Provisioning a tenant in the database the catalog places it in.
//!
//! The tenant's row is system data and stays in the default database; its schema, its
//! migrations and a copy of the row (so that foreign keys from its data to it hold there) go to
//! its database. The two databases cannot share a transaction, so the tenant database commits
//! first and the row second; if the second commit fails the new schema is dropped again, and a
//! process killed between the two leaves only an unreferenced schema behind.

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, TransactionTrait,
};

use super::{Placement, catalog};
use crate::app::Setup;
use crate::app::TenancyApp;
use crate::error::TenancyError;
use crate::manage::{
    ManageTenant, apply_tenant_set, create_schema, enter_provisioning, leave_provisioning,
};
use crate::migrate::{lock, migrate_public_with};
use crate::roles::tenant as role;

/// Inserts the tenant row `row` and creates its tenant where the catalog places it — or, with
/// `into: Some(name)`, lists it to database `name` first (in the same transaction as the row).
/// Returns the inserted model.
///
/// A tenant placed in the default database is provisioned exactly like
/// [`crate::manage::provision`]. Elsewhere, the database first gets the public migration set
/// and the move fence if it lacks them.
pub async fn provision<A, M>(
    app: &A,
    placement: &Placement,
    row: M,
    into: Option<&str>,
) -> Result<<M::Entity as EntityTrait>::Model, TenancyError>
where
    A: TenancyApp,
    M: ActiveModelTrait + ActiveModelBehavior + Send,
    M::Entity: ManageTenant,
    <M::Entity as EntityTrait>::Model: IntoActiveModel<M>,
{
    type E<M> = <M as ActiveModelTrait>::Entity;
    let txn = placement.default_db().begin().await?;
    let restore = enter_provisioning(&txn).await?;
    let roles = restore.setup(app)?;
    let model = row.insert(&txn).await?;
    let tenant = E::<M>::tenant_of(&model)?;
    if let Some(name) = into {
        catalog::assign(&txn, &tenant, name).await?;
    }
    let database = catalog::lookup(&txn, std::slice::from_ref(&tenant))
        .await?
        .remove(0);
    let tenant_roles = role::provision_sql(&roles.names, &roles.secret, &tenant);
    let Some(name) = database.filter(|_| E::<M>::CREATE) else {
        if E::<M>::CREATE {
            create_schema(&txn, &tenant, roles.citus).await?;
            apply_tenant_set::<A::TenantMigrator>(&txn, &tenant, &tenant_roles, true, roles.citus)
                .await?;
        } else {
            txn.execute_unprepared(&role::ensure_sql(&roles.names, &roles.secret, &tenant))
                .await?;
        }
        leave_provisioning(&txn, &restore).await?;
        txn.commit().await?;
        placement.invalidate(&tenant);
        return Ok(model);
    };
    let remote = placement.connection_with(&txn, Some(&name)).await?;
    prepare_database(app, &remote, &roles).await?;
    let rtxn = remote.begin().await?;
    lock(&rtxn, tenant.schema()).await?;
    let remote_restore = enter_provisioning(&rtxn).await?;
    // The row's copy: foreign keys of the tenant's data to it hold in its database too.
    model
        .clone()
        .into_active_model()
        .reset_all()
        .insert(&rtxn)
        .await?;
    let citus_there = crate::citus::is_installed(&rtxn).await?;
    create_schema(&rtxn, &tenant, citus_there).await?;
    apply_tenant_set::<A::TenantMigrator>(&rtxn, &tenant, &tenant_roles, true, citus_there).await?;
    leave_provisioning(&rtxn, &remote_restore).await?;
    rtxn.commit().await?;
    // Its statements on global tables run in the default database, as its role: on another
    // server the role must exist there too (on the same server this finds it, committed).
    let home = txn
        .execute_unprepared(&role::ensure_sql(&roles.names, &roles.secret, &tenant))
        .await;
    let committed = match home {
        Ok(_) => match leave_provisioning(&txn, &restore).await {
            Ok(()) => txn.commit().await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    if let Err(e) = committed {
        super::relocate::remove_tenant(&remote, &tenant, &[], &roles.names, true).await;
        return Err(e.into());
    }
    placement.invalidate(&tenant);
    Ok(model)
}

/// Makes `db` ready to hold tenants: the public migration set (under the same lock as
/// `migrate`), the roles' grants (named as in the default database: `roles`) and the move
/// fence. Idempotent.
pub async fn prepare_database<A: TenancyApp>(
    app: &A,
    db: &DatabaseConnection,
    roles: &Setup,
) -> Result<(), TenancyError> {
    migrate_public_with(app, db, roles).await?;
    catalog::install_fence(db).await?;
    Ok(())
}

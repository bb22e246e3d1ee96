//! Step 4 of a move, source side — the tenant recorded as moved, its schema renamed or
//! dropped, its privileges revoked — and the clean-up after a move or a provisioning that
//! failed half-way.

use sea_orm::sqlx;
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};

use super::plan::Item;
use super::{MOVE_KEY, Source, SourceFate, Transfer, exec};
use crate::migrate::mirror;
use crate::roles::{RoleNames, tenant as role};
use crate::session;
use crate::tenant::{Tenant, quote_ident};

impl Transfer<'_> {
    /// Step 4, source side: record the move, rename or drop what is left, release the locks;
    /// with `switch` (the source is the default database), switch the catalog in the same
    /// transaction.
    pub(super) async fn fence(
        &self,
        source: &mut Source,
        fate: &SourceFate,
        switch: bool,
    ) -> Result<(), sqlx::Error> {
        let s = &mut source.conn;
        if switch {
            sqlx::query(
                "INSERT INTO public.sea_tenancy_tenant_databases (tenant, database) VALUES ($1, $2)
                 ON CONFLICT (tenant) DO UPDATE SET database = EXCLUDED.database",
            )
            .bind(self.tenant.schema())
            .bind(self.to)
            .execute(&mut **s)
            .await?;
        }
        let fenced = match fate {
            SourceFate::Kept { fenced_schema } => Some(fenced_schema.clone()),
            SourceFate::Dropped => None,
        };
        sqlx::query(
            "INSERT INTO public.sea_tenancy_moved (tenant, database, fenced_schema) VALUES ($1, $2, $3)
             ON CONFLICT (tenant) DO UPDATE SET database = EXCLUDED.database, fenced_schema = EXCLUDED.fenced_schema, moved_at = now()",
        )
        .bind(self.tenant.schema())
        .bind(self.to)
        .bind(&fenced)
        .execute(&mut **s)
        .await?;
        let mut sql = match &fenced {
            Some(name) => format!(
                "ALTER SCHEMA {} RENAME TO {};\n",
                self.tenant.quoted_schema(),
                quote_ident(name)
            ),
            None => format!("DROP SCHEMA {} CASCADE;\n", self.tenant.quoted_schema()),
        };
        if fenced.is_none() {
            sql.push_str(&delete_rows_sql(&source.copied.attribute));
        }
        // The tenant's role keeps nothing here: not the old copy, not its attribute rows.
        let left = fenced.as_deref().unwrap_or(self.tenant.schema());
        sql.push_str(&role::revoke_sql(
            self.names,
            self.tenant,
            left,
            Some(self.to),
        ));
        sql.push('\n');
        sql.push_str(&mirror::forget_sql(self.tenant));
        sql.push_str(";\nCOMMIT");
        exec(s, sql).await?;
        Ok(())
    }
}

/// `moved_<unix seconds>_<schema>`, cut to PostgreSQL's 63 bytes: out of `org_%` patterns,
/// and recorded in `public.sea_tenancy_moved` of the source database.
pub(super) fn fenced_name(tenant: &Tenant) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut name = format!("moved_{secs}_{}", tenant.schema());
    name.truncate(63);
    name
}

/// Best effort: removes `tenant` from `db` — its schema, its rows of the `attribute` tables,
/// its mirror entries and its privileges (and its role, with `drop_role`: a provisioning that
/// created it) — after a move or a provisioning that failed half-way there.
pub(in crate::placement) async fn remove_tenant(
    db: &DatabaseConnection,
    tenant: &Tenant,
    attribute: &[Item],
    names: &RoleNames,
    drop_role: bool,
) {
    let undo = async {
        let txn = db.begin().await?;
        // The tenant key the deletes filter by.
        session::set_local(&txn, MOVE_KEY, tenant.key()).await?;
        let roles = if drop_role {
            role::drop_sql(names, tenant)
        } else {
            role::revoke_sql(names, tenant, tenant.schema(), None)
        };
        let sql = format!(
            "{roles}\nDROP SCHEMA IF EXISTS {} CASCADE;\n{}{}",
            tenant.quoted_schema(),
            delete_rows_sql(attribute),
            mirror::forget_sql(tenant)
        );
        sea_orm::ConnectionTrait::execute_unprepared(&txn, &sql).await?;
        txn.commit().await
    };
    let result: Result<(), DbErr> = undo.await;
    if let Err(e) = result {
        tracing::warn!(tenant = %tenant, error = %e, "could not remove what a failed move or provisioning left");
    }
}

/// `DELETE` of the tenant's rows from each of `attribute` (the session holds its key in
/// [`MOVE_KEY`]).
fn delete_rows_sql(attribute: &[Item]) -> String {
    attribute
        .iter()
        .map(|item| format!("DELETE FROM {} t{};\n", item.qualified, item.filter("t")))
        .collect()
}

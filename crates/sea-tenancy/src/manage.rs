//! Tenant lifecycle: the rows of a `#[derive(ManageTenant)]` entity *are* tenants, and their
//! schemas follow them.
//!
//! - [`provision`] inserts a row, creates its schema and runs every tenant migration in it;
//! - [`update_tenant`] updates a row and renames its schema when the template changes;
//! - [`delete_tenant`] deletes a row and, with `on_delete = "drop"`, its schema;
//! - [`find_tenant`] finds the tenant of a key.
//!
//! Each runs in one transaction — its own, or a savepoint of the caller's — so the row, the
//! schema and the migrations commit together or not at all. SeaORM's `ActiveModelBehavior` hooks
//! cannot run a migrator, and `update_many`/`delete_many` skip them altogether, so these are
//! functions rather than hooks; [`install_guard`] puts a trigger on the table so that a plain
//! ORM insert, template update or delete, which would leave a row without its schema (or a
//! schema without its row), fails instead.

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    DbBackend, DbErr, EntityTrait, IntoActiveModel, Iterable, ModelTrait, PrimaryKeyToColumn,
    QueryFilter, Statement, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::app::TenancyApp;
use crate::app::{Setup, names_for};
use crate::error::{GUARD_SQLSTATE, TenancyError, sqlstate};
use crate::migrate::mirror;
use crate::migrate::script::recorded;
use crate::roles::tenant as role;
use crate::session;
use crate::tenant::{Tenant, quote_ident, quote_qualified};
use std::collections::HashSet;

/// What deleting a tenant row does to its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// Keep the schema (the default: nothing is lost by accident).
    Keep,
    /// Drop the schema and everything in it, in the same transaction.
    Drop,
}

/// The entity whose rows are tenants. Implemented by `#[derive(ManageTenant)]`.
pub trait ManageTenant: EntityTrait {
    /// Whether [`provision`] creates the schema.
    const CREATE: bool;
    /// Whether [`update_tenant`] renames the schema when the template changes.
    const UPDATE: bool;
    /// What [`delete_tenant`] does with the schema.
    const ON_DELETE: OnDelete;
    /// The fields the template reads.
    const TEMPLATE_COLUMNS: &'static [&'static str];
    /// The schema name of `model`, rendered from the template (not yet validated).
    fn tenant_schema(model: &Self::Model) -> String;
    /// The tenant key of `model`: its primary key, as text.
    fn tenant_key(model: &Self::Model) -> String;
    /// The tenant `model` is, or why its schema name is invalid.
    fn tenant_of(model: &Self::Model) -> Result<Tenant, crate::TenantError> {
        Tenant::new(Self::tenant_schema(model), Self::tenant_key(model))
    }
}

/// How a field's value is written into a schema name.
pub trait TemplateValue {
    /// Appends this value to `out`.
    fn render(&self, out: &mut String);
}

macro_rules! display_template_value {
    ($($t:ty),*) => {$(
        impl TemplateValue for $t {
            fn render(&self, out: &mut String) {
                use std::fmt::Write;
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
display_template_value!(i8, i16, i32, i64, u8, u16, u32, u64, String, &str);

/// UUIDs are written without hyphens (`org_67e5504410b1426f9247bb680e5fe0c8`): tenant schema
/// names are `[a-z0-9_]` only, and 32 hex digits plus a short prefix stay under 63 bytes.
impl TemplateValue for sea_orm::prelude::Uuid {
    fn render(&self, out: &mut String) {
        out.push_str(
            self.simple()
                .encode_lower(&mut sea_orm::prelude::Uuid::encode_buffer()),
        );
    }
}

/// The setting the guard trigger checks: on only while this module writes tenant rows.
const PROVISIONING_SETTING: &str = "sea_tenancy.provisioning";

/// Inserts `row`, creates its tenant schema and role and applies every tenant migration of `A`
/// in the schema, in one transaction (a savepoint when `db` is the caller's transaction).
/// Returns the inserted model; `model.tenant()` is ready for `with_tenant`.
///
/// `db` is the owner's connection (it creates a role: the owner needs `CREATEROLE`). Fails
/// with [`TenancyError::TenantExists`] if the schema already exists, and with the migration's
/// error if one fails; either way nothing is left behind.
pub async fn provision<A, M, C>(
    app: &A,
    db: &C,
    row: M,
) -> Result<<M::Entity as EntityTrait>::Model, TenancyError>
where
    A: TenancyApp,
    M: ActiveModelTrait + ActiveModelBehavior + Send,
    M::Entity: ManageTenant,
    <M::Entity as EntityTrait>::Model: IntoActiveModel<M>,
    C: TransactionTrait<Transaction = DatabaseTransaction> + 'static,
{
    type E<M> = <M as ActiveModelTrait>::Entity;
    let txn = db.begin().await?;
    let restore = enter_provisioning(&txn).await?;
    let setup = restore.setup(app)?;
    // A tenant migration that must run outside a transaction: the ones before it go in this
    // transaction, it and the rest right after the commit (on the app's connection, not a
    // caller's transaction, which cannot be left).
    let outside = if E::<M>::CREATE {
        crate::migrate::outside::first::<A::TenantMigrator>()
    } else {
        None
    };
    let after_commit = match &outside {
        Some((_, name)) => Some(
            (db as &dyn std::any::Any)
                .downcast_ref::<sea_orm::DatabaseConnection>()
                .ok_or_else(|| TenancyError::OutsideTransaction {
                    migration: name.clone(),
                })?,
        ),
        None => None,
    };
    let model = row.insert(&txn).await.map_err(key_missing::<E<M>>)?;
    let tenant = E::<M>::tenant_of(&model)?;
    if let Some((before, _)) = &outside {
        create_schema(&txn, &tenant, setup.citus).await?;
        let roles = role::provision_sql(&setup.names, &setup.secret, &tenant);
        txn.execute_unprepared(&roles).await?;
        session::search_path(&txn, &tenant).await?;
        A::TenantMigrator::install(&txn).await?;
        if *before > 0 {
            A::TenantMigrator::up(&txn, Some(*before as u32)).await?;
        }
        txn.execute_unprepared(&mirror::sync_sql(&tenant, setup.citus))
            .await?;
    } else if E::<M>::CREATE {
        create_schema(&txn, &tenant, setup.citus).await?;
        let roles = role::provision_sql(&setup.names, &setup.secret, &tenant);
        apply_tenant_set::<A::TenantMigrator>(&txn, &tenant, &roles, true, setup.citus).await?;
    } else {
        // The schema is made elsewhere; the tenant still logs in as its own role.
        txn.execute_unprepared(&role::ensure_sql(&setup.names, &setup.secret, &tenant))
            .await?;
    }
    leave_provisioning(&txn, &restore).await?;
    txn.commit().await?;
    if let Some(conn) = after_commit {
        crate::migrate::outside::migrate::<A::TenantMigrator>(conn, &tenant, &setup, false)
            .await
            .map_err(|source| TenancyError::ProvisionIncomplete {
                tenant: tenant.schema().to_owned(),
                source,
            })?;
    }
    Ok(model)
}

/// A not-null violation on the managing table's primary key: the row brought no key and the
/// column's default gave none (a tenant-key default, which the owner provisioning a tenant has
/// no key for). Said as such, with the fix, instead of PostgreSQL's bare message.
fn key_missing<E: EntityTrait>(err: DbErr) -> TenancyError {
    use sea_orm::{IdenStatic, Iterable, PrimaryKeyToColumn};
    let Some(pk) = E::PrimaryKey::iter().next() else {
        return err.into();
    };
    let column = pk.into_column().as_str().to_owned();
    let table = E::default().table_name().to_owned();
    let text = err.to_string();
    if sqlstate(&err).as_deref() == Some("23502")
        && text.contains(&format!("column \"{column}\" of relation \"{table}\""))
    {
        TenancyError::KeyMissing { table, column }
    } else {
        err.into()
    }
}

/// Applies `changes` to the tenant row `before` and, when the template's fields change, renames
/// the schema (`ALTER SCHEMA .. RENAME`) and the tenant's role, in one transaction. A rename that
/// cannot happen (the target exists, the new name is invalid, the old schema is missing) fails
/// the whole update.
pub async fn update_tenant<A, M, C>(
    app: &A,
    db: &C,
    before: &<M::Entity as EntityTrait>::Model,
    changes: M,
) -> Result<<M::Entity as EntityTrait>::Model, TenancyError>
where
    A: TenancyApp,
    M: ActiveModelTrait + ActiveModelBehavior + Send,
    M::Entity: ManageTenant,
    <M::Entity as EntityTrait>::Model: IntoActiveModel<M>,
    C: TransactionTrait<Transaction = DatabaseTransaction>,
{
    type E<M> = <M as ActiveModelTrait>::Entity;
    let old = E::<M>::tenant_of(before)?;
    let txn = db.begin().await?;
    let restore = enter_provisioning(&txn).await?;
    let Setup { names, secret, .. } = restore.setup(app)?;
    let after = update_row::<M>(&txn, before, changes).await?;
    let new = E::<M>::tenant_of(&after)?;
    if old.schema() != new.schema() {
        if !E::<M>::UPDATE {
            return Err(TenancyError::RenameDisabled {
                from: old.schema().to_owned(),
                to: new.schema().to_owned(),
            });
        }
        rename_schema(&txn, &old, &new).await?;
        txn.execute_unprepared(&role::rename_sql(&names, &secret, &old, &new))
            .await?;
        mirror::rename(&txn, &old, &new).await?;
        crate::placement::catalog::rename_tenant(&txn, &old, &new).await?;
    } else if old.key() != new.key() {
        txn.execute_unprepared(&role::ensure_sql(&names, &secret, &new))
            .await?;
    }
    leave_provisioning(&txn, &restore).await?;
    txn.commit().await?;
    Ok(after)
}

/// `changes` applied to the row `before`. SeaORM's `update` finds the row by the key in
/// `changes`; when the key itself changes (a template such as `["org_", id]`), the row is found
/// by `before`'s key instead.
async fn update_row<M>(
    txn: &DatabaseTransaction,
    before: &<M::Entity as EntityTrait>::Model,
    changes: M,
) -> Result<<M::Entity as EntityTrait>::Model, TenancyError>
where
    M: ActiveModelTrait + ActiveModelBehavior + Send,
    <M::Entity as EntityTrait>::Model: IntoActiveModel<M>,
{
    let old_key = before.clone().into_active_model().get_primary_key_value();
    if old_key.is_none() || changes.get_primary_key_value() == old_key {
        return Ok(changes.update(txn).await?);
    }
    let mut update = <M::Entity as EntityTrait>::update_many().set(changes);
    for (key, value) in
        <M::Entity as EntityTrait>::PrimaryKey::iter().zip(old_key.into_iter().flatten())
    {
        update = update.filter(key.into_column().eq(value));
    }
    let mut updated = update.exec_with_returning(txn).await?;
    match updated.len() {
        1 => Ok(updated.remove(0)),
        _ => Err(TenancyError::Db(DbErr::RecordNotUpdated)),
    }
}

/// Deletes the tenant row `model` and its role and, with `on_delete = "drop"`, its schema, in
/// one transaction. With `on_delete = "keep"` the schema stays (nobody can log in to it).
pub async fn delete_tenant<A, T, M, C>(app: &A, db: &C, model: T) -> Result<(), TenancyError>
where
    A: TenancyApp,
    T: ModelTrait + IntoActiveModel<M>,
    T::Entity: ManageTenant + EntityTrait<Model = T>,
    M: ActiveModelTrait<Entity = T::Entity> + ActiveModelBehavior + Send,
    C: TransactionTrait<Transaction = DatabaseTransaction>,
{
    let tenant = T::Entity::tenant_of(&model)?;
    let txn = db.begin().await?;
    let restore = enter_provisioning(&txn).await?;
    let names = restore.setup(app)?.names;
    model.delete(&txn).await?;
    let mut sql = String::new();
    if T::Entity::ON_DELETE == OnDelete::Drop {
        sql.push_str(&format!(
            "DROP SCHEMA IF EXISTS {} CASCADE;\n",
            tenant.quoted_schema()
        ));
    }
    sql.push_str(&role::drop_sql(&names, &tenant));
    txn.execute_unprepared(&sql).await?;
    leave_provisioning(&txn, &restore).await?;
    txn.commit().await?;
    Ok(())
}

/// The tenant whose `E` row has primary key `key`, or `None` when no such row exists — e.g. to
/// route a request that names an organization by id. One query by primary key.
///
/// When the template reads only the key, `Entity::tenant_for(key)` (generated by the derive)
/// renders the tenant without a query, but does not check that the row exists.
pub async fn find_tenant<E, C>(
    db: &C,
    key: impl Into<<E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType>,
) -> Result<Option<Tenant>, TenancyError>
where
    E: ManageTenant,
    C: ConnectionTrait,
{
    match E::find_by_id(key).one(db).await? {
        Some(model) => Ok(Some(E::tenant_of(&model)?)),
        None => Ok(None),
    }
}

/// Creates `tenant`'s schema; an existing one is [`TenancyError::TenantExists`]. On Citus it is
/// a *distributed schema*: its tables will live together on one worker.
pub async fn create_schema<C: ConnectionTrait>(
    txn: &C,
    tenant: &Tenant,
    citus: bool,
) -> Result<(), TenancyError> {
    let create = format!("CREATE SCHEMA {}", tenant.quoted_schema());
    let sql = if citus {
        format!("SELECT set_config('citus.enable_schema_based_sharding', 'on', true);\n{create}")
    } else {
        create
    };
    txn.execute_unprepared(&sql)
        .await
        .map_err(|e| exists_or(e, tenant.schema()))?;
    Ok(())
}

async fn rename_schema<C: ConnectionTrait>(
    txn: &C,
    old: &Tenant,
    new: &Tenant,
) -> Result<(), TenancyError> {
    txn.execute_unprepared(&format!(
        "ALTER SCHEMA {} RENAME TO {}",
        old.quoted_schema(),
        new.quoted_schema()
    ))
    .await
    .map_err(|e| {
        if sqlstate(&e).as_deref() == Some("3F000") {
            TenancyError::TenantMissing(old.schema().to_owned())
        } else {
            exists_or(e, new.schema())
        }
    })?;
    Ok(())
}

/// Applies the pending migrations of `M` in `tenant`'s existing schema, inside `txn` (the
/// owner's). The caller's search path is restored afterwards.
pub async fn migrate_tenant_in<M: MigratorTrait + 'static>(
    txn: &DatabaseTransaction,
    tenant: &Tenant,
) -> Result<(), DbErr> {
    let previous = session::current_setting(txn, "search_path").await?;
    let citus = crate::citus::is_installed(txn).await?;
    let fresh = !crate::migrate::is_tracked(txn, tenant).await?;
    apply_tenant_set::<M>(txn, tenant, "", fresh, citus).await?;
    session::set_local(txn, "search_path", &previous).await
}

/// The work of [`migrate_tenant_in`] without restoring the search path (for callers that end
/// the transaction, or restore it themselves): search path, migrations, mirror, then `roles`
/// (the statements giving the tenant its role, or nothing).
///
/// The one place that chooses between the recorded script and the migrator: when every
/// migration of the set only sends fixed statements (see `migrate::script`), the pending ones
/// are replayed in one round trip together with the rest; otherwise the migrator runs. `fresh`:
/// the schema has no tracking table yet (nothing applied; no need to read it).
pub(crate) async fn apply_tenant_set<M: MigratorTrait + 'static>(
    txn: &DatabaseTransaction,
    tenant: &Tenant,
    roles: &str,
    fresh: bool,
    citus: bool,
) -> Result<(), DbErr> {
    match recorded::<M>().await {
        Some(recorded) => {
            let applied = if fresh {
                HashSet::new()
            } else {
                crate::migrate::applied_versions(txn, tenant).await?
            };
            let statements = recorded.statements(&applied);
            replay(txn, tenant, &statements, roles, citus).await
        }
        None => {
            session::search_path(txn, tenant).await?;
            M::up(txn, None).await?;
            txn.execute_unprepared(&format!("{};\n{roles}", mirror::sync_sql(tenant, citus)))
                .await?;
            Ok(())
        }
    }
}

/// Runs `statements` in `tenant`'s schema together with the search path, the mirror and
/// `roles`: one round trip. Citus refuses some DDL of distributed schemas (`CREATE INDEX`)
/// inside a multi-statement query, so there the migration statements go one by one.
pub(crate) async fn replay(
    txn: &DatabaseTransaction,
    tenant: &Tenant,
    statements: &[String],
    roles: &str,
    citus: bool,
) -> Result<(), DbErr> {
    let path = format!(
        "SELECT set_config('search_path', '{}', true)",
        session::search_path_of(tenant)
    );
    let tail = format!("{};\n{roles}", mirror::sync_sql(tenant, citus));
    if citus {
        txn.execute_unprepared(&path).await?;
        for statement in statements {
            txn.execute_unprepared(statement).await?;
        }
        txn.execute_unprepared(&tail).await?;
    } else {
        let batch = format!("{path};\n{};\n{tail}", statements.join(";\n"));
        txn.execute_unprepared(&batch).await?;
    }
    Ok(())
}

/// The session values `enter_provisioning` replaced, and what it learned of the database.
pub(crate) struct Restore {
    search_path: String,
    provisioning: String,
    database: String,
    /// The database runs Citus.
    pub citus: bool,
}

impl Restore {
    /// `app`'s setup in this database (no further query).
    pub(crate) fn setup<A: TenancyApp>(&self, app: &A) -> Result<Setup, TenancyError> {
        Ok(Setup {
            names: names_for(app, &self.database)?,
            secret: app.login_secret()?,
            citus: self.citus,
        })
    }
}

pub(crate) async fn enter_provisioning(txn: &DatabaseTransaction) -> Result<Restore, DbErr> {
    let row = txn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT current_setting('search_path') AS search_path, coalesce(current_setting('{PROVISIONING_SETTING}', true), '') AS provisioning, current_database()::text AS database, EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') AS citus, set_config('{PROVISIONING_SETTING}', 'on', true) AS set"
            ),
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("current settings".to_owned()))?;
    Ok(Restore {
        search_path: row.try_get("", "search_path")?,
        provisioning: row.try_get("", "provisioning")?,
        database: row.try_get("", "database")?,
        citus: row.try_get("", "citus")?,
    })
}

/// Puts back the caller's search path and provisioning flag, in one round trip.
pub(crate) async fn leave_provisioning(
    txn: &DatabaseTransaction,
    restore: &Restore,
) -> Result<(), DbErr> {
    session::set_local_pair(
        txn,
        ("search_path", &restore.search_path),
        (PROVISIONING_SETTING, &restore.provisioning),
    )
    .await
}

/// "Schema exists" (42P06), or the unique violation a concurrent `CREATE SCHEMA` of the same name
/// reports (23505), become [`TenancyError::TenantExists`].
fn exists_or(err: DbErr, schema: &str) -> TenancyError {
    match sqlstate(&err).as_deref() {
        Some("42P06") | Some("23505") => TenancyError::TenantExists(schema.to_owned()),
        _ => err.into(),
    }
}

/// Installs the guard trigger on a tenant table (`organizations`): inserts, deletes, and updates
/// of the template columns fail unless they come from [`provision`], [`update_tenant`] or
/// [`delete_tenant`]. Call it from the public migration that creates the table.
///
/// The app's own connections are guarded by privileges anyway (the global role may not insert,
/// delete or change template columns of a tenant table; see `roles::install`): the trigger
/// extends the guard to the owner's connection. Citus refuses triggers on reference tables, so
/// there this does nothing and the privileges are the guard.
pub async fn install_guard<C: ConnectionTrait>(
    db: &C,
    table: &str,
    template_columns: &[&str],
) -> Result<(), DbErr> {
    if crate::citus::is_installed(db).await? {
        return Ok(());
    }
    let t = quote_qualified(table);
    let trigger_prefix = table.replace('.', "_");
    let columns = template_columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>();
    let changed = columns
        .iter()
        .map(|c| format!("OLD.{c} IS DISTINCT FROM NEW.{c}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let guard = quote_ident(&format!("{trigger_prefix}_sea_tenancy_guard"));
    let guard_update = quote_ident(&format!("{trigger_prefix}_sea_tenancy_guard_update"));
    let mut sql = format!(
        "CREATE OR REPLACE FUNCTION public.sea_tenancy_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
         BEGIN
           -- Tenant roles never pass, whatever they set: only the owner provisions.
           IF coalesce(current_setting('{PROVISIONING_SETTING}', true), '') <> 'on'
              OR (to_regclass('public.sea_tenancy_tenants') IS NOT NULL
                  AND EXISTS (SELECT FROM public.sea_tenancy_tenants WHERE role = current_user)) THEN
             RAISE EXCEPTION 'sea-tenancy: rows of % are tenants and their schemas must follow them; create, rename and delete them with sea_tenancy::manage::provision, update_tenant and delete_tenant', TG_TABLE_NAME
               USING ERRCODE = '{GUARD_SQLSTATE}', TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
           END IF;
           IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
           RETURN NEW;
         END $fn$;
         DROP TRIGGER IF EXISTS {guard} ON {t};
         CREATE TRIGGER {guard} BEFORE INSERT OR DELETE ON {t}
           FOR EACH ROW EXECUTE FUNCTION public.sea_tenancy_guard();
         DROP TRIGGER IF EXISTS {guard_update} ON {t};"
    );
    if !columns.is_empty() {
        sql.push_str(&format!(
            "CREATE TRIGGER {guard_update} BEFORE UPDATE OF {} ON {t}
               FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION public.sea_tenancy_guard();",
            columns.join(", ")
        ));
    }
    db.execute_unprepared(&sql).await?;
    Ok(())
}

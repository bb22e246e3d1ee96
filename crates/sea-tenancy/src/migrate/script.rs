//! Tenant migrations as one SQL script: the whole set for a brand-new tenant, the pending ones
//! for an existing tenant.
//!
//! Creating a tenant by running its migrations one statement at a time costs a round trip per
//! statement plus the migrator's bookkeeping (tracking table, savepoints, version rows). For a
//! schema that is brand new, the outcome of the migrations cannot depend on its contents, so
//! the statements can be recorded once per process — by running each migration's `up` against a
//! recording connection (SeaORM's proxy) — and replayed as one script, stamped with the versions
//! it contains.
//!
//! The same holds for the pending migrations of an existing tenant: a migration that only ever
//! sends fixed statements (what recording proves) does the same thing replayed as it does run.
//!
//! Recording is conservative: a migration that reads anything (`has_table`, data queries),
//! binds values, or opts out of transactions makes the whole set fall back to the migrator.

use std::any::TypeId;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use sea_orm::{
    Database, DbBackend, DbErr, ProxyDatabaseTrait, ProxyExecResult, ProxyRow, Statement,
};
use sea_orm_migration::{MigratorTrait, SchemaManager};

/// What recording a migrator's set produced: the tracking table and each migration's statements.
#[derive(Debug)]
pub(crate) struct Recorded {
    tracking_table: String,
    create_tracking_table: String,
    migrations: Vec<(String, Vec<String>)>,
}

impl Recorded {
    /// The versions of the set, in order.
    pub(crate) fn versions(&self) -> impl Iterator<Item = &str> {
        self.migrations.iter().map(|(name, _)| name.as_str())
    }

    /// The statements applying every migration not in `applied`, stamped with their versions,
    /// in the current search path; they create the tracking table if it is missing.
    pub(crate) fn statements(&self, applied: &HashSet<String>) -> Vec<String> {
        let mut statements = vec![self.create_tracking_table.clone()];
        statements.extend(self.pending(applied));
        statements
    }

    /// [`statements`](Self::statements) for a schema known to have its tracking table.
    pub(crate) fn pending(&self, applied: &HashSet<String>) -> Vec<String> {
        let mut statements = Vec::new();
        let mut versions = Vec::new();
        for (name, migration) in self.migrations.iter().filter(|(n, _)| !applied.contains(n)) {
            statements.extend(migration.iter().cloned());
            versions.push(format!(
                "('{}', extract(epoch FROM now())::bigint)",
                name.replace('\'', "''")
            ));
        }
        if !versions.is_empty() {
            statements.push(format!(
                "INSERT INTO \"{}\" (\"version\", \"applied_at\") VALUES {}",
                self.tracking_table,
                versions.join(", ")
            ));
        }
        statements
    }
}

/// The recordings, by migrator type; `None` when the set cannot be recorded.
static RECORDINGS: Mutex<Option<HashMap<TypeId, Option<Arc<Recorded>>>>> = Mutex::new(None);

/// `M`'s set, recorded once per process, or `None` when it must run through the migrator.
pub(crate) async fn recorded<M: MigratorTrait + 'static>() -> Option<Arc<Recorded>> {
    let key = TypeId::of::<M>();
    if let Some(found) = RECORDINGS
        .lock()
        .expect("script cache")
        .as_ref()
        .and_then(|m| m.get(&key))
    {
        return found.clone();
    }
    let recorded = match record::<M>().await {
        Ok(recorded) => Some(Arc::new(recorded)),
        Err(why) => {
            tracing::debug!("sea-tenancy: tenant migrations run one by one: {why}");
            None
        }
    };
    RECORDINGS
        .lock()
        .expect("script cache")
        .get_or_insert_with(HashMap::new)
        .insert(key, recorded.clone());
    recorded
}

#[derive(Debug, Default)]
struct Recorder {
    statements: Mutex<Vec<String>>,
    refused: Mutex<Option<String>>,
}

impl Recorder {
    fn refuse(&self, why: String) -> DbErr {
        self.refused
            .lock()
            .expect("recorder")
            .get_or_insert(why.clone());
        DbErr::Custom(why)
    }
}

#[derive(Debug)]
struct SharedRecorder(Arc<Recorder>);

#[async_trait::async_trait]
impl ProxyDatabaseTrait for SharedRecorder {
    async fn query(&self, statement: Statement) -> Result<Vec<ProxyRow>, DbErr> {
        Err(self.0.refuse(format!(
            "a migration reads from the database: {}",
            statement.sql
        )))
    }

    async fn execute(&self, statement: Statement) -> Result<ProxyExecResult, DbErr> {
        if statement.values.as_ref().is_some_and(|v| !v.0.is_empty()) {
            return Err(self
                .0
                .refuse(format!("a migration binds values: {}", statement.sql)));
        }
        let sql = statement.sql.trim().trim_end_matches(';').to_owned();
        self.0.statements.lock().expect("recorder").push(sql);
        Ok(ProxyExecResult::default())
    }
}

async fn record<M: MigratorTrait>() -> Result<Recorded, String> {
    let recorder = Arc::new(Recorder::default());
    let conn = Database::connect_proxy(
        DbBackend::Postgres,
        Arc::new(Box::new(SharedRecorder(recorder.clone())) as Box<dyn ProxyDatabaseTrait>),
    )
    .await
    .map_err(|e| e.to_string())?;
    let manager = SchemaManager::new(&conn);
    let mut migrations = Vec::new();
    for migration in M::migrations() {
        if migration.use_transaction() == Some(false) {
            return Err(format!(
                "migration {} runs outside a transaction",
                migration.name()
            ));
        }
        if let Err(e) = migration.up(&manager).await {
            let refused = recorder.refused.lock().expect("recorder").take();
            return Err(refused.unwrap_or_else(|| e.to_string()));
        }
        if let Some(why) = recorder.refused.lock().expect("recorder").take() {
            return Err(why);
        }
        let statements = std::mem::take(&mut *recorder.statements.lock().expect("recorder"));
        migrations.push((migration.name().to_owned(), statements));
    }

    // The tracking table exactly as sea-orm-migration's `install` creates it.
    let table = M::migration_table_name();
    let mut create = sea_orm::Schema::new(DbBackend::Postgres)
        .create_table_from_entity(sea_orm_migration::seaql_migrations::Entity);
    create.table(table.clone()).if_not_exists();
    Ok(Recorded {
        tracking_table: table.to_string(),
        create_tracking_table: DbBackend::Postgres.build(&create).sql,
        migrations,
    })
}

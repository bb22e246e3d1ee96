//! Where the entities come from: every `DeriveEntityModel` entity of the program (SeaORM's
//! entity registry, feature `entity-registry`), each with the tenancy sea-tenancy's registry
//! records for its table (`Multitenant`, `ManageTenant`; no registration = global).
//!
//! SeaORM's registry hands out an entity's schema only as statements built for a backend, so
//! each entity is kept as the PostgreSQL DDL sea-orm builds for it and read by [`super::parse`];
//! entities added by type ([`EntitySet::with`], for tests and tools) go the same way.

use sea_orm::{DbBackend, EntityTrait, Schema};

use super::error::GenerateError;
use super::parse::{RawTable, create_table_name, parse_create_index, parse_create_table};
use super::snapshot::Tenancy;
use crate::registry::{RegisteredEntity, Strategy, manage_tenant_tables};

/// One entity: its table as sea-orm declares it, and its tenancy.
#[derive(Debug, Clone)]
pub struct EntityDef {
    /// The module declaring it (for error messages).
    pub module: String,
    /// The table sea-orm would create.
    pub table: RawTable,
    /// Where it lives.
    pub tenancy: Tenancy,
    /// For `ManageTenant` entities: the template columns.
    pub manage_tenant: Option<Vec<String>>,
    /// Attribute strategy with `global_rows`: the tenant column may be NULL (a shared row).
    pub global_rows: bool,
}

/// The entities the generator compares with the snapshots.
#[derive(Debug, Clone, Default)]
pub struct EntitySet {
    /// The entities, in insertion order.
    pub entities: Vec<EntityDef>,
}

impl EntitySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every entity linked into this program, except sea-orm's own (`seaql_migrations`).
    pub fn from_program() -> Result<Self, GenerateError> {
        let multitenant: Vec<(&str, Strategy)> = inventory::iter::<RegisteredEntity>()
            .map(|e| ((e.table_name)(), e.strategy))
            .collect();
        let shared: Vec<&str> = inventory::iter::<RegisteredEntity>()
            .filter(|e| e.global_rows)
            .map(|e| (e.table_name)())
            .collect();
        let managed = manage_tenant_tables();
        let mut set = EntitySet::new();
        let mut entries: Vec<&sea_orm::EntityRegistry> =
            inventory::iter::<sea_orm::EntityRegistry>().collect();
        entries.sort_by_key(|e| e.module_path);
        for entry in entries {
            if entry.module_path.starts_with("sea_orm_migration::")
                || entry.module_path.starts_with("sea_orm::")
            {
                continue;
            }
            // The entity's own table name: its schema info, printed for any backend.
            let own = format!("{:?}", (entry.schema_info)(&Schema::new(DbBackend::Sqlite)));
            let own_sql = debug_strings(&own)
                .into_iter()
                .next()
                .ok_or_else(|| unreadable(entry.module_path, "no CREATE TABLE", &own))?;
            let own_table = create_table_name(&own_sql)
                .map_err(|r| unreadable(entry.module_path, &r, &own_sql))?;
            // Its PostgreSQL DDL: the builder prints every entity of the module prefix.
            let builder = sea_orm::EntityRegistry::build_schema(
                Schema::new(DbBackend::Postgres),
                entry.module_path,
            );
            let printed = format!("{builder:?}");
            let mut found = None;
            for info in printed.split("EntitySchemaInfo {").skip(1) {
                let strings = debug_sections(info);
                let table = parse_create_table(&strings.table)
                    .map_err(|r| unreadable(entry.module_path, &r, &strings.table))?;
                if table.name == own_table {
                    found = Some(strings);
                    break;
                }
            }
            let ddl =
                found.ok_or_else(|| {
                unreadable(
                    entry.module_path,
                    "sea-orm's entity registry does not build it under its module path; declare each entity in a module of its own (the sea-orm convention)",
                    &printed,
                )
            })?;
            let tenancy = match multitenant.iter().find(|(t, _)| *t == own_table) {
                Some((_, Strategy::Schema)) => Tenancy::Schema,
                Some((_, Strategy::Attribute { column })) => Tenancy::Attribute {
                    column: (*column).to_owned(),
                },
                None => Tenancy::Global,
            };
            let manage = managed
                .iter()
                .find(|(t, _)| *t == own_table)
                .map(|(_, cols)| cols.iter().map(|c| (*c).to_owned()).collect());
            set.push_ddl(entry.module_path, &ddl, tenancy, manage)?;
            if shared.contains(&own_table.as_str()) {
                set = set.with_global_rows(&own_table);
            }
        }
        Ok(set)
    }

    /// Adds entity `E` with the given tenancy (for tests and tools that choose their entities).
    pub fn with<E: EntityTrait + Default>(
        mut self,
        tenancy: Tenancy,
    ) -> Result<Self, GenerateError> {
        let schema = Schema::new(DbBackend::Postgres);
        let entity = E::default();
        let ddl = Ddl {
            table: DbBackend::Postgres
                .build(&schema.create_table_from_entity(entity))
                .to_string(),
            enums: schema
                .create_enum_from_entity(entity)
                .iter()
                .map(|s| DbBackend::Postgres.build(s).to_string())
                .collect(),
            indexes: schema
                .create_index_from_entity(entity)
                .iter()
                .map(|s| DbBackend::Postgres.build(s).to_string())
                .collect(),
        };
        let module = std::any::type_name::<E>()
            .trim_end_matches("::Entity")
            .to_owned();
        self.push_ddl(&module, &ddl, tenancy, None)?;
        Ok(self)
    }

    /// Marks the entity of `table` as a `ManageTenant` entity with these template columns.
    pub fn managing(mut self, table: &str, template_columns: &[&str]) -> Self {
        for e in self.entities.iter_mut().filter(|e| e.table.name == table) {
            e.manage_tenant = Some(template_columns.iter().map(|c| (*c).to_owned()).collect());
        }
        self
    }

    /// Marks the entity of `table` as declared with `global_rows`.
    pub fn with_global_rows(mut self, table: &str) -> Self {
        for e in self.entities.iter_mut().filter(|e| e.table.name == table) {
            e.global_rows = true;
        }
        self
    }

    fn push_ddl(
        &mut self,
        module: &str,
        ddl: &Ddl,
        tenancy: Tenancy,
        manage_tenant: Option<Vec<String>>,
    ) -> Result<(), GenerateError> {
        if let Some(e) = ddl.enums.first() {
            return Err(unreadable(
                module,
                "PostgreSQL enum types are not supported by the generator yet; use a string column with `DeriveActiveEnum(db_type = \"String\")`",
                e,
            ));
        }
        let mut table =
            parse_create_table(&ddl.table).map_err(|r| unreadable(module, &r, &ddl.table))?;
        for sql in &ddl.indexes {
            let (_, index) = parse_create_index(sql).map_err(|r| unreadable(module, &r, sql))?;
            table.indexes.push(index);
        }
        if let Some(existing) = self.entities.iter().find(|e| e.table.name == table.name) {
            return Err(GenerateError::DuplicateTable {
                table: table.name,
                first: existing.module.clone(),
                second: module.to_owned(),
            });
        }
        self.entities.push(EntityDef {
            module: module.to_owned(),
            table,
            tenancy,
            manage_tenant,
            global_rows: false,
        });
        Ok(())
    }
}

struct Ddl {
    table: String,
    enums: Vec<String>,
    indexes: Vec<String>,
}

fn unreadable(entity: &str, reason: &str, sql: &str) -> GenerateError {
    GenerateError::UnreadableEntity {
        entity: entity.to_owned(),
        reason: reason.to_owned(),
        sql: sql.to_owned(),
    }
}

/// The `table: "…" enums: [ … ] indexes: [ … ]` strings of one printed `EntitySchemaInfo`.
fn debug_sections(info: &str) -> Ddl {
    let enums_at = info.find(" enums: [").unwrap_or(info.len());
    let indexes_at = info.find(" indexes: [").unwrap_or(info.len());
    Ddl {
        table: debug_strings(&info[..enums_at])
            .into_iter()
            .next()
            .unwrap_or_default(),
        enums: debug_strings(&info[enums_at..indexes_at]),
        indexes: debug_strings(&info[indexes_at..]),
    }
}

/// Every `"…"` string literal printed by `Debug` in `text`, unescaped.
fn debug_strings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut literal = String::from('"');
        while let Some(c) = chars.next() {
            literal.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    literal.push(n);
                }
            } else if c == '"' {
                break;
            }
        }
        if let Ok(lit) = syn::parse_str::<syn::LitStr>(&literal) {
            out.push(lit.value());
        }
    }
    out
}

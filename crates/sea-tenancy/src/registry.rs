//! The registry of every entity that declared its tenancy with `#[derive(Multitenant)]`.
//!
//! The derive submits one [`RegisteredEntity`] per entity through [`inventory`], so the library
//! knows at run time, without any list kept by hand, which tables are per-tenant and how. The
//! router uses it to decide how to route a statement; the migration tooling to decide where a
//! table lives.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// How an entity's rows are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// One table per tenant, in the tenant's own PostgreSQL schema.
    Schema,
    /// One shared table; every row carries its tenant's key in `column`.
    Attribute {
        /// The tenant column (`org_id`).
        column: &'static str,
    },
}

impl Strategy {
    /// The tenant column, for the attribute strategy.
    pub fn column(&self) -> Option<&'static str> {
        match self {
            Strategy::Schema => None,
            Strategy::Attribute { column } => Some(column),
        }
    }
}

/// An entity that declared its tenancy. Implemented by `#[derive(Multitenant)]` on the entity's
/// `Entity` type.
pub trait Multitenant: sea_orm::EntityTrait {
    /// How this entity's rows are kept apart.
    const STRATEGY: Strategy;
    /// Attribute strategy with `global_rows`: a row whose tenant column is NULL is shared —
    /// every tenant reads it, only the global connection writes it.
    const GLOBAL_ROWS: bool = false;
}

/// One entity as the derive registers it. Built only by the derive macro.
#[derive(Debug)]
pub struct RegisteredEntity {
    /// The entity's table name (a function because `EntityName::table_name` is not `const`).
    pub table_name: fn() -> &'static str,
    /// Its strategy.
    pub strategy: Strategy,
    /// Rows with a NULL tenant column are shared (see [`Multitenant::GLOBAL_ROWS`]).
    pub global_rows: bool,
    /// Where it is declared (`module_path!()`), for error messages.
    pub module: &'static str,
}

inventory::collect!(RegisteredEntity);

/// An entity whose rows are tenants, as `#[derive(ManageTenant)]` registers it: the migration
/// generator installs the guard trigger on its table (see `manage::install_guard`) with these
/// template columns. Built only by the derive macro.
#[derive(Debug)]
pub struct RegisteredManageTenant {
    /// The entity's table name.
    pub table_name: fn() -> &'static str,
    /// The fields its schema template reads, which the guard watches.
    pub template_columns: &'static [&'static str],
    /// Where it is declared (`module_path!()`).
    pub module: &'static str,
    /// Lists its rows as tenants ([`crate::all_tenants::managed`] for this entity).
    pub all_tenants: for<'a> fn(&'a sea_orm::DatabaseConnection) -> TenantsFuture<'a>,
}

/// What [`RegisteredManageTenant::all_tenants`] returns.
pub type TenantsFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<crate::Tenant>, sea_orm::DbErr>> + Send + 'a>,
>;

inventory::collect!(RegisteredManageTenant);

/// Every `#[derive(ManageTenant)]` entity of the program: table name → template columns.
pub fn manage_tenant_tables() -> Vec<(&'static str, &'static [&'static str])> {
    let mut all: Vec<_> = inventory::iter::<RegisteredManageTenant>()
        .map(|e| ((e.table_name)(), e.template_columns))
        .collect();
    all.sort();
    all.dedup();
    all
}

/// What the router knows about one multitenant table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableTenancy {
    /// The table's strategy.
    pub strategy: Strategy,
    /// Rows with a NULL tenant column are shared (see [`Multitenant::GLOBAL_ROWS`]).
    pub global_rows: bool,
    /// The module declaring its entity.
    pub module: &'static str,
}

/// Every multitenant table of the program, by table name.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    tables: HashMap<&'static str, TableTenancy>,
}

/// Two entities claim one table with different strategies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "table `{table}` is declared twice with different tenancy: {first:?} in `{first_module}` and {second:?} in `{second_module}`; one table can only have one strategy"
)]
pub struct RegistryError {
    /// The contested table.
    pub table: &'static str,
    /// One declaration.
    pub first: Strategy,
    /// Where it is.
    pub first_module: &'static str,
    /// The other declaration.
    pub second: Strategy,
    /// Where that is.
    pub second_module: &'static str,
}

impl Registry {
    /// The registry of every `#[derive(Multitenant)]` entity linked into this program, built
    /// once; cloning the `Arc` is all a new connection pays.
    pub fn global() -> Result<Arc<Registry>, RegistryError> {
        static GLOBAL: OnceLock<Result<Arc<Registry>, RegistryError>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                Registry::from_entries(inventory::iter::<RegisteredEntity>()).map(Arc::new)
            })
            .clone()
    }

    /// A registry of the given entries (the global one is built from all of them).
    pub fn from_entries<'a>(
        entries: impl IntoIterator<Item = &'a RegisteredEntity>,
    ) -> Result<Registry, RegistryError> {
        let mut tables: HashMap<&'static str, TableTenancy> = HashMap::new();
        for entry in entries {
            let table = (entry.table_name)();
            let info = TableTenancy {
                strategy: entry.strategy,
                global_rows: entry.global_rows,
                module: entry.module,
            };
            match tables.get(table) {
                Some(existing)
                    if existing.strategy != info.strategy
                        || existing.global_rows != info.global_rows =>
                {
                    return Err(RegistryError {
                        table,
                        first: existing.strategy,
                        first_module: existing.module,
                        second: info.strategy,
                        second_module: info.module,
                    });
                }
                Some(_) => {}
                None => {
                    tables.insert(table, info);
                }
            }
        }
        Ok(Registry { tables })
    }

    /// Adds (or replaces) one table: for tests and for apps that register tables by hand.
    pub fn with_table(mut self, table: &'static str, strategy: Strategy) -> Self {
        self.tables.insert(
            table,
            TableTenancy {
                strategy,
                global_rows: false,
                module: "<registered by hand>",
            },
        );
        self
    }

    /// [`Registry::with_table`] for an attribute table with shared rows (`global_rows`).
    pub fn with_global_rows(mut self, table: &'static str, column: &'static str) -> Self {
        self.tables.insert(
            table,
            TableTenancy {
                strategy: Strategy::Attribute { column },
                global_rows: true,
                module: "<registered by hand>",
            },
        );
        self
    }

    /// The tenancy of `table`, or `None` for a global table.
    pub fn get(&self, table: &str) -> Option<&TableTenancy> {
        self.tables.get(table)
    }

    /// Every multitenant table, sorted by name.
    pub fn tables(&self) -> Vec<(&'static str, TableTenancy)> {
        let mut all: Vec<_> = self.tables.iter().map(|(k, v)| (*k, *v)).collect();
        all.sort_by_key(|(k, _)| *k);
        all
    }

    /// Every attribute-strategy table with its tenant column, sorted by table name.
    pub fn attribute_tables(&self) -> Vec<(&'static str, &'static str)> {
        self.tables()
            .into_iter()
            .filter_map(|(table, info)| info.strategy.column().map(|column| (table, column)))
            .collect()
    }

    /// Whether any table uses the attribute strategy.
    pub fn has_attribute_tables(&self) -> bool {
        self.tables
            .values()
            .any(|t| matches!(t.strategy, Strategy::Attribute { .. }))
    }
}

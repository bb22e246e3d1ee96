//! Schema changes as plain data: what [`super::diff`] finds, [`super::order`] sorts and
//! [`super::step`] turns into statements. Each carries what its inverse needs (the dropped
//! column's definition, the value that fills rows when a NOT NULL column comes back, the cast
//! back to the old type), so `down` is generated from the same data and undoes `up` exactly.

use super::snapshot::{Column, ForeignKey, Index, Table, Tenancy};

/// How Citus keeps a table of the public set (see [`crate::citus`]); nothing on plain
/// PostgreSQL, where the calls that set it do nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Distribution {
    /// A global table: a reference table, copied to every node.
    Reference,
    /// An attribute table: distributed on its tenant column, colocated with the other attribute
    /// tables.
    ByTenant {
        /// The tenant column.
        column: String,
    },
}

impl Distribution {
    /// How Citus keeps `table`: global tables are reference tables, attribute tables are
    /// distributed on their tenant column, tenant schema tables get nothing from the generator
    /// (their distributed schema places them).
    pub fn of(table: &Table) -> Option<Distribution> {
        match &table.tenancy {
            Tenancy::Global => Some(Distribution::Reference),
            Tenancy::Attribute { column } => Some(Distribution::ByTenant {
                column: column.clone(),
            }),
            Tenancy::Schema => None,
        }
    }
}

/// How existing rows get through a column change (decided by the user where it is not obvious,
/// see [`super::decide`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversion {
    /// `USING` expression of a type change whose cast is not implicit.
    pub using: Option<String>,
    /// Value written into rows whose column is NULL before it becomes NOT NULL.
    pub fill: Option<String>,
}

/// One schema change within one migration set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Create a table with its columns, primary key and (non-deferred) foreign keys.
    CreateTable(Table),
    /// Make a public table a Citus reference table or distribute it on its tenant column
    /// (`sea_tenancy::citus::reference_table` / `distribute_table`, which do nothing on plain
    /// PostgreSQL). Before any foreign key of or to the table: Citus turns a table with a foreign
    /// key to a reference table into a local table, which can then no longer be distributed.
    Distribute {
        /// The table.
        table: String,
        /// How it was kept (none: the table is new, and `down` drops it, distribution and all).
        from: Option<Distribution>,
        /// How it is kept afterwards.
        to: Distribution,
    },
    /// Drop a table (the definition is kept: `down` recreates it whole, see
    /// [`Operation::creation`]).
    DropTable(Table),
    /// Add a column.
    AddColumn {
        /// The table.
        table: String,
        /// The column.
        column: Column,
        /// What existing rows get when the column is NOT NULL without a default.
        fill: Option<String>,
    },
    /// Drop a column.
    DropColumn {
        /// The table.
        table: String,
        /// The column as it was.
        column: Column,
        /// What rows get when `down` adds the NOT NULL column back (none: nullable or defaulted).
        fill: Option<String>,
    },
    /// Rename a column (confirmed by the user).
    RenameColumn {
        /// The table.
        table: String,
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// Change a column's type, nullability, default or identity.
    AlterColumn {
        /// The table.
        table: String,
        /// Before.
        from: Column,
        /// After.
        to: Column,
        /// How rows get from `from` to `to`.
        forward: Conversion,
        /// How rows get back (for `down`).
        back: Conversion,
    },
    /// Replace the primary key (`from` empty: none yet).
    SetPrimaryKey {
        /// The table.
        table: String,
        /// The old key's columns.
        from: Vec<String>,
        /// The new key's columns.
        to: Vec<String>,
    },
    /// Create an index or unique constraint.
    AddIndex {
        /// The table.
        table: String,
        /// The index.
        index: Index,
    },
    /// Drop an index or unique constraint.
    DropIndex {
        /// The table.
        table: String,
        /// The index as it was.
        index: Index,
    },
    /// Add a foreign key to an existing table.
    AddForeignKey {
        /// The table.
        table: String,
        /// The key.
        foreign_key: ForeignKey,
    },
    /// Drop a foreign key.
    DropForeignKey {
        /// The table.
        table: String,
        /// The key as it was.
        foreign_key: ForeignKey,
    },
    /// Row-level security for an attribute table (`rls::enable_tenant_isolation`, or
    /// `rls::enable_tenant_isolation_keep_default` when the declared default is kept).
    EnableTenantIsolation(Isolation),
    /// Remove it (`rls::disable_tenant_isolation`), then restore the declared default.
    DisableTenantIsolation(Isolation),
    /// The guard trigger of a `ManageTenant` table (`manage::install_guard`).
    InstallGuard {
        /// The table.
        table: String,
        /// The template columns.
        columns: Vec<String>,
    },
    /// Remove the guard trigger (the table stops being the `ManageTenant` table).
    RemoveGuard {
        /// The table.
        table: String,
        /// The template columns it watched (for `down`).
        columns: Vec<String>,
    },
}

/// Row-level security of one attribute table, and the tenant column's declared default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolation {
    /// The table.
    pub table: String,
    /// Its tenant column.
    pub column: String,
    /// The default the entity declares on the tenant column (what the column has without
    /// isolation).
    pub declared_default: Option<String>,
    /// Keep the declared default instead of stamping the tenant key (only with a declared default).
    pub keep_default: bool,
    /// NULL tenant column = shared row (`global_rows`).
    pub global_rows: bool,
}

impl Isolation {
    /// The isolation of `table`, when it is an attribute table.
    pub fn of(table: &Table) -> Option<Isolation> {
        let Tenancy::Attribute { column } = &table.tenancy else {
            return None;
        };
        let declared_default = table.column(column).and_then(|c| c.default.clone());
        Some(Isolation {
            table: table.name.clone(),
            column: column.clone(),
            keep_default: table.keep_tenant_default && declared_default.is_some(),
            global_rows: table.global_rows,
            declared_default,
        })
    }
}

impl Operation {
    /// The operations that create `t` whole: the table, its row-level security, its Citus
    /// distribution (public tables), its indexes, the foreign keys that must wait (every key of
    /// a public table, which Citus needs after the distribution; a key to the table itself over
    /// columns only a unique index makes unique; a key sea-query cannot write inline,
    /// `SET NULL (column)`) and the guard. `DropTable`'s `down` is the same list.
    ///
    /// Row-level security comes before the distribution: it sets the tenant column's default,
    /// and Citus refuses any change to the distribution column of a distributed table.
    pub fn creation(t: &Table) -> Vec<Operation> {
        let distribution = Distribution::of(t);
        let (deferred, inline): (Vec<ForeignKey>, Vec<ForeignKey>) =
            t.foreign_keys.iter().cloned().partition(|fk| {
                let self_unique = fk.references.schema.is_none()
                    && fk.references.table == t.name
                    && fk.references.columns != t.primary_key;
                distribution.is_some() || self_unique || fk.has_column_list()
            });
        let mut ops = vec![Operation::CreateTable(Table {
            foreign_keys: inline,
            ..t.clone()
        })];
        ops.extend(Isolation::of(t).map(Operation::EnableTenantIsolation));
        ops.extend(distribution.map(|to| Operation::Distribute {
            table: t.name.clone(),
            from: None,
            to,
        }));
        ops.extend(t.indexes.iter().map(|index| Operation::AddIndex {
            table: t.name.clone(),
            index: index.clone(),
        }));
        ops.extend(
            deferred
                .into_iter()
                .map(|foreign_key| Operation::AddForeignKey {
                    table: t.name.clone(),
                    foreign_key,
                }),
        );
        if let Some(columns) = &t.manage_tenant {
            ops.push(Operation::InstallGuard {
                table: t.name.clone(),
                columns: columns.clone(),
            });
        }
        ops
    }

    /// The table the operation changes.
    pub fn table(&self) -> &str {
        match self {
            Operation::CreateTable(t) | Operation::DropTable(t) => &t.name,
            Operation::Distribute { table, .. } => table,
            Operation::EnableTenantIsolation(i) | Operation::DisableTenantIsolation(i) => &i.table,
            Operation::AddColumn { table, .. }
            | Operation::DropColumn { table, .. }
            | Operation::RenameColumn { table, .. }
            | Operation::AlterColumn { table, .. }
            | Operation::SetPrimaryKey { table, .. }
            | Operation::AddIndex { table, .. }
            | Operation::DropIndex { table, .. }
            | Operation::AddForeignKey { table, .. }
            | Operation::DropForeignKey { table, .. }
            | Operation::InstallGuard { table, .. }
            | Operation::RemoveGuard { table, .. } => table,
        }
    }

    /// The operations that undo this one, in the order they run (none for the distribution of
    /// a new table: `down` drops the table, which drops its distribution on Citus).
    pub fn inverse(&self) -> Vec<Operation> {
        vec![match self.clone() {
            Operation::CreateTable(t) => Operation::DropTable(t),
            Operation::DropTable(t) => return Operation::creation(&t),
            Operation::Distribute {
                table,
                from: Some(from),
                to,
            } => Operation::Distribute {
                table,
                from: Some(to),
                to: from,
            },
            Operation::Distribute { from: None, .. } => return Vec::new(),
            Operation::AddColumn {
                table,
                column,
                fill,
            } => Operation::DropColumn {
                table,
                column,
                fill,
            },
            Operation::DropColumn {
                table,
                column,
                fill,
            } => Operation::AddColumn {
                table,
                column,
                fill,
            },
            Operation::RenameColumn { table, from, to } => Operation::RenameColumn {
                table,
                from: to,
                to: from,
            },
            Operation::AlterColumn {
                table,
                from,
                to,
                forward,
                back,
            } => Operation::AlterColumn {
                table,
                from: to,
                to: from,
                forward: back,
                back: forward,
            },
            Operation::SetPrimaryKey { table, from, to } => Operation::SetPrimaryKey {
                table,
                from: to,
                to: from,
            },
            Operation::AddIndex { table, index } => Operation::DropIndex { table, index },
            Operation::DropIndex { table, index } => Operation::AddIndex { table, index },
            Operation::AddForeignKey { table, foreign_key } => {
                Operation::DropForeignKey { table, foreign_key }
            }
            Operation::DropForeignKey { table, foreign_key } => {
                Operation::AddForeignKey { table, foreign_key }
            }
            Operation::EnableTenantIsolation(i) => Operation::DisableTenantIsolation(i),
            Operation::DisableTenantIsolation(i) => Operation::EnableTenantIsolation(i),
            Operation::InstallGuard { table, columns } => Operation::RemoveGuard { table, columns },
            Operation::RemoveGuard { table, columns } => Operation::InstallGuard { table, columns },
        }]
    }

    /// The operations of the `down` that undoes `ops` (an `up`): their inverses, last first,
    /// without disabling the row-level security of a table the same `down` drops (the drop
    /// takes it along; disabling drops the tenant column's default, which Citus refuses on a
    /// distributed table).
    pub fn rollback(ops: &[Operation]) -> Vec<Operation> {
        let created: Vec<&str> = ops
            .iter()
            .filter_map(|op| match op {
                Operation::CreateTable(t) => Some(t.name.as_str()),
                _ => None,
            })
            .collect();
        ops.iter()
            .rev()
            .flat_map(Operation::inverse)
            .filter(|op| {
                !matches!(op, Operation::DisableTenantIsolation(i) if created.contains(&i.table.as_str()))
            })
            .collect()
    }

    /// One line for `--check` and `--dry-run` summaries.
    pub fn describe(&self) -> String {
        match self {
            Operation::CreateTable(t) => format!("create table {}", t.name),
            Operation::DropTable(t) => format!("drop table {}", t.name),
            Operation::Distribute {
                table,
                to: Distribution::Reference,
                ..
            } => format!("make {table} a reference table (Citus)"),
            Operation::Distribute {
                table,
                to: Distribution::ByTenant { column },
                ..
            } => format!("distribute {table} on {column} (Citus)"),
            Operation::AddColumn { table, column, .. } => {
                format!("add column {table}.{}", column.name)
            }
            Operation::DropColumn { table, column, .. } => {
                format!("drop column {table}.{}", column.name)
            }
            Operation::RenameColumn { table, from, to } => {
                format!("rename column {table}.{from} to {to}")
            }
            Operation::AlterColumn { table, to, .. } => format!("alter column {table}.{}", to.name),
            Operation::SetPrimaryKey { table, to, .. } => {
                format!("primary key of {table} becomes ({})", to.join(", "))
            }
            Operation::AddIndex { index, .. } => format!("add index {}", index.name),
            Operation::DropIndex { index, .. } => format!("drop index {}", index.name),
            Operation::AddForeignKey { foreign_key, .. } => {
                format!("add foreign key {}", foreign_key.name)
            }
            Operation::DropForeignKey { foreign_key, .. } => {
                format!("drop foreign key {}", foreign_key.name)
            }
            Operation::EnableTenantIsolation(i) => {
                format!("enable tenant isolation on {}", i.table)
            }
            Operation::DisableTenantIsolation(i) => {
                format!("disable tenant isolation on {}", i.table)
            }
            Operation::InstallGuard { table, .. } => format!("install tenant guard on {table}"),
            Operation::RemoveGuard { table, .. } => format!("remove tenant guard from {table}"),
        }
    }
}

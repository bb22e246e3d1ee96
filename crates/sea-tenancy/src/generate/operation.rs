//! Schema changes as plain data: what [`super::diff`] finds, [`super::order`] sorts and
//! [`super::render`] writes. Each carries what its inverse needs, so `down` is generated too.

use super::snapshot::{Column, ForeignKey, Index, Table};

/// One schema change within one migration set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Create a table with its columns, primary key and foreign keys.
    CreateTable(Table),
    /// Drop a table (the definition is kept for `down`).
    DropTable(Table),
    /// Add a column.
    AddColumn {
        /// The table.
        table: String,
        /// The column.
        column: Column,
    },
    /// Drop a column.
    DropColumn {
        /// The table.
        table: String,
        /// The column as it was.
        column: Column,
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
    /// Change a column's type, nullability or default.
    AlterColumn {
        /// The table.
        table: String,
        /// Before.
        from: Column,
        /// After.
        to: Column,
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
    /// Row-level security for an attribute table (`rls::enable_tenant_isolation`).
    EnableTenantIsolation {
        /// The table.
        table: String,
        /// Its tenant column.
        column: String,
    },
    /// Remove it (`rls::disable_tenant_isolation`).
    DisableTenantIsolation {
        /// The table.
        table: String,
        /// Its tenant column.
        column: String,
    },
    /// The guard trigger of a `ManageTenant` table (`manage::install_guard`).
    InstallGuard {
        /// The table.
        table: String,
        /// The template columns.
        columns: Vec<String>,
    },
}

impl Operation {
    /// The table the operation changes.
    pub fn table(&self) -> &str {
        match self {
            Operation::CreateTable(t) | Operation::DropTable(t) => &t.name,
            Operation::AddColumn { table, .. }
            | Operation::DropColumn { table, .. }
            | Operation::RenameColumn { table, .. }
            | Operation::AlterColumn { table, .. }
            | Operation::AddIndex { table, .. }
            | Operation::DropIndex { table, .. }
            | Operation::AddForeignKey { table, .. }
            | Operation::DropForeignKey { table, .. }
            | Operation::EnableTenantIsolation { table, .. }
            | Operation::DisableTenantIsolation { table, .. }
            | Operation::InstallGuard { table, .. } => table,
        }
    }

    /// The operation that undoes this one (`None`: nothing to undo, e.g. a trigger that goes
    /// with its table).
    pub fn inverse(&self) -> Option<Operation> {
        Some(match self.clone() {
            Operation::CreateTable(t) => Operation::DropTable(t),
            Operation::DropTable(t) => Operation::CreateTable(t),
            Operation::AddColumn { table, column } => Operation::DropColumn { table, column },
            Operation::DropColumn { table, column } => Operation::AddColumn { table, column },
            Operation::RenameColumn { table, from, to } => Operation::RenameColumn {
                table,
                from: to,
                to: from,
            },
            Operation::AlterColumn { table, from, to } => Operation::AlterColumn {
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
            Operation::EnableTenantIsolation { table, column } => {
                Operation::DisableTenantIsolation { table, column }
            }
            Operation::DisableTenantIsolation { table, column } => {
                Operation::EnableTenantIsolation { table, column }
            }
            Operation::InstallGuard { .. } => return None,
        })
    }

    /// One line for `--check` and `--dry-run` summaries.
    pub fn describe(&self) -> String {
        match self {
            Operation::CreateTable(t) => format!("create table {}", t.name),
            Operation::DropTable(t) => format!("drop table {}", t.name),
            Operation::AddColumn { table, column } => format!("add column {table}.{}", column.name),
            Operation::DropColumn { table, column } => {
                format!("drop column {table}.{}", column.name)
            }
            Operation::RenameColumn { table, from, to } => {
                format!("rename column {table}.{from} to {to}")
            }
            Operation::AlterColumn { table, to, .. } => format!("alter column {table}.{}", to.name),
            Operation::AddIndex { index, .. } => format!("add index {}", index.name),
            Operation::DropIndex { index, .. } => format!("drop index {}", index.name),
            Operation::AddForeignKey { foreign_key, .. } => {
                format!("add foreign key {}", foreign_key.name)
            }
            Operation::DropForeignKey { foreign_key, .. } => {
                format!("drop foreign key {}", foreign_key.name)
            }
            Operation::EnableTenantIsolation { table, .. } => {
                format!("enable tenant isolation on {table}")
            }
            Operation::DisableTenantIsolation { table, .. } => {
                format!("disable tenant isolation on {table}")
            }
            Operation::InstallGuard { table, .. } => format!("install tenant guard on {table}"),
        }
    }
}

//! Operations → the statements that carry them out, in order. [`super::render`] writes each
//! step as sea-query builder code in the migration file and [`super::execute`] runs the same
//! steps on a connection, so what a test applies directly is what the files do.
//!
//! One operation can need several statements: a type change drops a default that would not
//! cast, converts with `USING`, and sets the new default; a NOT NULL column added to a table
//! that has rows gets its fill value as a temporary default; a column that becomes NOT NULL has
//! its NULLs filled first. Statements sea-query cannot build (identity, the primary key's
//! constraint, dropping a default, the guard's triggers) are plain SQL ([`Step::Sql`]).

use super::operation::{Conversion, Distribution, Isolation, Operation};
use super::snapshot::{Column, ForeignKey, Index, Table};

/// PostgreSQL's identifier limit in bytes.
pub(crate) const MAX_IDENT: usize = 63;

/// One statement (or sea-tenancy call) of a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A `//` comment in the file (nothing runs).
    Comment(String),
    /// `CREATE TABLE` with columns, primary key and the table's inline foreign keys.
    CreateTable(Table),
    /// `DROP TABLE`.
    DropTable(String),
    /// `sea_tenancy::citus::reference_table`.
    ReferenceTable {
        /// The table.
        table: String,
    },
    /// `sea_tenancy::citus::distribute_table`.
    DistributeTable {
        /// The table.
        table: String,
        /// Its tenant column.
        column: String,
    },
    /// `ADD COLUMN` (its default may be a temporary fill value, dropped by the next step).
    AddColumn {
        /// The table.
        table: String,
        /// The column as added.
        column: Column,
    },
    /// `DROP COLUMN`.
    DropColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// `RENAME COLUMN`.
    RenameColumn {
        /// The table.
        table: String,
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// `ALTER COLUMN`: any of `TYPE … [USING …]`, `SET/DROP NOT NULL`, `SET DEFAULT`, in one
    /// statement (sea-query writes `USING` last, so a conversion comes alone).
    ModifyColumn(Modify),
    /// `UPDATE … SET column = value WHERE column IS NULL`.
    Fill {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The value (SQL).
        value: String,
    },
    /// A statement sea-query cannot build (identity, the primary key's constraint, dropping a
    /// default, the guard's triggers), as plain SQL.
    Sql {
        /// The table it changes.
        table: String,
        /// The columns it names.
        columns: Vec<String>,
        /// The statement(s).
        sql: String,
    },
    /// `CREATE [UNIQUE] INDEX`.
    CreateIndex {
        /// The table.
        table: String,
        /// The index.
        index: Index,
    },
    /// `DROP INDEX`.
    DropIndex {
        /// The table.
        table: String,
        /// Its name.
        name: String,
    },
    /// `ADD CONSTRAINT … FOREIGN KEY`.
    AddForeignKey {
        /// The table.
        table: String,
        /// The key.
        foreign_key: ForeignKey,
    },
    /// `DROP CONSTRAINT` of a foreign key.
    DropForeignKey {
        /// The table.
        table: String,
        /// Its name.
        name: String,
    },
    /// `sea_tenancy::rls::enable_tenant_isolation[_with_global_rows][_keep_default]`.
    EnableIsolation {
        /// The table.
        table: String,
        /// Its tenant column.
        column: String,
        /// Keep the column's default instead of stamping the tenant key.
        keep_default: bool,
        /// NULL tenant column = shared row (`..._with_global_rows`).
        global_rows: bool,
    },
    /// `sea_tenancy::rls::disable_tenant_isolation`.
    DisableIsolation {
        /// The table.
        table: String,
        /// Its tenant column.
        column: String,
    },
    /// `sea_tenancy::manage::install_guard`.
    InstallGuard {
        /// The table.
        table: String,
        /// The template columns.
        columns: Vec<String>,
    },
}

/// What one `ALTER COLUMN` statement changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Modify {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// The new type.
    pub sql_type: Option<String>,
    /// The conversion, when the cast is not implicit.
    pub using: Option<String>,
    /// NULL allowed afterwards.
    pub nullable: Option<bool>,
    /// The new default (SQL).
    pub default: Option<String>,
}

impl Modify {
    fn of(table: &str, column: &str) -> Modify {
        Modify {
            table: table.to_owned(),
            column: column.to_owned(),
            ..Modify::default()
        }
    }

    /// Pushes it when it changes anything, and leaves an empty one.
    fn flush(&mut self, out: &mut Vec<Step>) {
        let fresh = Modify::of(&self.table, &self.column);
        if *self != fresh {
            out.push(Step::ModifyColumn(std::mem::replace(self, fresh)));
        }
    }
}

/// `"name"`, quoted for PostgreSQL.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The name PostgreSQL gives a table's primary key constraint: `<table>_pkey`, the table part
/// cut so the whole fits in 63 bytes (as `makeObjectName` does).
pub fn primary_key_name(table: &str) -> String {
    let room = MAX_IDENT - "_pkey".len();
    let mut cut = table.len().min(room);
    while !table.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_pkey", &table[..cut])
}

/// The triggers `sea_tenancy::manage::install_guard` creates on `table` (kept in step with it;
/// the generator's round-trip test fails if they drift).
fn guard_triggers(table: &str) -> [String; 2] {
    let prefix = table.replace('.', "_");
    [
        format!("{prefix}_sea_tenancy_guard"),
        format!("{prefix}_sea_tenancy_guard_update"),
    ]
}

fn sql(table: &str, columns: &[&str], sql: String) -> Step {
    Step::Sql {
        table: table.to_owned(),
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        sql,
    }
}

fn drop_default(table: &str, column: &str) -> Step {
    let text = format!(
        "ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT",
        quote(table),
        quote(column)
    );
    sql(table, &[column], text)
}

/// Identity numbering continues after the rows already there.
fn add_identity(table: &str, column: &str) -> Step {
    let text = format!(
        "ALTER TABLE {t} ALTER COLUMN {c} ADD GENERATED BY DEFAULT AS IDENTITY; \
         SELECT setval(pg_get_serial_sequence('{lit}', '{col}'), coalesce(max({c}), 0) + 1, false) FROM {t}",
        t = quote(table),
        c = quote(column),
        lit = quote(table).replace('\'', "''"),
        col = column.replace('\'', "''"),
    );
    sql(table, &[column], text)
}

fn drop_identity(table: &str, column: &str) -> Step {
    let text = format!(
        "ALTER TABLE {} ALTER COLUMN {} DROP IDENTITY",
        quote(table),
        quote(column)
    );
    sql(table, &[column], text)
}

fn drop_primary_key(table: &str) -> Step {
    let text = format!(
        "ALTER TABLE {} DROP CONSTRAINT {}",
        quote(table),
        quote(&primary_key_name(table))
    );
    sql(table, &[], text)
}

fn add_primary_key(table: &str, columns: &[String]) -> Step {
    let text = format!(
        "ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})",
        quote(table),
        quote(&primary_key_name(table)),
        columns
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    sql(table, &names, text)
}

/// A foreign key whose action names columns (`ON DELETE SET NULL (project_id)`, PostgreSQL 15),
/// which sea-query's builder cannot write.
fn add_foreign_key_sql(table: &str, fk: &ForeignKey) -> Step {
    let list = |columns: &[String]| {
        columns
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let target = match &fk.references.schema {
        Some(schema) => format!("{}.{}", quote(schema), quote(&fk.references.table)),
        None => quote(&fk.references.table),
    };
    let mut text = format!(
        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {target} ({})",
        quote(table),
        quote(&fk.name),
        list(&fk.columns),
        list(&fk.references.columns),
    );
    for (event, action) in [("DELETE", &fk.on_delete), ("UPDATE", &fk.on_update)] {
        if let Some(action) = action {
            // `SET NULL (a, b)`: the columns quoted like every other name.
            let action = match action.split_once(" (") {
                Some((verb, cols)) => {
                    let cols: Vec<String> = cols
                        .trim_end_matches(')')
                        .split(',')
                        .map(|c| c.trim().to_owned())
                        .collect();
                    format!("{verb} ({})", list(&cols))
                }
                None => action.clone(),
            };
            text.push_str(&format!(" ON {event} {action}"));
        }
    }
    let names: Vec<&str> = fk.columns.iter().map(String::as_str).collect();
    sql(table, &names, text)
}

/// Drops the guard's triggers, and the shared trigger function once no table uses it. Only the
/// triggers that exist: on Citus there are none (`manage::install_guard` installs nothing
/// there), and Citus refuses even `DROP TRIGGER IF EXISTS` on a reference table.
fn remove_guard(table: &str) -> Step {
    let drop = |trigger: &str| {
        format!(
            "IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('{lit}') AND tgname = '{name}') \
             THEN DROP TRIGGER {trigger} ON {t}; END IF;",
            lit = quote(table).replace('\'', "''"),
            name = trigger.replace('\'', "''"),
            trigger = quote(trigger),
            t = quote(table),
        )
    };
    let [guard, update] = guard_triggers(table);
    let text = format!(
        "DO $$ BEGIN {} {} \
         IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgfoid = to_regprocedure('public.sea_tenancy_guard()')) \
         THEN DROP FUNCTION IF EXISTS public.sea_tenancy_guard(); END IF; END $$",
        drop(&guard),
        drop(&update),
    );
    sql(table, &[], text)
}

/// The steps of `op`, in order.
pub fn steps(op: &Operation) -> Vec<Step> {
    let mut out = Vec::new();
    match op {
        Operation::CreateTable(t) => {
            out.push(Step::CreateTable(t.clone()));
        }
        Operation::DropTable(t) => out.push(Step::DropTable(t.name.clone())),
        Operation::Distribute { table, from, to } => distribute(table, from.as_ref(), to, &mut out),
        Operation::AddColumn {
            table,
            column,
            fill,
        } => add_column(table, column, fill.as_deref(), &mut out),
        Operation::DropColumn { table, column, .. } => out.push(Step::DropColumn {
            table: table.clone(),
            column: column.name.clone(),
        }),
        Operation::RenameColumn { table, from, to } => out.push(Step::RenameColumn {
            table: table.clone(),
            from: from.clone(),
            to: to.clone(),
        }),
        Operation::AlterColumn {
            table,
            from,
            to,
            forward,
            ..
        } => alter_column(table, from, to, forward, &mut out),
        Operation::SetPrimaryKey { table, from, to } => {
            if !from.is_empty() {
                out.push(drop_primary_key(table));
            }
            if !to.is_empty() {
                out.push(add_primary_key(table, to));
            }
        }
        Operation::AddIndex { table, index } => out.push(Step::CreateIndex {
            table: table.clone(),
            index: index.clone(),
        }),
        Operation::DropIndex { table, index } => out.push(Step::DropIndex {
            table: table.clone(),
            name: index.name.clone(),
        }),
        Operation::AddForeignKey { table, foreign_key } if foreign_key.has_column_list() => {
            out.push(add_foreign_key_sql(table, foreign_key));
        }
        Operation::AddForeignKey { table, foreign_key } => out.push(Step::AddForeignKey {
            table: table.clone(),
            foreign_key: foreign_key.clone(),
        }),
        Operation::DropForeignKey { table, foreign_key } => out.push(Step::DropForeignKey {
            table: table.clone(),
            name: foreign_key.name.clone(),
        }),
        Operation::EnableTenantIsolation(i) => enable(i, &mut out),
        Operation::DisableTenantIsolation(i) => {
            out.push(Step::DisableIsolation {
                table: i.table.clone(),
                column: i.column.clone(),
            });
            if let Some(default) = &i.declared_default {
                out.push(Step::ModifyColumn(Modify {
                    default: Some(default.clone()),
                    ..Modify::of(&i.table, &i.column)
                }));
            }
        }
        Operation::InstallGuard { table, columns, .. } => {
            out.push(Step::Comment(format!(
                "`{table}` rows are tenants: they change only together with their schemas."
            )));
            out.push(Step::InstallGuard {
                table: table.clone(),
                columns: columns.clone(),
            });
        }
        Operation::RemoveGuard { table, .. } => out.push(remove_guard(table)),
    }
    out
}

fn distribute(table: &str, from: Option<&Distribution>, to: &Distribution, out: &mut Vec<Step>) {
    let kind = |d: &Distribution| match d {
        Distribution::Reference => "a reference table".to_owned(),
        Distribution::ByTenant { column } => format!("distributed on `{column}`"),
    };
    out.push(Step::Comment(match from {
        None => format!(
            "Citus: `{table}` becomes {}{} before any foreign key is added; nothing on plain PostgreSQL.",
            kind(to),
            if *to == Distribution::Reference {
                " (a copy on every node)"
            } else {
                ""
            }
        ),
        Some(from) => format!(
            "Citus: `{table}` is {} there and cannot become {} in place: the call stops the migration, naming the way out; nothing on plain PostgreSQL.",
            kind(from),
            kind(to)
        ),
    }));
    out.push(match to {
        Distribution::Reference => Step::ReferenceTable {
            table: table.to_owned(),
        },
        Distribution::ByTenant { column } => Step::DistributeTable {
            table: table.to_owned(),
            column: column.clone(),
        },
    });
}

fn add_column(table: &str, column: &Column, fill: Option<&str>, out: &mut Vec<Step>) {
    let needs_fill = !column.nullable && column.default.is_none() && !column.auto_increment;
    match fill.filter(|_| needs_fill) {
        Some(value) => {
            out.push(Step::Comment(format!(
                "Existing rows get {value}; the column keeps no default."
            )));
            out.push(Step::AddColumn {
                table: table.to_owned(),
                column: Column {
                    default: Some(value.to_owned()),
                    ..column.clone()
                },
            });
            out.push(drop_default(table, &column.name));
        }
        None => out.push(Step::AddColumn {
            table: table.to_owned(),
            column: column.clone(),
        }),
    }
}

fn alter_column(table: &str, from: &Column, to: &Column, conv: &Conversion, out: &mut Vec<Step>) {
    let column = to.name.as_str();
    if from.auto_increment && !to.auto_increment {
        out.push(drop_identity(table, column));
    }
    let retype = from.sql_type != to.sql_type;
    // A default may not cast to the new type: drop it first, set the new one after.
    let default_dropped = retype && from.default.is_some();
    if default_dropped {
        out.push(drop_default(table, column));
    }
    let mut pending = Modify::of(table, column);
    if retype {
        if let Some(using) = &conv.using {
            out.push(Step::Comment(format!(
                "`{}` → `{}` is not an implicit cast: rows are converted with {using}.",
                from.sql_type, to.sql_type
            )));
        }
        pending.sql_type = Some(to.sql_type.clone());
        pending.using = conv.using.clone();
        if conv.using.is_some() {
            pending.flush(out);
        }
    }
    if from.nullable != to.nullable {
        if !to.nullable
            && let Some(value) = &conv.fill
        {
            pending.flush(out);
            out.push(Step::Fill {
                table: table.to_owned(),
                column: column.to_owned(),
                value: value.clone(),
            });
        }
        pending.nullable = Some(to.nullable);
    }
    let default_changes = default_dropped || from.default != to.default;
    if default_changes {
        pending.default.clone_from(&to.default);
    }
    pending.flush(out);
    if default_changes && to.default.is_none() && !default_dropped {
        out.push(drop_default(table, column));
    }
    if !from.auto_increment && to.auto_increment {
        out.push(add_identity(table, column));
    }
}

fn enable(i: &Isolation, out: &mut Vec<Step>) {
    let keep = i.keep_default && i.declared_default.is_some();
    out.push(Step::Comment(if keep {
        format!(
            "Attribute strategy: PostgreSQL keeps each tenant's `{}` rows apart (row-level security on `{}`); the declared default of `{}` is kept.",
            i.table, i.column, i.column
        )
    } else {
        format!(
            "Attribute strategy: PostgreSQL keeps each tenant's `{}` rows apart (row-level security on `{}`).",
            i.table, i.column
        )
    }));
    if i.global_rows {
        out.push(Step::Comment(format!(
            "Rows whose `{}` is NULL are shared: every tenant reads them, only the global connection writes them.",
            i.column
        )));
    }
    out.push(Step::EnableIsolation {
        table: i.table.clone(),
        column: i.column.clone(),
        keep_default: keep,
        global_rows: i.global_rows,
    });
}

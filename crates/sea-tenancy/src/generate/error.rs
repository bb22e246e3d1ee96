//! Everything that stops the generator, each saying what to change.

use std::path::PathBuf;

/// Why no migration was generated. Nothing is written when any of these occurs.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A relation points at a table no entity of the program defines.
    #[error(
        "entity `{entity}` (table `{table}`): field `{field}` references table `{target}`, which no entity defines; add the entity for `{target}` or remove the relation"
    )]
    UnknownReference {
        /// The entity's module path.
        entity: String,
        /// Its table.
        table: String,
        /// The referencing column(s).
        field: String,
        /// The unknown table.
        target: String,
    },
    /// The composite foreign key of an attribute entity needs a NOT NULL tenant column.
    #[error(
        "entity `{entity}` (table `{table}`): tenant column `{column}` is nullable; attribute-strategy tables need a NOT NULL tenant column (make the field non-optional) so composite foreign keys are always checked — or, if rows without a tenant are meant to be shared by all tenants, declare them: #[multitenant(strategy = \"attribute\", column = \"{column}\", global_rows)]"
    )]
    NullableTenantColumn {
        /// The entity's module path.
        entity: String,
        /// Its table.
        table: String,
        /// The tenant column.
        column: String,
    },
    /// PostgreSQL would silently truncate the name.
    #[error(
        "entity `{entity}` (table `{table}`): {what} gets the name `{name}`, {len} bytes; PostgreSQL truncates identifiers over 63 bytes, so shorten the table or field names involved"
    )]
    IdentifierTooLong {
        /// The entity's module path.
        entity: String,
        /// Its table.
        table: String,
        /// What carries the name (`field \`x\``, `the unique index on field(s) \`a, b\``).
        what: String,
        /// The identifier.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// Two indexes (or an index and a table) of one set get the same name.
    #[error(
        "{first} and {second} both get the name `{name}` (PostgreSQL names indexes and tables in one namespace); rename a field or table"
    )]
    NameClash {
        /// The name.
        name: String,
        /// One owner.
        first: String,
        /// The other.
        second: String,
    },
    /// Two entities claim one table.
    #[error("table `{table}` is defined by both `{first}` and `{second}`")]
    DuplicateTable {
        /// The table.
        table: String,
        /// One entity.
        first: String,
        /// The other.
        second: String,
    },
    /// A column disappeared and another appeared in one table: maybe a rename.
    #[error(
        "in table `{table}`, column(s) {dropped} disappeared and {added} appeared. If one was renamed pass `--rename {table}.OLD=NEW` (e.g. `--rename {table}.{first_dropped}={first_added}`); to drop and add them (losing the dropped columns' data) pass `--no-rename`"
    )]
    AmbiguousRename {
        /// The table.
        table: String,
        /// Names of the columns that disappeared.
        dropped: String,
        /// Names of the columns that appeared.
        added: String,
        /// One dropped column (for the example).
        first_dropped: String,
        /// One added column (for the example).
        first_added: String,
    },
    /// A `--rename` names a column that does not fit.
    #[error(
        "--rename {spec}: {reason}; the syntax is `--rename TABLE.OLD=NEW` with OLD in the snapshot and NEW in the entity"
    )]
    BadRename {
        /// The argument as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A decision flag (`--default`, `--using`, `--using-back`, `--tenant-default`) is malformed
    /// or answers nothing.
    #[error("{flag} {spec}: {reason}")]
    BadDecision {
        /// The flag.
        flag: String,
        /// The argument as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A change needs a decision no flag gave and no terminal could be asked.
    #[error(
        "{question} Pass `{flag}`, or run `generate-migrations` on a terminal to be asked; nothing was written"
    )]
    Undecided {
        /// The question.
        question: String,
        /// The flag that answers it.
        flag: String,
    },
    /// A public-set change would have to wait for a tenant-set change, but public migrations
    /// run first.
    #[error(
        "{change} in the public set, but tenant tables reference it ({references}) until the tenant migration drops those keys, and public migrations run first. Remove those relations from the entities first (generate and migrate), then make this change in a second migration; nothing was written"
    )]
    CrossSet {
        /// What the public set does (`table \`users\` is dropped`).
        change: String,
        /// The tenant foreign keys in the way.
        references: String,
    },
    /// The migration name would not make a Rust module name.
    #[error(
        "--name {0:?}: a migration name needs letters, digits or `_` (it becomes a Rust module), e.g. `add_post_views`"
    )]
    BadName(String),
    /// A migration of the same module name exists (two runs within one second).
    #[error("{0} exists already: run again a second later, or pass another --name")]
    MigrationExists(PathBuf),
    /// `--redo` cannot replace the latest migration.
    #[error("--redo: {0}")]
    Redo(String),
    /// sea-orm produced SQL this generator does not understand.
    #[error("cannot read the schema of entity `{entity}`: {reason} (in `{sql}`)")]
    UnreadableEntity {
        /// The entity's module path.
        entity: String,
        /// What was unexpected.
        reason: String,
        /// The SQL sea-orm built for it.
        sql: String,
    },
    /// Tables whose foreign keys form a cycle cannot be created in one order.
    #[error(
        "the new foreign keys form a cycle through tables {0}; break it by making one relation optional and adding it in a later migration"
    )]
    Cycle(String),
    /// A snapshot file does not parse.
    #[error("snapshot `{path}` is not valid: {reason}; fix it or delete it and regenerate")]
    BadSnapshot {
        /// The file.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },
    /// A migration crate's `lib.rs` has no `vec![..]` of migrations to register into.
    #[error(
        "cannot register the migration in `{0}`: it has no `vec![..]` in `fn migrations()`; register `{1}` by hand"
    )]
    Unregistrable(PathBuf, String),
    /// Reading or writing files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `sea-tenancy.toml` could not be read as a layout.
    #[error(
        "{path}: {reason}; expected e.g. `[paths]` with `public = \"migration\"`, `tenant = \"tenant_migration\"`, `snapshots = \"snapshots\"`"
    )]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The generated source did not parse (a bug in the generator).
    #[error("generated source does not parse (a sea-tenancy bug, please report): {0}")]
    Render(String),
}

impl GenerateError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        GenerateError::Io {
            path: path.into(),
            source,
        }
    }
}

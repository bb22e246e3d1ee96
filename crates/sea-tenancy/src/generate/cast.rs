//! Whether PostgreSQL converts a column from one type to another by itself.
//!
//! `ALTER COLUMN … TYPE` without `USING` converts with the assignment cast, so it works when
//! `pg_cast` has an implicit or assignment cast, when only the length or precision changes, and
//! when the target is a string type (every type prints as text). Anything else fails at once
//! ("column cannot be cast automatically") unless the migration says how: that is a decision for
//! the user ([`super::decide`]). The table below is `pg_cast` of PostgreSQL 15 for the types
//! sea-orm entities produce.

/// What PostgreSQL can do with `from` → `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cast {
    /// Converts by itself: no `USING` needed.
    Implicit,
    /// Only an explicit cast exists: `USING "column"::to` works for rows that convert.
    Explicit,
    /// No cast at all: only an expression the user writes converts.
    None,
    /// A type this table does not know (a custom type): the user must say.
    Unknown,
}

/// Implicit or assignment casts between different base types (`pg_cast`, context `i` or `a`).
const ASSIGNMENT: &[(&str, &[&str])] = &[
    (
        "smallint",
        &["integer", "bigint", "real", "double precision", "numeric"],
    ),
    (
        "integer",
        &["smallint", "bigint", "real", "double precision", "numeric"],
    ),
    (
        "bigint",
        &["smallint", "integer", "real", "double precision", "numeric"],
    ),
    (
        "real",
        &[
            "smallint",
            "integer",
            "bigint",
            "double precision",
            "numeric",
        ],
    ),
    (
        "double precision",
        &["smallint", "integer", "bigint", "real", "numeric"],
    ),
    (
        "numeric",
        &["smallint", "integer", "bigint", "real", "double precision"],
    ),
    ("date", &["timestamp", "timestamp with time zone"]),
    ("timestamp", &["date", "time", "timestamp with time zone"]),
    ("timestamp with time zone", &["date", "time", "timestamp"]),
    ("json", &["jsonb"]),
    ("jsonb", &["json"]),
];

/// Explicit-only casts (`pg_cast`, context `e`) between different base types.
const EXPLICIT: &[(&str, &[&str])] = &[
    ("boolean", &["integer"]),
    ("integer", &["boolean"]),
    (
        "jsonb",
        &[
            "boolean",
            "smallint",
            "integer",
            "bigint",
            "real",
            "double precision",
            "numeric",
        ],
    ),
];

const STRINGS: &[&str] = &["varchar", "char", "text"];

const KNOWN: &[&str] = &[
    "smallint",
    "integer",
    "bigint",
    "varchar",
    "char",
    "text",
    "boolean",
    "real",
    "double precision",
    "numeric",
    "date",
    "time",
    "timestamp",
    "timestamp with time zone",
    "uuid",
    "json",
    "jsonb",
    "bytea",
];

/// The base type of a column type as sea-query writes it (`varchar(20)` → `varchar`), in one
/// spelling.
fn base(sql_type: &str) -> &str {
    let b = sql_type.split('(').next().unwrap_or(sql_type).trim();
    match b {
        "bool" => "boolean",
        "character varying" => "varchar",
        "character" => "char",
        "time without time zone" => "time",
        "timestamp without time zone" => "timestamp",
        "int" | "int4" => "integer",
        "int8" => "bigint",
        "int2" => "smallint",
        other => other,
    }
}

fn listed(table: &[(&str, &[&str])], from: &str, to: &str) -> bool {
    table
        .iter()
        .any(|(f, targets)| *f == from && targets.contains(&to))
}

/// What PostgreSQL does converting a column of type `from` to `to`.
pub fn cast(from: &str, to: &str) -> Cast {
    let (f, t) = (base(from), base(to));
    if f == t || STRINGS.contains(&t) {
        return Cast::Implicit;
    }
    if !KNOWN.contains(&f) || !KNOWN.contains(&t) {
        return Cast::Unknown;
    }
    if listed(ASSIGNMENT, f, t) {
        Cast::Implicit
    } else if listed(EXPLICIT, f, t) || STRINGS.contains(&f) {
        Cast::Explicit
    } else {
        Cast::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_pg_cast() {
        assert_eq!(cast("integer", "bigint"), Cast::Implicit);
        assert_eq!(cast("bigint", "integer"), Cast::Implicit);
        assert_eq!(cast("varchar(20)", "varchar(200)"), Cast::Implicit);
        assert_eq!(cast("bigint", "text"), Cast::Implicit);
        assert_eq!(cast("varchar", "integer"), Cast::Explicit);
        assert_eq!(cast("boolean", "integer"), Cast::Explicit);
        assert_eq!(cast("uuid", "bigint"), Cast::None);
        assert_eq!(cast("citext", "text"), Cast::Implicit);
        assert_eq!(cast("text", "citext"), Cast::Unknown);
    }
}

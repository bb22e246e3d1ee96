//! [`Tenant`]: the validated identity of one tenant.
//!
//! A tenant is named twice: by the PostgreSQL schema that holds its schema-strategy tables
//! (`org_1`) and by the key value its rows carry in attribute-strategy tables (`1`). Both travel
//! together so one value routes every strategy.
//!
//! The schema name reaches SQL as an identifier, so it is validated here, once, before any
//! statement is built — and quoted on top of that wherever it is used.

use std::fmt;
use std::sync::Arc;

/// PostgreSQL truncates identifiers longer than this many bytes (`NAMEDATALEN - 1`); we reject
/// them instead, so two long names can never collapse into the same schema.
pub const MAX_SCHEMA_LEN: usize = 63;

/// The longest tenant key we accept. Keys travel as bind parameters, never as SQL text; the
/// bound only keeps a mistake (a whole document passed as a key) from reaching the server.
pub const MAX_KEY_LEN: usize = 255;

/// Schema names PostgreSQL or every database already uses: a tenant must never be one of them.
const RESERVED_SCHEMAS: &[&str] = &["public", "information_schema"];

/// One tenant: the schema that holds its schema-strategy tables and the key its rows carry in
/// attribute-strategy tables.
///
/// ```
/// use sea_tenancy::Tenant;
///
/// let acme = Tenant::new("org_1", 1).unwrap();
/// assert_eq!(acme.schema(), "org_1");
/// assert_eq!(acme.key(), "1");
///
/// // Anything that could escape an identifier is refused before it can reach SQL.
/// let err = Tenant::new("org_1\"; DROP SCHEMA public; --", 1).unwrap_err();
/// assert!(err.to_string().contains("not allowed"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Tenant {
    inner: Arc<TenantInner>,
}

#[derive(PartialEq, Eq, Hash)]
struct TenantInner {
    schema: String,
    key: String,
    /// `"org_1"`: computed once, because every routed statement needs it.
    quoted_schema: String,
}

/// Why a tenant name or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    /// The schema name is empty.
    #[error("tenant schema name is empty")]
    Empty,
    /// The schema name is longer than PostgreSQL keeps.
    #[error(
        "tenant schema name `{name}` is {len} bytes long; PostgreSQL keeps at most {MAX_SCHEMA_LEN} bytes of an identifier, so it is refused rather than silently truncated"
    )]
    TooLong {
        /// The refused name.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The schema name starts with `pg_`, a prefix PostgreSQL reserves for system schemas.
    #[error(
        "tenant schema name `{0}` starts with `pg_`, which PostgreSQL reserves for system schemas"
    )]
    SystemPrefix(String),
    /// The schema name contains a character outside `[a-z0-9_]`.
    #[error(
        "tenant schema name {name:?} contains {found:?} at byte {at}, which is not allowed: use only lower-case ASCII letters, digits and `_`"
    )]
    InvalidCharacter {
        /// The refused name.
        name: String,
        /// The first offending character.
        found: char,
        /// Its byte offset.
        at: usize,
    },
    /// The schema name is one every database already has.
    #[error("tenant schema name `{0}` is reserved: every PostgreSQL database already has it")]
    Reserved(String),
    /// The tenant key is empty.
    #[error("tenant key is empty; attribute-strategy rows need a non-empty key")]
    EmptyKey,
    /// The tenant key is unreasonably long.
    #[error("tenant key is {0} bytes long; at most {MAX_KEY_LEN} bytes are accepted")]
    KeyTooLong(usize),
    /// The tenant key contains a NUL character, which PostgreSQL text cannot hold.
    #[error("tenant key contains a NUL character, which PostgreSQL text cannot hold")]
    KeyNul,
}

impl Tenant {
    /// A tenant from its schema name and its key in attribute-strategy tables.
    ///
    /// The key is whatever the tenant column holds (an id, a UUID, a slug), rendered as text; it
    /// is only ever sent as a bind parameter and cast by PostgreSQL to the column's type.
    pub fn new(schema: impl Into<String>, key: impl ToString) -> Result<Self, TenantError> {
        let schema = schema.into();
        validate_schema_name(&schema)?;
        let key = key.to_string();
        if key.is_empty() {
            return Err(TenantError::EmptyKey);
        }
        if key.len() > MAX_KEY_LEN {
            return Err(TenantError::KeyTooLong(key.len()));
        }
        if key.contains('\0') {
            return Err(TenantError::KeyNul);
        }
        let quoted_schema = quote_ident(&schema);
        Ok(Self {
            inner: Arc::new(TenantInner {
                schema,
                key,
                quoted_schema,
            }),
        })
    }

    /// A tenant whose key is its schema name: for apps that only use the schema strategy, or
    /// whose tenant column holds the schema name itself.
    pub fn from_schema(schema: impl Into<String>) -> Result<Self, TenantError> {
        let schema = schema.into();
        Self::new(schema.clone(), schema)
    }

    /// The schema name, unquoted (`org_1`).
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// The schema name quoted as a PostgreSQL identifier (`"org_1"`).
    pub fn quoted_schema(&self) -> &str {
        &self.inner.quoted_schema
    }

    /// The key value attribute-strategy rows of this tenant carry, as text.
    pub fn key(&self) -> &str {
        &self.inner.key
    }
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tenant")
            .field("schema", &self.inner.schema)
            .field("key", &self.inner.key)
            .finish()
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.schema)
    }
}

/// Checks that `name` can be a tenant schema: 1..=63 bytes of `[a-z0-9_]`, no `pg_` prefix, not
/// `public` or `information_schema`.
///
/// ```
/// use sea_tenancy::tenant::{validate_schema_name, TenantError};
///
/// assert!(validate_schema_name("org_42").is_ok());
/// assert!(matches!(validate_schema_name("pg_toast"), Err(TenantError::SystemPrefix(_))));
/// assert!(matches!(validate_schema_name("Org"), Err(TenantError::InvalidCharacter { .. })));
/// ```
pub fn validate_schema_name(name: &str) -> Result<(), TenantError> {
    if name.is_empty() {
        return Err(TenantError::Empty);
    }
    if let Some((at, found)) = name
        .char_indices()
        .find(|(_, c)| !matches!(c, 'a'..='z' | '0'..='9' | '_'))
    {
        return Err(TenantError::InvalidCharacter {
            name: name.to_owned(),
            found,
            at,
        });
    }
    if name.len() > MAX_SCHEMA_LEN {
        return Err(TenantError::TooLong {
            name: name.to_owned(),
            len: name.len(),
        });
    }
    if name.starts_with("pg_") {
        return Err(TenantError::SystemPrefix(name.to_owned()));
    }
    if RESERVED_SCHEMAS.contains(&name) {
        return Err(TenantError::Reserved(name.to_owned()));
    }
    Ok(())
}

/// Quotes `ident` as a PostgreSQL identifier, doubling embedded quotes.
///
/// Validated tenant names never contain quotes; this is the second line of defence for every
/// identifier the library puts into SQL text.
pub fn quote_ident(ident: &str) -> String {
    let mut out = String::with_capacity(ident.len() + 2);
    out.push('"');
    for c in ident.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Quotes `text` as a PostgreSQL string literal: quotes doubled, and backslashes doubled in
/// the `E'..'` form, so the result means `text` whatever `standard_conforming_strings` says.
/// For the few values that must be spliced into SQL text (role passwords and tenant keys in a
/// batch sent as one simple query); everything else travels as bind parameters.
pub fn quote_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 3);
    if text.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Checks a role name the library will put into `SET LOCAL ROLE`: the same alphabet and length
/// rules as tenant schema names (the `pg_` prefix is reserved for roles too).
pub fn validate_role_name(name: &str) -> Result<(), TenantError> {
    validate_schema_name(name)
}

/// Quotes each part of a possibly qualified name: `org_1.posts` → `"org_1"."posts"`.
pub fn quote_qualified(name: &str) -> String {
    name.split('.')
        .map(quote_ident)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names() {
        for name in ["org_1", "a", "tenant_0042", "_x", "1abc"] {
            assert!(validate_schema_name(name).is_ok(), "{name}");
        }
        let longest = "a".repeat(MAX_SCHEMA_LEN);
        assert!(validate_schema_name(&longest).is_ok());
    }

    #[test]
    fn rejects_each_rule_with_its_own_error() {
        assert_eq!(validate_schema_name(""), Err(TenantError::Empty));
        assert!(matches!(
            validate_schema_name(&"a".repeat(64)),
            Err(TenantError::TooLong { len: 64, .. })
        ));
        assert!(matches!(
            validate_schema_name("pg_catalog"),
            Err(TenantError::SystemPrefix(_))
        ));
        assert!(matches!(
            validate_schema_name("public"),
            Err(TenantError::Reserved(_))
        ));
        assert!(matches!(
            validate_schema_name("information_schema"),
            Err(TenantError::Reserved(_))
        ));
        for (name, bad) in [
            ("org_1\"; DROP SCHEMA public; --", '"'),
            ("org.1", '.'),
            ("org 1", ' '),
            ("Org_1", 'O'),
            ("org_é", 'é'),
            ("org-1", '-'),
            ("org'1", '\''),
            ("org;1", ';'),
            ("org\u{0}1", '\u{0}'),
        ] {
            match validate_schema_name(name) {
                Err(TenantError::InvalidCharacter { found, .. }) => {
                    assert_eq!(found, bad, "{name}")
                }
                other => panic!("{name:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn keys_are_bounded() {
        assert_eq!(Tenant::new("org_1", "").unwrap_err(), TenantError::EmptyKey);
        assert!(matches!(
            Tenant::new("org_1", "k".repeat(MAX_KEY_LEN + 1)),
            Err(TenantError::KeyTooLong(_))
        ));
    }

    #[test]
    fn literals_survive_quotes_and_backslashes() {
        assert_eq!(quote_literal("org_1"), "'org_1'");
        assert_eq!(quote_literal("o'k"), "'o''k'");
        assert_eq!(quote_literal(r"a\'b"), r"E'a\\''b'");
        assert_eq!(
            Tenant::new("org_1", "a\0b").unwrap_err(),
            TenantError::KeyNul
        );
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(
            Tenant::new("org_1", 1).unwrap().quoted_schema(),
            "\"org_1\""
        );
    }
}

//! Role names: one namespace per app database, one role per tenant inside it.
//!
//! Roles are cluster-wide — every database of a PostgreSQL server sees the same roles — so two
//! apps (or two databases of one app, or two test databases) on one server must never pick the
//! same name. Every role sea-tenancy creates starts with a *namespace*, by default derived from
//! the name of the app's database, which is unique on its server:
//!
//! | role | name | what it is |
//! |---|---|---|
//! | tenant | `<ns>_t_<schema>` (`saas_t_org_1`) | logs in for one tenant's statements |
//! | group | `<ns>_tenants` | NOLOGIN; what every tenant may do in `public` is granted to it |
//! | global | `<ns>_global` | logs in for statements without a tenant |
//! | reporting | `<ns>_reporting` | NOLOGIN; reads every tenant schema (queries across tenants) |
//!
//! A tenant role name longer than PostgreSQL's 63 bytes becomes `<ns>_h_<start>_<hash>`: the
//! `_h_` marker keeps it from ever equalling the plain name of another tenant, and the hash
//! (64 bits of SHA-256 of the whole schema name) keeps two long names apart.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::tenant::{MAX_SCHEMA_LEN, TenantError, validate_schema_name};

/// The longest namespace: leaves room for `_t_` and a tenant schema name of 36 bytes before
/// names need hashing.
pub const MAX_NAMESPACE_LEN: usize = 24;

/// Hex digits of the hash in shortened names.
const HASH_HEX: usize = 16;

/// The names of the roles of one app database. Cheap to clone.
///
/// ```
/// use sea_tenancy::roles::RoleNames;
///
/// let names = RoleNames::new("saas").unwrap();
/// assert_eq!(names.tenant("org_1"), "saas_t_org_1");
/// assert_eq!(names.global(), "saas_global");
/// assert_eq!(names.tenants(), "saas_tenants");
/// // Derived from the database name when the app does not choose one.
/// assert_eq!(RoleNames::for_database("saas_app").namespace(), "saas_app");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoleNames {
    inner: Arc<Inner>,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Inner {
    namespace: String,
    global: String,
    tenants: String,
    reporting: String,
}

impl RoleNames {
    /// Names in `namespace`: 1–24 bytes of `[a-z0-9_]`, not starting with `pg_`.
    pub fn new(namespace: impl Into<String>) -> Result<Self, TenantError> {
        let namespace = namespace.into();
        validate_schema_name(&namespace)?;
        if namespace.len() > MAX_NAMESPACE_LEN {
            return Err(TenantError::TooLong {
                len: namespace.len(),
                name: namespace,
            });
        }
        Ok(Self::from_valid(namespace))
    }

    /// The default namespace of an app whose database is `database`: the name itself when it
    /// is a short `[a-z0-9_]` name, else a readable start and a hash of the whole name.
    pub fn for_database(database: &str) -> Self {
        let mut ns: String = database
            .chars()
            .map(|c| match c.to_ascii_lowercase() {
                c @ ('a'..='z' | '0'..='9' | '_') => c,
                _ => '_',
            })
            .collect();
        if ns.is_empty() || ns.starts_with("pg_") {
            ns.insert_str(0, "db_");
        }
        if ns != database || ns.len() > MAX_NAMESPACE_LEN {
            // Another database could fold to the same characters: the hash tells them apart.
            ns.truncate(MAX_NAMESPACE_LEN - 1 - 8);
            ns.push('_');
            ns.push_str(&hash_hex(database)[..8]);
        }
        Self::from_valid(ns)
    }

    fn from_valid(namespace: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                global: format!("{namespace}_global"),
                tenants: format!("{namespace}_tenants"),
                reporting: format!("{namespace}_reporting"),
                namespace,
            }),
        }
    }

    /// The namespace every role name starts with.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The role statements without a tenant log in as.
    pub fn global(&self) -> &str {
        &self.inner.global
    }

    /// The group role every tenant role is a member of.
    pub fn tenants(&self) -> &str {
        &self.inner.tenants
    }

    /// The group role of reporting logins: `SELECT` on every tenant schema's tables (and on
    /// `public`'s), nothing else. Never a member of a tenant role, nor one of its members.
    pub fn reporting(&self) -> &str {
        &self.inner.reporting
    }

    /// The role of the tenant whose schema is `schema` (a validated schema name).
    pub fn tenant(&self, schema: &str) -> String {
        let ns = self.namespace();
        let plain = format!("{ns}_t_{schema}");
        if plain.len() <= MAX_SCHEMA_LEN {
            return plain;
        }
        let keep = MAX_SCHEMA_LEN - ns.len() - "_h_".len() - 1 - HASH_HEX;
        format!(
            "{ns}_h_{}_{}",
            &schema[..keep.min(schema.len())],
            &hash_hex(schema)[..HASH_HEX]
        )
    }
}

fn hash_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_validated() {
        assert!(RoleNames::new("app").is_ok());
        assert!(RoleNames::new("App").is_err());
        assert!(RoleNames::new("pg_app").is_err());
        assert!(RoleNames::new("a".repeat(MAX_NAMESPACE_LEN + 1)).is_err());
    }

    #[test]
    fn database_names_fold_into_distinct_namespaces() {
        assert_eq!(RoleNames::for_database("app").namespace(), "app");
        let a = RoleNames::for_database("My-App");
        let b = RoleNames::for_database("my_app");
        assert_ne!(a, b, "folding alone would merge them");
        assert_eq!(b.namespace(), "my_app");
        let long = RoleNames::for_database(&"x".repeat(63));
        assert!(long.namespace().len() <= MAX_NAMESPACE_LEN);
        assert!(RoleNames::new(long.namespace()).is_ok());
        assert!(
            !RoleNames::for_database("pg_x")
                .namespace()
                .starts_with("pg_")
        );
        assert!(RoleNames::new(RoleNames::for_database("").namespace()).is_ok());
    }

    #[test]
    fn tenant_roles_fit_and_never_collide() {
        let names = RoleNames::new("a".repeat(MAX_NAMESPACE_LEN)).unwrap();
        let long = "s".repeat(63);
        let role = names.tenant(&long);
        assert!(role.len() <= MAX_SCHEMA_LEN, "{role}");
        assert_ne!(role, names.tenant(&format!("{}t", &long[..62])));
        // A plain name can never take the shape of a shortened one.
        let plain = names.tenant("x");
        assert!(plain.starts_with(&format!("{}_t_", names.namespace())));
        assert!(role.starts_with(&format!("{}_h_", names.namespace())));
        assert_ne!(names.tenant("global"), names.global());
        assert_ne!(names.tenant("enants"), names.tenants());
        assert_ne!(names.tenant("reporting"), names.reporting());
    }
}

//! [`DatabaseUrl`]: a validated PostgreSQL connection string that never shows its password.
//!
//! Connection strings of tenant databases end up in catalogs, command lines, logs and error
//! messages; each of those is a place a password can leak. The URL is checked once, when it
//! enters the program, and its `Debug`/`Display` forms print `***` instead of the password.

use std::fmt;
use std::str::FromStr;

use sea_orm::sqlx::postgres::PgConnectOptions;

/// A PostgreSQL connection URL (`postgres://user:password@host:port/database?options`).
///
/// ```
/// use sea_tenancy::placement::DatabaseUrl;
///
/// let url: DatabaseUrl = "postgres://app:s3cret@db-eu:5432/tenants".parse().unwrap();
/// assert_eq!(url.to_string(), "postgres://app:***@db-eu:5432/tenants");
/// assert!(!format!("{url:?}").contains("s3cret"));
///
/// let err = "mysql://db/x".parse::<DatabaseUrl>().unwrap_err();
/// assert!(err.to_string().contains("postgres://"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
}

/// Why a connection string was refused. Its message never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not a `postgres://` or `postgresql://` URL.
    #[error(
        "`{0}` is not a PostgreSQL connection URL: it must start with postgres:// or postgresql://"
    )]
    Scheme(String),
    /// The URL names no database.
    #[error("connection URL `{0}` names no database: add `/<database>` after the host")]
    NoDatabase(String),
    /// The URL could not be parsed.
    #[error("connection URL `{url}` is invalid: {reason}")]
    Invalid {
        /// The URL, password masked.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

impl DatabaseUrl {
    /// Validates `url`.
    pub fn new(url: impl Into<String>) -> Result<Self, UrlError> {
        let url = url.into();
        let masked = mask(&url);
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(UrlError::Scheme(masked));
        }
        let options = PgConnectOptions::from_str(&url).map_err(|e| UrlError::Invalid {
            url: masked.clone(),
            // sqlx's message quotes the offending part, never the whole URL.
            reason: mask(&e.to_string()),
        })?;
        if options.get_database().is_none_or(str::is_empty) {
            return Err(UrlError::NoDatabase(masked));
        }
        Ok(Self { url })
    }

    /// The full URL, password included: only for connecting.
    pub fn expose(&self) -> &str {
        &self.url
    }
}

impl FromStr for DatabaseUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, UrlError> {
        Self::new(s)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask(&self.url))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", mask(&self.url))
    }
}

/// `text` with the password of any `scheme://user:password@` replaced by `***`, and any
/// `password=` query parameter masked.
pub fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The password may hold `/`, `?`, `#` (unencoded): the user info ends at the last `@`
        // before the next whitespace.
        let word_end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        let word = &tail[..word_end];
        match (word.rfind('@'), word.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&word[..colon]);
                out.push_str(":***");
                rest = &tail[at..];
            }
            _ => rest = tail,
        }
        // Copy up to the next URL (or the end) unchanged.
        let next = rest.find("://").map_or(rest.len(), |j| {
            rest[..j].rfind(char::is_whitespace).map_or(0, |k| k + 1)
        });
        out.push_str(&rest[..next]);
        rest = &rest[next..];
    }
    out.push_str(rest);
    mask_param(&out)
}

fn mask_param(text: &str) -> String {
    let Some(i) = text.find("password=") else {
        return text.to_owned();
    };
    let start = i + "password=".len();
    let end = text[start..]
        .find(['&', ' ', '#'])
        .map_or(text.len(), |j| start + j);
    format!("{}***{}", &text[..start], mask_param(&text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords() {
        assert_eq!(mask("postgres://a:b@h/d"), "postgres://a:***@h/d");
        assert_eq!(mask("postgres://a@h/d"), "postgres://a@h/d");
        assert_eq!(
            mask("postgres://h/d?user=a&password=x&sslmode=require"),
            "postgres://h/d?user=a&password=***&sslmode=require"
        );
        assert_eq!(
            mask("see postgres://u:p@x:1/y now"),
            "see postgres://u:***@x:1/y now"
        );
    }

    #[test]
    fn validates() {
        assert!(DatabaseUrl::new("postgres://u:p@localhost:5432/app").is_ok());
        assert!(matches!(
            DatabaseUrl::new("postgres://u:p@localhost:5432"),
            Err(UrlError::NoDatabase(u)) if u == "postgres://u:***@localhost:5432"
        ));
        assert!(matches!(
            DatabaseUrl::new("http://x/y"),
            Err(UrlError::Scheme(_))
        ));
        let err = DatabaseUrl::new("postgres://u:secret@localhost:notaport/app").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}

//! Admin connections to a server: connecting, probing whether it answers, and pointing a URL
//! at another database.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};

use super::HarnessError;

/// Connects with one connection and no statement logging; used for all admin work.
pub(crate) async fn connect_admin(
    url: &str,
    timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .connect_timeout(timeout)
        .sqlx_logging(false);
    Database::connect(options).await
}

/// Succeeds when `url` accepts a connection and `SELECT 1` within `timeout`.
pub(crate) async fn probe(url: &str, timeout: Duration) -> Result<(), HarnessError> {
    let attempt = async {
        let conn = connect_admin(url, timeout).await?;
        let result = conn.execute_unprepared("SELECT 1").await;
        let _ = conn.close().await;
        result.map(|_| ())
    };
    match tokio::time::timeout(timeout + Duration::from_millis(500), attempt).await {
        Ok(result) => result.map_err(|e| HarnessError::db("connection failed", e)),
        Err(_) => Err(HarnessError::Unsupported(format!(
            "no answer within {} s",
            timeout.as_secs()
        ))),
    }
}

/// `url` with its database replaced by `database` (any `dbname=` query parameter, which would
/// override the path, is removed).
pub(crate) fn with_database(url: &str, database: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let path_end = url[authority_end..]
        .find(['?', '#'])
        .map_or(url.len(), |i| authority_end + i);
    let mut out = format!("{}/{database}", &url[..authority_end]);
    if let Some(query) = url[path_end..].strip_prefix('?') {
        let query = query.split('#').next().unwrap_or_default();
        let kept: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("dbname="))
            .collect();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_database() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/app", "postgres"),
            "postgres://u:p@h:5432/postgres"
        );
        assert_eq!(
            with_database("postgres://u@h", "st_1"),
            "postgres://u@h/st_1"
        );
        assert_eq!(
            with_database("postgres://u@h/app?sslmode=disable&dbname=x", "st_1"),
            "postgres://u@h/st_1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql:///app?host=/var/run/postgresql", "st_1"),
            "postgresql:///st_1?host=/var/run/postgresql"
        );
    }
}

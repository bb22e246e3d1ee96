//! Statement kinds a tenant connection refuses before sending them.
//!
//! Belt and braces: PostgreSQL is the boundary (the connection is logged in as the tenant's
//! role, which can reach nothing else), and SQL text this reader misses still runs with only
//! the tenant's privileges. These refusals give an early, clear error for what has no place on
//! a pooled tenant connection: statements that would end its transaction behind SeaORM's back,
//! leave state for the connection's next user, or try to change who the session is.

use super::lexer::{Kind, Token};

/// What was refused, and why (with what to do instead).
pub(crate) type Refusal = (&'static str, &'static str);

const TRANSACTION: Refusal = (
    "transaction control",
    "it would end or split the transaction SeaORM manages; use `begin()`, `commit()`, `rollback()` (nested `begin()` makes a savepoint)",
);
const PREPARED: Refusal = (
    "PREPARE/EXECUTE/DEALLOCATE",
    "named statements outlive the request on the pooled connection; the driver prepares statements itself",
);
const ANONYMOUS: Refusal = (
    "a DO block",
    "it runs statements nobody can see before they run; send them as statements, or put them in a migration",
);
const LISTEN: Refusal = (
    "LISTEN/UNLISTEN",
    "the pooled connection would keep listening for its next user; listen on a dedicated connection",
);
const TEMPORARY: Refusal = (
    "creating temporary objects",
    "they outlive the request on the pooled connection; use a CTE, or a table of the tenant's schema",
);
const IDENTITY: Refusal = (
    "changing the session's role or tenant settings",
    "a tenant connection always runs as its tenant's role",
);

/// The first refused statement of `tokens`, if any.
pub(crate) fn refusal(sql: &str, tokens: &[Token<'_>]) -> Option<Refusal> {
    let word = |n: usize, kw: &str| tokens.get(n).is_some_and(|t| t.kind.is_keyword(kw));
    for (n, token) in tokens.iter().enumerate() {
        if n == 0 || tokens[n - 1].kind == Kind::Semicolon {
            let kind = &token.kind;
            let any = |kws: &[&str]| kws.iter().any(|k| kind.is_keyword(k));
            if any(&[
                "BEGIN",
                "START",
                "COMMIT",
                "END",
                "ROLLBACK",
                "ABORT",
                "SAVEPOINT",
                "RELEASE",
            ]) {
                return Some(TRANSACTION);
            }
            if any(&["PREPARE", "EXECUTE", "DEALLOCATE"]) {
                return Some(PREPARED);
            }
            if any(&["DO"]) {
                return Some(ANONYMOUS);
            }
            if any(&["LISTEN", "UNLISTEN"]) {
                return Some(LISTEN);
            }
            if kind.is_keyword("CREATE") {
                let mut m = n + 1;
                while word(m, "OR") || word(m, "REPLACE") || word(m, "GLOBAL") || word(m, "LOCAL") {
                    m += 1;
                }
                if word(m, "TEMP") || word(m, "TEMPORARY") {
                    return Some(TEMPORARY);
                }
            }
            if (kind.is_keyword("ALTER") && (word(n + 1, "ROLE") || word(n + 1, "USER")))
                || (any(&["SET", "RESET"]) && changes_identity(sql, tokens, n + 1))
            {
                return Some(IDENTITY);
            }
        }
        if token.kind.is_keyword("SET_CONFIG")
            && tokens.get(n + 1).is_some_and(|t| t.kind == Kind::Open)
            && tokens
                .get(n + 2)
                .is_some_and(|t| t.kind == Kind::Str && is_identity_setting(literal(sql, t)))
        {
            return Some(IDENTITY);
        }
    }
    None
}

/// After `SET`/`RESET` at `n`: `[SESSION|LOCAL] ROLE`, `SESSION AUTHORIZATION`, `ALL`, or a
/// `sea_tenancy.*` setting.
fn changes_identity(sql: &str, tokens: &[Token<'_>], mut n: usize) -> bool {
    let word = |n: usize, kw: &str| tokens.get(n).is_some_and(|t| t.kind.is_keyword(kw));
    if word(n, "SESSION") && word(n + 1, "AUTHORIZATION") {
        return true;
    }
    if word(n, "SESSION") || word(n, "LOCAL") {
        n += 1;
    }
    let Some(token) = tokens.get(n) else {
        return false;
    };
    match &token.kind {
        Kind::Word(_) | Kind::Quoted(_) => is_identity_setting(&sql[token.span.clone()]),
        _ => false,
    }
}

/// `role`, `session_authorization`, `all` (RESET ALL) or one of sea-tenancy's own settings.
fn is_identity_setting(name: &str) -> bool {
    let name = name.trim_matches('"').to_ascii_lowercase();
    matches!(name.as_str(), "role" | "session_authorization" | "all")
        || name.starts_with("sea_tenancy")
}

/// The text of a string literal token, without its quotes or prefix.
fn literal<'a>(sql: &'a str, token: &Token<'_>) -> &'a str {
    let text = &sql[token.span.clone()];
    let start = text.find('\'').map_or(0, |p| p + 1);
    text[start..].trim_end_matches('\'')
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn refused(sql: &str) -> Option<&'static str> {
        refusal(sql, &tokenize(sql)).map(|r| r.0)
    }

    #[test]
    fn refuses_what_has_no_place_on_a_pooled_tenant_connection() {
        for sql in [
            "COMMIT",
            "select 1; commit; select 2",
            "BEGIN",
            "start transaction",
            "ROLLBACK",
            "savepoint a",
            "RELEASE a",
            "end",
            "PREPARE p AS SELECT 1",
            "EXECUTE p",
            "DEALLOCATE ALL",
            "DO $$ BEGIN PERFORM 1; END $$",
            "LISTEN chan",
            "CREATE TEMP TABLE users (id int)",
            "create temporary view v as select 1",
            "CREATE GLOBAL TEMPORARY TABLE t (id int)",
            "SET ROLE other",
            "SET LOCAL ROLE NONE",
            "set session role x",
            "RESET ROLE",
            "RESET ALL",
            "SET SESSION AUTHORIZATION x",
            "SET LOCAL sea_tenancy.tenant = '2'",
            "set local \"sea_tenancy.provisioning\" = on",
            "SELECT set_config('role', 'x', true)",
            "SELECT SET_CONFIG(E'sea_tenancy.provisioning', 'on', true)",
            "select 1 where set_config('session_authorization','x',false) is null",
            "ALTER ROLE CURRENT_USER PASSWORD 'x'",
            "alter user me set search_path = x",
        ] {
            assert!(refused(sql).is_some(), "{sql}");
        }
    }

    #[test]
    fn lets_ordinary_statements_through() {
        for sql in [
            "SELECT 1",
            "UPDATE posts SET title = 'COMMIT' WHERE id = 1",
            "SELECT * FROM \"begin\"",
            "INSERT INTO t (role) VALUES ('role')",
            "SET LOCAL statement_timeout = 1000",
            "SELECT set_config('application_name', 'x', true)",
            "CREATE TABLE t (id int)",
            "SELECT 'DO' AS x",
        ] {
            assert_eq!(refused(sql), None, "{sql}");
        }
    }
}

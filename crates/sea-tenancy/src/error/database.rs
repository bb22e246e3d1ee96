//! Database errors raised by sea-tenancy's own guards — the managing table's trigger, row-level
//! security, the privileges of tenant and global roles — told apart from other database errors.
//!
//! PostgreSQL reports them as text ("permission denied for table organizations", "new row
//! violates row-level security policy ...") and the trigger's advice travels in a `HINT` field
//! that `Display` never shows. A caller that gets a [`TenancyError`] instead reads what happened
//! *and what to do* in one line, and can match on the variant.

use sea_orm::DbErr;

use super::TenancyError;

/// SQLSTATE of the guard trigger on a managing entity's table (see `manage::install_guard`).
pub const GUARD_SQLSTATE: &str = "ST004";
/// SQLSTATE raised when a tenant role name is already taken by another tenant.
pub const ROLE_TAKEN_SQLSTATE: &str = "ST003";

/// What the database said: SQLSTATE, message and, where PostgreSQL fills them in, the table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatabaseMessage {
    /// The five-character SQLSTATE.
    pub code: String,
    /// The primary message.
    pub message: String,
    /// The table the error is about, when the server names one.
    pub table: Option<String>,
}

impl DatabaseMessage {
    /// The database error inside `err`, if it is one (not a connection or driver error).
    pub fn of(err: &DbErr) -> Option<Self> {
        let sqlx = match err {
            DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
            | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))
            | DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e)) => e,
            _ => return None,
        };
        let db = sqlx.as_database_error()?;
        let table = db
            .try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>()
            .and_then(|pg| pg.table())
            .map(str::to_owned);
        Some(Self {
            code: db.code().map(|c| c.into_owned()).unwrap_or_default(),
            message: db.message().to_owned(),
            table,
        })
    }

    /// The first double-quoted name in the message (`... for table "memberships"`).
    fn quoted(&self) -> Option<String> {
        let start = self.message.find('"')? + 1;
        let len = self.message[start..].find('"')?;
        Some(self.message[start..start + len].to_owned())
    }
}

/// The SQLSTATE of `err`, if the database raised it.
pub fn sqlstate(err: &DbErr) -> Option<String> {
    DatabaseMessage::of(err).map(|m| m.code)
}

/// The SQLSTATE of a driver error, for code that talks to sqlx directly (moves use `COPY`).
pub(crate) fn sqlx_sqlstate(err: &sea_orm::sqlx::Error) -> Option<String> {
    err.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
}

/// `err` as the [`TenancyError`] that explains it: one of sea-tenancy's guards refused, or
/// [`TenancyError::Db`] for everything else (unchanged).
pub fn explain(err: DbErr) -> TenancyError {
    let Some(m) = DatabaseMessage::of(&err) else {
        return TenancyError::Db(err);
    };
    match m.code.as_str() {
        GUARD_SQLSTATE => TenancyError::Guarded {
            table: m
                .table
                .clone()
                .unwrap_or_else(|| "the managing table".into()),
            source: err,
        },
        ROLE_TAKEN_SQLSTATE => TenancyError::RoleTaken {
            message: m.message,
            source: err,
        },
        // insufficient_privilege: RLS "new row violates row-level security policy for table
        // "x"" and "permission denied for <kind> <name>" share it.
        "42501" if m.message.contains("row-level security") => TenancyError::RowSecurity {
            table: m.quoted().unwrap_or_default(),
            source: err,
        },
        "42501" if m.message.starts_with("permission denied for ") => {
            TenancyError::PermissionDenied {
                object: m.message["permission denied for ".len()..].to_owned(),
                source: err,
            }
        }
        _ => TenancyError::Db(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_name() {
        let m = DatabaseMessage {
            message: "new row violates row-level security policy for table \"memberships\"".into(),
            ..Default::default()
        };
        assert_eq!(m.quoted().as_deref(), Some("memberships"));
    }

    #[test]
    fn other_errors_stay_db() {
        let err = explain(DbErr::Custom("x".into()));
        assert!(matches!(err, TenancyError::Db(DbErr::Custom(_))));
    }
}

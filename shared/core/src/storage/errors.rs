//! Database errors as the client sees them: a field taken, the database out of reach, or an
//! internal failure whose cause is logged, not sent.

use std::time::Duration;

use crate::error::{Error, ErrorKind};

/// A unique constraint that means "this field is taken". PostgreSQL reports the constraint's
/// name; SQLite reports the columns (`table.col, table.col`), so both are given.
#[derive(Clone, Copy, Debug)]
pub struct UniqueConstraint {
    /// The constraint's name in PostgreSQL, e.g. `customers_tenant_email_key`.
    pub name: &'static str,
    /// The columns as SQLite's message lists them, e.g. `customers.tenant_id, customers.email`.
    pub sqlite_columns: &'static str,
    /// The request field to name, e.g. `customer.email`.
    pub field: &'static str,
    /// The message, e.g. `a customer with this email already exists`.
    pub message: &'static str,
}

/// Whether a PostgreSQL SQLSTATE says the server or the connection went away rather than the
/// statement failed: a connection exception (class 08), the server shutting down or starting
/// (57P01-57P03), too many connections (53300), or the database closed to connections (55000
/// with that message).
fn connection_lost(code: &str, message: &str) -> bool {
    code.starts_with("08")
        || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
        || code == "55000" && message.contains("not currently accepting connections")
}

/// Turns a database error into a client error: a violation of one of `uniques` becomes
/// `ALREADY_EXISTS` naming its field; the database out of reach (no connection, the server
/// gone or refusing) `UNAVAILABLE` with a retry delay; anything else is `INTERNAL` (the cause
/// logged, not sent).
pub fn map_db_error(err: sqlx::Error, uniques: &[UniqueConstraint], doing: &str) -> Error {
    if let Some(db) = err.as_database_error()
        && db.is_unique_violation()
    {
        let message = db.message();
        let hit = uniques.iter().find(|u| {
            db.constraint() == Some(u.name)
                || message.strip_prefix("UNIQUE constraint failed: ") == Some(u.sqlite_columns)
        });
        if let Some(unique) = hit {
            return Error::already_exists(unique.field, unique.message)
                .with_reason("ALREADY_EXISTS");
        }
    }
    let gone = err.as_database_error().is_some_and(|db| {
        db.code()
            .is_some_and(|code| connection_lost(&code, db.message()))
    });
    match err {
        _ if gone => Error::unavailable(
            format!("{doing}: the database is unavailable; retry shortly"),
            err,
        )
        .with_retry_after(Duration::from_secs(1)),
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            Error::unavailable(
                format!("{doing}: the database is unavailable; retry shortly"),
                err,
            )
            .with_retry_after(Duration::from_secs(1))
        }
        other => Error::new(ErrorKind::Internal, format!("{doing} failed")).with_source(other),
    }
}

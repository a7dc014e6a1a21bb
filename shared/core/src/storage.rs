//! Storage helpers: SQLite pools (WAL, busy timeout, foreign keys), PostgreSQL pools (one schema
//! per context), migrations embedded per context and engine, and the mapping of named unique
//! constraints to `ALREADY_EXISTS`.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::Config;
use crate::error::{Error, ErrorKind};

/// How long a writer waits for SQLite's lock before giving up.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A context's migrations for both engines, embedded with `sqlx::migrate!`.
pub struct Migrations {
    /// `migrations/<context>/sqlite`.
    pub sqlite: Migrator,
    /// `migrations/<context>/postgres`.
    pub postgres: Migrator,
}

/// Why a store could not be opened or migrated. The messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The SQLite file could not be opened.
    #[error(
        "cannot open SQLite database {path}: {source}; check that the data directory exists and is writable (--data-dir)"
    )]
    OpenSqlite {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: sqlx::Error,
    },
    /// PostgreSQL could not be reached.
    #[error(
        "cannot connect to PostgreSQL at {url} for the {context} context: {source}; is it running, and is database.url (DATABASE_URL) right?"
    )]
    ConnectPostgres {
        /// The URL, password hidden.
        url: String,
        /// The context.
        context: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// The schema is behind the code.
    #[error(
        "the {context} database is not migrated to version {latest}; run `crm migrate --target {context}` first"
    )]
    NotMigrated {
        /// The context.
        context: String,
        /// The version the code needs.
        latest: i64,
    },
    /// A migration failed.
    #[error("migrating the {context} database failed: {source}")]
    Migrate {
        /// The context.
        context: String,
        /// The cause.
        source: sqlx::migrate::MigrateError,
    },
}

/// One context's database: embedded SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub enum Database {
    /// `<data_dir>/<context>.db`.
    Sqlite(SqlitePool),
    /// The context's schema in the configured PostgreSQL database.
    Postgres(PgPool),
}

impl Database {
    /// Opens the store of `context` as configured: PostgreSQL when `database.url` is set,
    /// otherwise `<data_dir>/<context>.db`.
    pub async fn open(config: &Config, context: &str) -> Result<Database, StorageError> {
        match &config.database.url {
            Some(url) => {
                let pool = open_postgres(url.expose(), context, config.database.max_connections)
                    .await
                    .map_err(|source| StorageError::ConnectPostgres {
                        url: url.redacted(),
                        context: context.to_owned(),
                        source,
                    })?;
                Ok(Database::Postgres(pool))
            }
            None => {
                let path = config.data_dir.join(format!("{context}.db"));
                let pool = open_sqlite(&path)
                    .await
                    .map_err(|source| StorageError::OpenSqlite { path, source })?;
                Ok(Database::Sqlite(pool))
            }
        }
    }

    /// Applies the migrations of this engine that are not applied yet.
    pub async fn migrate(
        &self,
        context: &str,
        migrations: &Migrations,
    ) -> Result<(), StorageError> {
        let result = match self {
            Database::Sqlite(pool) => migrations.sqlite.run(pool).await,
            Database::Postgres(pool) => migrations.postgres.run(pool).await,
        };
        result.map_err(|source| StorageError::Migrate {
            context: context.to_owned(),
            source,
        })
    }

    /// Fails unless every migration of this engine is applied: services on PostgreSQL do not
    /// migrate on their own (an operator runs `crm migrate`), so they refuse a stale schema.
    pub async fn ensure_migrated(
        &self,
        context: &str,
        migrations: &Migrations,
    ) -> Result<(), StorageError> {
        const LATEST: &str = "select max(version) from _sqlx_migrations where success";
        let (migrator, applied): (_, Result<Option<i64>, _>) = match self {
            Database::Sqlite(pool) => (
                &migrations.sqlite,
                sqlx::query_scalar(LATEST).fetch_one(pool).await,
            ),
            Database::Postgres(pool) => (
                &migrations.postgres,
                sqlx::query_scalar(LATEST).fetch_one(pool).await,
            ),
        };
        let applied = applied.ok().flatten();
        let latest = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        match applied {
            Some(version) if version >= latest => Ok(()),
            _ => Err(StorageError::NotMigrated {
                context: context.to_owned(),
                latest,
            }),
        }
    }

    /// Whether the store answers (for readiness).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            Database::Sqlite(pool) => sqlx::query("select 1").execute(pool).await.map(drop),
            Database::Postgres(pool) => sqlx::query("select 1").execute(pool).await.map(drop),
        }
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        match self {
            Database::Sqlite(pool) => pool.close().await,
            Database::Postgres(pool) => pool.close().await,
        }
    }
}

/// A SQLite pool on `path` (created if missing) with WAL, a busy timeout, foreign keys on and
/// `synchronous=NORMAL` (durable in WAL mode, far fewer fsyncs).
pub async fn open_sqlite(path: &Path) -> Result<SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true);
    SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
}

/// A PostgreSQL pool whose connections use the schema named after `context` (created if
/// missing), so contexts sharing one database never see each other's tables or migrations.
pub async fn open_postgres(
    url: &str,
    context: &str,
    max_connections: u32,
) -> Result<PgPool, sqlx::Error> {
    let schema = schema_name(context);
    let options = PgConnectOptions::from_str(url)?;
    // Create the schema over a plain connection first: the pool's connections set it as their
    // search path, and a missing schema would make every unqualified name fail to resolve.
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect_with(&options).await?;
        // `schema` is built by `schema_name` from [a-z0-9_] only.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "create schema if not exists {schema}"
        )))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
    }
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options.options([("search_path", schema.as_str())]))
        .await
}

/// Begins a PostgreSQL transaction for row-level security: as `app_role` when one is given
/// (checked at startup to be `[A-Za-z0-9_]`), with the setting `name` = `value` until it ends
/// (e.g. `app.tenant_id`, which the policies read).
pub async fn begin_scoped(
    pool: &PgPool,
    app_role: Option<&str>,
    name: &str,
    value: &str,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Some(role) = app_role {
        sqlx::query(sqlx::AssertSqlSafe(format!("set local role {role}")))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("select set_config($1, $2, true)")
        .bind(name)
        .bind(value)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// The PostgreSQL schema of a context: its name, lowercased, other characters as `_`.
pub fn schema_name(context: &str) -> String {
    context
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

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

/// Turns a database error into a client error: a violation of one of `uniques` becomes
/// `ALREADY_EXISTS` naming its field; anything else is `INTERNAL` (the cause logged, not sent).
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
    match err {
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

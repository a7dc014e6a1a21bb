//! Storage helpers: SQLite pools (WAL, busy timeout, foreign keys), PostgreSQL pools (one schema
//! per context), migrations embedded per context and engine, and the mapping of named unique
//! constraints to `ALREADY_EXISTS`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use crate::TenantId;
use crate::config::Config;

mod docs;
mod errors;
mod migrations;
pub use docs::{corrupt, from_doc, parse_uuid, to_doc};
pub use errors::{UniqueConstraint, map_db_error};
pub use migrations::{Migrations, SharedTables};

/// How long a writer waits for SQLite's lock before giving up.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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

/// The engine under a [`Database`]. Stores write their SQL once (`$n` parameters, which SQLite
/// accepts too; ids as text, times as epoch milliseconds) and ask for the engine only where the
/// dialects differ (PostgreSQL's advisory locks, full-text search).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Embedded: one file per context.
    Sqlite,
    /// Microservices: one schema per context.
    Postgres,
}

impl Engine {
    /// The engine a connection (or `&*tx`) runs on.
    pub fn of(conn: &Conn) -> Engine {
        if conn.backend_name() == "PostgreSQL" {
            Engine::Postgres
        } else {
            Engine::Sqlite
        }
    }

    /// What ends a `select` that reads a row to change it in the same transaction: `for
    /// update` on PostgreSQL (the row stays locked until the transaction ends); nothing on
    /// SQLite, whose write transaction (`begin_write`) already excludes every other writer.
    pub fn row_lock(self) -> &'static str {
        match self {
            Engine::Postgres => " for update",
            Engine::Sqlite => "",
        }
    }
}

/// A transaction that a unit of work runs in and that is committed after it.
trait Commit: std::ops::DerefMut<Target = Conn> {
    fn commit(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

impl Commit for sqlx::Transaction<'_, sqlx::Any> {
    fn commit(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        sqlx::Transaction::commit(self)
    }
}

impl Commit for WriteTx {
    fn commit(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        WriteTx::commit(self)
    }
}

/// Runs `work` in `tx` (once it began) and commits it when `work` succeeds; see
/// [`Database::in_tenant`].
async fn run_and_commit<T, X: Commit>(
    tx: Result<X, sqlx::Error>,
    doing: &'static str,
    work: impl AsyncFnOnce(&mut Conn) -> crate::Result<T>,
) -> crate::Result<T> {
    let mut tx =
        tx.map_err(|e| map_db_error(e, &[], "starting a transaction scoped to its tenant"))?;
    let done = work(&mut tx).await?;
    tx.commit().await.map_err(|e| map_db_error(e, &[], doing))?;
    Ok(done)
}

/// A change to one aggregate `T`, decided on the state a store read under the write lock: what
/// to write with it (`W`: events, an audit entry, ...), or `None` when nothing changed. Each
/// store's `update_*` method takes one.
pub type Change<'a, T, W> = Box<dyn FnMut(&mut T) -> crate::Result<Option<W>> + Send + 'a>;

/// A change decided before the write, on an aggregate read at `version`, because the decision
/// rested on IO that must happen first and must not hold the write lock (revoking tokens, a
/// provider's answer, hashing): as a store's change closure, it puts `next` in place, with what
/// `write` brings along, only if the aggregate is still at that version, else `ABORTED`
/// (another change came between). Every store's `update_*` takes it.
pub fn pinned<T: Send + 'static, W: Send + 'static>(
    next: T,
    version: i64,
    version_of: fn(&T) -> i64,
    write: W,
    what: &'static str,
) -> Change<'static, T, W> {
    let mut once = Some((next, write));
    Box::new(move |stored: &mut T| {
        if version_of(stored) != version {
            return Err(crate::Error::etag_mismatch(what));
        }
        // A store runs a change once; were it run again, nothing more is written.
        let Some((next, write)) = once.take() else {
            return Ok(None);
        };
        *stored = next;
        Ok(Some(write))
    })
}

/// A transaction on either engine. Handlers and stores run their SQL on `&mut *tx` without
/// knowing which engine it is.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A connection on either engine (what `&mut *tx` gives).
pub type Conn = sqlx::AnyConnection;

/// One context's database: embedded SQLite or PostgreSQL, behind one pool type (`sqlx::Any`;
/// `just bench` measures what it costs against a typed pool).
#[derive(Clone, Debug)]
pub struct Database {
    pool: AnyPool,
    engine: Engine,
    app_role: Option<String>,
    /// SQLite's writers of this process, one at a time (see [`Database::begin_write`]).
    writers: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A read-modify-write transaction ([`Database::begin_write`]): a [`Tx`] (used as `&mut *tx`,
/// like one) that, on SQLite, holds
/// this process's writer turn until it ends.
pub struct WriteTx {
    tx: Tx,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// Open from the turn's wait to the end: the transaction in the caller's trace.
    _span: tracing::Span,
}

impl WriteTx {
    /// Commits, and gives the turn to the next writer.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.tx
    }
}

impl Database {
    /// Opens the store of `context` as configured: PostgreSQL when `database.url` is set,
    /// otherwise `<data_dir>/<context>.db`.
    pub async fn open(config: &Config, context: &str) -> Result<Database, StorageError> {
        match &config.database.url {
            Some(url) => open_postgres(
                url.expose(),
                context,
                config.database.max_connections,
                &config.database.app_role,
            )
            .await
            .map_err(|source| StorageError::ConnectPostgres {
                url: url.redacted(),
                context: context.to_owned(),
                source,
            }),
            None => {
                let path = config.data_dir.join(format!("{context}.db"));
                open_sqlite(&path)
                    .await
                    .map_err(|source| StorageError::OpenSqlite { path, source })
            }
        }
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The pool, for statements outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction for reads, and for writes that need no other writer kept out.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.pool.begin().await
    }

    /// A transaction for row-level security on PostgreSQL: as `database.app_role` (checked at
    /// startup to be `[A-Za-z0-9_]`), with the setting `name` = `value` until it ends (e.g.
    /// `app.tenant_id`, which the policies read). On SQLite a plain transaction: every statement
    /// names its tenant there.
    pub async fn begin_scoped(&self, name: &str, value: &str) -> Result<Tx, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        self.scope(&mut tx, name, value).await?;
        Ok(tx)
    }

    /// [`Database::begin_scoped`] to `tenant` (`app.tenant_id`).
    pub async fn begin_for(&self, tenant: TenantId) -> Result<Tx, sqlx::Error> {
        self.begin_scoped("app.tenant_id", &tenant.to_string())
            .await
    }

    /// Runs `work` in a transaction scoped to `tenant` ([`Database::begin_for`]) and commits it
    /// when `work` succeeds; an error from `work` rolls everything back and is returned as it
    /// is. A failure to begin or to commit is the client's error for a database fault
    /// (`UNAVAILABLE` when the database is out of reach, else `INTERNAL` with the cause logged),
    /// `doing` saying what was being done.
    pub async fn in_tenant<T>(
        &self,
        tenant: TenantId,
        doing: &'static str,
        work: impl AsyncFnOnce(&mut Conn) -> crate::Result<T>,
    ) -> crate::Result<T> {
        let tx = self.begin_for(tenant).await;
        run_and_commit(tx, doing, work).await
    }

    /// As [`Database::in_tenant`], in a transaction that reads and then writes
    /// ([`Database::begin_write`]): what a read-decide-write change of one aggregate runs in.
    pub async fn in_tenant_write<T>(
        &self,
        tenant: TenantId,
        doing: &'static str,
        work: impl AsyncFnOnce(&mut Conn) -> crate::Result<T>,
    ) -> crate::Result<T> {
        let tx = self.begin_write(tenant).await;
        run_and_commit(tx, doing, work).await
    }

    /// A transaction that reads and then writes `tenant`'s rows: on SQLite it takes the write
    /// lock at `BEGIN IMMEDIATE`, so a read-modify-write waits its turn instead of failing when
    /// another writer committed after its read. This process's writers queue for that lock in
    /// order here, rather than in SQLite's busy handler, which sleeps up to 100 ms between
    /// tries (other processes still meet the busy timeout). On PostgreSQL as
    /// [`Database::begin_for`] (row versions and locks do the rest).
    pub async fn begin_write(&self, tenant: TenantId) -> Result<WriteTx, sqlx::Error> {
        let span = self.transaction_span("write");
        match self.engine {
            Engine::Sqlite => {
                let turn = self.writers.clone().lock_owned().await;
                Ok(WriteTx {
                    tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: Some(turn),
                    _span: span,
                })
            }
            Engine::Postgres => Ok(WriteTx {
                tx: self.begin_for(tenant).await?,
                _turn: None,
                _span: span,
            }),
        }
    }

    /// A span for a transaction of this store doing `operation`, in the caller's trace
    /// ([`Database::begin_write`]'s transactions have one already): instrument the work with it.
    pub fn transaction_span(&self, operation: &'static str) -> tracing::Span {
        tracing::info_span!(
            "db.transaction",
            db.system = match self.engine {
                Engine::Sqlite => "sqlite",
                Engine::Postgres => "postgresql",
            },
            db.operation = operation,
        )
    }

    /// Moves `tx` to another value of `name` (e.g. a batch crossing tenants). No-op on SQLite.
    pub async fn scope(&self, tx: &mut Conn, name: &str, value: &str) -> Result<(), sqlx::Error> {
        if self.engine == Engine::Sqlite {
            return Ok(());
        }
        if let Some(role) = &self.app_role {
            // `role` was checked at startup to be a plain identifier.
            sqlx::query(sqlx::AssertSqlSafe(format!("set local role {role}")))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("select set_config($1, $2, true)")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map(drop)
    }

    /// Whether the store answers (for readiness).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("select 1").execute(&self.pool).await.map(drop)
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.pool.close().await
    }
}

/// The file's pragmas, set on every connection: WAL, `synchronous=NORMAL` (durable in WAL mode,
/// far fewer fsyncs), foreign keys on, and a busy timeout.
const SQLITE_PRAGMAS: &str = "pragma journal_mode = wal; pragma synchronous = normal; \
                              pragma foreign_keys = on; pragma busy_timeout = 5000;";

/// The options of a typed SQLite pool with the same pragmas as [`open_sqlite`] (for benches
/// that compare the two).
pub fn sqlite_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true)
}

/// The SQLite store at `path` (created if missing), with [`SQLITE_PRAGMAS`] on every connection.
pub async fn open_sqlite(path: &Path) -> Result<Database, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let path = std::path::absolute(path).map_err(sqlx::Error::Io)?;
    let Some(text) = path.to_str() else {
        return Err(sqlx::Error::Configuration(
            format!("the path {} is not UTF-8", path.display()).into(),
        ));
    };
    // The path is percent-decoded when the URL is read: escape what would end it early.
    let escaped = text
        .replace('%', "%25")
        .replace('?', "%3F")
        .replace('#', "%23");
    let url = format!("sqlite://{escaped}?mode=rwc");
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(|conn, _| {
            Box::pin(async move { sqlx::raw_sql(SQLITE_PRAGMAS).execute(conn).await.map(drop) })
        })
        .connect(&url)
        .await?;
    Ok(Database {
        writers: Default::default(),
        pool,
        engine: Engine::Sqlite,
        app_role: None,
    })
}

/// A PostgreSQL store whose connections use the schema named after `context` (created if
/// missing), so contexts sharing one database never see each other's tables or migrations.
/// Scoped transactions switch to `app_role` unless it is empty.
pub async fn open_postgres(
    url: &str,
    context: &str,
    max_connections: u32,
    app_role: &str,
) -> Result<Database, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let schema = schema_name(context);
    // Create the schema over a plain connection first: the pool's connections set it as their
    // search path, and a missing schema would make every unqualified name fail to resolve.
    {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(url).await?;
        // `schema` is built by `schema_name` from [a-z0-9_] only.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "create schema if not exists {schema}"
        )))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
    }
    let set_path = format!("set search_path to {schema}");
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |conn, _| {
            let sql = sqlx::AssertSqlSafe(set_path.clone());
            Box::pin(async move { sqlx::raw_sql(sql).execute(conn).await.map(drop) })
        })
        .connect(url)
        .await?;
    Ok(Database {
        writers: Default::default(),
        pool,
        engine: Engine::Postgres,
        app_role: (!app_role.is_empty()).then(|| app_role.to_owned()),
    })
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

//! The transactional outbox: producers append events in their own transaction; the relay and
//! the embedded bus read them back in `seq` order. The same SQL serves SQLite and PostgreSQL; on
//! PostgreSQL the reader sets `app.relay`, which the outbox's row-level-security policy lets see
//! every tenant's rows. MongoDB stores are in [`crate::mongo`]; [`OutboxLog`] reads either.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crm_core::storage::{Conn, Database, Engine};

use crate::envelope::{Envelope, Millis};

mod sql;

use sql::SqlOutbox;

/// The first key of the advisory locks the outbox takes (the second is the aggregate's hash),
/// apart from any other use of advisory locks.
const AGGREGATE_LOCK_SPACE: i32 = 0x6372_6d6f; // "crmo"

/// A domain event bound for the outbox, written in the same transaction as its change: the
/// aggregate's type (`customer`, `lead`, `user`, ...) and the event in its CloudEvents envelope
/// (subject = the aggregate's id).
#[derive(Clone, Debug)]
pub struct OutboxEvent {
    /// E.g. `customer`, `opportunity`, `user`.
    pub aggregate_type: &'static str,
    /// The event.
    pub envelope: Envelope,
}

impl OutboxEvent {
    /// An event of `aggregate_type`.
    pub fn new(aggregate_type: &'static str, envelope: Envelope) -> OutboxEvent {
        OutboxEvent {
            aggregate_type,
            envelope,
        }
    }

    /// `events` as [`append_all`] takes them: (aggregate type, envelope) each.
    pub fn pairs(events: &[OutboxEvent]) -> Vec<(&str, &Envelope)> {
        events
            .iter()
            .map(|e| (e.aggregate_type, &e.envelope))
            .collect()
    }
}

/// Appends a change's events to the outbox in its transaction (as [`append_all`]); a failure
/// is the client's error for a database fault (`UNAVAILABLE` when it is out of reach, else
/// `INTERNAL` with the cause logged).
pub async fn append_events(conn: &mut Conn, events: &[OutboxEvent]) -> crm_core::Result<()> {
    append_all(conn, &OutboxEvent::pairs(events))
        .await
        .map_err(|e| crm_core::storage::map_db_error(e, &[], "writing events to the outbox"))
}

/// Appends `event` to the outbox inside the caller's transaction (pass `&mut *tx`), so the
/// event exists exactly when the change it describes does.
///
/// On PostgreSQL it first takes a transaction-level advisory lock on the aggregate, so a second
/// transaction appending for the same aggregate waits for the first to end: one aggregate's
/// events commit in the order of their positions, and the relay, which publishes by position,
/// keeps their order. Different aggregates do not wait for each other. Append last, just before
/// committing, to hold the lock briefly. (SQLite has one writer at a time, so positions are in
/// commit order there.)
pub async fn append(
    conn: &mut Conn,
    aggregate_type: &str,
    event: &Envelope,
) -> Result<(), sqlx::Error> {
    append_all(conn, &[(aggregate_type, event)]).await
}

/// Rows per multi-row statement of [`append_all`] (11 parameters each). Small on purpose: the
/// SQLite driver's binding cost grows with the square of a statement's `$n` parameters.
const APPEND_CHUNK: usize = 25;

/// Appends many events inside the caller's transaction, a few statements for all of them (a
/// bulk write's events): as [`append`] each, locks included, in the order given.
#[tracing::instrument(name = "outbox.append", skip_all, fields(events = events.len()))]
pub async fn append_all(conn: &mut Conn, events: &[(&str, &Envelope)]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    if Engine::of(conn) == Engine::Postgres {
        let mut keys: Vec<String> = events
            .iter()
            .map(|(aggregate_type, e)| format!("{aggregate_type}/{}", e.subject))
            .collect();
        keys.sort();
        keys.dedup();
        for chunk in keys.chunks(APPEND_CHUNK) {
            let values: Vec<String> = (0..chunk.len()).map(|i| format!("(${})", i + 2)).collect();
            let sql = format!(
                "select pg_advisory_xact_lock($1, hashtext(v)) from (values {}) as t(v)",
                values.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(AGGREGATE_LOCK_SPACE);
            for key in chunk {
                query = query.bind(key);
            }
            query.execute(&mut *conn).await?;
        }
    }
    for chunk in events.chunks(APPEND_CHUNK) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let n = i * 11;
                let params: Vec<String> = (1..=11).map(|k| format!("${}", n + k)).collect();
                format!("({})", params.join(", "))
            })
            .collect();
        let sql = format!(
            "insert into outbox (id, tenant_id, aggregate_type, aggregate_id, event_type, payload, occurred_at, \
             correlation_id, source, causation_id, traceparent) values {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (aggregate_type, event) in chunk {
            query = query
                .bind(event.id.to_string())
                .bind(&event.tenant_id)
                .bind(*aggregate_type)
                .bind(&event.subject)
                .bind(&event.event_type)
                .bind(&event.payload)
                .bind(event.time)
                .bind(&event.correlation_id)
                .bind(&event.source)
                .bind(&event.causation_id)
                .bind(&event.traceparent);
        }
        query.execute(&mut *conn).await?;
    }
    APPENDS.send_modify(|n| *n = n.wrapping_add(1));
    Ok(())
}

/// Appends made in this process (committed or not yet): the embedded bus looks at the outbox
/// again at once, and shortly after (the append's transaction commits moments later), instead
/// of at its next poll.
static APPENDS: std::sync::LazyLock<tokio::sync::watch::Sender<u64>> =
    std::sync::LazyLock::new(|| tokio::sync::watch::channel(0).0);

/// Told of every append made in this process from now on.
pub fn appends() -> tokio::sync::watch::Receiver<u64> {
    APPENDS.subscribe()
}

/// An event read back from the outbox, with its position.
#[derive(Clone, Debug)]
pub struct Logged {
    /// Position in this outbox; strictly increasing in commit order of the appends.
    pub seq: i64,
    /// The event.
    pub envelope: Envelope,
}

/// The first key of the advisory lock a relay holds on PostgreSQL (the second is the topic's
/// hash).
const RELAY_LOCK_SPACE: i32 = 0x6372_6d72; // "crmr"

/// The right to publish one outbox, held by one relay at a time among a context's replicas, so
/// they do not all publish the same events. On PostgreSQL it is a session advisory lock on a
/// connection of its own: it ends when the holder stops or loses its connection, and another
/// replica takes over. SQLite has one process per file and needs none. MongoDB has none yet, so
/// each replica relays (consumers deduplicate the copies).
pub struct RelayLease {
    conn: Option<sqlx::AnyConnection>,
}

impl RelayLease {
    /// Whether it is still held (its connection answers).
    pub async fn held(&mut self) -> bool {
        match &mut self.conn {
            None => true,
            Some(conn) => sqlx::query("select 1").execute(&mut *conn).await.is_ok(),
        }
    }
}

/// Where a consumer group stands in an outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerLag {
    /// The group.
    pub consumer: String,
    /// The last position it handled.
    pub position: i64,
    /// Events after it, still to handle.
    pub behind: i64,
}

/// Backlog of an outbox: what the relay has not published yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Unpublished events.
    pub pending: i64,
    /// When the oldest unpublished event happened, if any.
    pub oldest: Option<Millis>,
}

/// A failure to read or write an outbox.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The SQL store failed.
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    /// MongoDB failed.
    #[cfg(feature = "mongodb")]
    #[error(transparent)]
    Mongo(#[from] mongodb::error::Error),
    /// A stored event cannot be read back.
    #[error("a stored event is malformed: {0}")]
    Corrupt(String),
}

/// The read side of one context's outbox.
#[derive(Clone, Debug)]
pub struct OutboxLog {
    store: Arc<dyn OutboxStore>,
    topic: String,
}

/// Where an outbox is kept: the SQL table ([`SqlOutbox`], below) or MongoDB's collections
/// (`crate::mongo`). [`OutboxLog`] reads either through this, and knows neither.
#[async_trait]
pub(crate) trait OutboxStore: Send + Sync + std::fmt::Debug + 'static {
    /// Takes the relay lease for `topic`; `None` while another relay holds it. Stores without
    /// a lease (one process writes them) always grant it.
    async fn lead(&self, _topic: &str) -> Result<Option<RelayLease>, OutboxError> {
        Ok(Some(RelayLease { conn: None }))
    }
    async fn read_after(&self, seq: i64, limit: i64) -> Result<Vec<Logged>, OutboxError>;
    async fn pending(&self, limit: i64) -> Result<Vec<Logged>, OutboxError>;
    async fn mark_published(&self, seqs: &[i64], at: Millis) -> Result<(), OutboxError>;
    async fn backlog(&self) -> Result<Backlog, OutboxError>;
    async fn cursor(&self, consumer: &str, topic: &str) -> Result<i64, OutboxError>;
    async fn set_cursor(&self, consumer: &str, topic: &str, seq: i64) -> Result<(), OutboxError>;
    async fn consumer_lag(&self, topic: &str) -> Result<Vec<ConsumerLag>, OutboxError>;
    async fn seq_before(&self, time: Millis) -> Result<i64, OutboxError>;
    async fn prune(&self, topic: &str, before: Millis) -> Result<u64, OutboxError>;
}

impl OutboxLog {
    /// The outbox in a SQL `db`, whose events go to `topic` (e.g. `crm.iam.events.v1`).
    pub fn new(db: Database, topic: &str) -> OutboxLog {
        OutboxLog::on(Arc::new(SqlOutbox { db }), topic)
    }

    /// The outbox in `store`, whose events go to `topic`.
    pub(crate) fn on(store: Arc<dyn OutboxStore>, topic: &str) -> OutboxLog {
        OutboxLog {
            store,
            topic: topic.to_owned(),
        }
    }

    /// The topic its events go to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Takes the relay lease if no other relay holds it; `None` when another does.
    pub async fn lead(&self) -> Result<Option<RelayLease>, OutboxError> {
        self.store.lead(&self.topic).await
    }

    /// Events after `seq`, in order, at most `limit`.
    pub async fn read_after(&self, seq: i64, limit: i64) -> Result<Vec<Logged>, OutboxError> {
        self.store.read_after(seq, limit).await
    }

    /// Unpublished events, in order, at most `limit`.
    pub async fn pending(&self, limit: i64) -> Result<Vec<Logged>, OutboxError> {
        self.store.pending(limit).await
    }

    /// Marks exactly these events published. (Not "everything up to the last one": on
    /// PostgreSQL a transaction that committed late can hold a lower `seq` that was never sent.)
    pub async fn mark_published(&self, seqs: &[i64], at: Millis) -> Result<(), OutboxError> {
        self.store.mark_published(seqs, at).await
    }

    /// What is not published yet.
    pub async fn backlog(&self) -> Result<Backlog, OutboxError> {
        self.store.backlog().await
    }

    /// A consumer's position in this outbox (embedded bus); 0 before its first event.
    pub async fn cursor(&self, consumer: &str) -> Result<i64, OutboxError> {
        self.store.cursor(consumer, &self.topic).await
    }

    /// Moves a consumer's position (forward after handling; anywhere for a replay).
    pub async fn set_cursor(&self, consumer: &str, seq: i64) -> Result<(), OutboxError> {
        self.store.set_cursor(consumer, &self.topic, seq).await
    }

    /// Each consumer group walking this outbox (embedded bus): its position, and how many events
    /// after it are still to handle.
    pub async fn consumer_lag(&self) -> Result<Vec<ConsumerLag>, OutboxError> {
        self.store.consumer_lag(&self.topic).await
    }

    /// The position just before the first event at or after `time` (for a replay from a time).
    pub async fn seq_before(&self, time: Millis) -> Result<i64, OutboxError> {
        self.store.seq_before(time).await
    }

    /// Deletes published events older than `retention` that every consumer has passed.
    pub async fn prune(&self, retention: Duration) -> Result<u64, OutboxError> {
        let before = chrono::Utc::now().timestamp_millis() - retention.as_millis() as i64;
        self.store.prune(&self.topic, before).await
    }
}

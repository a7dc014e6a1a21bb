//! The outbox table in a SQLite or PostgreSQL store: the same SQL on either engine.

use async_trait::async_trait;

use crm_core::storage::{Database, Engine, Tx};
use uuid::Uuid;

use crate::envelope::{Envelope, Millis};

use super::*;

/// The outbox table in a SQLite or PostgreSQL store.
#[derive(Clone, Debug)]
pub(super) struct SqlOutbox {
    pub(super) db: Database,
}

const COLUMNS: &str = "seq, id, tenant_id, aggregate_id, event_type, payload, occurred_at, correlation_id, source, causation_id, traceparent";

/// An outbox row as stored.
#[derive(sqlx::FromRow)]
struct OutboxRow {
    seq: i64,
    id: String,
    tenant_id: String,
    aggregate_id: String,
    event_type: String,
    payload: Vec<u8>,
    occurred_at: i64,
    correlation_id: Option<String>,
    source: String,
    causation_id: Option<String>,
    traceparent: Option<String>,
}

impl TryFrom<OutboxRow> for Logged {
    type Error = OutboxError;

    fn try_from(row: OutboxRow) -> Result<Logged, OutboxError> {
        let id = Uuid::try_parse(&row.id)
            .map_err(|e| OutboxError::Corrupt(format!("outbox.id {:?}: {e}", row.id)))?;
        Ok(Logged {
            seq: row.seq,
            envelope: Envelope {
                id,
                source: row.source,
                event_type: row.event_type,
                time: row.occurred_at,
                subject: row.aggregate_id,
                tenant_id: row.tenant_id,
                correlation_id: row.correlation_id,
                causation_id: row.causation_id,
                traceparent: row.traceparent,
                payload: row.payload,
            },
        })
    }
}

impl SqlOutbox {
    /// A transaction the outbox's policy lets see every tenant's rows (`app.relay`).
    async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.db.begin_scoped("app.relay", "on").await
    }

    async fn logged(&self, sql: String, binds: &[i64]) -> Result<Vec<Logged>, OutboxError> {
        let mut tx = self.begin().await?;
        let mut query = sqlx::query_as::<_, OutboxRow>(sqlx::AssertSqlSafe(sql));
        for bind in binds {
            query = query.bind(*bind);
        }
        let rows = query.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.into_iter().map(Logged::try_from).collect()
    }
}

/// `seqs` as runs of consecutive positions `(first, last)`: a relay's batch is usually one run,
/// so marking it published is one statement.
fn runs(seqs: &[i64]) -> Vec<(i64, i64)> {
    let mut sorted = seqs.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for seq in sorted {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == seq => *last = seq,
            _ => out.push((seq, seq)),
        }
    }
    out
}

/// The same SQL on either engine; documented on [`OutboxLog`].
#[async_trait]
impl OutboxStore for SqlOutbox {
    async fn lead(&self, topic: &str) -> Result<Option<RelayLease>, OutboxError> {
        if self.db.engine() != Engine::Postgres {
            return Ok(Some(RelayLease { conn: None }));
        }
        use sqlx::Connection as _;
        let options = self.db.pool().connect_options();
        let mut conn = sqlx::AnyConnection::connect_with(&options).await?;
        let held: bool = sqlx::query_scalar("select pg_try_advisory_lock($1, hashtext($2))")
            .bind(RELAY_LOCK_SPACE)
            .bind(topic)
            .fetch_one(&mut conn)
            .await?;
        Ok(held.then_some(RelayLease { conn: Some(conn) }))
    }

    async fn read_after(&self, seq: i64, limit: i64) -> Result<Vec<Logged>, OutboxError> {
        let sql = format!("select {COLUMNS} from outbox where seq > $1 order by seq limit $2");
        self.logged(sql, &[seq, limit]).await
    }

    async fn pending(&self, limit: i64) -> Result<Vec<Logged>, OutboxError> {
        let sql = format!(
            "select {COLUMNS} from outbox where published_at is null order by seq limit $1"
        );
        self.logged(sql, &[limit]).await
    }

    async fn mark_published(&self, seqs: &[i64], at: Millis) -> Result<(), OutboxError> {
        let mut tx = self.begin().await?;
        for (first, last) in runs(seqs) {
            sqlx::query(
                "update outbox set published_at = $3 where seq between $1 and $2 and published_at is null",
            )
            .bind(first)
            .bind(last)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        Ok(tx.commit().await?)
    }

    async fn backlog(&self) -> Result<Backlog, OutboxError> {
        let mut tx = self.begin().await?;
        let (pending, oldest): (i64, Option<i64>) = sqlx::query_as(
            "select count(*), min(occurred_at) from outbox where published_at is null",
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Backlog { pending, oldest })
    }

    async fn cursor(&self, consumer: &str, topic: &str) -> Result<i64, OutboxError> {
        let mut tx = self.begin().await?;
        let seq: Option<i64> =
            sqlx::query_scalar("select seq from event_cursors where consumer = $1 and topic = $2")
                .bind(consumer)
                .bind(topic)
                .fetch_optional(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(seq.unwrap_or(0))
    }

    async fn set_cursor(&self, consumer: &str, topic: &str, seq: i64) -> Result<(), OutboxError> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut tx = self.begin().await?;
        sqlx::query(
            "insert into event_cursors (consumer, topic, seq, updated_at) values ($1, $2, $3, $4) \
             on conflict (consumer, topic) do update set seq = excluded.seq, updated_at = excluded.updated_at",
        )
        .bind(consumer)
        .bind(topic)
        .bind(seq)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Ok(tx.commit().await?)
    }

    async fn consumer_lag(&self, topic: &str) -> Result<Vec<ConsumerLag>, OutboxError> {
        let mut tx = self.begin().await?;
        // Pruning deletes only what every cursor has passed, so counting the rows after a
        // cursor counts exactly what that consumer has left.
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "select c.consumer, c.seq, (select count(*) from outbox o where o.seq > c.seq) \
             from event_cursors c where c.topic = $1 order by c.consumer",
        )
        .bind(topic)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(consumer, position, behind)| ConsumerLag {
                consumer,
                position,
                behind,
            })
            .collect())
    }

    async fn seq_before(&self, time: Millis) -> Result<i64, OutboxError> {
        let mut tx = self.begin().await?;
        let seq: Option<i64> =
            sqlx::query_scalar("select min(seq) from outbox where occurred_at >= $1")
                .bind(time)
                .fetch_one(&mut *tx)
                .await?;
        let last: Option<i64> = sqlx::query_scalar("select max(seq) from outbox")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(match seq {
            Some(seq) => seq - 1,
            None => last.unwrap_or(0),
        })
    }

    async fn prune(&self, topic: &str, before: Millis) -> Result<u64, OutboxError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "delete from outbox where published_at is not null and published_at < $1 \
             and seq <= coalesce((select min(seq) from event_cursors where topic = $2), seq)",
        )
        .bind(before)
        .bind(topic)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn positions_are_marked_in_runs_of_consecutive_ones() {
        assert_eq!(runs(&[]), Vec::<(i64, i64)>::new());
        assert_eq!(runs(&[4, 5, 6, 7]), [(4, 7)]);
        assert_eq!(runs(&[9, 3, 4, 4, 7, 8, 1]), [(1, 1), (3, 4), (7, 9)]);
    }
}

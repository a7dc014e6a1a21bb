//! Parked events: an event that failed every attempt is kept in `dead_letters` with its last
//! error, listed, and redriven on request.

use uuid::Uuid;

use crate::envelope::{Envelope, Millis};

use super::{Inbox, Position, now, store_offset};

/// A parked event.
#[derive(Clone, Debug)]
pub struct DeadLetter {
    /// Its id in `dead_letters`.
    pub id: Uuid,
    /// The consumer that gave up.
    pub consumer: String,
    /// The topic it came from.
    pub topic: String,
    /// The event.
    pub envelope: Envelope,
    /// The last error.
    pub error: String,
    /// Attempts made.
    pub attempts: u32,
    /// When parked.
    pub parked_at: Millis,
    /// When a redrive was asked for.
    pub redrive_requested_at: Option<Millis>,
    /// When it was redriven.
    pub redriven_at: Option<Millis>,
}

/// A parked event as stored.
#[derive(sqlx::FromRow)]
struct DeadLetterRow {
    id: String,
    consumer: String,
    topic: String,
    event_id: String,
    source: String,
    event_type: String,
    subject: String,
    tenant_id: String,
    time: i64,
    correlation_id: Option<String>,
    causation_id: Option<String>,
    traceparent: Option<String>,
    payload: Vec<u8>,
    error: String,
    /// `integer`: INT4 on PostgreSQL.
    attempts: i32,
    parked_at: i64,
    redrive_requested_at: Option<i64>,
    redriven_at: Option<i64>,
}

impl TryFrom<DeadLetterRow> for DeadLetter {
    type Error = sqlx::Error;

    fn try_from(row: DeadLetterRow) -> Result<DeadLetter, sqlx::Error> {
        let uuid = |s: &str| Uuid::try_parse(s).map_err(|e| sqlx::Error::Decode(Box::new(e)));
        Ok(DeadLetter {
            id: uuid(&row.id)?,
            consumer: row.consumer,
            topic: row.topic,
            envelope: Envelope {
                id: uuid(&row.event_id)?,
                source: row.source,
                event_type: row.event_type,
                time: row.time,
                subject: row.subject,
                tenant_id: row.tenant_id,
                correlation_id: row.correlation_id,
                causation_id: row.causation_id,
                traceparent: row.traceparent,
                payload: row.payload,
            },
            error: row.error,
            attempts: row.attempts.max(0) as u32,
            parked_at: row.parked_at,
            redrive_requested_at: row.redrive_requested_at,
            redriven_at: row.redriven_at,
        })
    }
}

const DEAD_LETTER_COLUMNS: &str = "id, consumer, topic, event_id, source, event_type, subject, tenant_id, time, correlation_id, \
                                   causation_id, traceparent, payload, error, attempts, parked_at, redrive_requested_at, redriven_at";

impl Inbox {
    /// Parks an event that failed every attempt.
    pub async fn park(
        &self,
        consumer: &str,
        topic: &str,
        event: &Envelope,
        error: &str,
        attempts: u32,
        position: Option<Position<'_>>,
    ) -> Result<(), sqlx::Error> {
        let e = event;
        let mut tx = self.begin(&e.tenant_id).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "insert into dead_letters ({DEAD_LETTER_COLUMNS}) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, null, null)"
        )))
        .bind(Uuid::now_v7().to_string())
        .bind(consumer)
        .bind(topic)
        .bind(e.id.to_string())
        .bind(&e.source)
        .bind(&e.event_type)
        .bind(&e.subject)
        .bind(&e.tenant_id)
        .bind(e.time)
        .bind(&e.correlation_id)
        .bind(&e.causation_id)
        .bind(&e.traceparent)
        .bind(&e.payload)
        .bind(error)
        .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if let Some(position) = position {
            store_offset(&mut tx, consumer, position).await?;
        }
        tx.commit().await
    }

    /// Parked events (of one consumer, or all), oldest first.
    pub async fn dead_letters(
        &self,
        consumer: Option<&str>,
    ) -> Result<Vec<DeadLetter>, sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(format!(
            "select {DEAD_LETTER_COLUMNS} from dead_letters where ($1 = '' or consumer = $1) order by parked_at, id"
        ));
        let mut tx = self.begin("").await?;
        let rows: Vec<DeadLetterRow> = sqlx::query_as(sql)
            .bind(consumer.unwrap_or_default())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.into_iter().map(DeadLetter::try_from).collect()
    }

    /// Asks for every parked, not yet redriven event (of one consumer, or all) to be delivered
    /// again; returns how many.
    pub async fn request_redrive(&self, consumer: Option<&str>) -> Result<u64, sqlx::Error> {
        let mut tx = self.begin("").await?;
        let done = sqlx::query(
            "update dead_letters set redrive_requested_at = $2 \
             where ($1 = '' or consumer = $1) and redriven_at is null and redrive_requested_at is null",
        )
        .bind(consumer.unwrap_or_default())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Marks a parked event redriven.
    pub async fn mark_redriven(&self, id: Uuid) -> Result<(), sqlx::Error> {
        let mut tx = self.begin("").await?;
        sqlx::query("update dead_letters set redriven_at = $2 where id = $1")
            .bind(id.to_string())
            .bind(now())
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
}

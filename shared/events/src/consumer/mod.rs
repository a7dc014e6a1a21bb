//! Consuming events: a [`Handler`] runs inside a transaction on the consumer's own store, and the
//! event's id is recorded in `processed_events` in that same transaction, so a redelivered event
//! has no second effect. Failures are retried with exponential backoff and jitter; after the
//! configured attempts the event is parked in `dead_letters` (and, with Kafka, on
//! `<topic>.dlq`) and the stream moves on.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backon::BackoffBuilder;
use crm_core::storage::{Conn, Database};
use tracing::Instrument as _;

use crate::envelope::{Envelope, Millis};

mod dead_letters;

pub use dead_letters::DeadLetter;

/// The consumer's transaction, on whichever engine its store runs: a handler writes its SQL
/// once, on `&mut **tx` (on PostgreSQL, `app.tenant_id` is set to the event's tenant).
pub use crm_core::storage::Tx;

/// Reacts to events. Everything it writes goes through `tx`, which commits with the record that
/// the event was handled; an error rolls both back.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Whether events of this type concern it; others are passed over without a record.
    fn wants(&self, event_type: &str) -> bool;
    /// Applies one event.
    async fn handle(&self, event: &Envelope, tx: &mut Tx) -> anyhow::Result<()>;
    /// Called once the transaction that handled one or more events has committed (what it
    /// wrote is visible): e.g. to wake a worker that acts on it.
    async fn committed(&self) {}
}

/// How hard to try before parking an event.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first delay.
    pub min_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The delays between attempts: exponential with jitter.
    pub fn delays(&self) -> impl Iterator<Item = Duration> {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
            .build()
    }
}

/// A consumer group: its name, its handler, its store, its retry policy.
#[derive(Clone)]
pub struct Consumer {
    /// The group name (Kafka `group.id`; the cursor and processed-record key in embedded mode).
    pub name: String,
    /// What it does.
    pub handler: Arc<dyn Handler>,
    /// Where it records what it processed and what it parked.
    pub inbox: Inbox,
    /// How hard it tries.
    pub policy: RetryPolicy,
}

impl Consumer {
    /// A consumer group named `name` (one per consuming service), with the default retry policy.
    pub fn new(name: impl Into<String>, handler: impl Handler, inbox: Inbox) -> Consumer {
        Consumer {
            name: name.into(),
            handler: Arc::new(handler),
            inbox,
            policy: RetryPolicy::default(),
        }
    }
}

/// Where an event sits in a Kafka topic; stored with the handler's effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
    /// The event's offset.
    pub offset: i64,
}

/// What became of one delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Handled now.
    Handled,
    /// Handled before: nothing done.
    Duplicate,
    /// Not of a type the handler wants.
    Skipped,
    /// Failed every attempt; parked with the last error.
    Parked {
        /// The last error.
        error: String,
        /// Attempts made.
        attempts: u32,
    },
}

/// A consumer's own bookkeeping, in its store: `processed_events` and `dead_letters`.
#[derive(Clone, Debug)]
pub struct Inbox {
    db: Database,
}

pub(super) fn now() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// Stores the consumer's next offset after `position`, never moving it back.
pub(super) async fn store_offset(
    conn: &mut Conn,
    consumer: &str,
    position: Position<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into consumer_offsets (consumer, topic, partition_id, next_offset) values ($1, $2, $3, $4) \
         on conflict (consumer, topic, partition_id) do update set next_offset = excluded.next_offset \
         where consumer_offsets.next_offset < excluded.next_offset",
    )
    .bind(consumer)
    .bind(position.topic)
    .bind(position.partition)
    .bind(position.offset + 1)
    .execute(conn)
    .await
    .map(drop)
}

/// The span a handler runs in: the event's attributes, in the trace of the request that caused
/// the event (its `traceparent`), so one trace follows a change across contexts.
fn event_span(consumer: &str, event: &Envelope) -> tracing::Span {
    let span = tracing::info_span!(
        "event",
        consumer,
        event_id = %event.id,
        event_type = %event.event_type,
        tenant_id = %event.tenant_id,
        correlation_id = event.correlation_id.as_deref().unwrap_or_default(),
    );
    crm_core::telemetry::continue_trace(&span, event.traceparent.as_deref());
    span
}

/// Why processing did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The handler failed (retried, then parked).
    #[error("{0:#}")]
    Handler(anyhow::Error),
    /// The consumer's store failed (retried without parking: nothing is lost by waiting).
    #[error("the consumer's store failed: {0}")]
    Store(#[from] sqlx::Error),
}

impl Inbox {
    /// The inbox in `db` (migrated with `processed_events` and `dead_letters`).
    pub fn new(db: Database) -> Inbox {
        Inbox { db }
    }

    /// A transaction on the inbox's store, scoped to `tenant` on PostgreSQL.
    pub(super) async fn begin(&self, tenant: &str) -> Result<Tx, sqlx::Error> {
        self.db.begin_scoped("app.tenant_id", tenant).await
    }

    /// Handles `event` once: in one transaction, checks it was not processed, runs the handler
    /// and records it.
    pub async fn process(
        &self,
        consumer: &str,
        handler: &dyn Handler,
        event: &Envelope,
    ) -> Result<Delivery, ProcessError> {
        self.process_at(consumer, handler, event, None).await
    }

    /// [`Inbox::process`], also storing the consumer's next offset after `position` in the same
    /// transaction (Kafka consumers resume from it).
    pub async fn process_at(
        &self,
        consumer: &str,
        handler: &dyn Handler,
        event: &Envelope,
        position: Option<Position<'_>>,
    ) -> Result<Delivery, ProcessError> {
        let mut outcomes = self
            .process_batch(consumer, handler, &[(event, position)])
            .await?;
        Ok(outcomes.pop().expect("one outcome per event"))
    }

    /// Handles a batch in one transaction (each event checked, handled and recorded as in
    /// [`Inbox::process_at`]). Any handler error rolls the whole batch back and is returned: the
    /// caller then delivers the events one by one, with retries and parking.
    pub async fn process_batch(
        &self,
        consumer: &str,
        handler: &dyn Handler,
        events: &[(&Envelope, Option<Position<'_>>)],
    ) -> Result<Vec<Delivery>, ProcessError> {
        let Some((first, _)) = events.first() else {
            return Ok(Vec::new());
        };
        let mut tx = self.begin(&first.tenant_id).await?;
        let mut outcomes = Vec::with_capacity(events.len());
        let mut tenant = first.tenant_id.as_str();
        // The furthest position per partition: the batch commits whole or not at all, so
        // storing it once at the end is the same as storing each event's.
        let mut furthest: Vec<Position<'_>> = Vec::new();
        for (event, position) in events {
            if event.tenant_id != tenant {
                tenant = &event.tenant_id;
                self.db.scope(&mut tx, "app.tenant_id", tenant).await?;
            }
            let outcome = if !handler.wants(&event.event_type) {
                Delivery::Skipped
            } else if self.record(&mut tx, consumer, event).await? {
                handler
                    .handle(event, &mut tx)
                    .instrument(event_span(consumer, event))
                    .await
                    .map_err(ProcessError::Handler)?;
                Delivery::Handled
            } else {
                Delivery::Duplicate
            };
            if let Some(position) = position {
                match furthest
                    .iter_mut()
                    .find(|p| p.topic == position.topic && p.partition == position.partition)
                {
                    Some(p) => p.offset = p.offset.max(position.offset),
                    None => furthest.push(*position),
                }
            }
            outcomes.push(outcome);
        }
        for position in furthest {
            store_offset(&mut tx, consumer, position).await?;
        }
        tx.commit().await?;
        if outcomes.contains(&Delivery::Handled) {
            handler.committed().await;
        }
        Ok(outcomes)
    }

    /// Records that `consumer` handled `event`, first: true means first time (the handler's
    /// failure rolls the record back with everything else); false means handled before.
    async fn record(
        &self,
        tx: &mut Conn,
        consumer: &str,
        event: &Envelope,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "insert into processed_events (consumer, event_id, processed_at) values ($1, $2, $3) \
             on conflict (consumer, event_id) do nothing",
        )
        .bind(consumer)
        .bind(event.id.to_string())
        .bind(now())
        .execute(tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The next offset of each partition of `topic` this consumer stored.
    pub async fn offsets(
        &self,
        consumer: &str,
        topic: &str,
    ) -> Result<std::collections::HashMap<i32, i64>, sqlx::Error> {
        let mut tx = self.begin("").await?;
        let rows: Vec<(i32, i64)> = sqlx::query_as(
            "select partition_id, next_offset from consumer_offsets where consumer = $1 and topic = $2",
        )
        .bind(consumer)
        .bind(topic)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows.into_iter().collect())
    }

    /// The consumer groups that stored positions on `topic` in this store (Kafka).
    pub async fn groups_on(&self, topic: &str) -> Result<Vec<String>, sqlx::Error> {
        let mut tx = self.begin("").await?;
        let groups = sqlx::query_scalar(
            "select distinct consumer from consumer_offsets where topic = $1 order by consumer",
        )
        .bind(topic)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(groups)
    }

    /// Sets the next offsets of a consumer on a topic (a replay); returns whether it had any.
    pub async fn set_offsets(
        &self,
        consumer: &str,
        topic: &str,
        offsets: &[(i32, i64)],
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin("").await?;
        let known: i64 = sqlx::query_scalar(
            "select count(*) from consumer_offsets where consumer = $1 and topic = $2",
        )
        .bind(consumer)
        .bind(topic)
        .fetch_one(&mut *tx)
        .await?;
        if known > 0 {
            for (partition, offset) in offsets {
                sqlx::query(
                    "insert into consumer_offsets (consumer, topic, partition_id, next_offset) values ($1, $2, $3, $4) \
                     on conflict (consumer, topic, partition_id) do update set next_offset = excluded.next_offset",
                )
                .bind(consumer)
                .bind(topic)
                .bind(*partition)
                .bind(*offset)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(known > 0)
    }
}

/// Delivers a batch in one transaction when every handler succeeds, else one by one (with
/// retries and parking). Store failures are returned; nothing is lost by retrying the batch.
pub async fn deliver_batch(
    consumer: &Consumer,
    topic: &str,
    events: &[(&Envelope, Option<Position<'_>>)],
) -> Result<Vec<Delivery>, sqlx::Error> {
    match consumer
        .inbox
        .process_batch(&consumer.name, consumer.handler.as_ref(), events)
        .await
    {
        Ok(outcomes) => Ok(outcomes),
        Err(ProcessError::Store(e)) => Err(e),
        Err(ProcessError::Handler(_)) => {
            // One event of the batch failed: take them one at a time, with retries and parking.
            let mut outcomes = Vec::with_capacity(events.len());
            for (event, position) in events {
                outcomes.push(deliver_at(consumer, topic, event, *position).await?);
            }
            Ok(outcomes)
        }
    }
}

/// Delivers one event to a consumer: tries up to the policy's attempts, then parks it. Store
/// failures are returned (the caller retries later without moving on: nothing is lost).
pub async fn deliver(
    consumer: &Consumer,
    topic: &str,
    event: &Envelope,
) -> Result<Delivery, sqlx::Error> {
    deliver_at(consumer, topic, event, None).await
}

/// [`deliver`], storing the consumer's position with the outcome (Kafka).
pub async fn deliver_at(
    consumer: &Consumer,
    topic: &str,
    event: &Envelope,
    position: Option<Position<'_>>,
) -> Result<Delivery, sqlx::Error> {
    let mut delays = consumer.policy.delays();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match consumer
            .inbox
            .process_at(&consumer.name, consumer.handler.as_ref(), event, position)
            .await
        {
            Ok(delivery) => return Ok(delivery),
            Err(ProcessError::Store(e)) => return Err(e),
            Err(ProcessError::Handler(e)) => match delays.next() {
                Some(delay) => {
                    tracing::warn!(consumer = %consumer.name, event_id = %event.id, attempts, error = %format!("{e:#}"), "handler failed; retrying");
                    tokio::time::sleep(delay).await;
                }
                None => {
                    let error = format!("{e:#}");
                    tracing::error!(consumer = %consumer.name, event_id = %event.id, attempts, %error, "handler failed every attempt; parking the event");
                    consumer
                        .inbox
                        .park(&consumer.name, topic, event, &error, attempts, position)
                        .await?;
                    return Ok(Delivery::Parked { error, attempts });
                }
            },
        }
    }
}

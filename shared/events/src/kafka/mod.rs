//! The Kafka transport: one topic per context and version, the aggregate id as key, the
//! protobuf event as value, CloudEvents binary-mode headers. The producer is idempotent with
//! `acks=all`; the relay marks outbox rows published only once Kafka acknowledged them, in
//! order. Consumers commit offsets only after the handler's transaction committed.

use std::time::Duration;

use anyhow::Context as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use crate::envelope::{Envelope, dlq_topic};
use crate::outbox::{OutboxLog, RelayLease};

mod consume;

const BATCH: i64 = 512;
/// Batches Kafka refused in a row before a relay publishes with a new producer.
const RENEW_AFTER: u32 = 3;

/// A connection to Kafka for producing and administration.
#[derive(Clone)]
pub struct Kafka {
    brokers: String,
    producer: FutureProducer,
}

impl Kafka {
    /// Connects a producer (idempotent, `acks=all`) to `brokers`.
    pub fn new(brokers: &str) -> anyhow::Result<Kafka> {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000")
            .create()
            .with_context(|| format!("cannot create a Kafka producer for {brokers}"))?;
        Ok(Kafka {
            brokers: brokers.to_owned(),
            producer,
        })
    }

    /// The same brokers with a new producer (a new idempotent producer id). A relay takes one
    /// when Kafka keeps refusing its events: a producer whose sequence state the broker lost
    /// can stay refused for good (seen on tansu after a broker restart: `Unknown broker error`
    /// every 30 s for half an hour, while a new producer published the 16,035 waiting events at
    /// once), and librdkafka's own fatal errors likewise need a new instance.
    fn renewed(&self) -> anyhow::Result<Kafka> {
        Kafka::new(&self.brokers)
    }

    /// Whether a broker answers (a metadata request within `timeout`): readiness.
    pub async fn ping(&self, timeout: Duration) -> anyhow::Result<()> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, timeout)
                .map(drop)
                .context("no Kafka broker answers")
        })
        .await
        .context("the Kafka check did not finish")?
    }

    /// The bootstrap servers.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// Creates the topics (and their `.dlq` topics) that do not exist yet.
    pub async fn ensure_topics(
        &self,
        topics: &[&str],
        partitions: i32,
        replication: i32,
    ) -> anyhow::Result<()> {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .create()
            .context("cannot create a Kafka admin client")?;
        let names: Vec<String> = topics
            .iter()
            .flat_map(|t| [t.to_string(), dlq_topic(t)])
            .collect();
        let new: Vec<NewTopic<'_>> = names
            .iter()
            .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(replication)))
            .collect();
        let results = admin
            .create_topics(
                &new,
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
            )
            .await
            .with_context(|| {
                format!(
                    "cannot create topics on {}; is Kafka up (kafka.brokers)?",
                    self.brokers
                )
            })?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => anyhow::bail!("cannot create topic {topic}: {code}"),
            }
        }
        Ok(())
    }

    /// Publishes one event to `topic` and waits for Kafka's acknowledgement.
    pub async fn publish(
        &self,
        topic: &str,
        event: &Envelope,
        extra: &[(&str, String)],
    ) -> anyhow::Result<()> {
        let mut headers = OwnedHeaders::new();
        for (key, value) in event
            .headers()
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain(extra.iter().map(|(k, v)| (*k, v.as_str())))
        {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let record = FutureRecord::to(topic)
            .key(&event.subject)
            .payload(&event.payload)
            .headers(headers);
        self.producer
            .send(record, Timeout::After(Duration::from_secs(30)))
            .await
            .map(drop)
            .map_err(|(e, _)| anyhow::anyhow!("publishing {} to {topic}: {e}", event.id))
    }

    /// Publishes the outbox's pending events in order, marking them published as Kafka
    /// acknowledges them; backs off while Kafka is down. Prunes old published events hourly.
    pub fn relay(
        &self,
        log: OutboxLog,
        retention: Duration,
        poll: Duration,
    ) -> impl Future<Output = ()> + Send + use<> {
        let mut kafka = self.clone();
        async move {
            let mut backoff = poll;
            let mut refused_in_a_row = 0;
            let mut last_prune = tokio::time::Instant::now();
            let mut lease = None;
            loop {
                if !hold(&log, &mut lease).await {
                    // Another replica relays this outbox; take over if it stops.
                    tokio::time::sleep(poll * 20).await;
                    continue;
                }
                let batch = match log.pending(BATCH).await {
                    Ok(batch) => batch,
                    Err(e) => {
                        tracing::warn!(topic = log.topic(), error = %e, "could not read the outbox; retrying");
                        tokio::time::sleep(backoff).await;
                        continue;
                    }
                };
                if batch.is_empty() {
                    if last_prune.elapsed() > Duration::from_secs(3600) {
                        last_prune = tokio::time::Instant::now();
                        if let Err(e) = log.prune(retention).await {
                            tracing::warn!(topic = log.topic(), error = %e, "could not prune the outbox");
                        }
                    }
                    tokio::time::sleep(poll).await;
                    continue;
                }
                // Sent together (the idempotent producer keeps their order per partition);
                // marked published only up to the first failure, so nothing is skipped.
                // Each send is a span in the trace of the request that wrote the event.
                let sends = batch.iter().map(|e| {
                    let span = tracing::info_span!(
                        "kafka.publish",
                        messaging.destination = log.topic(),
                        event_type = %e.envelope.event_type,
                    );
                    crm_core::telemetry::continue_trace(&span, e.envelope.traceparent.as_deref());
                    tracing::Instrument::instrument(
                        kafka.publish(log.topic(), &e.envelope, &[]),
                        span,
                    )
                });
                let results = futures::future::join_all(sends).await;
                let mut published = Vec::new();
                let mut failure = None;
                for (event, result) in batch.iter().zip(results) {
                    match result {
                        Ok(()) if failure.is_none() => published.push(event.seq),
                        Ok(()) => {}
                        Err(e) => {
                            failure.get_or_insert(e);
                        }
                    }
                }
                if !published.is_empty()
                    && let Err(e) = log
                        .mark_published(&published, chrono::Utc::now().timestamp_millis())
                        .await
                {
                    // Republished after a restart and deduplicated by consumers.
                    tracing::warn!(topic = log.topic(), error = %e, "could not mark events published");
                }
                match failure {
                    Some(e) => {
                        tracing::warn!(topic = log.topic(), error = %format!("{e:#}"), retry_in = ?backoff, "Kafka did not take every event; retrying");
                        refused_in_a_row += 1;
                        if refused_in_a_row >= RENEW_AFTER {
                            refused_in_a_row = 0;
                            match kafka.renewed() {
                                Ok(fresh) => {
                                    tracing::warn!(
                                        topic = log.topic(),
                                        "Kafka kept refusing this relay's events; publishing with a new producer"
                                    );
                                    // Dropping a producer waits for its queue: off the runtime.
                                    let old = std::mem::replace(&mut kafka, fresh);
                                    tokio::task::spawn_blocking(move || drop(old));
                                }
                                Err(e) => {
                                    tracing::warn!(topic = log.topic(), error = %format!("{e:#}"), "cannot make a new Kafka producer")
                                }
                            }
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                    None => {
                        backoff = poll;
                        refused_in_a_row = 0;
                    }
                }
            }
        }
    }

    /// A consumer for reading offsets and metadata as `group` (it never commits).
    ///
    /// It reads uncommitted offsets: the CRM never produces in transactions, so the last stable
    /// offset is the high watermark, and some brokers answer only this form (tansu 0.6's
    /// PostgreSQL storage fails `ListOffsets` for `read_committed` on PostgreSQL before 16).
    fn reader(&self, group: &str) -> anyhow::Result<StreamConsumer> {
        ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_uncommitted")
            .create()
            .context("cannot create a Kafka consumer")
    }

    /// How many records of `topic` a consumer has yet to handle, from its stored next offsets
    /// (a partition with none counts from its oldest retained record).
    pub fn lag(
        &self,
        topic: &str,
        next: &std::collections::HashMap<i32, i64>,
    ) -> anyhow::Result<i64> {
        let consumer = self.reader("crm-events-status")?;
        let mut lag = 0;
        for partition in partitions(&consumer, topic)? {
            let (low, high) = consumer
                .fetch_watermarks(topic, partition, Duration::from_secs(10))
                .with_context(|| format!("cannot read the offsets of {topic}/{partition}"))?;
            let from = next.get(&partition).copied().unwrap_or(low).max(low);
            lag += (high - from).max(0);
        }
        Ok(lag)
    }

    /// The offsets of `topic`'s partitions at `from` (a time, or the same offset everywhere).
    pub async fn offsets_at(
        &self,
        group: &str,
        topic: &str,
        from: ReplayFrom,
    ) -> anyhow::Result<Vec<(i32, i64)>> {
        let consumer = self.reader(group)?;
        let partitions = partitions(&consumer, topic)?;
        match from {
            ReplayFrom::Offset(o) => Ok(partitions.into_iter().map(|p| (p, o)).collect()),
            ReplayFrom::Time(ms) => {
                let mut list = TopicPartitionList::new();
                for p in &partitions {
                    list.add_partition_offset(topic, *p, Offset::Offset(ms))?;
                }
                let found = consumer
                    .offsets_for_times(list, Duration::from_secs(10))
                    .context("cannot look up offsets for the time")?;
                let mut out = Vec::new();
                for element in found.elements() {
                    let offset = match element.offset() {
                        Offset::Offset(o) => o,
                        // No record at or after the time: start at the end.
                        _ => {
                            consumer
                                .fetch_watermarks(
                                    topic,
                                    element.partition(),
                                    Duration::from_secs(10),
                                )?
                                .1
                        }
                    };
                    out.push((element.partition(), offset));
                }
                Ok(out)
            }
        }
    }
}

/// The partitions of `topic`; an error when it has none (it does not exist yet).
fn partitions(client: &StreamConsumer, topic: &str) -> anyhow::Result<Vec<i32>> {
    let metadata = client
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("cannot read the partitions of {topic}"))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    anyhow::ensure!(
        !partitions.is_empty(),
        "topic {topic} has no partitions; does it exist?"
    );
    Ok(partitions)
}

/// Whether this relay holds (or has just taken) `log`'s relay lease.
async fn hold(log: &OutboxLog, lease: &mut Option<RelayLease>) -> bool {
    if let Some(held) = lease {
        if held.held().await {
            return true;
        }
        tracing::warn!(topic = log.topic(), "lost the relay lease");
    }
    *lease = match log.lead().await {
        Ok(taken) => taken,
        Err(e) => {
            tracing::warn!(topic = log.topic(), error = %e, "cannot take the relay lease; retrying");
            None
        }
    };
    if lease.is_some() {
        tracing::info!(topic = log.topic(), "relaying this outbox");
    }
    lease.is_some()
}

pub use crate::ReplayFrom;

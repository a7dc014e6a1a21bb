//! The Kafka transport: one topic per context and version, the aggregate id as key, the
//! protobuf event as value, CloudEvents binary-mode headers. The producer is idempotent with
//! `acks=all`; the relay marks outbox rows published only once Kafka acknowledged them, in
//! order. Consumers commit offsets only after the handler's transaction committed.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use crate::consumer::{Consumer, Delivery, Position, deliver_batch};
use crate::envelope::{Envelope, dlq_topic};
use crate::outbox::{OutboxLog, RelayLease};

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

    /// Consumes every partition of `topic` as `consumer.name`. Positions live in the consumer's
    /// own store, written in the handler's transaction, so a restart resumes exactly where the
    /// effects stopped; they are also committed to Kafka for lag tools.
    ///
    /// A consumer Kafka's client cannot make ends the run at once, with the error logged.
    pub fn consume(
        &self,
        topic: &str,
        consumer: Consumer,
        poll: Duration,
    ) -> impl Future<Output = ()> + Send + use<> {
        let made = self
            .stream_consumer(&consumer.name)
            .map(|stream| ConsumerLoop {
                kafka: self.clone(),
                stream,
                topic: topic.to_owned(),
                consumer,
                poll,
            });
        async move {
            match made {
                Ok(run) => run.run().await,
                Err(e) => tracing::error!(error = %format!("{e:#}"), "cannot consume from Kafka"),
            }
        }
    }

    /// A consumer of the group `group` that stores its positions itself.
    fn stream_consumer(&self, group: &str) -> anyhow::Result<StreamConsumer> {
        let stream: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // A stored position below what the broker still retains resumes at the oldest record.
            .set("auto.offset.reset", "earliest")
            // A fetch waits at most this long for new records: it bounds commit-to-handle
            // latency when traffic is light (librdkafka's default is 500 ms).
            .set("fetch.wait.max.ms", "25")
            .create()
            .with_context(|| format!("cannot create a Kafka consumer for {}", self.brokers))?;
        Ok(stream)
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

/// Assigns every partition of `topic` at the consumer's stored position (from its start when
/// none is stored), and returns the stored positions. Some brokers (tansu) cannot start a fetch
/// inside a record batch and silently answer from the next batch: the consumer then sees a first
/// offset above the stored one, re-reads that partition from its start, and passes over the
/// records below the stored position without touching the store. On Kafka itself the fetch
/// starts where it was asked, so a restart reads only what is new.
async fn assign_from_inbox(
    stream: &StreamConsumer,
    topic: &str,
    consumer: &Consumer,
) -> anyhow::Result<std::collections::HashMap<i32, i64>> {
    let partitions = partitions(stream, topic)?;
    let stored = consumer.inbox.offsets(&consumer.name, topic).await?;
    let mut list = TopicPartitionList::new();
    for p in partitions {
        let from = stored
            .get(&p)
            .map_or(Offset::Beginning, |&next| Offset::Offset(next));
        list.add_partition_offset(topic, p, from)?;
    }
    stream
        .assign(&list)
        .context("cannot assign the partitions")?;
    Ok(stored)
}

/// One Kafka consumer's loop: assign partitions at the stored positions, then take batches,
/// handle each in one transaction of the consumer's store, copy parked events to the DLQ topic
/// and commit (informational) offsets.
struct ConsumerLoop {
    kafka: Kafka,
    stream: StreamConsumer,
    topic: String,
    consumer: Consumer,
    poll: Duration,
}

/// Where each partition is: the positions stored when the loop started (records below are
/// handled already), the next offset expected, and the gaps already gone back for (one seen
/// again is real, e.g. retention, and accepted).
#[derive(Default)]
struct Positions {
    resume: HashMap<i32, i64>,
    expected: HashMap<i32, i64>,
    retried: HashSet<(i32, i64)>,
}

/// What to do with a received record.
enum Take {
    /// Handle it.
    Keep,
    /// Handled before the restart.
    Skip,
    /// Records before it were skipped by the fetch: the partition is re-read; stop the batch.
    Reread,
}

type Batch = Vec<(i32, i64, Envelope)>;

impl ConsumerLoop {
    async fn run(self) {
        let resume = loop {
            match assign_from_inbox(&self.stream, &self.topic, &self.consumer).await {
                Ok(resume) => break resume,
                Err(e) => {
                    tracing::warn!(consumer = %self.consumer.name, error = %format!("{e:#}"), "cannot assign partitions; retrying");
                    tokio::time::sleep(self.poll * 20).await;
                }
            }
        };
        let mut positions = Positions {
            expected: resume.clone(),
            resume,
            retried: HashSet::new(),
        };
        loop {
            if let Err(e) = crate::redrive(&self.consumer, &self.topic).await {
                tracing::warn!(consumer = %self.consumer.name, error = %e, "could not redrive parked events");
            }
            let batch = self.next_batch(&mut positions).await;
            if batch.is_empty() {
                continue;
            }
            self.handle(&batch).await;
            self.commit(&batch);
        }
    }

    /// What is ready now, up to BATCH records (waiting a while for the first).
    async fn next_batch(&self, positions: &mut Positions) -> Batch {
        let first = match tokio::time::timeout(self.poll * 10, self.stream.recv()).await {
            Err(_) => return Vec::new(),
            Ok(Err(e)) => {
                tracing::warn!(consumer = %self.consumer.name, error = %e, "Kafka receive failed; retrying");
                tokio::time::sleep(self.poll * 10).await;
                return Vec::new();
            }
            Ok(Ok(message)) => message,
        };
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            let (partition, offset) = (message.partition(), message.offset());
            match self.take(positions, partition, offset) {
                Take::Reread => break,
                Take::Skip => {}
                Take::Keep => match envelope(&message) {
                    Some(event) => batch.push((partition, offset, event)),
                    None => {
                        tracing::error!(consumer = %self.consumer.name, partition, offset, "a record without CloudEvents headers; skipping it")
                    }
                },
            }
            if batch.len() < BATCH as usize
                && let Ok(Ok(message)) =
                    tokio::time::timeout(Duration::ZERO, self.stream.recv()).await
            {
                next = Some(message);
            }
        }
        batch
    }

    fn take(&self, positions: &mut Positions, partition: i32, offset: i64) -> Take {
        if positions
            .resume
            .get(&partition)
            .is_some_and(|&n| offset < n)
        {
            // Handled before the restart (its position is stored with its effect).
            positions.expected.insert(partition, offset + 1);
            return Take::Skip;
        }
        if let Some(&n) = positions.expected.get(&partition)
            && offset > n
            && positions.retried.insert((partition, n))
        {
            // Our topics are neither compacted nor transactional, so offsets are contiguous and
            // a jump means the fetch skipped records. Some brokers cannot start a fetch inside a
            // record batch, so re-read the partition from its start: handled records come again
            // as duplicates.
            tracing::warn!(consumer = %self.consumer.name, partition, expected = n, got = offset, "records were skipped by the fetch; re-reading the partition");
            if let Err(e) = self.stream.seek(
                &self.topic,
                partition,
                Offset::Beginning,
                Duration::from_secs(10),
            ) {
                tracing::warn!(consumer = %self.consumer.name, error = %e, "could not seek back");
            }
            positions.expected.remove(&partition);
            return Take::Reread;
        }
        positions.expected.insert(partition, offset + 1);
        Take::Keep
    }

    /// Delivers the batch in one transaction (retrying while the store fails), then copies the
    /// events it parked to the DLQ topic.
    async fn handle(&self, batch: &Batch) {
        let events: Vec<(&Envelope, Option<Position<'_>>)> = batch
            .iter()
            .map(|(partition, offset, e)| {
                let position = Position {
                    topic: &self.topic,
                    partition: *partition,
                    offset: *offset,
                };
                (e, Some(position))
            })
            .collect();
        let outcomes = loop {
            match deliver_batch(&self.consumer, &self.topic, &events).await {
                Ok(outcomes) => break outcomes,
                Err(e) => {
                    tracing::warn!(consumer = %self.consumer.name, error = %e, "consumer store failed; retrying");
                    tokio::time::sleep(self.poll * 10).await;
                }
            }
        };
        for ((_, _, event), outcome) in batch.iter().zip(outcomes) {
            if let Delivery::Parked { error, attempts } = outcome {
                let extra = [
                    ("dlq_error", error),
                    ("dlq_attempts", attempts.to_string()),
                    ("dlq_consumer", self.consumer.name.clone()),
                ];
                if let Err(e) = self
                    .kafka
                    .publish(&dlq_topic(&self.topic), event, &extra)
                    .await
                {
                    tracing::warn!(consumer = %self.consumer.name, error = %format!("{e:#}"), "could not copy a parked event to the DLQ topic (it is in dead_letters)");
                }
            }
        }
    }

    /// Informational (lag tools): the position that counts is stored with the effect.
    fn commit(&self, batch: &Batch) {
        let mut last: HashMap<i32, i64> = HashMap::new();
        for (partition, offset, _) in batch {
            last.insert(*partition, *offset + 1);
        }
        let mut commit = TopicPartitionList::new();
        for (partition, next) in last {
            let _ = commit.add_partition_offset(&self.topic, partition, Offset::Offset(next));
        }
        let _ = self.stream.commit(&commit, CommitMode::Async);
    }
}

/// A record's envelope, from its CloudEvents headers and payload.
fn envelope(message: &rdkafka::message::BorrowedMessage<'_>) -> Option<Envelope> {
    let headers: Vec<(&str, &[u8])> = message
        .headers()
        .map(|h| {
            h.iter()
                .filter_map(|h| h.value.map(|v| (h.key, v)))
                .collect()
        })
        .unwrap_or_default();
    Envelope::from_headers(headers, message.payload().unwrap_or_default().to_vec())
}

//! Consuming a topic: every partition assigned at the consumer's stored position, batches
//! handled in one transaction of the consumer's store each, parked events copied to the DLQ
//! topic, offsets committed to Kafka only for lag tools.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::{BATCH, Kafka, partitions};
use crate::consumer::{Consumer, Delivery, Position, deliver_batch};
use crate::envelope::{Envelope, dlq_topic};

impl Kafka {
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
}

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

//! Kafka in a build without the `kafka` feature (no librdkafka): the same surface as the real
//! transport, so callers need no feature gates, but no [`Kafka`] can exist. [`Kafka::new`], the
//! only way to get one, answers what to do instead: a build with the feature, or no
//! `kafka.brokers` (the embedded bus).

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use crate::consumer::Consumer;
use crate::envelope::Envelope;
use crate::outbox::OutboxLog;

pub use crate::ReplayFrom;

/// What a process configured for Kafka says when its build has no Kafka client.
pub const NOT_BUILT: &str = "kafka.brokers (KAFKA_BROKERS) is set, but this crm was built without Kafka: \
     build it with `cargo build --release -p crm --features kafka` (the container image and the \
     chart's images have it), or unset kafka.brokers to use the embedded bus";

/// A Kafka connection that cannot exist in this build.
#[derive(Clone)]
pub struct Kafka {
    never: Infallible,
}

impl Kafka {
    /// Always refuses, saying how to get a build with Kafka.
    pub fn new(_brokers: &str) -> anyhow::Result<Kafka> {
        anyhow::bail!(NOT_BUILT)
    }

    pub async fn ping(&self, _timeout: Duration) -> anyhow::Result<()> {
        match self.never {}
    }

    pub fn brokers(&self) -> &str {
        match self.never {}
    }

    pub async fn ensure_topics(
        &self,
        _topics: &[&str],
        _partitions: i32,
        _replication: i32,
    ) -> anyhow::Result<()> {
        match self.never {}
    }

    pub async fn publish(
        &self,
        _topic: &str,
        _event: &Envelope,
        _extra: &[(&str, String)],
    ) -> anyhow::Result<()> {
        match self.never {}
    }

    pub fn relay(
        &self,
        _log: OutboxLog,
        _retention: Duration,
        _poll: Duration,
    ) -> std::future::Ready<()> {
        match self.never {}
    }

    pub fn consume(
        &self,
        _topic: &str,
        _consumer: Consumer,
        _poll: Duration,
    ) -> std::future::Ready<()> {
        match self.never {}
    }

    pub fn lag(&self, _topic: &str, _next: &HashMap<i32, i64>) -> anyhow::Result<i64> {
        match self.never {}
    }

    pub async fn offsets_at(
        &self,
        _group: &str,
        _topic: &str,
        _from: ReplayFrom,
    ) -> anyhow::Result<Vec<(i32, i64)>> {
        match self.never {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_build_without_kafka_says_how_to_get_one() {
        let e = super::Kafka::new("127.0.0.1:9092")
            .err()
            .expect("no Kafka value can exist in this build");
        assert!(e.to_string().contains("--features kafka"), "{e}");
    }
}

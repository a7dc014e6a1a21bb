//! Domain events for every context. Producers append an event to their outbox inside their own
//! transaction ([`outbox::append`], on either engine). A relay publishes them
//! in order: to Kafka ([`kafka`]) when `kafka.brokers` is set, or to the embedded bus
//! ([`embedded`]). Consumers implement [`consumer::Handler`] and get a transaction on their own
//! store, in which the event is also recorded as processed. [`EventBus`] picks the transport
//! from configuration, so services never touch it directly.
//!
//! A context that publishes, and another that reacts, in a few lines (the embedded bus here;
//! with Kafka only the [`EventBus`] and the [`Source`] change):
//!
//! ```
//! use crm_events::{BusSettings, Causation, Consumer, Envelope, EventBus, Handler, Inbox, OutboxLog, Source, Tx};
//! use crm_proto::crm::iam::events::v1::UserCreated;
//!
//! /// Notification's reaction to a new user.
//! struct Welcome;
//!
//! #[async_trait::async_trait]
//! impl Handler for Welcome {
//!     fn wants(&self, event_type: &str) -> bool {
//!         event_type == "crm.iam.events.v1.UserCreated"
//!     }
//!     async fn handle(&self, event: &Envelope, tx: &mut Tx) -> anyhow::Result<()> {
//!         let user = event.decode::<UserCreated>().unwrap_or_default();
//!         // Written through `tx` (SQLite or PostgreSQL alike): it commits together with the
//!         // record that the event was handled.
//!         sqlx::query("insert into welcomes (email) values ($1)")
//!             .bind(user.email)
//!             .execute(&mut **tx)
//!             .await?;
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! # let dir = tempfile::tempdir()?;
//! # let config = crm_core::config::Config { data_dir: dir.path().into(), ..Default::default() };
//! # let iam = crm_core::storage::Database::open(&config, "iam").await?;
//! # iam.migrate_shared("iam", &crm_events::TABLES).await?;
//! # let notification = crm_core::storage::Database::open(&config, "notification").await?;
//! # notification.migrate_shared("notification", &crm_events::TABLES).await?;
//! # sqlx::query("create table welcomes (email text not null)").execute(notification.pool()).await?;
//! let bus = EventBus::embedded(BusSettings::default());
//! let outbox = OutboxLog::new(iam.clone(), "crm.iam.events.v1");
//! bus.start_relay(outbox.clone());
//! bus.subscribe(
//!     Source::Outbox(outbox),
//!     Consumer::new("notification", Welcome, Inbox::new(notification.clone())),
//! )?;
//!
//! // IAM: the event commits with the change it describes, or not at all.
//! let user = UserCreated { email: "siti@kilang.example".into(), ..Default::default() };
//! let mut tx = iam.begin().await?;
//! // ... insert the user through `tx` ...
//! let event = Envelope::new("crm.iam", "tenant-1", "user-1", &user, &Causation::default());
//! crm_events::outbox::append(&mut tx, "user", &event).await?;
//! tx.commit().await?;
//! # let mut welcomed = Vec::new();
//! # for _ in 0..500 {
//! #     welcomed = sqlx::query_scalar::<_, String>("select email from welcomes").fetch_all(notification.pool()).await?;
//! #     if !welcomed.is_empty() { break; }
//! #     tokio::time::sleep(std::time::Duration::from_millis(20)).await;
//! # }
//! # assert_eq!(welcomed, ["siti@kilang.example"]);
//! # Ok(())
//! # }
//! ```

/// The outbox and inbox tables, in every context's store (see
/// [`crm_core::storage::SharedTables`]).
pub static TABLES: crm_core::storage::SharedTables = crm_core::storage::SharedTables {
    owner: "crm_events",
    migrations: &crm_core::storage::Migrations {
        sqlite: sqlx::migrate!("../../migrations/events/sqlite"),
        postgres: sqlx::migrate!("../../migrations/events/postgres"),
    },
};

pub mod bounded;
pub mod consumer;
pub mod embedded;
pub mod envelope;
#[cfg(feature = "kafka")]
pub mod kafka;
/// Kafka in a build without its client: the same surface; [`Kafka::new`] says how to get one.
#[cfg(not(feature = "kafka"))]
#[path = "kafka_absent.rs"]
pub mod kafka;
#[cfg(feature = "mongodb")]
pub mod mongo;
pub mod outbox;

use std::time::Duration;

use crm_core::supervise::Task;
use tokio::task::JoinHandle;

pub use consumer::{Consumer, Delivery, Handler, Inbox, RetryPolicy, Tx};
pub use envelope::{Causation, Envelope, topic_of};
pub use outbox::{ConsumerLag, OutboxError, OutboxEvent, OutboxLog};

pub use crate::kafka::Kafka;

/// Where a replay starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayFrom {
    /// The first event at or after this time.
    Time(envelope::Millis),
    /// This offset (Kafka) or outbox position (embedded).
    Offset(i64),
}

/// Where a consumer's events come from: the producer's outbox (embedded) or a topic (Kafka).
#[derive(Clone, Debug)]
pub enum Source {
    /// An outbox in this process.
    Outbox(OutboxLog),
    /// A topic, for consumers in another process than the producer (Kafka only).
    Topic(String),
}

impl Source {
    /// The topic.
    pub fn topic(&self) -> &str {
        match self {
            Source::Outbox(log) => log.topic(),
            Source::Topic(topic) => topic,
        }
    }
}

/// Tuning of the bus.
#[derive(Clone, Copy, Debug)]
pub struct BusSettings {
    /// How often idle loops look for new events.
    pub poll: Duration,
    /// How long published events stay in the outbox.
    pub retention: Duration,
}

impl Default for BusSettings {
    fn default() -> Self {
        BusSettings {
            poll: Duration::from_millis(50),
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// The transport, chosen by configuration.
#[derive(Clone)]
pub enum EventBus {
    /// In-process: the outbox is the log.
    Embedded(BusSettings),
    /// Kafka.
    Kafka(Kafka, BusSettings),
}

impl EventBus {
    /// The embedded bus.
    pub fn embedded(settings: BusSettings) -> EventBus {
        EventBus::Embedded(settings)
    }

    /// Kafka at `brokers`, with `topics` (every context's, from the launcher's list) and their
    /// DLQ topics created if missing.
    pub async fn kafka(
        brokers: &str,
        topics: &[&str],
        partitions: i32,
        replication: i32,
        settings: BusSettings,
    ) -> anyhow::Result<EventBus> {
        let kafka = Kafka::new(brokers)?;
        kafka.ensure_topics(topics, partitions, replication).await?;
        Ok(EventBus::Kafka(kafka, settings))
    }

    /// Its Kafka connection, when it is Kafka (for readiness checks).
    pub fn kafka_connection(&self) -> Option<Kafka> {
        match self {
            EventBus::Kafka(kafka, _) => Some(kafka.clone()),
            EventBus::Embedded(_) => None,
        }
    }

    /// The relay of `log`: publishes its events (to Kafka, or marks them published on the
    /// embedded bus), as a task the launcher supervises.
    pub fn relay(&self, log: OutboxLog) -> Task {
        let name = format!("relay {}", log.topic());
        match self.clone() {
            EventBus::Embedded(s) => Task::new(name, move || {
                embedded::relay(log.clone(), s.retention, s.poll)
            }),
            EventBus::Kafka(kafka, s) => {
                Task::new(name, move || kafka.relay(log.clone(), s.retention, s.poll))
            }
        }
    }

    /// Delivering `source`'s events to `consumer`, as a task the launcher supervises. Refused
    /// when the embedded bus is asked for a topic produced in another process.
    pub fn consumer(&self, source: Source, consumer: Consumer) -> anyhow::Result<Task> {
        let name = format!("consumer {}", consumer.name);
        match (self.clone(), source) {
            (EventBus::Embedded(s), Source::Outbox(log)) => Ok(Task::new(name, move || {
                embedded::consume(log.clone(), consumer.clone(), s.poll)
            })),
            (EventBus::Embedded(_), Source::Topic(topic)) => {
                anyhow::bail!(
                    "{topic} is produced in another process: consuming it needs Kafka (kafka.brokers)"
                )
            }
            (EventBus::Kafka(kafka, s), source) => {
                let topic = source.topic().to_owned();
                Ok(Task::new(name, move || {
                    kafka.consume(&topic, consumer.clone(), s.poll)
                }))
            }
        }
    }

    /// Starts publishing `log`'s events, unsupervised (tests and benches).
    pub fn start_relay(&self, log: OutboxLog) -> JoinHandle<()> {
        tokio::spawn(self.relay(log).run())
    }

    /// Starts delivering `source`'s events to `consumer`, unsupervised (tests and benches).
    pub fn subscribe(&self, source: Source, consumer: Consumer) -> anyhow::Result<JoinHandle<()>> {
        Ok(tokio::spawn(self.consumer(source, consumer)?.run()))
    }
}

/// Delivers the consumer's parked events that an operator asked to redrive (from `topic`).
pub(crate) async fn redrive(consumer: &Consumer, topic: &str) -> Result<(), sqlx::Error> {
    for letter in consumer.inbox.dead_letters(Some(&consumer.name)).await? {
        if letter.topic != topic
            || letter.redrive_requested_at.is_none()
            || letter.redriven_at.is_some()
        {
            continue;
        }
        let outcome = consumer::deliver(consumer, topic, &letter.envelope).await?;
        tracing::info!(consumer = %consumer.name, event_id = %letter.envelope.id, ?outcome, "redrove a parked event");
        consumer.inbox.mark_redriven(letter.id).await?;
    }
    Ok(())
}

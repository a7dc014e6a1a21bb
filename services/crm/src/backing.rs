//! What a process opens before it serves: the stores of its contexts (migrated here when
//! embedded), the event transport and the access-token revocation marks.

use std::time::Duration;

use anyhow::Context as _;
use crm_core::config::Config;
use crm_core::revocation::Revocations;
use crm_core::storage::{Database, Engine};
use crm_core::supervise::Task;
use crm_events::bounded::{BoundedContext, Started};

use crate::Contexts;

/// A context's open store.
pub(crate) type Store = (&'static BoundedContext, Database);

/// The event transport: Kafka when `kafka.brokers` is set (topics created if missing), else the
/// embedded bus.
pub(crate) async fn event_bus(
    config: &Config,
    contexts: Contexts,
) -> anyhow::Result<crm_events::EventBus> {
    let settings = crm_events::BusSettings {
        poll: Duration::from_millis(config.events.poll_millis),
        retention: Duration::from_secs(config.events.retention_hours * 3600),
    };
    match &config.kafka.brokers {
        Some(brokers) => crm_events::EventBus::kafka(
            brokers,
            &contexts.topics(),
            config.kafka.partitions,
            config.kafka.replication_factor,
            settings,
        )
        .await
        .context("cannot start the Kafka transport (kafka.brokers / KAFKA_BROKERS)"),
        None => {
            if config.database.url.is_some() {
                // The embedded bus reads outboxes by position, which is commit order only with
                // SQLite's single writer; concurrent PostgreSQL commits can land out of order.
                tracing::warn!(
                    "PostgreSQL without Kafka: set kafka.brokers (KAFKA_BROKERS); the embedded bus is meant for SQLite"
                );
            }
            Ok(crm_events::EventBus::embedded(settings))
        }
    }
}

/// The outbox of every open store that has one (a context with migrations).
pub(crate) fn outboxes(databases: &[Store]) -> Vec<crm_events::OutboxLog> {
    databases
        .iter()
        .filter(|(c, _)| c.migrations.is_some())
        .filter_map(|(c, db)| {
            c.topic
                .map(|topic| crm_events::OutboxLog::new(db.clone(), topic))
        })
        .collect()
}

/// The stores that have the shared tables (outbox, inbox): those of contexts with migrations.
pub(crate) fn with_tables(databases: &[Store]) -> impl Iterator<Item = &Store> {
    databases.iter().filter(|(c, _)| c.migrations.is_some())
}

/// Opens the store of every context in `running` that has one: embedded SQLite is migrated
/// here; PostgreSQL must already be (by `crm migrate`), so replicas never race on the schema.
pub(crate) async fn open_stores(
    config: &Config,
    running: &[&'static BoundedContext],
) -> anyhow::Result<Vec<Store>> {
    if config.database.url.is_none() && running.iter().any(|c| c.has_store) {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}; choose another with --data-dir",
                config.data_dir.display()
            )
        })?;
    }
    let mut databases = Vec::new();
    for &context in running.iter().filter(|c| c.has_store) {
        let db = Database::open(config, context.name).await?;
        if let Some(migrations) = context.migrations {
            match db.engine() {
                Engine::Sqlite => migrate_store(&db, context.name, migrations).await?,
                Engine::Postgres => {
                    db.ensure_migrated(context.name, migrations).await?;
                    for shared in SHARED_TABLES {
                        db.ensure_shared_migrated(context.name, shared).await?;
                    }
                }
            }
        }
        databases.push((context, db));
    }
    Ok(databases)
}

/// Tables every context's store carries besides its own: the outbox and inbox, and the
/// idempotency keys. Their owners keep their DDL; a context's migrations hold only its tables.
pub(crate) const SHARED_TABLES: [&crm_core::storage::SharedTables; 2] =
    [&crm_events::TABLES, &crm_core::idempotency::TABLES];

/// Applies a context's migrations, then the shared tables.
pub(crate) async fn migrate_store(
    db: &Database,
    context: &str,
    migrations: &crm_core::storage::Migrations,
) -> Result<(), crm_core::storage::StorageError> {
    db.migrate(context, migrations).await?;
    for shared in SHARED_TABLES {
        db.migrate_shared(context, shared).await?;
    }
    Ok(())
}

/// Where access-token revocations are marked and checked: Redis when `redis.url` is set (every
/// process of a deployment sees IAM's marks at once), else this process's memory.
pub(crate) async fn revocations(config: &Config) -> anyhow::Result<Revocations> {
    match &config.redis.url {
        Some(url) => Revocations::redis(url.expose(), "crm:auth:")
            .await
            .with_context(|| {
                format!(
                    "cannot connect to Redis at {} (redis.url / REDIS_URL) for token revocations",
                    url.redacted()
                )
            }),
        None => Ok(Revocations::memory()),
    }
}

/// Whether every store answers now (logging each one that does not).
pub(crate) async fn stores_answer(databases: &[Store]) -> bool {
    let mut all = true;
    for (target, db) in databases {
        if let Err(e) = db.ping().await {
            tracing::error!(target = target.name, error = %e, "store does not answer");
            all = false;
        }
    }
    all
}

/// The events of a process: its outboxes, the tasks that relay and consume them, and the
/// consumer groups with their topics (for /metrics).
pub(crate) struct Events {
    /// Every outbox of the process: its stores' and those the contexts gave.
    pub logs: Vec<crm_events::OutboxLog>,
    /// The relays and the consumers, to supervise.
    pub tasks: Vec<Task>,
    /// (consumer group, topic) of each consumer.
    pub groups: Vec<(String, String)>,
}

/// A relay for every outbox, and every context's consumers: each reads the producer's outbox
/// when the producer runs in this process, else Kafka.
pub(crate) fn events(
    bus: &crm_events::EventBus,
    databases: &[Store],
    started: &[Started],
) -> anyhow::Result<Events> {
    // The outboxes a context keeps outside its SQL store come first: where a context has both
    // (customers on MongoDB), its events are in that one, and its consumers must read it.
    let mut logs: Vec<crm_events::OutboxLog> = started
        .iter()
        .flat_map(|s| s.outboxes.iter().cloned())
        .collect();
    logs.extend(outboxes(databases));
    let mut tasks: Vec<Task> = logs.iter().map(|log| bus.relay(log.clone())).collect();
    let mut groups = Vec::new();
    for started in started {
        for (topic, consumer) in &started.consumers {
            groups.push((consumer.name.clone(), (*topic).to_owned()));
            let source = match logs.iter().find(|log| log.topic() == *topic) {
                Some(log) => crm_events::Source::Outbox(log.clone()),
                None => crm_events::Source::Topic((*topic).to_owned()),
            };
            tasks.push(bus.consumer(source, consumer.clone()).with_context(|| {
                format!("subscribing to {topic}: run the context that produces it in this process, or set kafka.brokers")
            })?);
        }
    }
    Ok(Events {
        logs,
        tasks,
        groups,
    })
}

//! The bus contract: run against the embedded bus always and against Kafka when `KAFKA_BROKERS`
//! is set (set but unreachable fails). Producer and consumer have stores of their own, as two
//! contexts would. The producer's store is SQLite, and again MongoDB when `MONGODB_URL` is set
//! (a replica set: the outbox needs transactions). The consumer's store is SQLite, and again
//! PostgreSQL (as the `crm_app` role, under row-level security) when `DATABASE_URL` is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use crm_core::config::Config;
use crm_core::storage::{Database, Engine};
use crm_core::testing::eventually;
use crm_events::consumer::{Delivery, Handler, Inbox, RetryPolicy, Tx};
use crm_events::{BusSettings, Causation, Consumer, Envelope, EventBus, OutboxLog, Source};
use crm_proto::crm::iam::events::v1::UserRoleChanged;
#[cfg(feature = "kafka")]
use prost::Message;

/// The test consumer's own table, migrated apart (its own migration history table would clash).
async fn create_effects(db: &Database) {
    let ddl = match db.engine() {
        Engine::Sqlite => include_str!("../tests/fixtures/sqlite/0001_effects.sql"),
        Engine::Postgres => include_str!("../tests/fixtures/postgres/0001_effects.sql"),
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(ddl))
        .execute(db.pool())
        .await
        .unwrap();
}

/// Where the consumer keeps its effects, processed records and positions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ConsumerStore {
    Sqlite,
    Postgres,
}

/// The producing context's store.
enum Producer {
    Sql(Database),
    #[cfg(feature = "mongodb")]
    Mongo(mongodb::Client, mongodb::Database),
}

struct World {
    bus: EventBus,
    producer: Producer,
    consumer_db: Database,
    topic: String,
    _dir: tempfile::TempDir,
}

/// A MongoDB database of its own (`MONGODB_URL` required; unreachable fails).
#[cfg(feature = "mongodb")]
async fn mongo_database() -> (mongodb::Client, mongodb::Database) {
    let url = crm_core::testing::backend("MONGODB_URL");
    let client = mongodb::Client::with_uri_str(&url)
        .await
        .expect("MONGODB_URL is not a usable MongoDB URL");
    let db = client.database(&format!("crm_test_{}", uuid::Uuid::now_v7().simple()));
    crm_events::mongo::ensure_indexes(&db)
        .await
        .expect("MONGODB_URL is set but MongoDB is unreachable");
    (client, db)
}

async fn world(kafka: bool, mongo: bool, consumer: ConsumerStore) -> World {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let producer = if mongo {
        #[cfg(feature = "mongodb")]
        {
            let (client, db) = mongo_database().await;
            Producer::Mongo(client, db)
        }
        #[cfg(not(feature = "mongodb"))]
        unreachable!("the MongoDB variants are built with the mongodb feature only")
    } else {
        let db = Database::open(&config, "producer").await.unwrap();
        db.migrate_shared("producer", &crm_events::TABLES)
            .await
            .unwrap();
        Producer::Sql(db)
    };
    let consumer_db = match consumer {
        ConsumerStore::Sqlite => Database::open(&config, "consumer").await.unwrap(),
        ConsumerStore::Postgres => {
            let url = crm_core::testing::backend("DATABASE_URL");
            let mut config = Config::default();
            config.database.url = Some(crm_core::config::Secret::new(url));
            // A schema of its own per test.
            let context = format!("consumer_{}", uuid::Uuid::now_v7().simple());
            Database::open(&config, &context)
                .await
                .expect("DATABASE_URL is set but PostgreSQL is unreachable")
        }
    };
    consumer_db
        .migrate_shared("consumer", &crm_events::TABLES)
        .await
        .unwrap();
    create_effects(&consumer_db).await;
    let settings = BusSettings {
        poll: Duration::from_millis(10),
        retention: Duration::from_secs(3600),
    };
    // A topic of its own per test: Kafka keeps what earlier runs wrote.
    let topic = format!("crm.test{}.events.v1", uuid::Uuid::now_v7().simple());
    let bus = if kafka {
        let brokers = crm_core::testing::backend("KAFKA_BROKERS");
        let kafka = crm_events::kafka::Kafka::new(&brokers).unwrap();
        kafka
            .ensure_topics(&[&topic], 3, 1)
            .await
            .expect("KAFKA_BROKERS is set but Kafka is unreachable");
        EventBus::Kafka(kafka, settings)
    } else {
        EventBus::embedded(settings)
    };
    World {
        bus,
        producer,
        consumer_db,
        topic,
        _dir: dir,
    }
}

/// Records each event it handles in `effects`, in the consumer's transaction; fails on events
/// whose subject is "poison" while `broken` is set.
struct Recorder {
    broken: Arc<AtomicBool>,
}

#[async_trait]
impl Handler for Recorder {
    fn wants(&self, event_type: &str) -> bool {
        event_type == "crm.iam.events.v1.UserRoleChanged"
    }

    async fn handle(&self, event: &Envelope, tx: &mut Tx) -> anyhow::Result<()> {
        if event.subject == "poison" && self.broken.load(Ordering::SeqCst) {
            anyhow::bail!("cannot handle a poison event");
        }
        let position = event
            .decode::<UserRoleChanged>()
            .map(|e| e.roles.len() as i64)
            .unwrap_or(-1);
        // The same statement on either engine.
        sqlx::query("insert into effects (event_id, subject, position) values ($1, $2, $3)")
            .bind(event.id.to_string())
            .bind(&event.subject)
            .bind(position)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

impl World {
    fn log(&self) -> OutboxLog {
        match &self.producer {
            Producer::Sql(db) => OutboxLog::new(db.clone(), &self.topic),
            #[cfg(feature = "mongodb")]
            Producer::Mongo(_, db) => OutboxLog::mongo(db.clone(), &self.topic),
        }
    }

    fn consumer(&self, broken: Arc<AtomicBool>) -> Consumer {
        Consumer {
            name: format!("test-consumer-{}", self.topic),
            handler: Arc::new(Recorder { broken }),
            // On PostgreSQL, as the application role (the default `database.app_role`), under
            // row-level security.
            inbox: Inbox::new(self.consumer_db.clone()),
            policy: RetryPolicy {
                max_attempts: 3,
                min_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
            },
        }
    }

    fn source(&self) -> Source {
        match &self.bus {
            EventBus::Embedded(_) => Source::Outbox(self.log()),
            EventBus::Kafka(..) => Source::Topic(self.topic.clone()),
        }
    }

    /// Appends one event in its own transaction: `position` is carried as the number of roles.
    async fn append(&self, subject: &str, position: usize) -> Envelope {
        let envelope = role_changed(subject, position);
        match &self.producer {
            Producer::Sql(db) => {
                let mut tx = db.begin().await.unwrap();
                crm_events::outbox::append(&mut tx, "user", &envelope)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
            #[cfg(feature = "mongodb")]
            Producer::Mongo(client, db) => {
                mongo_change_with_event(client, db, &envelope, true)
                    .await
                    .unwrap();
            }
        }
        envelope
    }

    async fn effects(&self) -> Vec<(String, String, i64)> {
        const SQL: &str = "select event_id, subject, position from effects order by n";
        sqlx::query_as(SQL)
            .fetch_all(self.consumer_db.pool())
            .await
            .unwrap()
    }

    /// Waits for `count` effects. Delivery is asynchronous: this polls the consumer's store
    /// until the condition holds (the bound only turns a hang into a failure).
    async fn await_effects(&self, count: usize) -> Vec<(String, String, i64)> {
        for _ in 0..6000 {
            let effects = self.effects().await;
            if effects.len() >= count {
                return effects;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let effects = self.effects().await;
        let seen: std::collections::HashSet<(String, i64)> =
            effects.iter().map(|(_, s, p)| (s.clone(), *p)).collect();
        let log = self.log().read_after(0, 100_000).await.unwrap();
        let missing: Vec<String> = log
            .iter()
            .filter_map(|l| {
                let p = l
                    .envelope
                    .decode::<UserRoleChanged>()
                    .map(|e| e.roles.len() as i64)
                    .unwrap_or(-1);
                (!seen.contains(&(l.envelope.subject.clone(), p))).then(|| {
                    format!(
                        "seq {} {} {} {}",
                        l.seq, l.envelope.subject, p, l.envelope.id
                    )
                })
            })
            .collect();
        panic!(
            "only {} of {count} effects arrived; missing: {missing:?}",
            effects.len()
        );
    }
}

/// A `UserRoleChanged` event of aggregate `subject`, its `position` carried as the number of roles.
fn role_changed(subject: impl ToString, position: usize) -> Envelope {
    let event = UserRoleChanged {
        roles: vec!["r".to_owned(); position],
        ..Default::default()
    };
    Envelope::new(
        "crm.test",
        "tenant-1",
        subject,
        &event,
        &Causation::default(),
    )
}

#[cfg(feature = "mongodb")]
/// A state change (a document) and its event in one MongoDB transaction, committed or aborted;
/// retried while MongoDB says the transaction is transient (a write conflict on the counter).
async fn mongo_change_with_event(
    client: &mongodb::Client,
    db: &mongodb::Database,
    event: &Envelope,
    commit: bool,
) -> mongodb::error::Result<()> {
    use mongodb::bson::doc;
    use mongodb::error::TRANSIENT_TRANSACTION_ERROR;
    loop {
        let mut session = client.start_session().await?;
        session.start_transaction().await?;
        let attempt = async {
            db.collection::<mongodb::bson::Document>("state")
                .insert_one(doc! { "_id": event.id.to_string(), "subject": &event.subject })
                .session(&mut session)
                .await?;
            crm_events::mongo::append_mongo(&mut session, db, "user", event).await?;
            if commit {
                session.commit_transaction().await
            } else {
                session.abort_transaction().await
            }
        }
        .await;
        match attempt {
            Err(e) if e.contains_label(TRANSIENT_TRANSACTION_ERROR) => continue,
            other => return other,
        }
    }
}

fn assert_once_each_in_order(effects: &[(String, String, i64)], expected: usize) {
    let ids: std::collections::HashSet<&String> = effects.iter().map(|(id, _, _)| id).collect();
    assert_eq!(ids.len(), effects.len(), "an event had a second effect");
    assert_eq!(effects.len(), expected);
    let mut last: std::collections::HashMap<&str, i64> = Default::default();
    for (_, subject, position) in effects {
        let before = last.insert(subject, *position).unwrap_or(-1);
        assert!(
            *position > before,
            "{subject}: {position} came after {before}"
        );
    }
}

async fn every_event_is_delivered_once_in_order_per_aggregate(w: World) {
    let relay = w.bus.start_relay(w.log());
    let consumer = w
        .bus
        .subscribe(w.source(), w.consumer(Arc::default()))
        .unwrap();
    for position in 0..50 {
        for aggregate in ["a", "b", "c", "d"] {
            w.append(aggregate, position).await;
        }
    }
    let effects = w.await_effects(200).await;
    assert_once_each_in_order(&effects, 200);
    // The relay marks a batch once the transport took it, which can be after the consumer had it.
    eventually("the relay published everything", || async {
        (w.log().backlog().await.unwrap().pending == 0).then_some(())
    })
    .await;
    // What an operator sees (`crm events status`): the group has nothing left.
    let group = w.consumer(Arc::default());
    match &w.bus {
        EventBus::Kafka(kafka, _) => {
            // Positions are stored with the effects, so they are current already.
            let next = group.inbox.offsets(&group.name, &w.topic).await.unwrap();
            assert_eq!(kafka.lag(&w.topic, &next).unwrap(), 0);
            assert_eq!(
                group.inbox.groups_on(&w.topic).await.unwrap(),
                std::slice::from_ref(&group.name)
            );
        }
        EventBus::Embedded(_) => {
            // The cursor moves just after the batch commits.
            let lag = eventually("the group's cursor caught up", || async {
                let lag = w.log().consumer_lag().await.unwrap();
                lag.first().is_some_and(|l| l.behind == 0).then_some(lag)
            })
            .await;
            assert_eq!(lag.len(), 1);
            assert_eq!(
                (lag[0].consumer.as_str(), lag[0].behind),
                (group.name.as_str(), 0)
            );
        }
    }
    relay.abort();
    consumer.abort();
}

async fn a_poison_event_is_parked_and_can_be_redriven(w: World) {
    let broken = Arc::new(AtomicBool::new(true));
    let consumer = w.consumer(broken.clone());
    let relay = w.bus.start_relay(w.log());
    let task = w.bus.subscribe(w.source(), consumer.clone()).unwrap();
    w.append("ok", 0).await;
    let poison = w.append("poison", 0).await;
    w.append("ok", 1).await;
    let effects = w.await_effects(2).await;
    assert_eq!(
        effects
            .iter()
            .map(|(_, s, _)| s.as_str())
            .collect::<Vec<_>>(),
        ["ok", "ok"],
        "the stream moved on past the poison"
    );
    // On Kafka the poison may sit in another partition than the good events: wait for it too.
    let parked = eventually("the poison event is parked", || async {
        let parked = consumer
            .inbox
            .dead_letters(Some(&consumer.name))
            .await
            .unwrap();
        (!parked.is_empty()).then_some(parked)
    })
    .await;
    assert_eq!(parked.len(), 1);
    assert_eq!((parked[0].envelope.id, parked[0].attempts), (poison.id, 3));
    assert!(
        parked[0].error.contains("cannot handle a poison event"),
        "{}",
        parked[0].error
    );

    broken.store(false, Ordering::SeqCst);
    assert_eq!(
        consumer
            .inbox
            .request_redrive(Some(&consumer.name))
            .await
            .unwrap(),
        1
    );
    let effects = w.await_effects(3).await;
    assert_eq!(
        effects[2].0,
        poison.id.to_string(),
        "the redriven event was handled"
    );
    eventually("the redriven dead letter is marked", || async {
        consumer.inbox.dead_letters(None).await.unwrap()[0]
            .redriven_at
            .map(drop)
    })
    .await;
    assert!(
        consumer.inbox.dead_letters(None).await.unwrap()[0]
            .redriven_at
            .is_some()
    );
    relay.abort();
    task.abort();
}

/// The crash test: relay and consumer are killed mid-stream while changes keep committing;
/// after a restart every committed change's event is delivered and applied exactly once.
async fn a_crash_mid_stream_loses_nothing_and_applies_each_once(w: World) {
    let consumer = w.consumer(Arc::default());
    let mut relay = w.bus.start_relay(w.log());
    let mut task = w.bus.subscribe(w.source(), consumer.clone()).unwrap();
    let mut committed = 0;
    for round in 0..3 {
        for position in 0..40 {
            w.append(&format!("agg{}", position % 5), round * 40 + position)
                .await;
            committed += 1;
        }
        // Kill both wherever they are (mid-batch, mid-handler), then start them again.
        w.await_effects(committed / 2).await;
        relay.abort();
        task.abort();
        let _ = (&mut relay).await;
        let _ = (&mut task).await;
        relay = w.bus.start_relay(w.log());
        task = w.bus.subscribe(w.source(), consumer.clone()).unwrap();
    }
    let effects = w.await_effects(committed).await;
    // Let any redelivery after the last restart show itself before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_once_each_in_order(&w.effects().await, committed);
    assert_eq!(effects.len(), committed);
    relay.abort();
    task.abort();
}

#[tokio::test]
async fn a_redelivered_event_has_no_second_effect() {
    let w = world(false, false, ConsumerStore::Sqlite).await;
    let consumer = w.consumer(Arc::default());
    let event = w.append("once", 0).await;
    let first = consumer
        .inbox
        .process(&consumer.name, consumer.handler.as_ref(), &event)
        .await
        .unwrap();
    let again = consumer
        .inbox
        .process(&consumer.name, consumer.handler.as_ref(), &event)
        .await
        .unwrap();
    assert_eq!((first, again), (Delivery::Handled, Delivery::Duplicate));
    assert_eq!(w.effects().await.len(), 1);
    let mut other = event.clone();
    other.event_type = "crm.iam.events.v1.UserCreated".into();
    assert_eq!(
        consumer
            .inbox
            .process(&consumer.name, consumer.handler.as_ref(), &other)
            .await
            .unwrap(),
        Delivery::Skipped
    );
}

// The variants that need a backend are ignored by `cargo test` (listed, with what they need) and
// run by `cargo test -- --include-ignored`, which then requires the backend.
macro_rules! on_every_transport {
    ($($name:ident),* $(,)?) => {
        on_every_transport!(@mod embedded_bus, false, false, Sqlite, all(), [allow(unused)], $($name),*);
        on_every_transport!(@mod kafka_bus, true, false, Sqlite, feature = "kafka",
            [ignore = "needs KAFKA_BROKERS (Kafka): run with --include-ignored"], $($name),*);
        on_every_transport!(@mod mongodb_outbox_embedded_bus, false, true, Sqlite, feature = "mongodb",
            [ignore = "needs MONGODB_URL (MongoDB replica set): run with --include-ignored"], $($name),*);
        on_every_transport!(@mod mongodb_outbox_kafka_bus, true, true, Sqlite, all(feature = "kafka", feature = "mongodb"),
            [ignore = "needs MONGODB_URL and KAFKA_BROKERS: run with --include-ignored"], $($name),*);
        on_every_transport!(@mod postgres_consumer_embedded_bus, false, false, Postgres, all(),
            [ignore = "needs DATABASE_URL (PostgreSQL): run with --include-ignored"], $($name),*);
        on_every_transport!(@mod postgres_consumer_kafka_bus, true, false, Postgres, feature = "kafka",
            [ignore = "needs DATABASE_URL and KAFKA_BROKERS: run with --include-ignored"], $($name),*);
    };
    // `$gate`: the cargo features the variant needs (`all()`: none).
    (@mod $module:ident, $kafka:expr, $mongo:expr, $store:ident, $gate:meta, [$attr:meta], $($name:ident),*) => {
        #[cfg($gate)]
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread")]
                #[$attr]
                async fn $name() {
                    super::$name(super::world($kafka, $mongo, super::ConsumerStore::$store).await).await;
                }
            )*
        }
    };
}

on_every_transport!(
    every_event_is_delivered_once_in_order_per_aggregate,
    a_poison_event_is_parked_and_can_be_redriven,
    a_crash_mid_stream_loses_nothing_and_applies_each_once,
);

#[cfg(feature = "kafka")]
#[tokio::test]
#[ignore = "needs KAFKA_BROKERS (Kafka): run with --include-ignored"]
async fn kafka_records_carry_the_aggregate_key_and_cloudevents_headers() {
    use rdkafka::consumer::{Consumer as _, StreamConsumer};
    use rdkafka::message::{Headers, Message as _};
    let w = world(true, false, ConsumerStore::Sqlite).await;
    let EventBus::Kafka(kafka, _) = &w.bus else {
        unreachable!()
    };
    let relay = w.bus.start_relay(w.log());
    let sent = w.append("user-42", 7).await;
    let reader: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka.brokers())
        .set("group.id", format!("reader-{}", w.topic))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    reader.subscribe(&[&w.topic]).unwrap();
    let record = tokio::time::timeout(Duration::from_secs(60), reader.recv())
        .await
        .expect("a record")
        .unwrap();
    assert_eq!(record.key(), Some("user-42".as_bytes()));
    let headers: std::collections::HashMap<String, String> = record
        .headers()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h.key.to_owned(),
                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
            )
        })
        .collect();
    assert_eq!(headers["ce_id"], sent.id.to_string());
    assert_eq!(headers["ce_type"], "crm.iam.events.v1.UserRoleChanged");
    assert_eq!(headers["ce_specversion"], "1.0");
    assert_eq!(headers["ce_subject"], "user-42");
    assert_eq!(
        UserRoleChanged::decode(record.payload().unwrap())
            .unwrap()
            .roles
            .len(),
        7
    );
    relay.abort();
}

/// MongoDB: the event exists exactly when the change does, and concurrent appends get gapless
/// positions in commit order (what lets the relay walk the outbox by position).
#[cfg(feature = "mongodb")]
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MONGODB_URL (MongoDB replica set): run with --include-ignored"]
async fn mongodb_an_event_commits_and_aborts_with_its_change() {
    let w = world(false, true, ConsumerStore::Sqlite).await;
    let Producer::Mongo(client, db) = &w.producer else {
        unreachable!()
    };
    let event = |subject: &str| role_changed(subject, 0);
    mongo_change_with_event(client, db, &event("aborted"), false)
        .await
        .unwrap();
    let states = db.collection::<mongodb::bson::Document>("state");
    assert_eq!(
        states
            .count_documents(mongodb::bson::doc! {})
            .await
            .unwrap(),
        0
    );
    assert!(
        w.log().read_after(0, 10).await.unwrap().is_empty(),
        "an aborted change has no event"
    );

    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (client, db) = (client.clone(), db.clone());
            let events: Vec<Envelope> = (0..25).map(|i| event(&format!("agg{t}-{i}"))).collect();
            tokio::spawn(async move {
                for e in &events {
                    mongo_change_with_event(&client, &db, e, true)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let logged = w.log().read_after(0, 1000).await.unwrap();
    assert_eq!(
        states
            .count_documents(mongodb::bson::doc! {})
            .await
            .unwrap(),
        200
    );
    assert_eq!(
        logged.iter().map(|l| l.seq).collect::<Vec<_>>(),
        (1..=200).collect::<Vec<i64>>(),
        "positions are gapless and in order"
    );
    let backlog = w.log().backlog().await.unwrap();
    assert_eq!(backlog.pending, 200);
    let seqs: Vec<i64> = logged.iter().take(150).map(|l| l.seq).collect();
    w.log().mark_published(&seqs, 1).await.unwrap();
    assert_eq!(w.log().pending(1000).await.unwrap().len(), 50);
    assert_eq!(w.log().prune(Duration::ZERO).await.unwrap(), 150);
    db.drop().await.unwrap();
}

/// `crm events status` on Kafka: a group's lag is the records after its stored positions.
#[cfg(feature = "kafka")]
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs KAFKA_BROKERS (Kafka): run with --include-ignored"]
async fn kafka_lag_counts_the_records_a_group_has_not_handled() {
    let w = world(true, false, ConsumerStore::Sqlite).await;
    let EventBus::Kafka(kafka, _) = &w.bus else {
        unreachable!()
    };
    // One record per produce request: tansu reports a partition's end as its last record
    // batch's first offset + 1, which is right only for batches of one.
    for n in 0..12 {
        let event = role_changed(format!("agg{n}"), 0);
        kafka.publish(&w.topic, &event, &[]).await.unwrap();
    }
    assert_eq!(
        kafka.lag(&w.topic, &Default::default()).unwrap(),
        12,
        "no positions: all ahead"
    );
    let everything: std::collections::HashMap<i32, i64> = (0..3).map(|p| (p, 1_000)).collect();
    assert_eq!(kafka.lag(&w.topic, &everything).unwrap(), 0);
    let one_partition_done: std::collections::HashMap<i32, i64> = [(0, 1_000)].into();
    let in_partition_0 = 12 - kafka.lag(&w.topic, &one_partition_done).unwrap();
    assert!(
        in_partition_0 > 0,
        "the keys are fixed, so partition 0 always gets some"
    );
    let one_behind: std::collections::HashMap<i32, i64> = [(0, in_partition_0 - 1)].into();
    assert_eq!(
        kafka.lag(&w.topic, &one_behind).unwrap(),
        12 - in_partition_0 + 1,
        "one record left in partition 0, and all of the others"
    );
}

/// PostgreSQL: two transactions appending for the same aggregate commit in the order of their
/// outbox positions, so the relay (which publishes by position) keeps the aggregate's order even
/// when the first to append is the last to commit.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs DATABASE_URL (PostgreSQL): run with --include-ignored"]
async fn postgres_appends_of_one_aggregate_commit_in_position_order() {
    let url = crm_core::testing::backend("DATABASE_URL");
    let mut config = Config::default();
    config.database.url = Some(crm_core::config::Secret::new(url));
    let context = format!("producer_{}", uuid::Uuid::now_v7().simple());
    let db = Database::open(&config, &context)
        .await
        .expect("DATABASE_URL is set but PostgreSQL is unreachable");
    db.migrate_shared("producer", &crm_events::TABLES)
        .await
        .unwrap();
    let pool = db.pool();
    // Commit order, observed: each transaction commits and takes the next number under one lock,
    // so the numbers are the commit order.
    let committed = Arc::new(tokio::sync::Mutex::new(Vec::<(uuid::Uuid, usize)>::new()));
    let tasks: Vec<_> = (0..6)
        .map(|t| {
            let (pool, committed) = (pool.clone(), committed.clone());
            tokio::spawn(async move {
                for i in 0..8 {
                    let event = role_changed("the-aggregate", 0);
                    let mut tx = pool.begin().await.unwrap();
                    crm_events::outbox::append(&mut tx, "user", &event)
                        .await
                        .unwrap();
                    // Stay open a while, longer for some: the first to append would otherwise
                    // often be overtaken.
                    tokio::time::sleep(Duration::from_millis(((t * 7 + i * 3) % 5) as u64)).await;
                    let mut order = committed.lock().await;
                    tx.commit().await.unwrap();
                    let n = order.len();
                    order.push((event.id, n));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let order: std::collections::HashMap<uuid::Uuid, usize> =
        committed.lock().await.iter().copied().collect();
    let by_position: Vec<usize> = OutboxLog::new(db.clone(), "crm.test.events.v1")
        .read_after(0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|l| order[&l.envelope.id])
        .collect();
    assert_eq!(by_position.len(), 48);
    assert!(
        by_position.windows(2).all(|w| w[0] < w[1]),
        "commit order by outbox position: {by_position:?}"
    );
}

/// PostgreSQL + Kafka with two replicas of a context: one relay publishes the outbox at a time
/// (each event reaches the topic once), and the other takes over when it stops.
#[cfg(feature = "kafka")]
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs DATABASE_URL and KAFKA_BROKERS: run with --include-ignored"]
async fn postgres_replicas_take_turns_relaying_one_outbox() {
    use rdkafka::consumer::{Consumer as _, StreamConsumer};
    let url = crm_core::testing::backend("DATABASE_URL");
    let w = world(true, false, ConsumerStore::Sqlite).await;
    let EventBus::Kafka(kafka, _) = &w.bus else {
        unreachable!()
    };
    let mut config = Config::default();
    config.database.url = Some(crm_core::config::Secret::new(url));
    let db = Database::open(
        &config,
        &format!("producer_{}", uuid::Uuid::now_v7().simple()),
    )
    .await
    .expect("DATABASE_URL is set but PostgreSQL is unreachable");
    db.migrate_shared("producer", &crm_events::TABLES)
        .await
        .unwrap();
    let pool = db.pool();
    let log = OutboxLog::new(db.clone(), &w.topic);
    let append = |n: usize| {
        let pool = pool.clone();
        async move {
            let event = role_changed(format!("agg{}", n % 5), 0);
            let mut tx = pool.begin().await.unwrap();
            crm_events::outbox::append(&mut tx, "user", &event)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    };
    let drained = || {
        eventually("the outbox is published", || async {
            (log.backlog().await.unwrap().pending == 0).then_some(())
        })
    };

    // The first replica's relay takes the lease, then a second replica starts.
    let first = w.bus.start_relay(log.clone());
    append(0).await;
    drained().await;
    let second = w.bus.start_relay(log.clone());
    for n in 1..=100 {
        append(n).await;
    }
    drained().await;
    // The first stops: the second takes over.
    first.abort();
    for n in 101..=150 {
        append(n).await;
    }
    drained().await;
    second.abort();

    // Every record of the topic, from the start of each partition.
    let reader: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka.brokers())
        .set("group.id", format!("count-{}", w.topic))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut partitions = rdkafka::TopicPartitionList::new();
    for p in 0..3 {
        partitions
            .add_partition_offset(&w.topic, p, rdkafka::Offset::Beginning)
            .unwrap();
    }
    reader.assign(&partitions).unwrap();
    let mut records = 0;
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(3), reader.recv()).await {
        records += 1;
    }
    assert_eq!(records, 151, "each event published once");
}

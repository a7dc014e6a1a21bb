//! `just bench`: events per second through outbox → transport → consumer, and the p50/p99 of
//! commit-to-handle latency, for the embedded bus and (with `KAFKA_BROKERS`) Kafka. A burst
//! (20,000 events appended as fast as possible, 100 per transaction) gives the throughput; steady
//! loads of 1,000 and 10,000 events/s give the latency below and at the throughput goal. The
//! consumer records each event as processed in its own store (SQLite), as every real consumer
//! does. Prints figures, never fails on a time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use crm_core::config::Config;
use crm_core::storage::Database;
use crm_events::consumer::{Handler, Inbox, RetryPolicy, Tx};
use crm_events::{BusSettings, Causation, Consumer, Envelope, EventBus, OutboxLog, Source};
use crm_proto::crm::iam::events::v1::UserRoleChanged;

/// The test consumer's own table, migrated apart (its own migration history table would clash).
async fn create_effects(db: &Database) {
    let ddl = include_str!("../tests/fixtures/sqlite/0001_effects.sql");
    sqlx::raw_sql(sqlx::AssertSqlSafe(ddl))
        .execute(db.pool())
        .await
        .unwrap();
}

const EVENTS: usize = 20_000;
const PER_TX: usize = 100;

struct Clock {
    latencies: Mutex<Vec<Duration>>,
    last: Mutex<Option<Instant>>,
}

impl Clock {
    /// p50, p99 and max of the commit→handle latencies seen.
    fn percentiles(&self) -> (Duration, Duration, Duration) {
        let mut latencies = self.latencies.lock().unwrap().clone();
        latencies.sort();
        let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
        (pct(0.50), pct(0.99), pct(1.0))
    }
}

#[async_trait]
impl Handler for Clock {
    fn wants(&self, _: &str) -> bool {
        true
    }

    async fn handle(&self, event: &Envelope, _: &mut Tx) -> anyhow::Result<()> {
        let committed = event.time;
        let now = chrono::Utc::now().timestamp_millis();
        self.latencies
            .lock()
            .unwrap()
            .push(Duration::from_millis((now - committed).max(0) as u64));
        *self.last.lock().unwrap() = Some(Instant::now());
        Ok(())
    }
}

/// Appends events `numbers` in one transaction, spread over 16 aggregates.
async fn append(db: &Database, numbers: std::ops::Range<usize>) {
    let mut tx = db.begin().await.unwrap();
    for n in numbers {
        let event = UserRoleChanged {
            user_id: n.to_string(),
            ..Default::default()
        };
        let envelope = Envelope::new(
            "crm.bench",
            "tenant",
            format!("agg{}", n % 16),
            &event,
            &Causation::default(),
        );
        crm_events::outbox::append(&mut tx, "user", &envelope)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Steady loads: (events/s, events per transaction), each for `STEADY_SECONDS`. The second is
/// the throughput goal itself, so its latency is the latency at 10,000 events/s.
const STEADY: [(usize, usize); 2] = [(1000, 1), (10_000, 10)];
const STEADY_SECONDS: usize = 5;

async fn run(name: &str, kafka: Option<&str>) {
    throughput(name, kafka).await;
    for (rate, per_tx) in STEADY {
        steady(name, kafka, rate, per_tx).await;
    }
}

async fn steady(name: &str, kafka: Option<&str>, rate: usize, per_tx: usize) {
    let (bus, producer, log, clock, _dir, consumer, source) = setup(kafka).await;
    let relay = bus.start_relay(log);
    let task = bus.subscribe(source, consumer).unwrap();
    let pool = &producer;
    let total = rate * STEADY_SECONDS;
    let started = Instant::now();
    for first in (0..total).step_by(per_tx) {
        let due = started + Duration::from_secs_f64(first as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        append(pool, first..first + per_tx).await;
    }
    let offered = total as f64 / started.elapsed().as_secs_f64();
    while clock.latencies.lock().unwrap().len() < total {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.abort();
    task.abort();
    let (p50, p99, max) = clock.percentiles();
    println!(
        "{name:<9} steady {rate:>5} events/s ({per_tx} per transaction; {offered:.0}/s achieved) for {STEADY_SECONDS} s: commit→handle p50 {:?}  p99 {:?}  max {:?}",
        p50, p99, max
    );
}

type Setup = (
    EventBus,
    Database,
    OutboxLog,
    Arc<Clock>,
    tempfile::TempDir,
    Consumer,
    Source,
);

async fn setup(kafka: Option<&str>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let producer = Database::open(&config, "producer").await.unwrap();
    producer
        .migrate_shared("producer", &crm_events::TABLES)
        .await
        .unwrap();
    let consumer_db = Database::open(&config, "consumer").await.unwrap();
    consumer_db
        .migrate_shared("consumer", &crm_events::TABLES)
        .await
        .unwrap();
    create_effects(&consumer_db).await;
    let topic = format!("crm.bench{}.events.v1", uuid::Uuid::now_v7().simple());
    let settings = BusSettings {
        poll: Duration::from_millis(5),
        retention: Duration::from_secs(3600),
    };
    let bus = match kafka {
        Some(brokers) => {
            let k = crm_events::kafka::Kafka::new(brokers).unwrap();
            k.ensure_topics(&[&topic], 3, 1).await.unwrap();
            EventBus::Kafka(k, settings)
        }
        None => EventBus::embedded(settings),
    };
    let log = OutboxLog::new(producer.clone(), &topic);
    let clock = Arc::new(Clock {
        latencies: Mutex::new(Vec::new()),
        last: Mutex::new(None),
    });
    let consumer = Consumer {
        name: format!("bench-{topic}"),
        handler: clock.clone(),
        inbox: Inbox::new(consumer_db),
        policy: RetryPolicy::default(),
    };
    let source = if kafka.is_some() {
        Source::Topic(topic)
    } else {
        Source::Outbox(log.clone())
    };
    (bus, producer, log, clock, dir, consumer, source)
}

async fn throughput(name: &str, kafka: Option<&str>) {
    let (bus, producer, log, clock, _dir, consumer, source) = setup(kafka).await;
    let relay = bus.start_relay(log.clone());
    let task = bus.subscribe(source, consumer).unwrap();

    let pool = &producer;
    let started = Instant::now();
    for first in (0..EVENTS).step_by(PER_TX) {
        append(pool, first..first + PER_TX).await;
    }
    let appended = started.elapsed();
    // When the relay has published everything (the consumer may still be behind).
    let mut relayed = None;
    while clock.latencies.lock().unwrap().len() < EVENTS {
        if relayed.is_none() && log.backlog().await.unwrap().pending == 0 {
            relayed = Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let relayed = relayed.unwrap_or_else(|| started.elapsed());
    let elapsed = clock.last.lock().unwrap().unwrap() - started;
    relay.abort();
    task.abort();
    let (p50, p99, max) = clock.percentiles();
    println!(
        "{name:<9} burst  {:>9.0} events/s end to end ({EVENTS} events; appended at {:.0}/s, relayed at {:.0}/s)   commit→handle p50 {:?}  p99 {:?}  max {:?}",
        EVENTS as f64 / elapsed.as_secs_f64(),
        EVENTS as f64 / appended.as_secs_f64(),
        EVENTS as f64 / relayed.as_secs_f64(),
        p50,
        p99,
        max
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!("event bus benchmark (goals: >= 10000 events/s, p99 <= 200 ms)");
        run("embedded", None).await;
        match std::env::var("KAFKA_BROKERS") {
            Ok(brokers) => run("kafka", Some(&brokers)).await,
            Err(_) => println!(
                "kafka     skipped: set KAFKA_BROKERS (just kafka-up starts a local broker)"
            ),
        }
    });
}

//! `just bench`: the customer context against a real `crm serve` process (release, embedded
//! SQLite), every figure beside a baseline measured in the same run:
//!
//! - import through the served port (one ImportCustomers stream) in rows/s, divided by a raw
//!   batched insert of the same rows into the same kind of store, beside the engine's own
//!   ceiling (the same rows inserted by `insert … select`, no client at all), and the server's
//!   peak RSS growth while importing;
//! - search at that many customers: p50/p95/p99 of one-word, two-word and prefix queries;
//! - GetCustomer at 64 concurrent streams, divided by a bare tonic unary echo (a health check on
//!   a plain tonic server in its own process) loaded the same way;
//! - export of every row in rows/s, and the server's peak RSS after it.
//!
//! `CUSTOMERS_BENCH_ROWS` sets the number of customers (default 100,000; the figure is
//! 1,000,000). With `DATABASE_URL` the same rows also go into a PostgreSQL store, and with
//! `MONGODB_URL` (and `--features mongodb`) into a MongoDB store, and the same searches run
//! there as store calls; `CUSTOMERS_BENCH_STORES_ONLY=1` runs only those. Rows are generated with a fixed seed. Prints figures, never fails on a time.

use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Instant;

mod support;

use crm_core::testing::percentile;
use crm_proto::crm::common::v1::PhoneNumber;
use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use crm_proto::crm::customer::v1::*;
use crm_proto::crm::iam::v1::RegisterRequest;
use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::{authorized, connect, echo_server, mib, rate, serve, status_kib};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const GIVEN: &[&str] = &[
    "Siti",
    "Nur",
    "Aisyah",
    "Ahmad",
    "Muhammad",
    "Farah",
    "Amir",
    "Hafiz",
    "Zainab",
    "Ali",
    "Mei Ling",
    "Wei Jie",
    "Kok Leong",
    "Hui Min",
    "Raju",
    "Priya",
    "Kavitha",
    "Arjun",
    "Suresh",
    "Lakshmi",
    "Daniel",
    "Sarah",
    "Aiman",
    "Izzah",
    "Haziq",
    "Syafiq",
    "Nabilah",
    "Chong",
    "Devi",
    "Ravi",
];
const FAMILY: &[&str] = &[
    "Aminah",
    "Abdullah",
    "Ismail",
    "Hassan",
    "Ibrahim",
    "Rahman",
    "Yusof",
    "Tan",
    "Lim",
    "Lee",
    "Wong",
    "Ng",
    "Chan",
    "Goh",
    "Subramaniam",
    "Krishnan",
    "Pillai",
    "Nair",
    "Omar",
    "Salleh",
    "Ahmad",
    "Osman",
    "Razak",
    "Teo",
    "Ong",
    "Koh",
    "Murugan",
    "Rajan",
    "Halim",
    "Kassim",
];
const COMPANY: &[&str] = &[
    "Batik", "Songket", "Tekstil", "Kraf", "Warisan", "Seri", "Indah", "Jaya", "Maju", "Murni",
    "Sutera", "Tenun", "Kain", "Fesyen", "Rekaan", "Corak", "Canting", "Motif", "Bunga", "Mutiara",
];
const SUFFIX: &[&str] = &["Sdn Bhd", "Enterprise", "Trading", "Boutique", "Berhad"];
const CITIES: &[&str] = &[
    "Kuala Lumpur",
    "Kuala Terengganu",
    "Kota Bharu",
    "Georgetown",
    "Ipoh",
    "Johor Bahru",
    "Melaka",
    "Kuantan",
    "Alor Setar",
    "Seremban",
    "Shah Alam",
    "Petaling Jaya",
    "Kuching",
    "Kota Kinabalu",
    "Miri",
    "Sibu",
    "Sandakan",
    "Klang",
    "Kajang",
    "Putrajaya",
];
const TAGS: &[&str] = &[
    "wholesale",
    "retail",
    "vip",
    "export",
    "online",
    "walk-in",
    "corporate",
];

/// Customer `n` of the fixed data set.
fn row(rng: &mut StdRng, n: usize) -> Customer {
    let pick = |rng: &mut StdRng, list: &[&str]| list[rng.random_range(0..list.len())].to_owned();
    let city = pick(rng, CITIES);
    // Malaysian mobile prefixes with 7-digit subscriber numbers (all valid numbers).
    let prefix = [2, 3, 6, 7, 9][rng.random_range(0..5)];
    let phone = format!("+601{prefix}{:07}", rng.random_range(2_000_000..10_000_000));
    let tags = vec![pick(rng, TAGS)];
    let base = Customer {
        email: format!("c{n}@kilang{}.example", n % 97),
        phones: vec![PhoneNumber {
            e164_number: phone,
            ..Default::default()
        }],
        addresses: vec![crm_proto::crm::common::v1::Address {
            locality: city,
            region_code: "MY".into(),
            ..Default::default()
        }],
        tags,
        ..Default::default()
    };
    if rng.random_bool(0.6) {
        Customer {
            r#type: CustomerType::Individual as i32,
            individual: Some(IndividualDetails {
                given_name: pick(rng, GIVEN),
                family_name: pick(rng, FAMILY),
            }),
            ..base
        }
    } else {
        let name = format!(
            "{} {} {}",
            pick(rng, COMPANY),
            pick(rng, COMPANY),
            pick(rng, SUFFIX)
        );
        Customer {
            r#type: CustomerType::Business as i32,
            business: Some(BusinessDetails {
                legal_name: name,
                industry: "Textiles".into(),
                ..Default::default()
            }),
            ..base
        }
    }
}

fn rows(n: usize) -> impl Iterator<Item = Customer> {
    let mut rng = StdRng::seed_from_u64(0x6b696c616e67);
    (0..n).map(move |i| row(&mut rng, i))
}

const CONCURRENCY: usize = 64;
const CALLS: usize = 20_000;

/// A fresh customer store on SQLite at `path`, migrated like the server's.
async fn migrated_sqlite(path: &std::path::Path) -> crm_core::storage::Database {
    let db = crm_core::storage::open_sqlite(path).await.unwrap();
    db.migrate("customer", &crm_customer::MIGRATIONS)
        .await
        .unwrap();
    db.migrate_shared("customer", &crm_events::TABLES)
        .await
        .unwrap();
    db
}

/// Rows per second of the same rows inserted straight into a fresh store, 500 per transaction
/// (the import's batch), with their events: the most the import could do.
async fn raw_insert_rate(n: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let db = migrated_sqlite(&dir.path().join("raw.db")).await;
    let store = crm_customer::infrastructure::sql::SqlCustomerStore::new(db);
    let started = Instant::now();
    fill(&store, crm_core::TenantId::new(), n).await;
    n as f64 / started.elapsed().as_secs_f64()
}

/// Progress, on stderr (the figures go to stdout).
fn phase(what: &str) {
    eprintln!("customers bench: {what}");
}

/// Inserts the `n` rows into `store` for `tenant`, 500 per transaction with their events.
async fn fill(
    store: &dyn crm_customer::domain::ports::CustomerStore,
    tenant: crm_core::TenantId,
    n: usize,
) {
    use crm_customer::domain::customer::Customer as Domain;
    let user = crm_core::UserId::new();
    let mut batch = Vec::with_capacity(500);
    let flush = |batch: &mut Vec<Domain>| {
        let customers = std::mem::take(batch);
        let events = customers
            .iter()
            .map(|c| crm_customer::domain::ports::OutboxEvent {
                aggregate_type: "customer",
                envelope: crm_events::Envelope::new(
                    "crm.customer",
                    tenant,
                    c.id,
                    &crm_proto::crm::customer::events::v1::CustomerCreated::default(),
                    &crm_events::Causation::default(),
                ),
            })
            .collect();
        (customers, events)
    };
    for c in rows(n) {
        let input = crm_customer::interfaces::grpc::convert::customer_input(&c).unwrap();
        batch.push(Domain::create(tenant, input, user, 1).unwrap());
        if batch.len() == 500 {
            let (customers, events) = flush(&mut batch);
            store.insert_batch(&customers, events).await.unwrap();
        }
    }
    let (customers, events) = flush(&mut batch);
    store.insert_batch(&customers, events).await.unwrap();
}

/// Percentiles of each kind of search, one line each.
fn print_searches(searches: &[(&str, Vec<std::time::Duration>)]) {
    for (kind, latencies) in searches {
        println!(
            "  search {kind:<19} p50 {:>9.2?}  p95 {:>9.2?}  p99 {:>9.2?}  (goal p95 <= 20 ms)",
            percentile(latencies, 0.50),
            percentile(latencies, 0.95),
            percentile(latencies, 0.99),
        );
    }
}

/// The other stores' searches, each measured as store calls on the same rows, or why not.
fn print_store_searches(
    postgres: Option<Vec<(&str, Vec<std::time::Duration>)>>,
    mongodb: Option<Vec<(&str, Vec<std::time::Duration>)>>,
) {
    match &postgres {
        Some(searches) => {
            println!(
                "  PostgreSQL (DATABASE_URL), the same rows, searches as store calls (no gRPC):"
            );
            print_searches(searches);
        }
        None => {
            println!("  PostgreSQL: not measured (set DATABASE_URL to measure its searches too)")
        }
    }
    match &mongodb {
        Some(searches) => {
            println!(
                "  MongoDB wire protocol (MONGODB_URL), the same rows, searches as store calls (no gRPC); measured on the server MONGODB_URL names (SecantusDB here), not a MongoDB figure:"
            );
            print_searches(searches);
        }
        None => println!(
            "  MongoDB: not measured (build with --features mongodb and set MONGODB_URL to measure it too)"
        ),
    }
}

/// The searches every store is measured with: (kind, queries).
const SEARCHES: [(&str, &[&str]); 4] = [
    ("one word", &["siti", "batik", "lim", "kuantan"]),
    ("two words", &["siti aminah", "batik sdn", "tan kuala"]),
    ("prefix (3)", &["ami", "son", "kua", "tek"]),
    ("prefix (2)", &["am", "ba", "ku"]),
];

/// With `DATABASE_URL`: the same rows in a PostgreSQL store (a schema of its own, dropped
/// after), and the latencies of [`SEARCHES`] as store calls (no gRPC: the rows go in through
/// the store, which is quicker to fill than a second served process).
async fn postgres_searches(n: usize) -> Option<Vec<(&'static str, Vec<std::time::Duration>)>> {
    let url = std::env::var("DATABASE_URL").ok()?;
    let mut config = crm_core::Config::default();
    config.database.url = Some(crm_core::config::Secret::new(url));
    let schema = format!("customer_bench_{}", uuid::Uuid::now_v7().simple());
    let db = crm_core::storage::Database::open(&config, &schema)
        .await
        .unwrap();
    db.migrate(&schema, &crm_customer::MIGRATIONS)
        .await
        .unwrap();
    db.migrate_shared(&schema, &crm_events::TABLES)
        .await
        .unwrap();
    let store = crm_customer::infrastructure::sql::SqlCustomerStore::new(db.clone());
    let tenant = crm_core::TenantId::new();
    phase("filling PostgreSQL with the same rows (DATABASE_URL)");
    fill(&store, tenant, n).await;
    // What autovacuum would do after a load this size: the planner picks between the GIN
    // index and a walk of the newest entries by these statistics.
    for table in ["customers", "customer_search", "customer_tags"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("analyze {schema}.{table}")))
            .execute(db.pool())
            .await
            .unwrap();
    }
    let searches = store_searches("PostgreSQL", &store, tenant).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("drop schema {schema} cascade")))
        .execute(db.pool())
        .await
        .unwrap();
    db.close().await;
    Some(searches)
}

/// The latencies of [`SEARCHES`] as calls of `store` (50 rounds each), named `engine`.
async fn store_searches(
    engine: &str,
    store: &dyn crm_customer::domain::ports::CustomerStore,
    tenant: crm_core::TenantId,
) -> Vec<(&'static str, Vec<std::time::Duration>)> {
    use crm_customer::domain::ports::Filter;
    phase(&format!("searching {engine}"));
    let mut searches = Vec::new();
    for (kind, queries) in SEARCHES {
        let mut latencies = Vec::new();
        for round in 0..50 {
            for q in queries {
                let words = crm_customer::domain::values::search_words(q);
                let t = Instant::now();
                let found = store
                    .search(tenant, &words, &Filter::default(), 0, 20)
                    .await
                    .unwrap();
                latencies.push(t.elapsed());
                if round == 0 {
                    assert!(!found.is_empty(), "{q:?} finds customers on {engine}");
                }
            }
        }
        latencies.sort();
        searches.push((kind, latencies));
    }
    searches
}

/// With `MONGODB_URL` (and the `mongodb` feature): the same rows in the MongoDB store (a
/// database of its own, dropped after), and the latencies of [`SEARCHES`] as store calls.
#[cfg(feature = "mongodb")]
async fn mongodb_searches(n: usize) -> Option<Vec<(&'static str, Vec<std::time::Duration>)>> {
    let url = std::env::var("MONGODB_URL").ok()?;
    let name = format!("customer_bench_{}", uuid::Uuid::now_v7().simple());
    let store = crm_customer::infrastructure::mongo::MongoCustomerStore::connect(&url, &name)
        .await
        .unwrap();
    let tenant = crm_core::TenantId::new();
    phase("filling MongoDB with the same rows (MONGODB_URL)");
    fill(&store, tenant, n).await;
    let searches = store_searches("MongoDB", &store, tenant).await;
    mongodb::Client::with_uri_str(&url)
        .await
        .unwrap()
        .database(&name)
        .drop()
        .await
        .unwrap();
    Some(searches)
}

#[cfg(not(feature = "mongodb"))]
async fn mongodb_searches(_n: usize) -> Option<Vec<(&'static str, Vec<std::time::Duration>)>> {
    None
}

/// Rows per second the store's own engine inserts the same rows at, with their tags, search
/// entries and events, when no client stands in between: each table filled by one
/// `insert … select` from a staging table (filled beforehand, untimed), all in one transaction.
/// The ceiling of any import into this engine and schema, whatever its client does.
async fn engine_ceiling_rate(n: usize) -> f64 {
    use crm_customer::domain::customer::Customer as Domain;
    let dir = tempfile::tempdir().unwrap();
    let db = migrated_sqlite(&dir.path().join("ceiling.db")).await;
    sqlx::query(
        "create table staged (id text, tenant_id text, customer_type text, status text, \
         owner_id text, email text, display_name text, sort_name text, created_at integer, \
         updated_at integer, version integer, doc text, body text, tags text, event_id text, \
         event_type text, source text, payload blob)",
    )
    .execute(db.pool())
    .await
    .unwrap();
    let (tenant, user) = (crm_core::TenantId::new(), crm_core::UserId::new());
    let stage = |chunk: Vec<Domain>| {
        let db = db.clone();
        async move {
            let mut text = String::from("insert into staged values ");
            for i in 0..chunk.len() {
                let p: Vec<String> = (1..=18).map(|k| format!("${}", i * 18 + k)).collect();
                text.push_str(if i == 0 { "(" } else { ", (" });
                text.push_str(&p.join(", "));
                text.push(')');
            }
            let mut query = sqlx::query(sqlx::AssertSqlSafe(text));
            for c in &chunk {
                let event = crm_events::Envelope::new(
                    "crm.customer",
                    tenant,
                    c.id,
                    &crm_proto::crm::customer::events::v1::CustomerCreated::default(),
                    &crm_events::Causation::default(),
                );
                query = query
                    .bind(c.id.to_string())
                    .bind(c.tenant_id.to_string())
                    .bind(c.customer_type.as_str())
                    .bind(c.status.as_str())
                    .bind(c.owner_id.map(|o| o.to_string()))
                    .bind(c.email.clone())
                    .bind(c.display_name.clone())
                    .bind(crm_core::text::sort_key(&c.display_name))
                    .bind(c.created_at)
                    .bind(c.updated_at)
                    .bind(c.version)
                    .bind(serde_json::to_string(c).unwrap())
                    .bind(crm_customer::domain::values::search_words(&c.search_text()).join(" "))
                    .bind(serde_json::to_string(&c.tags).unwrap())
                    .bind(event.id.to_string())
                    .bind(event.event_type.clone())
                    .bind(event.source.clone())
                    .bind(event.payload.clone());
            }
            query.execute(db.pool()).await.unwrap();
        }
    };
    let mut chunk = Vec::with_capacity(25);
    for c in rows(n) {
        let input = crm_customer::interfaces::grpc::convert::customer_input(&c).unwrap();
        chunk.push(Domain::create(tenant, input, user, 1).unwrap());
        if chunk.len() == 25 {
            stage(std::mem::take(&mut chunk)).await;
        }
    }
    if !chunk.is_empty() {
        stage(chunk).await;
    }
    let started = Instant::now();
    let mut tx = db.begin().await.unwrap();
    for statement in [
        "insert into customers (id, tenant_id, customer_type, status, owner_id, email, display_name, \
         sort_name, created_at, updated_at, version, deleted_at, doc) select id, tenant_id, \
         customer_type, status, owner_id, email, display_name, sort_name, created_at, updated_at, \
         version, null, doc from staged order by rowid",
        "insert into customer_tags (tenant_id, customer_seq, tag) select s.tenant_id, c.seq, t.value \
         from staged s join customers c on c.tenant_id = s.tenant_id and c.id = s.id, json_each(s.tags) t",
        "insert into customer_search (rowid, body) select c.seq, s.body from staged s \
         join customers c on c.tenant_id = s.tenant_id and c.id = s.id",
        "insert into outbox (id, tenant_id, aggregate_type, aggregate_id, event_type, payload, \
         occurred_at, source) select event_id, tenant_id, 'customer', id, event_type, payload, \
         created_at, source from staged order by rowid",
    ] {
        sqlx::query(statement).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let stored: i64 = sqlx::query_scalar("select count(*) from customer_search")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(stored, n as i64, "every row indexed");
    rate
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if std::env::var_os("CUSTOMERS_BENCH_ECHO").is_some() {
        runtime.block_on(echo_server());
    } else {
        runtime.block_on(run());
    }
}

async fn run() {
    let n: usize = std::env::var("CUSTOMERS_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    if std::env::var_os("CUSTOMERS_BENCH_STORES_ONLY").is_some() {
        // Only the searches as store calls, on PostgreSQL and MongoDB, for work on those stores.
        println!("customers benchmark ({n} customers in one tenant), searches as store calls:");
        print_store_searches(postgres_searches(n).await, mongodb_searches(n).await);
        return;
    }
    let data_dir = tempfile::tempdir().unwrap();
    let (crm, addr) = serve(
        Command::new(env!("CARGO_BIN_EXE_crm"))
            // Throughput is measured unthrottled; `just bench` times the limiter apart.
            .env("CRM_RATE_LIMIT__TENANT_PER_MINUTE", "0")
            .env("CRM_RATE_LIMIT__SUBJECT_PER_MINUTE", "0")
            .args([
                "serve",
                "--target",
                "iam,customer",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir.path())
            .env("CRM_LOG__LEVEL", "warn")
            // Embedded SQLite whatever the bench was given (DATABASE_URL is for its own
            // PostgreSQL searches).
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("KAFKA_BROKERS")
            .env_remove("MONGODB_URL"),
    );
    let pid = crm.0.as_ref().map(Child::id).unwrap();
    let channel = connect(&addr).await;
    let token = AuthServiceClient::new(channel.clone())
        .register(RegisterRequest {
            locale: String::new(),
            tenant_name: "Bench Batik".into(),
            email: "bench@kilang.example".into(),
            password: "batik canting motif".into(),
            display_name: "Bench".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let mut client =
        CustomerServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20);

    // Progress goes to stderr, the figures to stdout.
    phase(&format!("importing {n} customers"));
    let rss_before = status_kib(pid, "VmRSS:");
    let options = ImportCustomersRequest {
        item: Some(import_customers_request::Item::Options(ImportOptions {
            duplicate_policy: DuplicatePolicy::Skip as i32,
            ..Default::default()
        })),
    };
    let stream = futures::stream::iter(std::iter::once(options).chain(rows(n).map(|c| {
        ImportCustomersRequest {
            item: Some(import_customers_request::Item::Customer(c)),
        }
    })));
    let started = Instant::now();
    let report = client
        .import_customers(authorized(stream, &token))
        .await
        .unwrap()
        .into_inner();
    let import_rate = n as f64 / started.elapsed().as_secs_f64();
    let rss_import_peak = status_kib(pid, "VmHWM:");
    assert_eq!(
        (report.created_count, report.failed_count),
        (n as i64, 0),
        "every generated row is valid: {:?} (row {:?})",
        report.errors.first(),
        report
            .errors
            .first()
            .and_then(|e| rows(e.row as usize).last())
            .map(|c| c.phones)
    );
    phase("inserting the same rows raw");
    let raw_rate = raw_insert_rate(n).await;
    phase("inserting the same rows by the engine itself");
    let ceiling_rate = engine_ceiling_rate(n).await;

    phase("searching");
    let mut searches = Vec::new();
    for (kind, queries) in SEARCHES {
        let mut latencies = Vec::new();
        for round in 0..50 {
            for q in queries {
                let t = Instant::now();
                let found = client
                    .search_customers(authorized(
                        SearchCustomersRequest {
                            query: (*q).into(),
                            page_size: 20,
                            ..Default::default()
                        },
                        &token,
                    ))
                    .await
                    .unwrap()
                    .into_inner();
                latencies.push(t.elapsed());
                if round == 0 {
                    assert!(!found.customers.is_empty(), "{q:?} finds customers");
                }
            }
        }
        latencies.sort();
        searches.push((kind, latencies));
    }

    phase("GetCustomer and the echo baseline at 64 concurrent streams");
    let ids: Vec<String> = client
        .list_customers(authorized(
            ListCustomersRequest {
                page_size: 500,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .customers
        .into_iter()
        .map(|c| c.id)
        .collect();
    let ids = Arc::new(ids);
    let get_rate = {
        let (channel, token, ids) = (channel.clone(), token.clone(), ids.clone());
        rate(CONCURRENCY, CALLS, move |i| {
            let mut client = CustomerServiceClient::new(channel.clone());
            let request = authorized(
                GetCustomerRequest {
                    id: ids[i % ids.len()].clone(),
                },
                &token,
            );
            async move {
                client.get_customer(request).await.unwrap();
            }
        })
        .await
    };
    let (echo, echo_addr) =
        serve(Command::new(std::env::current_exe().unwrap()).env("CUSTOMERS_BENCH_ECHO", "1"));
    let echo_channel = connect(&echo_addr).await;
    let echo_rate = rate(CONCURRENCY, CALLS, move |_| {
        let mut health = HealthClient::new(echo_channel.clone());
        async move {
            health.check(HealthCheckRequest::default()).await.unwrap();
        }
    })
    .await;
    drop(echo);

    phase("exporting");
    let started = Instant::now();
    let mut stream = client
        .export_customers(authorized(ExportCustomersRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    let mut exported = 0;
    while let Some(item) = stream.message().await.unwrap() {
        exported += 1;
        assert_eq!(item.total_count, n as i64);
    }
    let export_rate = exported as f64 / started.elapsed().as_secs_f64();
    let rss_export_peak = status_kib(pid, "VmHWM:");
    assert_eq!(exported, n);
    drop(crm);
    let pg_searches = postgres_searches(n).await;
    let mongo_searches = mongodb_searches(n).await;

    println!("customers benchmark ({n} customers in one tenant, embedded SQLite, release)");
    println!("  import via gRPC            {import_rate:9.0} rows/s");
    println!(
        "  raw batched insert         {raw_rate:9.0} rows/s (same rows, 500 per transaction, same run)"
    );
    println!(
        "  ratio import / raw         {:9.2}   (goal >= 0.5; goal >= 50,000 rows/s)",
        import_rate / raw_rate
    );
    println!(
        "  engine ceiling             {ceiling_rate:9.0} rows/s (the same rows by insert … select, one transaction, no client)"
    );
    println!(
        "  ratio import / ceiling     {:9.2}",
        import_rate / ceiling_rate
    );
    println!(
        "  server RSS while importing {:9.1} MiB peak, {:.1} MiB before (growth {:.1} MiB; goal < 200 MiB)",
        mib(rss_import_peak),
        mib(rss_before),
        mib(rss_import_peak - rss_before)
    );
    print_searches(&searches);
    println!(
        "  GetCustomer                {get_rate:9.0} calls/s at {CONCURRENCY} concurrent streams"
    );
    println!("  bare tonic echo            {echo_rate:9.0} calls/s, loaded the same way, same run");
    println!(
        "  ratio GetCustomer / echo   {:9.2}   (goal >= 0.5)",
        get_rate / echo_rate
    );
    print_store_searches(pg_searches, mongo_searches);
    println!("  export via gRPC            {export_rate:9.0} rows/s");
    println!(
        "  server peak RSS            {:9.1} MiB after the export",
        mib(rss_export_peak)
    );
}

//! Delivery through a fake SMS provider (wiremock, speaking Twilio's Messages API shape): the
//! request carries the rendered text; a provider failing with 500s is retried with growing
//! delays, its breaker opens so deliveries wait instead of hammering it, and the notification
//! fails after the configured attempts; a recovered provider closes the breaker; a notification
//! left retrying by a process that stopped is delivered once by the next one. Time is a manual
//! clock, except the breaker's own open period.

use std::sync::Arc;
use std::time::Duration;

use crm_core::TenantId;
use crm_core::clock::ManualClock;
use crm_core::config::{Config, Secret};
use crm_core::storage::Database;
use crm_notification::application::hub::Hub;
use crm_notification::config::NotificationConfig;
use crm_notification::domain::notification::{Notification, Recipient, Status};
use crm_notification::domain::ports::{FlowStore, NotificationStore};
use crm_notification::domain::template::Channel;
use crm_notification::infrastructure::channels::BreakerState;
use crm_notification::infrastructure::sql::SqlNotificationStore;
use crm_notification::infrastructure::worker::{Policy, Worker};
use tokio::sync::Notify;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCOUNT: &str = "AC0123456789";
const MESSAGES: &str = "/2010-04-01/Accounts/AC0123456789/Messages.json";

async fn open(dir: &std::path::Path) -> Database {
    let config = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    let db = Database::open(&config, "notification").await.unwrap();
    db.migrate("notification", &crm_notification::MIGRATIONS)
        .await
        .unwrap();
    db.migrate_shared("notification", &crm_events::TABLES)
        .await
        .unwrap();
    db
}

fn worker(db: &Database, provider: &MockServer, clock: &ManualClock) -> Worker {
    let settings = NotificationConfig {
        sms_base_url: Some(provider.uri()),
        sms_account: Some(ACCOUNT.into()),
        sms_token: Some(Secret::new("token")),
        sms_from: Some("+60300000000".into()),
        breaker_failures: Some(3),
        breaker_open_millis: Some(2000),
        ..NotificationConfig::default()
    };
    Worker::new(
        Arc::new(SqlNotificationStore::new(db.clone())),
        crm_notification::providers(&settings, Hub::default()).unwrap(),
        Arc::new(clock.clone()),
        Policy {
            max_attempts: 4,
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            ..Policy::default()
        },
        Arc::new(Notify::new()),
    )
}

async fn stored_sms(db: &Database, tenant: TenantId, text: &str, now: i64) -> Notification {
    let n = Notification::new(
        tenant,
        Recipient {
            channel: Channel::Sms,
            user_id: None,
            address: "+60123456789".into(),
        },
        None,
        String::new(),
        text.into(),
        Uuid::now_v7(),
        "crm.sales.events.v1.DealWon",
        now,
    );
    let mut tx = db.begin_for(tenant).await.unwrap();
    assert!(FlowStore::insert_notification(&mut *tx, &n).await.unwrap());
    tx.commit().await.unwrap();
    n
}

async fn failing(provider: &MockServer) {
    provider.reset().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(500).set_body_string(r#"{"message":"down"}"#))
        .mount(provider)
        .await;
}

async fn working(provider: &MockServer) {
    provider.reset().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(
            ResponseTemplate::new(201).set_body_string(r#"{"sid":"SM1","status":"queued"}"#),
        )
        .mount(provider)
        .await;
}

/// Waits out the breaker's open period so the next call probes: its `opened`th opening lasts
/// 1 to 2 s, the next 2 to 4 s (2 s configured, jittered, growing while the provider is down).
async fn breaker_half_opens(opened: u32) {
    tokio::time::sleep(Duration::from_millis(2000 * u64::from(opened) + 100)).await;
}

#[tokio::test]
async fn a_failing_provider_is_retried_with_growing_delays_then_parked_and_never_hammered() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    let store = SqlNotificationStore::new(db.clone());
    let provider = MockServer::start().await;
    failing(&provider).await;
    let clock = ManualClock::at(1_700_000_000_000);
    let worker = worker(&db, &provider, &clock);
    let tenant = TenantId::new();
    let n = stored_sms(
        &db,
        tenant,
        "Terima kasih: MYR 25,000.00",
        1_700_000_000_000,
    )
    .await;

    // Three attempts, each failure put off longer (1 s, 2 s, 4 s, each up to twice that with
    // jitter); then the breaker is open.
    let mut delays = Vec::new();
    for attempt in 1..=3u32 {
        worker.deliver(tenant, n.id).await.unwrap();
        let now = store.get_notification(tenant, n.id).await.unwrap().unwrap();
        assert_eq!((now.status, now.attempts), (Status::Retrying, attempt));
        assert!(now.last_error.contains("500"), "{}", now.last_error);
        let delay = now.next_attempt_at.unwrap() - clock_now(&clock);
        let floor = 1000 * 2_i64.pow(attempt - 1);
        assert!(
            (floor..=2 * floor).contains(&delay),
            "attempt {attempt}: {delay} ms"
        );
        delays.push(delay);
        clock.advance(Duration::from_millis(delay as u64));
    }
    assert!(delays.windows(2).all(|w| w[1] > w[0]), "{delays:?}");
    assert_eq!(worker.providers().sms.state(), BreakerState::Open);

    // Due again, but the breaker is open: no call, no attempt counted; it waits.
    worker.deliver(tenant, n.id).await.unwrap();
    let waiting = store.get_notification(tenant, n.id).await.unwrap().unwrap();
    assert_eq!((waiting.status, waiting.attempts), (Status::Retrying, 3));
    assert_eq!(provider.received_requests().await.unwrap().len(), 3);

    // Once the breaker half-opens, one probe: it fails, the last attempt, so it fails for good.
    breaker_half_opens(1).await;
    clock.advance(Duration::from_secs(3));
    worker.deliver(tenant, n.id).await.unwrap();
    let failed = store.get_notification(tenant, n.id).await.unwrap().unwrap();
    assert_eq!((failed.status, failed.attempts), (Status::Failed, 4));
    assert_eq!(failed.next_attempt_at, None);
    assert_eq!(worker.providers().sms.state(), BreakerState::Open);
    let requests = provider.received_requests().await.unwrap();
    assert_eq!(requests.len(), 4);
    let body = String::from_utf8(requests[0].body.clone()).unwrap();
    assert!(body.contains("To=%2B60123456789"), "{body}");
    assert!(body.contains("From=%2B60300000000"), "{body}");
    assert!(
        body.contains("Body=Terima+kasih%3A+MYR+25%2C000.00"),
        "{body}"
    );
    assert!(
        requests[0]
            .headers
            .get("authorization")
            .is_some_and(|v| v.to_str().unwrap().starts_with("Basic ")),
        "basic auth with the account and its token"
    );

    // Every attempt is in the delivery log; the state changes are events in the outbox.
    let log = store.attempts(tenant, n.id).await.unwrap();
    assert_eq!(log.len(), 4);
    assert!(
        log.iter()
            .all(|a| a.provider == "sms" && a.answer.starts_with("500"))
    );
    let events: Vec<(String,)> = sqlx::query_as(
        "select event_type from outbox where aggregate_id = $1 order by occurred_at",
    )
    .bind(n.id.to_string())
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(events.len(), 4);
    assert!(
        events
            .iter()
            .all(|(t,)| t == "crm.notification.events.v1.NotificationFailed")
    );

    // The provider recovers: the next probe goes through and the breaker closes.
    working(&provider).await;
    let next = stored_sms(&db, tenant, "Order confirmed", clock_now(&clock)).await;
    breaker_half_opens(2).await;
    worker.deliver(tenant, next.id).await.unwrap();
    let sent = store
        .get_notification(tenant, next.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((sent.status, sent.attempts), (Status::Sent, 1));
    assert_eq!(worker.providers().sms.state(), BreakerState::Closed);
    let log = store.attempts(tenant, next.id).await.unwrap();
    assert!(log[0].answer.starts_with("201"), "{}", log[0].answer);

    // Another tenant sees none of these.
    assert!(
        store
            .get_notification(TenantId::new(), n.id)
            .await
            .unwrap()
            .is_none()
    );
}

fn clock_now(clock: &ManualClock) -> i64 {
    crm_core::clock::Clock::now_millis(clock)
}

#[tokio::test]
async fn a_notification_left_retrying_by_a_stopped_process_is_delivered_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let provider = MockServer::start().await;
    failing(&provider).await;
    let clock = ManualClock::at(1_700_000_000_000);
    let tenant = TenantId::new();
    let id = {
        let db = open(dir.path()).await;
        let n = stored_sms(&db, tenant, "Retry me", clock_now(&clock)).await;
        let first = worker(&db, &provider, &clock);
        first.round().await.unwrap();
        let store = SqlNotificationStore::new(db.clone());
        let left = store.get_notification(tenant, n.id).await.unwrap().unwrap();
        assert_eq!(left.status, Status::Retrying);
        db.close().await;
        n.id
    };
    // The next process: the same store file, a new worker and breaker; the provider is back.
    working(&provider).await;
    clock.advance(Duration::from_secs(10));
    let db = open(dir.path()).await;
    let second = worker(&db, &provider, &clock);
    assert_eq!(second.round().await.unwrap(), 1);
    assert_eq!(second.round().await.unwrap(), 0, "nothing is due twice");
    let store = SqlNotificationStore::new(db.clone());
    let sent = store.get_notification(tenant, id).await.unwrap().unwrap();
    assert_eq!((sent.status, sent.attempts), (Status::Sent, 2));
    let requests = provider.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "one successful send after the restart");
}

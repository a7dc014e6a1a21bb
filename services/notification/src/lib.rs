//! Notifications: email (SMTP), SMS (an HTTP provider) and in-app (live on
//! `WatchNotifications`), rendered from templates, driven by domain events, delivered with
//! retries, backoff and a circuit breaker per provider.
//!
//! `domain/` holds the rules (templates and their checks, notifications and their delivery
//! states, the events and their variables), `application/` the use cases and who may run them,
//! `infrastructure/` the SQL store, the event flows, the providers and the delivery worker,
//! `interfaces/grpc` the API.

pub mod application;
pub mod config;
pub mod domain;
pub mod infrastructure;
pub mod interfaces;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use crm_core::grpc::ServiceSet;
use crm_core::idempotency::Idempotency;
use crm_core::storage::{Database, Migrations};
use crm_core::supervise::Task;
use crm_events::bounded::{Access, BoundedContext, Provides, Started, Startup};
use crm_proto::crm::notification::v1 as pb;
use futures::future::BoxFuture;
use tokio::sync::Notify;

use crate::application::Notifications;
use crate::application::hub::Hub;
use crate::config::NotificationConfig;
use crate::infrastructure::channels::{Guarded, InApp, LogSink, Smtp, TwilioSms};
use crate::infrastructure::consumer::{Flows, IAM_GROUP, SALES_GROUP};
use crate::infrastructure::sql::SqlNotificationStore;
use crate::infrastructure::worker::{Policy, Providers, Worker};
use crate::interfaces::grpc::NotificationGrpc;

/// The notification context's embedded migrations.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("../../migrations/notification/sqlite"),
    postgres: sqlx::migrate!("../../migrations/notification/postgres"),
};

/// The notification context, for the launcher's list.
pub static CONTEXT: BoundedContext = BoundedContext {
    name: "notification",
    has_store: true,
    topic: Some("crm.notification.events.v1"),
    migrations: Some(&MIGRATIONS),
    config: Some(&config::SECTION),
    services: crm_proto::services::NOTIFICATION,
    access: Access::PEOPLE,
    calls: &[],
    service_secret: None,
    provides: Provides::NOTHING,
    permissions: domain::permissions::PERMISSIONS,
    sends_notices: false,
    start,
};

/// IAM's topic (tenants, users: the welcome email, who gets what).
pub const IAM_TOPIC: &str = "crm.iam.events.v1";
/// Sales' topic (leads and deals).
pub const SALES_TOPIC: &str = "crm.sales.events.v1";

fn start(startup: Startup<'_>) -> BoxFuture<'_, anyhow::Result<Started>> {
    Box::pin(async move {
        let db = startup.db.context(
            "notification needs its store; it is opened for every context with has_store",
        )?;
        let settings = NotificationConfig::of(startup.config)?;
        let built = build(db, &settings)?;
        let consumer = |name: &str| {
            crm_events::Consumer::new(
                name,
                built.flows.clone(),
                crm_events::Inbox::new(db.clone()),
            )
        };
        let iam = consumer(IAM_GROUP);
        let sales = consumer(SALES_GROUP);
        let mut consumers = vec![(IAM_TOPIC, iam), (SALES_TOPIC, sales)];
        // Notices, from every context that sends them (a group per topic).
        for topic in startup.notice_topics {
            // `crm.activity.events.v1` is read by `notification-activity`.
            let context = topic.split('.').nth(1).unwrap_or(topic);
            consumers.push((*topic, consumer(&format!("notification-{context}"))));
        }
        let app = built.app.clone();
        Ok(Started {
            register: {
                let marks = startup.revocations.clone();
                Box::new(move |services: &mut ServiceSet| register(services, app, marks))
            },
            consumers,
            tasks: vec![{
                let worker = built.worker;
                Task::new("notification deliveries", move || worker.clone().run())
            }],
            breakers: built.breakers,
            ..Started::default()
        })
    })
}

/// The context's parts, wired.
pub struct Built {
    /// The use cases.
    pub app: Notifications,
    /// The delivery worker (run it, or call its rounds in tests).
    pub worker: Worker,
    /// The event flows (the consumers' handler).
    pub flows: Flows,
    /// The providers' breakers.
    pub breakers: Vec<crm_core::breaker::NamedBreaker>,
}

/// The providers the configuration names, each behind its breaker; the log sink for email and
/// SMS when none is configured (said at startup).
pub fn providers(settings: &NotificationConfig, hub: Hub) -> anyhow::Result<Providers> {
    let failures = settings.breaker_failures.unwrap_or(5);
    let open_for = Duration::from_millis(settings.breaker_open_millis.unwrap_or(30_000).max(2000));
    let guard = |sender: Arc<dyn domain::ports::Sender>| Guarded::new(sender, failures, open_for);
    let email: Arc<dyn domain::ports::Sender> = match &settings.smtp_url {
        Some(url) => {
            let from = settings
                .email_from
                .clone()
                .unwrap_or_else(|| "Kilang CRM <no-reply@localhost>".into());
            let connections = settings.concurrency.unwrap_or(32).max(1);
            let smtp = Smtp::new(url.expose(), &from, connections)?;
            tracing::info!(from = %from, "email: through the configured SMTP server");
            Arc::new(smtp)
        }
        None => {
            tracing::warn!(
                "email: no SMTP server is configured (notification.smtp_url); emails are logged and stored as sent, not sent"
            );
            Arc::new(LogSink { channel: "email" })
        }
    };
    let sms: Arc<dyn domain::ports::Sender> = match (
        &settings.sms_base_url,
        &settings.sms_account,
        &settings.sms_token,
        &settings.sms_from,
    ) {
        (Some(base), Some(account), Some(token), Some(from)) => {
            tracing::info!(base = %base, "SMS: through the configured provider");
            Arc::new(TwilioSms::new(base, account, token.expose(), from)?)
        }
        _ => {
            tracing::warn!(
                "SMS: no provider is configured (notification.sms_*); SMS are logged and stored as sent, not sent"
            );
            Arc::new(LogSink { channel: "sms" })
        }
    };
    Ok(Providers {
        email: guard(email),
        sms: guard(sms),
        in_app: guard(Arc::new(InApp { hub })),
    })
}

/// How long a customer message caused by a person's action waits, by default: two minutes to
/// undo a slip.
pub const DEFAULT_GRACE_MILLIS: i64 = 120_000;

/// The context on a migrated SQL database.
pub fn build(db: &Database, settings: &NotificationConfig) -> anyhow::Result<Built> {
    let store = Arc::new(SqlNotificationStore::new(db.clone()));
    let clock: Arc<dyn crm_core::clock::Clock> = Arc::new(crm_core::clock::SystemClock);
    let hub = Hub::default();
    let wake = Arc::new(Notify::new());
    let defaults = Policy::default();
    let policy = Policy {
        max_attempts: settings.max_attempts.unwrap_or(defaults.max_attempts),
        min_delay: settings
            .retry_min_millis
            .map_or(defaults.min_delay, Duration::from_millis),
        max_delay: settings
            .retry_max_millis
            .map_or(defaults.max_delay, Duration::from_millis),
        poll: settings
            .poll_millis
            .map_or(defaults.poll, Duration::from_millis),
        concurrency: settings
            .concurrency
            .map_or(defaults.concurrency, |c| c.max(1) as usize),
        ..defaults
    };
    let providers = providers(settings, hub.clone())?;
    let breakers = providers.breakers();
    let worker = Worker::new(
        store.clone(),
        providers,
        clock.clone(),
        policy,
        wake.clone(),
    );
    let app = Notifications::new(store, clock, Idempotency::new(db.clone()), hub);
    Ok(Built {
        app,
        worker,
        flows: Flows {
            wake,
            grace_millis: settings
                .customer_message_grace_millis
                .map_or(DEFAULT_GRACE_MILLIS, |ms| ms.min(i64::MAX as u64) as i64),
        },
        breakers,
    })
}

/// Adds the notification services to a server.
pub fn register(
    services: &mut ServiceSet,
    app: Notifications,
    marks: crm_core::revocation::Revocations,
) {
    let grpc = NotificationGrpc::new(app, marks);
    services
        .add(pb::notification_service_server::NotificationServiceServer::new(grpc.clone()))
        .add(pb::template_service_server::TemplateServiceServer::new(
            grpc,
        ));
}

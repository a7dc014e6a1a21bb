//! Activities, tasks and record timelines: a sales team's day. Reps log calls, meetings,
//! WhatsApp and SMS conversations, emails and notes against customers, contacts, leads and
//! opportunities; set tasks with due times, reminders (delivered by the notification context,
//! through events) and recurrence; and read each record's timeline, which this context keeps
//! from every context's events.
//!
//! `domain/` holds the rules (tasks, activities, records, timeline entries, events, ports),
//! `application/` the use cases, who may run them and the projection's meaning of each event,
//! `infrastructure/` the SQL store, the projection's consumer and the reminder worker,
//! `interfaces/grpc` the API.

pub mod application;
pub mod config;
pub mod domain;
pub mod infrastructure;
pub mod interfaces;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use crm_core::clock::{Clock, SystemClock};
use crm_core::grpc::ServiceSet;
use crm_core::idempotency::Idempotency;
use crm_core::storage::{Database, Migrations};
use crm_core::supervise::Task;
use crm_events::bounded::{Access, BoundedContext, Provides, Started, Startup};
use crm_proto::crm::activity::v1 as pb;
use futures::future::BoxFuture;
use tokio::sync::Notify;

use crate::application::{Activities, Settings};
use crate::config::ActivityConfig;
use crate::infrastructure::projection::{GROUPS, Timeline};
use crate::infrastructure::reminders::Reminders;
use crate::infrastructure::sql::SqlStore;
use crate::interfaces::grpc::ActivityGrpc;

/// The context's topic.
pub const TOPIC: &str = "crm.activity.events.v1";

/// Its gRPC services.
pub const SERVICES: &[&str] = &[
    "crm.activity.v1.TaskService",
    "crm.activity.v1.ActivityService",
    "crm.activity.v1.TimelineService",
];

/// The activity context's embedded migrations.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("../../migrations/activity/sqlite"),
    postgres: sqlx::migrate!("../../migrations/activity/postgres"),
};

/// The activity context, for the launcher's list.
pub static CONTEXT: BoundedContext = BoundedContext {
    name: "activity",
    has_store: true,
    topic: Some(TOPIC),
    migrations: Some(&MIGRATIONS),
    config: Some(&config::SECTION),
    services: SERVICES,
    access: Access::PEOPLE,
    calls: &[],
    service_secret: None,
    provides: Provides::NOTHING,
    permissions: domain::permissions::PERMISSIONS,
    sends_notices: true,
    start,
};

fn start(startup: Startup<'_>) -> BoxFuture<'_, anyhow::Result<Started>> {
    Box::pin(async move {
        let db = startup.db.context(
            "activities need their store; it is opened for every context with has_store",
        )?;
        let settings = ActivityConfig::of(startup.config)?;
        let built = build(db, &settings);
        let app = built.app.clone();
        let consumers = GROUPS
            .iter()
            .map(|(topic, group)| {
                (
                    *topic,
                    crm_events::Consumer::new(
                        *group,
                        Timeline::default(),
                        crm_events::Inbox::new(db.clone()),
                    ),
                )
            })
            .collect();
        let reminders = built.reminders;
        Ok(Started {
            register: Box::new(move |services: &mut ServiceSet| register(services, app)),
            consumers,
            tasks: vec![Task::new("activity reminders", move || {
                reminders.clone().run()
            })],
            ..Started::default()
        })
    })
}

/// The context's parts, wired.
pub struct Built {
    /// The use cases.
    pub app: Activities,
    /// The reminder worker (run it, or call its rounds in tests).
    pub reminders: Reminders,
}

/// The context on a migrated SQL database.
pub fn build(db: &Database, settings: &ActivityConfig) -> Built {
    build_with(db, settings, Arc::new(SystemClock))
}

/// As [`build`], on `clock`.
pub fn build_with(db: &Database, settings: &ActivityConfig, clock: Arc<dyn Clock>) -> Built {
    let store = Arc::new(SqlStore::new(db.clone()));
    let wake = Arc::new(Notify::new());
    let app = Activities::new(
        store.clone(),
        clock.clone(),
        Idempotency::new(db.clone()),
        Settings {
            edit_window_minutes: settings.edit_window_minutes,
        },
        wake.clone(),
    );
    let mut reminders = Reminders::new(store, clock, wake);
    reminders.max_wait = Duration::from_millis(settings.reminder_wait_millis);
    Built { app, reminders }
}

/// Adds the activity services to a server.
pub fn register(services: &mut ServiceSet, app: Activities) {
    let grpc = ActivityGrpc::new(app);
    services
        .add(pb::task_service_server::TaskServiceServer::new(
            grpc.clone(),
        ))
        .add(pb::activity_service_server::ActivityServiceServer::new(
            grpc.clone(),
        ))
        .add(pb::timeline_service_server::TimelineServiceServer::new(
            grpc,
        ));
}

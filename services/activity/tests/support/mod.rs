//! A world for the activity tests: the context on a migrated store (SQLite, or a PostgreSQL
//! schema of its own), a clock that moves when told, callers with the built-in roles' grants,
//! and other contexts' events fed to the projection as their consumers would.

#![allow(dead_code)]

use std::sync::Arc;

use crm_activity::application::{Activities, Caller};
use crm_activity::config::ActivityConfig;
use crm_activity::infrastructure::projection::Timeline;
use crm_activity::infrastructure::reminders::Reminders;
use crm_core::clock::ManualClock;
use crm_core::testing::TestDb;
use crm_core::{Principal, RequestContext, TenantId, UserId};
use crm_events::{Causation, Envelope, Handler};

/// 2026-12-07 09:00 in Kuala Lumpur (01:00 UTC), a Monday.
pub const START: i64 = 1_796_605_200_000;

pub const SHARED: &[&crm_core::storage::SharedTables] =
    &[&crm_events::TABLES, &crm_core::idempotency::TABLES];

pub struct World {
    /// How far [`World::project`] has fed the context's own outbox.
    projected: std::sync::atomic::AtomicI64,
    pub app: Activities,
    pub reminders: Reminders,
    pub clock: ManualClock,
    pub test: TestDb,
}

impl World {
    pub async fn drop_schema(self) {
        self.test.drop().await
    }

    pub fn db(&self) -> &crm_core::storage::Database {
        &self.test.db
    }

    /// Feeds the context's own events written since the last call to the projection, as its
    /// consumer of its own topic does.
    pub async fn project(&self) {
        use std::sync::atomic::Ordering;
        let log = crm_events::OutboxLog::new(self.db().clone(), crm_activity::TOPIC);
        loop {
            let after = self.projected.load(Ordering::SeqCst);
            let events = log.read_after(after, 500).await.unwrap();
            let Some(last) = events.last() else {
                return;
            };
            self.projected.store(last.seq, Ordering::SeqCst);
            for e in &events {
                self.feed(&e.envelope).await;
            }
        }
    }

    /// Feeds `event` to the projection in its own transaction, as its consumer does.
    pub async fn feed(&self, event: &Envelope) {
        feed(self.db(), event).await
    }
}

pub async fn feed(db: &crm_core::storage::Database, event: &Envelope) {
    let timeline = Timeline::default();
    if !timeline.wants(&event.event_type) {
        return;
    }
    let mut tx = db
        .begin_scoped("app.tenant_id", &event.tenant_id)
        .await
        .unwrap();
    timeline.handle(event, &mut tx).await.unwrap();
    tx.commit().await.unwrap();
}

async fn world(test: TestDb) -> World {
    let clock = ManualClock::at(START);
    let settings = ActivityConfig {
        edit_window_minutes: 60,
        ..ActivityConfig::default()
    };
    let built = crm_activity::build_with(&test.db, &settings, Arc::new(clock.clone()));
    World {
        projected: std::sync::atomic::AtomicI64::new(0),
        app: built.app,
        reminders: built.reminders,
        clock,
        test,
    }
}

pub async fn sqlite() -> World {
    world(TestDb::sqlite("activity", &crm_activity::MIGRATIONS, SHARED).await).await
}

pub async fn postgres() -> World {
    world(TestDb::postgres("activity", &crm_activity::MIGRATIONS, SHARED).await).await
}

/// The grants of a built-in role, from every context's declared permissions (`owner` holds
/// them all).
pub fn grants(role: &str) -> Vec<String> {
    let all = [
        crm_activity::domain::permissions::PERMISSIONS,
        crm_customer::domain::permissions::PERMISSIONS,
        crm_sales::domain::permissions::PERMISSIONS,
    ];
    all.iter()
        .flat_map(|ps| ps.iter())
        .filter_map(|p| {
            if role == "owner" {
                return Some(p.name.to_owned());
            }
            p.held_by.iter().find_map(|h| match h.split_once(':') {
                Some((r, scope)) if r == role => Some(format!("{}:{scope}", p.name)),
                None if *h == role => Some(p.name.to_owned()),
                _ => None,
            })
        })
        .collect()
}

pub fn principal(tenant: TenantId, user: UserId, role: &str) -> Principal {
    Principal {
        tenant_id: tenant,
        user_id: user,
        roles: vec![role.to_owned()],
        permissions: grants(role),
        team: None,
        token_id: uuid::Uuid::now_v7().to_string(),
        issued_at: START,
        expires_at: None,
        api_key_id: None,
        service: None,
    }
}

pub fn caller(p: &Principal) -> Caller {
    Caller {
        principal: p.clone(),
        causation: Causation::default(),
    }
}

/// A request as the auth layer hands it on: `p` in its context.
pub fn request<T>(p: &Principal, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.extensions_mut().insert(RequestContext {
        correlation_id: uuid::Uuid::now_v7().to_string(),
        principal: Some(p.clone()),
        traceparent: None,
        client_address: None,
    });
    request
}

/// An event of another context, at `at`.
pub fn event<M: prost::Message + prost::Name>(
    tenant: TenantId,
    subject: impl ToString,
    message: &M,
    at: i64,
) -> Envelope {
    let mut e = Envelope::new("crm/test", tenant, subject, message, &Causation::default());
    e.time = at;
    e
}

/// `CustomerCreated` of a customer owned by `owner`.
pub fn customer_created(
    tenant: TenantId,
    id: uuid::Uuid,
    name: &str,
    owner: UserId,
    at: i64,
) -> Envelope {
    use crm_proto::crm::customer::events::v1::CustomerCreated;
    use crm_proto::crm::customer::v1::Customer;
    event(
        tenant,
        id,
        &CustomerCreated {
            customer: Some(Customer {
                id: id.to_string(),
                tenant_id: tenant.to_string(),
                display_name: name.to_owned(),
                owner_id: owner.to_string(),
                ..Customer::default()
            }),
            created_by_user_id: owner.to_string(),
        },
        at,
    )
}

/// `UserCreated`: the projection then knows `user` as an active user of `tenant`.
pub fn user_created(tenant: TenantId, user: UserId, email: &str) -> Envelope {
    use crm_proto::crm::iam::events::v1::UserCreated;
    event(
        tenant,
        user,
        &UserCreated {
            user_id: user.to_string(),
            email: email.to_owned(),
            display_name: email.to_owned(),
            roles: vec!["sales_rep".into()],
            ..UserCreated::default()
        },
        START,
    )
}

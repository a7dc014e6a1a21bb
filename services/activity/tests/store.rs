//! The store's contract on SQLite and on PostgreSQL (under row-level security): what spans
//! rows holds under concurrency (a reminder fires once with two workers racing, a recurring
//! task done twice at once makes one next occurrence), a write through another tenant finds
//! nothing, and the timeline's projection rebuilds the same timelines from a replay and forgets
//! a purged customer.

mod support;

use std::sync::Arc;
use std::time::Duration;

use crm_activity::domain::ports::{TaskStore, TaskWrite};
use crm_activity::domain::task::{Frequency, Recurrence, Status, Task, TaskInput};
use crm_activity::infrastructure::sql::SqlStore;
use crm_core::storage::Database;
use crm_core::{ErrorKind, TenantId, UserId};
use support::*;

crm_core::on_every_engine! {
    engines {
        sqlite_engine = sqlite;
        postgres_engine = postgres, ignore "needs DATABASE_URL (PostgreSQL): run with --include-ignored";
    }
    flavor "multi_thread",
    each |w| (&w),
    tests {
        a_task_is_read_and_changed_only_in_its_tenant,
        each_reminder_fires_once_with_two_workers_racing,
        a_recurring_task_done_twice_at_once_makes_one_next,
        a_replay_rebuilds_the_same_timelines,
        a_purged_customer_is_forgotten_with_its_contacts_and_nothing_else,
    }
}

fn task(tenant: TenantId, due: i64, remind: i32) -> Task {
    Task::create(
        tenant,
        TaskInput {
            title: "Hantar sampel batik".into(),
            due_at: Some(due),
            time_zone: "Asia/Kuala_Lumpur".into(),
            remind_before_minutes: remind,
            ..TaskInput::default()
        },
        UserId::new(),
        START,
    )
    .unwrap()
}

/// Events in the outbox of `type` (every tenant's).
async fn outbox(db: &Database, event_type: &str) -> i64 {
    let mut tx = db.begin_scoped("app.relay", "on").await.unwrap();
    let n = sqlx::query_scalar("select count(*) from outbox where event_type = $1")
        .bind(event_type)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

async fn a_task_is_read_and_changed_only_in_its_tenant(w: &World) {
    let store = SqlStore::new(w.db().clone());
    let t = task(TenantId::new(), START, 0);
    store.insert_task(&t, Vec::new()).await.unwrap();
    assert_eq!(
        store.task(t.tenant_id, t.id).await.unwrap(),
        Some(t.clone())
    );
    let other = TenantId::new();
    assert_eq!(store.task(other, t.id).await.unwrap(), None);
    let err = store
        .update_task(
            other,
            t.id,
            Box::new(|t: &mut Task| {
                t.title = "stolen".into();
                Ok(Some(TaskWrite::default()))
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        store.task(t.tenant_id, t.id).await.unwrap().unwrap().title,
        t.title
    );
    // A change that decides nothing writes nothing.
    let same = store
        .update_task(t.tenant_id, t.id, Box::new(|_: &mut Task| Ok(None)))
        .await
        .unwrap();
    assert_eq!(same.version, t.version);
}

async fn each_reminder_fires_once_with_two_workers_racing(w: &World) {
    let store: Arc<dyn TaskStore> = Arc::new(SqlStore::new(w.db().clone()));
    // Two replicas: each its own store over the same database.
    let other = crm_activity::build_with(
        w.db(),
        &crm_activity::config::ActivityConfig::default(),
        Arc::new(w.clock.clone()),
    )
    .reminders;
    let tenants = [TenantId::new(), TenantId::new()];
    let mut fired = 0;
    let mut made = 0;
    for round in 0..5 {
        // Due in the minute before now, across two tenants; one not due yet, one without a
        // reminder.
        for i in 0..120 {
            let due = START + round * 60_000 + i * 400;
            store
                .insert_task(&task(tenants[(i % 2) as usize], due, 0), Vec::new())
                .await
                .unwrap();
            made += 1;
        }
        store
            .insert_task(&task(tenants[0], START + 3_600_000, 5), Vec::new())
            .await
            .unwrap();
        store
            .insert_task(&task(tenants[1], START, -1), Vec::new())
            .await
            .unwrap();
        w.clock.advance(Duration::from_secs(60));
        let (a, b) = tokio::join!(w.reminders.round(), other.round());
        fired += a.unwrap() + b.unwrap();
        assert_eq!(fired, made, "round {round}: every due reminder fired, once");
        // A restart finds nothing left to fire.
        assert_eq!(w.reminders.round().await.unwrap(), 0);
    }
    let due = <crm_proto::crm::activity::events::v1::TaskDue as prost::Name>::full_name();
    let notice = <crm_proto::crm::notification::v1::NoticeRequested as prost::Name>::full_name();
    assert_eq!(outbox(w.db(), &due).await, made as i64);
    assert_eq!(outbox(w.db(), &notice).await, made as i64);
    // The one not due yet fires when its time comes, once.
    w.clock.advance(Duration::from_secs(3600));
    let (a, b) = tokio::join!(w.reminders.round(), other.round());
    assert_eq!(a.unwrap() + b.unwrap(), 5, "the five due later, each once");
}

async fn a_recurring_task_done_twice_at_once_makes_one_next(w: &World) {
    let tenant = TenantId::new();
    let owner = principal(tenant, UserId::new(), "owner");
    let me = caller(&owner);
    for round in 0..10 {
        let t = w
            .app
            .create_task(
                &me,
                TaskInput {
                    title: format!("Weekly stock count {round}"),
                    due_at: Some(START),
                    time_zone: "Asia/Kuala_Lumpur".into(),
                    recurrence: Some(Recurrence {
                        frequency: Frequency::Weekly,
                        interval: 1,
                        weekdays: vec![1, 4],
                    }),
                    remind_before_minutes: -1,
                    ..TaskInput::default()
                },
            )
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            w.app.complete_task(&me, t.id, String::new()),
            w.app.complete_task(&me, t.id, String::new())
        );
        let (done, refused) = match (a, b) {
            (Ok(done), Err(e)) | (Err(e), Ok(done)) => (done, e),
            other => panic!("round {round}: one completes, one is refused: {other:?}"),
        };
        assert_eq!(refused.kind(), ErrorKind::FailedPrecondition);
        let next = done.1.expect("the next occurrence");
        assert_eq!(done.0.next_task_id, Some(next.id));
        // Monday 09:00 in Kuala Lumpur, then Thursday 09:00.
        assert_eq!(next.due_at, START + 3 * 86_400_000);
        let query = crm_activity::domain::ports::TaskQuery {
            status: Some(Status::Open),
            limit: 100,
            ..Default::default()
        };
        let open = w.app.list_tasks(&me, query).await.unwrap().tasks;
        let titles: Vec<&str> = open
            .iter()
            .filter(|o| o.title == t.title)
            .map(|o| o.title.as_str())
            .collect();
        assert_eq!(titles.len(), 1, "round {round}: one next occurrence");
    }
}

/// Every row the projection writes, in a fixed order.
async fn dump(db: &Database, tenant: TenantId) -> Vec<String> {
    let mut tx = db.begin_for(tenant).await.unwrap();
    let mut rows: Vec<String> = Vec::new();
    for (table, order) in [
        ("timeline_entries", "record_type, record_id, entry_id"),
        ("timeline_records", "record_type, record_id"),
        ("timeline_links", "from_type, from_id, to_type, to_id"),
        ("timeline_causes", "event_id, record_type, record_id"),
        ("timeline_pending", "cause_event_id, entry_id"),
    ] {
        let columns = match table {
            "timeline_entries" => {
                "record_type || ' ' || record_id || ' ' || entry_id || ' ' || cast(occurred_at as text) || ' ' || kind || ' ' || source_key || ' ' || doc"
            }
            "timeline_records" => {
                "record_type || ' ' || record_id || ' ' || coalesce(owner_id, '-') || ' ' || name"
            }
            "timeline_links" => "from_type || ' ' || from_id || ' ' || to_type || ' ' || to_id",
            "timeline_causes" => "event_id || ' ' || record_type || ' ' || record_id",
            _ => "cause_event_id || ' ' || entry_id || ' ' || doc",
        };
        let found: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select {columns} from {table} where tenant_id = $1 order by {order}"
        )))
        .bind(tenant.to_string())
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        rows.extend(found.into_iter().map(|(r,)| format!("{table}: {r}")));
    }
    tx.commit().await.unwrap();
    rows
}

async fn a_replay_rebuilds_the_same_timelines(w: &World) {
    use crm_proto::crm::customer::events::v1::{ContactAdded, CustomerUpdated};
    use crm_proto::crm::customer::v1::{Contact, Customer};
    use crm_proto::crm::notification::events::v1::NotificationSent;
    use crm_proto::crm::sales::events::v1::{
        DealLost, LeadAssigned, LeadConverted, LeadCreated, OpportunityCreated,
        OpportunityReopened, OpportunityStageChanged,
    };
    use crm_proto::crm::sales::v1::{Lead, Opportunity};
    use uuid::Uuid;
    let tenant = TenantId::new();
    let rep = UserId::new();
    let (customer, contact, lead, opportunity, repeat) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let t = |m: i64| START + m * 60_000;
    let lost = event(
        tenant,
        opportunity,
        &DealLost {
            opportunity_id: opportunity.to_string(),
            opportunity_name: "Kain ela".into(),
            customer_id: customer.to_string(),
            owner_id: rep.to_string(),
            loss_reason: crm_proto::crm::sales::v1::LossReason::NoBudget as i32,
            ..DealLost::default()
        },
        t(9),
    );
    let script = vec![
        event(
            tenant,
            lead,
            &LeadCreated {
                lead: Some(Lead {
                    id: lead.to_string(),
                    company_name: "Kain Ela Sdn Bhd".into(),
                    owner_id: rep.to_string(),
                    ..Lead::default()
                }),
                created_by_user_id: rep.to_string(),
            },
            t(0),
        ),
        customer_created(tenant, customer, "Kain Ela Sdn Bhd", rep, t(1)),
        event(
            tenant,
            contact,
            &ContactAdded {
                customer_id: customer.to_string(),
                contact: Some(Contact {
                    id: contact.to_string(),
                    given_name: "Siti".into(),
                    ..Contact::default()
                }),
                added_by_user_id: rep.to_string(),
            },
            t(2),
        ),
        event(
            tenant,
            lead,
            &LeadAssigned {
                lead_id: lead.to_string(),
                owner_id: rep.to_string(),
                assigned_by_user_id: rep.to_string(),
                ..LeadAssigned::default()
            },
            t(2),
        ),
        event(
            tenant,
            lead,
            &LeadConverted {
                lead_id: lead.to_string(),
                customer_id: customer.to_string(),
                opportunity_id: opportunity.to_string(),
                owner_id: rep.to_string(),
                ..LeadConverted::default()
            },
            t(3),
        ),
        event(
            tenant,
            repeat,
            &OpportunityCreated {
                opportunity: Some(Opportunity {
                    id: repeat.to_string(),
                    name: "Kain ela: repeat order".into(),
                    customer_id: customer.to_string(),
                    owner_id: rep.to_string(),
                    ..Opportunity::default()
                }),
                created_by_user_id: rep.to_string(),
            },
            t(5),
        ),
        event(
            tenant,
            opportunity,
            &OpportunityStageChanged {
                opportunity_id: opportunity.to_string(),
                opportunity_name: "Kain ela".into(),
                from_stage_name: "Proposal".into(),
                to_stage_name: "Negotiation".into(),
                owner_id: rep.to_string(),
                ..OpportunityStageChanged::default()
            },
            t(4),
        ),
        // The survey's event before the loss's: it waits, then joins.
        event(
            tenant,
            Uuid::now_v7(),
            &NotificationSent {
                notification_id: Uuid::now_v7().to_string(),
                recipient_address: "siti@kainela.my".into(),
                trigger_event_id: lost.id.to_string(),
                ..NotificationSent::default()
            },
            t(10),
        ),
        lost,
        event(
            tenant,
            customer,
            &CustomerUpdated {
                customer: Some(Customer {
                    id: customer.to_string(),
                    display_name: "Kain Ela Berhad".into(),
                    owner_id: UserId::new().to_string(),
                    ..Customer::default()
                }),
                changed_fields: vec!["display_name".into(), "owner_id".into()],
                updated_by_user_id: rep.to_string(),
            },
            t(11),
        ),
        event(
            tenant,
            opportunity,
            &OpportunityReopened {
                opportunity_id: opportunity.to_string(),
                opportunity_name: "Kain ela".into(),
                customer_id: customer.to_string(),
                owner_id: rep.to_string(),
                previous_status: crm_proto::crm::sales::v1::OpportunityStatus::Lost as i32,
                reopened_by_user_id: rep.to_string(),
                ..OpportunityReopened::default()
            },
            t(12),
        ),
    ];
    for e in &script {
        w.feed(e).await;
    }
    let first = dump(w.db(), tenant).await;
    assert!(
        first
            .iter()
            .any(|r| r.contains("siti@kainela.my") && r.starts_with("timeline_entries: customer")),
        "{first:#?}"
    );
    assert!(
        !first.iter().any(|r| r.starts_with("timeline_pending")),
        "nothing left waiting"
    );
    assert!(
        first
            .iter()
            .any(|r| r.starts_with("timeline_entries: customer") && r.contains("Lead created")),
        "the lead's history followed it"
    );
    for added in [
        "Assigned to a new owner",
        "Opportunity opened: Kain ela: repeat order",
        "Reopened: Kain ela (was lost)",
    ] {
        assert!(
            first
                .iter()
                .any(|r| r.starts_with("timeline_entries: customer") && r.contains(added)),
            "{added}: {first:#?}"
        );
    }
    // Every event again (a redelivery, or a replay into the same store): nothing changes.
    for e in &script {
        w.feed(e).await;
    }
    assert_eq!(dump(w.db(), tenant).await, first);
    // From the start into an empty store: the same timelines.
    let fresh =
        crm_core::testing::TestDb::sqlite("activity", &crm_activity::MIGRATIONS, SHARED).await;
    for e in &script {
        feed(&fresh.db, e).await;
    }
    assert_eq!(dump(&fresh.db, tenant).await, first);
    fresh.drop().await;
}

async fn a_purged_customer_is_forgotten_with_its_contacts_and_nothing_else(w: &World) {
    use crm_proto::crm::customer::events::v1::{ContactAdded, CustomerDeleted, CustomerPurged};
    use crm_proto::crm::customer::v1::Contact;
    use crm_proto::crm::sales::events::v1::OpportunityCreated;
    use crm_proto::crm::sales::v1::Opportunity;
    use uuid::Uuid;
    let tenant = TenantId::new();
    let rep = UserId::new();
    let (purged, kept, contact, opportunity) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let t = |m: i64| START + m * 60_000;
    let script = vec![
        customer_created(tenant, purged, "Kain Ela Sdn Bhd", rep, t(0)),
        customer_created(tenant, kept, "Batik Timur", rep, t(0)),
        event(
            tenant,
            contact,
            &ContactAdded {
                customer_id: purged.to_string(),
                contact: Some(Contact {
                    id: contact.to_string(),
                    given_name: "Siti".into(),
                    ..Contact::default()
                }),
                added_by_user_id: rep.to_string(),
            },
            t(1),
        ),
        event(
            tenant,
            opportunity,
            &OpportunityCreated {
                opportunity: Some(Opportunity {
                    id: opportunity.to_string(),
                    name: "Kain ela".into(),
                    customer_id: purged.to_string(),
                    owner_id: rep.to_string(),
                    ..Opportunity::default()
                }),
                created_by_user_id: rep.to_string(),
            },
            t(2),
        ),
        event(
            tenant,
            purged,
            &CustomerDeleted {
                customer_id: purged.to_string(),
                display_name: "Kain Ela Sdn Bhd".into(),
                deleted_by_user_id: rep.to_string(),
                ..CustomerDeleted::default()
            },
            t(3),
        ),
    ];
    for e in &script {
        w.feed(e).await;
    }
    let before = dump(w.db(), tenant).await;
    let mentions = |rows: &[String], id: Uuid| rows.iter().any(|r| r.contains(&id.to_string()));
    assert!(
        mentions(&before, purged) && mentions(&before, contact),
        "{before:#?}"
    );

    let purge = event(
        tenant,
        purged,
        &CustomerPurged {
            customer_id: purged.to_string(),
            ..CustomerPurged::default()
        },
        t(30 * 24 * 60),
    );
    w.feed(&purge).await;
    let after = dump(w.db(), tenant).await;
    for (gone, what) in [(purged, "the customer"), (contact, "its contact")] {
        let left: Vec<_> = after
            .iter()
            .filter(|r| r.contains(&gone.to_string()))
            .collect();
        assert!(left.is_empty(), "{what} is forgotten: {left:#?}");
    }
    let opportunity_rows = |rows: &[String]| {
        rows.iter()
            .filter(|r| r.starts_with(&format!("timeline_entries: opportunity {opportunity}")))
            .count()
    };
    assert_eq!(
        opportunity_rows(&after),
        opportunity_rows(&before),
        "the opportunity keeps its own timeline"
    );
    assert!(opportunity_rows(&after) > 0);
    let others = |rows: &[String]| -> Vec<String> {
        rows.iter()
            .filter(|r| r.contains(&kept.to_string()))
            .cloned()
            .collect()
    };
    assert_eq!(
        others(&after),
        others(&before),
        "another customer is untouched"
    );
    assert!(!others(&after).is_empty());
    // Delivered again, and an event of its opportunity arriving later: nothing comes back to
    // the customer's timeline.
    use crm_proto::crm::sales::events::v1::OpportunityReopened;
    let reopened = event(
        tenant,
        opportunity,
        &OpportunityReopened {
            opportunity_id: opportunity.to_string(),
            opportunity_name: "Kain ela".into(),
            customer_id: purged.to_string(),
            owner_id: rep.to_string(),
            reopened_by_user_id: rep.to_string(),
            ..OpportunityReopened::default()
        },
        t(30 * 24 * 60 + 1),
    );
    w.feed(&purge).await;
    w.feed(&reopened).await;
    let later = dump(w.db(), tenant).await;
    assert!(!mentions(&later, purged), "{later:#?}");
    assert_eq!(
        opportunity_rows(&later),
        opportunity_rows(&after) + 1,
        "the opportunity's own timeline goes on"
    );
}

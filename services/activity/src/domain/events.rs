//! The activity context's events (`crm.activity.events.v1`), as outbox entries.

use crm_events::{Causation, Envelope, OutboxEvent};
use crm_proto::crm::activity::events::v1 as ev;
use prost::Name;

use super::Millis;
use super::activity::Activity;
use super::messages::{activity_pb, record_pb, task_pb};
use super::task::Task;

/// The source of every event.
pub const SOURCE: &str = "crm/activity";

fn task_event<M: prost::Message + Name>(t: &Task, event: &M, cause: &Causation) -> OutboxEvent {
    OutboxEvent::new(
        "task",
        Envelope::new(SOURCE, t.tenant_id, t.id, event, cause),
    )
}

fn activity_event<M: prost::Message + Name>(
    a: &Activity,
    event: &M,
    cause: &Causation,
) -> OutboxEvent {
    OutboxEvent::new(
        "activity",
        Envelope::new(SOURCE, a.tenant_id, a.id, event, cause),
    )
}

/// `TaskCreated`.
pub fn task_created(t: &Task, cause: &Causation) -> OutboxEvent {
    task_event(
        t,
        &ev::TaskCreated {
            task: Some(task_pb(t)),
            created_by_user_id: t.created_by.to_string(),
        },
        cause,
    )
}

/// `TaskUpdated`.
pub fn task_updated(t: &Task, changed: &[String], by: &str, cause: &Causation) -> OutboxEvent {
    task_event(
        t,
        &ev::TaskUpdated {
            task: Some(task_pb(t)),
            changed_fields: changed.to_vec(),
            updated_by_user_id: by.to_owned(),
        },
        cause,
    )
}

/// `TaskCompleted`.
pub fn task_completed(t: &Task, by: &str, cause: &Causation) -> OutboxEvent {
    task_event(
        t,
        &ev::TaskCompleted {
            task: Some(task_pb(t)),
            completed_by_user_id: by.to_owned(),
            next_task_id: t.next_task_id.map(|i| i.to_string()).unwrap_or_default(),
        },
        cause,
    )
}

/// `TaskCancelled`.
pub fn task_cancelled(t: &Task, by: &str, cause: &Causation) -> OutboxEvent {
    task_event(
        t,
        &ev::TaskCancelled {
            task: Some(task_pb(t)),
            cancelled_by_user_id: by.to_owned(),
        },
        cause,
    )
}

/// `TaskDue`: the reminder at `at` fired.
pub fn task_due(t: &Task, at: Millis) -> OutboxEvent {
    task_event(
        t,
        &ev::TaskDue {
            task: Some(task_pb(t)),
            remind_time: Some(crm_core::api::timestamp(at)),
        },
        &Causation::default(),
    )
}

/// `ActivityLogged`.
pub fn activity_logged(a: &Activity, window: u32, cause: &Causation) -> OutboxEvent {
    activity_event(
        a,
        &ev::ActivityLogged {
            activity: Some(activity_pb(a, window)),
        },
        cause,
    )
}

/// `ActivityUpdated`.
pub fn activity_updated(
    a: &Activity,
    window: u32,
    changed: &[String],
    by: &str,
    cause: &Causation,
) -> OutboxEvent {
    activity_event(
        a,
        &ev::ActivityUpdated {
            activity: Some(activity_pb(a, window)),
            changed_fields: changed.to_vec(),
            updated_by_user_id: by.to_owned(),
        },
        cause,
    )
}

/// `ActivityDeleted`.
pub fn activity_deleted(a: &Activity, by: &str, at: Millis, cause: &Causation) -> OutboxEvent {
    activity_event(
        a,
        &ev::ActivityDeleted {
            activity_id: a.id.to_string(),
            related: a.related.iter().map(record_pb).collect(),
            deleted_by_user_id: by.to_owned(),
            delete_time: Some(crm_core::api::timestamp(at)),
        },
        cause,
    )
}

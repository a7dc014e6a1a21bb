//! The contract's messages of tasks, activities and timeline entries, both ways.

use crm_core::UserId;
use crm_core::api::{millis, timestamp};
use crm_proto::crm::activity::v1 as pb;
use uuid::Uuid;

use super::activity::{self, Activity, ActivityInput, Direction, Kind, Participant};
use super::records::{RecordRef, RecordType};
use super::task::{Frequency, Priority, Recurrence, Status, Task, TaskInput};
use super::timeline::{Entry, EntryKind};
use super::{Problem, problem};

/// A record reference of the contract.
pub fn record_pb(r: &RecordRef) -> pb::RecordRef {
    pb::RecordRef {
        r#type: match r.record_type {
            RecordType::Customer => pb::RecordType::Customer,
            RecordType::Contact => pb::RecordType::Contact,
            RecordType::Lead => pb::RecordType::Lead,
            RecordType::Opportunity => pb::RecordType::Opportunity,
        } as i32,
        id: r.id.to_string(),
    }
}

/// A record reference from the contract, or the problem of `field`.
pub fn record_of(r: &pb::RecordRef, field: &str) -> Result<RecordRef, Problem> {
    let record_type = match pb::RecordType::try_from(r.r#type) {
        Ok(pb::RecordType::Customer) => RecordType::Customer,
        Ok(pb::RecordType::Contact) => RecordType::Contact,
        Ok(pb::RecordType::Lead) => RecordType::Lead,
        Ok(pb::RecordType::Opportunity) => RecordType::Opportunity,
        _ => {
            return Err(problem(
                &format!("{field}.type"),
                "must be RECORD_TYPE_CUSTOMER, _CONTACT, _LEAD or _OPPORTUNITY",
            ));
        }
    };
    let id = Uuid::try_parse(r.id.trim())
        .map_err(|_| problem(&format!("{field}.id"), "must be the record's id (a UUID)"))?;
    Ok(RecordRef::new(record_type, id))
}

fn records_of(list: &[pb::RecordRef], field: &str, problems: &mut Vec<Problem>) -> Vec<RecordRef> {
    list.iter()
        .enumerate()
        .filter_map(|(i, r)| match record_of(r, &format!("{field}[{i}]")) {
            Ok(r) => Some(r),
            Err(p) => {
                problems.push(p);
                None
            }
        })
        .collect()
}

fn user_of(raw: &str, field: &str, problems: &mut Vec<Problem>) -> Option<UserId> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match UserId::parse(raw) {
        Ok(id) => Some(id),
        Err(_) => {
            problems.push(problem(field, "must be a user id (a UUID)"));
            None
        }
    }
}

/// A task of the contract.
pub fn task_pb(t: &Task) -> pb::Task {
    pb::Task {
        id: t.id.to_string(),
        tenant_id: t.tenant_id.to_string(),
        title: t.title.clone(),
        notes: t.notes.clone(),
        due_time: Some(timestamp(t.due_at)),
        time_zone: t.time_zone.clone(),
        assignee_id: t.assignee_id.to_string(),
        priority: match t.priority {
            Priority::Low => pb::TaskPriority::Low,
            Priority::Normal => pb::TaskPriority::Normal,
            Priority::High => pb::TaskPriority::High,
        } as i32,
        status: match t.status {
            Status::Open => pb::TaskStatus::Open,
            Status::Done => pb::TaskStatus::Done,
            Status::Cancelled => pb::TaskStatus::Cancelled,
        } as i32,
        related: t.related.iter().map(record_pb).collect(),
        recurrence: t.recurrence.as_ref().map(|r| pb::Recurrence {
            frequency: match r.frequency {
                Frequency::Daily => pb::Frequency::Daily,
                Frequency::Weekly => pb::Frequency::Weekly,
                Frequency::Monthly => pb::Frequency::Monthly,
            } as i32,
            interval: r.interval as i32,
            weekdays: r.weekdays.iter().map(|d| *d as i32).collect(),
        }),
        remind_before_minutes: t.remind_before_minutes.map_or(-1, |m| m as i32),
        remind_by_email: t.remind_by_email,
        remind_time: t.reminded_at.map(timestamp),
        created_by_user_id: t.created_by.to_string(),
        create_time: Some(timestamp(t.created_at)),
        update_time: Some(timestamp(t.updated_at)),
        close_time: t.closed_at.map(timestamp),
        next_task_id: t.next_task_id.map(|i| i.to_string()).unwrap_or_default(),
        etag: t.version.to_string(),
    }
}

/// What a contract task gives, or the problems of its fields.
pub fn task_input(t: &pb::Task) -> Result<TaskInput, Vec<Problem>> {
    let mut problems = Vec::new();
    let priority = match pb::TaskPriority::try_from(t.priority) {
        Ok(pb::TaskPriority::Low) => Priority::Low,
        Ok(pb::TaskPriority::High) => Priority::High,
        Ok(pb::TaskPriority::Normal | pb::TaskPriority::Unspecified) => Priority::Normal,
        Err(_) => {
            problems.push(problem(
                "task.priority",
                "is not a priority of the contract",
            ));
            Priority::Normal
        }
    };
    let recurrence = match &t.recurrence {
        None => None,
        Some(r) => match pb::Frequency::try_from(r.frequency) {
            Ok(pb::Frequency::Unspecified) => None,
            Ok(f) => Some(Recurrence {
                frequency: match f {
                    pb::Frequency::Daily => Frequency::Daily,
                    pb::Frequency::Weekly => Frequency::Weekly,
                    _ => Frequency::Monthly,
                },
                interval: r.interval.max(0) as u32,
                weekdays: r
                    .weekdays
                    .iter()
                    .map(|d| (*d).clamp(0, 99) as u32)
                    .collect(),
            }),
            Err(_) => {
                problems.push(problem(
                    "task.recurrence.frequency",
                    "is not a frequency of the contract",
                ));
                None
            }
        },
    };
    if t.recurrence.as_ref().is_some_and(|r| r.interval < 0) {
        problems.push(problem("task.recurrence.interval", "must not be negative"));
    }
    let input = TaskInput {
        title: t.title.clone(),
        notes: t.notes.clone(),
        due_at: t.due_time.as_ref().map(millis),
        time_zone: t.time_zone.clone(),
        assignee_id: user_of(&t.assignee_id, "task.assignee_id", &mut problems),
        priority,
        related: records_of(&t.related, "task.related", &mut problems),
        recurrence,
        remind_before_minutes: t.remind_before_minutes,
        remind_by_email: t.remind_by_email,
    };
    if problems.is_empty() {
        Ok(input)
    } else {
        Err(problems)
    }
}

fn kind_pb(k: Kind) -> pb::ActivityKind {
    match k {
        Kind::Call => pb::ActivityKind::Call,
        Kind::Meeting => pb::ActivityKind::Meeting,
        Kind::Whatsapp => pb::ActivityKind::Whatsapp,
        Kind::Sms => pb::ActivityKind::Sms,
        Kind::Email => pb::ActivityKind::Email,
        Kind::Note => pb::ActivityKind::Note,
    }
}

/// An activity kind from the contract: `None` for unspecified; `Err` (what is wrong) for a value
/// it does not define.
pub fn kind_of(raw: i32) -> Result<Option<Kind>, &'static str> {
    Ok(
        match pb::ActivityKind::try_from(raw).map_err(|_| "is not a kind of the contract")? {
            pb::ActivityKind::Unspecified => None,
            pb::ActivityKind::Call => Some(Kind::Call),
            pb::ActivityKind::Meeting => Some(Kind::Meeting),
            pb::ActivityKind::Whatsapp => Some(Kind::Whatsapp),
            pb::ActivityKind::Sms => Some(Kind::Sms),
            pb::ActivityKind::Email => Some(Kind::Email),
            pb::ActivityKind::Note => Some(Kind::Note),
        },
    )
}

/// An activity of the contract, its body rendered; `window_minutes` says until when its author
/// may change it.
pub fn activity_pb(a: &Activity, window_minutes: u32) -> pb::Activity {
    pb::Activity {
        id: a.id.to_string(),
        tenant_id: a.tenant_id.to_string(),
        kind: kind_pb(a.kind) as i32,
        occur_time: Some(timestamp(a.occurred_at)),
        duration_seconds: a.duration_seconds as i32,
        direction: match a.direction {
            None => pb::Direction::Unspecified,
            Some(Direction::Inbound) => pb::Direction::Inbound,
            Some(Direction::Outbound) => pb::Direction::Outbound,
        } as i32,
        participants: a
            .participants
            .iter()
            .map(|p| pb::Participant {
                contact_id: p.contact_id.map(|i| i.to_string()).unwrap_or_default(),
                user_id: p.user_id.map(|i| i.to_string()).unwrap_or_default(),
                name: p.name.clone(),
            })
            .collect(),
        outcome: a.outcome.clone(),
        subject: a.subject.clone(),
        body: a.body.clone(),
        body_html: activity::render_html(&a.body),
        related: a.related.iter().map(record_pb).collect(),
        author_id: a.author_id.to_string(),
        create_time: Some(timestamp(a.created_at)),
        update_time: Some(timestamp(a.updated_at)),
        editable_until: Some(timestamp(a.editable_until(window_minutes))),
        etag: a.version.to_string(),
    }
}

/// What a contract activity gives, or the problems of its fields.
pub fn activity_input(a: &pb::Activity) -> Result<ActivityInput, Vec<Problem>> {
    let mut problems = Vec::new();
    let kind = kind_of(a.kind).unwrap_or_else(|wrong| {
        problems.push(problem("activity.kind", wrong));
        None
    });
    let direction = match pb::Direction::try_from(a.direction) {
        Ok(pb::Direction::Unspecified) => None,
        Ok(pb::Direction::Inbound) => Some(Direction::Inbound),
        Ok(pb::Direction::Outbound) => Some(Direction::Outbound),
        Err(_) => {
            problems.push(problem(
                "activity.direction",
                "is not a direction of the contract",
            ));
            None
        }
    };
    let participants = a
        .participants
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let contact_id = match p.contact_id.trim() {
                "" => None,
                raw => Uuid::try_parse(raw).map(Some).unwrap_or_else(|_| {
                    problems.push(problem(
                        &format!("activity.participants[{i}].contact_id"),
                        "must be a contact id (a UUID)",
                    ));
                    None
                }),
            };
            Participant {
                contact_id,
                user_id: user_of(
                    &p.user_id,
                    &format!("activity.participants[{i}].user_id"),
                    &mut problems,
                ),
                name: p.name.clone(),
            }
        })
        .collect();
    let input = ActivityInput {
        kind,
        occurred_at: a.occur_time.as_ref().map(millis),
        duration_seconds: a.duration_seconds,
        direction,
        participants,
        outcome: a.outcome.clone(),
        subject: a.subject.clone(),
        body: a.body.clone(),
        related: records_of(&a.related, "activity.related", &mut problems),
    };
    if problems.is_empty() {
        Ok(input)
    } else {
        Err(problems)
    }
}

/// An entry kind of the contract.
pub fn entry_kind_pb(k: EntryKind) -> pb::TimelineEntryKind {
    match k {
        EntryKind::Activity => pb::TimelineEntryKind::Activity,
        EntryKind::Task => pb::TimelineEntryKind::Task,
        EntryKind::Customer => pb::TimelineEntryKind::Customer,
        EntryKind::Contact => pb::TimelineEntryKind::Contact,
        EntryKind::Lead => pb::TimelineEntryKind::Lead,
        EntryKind::Opportunity => pb::TimelineEntryKind::Opportunity,
        EntryKind::Notification => pb::TimelineEntryKind::Notification,
    }
}

/// An entry kind from the contract (`None` for unspecified or unknown).
pub fn entry_kind_of(raw: i32) -> Option<EntryKind> {
    [
        EntryKind::Activity,
        EntryKind::Task,
        EntryKind::Customer,
        EntryKind::Contact,
        EntryKind::Lead,
        EntryKind::Opportunity,
        EntryKind::Notification,
    ]
    .into_iter()
    .find(|k| entry_kind_pb(*k) as i32 == raw)
}

/// A timeline entry of the contract.
pub fn entry_pb(e: &Entry) -> pb::TimelineEntry {
    pb::TimelineEntry {
        id: e.id.to_string(),
        kind: entry_kind_pb(e.kind) as i32,
        event_type: e.event_type.clone(),
        occur_time: Some(timestamp(e.occurred_at)),
        actor_id: e.actor_id.clone().unwrap_or_default(),
        summary: e.summary.clone(),
        attributes: e.attributes.clone().into_iter().collect(),
        subject: Some(record_pb(&e.subject)),
        activity_id: e.activity_id.map(|i| i.to_string()).unwrap_or_default(),
        task_id: e.task_id.map(|i| i.to_string()).unwrap_or_default(),
    }
}

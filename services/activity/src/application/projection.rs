//! The timeline's projection: what each event of every context means for the records'
//! timelines, as [`Effect`]s the store applies in the consumer's transaction. Pure: the same
//! events give the same effects, so a replay from the start rebuilds the same timelines.
//!
//! - customers: created, changed (with the changed fields), deleted, restored, purged (its
//!   timeline and its contacts' erased); contacts added, changed, removed (on the contact's
//!   timeline and its customer's);
//! - sales: leads created, qualified or not, assigned, converted (the lead and its opportunity
//!   then show on the customer's timeline, their history included); opportunities opened,
//!   moved, won, lost, reopened;
//! - notifications: a message sent to a customer, on the timelines of the event that caused it;
//! - IAM: the tenant's users (who may be given a task);
//! - this context's own: tasks and activities, one entry per record each is about, kept as
//!   they change.

use std::collections::BTreeMap;

use crm_core::UserId;
use crm_events::Envelope;
use crm_proto::crm::activity::events::v1 as act;
use crm_proto::crm::customer::events::v1 as cus;
use crm_proto::crm::iam::events::v1 as iam;
use crm_proto::crm::notification::events::v1 as note;
use crm_proto::crm::sales::events::v1 as sales;
use prost::Name;
use uuid::Uuid;

mod sales_events;

use crate::domain::records::{RecordRef, RecordType};
use crate::domain::timeline::{
    Effect, Entry, EntryKind, activity_source, event_entry_id, task_source,
};

/// The event types the projection reads.
pub fn types() -> Vec<String> {
    vec![
        cus::CustomerCreated::full_name(),
        cus::CustomerUpdated::full_name(),
        cus::CustomerDeleted::full_name(),
        cus::CustomerRestored::full_name(),
        cus::CustomerPurged::full_name(),
        cus::ContactAdded::full_name(),
        cus::ContactUpdated::full_name(),
        cus::ContactRemoved::full_name(),
        sales::LeadCreated::full_name(),
        sales::LeadQualified::full_name(),
        sales::LeadAssigned::full_name(),
        sales::LeadConverted::full_name(),
        sales::LeadDeleted::full_name(),
        sales::LeadRestored::full_name(),
        sales::LeadPurged::full_name(),
        sales::OpportunityCreated::full_name(),
        sales::OpportunityStageChanged::full_name(),
        sales::DealWon::full_name(),
        sales::DealLost::full_name(),
        sales::OpportunityReopened::full_name(),
        sales::ApprovalRequested::full_name(),
        sales::ApprovalDecided::full_name(),
        note::NotificationSent::full_name(),
        iam::TenantCreated::full_name(),
        iam::UserCreated::full_name(),
        iam::UserStatusChanged::full_name(),
        act::TaskCreated::full_name(),
        act::TaskUpdated::full_name(),
        act::TaskCompleted::full_name(),
        act::TaskCancelled::full_name(),
        act::ActivityLogged::full_name(),
        act::ActivityUpdated::full_name(),
        act::ActivityDeleted::full_name(),
    ]
}

fn uuid(raw: &str) -> Option<Uuid> {
    Uuid::try_parse(raw).ok()
}

fn user(raw: &str) -> Option<UserId> {
    UserId::parse(raw).ok()
}

fn owner(raw: &str) -> Option<Option<UserId>> {
    Some(user(raw))
}

fn record(t: RecordType, raw: &str) -> Option<RecordRef> {
    uuid(raw).map(|id| RecordRef::new(t, id))
}

fn money(m: Option<&crm_proto::google::r#type::Money>) -> String {
    m.map(|m| crm_core::text::money(&m.currency_code, m.units, m.nanos))
        .unwrap_or_default()
}

/// An entry of `event` about `subject`.
fn entry(
    event: &Envelope,
    kind: EntryKind,
    subject: RecordRef,
    actor: &str,
    summary: String,
    attributes: &[(&str, String)],
) -> Entry {
    Entry {
        id: event_entry_id(event.id, kind),
        kind,
        event_type: event.event_type.clone(),
        occurred_at: event.time,
        actor_id: (!actor.is_empty()).then(|| actor.to_owned()),
        summary,
        attributes: attributes
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
        subject,
        activity_id: None,
        task_id: None,
    }
}

/// What `event` does to the timelines.
pub fn effects(event: &Envelope) -> Vec<Effect> {
    customer(event)
        .or_else(|| sales_events::effects(event))
        .or_else(|| own(event))
        .or_else(|| others(event))
        .unwrap_or_default()
}

fn customer(event: &Envelope) -> Option<Vec<Effect>> {
    // Created or restored: the record is known again, by its name and owner.
    let appeared = event
        .decode::<cus::CustomerCreated>()
        .map(|e| (e.customer, e.created_by_user_id, "created"))
        .or_else(|| {
            event
                .decode::<cus::CustomerRestored>()
                .map(|e| (e.customer, e.restored_by_user_id, "restored"))
        });
    if let Some((c, by, what)) = appeared {
        let c = c.unwrap_or_default();
        let r = record(RecordType::Customer, &c.id)?;
        return Some(vec![
            Effect::Record {
                record: r,
                owner: owner(&c.owner_id),
                name: Some(c.display_name.clone()),
            },
            Effect::Add(entry(
                event,
                EntryKind::Customer,
                r,
                &by,
                format!("Customer {what}: {}", c.display_name),
                &[("display_name", c.display_name.clone())],
            )),
        ]);
    }
    if let Some(e) = event.decode::<cus::CustomerUpdated>() {
        let c = e.customer.unwrap_or_default();
        let r = record(RecordType::Customer, &c.id)?;
        return Some(vec![
            Effect::Record {
                record: r,
                owner: owner(&c.owner_id),
                name: Some(c.display_name.clone()),
            },
            Effect::Add(entry(
                event,
                EntryKind::Customer,
                r,
                &e.updated_by_user_id,
                format!("Changed {}", e.changed_fields.join(", ")),
                &[("changed_fields", e.changed_fields.join(","))],
            )),
        ]);
    }
    if let Some(e) = event.decode::<cus::CustomerDeleted>() {
        let r = record(RecordType::Customer, &e.customer_id)?;
        return Some(vec![
            Effect::Add(entry(
                event,
                EntryKind::Customer,
                r,
                &e.deleted_by_user_id,
                format!("Customer deleted: {}", e.display_name),
                &[],
            )),
            Effect::Forget { record: r },
        ]);
    }
    if let Some(e) = event.decode::<cus::CustomerPurged>() {
        let r = record(RecordType::Customer, &e.customer_id)?;
        return Some(vec![Effect::Erase { record: r }]);
    }
    if let Some(e) = event.decode::<cus::ContactAdded>() {
        let c = e.contact.unwrap_or_default();
        let contact = record(RecordType::Contact, &c.id)?;
        let customer = record(RecordType::Customer, &e.customer_id)?;
        let name = format!("{} {}", c.given_name, c.family_name)
            .trim()
            .to_owned();
        return Some(vec![
            Effect::Record {
                record: contact,
                owner: None,
                name: Some(name.clone()),
            },
            Effect::Link {
                from: contact,
                to: customer,
            },
            Effect::Add(entry(
                event,
                EntryKind::Contact,
                contact,
                &e.added_by_user_id,
                format!("Contact added: {name}"),
                &[("contact_name", name.clone())],
            )),
        ]);
    }
    if let Some(e) = event.decode::<cus::ContactUpdated>() {
        let c = e.contact.unwrap_or_default();
        let contact = record(RecordType::Contact, &c.id)?;
        return Some(vec![Effect::Add(entry(
            event,
            EntryKind::Contact,
            contact,
            &e.updated_by_user_id,
            format!("Contact changed: {}", e.changed_fields.join(", ")),
            &[("changed_fields", e.changed_fields.join(","))],
        ))]);
    }
    if let Some(e) = event.decode::<cus::ContactRemoved>() {
        let contact = record(RecordType::Contact, &e.contact_id)?;
        return Some(vec![
            Effect::Add(entry(
                event,
                EntryKind::Contact,
                contact,
                &e.removed_by_user_id,
                "Contact removed".into(),
                &[],
            )),
            Effect::Forget { record: contact },
        ]);
    }
    None
}

fn task_entries(task: &crm_proto::crm::activity::v1::Task, event: &Envelope) -> Option<Effect> {
    let id = uuid(&task.id)?;
    let status = crm_proto::crm::activity::v1::TaskStatus::try_from(task.status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("TASK_STATUS_")
                .to_lowercase()
        })
        .unwrap_or_default();
    let due = task
        .due_time
        .as_ref()
        .map(|t| crm_core::api::millis(t).to_string())
        .unwrap_or_default();
    let created = task
        .create_time
        .as_ref()
        .map_or(event.time, crm_core::api::millis);
    let entries = task
        .related
        .iter()
        .filter_map(|r| crate::domain::messages::record_of(r, "related").ok())
        .map(|subject| Entry {
            id,
            kind: EntryKind::Task,
            event_type: event.event_type.clone(),
            occurred_at: created,
            actor_id: Some(task.created_by_user_id.clone()),
            summary: match status.as_str() {
                "done" => format!("Task done: {}", task.title),
                "cancelled" => format!("Task cancelled: {}", task.title),
                _ => format!("Task: {}", task.title),
            },
            attributes: [
                ("status", status.clone()),
                ("due_time_millis", due.clone()),
                ("assignee_id", task.assignee_id.clone()),
                ("title", task.title.clone()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            subject,
            activity_id: None,
            task_id: Some(id),
        })
        .collect();
    Some(Effect::Replace {
        source: task_source(id),
        entries,
    })
}

fn activity_entries(
    a: &crm_proto::crm::activity::v1::Activity,
    event: &Envelope,
) -> Option<Effect> {
    let id = uuid(&a.id)?;
    let domain = crate::domain::messages::activity_input(a).ok()?;
    let kind = domain.kind?;
    let summary = crate::domain::activity::summary(kind, &a.subject, &a.outcome, &a.body);
    let occurred = a
        .occur_time
        .as_ref()
        .map_or(event.time, crm_core::api::millis);
    let entries = domain
        .related
        .iter()
        .map(|subject| Entry {
            id,
            kind: EntryKind::Activity,
            event_type: event.event_type.clone(),
            occurred_at: occurred,
            actor_id: Some(a.author_id.clone()),
            summary: summary.clone(),
            attributes: [
                ("kind", kind.as_str().to_owned()),
                ("duration_seconds", a.duration_seconds.to_string()),
                ("outcome", a.outcome.clone()),
            ]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            subject: *subject,
            activity_id: Some(id),
            task_id: None,
        })
        .collect();
    Some(Effect::Replace {
        source: activity_source(id),
        entries,
    })
}

fn own(event: &Envelope) -> Option<Vec<Effect>> {
    if let Some(e) = event.decode::<act::TaskCreated>() {
        return task_entries(&e.task?, event).map(|e| vec![e]);
    }
    if let Some(e) = event.decode::<act::TaskUpdated>() {
        return task_entries(&e.task?, event).map(|e| vec![e]);
    }
    if let Some(e) = event.decode::<act::TaskCompleted>() {
        return task_entries(&e.task?, event).map(|e| vec![e]);
    }
    if let Some(e) = event.decode::<act::TaskCancelled>() {
        return task_entries(&e.task?, event).map(|e| vec![e]);
    }
    if let Some(e) = event.decode::<act::ActivityLogged>() {
        return activity_entries(&e.activity?, event).map(|e| vec![e]);
    }
    if let Some(e) = event.decode::<act::ActivityUpdated>() {
        return activity_entries(&e.activity?, event).map(|e| vec![e]);
    }
    if let Some(e) = event.decode::<act::ActivityDeleted>() {
        let id = uuid(&e.activity_id)?;
        return Some(vec![Effect::Replace {
            source: activity_source(id),
            entries: Vec::new(),
        }]);
    }
    None
}

fn others(event: &Envelope) -> Option<Vec<Effect>> {
    if let Some(e) = event.decode::<note::NotificationSent>() {
        // Messages to the tenant's users are theirs; those to a customer join its timeline.
        if !e.recipient_user_id.is_empty() {
            return Some(Vec::new());
        }
        let cause = uuid(&e.trigger_event_id)?;
        let channel = crm_proto::crm::notification::v1::Channel::try_from(e.channel)
            .map(|c| match c {
                crm_proto::crm::notification::v1::Channel::Sms => "SMS",
                crm_proto::crm::notification::v1::Channel::InApp => "In-app message",
                _ => "Email",
            })
            .unwrap_or("Message");
        let placeholder = RecordRef::new(RecordType::Customer, Uuid::nil());
        return Some(vec![Effect::AddCaused {
            cause,
            entry: entry(
                event,
                EntryKind::Notification,
                placeholder,
                "",
                format!("{channel} sent to {}", e.recipient_address),
                &[
                    ("channel", channel.to_owned()),
                    ("recipient", e.recipient_address.clone()),
                    ("template_id", e.template_id.clone()),
                ],
            ),
        }]);
    }
    if let Some(e) = event.decode::<iam::TenantCreated>() {
        return Some(vec![Effect::User {
            id: user(&e.owner_user_id)?,
            email: Some(e.owner_email),
            active: Some(true),
        }]);
    }
    if let Some(e) = event.decode::<iam::UserCreated>() {
        return Some(vec![Effect::User {
            id: user(&e.user_id)?,
            email: Some(e.email),
            active: Some(true),
        }]);
    }
    if let Some(e) = event.decode::<iam::UserStatusChanged>() {
        let active = e.status == crm_proto::crm::iam::v1::UserStatus::Active as i32;
        return Some(vec![Effect::User {
            id: user(&e.user_id)?,
            email: None,
            active: Some(active),
        }]);
    }
    None
}

//! The timeline: entries about records, drawn from every context's events, and what the
//! projection learns besides (who owns a record, which records show another's entries).

use std::collections::BTreeMap;

use crm_core::UserId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Millis;
use super::records::RecordRef;

/// What kind of entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// An activity.
    Activity,
    /// A task.
    Task,
    /// A customer created or changed.
    Customer,
    /// A contact added, changed or removed.
    Contact,
    /// A lead.
    Lead,
    /// An opportunity.
    Opportunity,
    /// A message sent to the customer.
    Notification,
}

impl EntryKind {
    /// Its name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Activity => "activity",
            EntryKind::Task => "task",
            EntryKind::Customer => "customer",
            EntryKind::Contact => "contact",
            EntryKind::Lead => "lead",
            EntryKind::Opportunity => "opportunity",
            EntryKind::Notification => "notification",
        }
    }
}

/// One entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Stable across replays: the activity's or task's id, or derived from the event's.
    pub id: Uuid,
    /// What kind.
    pub kind: EntryKind,
    /// The event it comes from.
    pub event_type: String,
    /// When it happened.
    pub occurred_at: Millis,
    /// Who did it.
    pub actor_id: Option<String>,
    /// One line in words.
    pub summary: String,
    /// Its details by name.
    pub attributes: BTreeMap<String, String>,
    /// The record it is about.
    pub subject: RecordRef,
    /// An activity's id.
    pub activity_id: Option<Uuid>,
    /// A task's id.
    pub task_id: Option<Uuid>,
}

/// The id of an event's entry of `kind` (an event may make one of each kind: a conversion's
/// lead entry and its opportunity's): the same on every replay, and on every timeline the
/// entry is shown on.
pub fn event_entry_id(event_id: Uuid, kind: EntryKind) -> Uuid {
    let mut name = event_id.as_bytes().to_vec();
    name.extend_from_slice(kind.as_str().as_bytes());
    Uuid::new_v5(&Uuid::NAMESPACE_OID, &name)
}

/// What one event makes the projection do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// A record's owner (`Some(None)`: nobody) and name, as far as the event tells.
    Record {
        /// The record.
        record: RecordRef,
        /// Its owner, when the event tells.
        owner: Option<Option<UserId>>,
        /// Its name, when the event tells.
        name: Option<String>,
    },
    /// The record is gone (deleted, removed): no new task or activity may be about it, and an
    /// `:own` grant no longer reaches its timeline (which stays, for who reads every record).
    Forget {
        /// The record.
        record: RecordRef,
    },
    /// The record is gone for good (a customer purged after its restore window): its timeline
    /// is removed, with those of the records whose entries it showed as its own (a customer's
    /// contacts), and every link to them. The records linked to it (its leads and
    /// opportunities) keep their own timelines.
    Erase {
        /// The record.
        record: RecordRef,
    },
    /// `from`'s entries are also shown on `to`'s timeline, those it has already included.
    Link {
        /// A lead, an opportunity or a contact.
        from: RecordRef,
        /// Its customer.
        to: RecordRef,
    },
    /// Adds an entry (once: a replay adds nothing) on its subject's timeline and those the
    /// subject is linked to.
    Add(Entry),
    /// Replaces every entry of `source` (a task's or an activity's) by `entries`.
    Replace {
        /// `task:<id>` or `activity:<id>`.
        source: String,
        /// The entries now (none: removed).
        entries: Vec<Entry>,
    },
    /// The event is about these records: an entry it causes later (a message sent because of
    /// it) joins their timelines, even when that entry's event came first.
    Cause {
        /// The event.
        event_id: Uuid,
        /// Its records.
        records: Vec<RecordRef>,
    },
    /// An entry shown on the records of the event `cause` (see [`Effect::Cause`]).
    AddCaused {
        /// The causing event.
        cause: Uuid,
        /// The entry; its subject is replaced by each record of the cause.
        entry: Entry,
    },
    /// A user of the tenant, as IAM told (who may be given a task).
    User {
        /// The user.
        id: UserId,
        /// Their email, when the event tells.
        email: Option<String>,
        /// Whether they are active, when the event tells.
        active: Option<bool>,
    },
}

/// The source key of a task's entries.
pub fn task_source(id: Uuid) -> String {
    format!("task:{id}")
}

/// The source key of an activity's entries.
pub fn activity_source(id: Uuid) -> String {
    format!("activity:{id}")
}

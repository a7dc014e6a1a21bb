//! A record's timeline, for whoever may read the record.

use crm_core::{Error, Result};

use super::{Activities, Caller};
use crate::domain::ports::Cursor;
use crate::domain::records::RecordRef;
use crate::domain::timeline::{Entry, EntryKind};

/// A page of a timeline.
pub struct TimelinePage {
    /// Newest first.
    pub entries: Vec<Entry>,
    /// Where the next page starts, when more may follow.
    pub next: Option<Cursor>,
}

const KINDS: [EntryKind; 7] = [
    EntryKind::Activity,
    EntryKind::Task,
    EntryKind::Customer,
    EntryKind::Contact,
    EntryKind::Lead,
    EntryKind::Opportunity,
    EntryKind::Notification,
];

impl Activities {
    /// A page of `record`'s timeline, of `kinds` (all when empty). Entries of activities and
    /// tasks are left out for a caller without `activities.read` or `tasks.read`.
    pub async fn timeline(
        &self,
        caller: &Caller,
        record: RecordRef,
        kinds: Vec<EntryKind>,
        before: Option<Cursor>,
        limit: u32,
    ) -> Result<TimelinePage> {
        let p = &caller.principal;
        let permission = record.record_type.read_permission();
        if p.scope(permission).is_none() {
            return Err(Error::missing_permission(permission));
        }
        if !self.can_read(p, record).await? {
            return Err(Error::not_found(record.record_type.as_str(), record.id));
        }
        let wanted: Vec<EntryKind> = if kinds.is_empty() {
            KINDS.to_vec()
        } else {
            kinds
        };
        let allowed: Vec<EntryKind> = wanted
            .into_iter()
            .filter(|k| match k {
                EntryKind::Activity => p.scope("activities.read").is_some(),
                EntryKind::Task => p.scope("tasks.read").is_some(),
                _ => true,
            })
            .collect();
        if allowed.is_empty() {
            return Ok(TimelinePage {
                entries: Vec::new(),
                next: None,
            });
        }
        let kinds = if allowed.len() == KINDS.len() {
            Vec::new()
        } else {
            allowed
        };
        let entries = self
            .store
            .timeline(p.tenant_id, record, &kinds, before.as_ref(), limit)
            .await?;
        let next = (entries.len() as u32 == limit)
            .then(|| entries.last())
            .flatten()
            .map(|e| Cursor {
                at: e.occurred_at,
                id: e.id,
            });
        Ok(TimelinePage { entries, next })
    }
}

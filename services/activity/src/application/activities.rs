//! Activities: log, read, change (its author, within the edit window), delete (softly), list,
//! search, and the recorded changes.

use crm_core::authz::Scope;
use crm_core::storage::Change;
use crm_core::{Error, ErrorKind, Principal, Result};
use uuid::Uuid;

use super::{Activities, Caller, invalid, reach};
use crate::domain::activity::{self, Activity, ActivityInput};
use crate::domain::events::{activity_deleted, activity_logged, activity_updated};
use crate::domain::ports::{ActivityChange, ActivityQuery, ActivityWrite, Cursor};

/// The longest search query, in characters, and the most words it may hold.
pub const MAX_QUERY_CHARS: usize = 200;
const MAX_QUERY_WORDS: usize = 8;

/// A page of activities.
pub struct ActivityPage {
    /// The activities.
    pub activities: Vec<Activity>,
    /// Where the next page starts, when more may follow.
    pub next: Option<Cursor>,
}

impl Activities {
    async fn activity_readable(&self, p: &Principal, a: &Activity) -> Result<bool> {
        if reach(p, "activities.read")?.is_none() || a.author_id == p.user_id {
            return Ok(true);
        }
        for r in &a.related {
            if self.can_read(p, *r).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Logs an activity written by the caller.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id))]
    pub async fn log_activity(&self, caller: &Caller, input: ActivityInput) -> Result<Activity> {
        let p = &caller.principal;
        if p.scope("activities.write").is_none() {
            return Err(Error::missing_permission("activities.write"));
        }
        let now = self.now();
        let a = Activity::log(p.tenant_id, input, p.user_id, now).map_err(invalid)?;
        self.readable_records(p, &a.related, "activity.related")
            .await?;
        let window = self.settings.edit_window_minutes;
        let write = ActivityWrite {
            events: vec![activity_logged(&a, window, &caller.causation)],
            change: ActivityChange {
                user_id: p.user_id,
                at: now,
                action: "logged".into(),
                changed_fields: Vec::new(),
                before: None,
            },
        };
        self.store.insert_activity(&a, write).await?;
        Ok(a)
    }

    /// An activity the caller may read.
    pub async fn activity(&self, caller: &Caller, id: Uuid) -> Result<Activity> {
        let p = &caller.principal;
        reach(p, "activities.read")?;
        let a = self
            .store
            .activity(p.tenant_id, id)
            .await?
            .filter(|a| a.deleted_at.is_none())
            .ok_or_else(|| Error::not_found("activity", id))?;
        if !self.activity_readable(p, &a).await? {
            return Err(Error::not_found("activity", id));
        }
        Ok(a)
    }

    /// Changes the fields named by `mask`: only its author, within the edit window.
    pub async fn update_activity(
        &self,
        caller: &Caller,
        id: Uuid,
        input: ActivityInput,
        mask: Vec<String>,
        etag: String,
    ) -> Result<Activity> {
        let p = &caller.principal;
        if p.scope("activities.write").is_none() {
            return Err(Error::missing_permission("activities.write"));
        }
        if mask.is_empty() {
            return Err(Error::invalid_field(
                "update_mask",
                format!(
                    "name the fields to change: {}",
                    activity::UPDATABLE.join(", ")
                ),
            ));
        }
        let names = |field: &str| mask.iter().any(|m| m == field);
        if names("related") {
            self.readable_records(p, &input.related, "activity.related")
                .await?;
        }
        let now = self.now();
        let window = self.settings.edit_window_minutes;
        let causation = caller.causation.clone();
        let change: Change<'_, Activity, ActivityWrite> = Box::new(move |a: &mut Activity| {
            if a.deleted_at.is_some() {
                return Err(Error::not_found("activity", a.id));
            }
            if a.author_id != p.user_id {
                return Err(Error::permission_denied(
                    "only its author may change an activity; log a new one, or a note about it",
                )
                .with_reason("NOT_AUTHOR"));
            }
            editable(a, window, now)?;
            crm_core::api::check_etag(&etag, &a.version.to_string(), "activity")?;
            let before = a.clone();
            let paths: Vec<&str> = mask.iter().map(String::as_str).collect();
            a.apply(input.clone(), &paths).map_err(invalid)?;
            if *a == before {
                return Ok(None);
            }
            a.updated_at = now;
            let by = p.user_id.to_string();
            Ok(Some(ActivityWrite {
                events: vec![activity_updated(a, window, &mask, &by, &causation)],
                change: ActivityChange {
                    user_id: p.user_id,
                    at: now,
                    action: "updated".into(),
                    changed_fields: mask.clone(),
                    before: Some(before),
                },
            }))
        });
        self.store.update_activity(p.tenant_id, id, change).await
    }

    /// Deletes an activity softly: its author within the edit window, or a holder of
    /// `activities.write` on every activity.
    pub async fn delete_activity(&self, caller: &Caller, id: Uuid) -> Result<()> {
        let p = &caller.principal;
        let scope = p
            .scope("activities.write")
            .ok_or_else(|| Error::missing_permission("activities.write"))?;
        let now = self.now();
        let window = self.settings.edit_window_minutes;
        let causation = caller.causation.clone();
        let change: Change<'_, Activity, ActivityWrite> = Box::new(move |a: &mut Activity| {
            if a.deleted_at.is_some() {
                return Err(Error::not_found("activity", a.id));
            }
            if scope == Scope::Own {
                if a.author_id != p.user_id {
                    return Err(Error::not_found("activity", a.id));
                }
                editable(a, window, now)?;
            }
            let before = a.clone();
            a.deleted_at = Some(now);
            a.updated_at = now;
            let by = p.user_id.to_string();
            Ok(Some(ActivityWrite {
                events: vec![activity_deleted(a, &by, now, &causation)],
                change: ActivityChange {
                    user_id: p.user_id,
                    at: now,
                    action: "deleted".into(),
                    changed_fields: Vec::new(),
                    before: Some(before),
                },
            }))
        });
        self.store
            .update_activity(p.tenant_id, id, change)
            .await
            .map(drop)
    }

    /// A page of the activities the caller may read, newest first.
    pub async fn list_activities(
        &self,
        caller: &Caller,
        mut query: ActivityQuery,
    ) -> Result<ActivityPage> {
        let p = &caller.principal;
        query.reach = reach(p, "activities.read")?;
        if let Some(record) = query.record
            && !self.can_read(p, record).await?
        {
            return Err(Error::not_found(record.record_type.as_str(), record.id));
        }
        let limit = query.limit;
        let activities = self.store.activities(p.tenant_id, &query).await?;
        let next = (activities.len() as u32 == limit)
            .then(|| activities.last())
            .flatten()
            .map(|a| Cursor {
                at: a.occurred_at,
                id: a.id,
            });
        Ok(ActivityPage { activities, next })
    }

    /// The activities matching every word of `text` (the last a prefix), newest first.
    pub async fn search_activities(
        &self,
        caller: &Caller,
        text: &str,
        limit: u32,
    ) -> Result<Vec<Activity>> {
        let p = &caller.principal;
        let reach = reach(p, "activities.read")?;
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::invalid_field(
                "query",
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        let words = crate::domain::search_words(text);
        if words.is_empty() {
            return Err(Error::invalid_field(
                "query",
                "must contain a word: letters or digits, e.g. songket or 0123",
            ));
        }
        if words.len() > MAX_QUERY_WORDS {
            return Err(Error::invalid_field(
                "query",
                format!("must hold at most {MAX_QUERY_WORDS} words"),
            ));
        }
        let query = ActivityQuery {
            words,
            reach,
            limit,
            ..ActivityQuery::default()
        };
        self.store.activities(p.tenant_id, &query).await
    }

    /// The recorded changes of an activity the caller may read (deleted ones too: the record
    /// of who deleted it stays).
    pub async fn activity_changes(&self, caller: &Caller, id: Uuid) -> Result<Vec<ActivityChange>> {
        let p = &caller.principal;
        reach(p, "activities.read")?;
        let a = self
            .store
            .activity(p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("activity", id))?;
        if !self.activity_readable(p, &a).await? {
            return Err(Error::not_found("activity", id));
        }
        self.store.activity_changes(p.tenant_id, id).await
    }
}

fn editable(a: &Activity, window: u32, now: i64) -> Result<()> {
    let until = a.editable_until(window);
    if now > until {
        let when = chrono::DateTime::from_timestamp_millis(until)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        return Err(Error::new(
            ErrorKind::FailedPrecondition,
            format!(
                "this activity could be changed until {when}; log a note that corrects it instead"
            ),
        )
        .with_reason("EDIT_WINDOW_CLOSED"));
    }
    Ok(())
}

//! Tasks: create, read, change, complete, cancel, list, and the caller's day.

use chrono::{Duration, TimeZone};
use crm_core::authz::Scope;
use crm_core::storage::Change;
use crm_core::{Error, ErrorKind, Principal, Result, UserId};
use uuid::Uuid;

use super::{Activities, Caller, invalid, reach};
use crate::domain::events::{task_cancelled, task_completed, task_created, task_updated};
use crate::domain::ports::{Cursor, TaskQuery, TaskWrite};
use crate::domain::task::{self, Status, Task, TaskInput};
use crate::domain::{Millis, problem};

/// A page of tasks.
pub struct TaskPage {
    /// The tasks.
    pub tasks: Vec<Task>,
    /// Where the next page starts, when more may follow.
    pub next: Option<Cursor>,
}

/// The caller's day.
pub struct MyDay {
    /// Open, due before today.
    pub overdue: Vec<Task>,
    /// Open, due today.
    pub today: Vec<Task>,
    /// Open, due in the 7 days after today.
    pub upcoming: Vec<Task>,
}

fn not_yours(what: &str) -> Error {
    Error::permission_denied(format!(
        "your roles grant tasks.write on your own tasks only; {what} needs tasks.write on every task"
    ))
    .with_reason("MISSING_PERMISSION")
    .with_metadata("permission", "tasks.write")
}

/// Whether `p` may change `t` (its assignee or creator with `:own`).
fn writable(p: &Principal, t: &Task) -> Result<()> {
    match p.scope("tasks.write") {
        None => Err(Error::missing_permission("tasks.write")),
        Some(Scope::Own) if t.assignee_id != p.user_id && t.created_by != p.user_id => {
            Err(Error::not_found("task", t.id))
        }
        Some(_) => Ok(()),
    }
}

impl Activities {
    /// Whether `p` may read `t`: every task, or with `:own` theirs (assigned or created) and
    /// those about records they read.
    async fn task_readable(&self, p: &Principal, t: &Task) -> Result<bool> {
        if reach(p, "tasks.read")?.is_none()
            || t.assignee_id == p.user_id
            || t.created_by == p.user_id
        {
            return Ok(true);
        }
        for r in &t.related {
            if self.can_read(p, *r).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Refuses an assignee the caller may not give a task to: with `:own`, anyone but
    /// themselves; anyone but an active user of the tenant.
    async fn check_assignee(&self, p: &Principal, assignee: UserId) -> Result<()> {
        if assignee == p.user_id {
            return Ok(());
        }
        if p.scope("tasks.write") == Some(Scope::Own) {
            return Err(not_yours("giving a task to someone else"));
        }
        match self.store.user_active(p.tenant_id, assignee).await? {
            Some(true) => Ok(()),
            Some(false) => Err(invalid(vec![problem(
                "task.assignee_id",
                "is deactivated; give the task to an active user",
            )])),
            None => Err(invalid(vec![problem(
                "task.assignee_id",
                "is not a user of this workspace",
            )])),
        }
    }

    /// Creates a task.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id))]
    pub async fn create_task(&self, caller: &Caller, input: TaskInput) -> Result<Task> {
        let p = &caller.principal;
        if p.scope("tasks.write").is_none() {
            return Err(Error::missing_permission("tasks.write"));
        }
        let task = Task::create(p.tenant_id, input, p.user_id, self.now()).map_err(invalid)?;
        self.check_assignee(p, task.assignee_id).await?;
        self.readable_records(p, &task.related, "task.related")
            .await?;
        self.store
            .insert_task(&task, vec![task_created(&task, &caller.causation)])
            .await?;
        self.reminders.notify_one();
        Ok(task)
    }

    /// A task the caller may read.
    pub async fn task(&self, caller: &Caller, id: Uuid) -> Result<Task> {
        let p = &caller.principal;
        reach(p, "tasks.read")?;
        let task = self
            .store
            .task(p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("task", id))?;
        if !self.task_readable(p, &task).await? {
            return Err(Error::not_found("task", id));
        }
        Ok(task)
    }

    /// Changes the fields named by `mask`.
    pub async fn update_task(
        &self,
        caller: &Caller,
        id: Uuid,
        input: TaskInput,
        mask: Vec<String>,
        etag: String,
    ) -> Result<Task> {
        let p = &caller.principal;
        if p.scope("tasks.write").is_none() {
            return Err(Error::missing_permission("tasks.write"));
        }
        if mask.is_empty() {
            return Err(Error::invalid_field(
                "update_mask",
                format!("name the fields to change: {}", task::UPDATABLE.join(", ")),
            ));
        }
        // What needs the store is checked first; the change then runs on the row as it is.
        let names = |field: &str| mask.iter().any(|m| m == field);
        if names("assignee_id") {
            let assignee = input.assignee_id.unwrap_or(p.user_id);
            self.check_assignee(p, assignee).await?;
        }
        if names("related") {
            self.readable_records(p, &input.related, "task.related")
                .await?;
        }
        let now = self.now();
        let by = p.user_id.to_string();
        let causation = caller.causation.clone();
        let change: Change<'_, Task, TaskWrite> = Box::new(move |t: &mut Task| {
            writable(p, t)?;
            crm_core::api::check_etag(&etag, &t.version.to_string(), "task")?;
            if t.status != Status::Open {
                return Err(closed(t));
            }
            let mut input = input.clone();
            if input.assignee_id.is_none() {
                input.assignee_id = Some(p.user_id);
            }
            let before = t.clone();
            let paths: Vec<&str> = mask.iter().map(String::as_str).collect();
            t.apply(input, &paths).map_err(invalid)?;
            if *t == before {
                return Ok(None);
            }
            t.updated_at = now;
            Ok(Some(TaskWrite {
                events: vec![task_updated(t, &mask, &by, &causation)],
                insert: None,
            }))
        });
        let task = self.store.update_task(p.tenant_id, id, change).await?;
        self.reminders.notify_one();
        Ok(task)
    }

    /// Marks a task done; a recurring task's next occurrence is created with it. Returns the
    /// task and the next one.
    pub async fn complete_task(
        &self,
        caller: &Caller,
        id: Uuid,
        etag: String,
    ) -> Result<(Task, Option<Task>)> {
        let p = &caller.principal;
        let now = self.now();
        let by = p.user_id.to_string();
        let causation = caller.causation.clone();
        let mut next: Option<Task> = None;
        let created = &mut next;
        let change: Change<'_, Task, TaskWrite> = Box::new(move |t: &mut Task| {
            writable(p, t)?;
            crm_core::api::check_etag(&etag, &t.version.to_string(), "task")?;
            if !t.close(Status::Done, now) {
                return Err(closed(t));
            }
            let following = t.next_occurrence(now);
            t.next_task_id = following.as_ref().map(|n| n.id);
            let mut events = vec![task_completed(t, &by, &causation)];
            if let Some(n) = &following {
                events.push(task_created(n, &causation));
            }
            *created = following.clone();
            Ok(Some(TaskWrite {
                events,
                insert: following,
            }))
        });
        if p.scope("tasks.write").is_none() {
            return Err(Error::missing_permission("tasks.write"));
        }
        let task = self.store.update_task(p.tenant_id, id, change).await?;
        self.reminders.notify_one();
        Ok((task, next))
    }

    /// Cancels an open task.
    pub async fn cancel_task(&self, caller: &Caller, id: Uuid, etag: String) -> Result<Task> {
        let p = &caller.principal;
        if p.scope("tasks.write").is_none() {
            return Err(Error::missing_permission("tasks.write"));
        }
        let now = self.now();
        let by = p.user_id.to_string();
        let causation = caller.causation.clone();
        let change: Change<'_, Task, TaskWrite> = Box::new(move |t: &mut Task| {
            writable(p, t)?;
            crm_core::api::check_etag(&etag, &t.version.to_string(), "task")?;
            if !t.close(Status::Cancelled, now) {
                return Err(closed(t));
            }
            Ok(Some(TaskWrite {
                events: vec![task_cancelled(t, &by, &causation)],
                insert: None,
            }))
        });
        self.store.update_task(p.tenant_id, id, change).await
    }

    /// A page of the tasks the caller may read, soonest due first.
    pub async fn list_tasks(&self, caller: &Caller, mut filter: TaskQuery) -> Result<TaskPage> {
        let p = &caller.principal;
        filter.reach = reach(p, "tasks.read")?;
        if let Some(record) = filter.record
            && !self.can_read(p, record).await?
        {
            return Err(Error::not_found(record.record_type.as_str(), record.id));
        }
        let limit = filter.limit;
        let tasks = self.store.tasks(p.tenant_id, &filter).await?;
        let next = (tasks.len() as u32 == limit)
            .then(|| tasks.last())
            .flatten()
            .map(|t| Cursor {
                at: t.due_at,
                id: t.id,
            });
        Ok(TaskPage { tasks, next })
    }

    /// The caller's open tasks: overdue, today and the next 7 days, in `zone`.
    pub async fn my_day(&self, caller: &Caller, zone: &str, limit: u32) -> Result<MyDay> {
        let p = &caller.principal;
        reach(p, "tasks.read")?;
        let tz = task::zone(zone).map_err(|e| Error::invalid_field("time_zone", e))?;
        let now = self.now();
        let today = tz
            .timestamp_millis_opt(now)
            .single()
            .map(|t| t.date_naive())
            .ok_or_else(|| Error::new(ErrorKind::Internal, "the clock is out of range"))?;
        let start = |days: i64| -> Millis {
            let date = today + Duration::days(days);
            let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
            tz.from_local_datetime(&midnight)
                .earliest()
                .map(|t| t.timestamp_millis())
                // A day that starts in a gap (clocks moved at midnight): its first hour.
                .unwrap_or_else(|| {
                    tz.from_local_datetime(&(midnight + Duration::hours(1)))
                        .earliest()
                        .map_or(now, |t| t.timestamp_millis())
                })
        };
        let mine = |from: Option<Millis>, before: Millis| TaskQuery {
            assignee: Some(p.user_id),
            status: Some(Status::Open),
            due_from: from,
            due_before: Some(before),
            limit,
            ..TaskQuery::default()
        };
        let (d0, d1, d8) = (start(0), start(1), start(8));
        Ok(MyDay {
            overdue: self.store.tasks(p.tenant_id, &mine(None, d0)).await?,
            today: self.store.tasks(p.tenant_id, &mine(Some(d0), d1)).await?,
            upcoming: self.store.tasks(p.tenant_id, &mine(Some(d1), d8)).await?,
        })
    }
}

fn closed(t: &Task) -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        format!("the task is {} already", t.status.as_str()),
    )
    .with_reason("TASK_CLOSED")
}

//! A task: something to do by a time, for someone, about records; its reminder, and its next
//! occurrence when it repeats.

use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Weekday};
use chrono_tz::Tz;
use crm_core::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::records::{self, RecordRef};
use super::{Millis, Problem, problem};

/// The longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// The longest notes, in characters.
pub const MAX_NOTES: usize = 10_000;
/// The longest lead time of a reminder: 30 days, in minutes.
pub const MAX_REMIND_BEFORE: i32 = 30 * 24 * 60;
/// The largest recurrence interval.
pub const MAX_INTERVAL: u32 = 365;

/// How urgent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Low.
    Low,
    /// Normal.
    #[default]
    Normal,
    /// High.
    High,
}

/// A task's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// To do.
    Open,
    /// Done.
    Done,
    /// Cancelled.
    Cancelled,
}

impl Status {
    /// Its name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Done => "done",
            Status::Cancelled => "cancelled",
        }
    }
}

/// How often a task repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// Every `interval` days.
    Daily,
    /// On the chosen weekdays of every `interval` weeks.
    Weekly,
    /// On the due day of every `interval` months (the month's last day when it is shorter).
    Monthly,
}

/// How a task repeats.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    /// Daily, weekly or monthly.
    pub frequency: Frequency,
    /// Every n.
    pub interval: u32,
    /// Weekly: the days, 1 = Monday ... 7 = Sunday, sorted (the due day's when empty).
    pub weekdays: Vec<u32>,
}

/// A task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// UUIDv7.
    pub id: Uuid,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// What to do.
    pub title: String,
    /// Notes.
    pub notes: String,
    /// When it is due.
    pub due_at: Millis,
    /// The IANA zone it was planned in.
    pub time_zone: String,
    /// Who should do it.
    pub assignee_id: UserId,
    /// How urgent.
    pub priority: Priority,
    /// Open, done or cancelled.
    pub status: Status,
    /// The records it is about.
    pub related: Vec<RecordRef>,
    /// How it repeats.
    pub recurrence: Option<Recurrence>,
    /// The reminder's lead time in minutes; `None`: no reminder.
    pub remind_before_minutes: Option<u32>,
    /// Also remind by email.
    pub remind_by_email: bool,
    /// When the reminder fired.
    pub reminded_at: Option<Millis>,
    /// Who created it.
    pub created_by: UserId,
    /// When.
    pub created_at: Millis,
    /// Last changed.
    pub updated_at: Millis,
    /// When it was done or cancelled.
    pub closed_at: Option<Millis>,
    /// The occurrence created when it was done.
    pub next_task_id: Option<Uuid>,
    /// Bumped by every change.
    pub version: i64,
}

/// What a caller gives for a task (checked by [`Task::create`] and [`Task::apply`]).
#[derive(Clone, Debug, Default)]
pub struct TaskInput {
    /// What to do.
    pub title: String,
    /// Notes.
    pub notes: String,
    /// When it is due.
    pub due_at: Option<Millis>,
    /// IANA zone; empty is UTC.
    pub time_zone: String,
    /// Who should do it (the caller when `None`).
    pub assignee_id: Option<UserId>,
    /// How urgent.
    pub priority: Priority,
    /// The records it is about.
    pub related: Vec<RecordRef>,
    /// How it repeats.
    pub recurrence: Option<Recurrence>,
    /// Minutes before the due time; negative: no reminder.
    pub remind_before_minutes: i32,
    /// Also by email.
    pub remind_by_email: bool,
}

/// The fields `UpdateTask` may change.
pub const UPDATABLE: &[&str] = &[
    "title",
    "notes",
    "due_time",
    "time_zone",
    "assignee_id",
    "priority",
    "related",
    "recurrence",
    "remind_before_minutes",
    "remind_by_email",
];

/// An IANA time zone; empty is UTC.
pub fn zone(raw: &str) -> Result<Tz, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(Tz::UTC);
    }
    raw.parse::<Tz>()
        .map_err(|_| format!("{raw:?} is not an IANA time zone; write it like Asia/Kuala_Lumpur"))
}

impl Task {
    /// A new open task from `input`, or the problems of its fields.
    pub fn create(
        tenant_id: TenantId,
        input: TaskInput,
        caller: UserId,
        now: Millis,
    ) -> Result<Task, Vec<Problem>> {
        let mut task = Task {
            id: Uuid::now_v7(),
            tenant_id,
            title: String::new(),
            notes: String::new(),
            due_at: 0,
            time_zone: "UTC".into(),
            assignee_id: input.assignee_id.unwrap_or(caller),
            priority: input.priority,
            status: Status::Open,
            related: Vec::new(),
            recurrence: None,
            remind_before_minutes: None,
            remind_by_email: false,
            reminded_at: None,
            created_by: caller,
            created_at: now,
            updated_at: now,
            closed_at: None,
            next_task_id: None,
            version: 1,
        };
        task.apply(input, UPDATABLE)?;
        Ok(task)
    }

    /// Sets the fields named by `mask` from `input` (field-mask paths), or the problems. A
    /// changed due time or lead time arms the reminder again.
    pub fn apply(&mut self, input: TaskInput, mask: &[&str]) -> Result<(), Vec<Problem>> {
        let mut problems = Vec::new();
        let has = |f: &str| mask.contains(&f);
        if has("title") {
            let title = input.title.trim();
            if title.is_empty() {
                problems.push(problem("task.title", "must not be empty: say what to do"));
            } else if title.chars().count() > MAX_TITLE {
                problems.push(problem(
                    "task.title",
                    format!("must be at most {MAX_TITLE} characters"),
                ));
            } else {
                self.title = title.to_owned();
            }
        }
        if has("notes") {
            if input.notes.chars().count() > MAX_NOTES {
                problems.push(problem(
                    "task.notes",
                    format!("must be at most {MAX_NOTES} characters"),
                ));
            } else {
                self.notes = input.notes.trim().to_owned();
            }
        }
        let rearm = |t: &mut Task| t.reminded_at = None;
        if has("due_time") {
            match input.due_at {
                Some(at) if at != self.due_at => {
                    self.due_at = at;
                    rearm(self);
                }
                Some(_) => {}
                None => problems.push(problem("task.due_time", "is required")),
            }
        }
        if has("time_zone") {
            match zone(&input.time_zone) {
                Ok(tz) => self.time_zone = tz.name().to_owned(),
                Err(e) => problems.push(problem("task.time_zone", e)),
            }
        }
        if has("assignee_id")
            && let Some(assignee) = input.assignee_id
        {
            self.assignee_id = assignee;
        }
        if has("priority") {
            self.priority = input.priority;
        }
        if has("related") {
            match records::distinct(input.related) {
                Ok(related) => self.related = related,
                Err(e) => problems.push(problem("task.related", e)),
            }
        }
        if has("recurrence") {
            match input.recurrence.map(check_recurrence).transpose() {
                Ok(r) => self.recurrence = r,
                Err(e) => problems.push(problem("task.recurrence", e)),
            }
        }
        if has("remind_before_minutes") {
            let minutes = input.remind_before_minutes;
            let next = match minutes {
                m if m < 0 => None,
                m if m > MAX_REMIND_BEFORE => {
                    problems.push(problem(
                        "task.remind_before_minutes",
                        format!(
                            "must be at most {MAX_REMIND_BEFORE} (30 days); -1 means no reminder"
                        ),
                    ));
                    self.remind_before_minutes
                }
                m => Some(m as u32),
            };
            if next != self.remind_before_minutes {
                self.remind_before_minutes = next;
                rearm(self);
            }
        }
        if has("remind_by_email") {
            self.remind_by_email = input.remind_by_email;
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// When its reminder fires: while it is open and the reminder has not fired.
    pub fn remind_at(&self) -> Option<Millis> {
        if self.status != Status::Open || self.reminded_at.is_some() {
            return None;
        }
        self.remind_before_minutes
            .map(|m| self.due_at - i64::from(m) * 60_000)
    }

    /// Its reminder's time, fired or not (what a `TaskDue` names).
    pub fn reminder_time(&self) -> Option<Millis> {
        self.remind_before_minutes
            .map(|m| self.due_at - i64::from(m) * 60_000)
    }

    /// Closes it as `status` at `now`; `false` when it was closed already.
    pub fn close(&mut self, status: Status, now: Millis) -> bool {
        if self.status != Status::Open {
            return false;
        }
        self.status = status;
        self.closed_at = Some(now);
        self.updated_at = now;
        true
    }

    /// The next occurrence of a recurring task (a new open task, its due time the next one
    /// after this one's, at the same local time in its zone), or `None`.
    pub fn next_occurrence(&self, now: Millis) -> Option<Task> {
        let recurrence = self.recurrence.as_ref()?;
        let due = next_due(self.due_at, &self.time_zone, recurrence)?;
        Some(Task {
            id: Uuid::now_v7(),
            due_at: due,
            status: Status::Open,
            reminded_at: None,
            created_at: now,
            updated_at: now,
            closed_at: None,
            next_task_id: None,
            version: 1,
            ..self.clone()
        })
    }
}

fn check_recurrence(mut r: Recurrence) -> Result<Recurrence, String> {
    if r.interval == 0 {
        r.interval = 1;
    }
    if r.interval > MAX_INTERVAL {
        return Err(format!("interval must be at most {MAX_INTERVAL}"));
    }
    if let Some(bad) = r.weekdays.iter().find(|d| !(1..=7).contains(*d)) {
        return Err(format!(
            "weekday {bad} is not a day: 1 is Monday ... 7 is Sunday"
        ));
    }
    if r.frequency != Frequency::Weekly && !r.weekdays.is_empty() {
        return Err("weekdays are for weekly tasks only".into());
    }
    r.weekdays.sort_unstable();
    r.weekdays.dedup();
    Ok(r)
}

/// The due time after `due` in `zone` by `r`, at the same local time of day.
pub fn next_due(due: Millis, zone: &str, r: &Recurrence) -> Option<Millis> {
    let tz: Tz = zone.parse().unwrap_or(Tz::UTC);
    let local = tz.timestamp_millis_opt(due).single()?.naive_local();
    let date = local.date();
    let next: NaiveDate = match r.frequency {
        Frequency::Daily => date.checked_add_signed(Duration::days(i64::from(r.interval)))?,
        Frequency::Monthly => date.checked_add_months(chrono::Months::new(r.interval))?,
        Frequency::Weekly => {
            let days: Vec<u32> = if r.weekdays.is_empty() {
                vec![date.weekday().number_from_monday()]
            } else {
                r.weekdays.clone()
            };
            let week = |d: NaiveDate| d.week(Weekday::Mon).first_day();
            let start = week(date);
            (1..=i64::from(r.interval) * 7 + 7)
                .filter_map(|n| date.checked_add_signed(Duration::days(n)))
                .find(|d| {
                    let weeks = (week(*d) - start).num_days() / 7;
                    days.contains(&d.weekday().number_from_monday())
                        && weeks % i64::from(r.interval) == 0
                })?
        }
    };
    let at = NaiveDateTime::new(next, local.time());
    let resolved = match tz.from_local_datetime(&at) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(first, _) => first,
        // In a gap (clocks moved on): an hour later, which exists.
        LocalResult::None => tz
            .from_local_datetime(&(at + Duration::hours(1)))
            .earliest()?,
    };
    Some(resolved.timestamp_millis())
}

#[cfg(test)]
mod tests;

//! What the use cases need of a store: one port per aggregate (tasks, activities) and one for
//! the timeline's projection, all in [`Store`]. The SQL store (SQLite and PostgreSQL) implements
//! them; every method names its tenant.

use async_trait::async_trait;
use crm_core::storage::Change;
use crm_core::{Result, TenantId, UserId};
use crm_events::OutboxEvent;
use uuid::Uuid;

use super::Millis;
use super::activity::{Activity, Kind};
use super::records::{RecordRef, RecordType};
use super::task::{Status, Task};
use super::timeline::{Entry, EntryKind};

/// Who a list is for, when the caller reads only some: what an `:own` grant lets them see.
#[derive(Clone, Debug)]
pub struct Reach {
    /// The caller.
    pub me: UserId,
    /// Kinds of records the caller reads every one of.
    pub every: Vec<RecordType>,
    /// Kinds of records the caller reads their own of.
    pub own: Vec<RecordType>,
}

/// A list's position: after this sort key and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The sort key (a time in milliseconds).
    pub at: Millis,
    /// The id.
    pub id: Uuid,
}

/// Which tasks.
#[derive(Clone, Debug, Default)]
pub struct TaskQuery {
    /// Assigned to.
    pub assignee: Option<UserId>,
    /// In this state.
    pub status: Option<Status>,
    /// About this record.
    pub record: Option<RecordRef>,
    /// Due at or after.
    pub due_from: Option<Millis>,
    /// Due before.
    pub due_before: Option<Millis>,
    /// Only what this caller reaches (`None`: every task).
    pub reach: Option<Reach>,
    /// After this (due time, id).
    pub after: Option<Cursor>,
    /// At most this many.
    pub limit: u32,
}

/// Which activities.
#[derive(Clone, Debug, Default)]
pub struct ActivityQuery {
    /// About this record.
    pub record: Option<RecordRef>,
    /// Of these kinds (any when empty).
    pub kinds: Vec<Kind>,
    /// Logged by.
    pub author: Option<UserId>,
    /// Matching every word (the last a prefix).
    pub words: Vec<String>,
    /// Only what this caller reaches.
    pub reach: Option<Reach>,
    /// Before this (time, id): newest first.
    pub before: Option<Cursor>,
    /// At most this many.
    pub limit: u32,
}

/// What a task's change writes besides the task.
#[derive(Debug, Default)]
pub struct TaskWrite {
    /// Its events.
    pub events: Vec<OutboxEvent>,
    /// A task created with the change (a recurring task's next occurrence).
    pub insert: Option<Task>,
}

/// One recorded change of an activity.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityChange {
    /// Who.
    pub user_id: UserId,
    /// When.
    pub at: Millis,
    /// `logged`, `updated`, `deleted`.
    pub action: String,
    /// What changed.
    pub changed_fields: Vec<String>,
    /// The activity before.
    pub before: Option<Activity>,
}

/// What an activity's change writes besides the activity.
#[derive(Debug)]
pub struct ActivityWrite {
    /// Its events.
    pub events: Vec<OutboxEvent>,
    /// The change, recorded.
    pub change: ActivityChange,
}

/// What a fired reminder writes: its events.
pub type Fire = fn(&Task, Millis) -> Vec<OutboxEvent>;

/// Tasks.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Stores a new task with its events.
    async fn insert_task(&self, task: &Task, events: Vec<OutboxEvent>) -> Result<()>;
    /// A task.
    async fn task(&self, tenant: TenantId, id: Uuid) -> Result<Option<Task>>;
    /// Changes a task by `change`, run on the row read under the write lock; NOT_FOUND when
    /// the tenant has no such task.
    async fn update_task(
        &self,
        tenant: TenantId,
        id: Uuid,
        change: Change<'_, Task, TaskWrite>,
    ) -> Result<Task>;
    /// Tasks by due time, soonest first.
    async fn tasks(&self, tenant: TenantId, query: &TaskQuery) -> Result<Vec<Task>>;
    /// Fires the reminders due at `now` (of every tenant), at most `limit`: each once, with
    /// the events `fire` makes for it written in the same transaction. How many fired.
    async fn fire_reminders(&self, now: Millis, limit: u32, fire: Fire) -> Result<usize>;
    /// When the next reminder not yet fired is due (every tenant).
    async fn next_reminder(&self) -> Result<Option<Millis>>;
}

/// Activities.
#[async_trait]
pub trait ActivityStore: Send + Sync {
    /// Stores a new activity with its events and its first recorded change.
    async fn insert_activity(&self, activity: &Activity, write: ActivityWrite) -> Result<()>;
    /// An activity (deleted ones too).
    async fn activity(&self, tenant: TenantId, id: Uuid) -> Result<Option<Activity>>;
    /// Changes an activity by `change`; NOT_FOUND when the tenant has no such activity.
    async fn update_activity(
        &self,
        tenant: TenantId,
        id: Uuid,
        change: Change<'_, Activity, ActivityWrite>,
    ) -> Result<Activity>;
    /// Activities not deleted, newest first.
    async fn activities(&self, tenant: TenantId, query: &ActivityQuery) -> Result<Vec<Activity>>;
    /// An activity's recorded changes, oldest first.
    async fn activity_changes(&self, tenant: TenantId, id: Uuid) -> Result<Vec<ActivityChange>>;
}

/// What the projection knows of records and users.
#[async_trait]
pub trait TimelineStore: Send + Sync {
    /// A page of a record's timeline, newest first, of `kinds` (any when empty).
    async fn timeline(
        &self,
        tenant: TenantId,
        record: RecordRef,
        kinds: &[EntryKind],
        before: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Entry>>;
    /// A record's owner as the events told (`Some(None)`: known, owned by nobody; `None`: not
    /// known). A contact's is its customer's.
    async fn owner(&self, tenant: TenantId, record: RecordRef) -> Result<Option<Option<UserId>>>;
    /// Whether the user is an active user of the tenant, as IAM's events told (`None`: not
    /// known).
    async fn user_active(&self, tenant: TenantId, user: UserId) -> Result<Option<bool>>;
}

/// Every port.
pub trait Store: TaskStore + ActivityStore + TimelineStore {}

impl<T: TaskStore + ActivityStore + TimelineStore> Store for T {}

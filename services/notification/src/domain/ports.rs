//! What the notification context needs from outside: its store, and the providers that carry
//! each channel.

use async_trait::async_trait;
use crm_core::{Result, TenantId, UserId};
use uuid::Uuid;

use super::Millis;
use super::notification::{Notification, Status};
use super::template::{Channel, Template};

pub use crm_events::OutboxEvent;

/// What a change to a notification writes with it: its events, and the delivery attempt made.
#[derive(Debug, Default)]
pub struct NotificationWrite {
    /// Outbox events.
    pub events: Vec<OutboxEvent>,
    /// The attempt to log, if one was made.
    pub attempt: Option<Attempt>,
}

/// A change to a notification, decided on the state read under the write lock: what to write
/// with it, or `None` when nothing changed and nothing is saved.
pub type NotificationChange<'a> = crm_core::storage::Change<'a, Notification, NotificationWrite>;

/// A change to a template, decided on the state read under the write lock: whether it changed.
pub type TemplateChange<'a> = Box<dyn FnMut(&mut Template) -> Result<bool> + Send + 'a>;

/// One delivery attempt, for the delivery log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// Its number, from 1.
    pub attempt: u32,
    /// When.
    pub at: Millis,
    /// The provider tried (`smtp`, `sms`, `log`, `in_app`).
    pub provider: String,
    /// What the provider answered.
    pub answer: String,
    /// The error, empty when it worked.
    pub error: String,
}

/// Which templates to list.
#[derive(Clone, Debug, Default)]
pub struct TemplateFilter {
    /// Only this channel.
    pub channel: Option<Channel>,
    /// Only this event type.
    pub event_type: Option<String>,
}

/// Which notifications to list.
#[derive(Clone, Debug, Default)]
pub struct NotificationFilter {
    /// Only this recipient's (the caller's own, unless they may read all).
    pub recipient: Option<UserId>,
    /// Only this channel.
    pub channel: Option<Channel>,
    /// Only this status.
    pub status: Option<Status>,
    /// Only in-app ones not read yet.
    pub unread_only: bool,
    /// Only those created at or after.
    pub from: Option<Millis>,
    /// Only those created before.
    pub before: Option<Millis>,
}

/// A user as the notification context knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownUser {
    /// The user.
    pub id: UserId,
    /// Their email address.
    pub email: String,
    /// Their display name.
    pub display_name: String,
    /// Their roles.
    pub roles: Vec<String>,
    /// Whether they may still sign in.
    pub active: bool,
    /// The language they chose (a BCP 47 tag); none: the tenant's.
    pub locale: Option<String>,
}

/// What the event flows read and write, in the transaction that also records the event as
/// handled: a redelivered event changes nothing twice.
#[async_trait]
pub trait FlowStore: Send {
    /// Records a tenant's name and locale; `None` keeps what is known.
    async fn put_tenant(
        &mut self,
        tenant: TenantId,
        name: Option<&str>,
        locale: Option<&str>,
        at: Millis,
    ) -> Result<()>;
    /// A tenant's name and locale (an empty name and the default locale if unknown).
    async fn tenant(&mut self, tenant: TenantId) -> Result<(String, String)>;
    /// Adds a built-in template unless the tenant has one of that name.
    async fn seed_template(&mut self, t: &Template) -> Result<()>;
    /// The tenant's templates for one event type and channel, enabled or not.
    async fn templates_for(
        &mut self,
        tenant: TenantId,
        event_type: &str,
        channel: Channel,
    ) -> Result<Vec<Template>>;
    /// A known user of the tenant.
    async fn user(&mut self, tenant: TenantId, id: UserId) -> Result<Option<KnownUser>>;
    /// Records a user; an empty display name keeps the one known.
    async fn put_user(&mut self, tenant: TenantId, user: &KnownUser, at: Millis) -> Result<()>;
    /// Records a user's email, name and language (from `UserProfileChanged`), keeping their
    /// roles; a user not known yet is recorded with none.
    async fn put_profile(
        &mut self,
        tenant: TenantId,
        user: UserId,
        email_and_name: (&str, &str),
        locale: Option<String>,
        at: Millis,
    ) -> Result<()>;
    /// Records whether a known user is active.
    async fn put_active(&mut self, tenant: TenantId, user: UserId, active: bool) -> Result<()>;
    /// The tenant's active users with `role`.
    async fn users_with_role(&mut self, tenant: TenantId, role: &str) -> Result<Vec<KnownUser>>;
    /// Adds a notification. False if the event already made it (a redelivery).
    async fn insert_notification(&mut self, n: &Notification) -> Result<bool>;
    /// Cancels the tenant's notifications about `about` still in their grace period at `now`:
    /// how many.
    async fn cancel_held(&mut self, tenant: TenantId, about: &str, now: Millis) -> Result<u64>;
}

/// The notification store.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Adds a template (its name unique in the tenant).
    async fn insert_template(&self, t: &Template) -> Result<()>;
    /// A template of the tenant.
    async fn get_template(&self, tenant: TenantId, id: Uuid) -> Result<Option<Template>>;
    /// Templates in id order after `after`.
    async fn list_templates(
        &self,
        tenant: TenantId,
        filter: &TemplateFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Template>>;
    /// Reads the template under the write lock (`NOT_FOUND` when the tenant has none with that
    /// id), lets `change` decide on it (`false`: nothing changed, nothing is saved), and saves
    /// it in that transaction. Answers the template as saved.
    async fn update_template(
        &self,
        tenant: TenantId,
        id: Uuid,
        change: TemplateChange<'_>,
    ) -> Result<Template>;
    /// Deletes a template: true if it was there.
    async fn delete_template(&self, tenant: TenantId, id: Uuid) -> Result<bool>;

    /// A notification of the tenant.
    async fn get_notification(&self, tenant: TenantId, id: Uuid) -> Result<Option<Notification>>;
    /// Notifications newest first, before `before_id`.
    async fn list_notifications(
        &self,
        tenant: TenantId,
        filter: &NotificationFilter,
        before_id: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Notification>>;
    /// Reads the notification under the write lock (`NOT_FOUND` when the tenant has none with
    /// that id), lets `change` decide on it, and saves it with the events and the attempt the
    /// change gives, in that transaction. Answers the notification as saved (as read, when
    /// nothing changed).
    async fn update_notification(
        &self,
        tenant: TenantId,
        id: Uuid,
        change: NotificationChange<'_>,
    ) -> Result<Notification>;
    /// The delivery log of a notification, oldest first.
    async fn attempts(&self, tenant: TenantId, id: Uuid) -> Result<Vec<Attempt>>;
    /// Claims up to `limit` notifications of every tenant due by `now`, soonest first, until
    /// `lease_until` (each put off to then, by its version: one another worker claimed first is
    /// left out), in one transaction; the claimed ones as they now stand.
    async fn claim_due(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> Result<Vec<Notification>>;
}

/// Why a provider did not take a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendError {
    /// What went wrong, for the log and the notification.
    pub message: String,
    /// What the provider answered, if it answered.
    pub answer: String,
    /// A refusal that no retry will change (a malformed address).
    pub permanent: bool,
}

/// A provider of one channel: SMTP, an SMS API, the log sink, the in-app inbox.
#[async_trait]
pub trait Sender: Send + Sync {
    /// Its name in the delivery log and metrics (`smtp`, `sms`, `log`, `in_app`).
    fn provider(&self) -> &'static str;
    /// Hands the message over; the provider's answer when it took it.
    async fn send(&self, n: &Notification) -> std::result::Result<String, SendError>;
}

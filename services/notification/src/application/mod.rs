//! The notification context's use cases: templates (who may manage them, etags) and the
//! caller's notifications (their own; the tenant's with `notifications.read_all`), including the
//! live watch. Rules live in the domain; this layer decides who may do what, loads and saves.

pub mod flows;
pub mod hub;

use std::sync::Arc;

use crm_core::clock::Clock;
use crm_core::idempotency::Idempotency;
use crm_core::{Error, Principal, Result};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::domain::Violation;
use crate::domain::notification::Notification;
use crate::domain::ports::{
    NotificationFilter, NotificationStore, NotificationWrite, TemplateFilter,
};
use crate::domain::template::{Template, TemplateInput};
use hub::Hub;

/// The notification application service.
#[derive(Clone)]
pub struct Notifications {
    store: Arc<dyn NotificationStore>,
    clock: Arc<dyn Clock>,
    idempotency: Idempotency,
    hub: Hub,
}

fn invalid(problems: Vec<Violation>) -> Error {
    Error::invalid_fields(
        problems
            .into_iter()
            .map(|(field, problem)| (format!("template.{field}"), problem)),
    )
}

/// The live part of a watch: unread ones first, then each new one.
pub struct Watch {
    /// Unread in-app notifications, oldest first (when asked for).
    pub unread: Vec<Notification>,
    /// New ones as they are delivered.
    pub live: broadcast::Receiver<Arc<Notification>>,
}

impl Notifications {
    /// The service over its adapters.
    pub fn new(
        store: Arc<dyn NotificationStore>,
        clock: Arc<dyn Clock>,
        idempotency: Idempotency,
        hub: Hub,
    ) -> Notifications {
        Notifications {
            store,
            clock,
            idempotency,
            hub,
        }
    }

    /// The idempotency keys of CreateTemplate.
    pub fn idempotency(&self) -> &Idempotency {
        &self.idempotency
    }

    /// Creates a template.
    pub async fn create_template(&self, p: &Principal, input: TemplateInput) -> Result<Template> {
        p.require("templates.manage")?;
        let template =
            Template::new(p.tenant_id, input, self.clock.now_millis()).map_err(invalid)?;
        self.store.insert_template(&template).await?;
        Ok(template)
    }

    /// A template of the caller's tenant.
    pub async fn get_template(&self, p: &Principal, id: Uuid) -> Result<Template> {
        p.require("templates.manage")?;
        self.store
            .get_template(p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("template", id))
    }

    /// The tenant's templates in id order after `after`.
    pub async fn list_templates(
        &self,
        p: &Principal,
        filter: &TemplateFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Template>> {
        p.require("templates.manage")?;
        self.store
            .list_templates(p.tenant_id, filter, after, limit)
            .await
    }

    /// Changes a template if `etag` is current (or empty): `change` edits its fields, which
    /// are checked again whole.
    pub async fn update_template(
        &self,
        p: &Principal,
        id: Uuid,
        etag: &str,
        change: impl FnOnce(&mut TemplateInput) + Send,
    ) -> Result<Template> {
        // The permission, and a template the tenant does not have, answered before the write.
        self.get_template(p, id).await?;
        let now = self.clock.now_millis();
        let mut change = Some(change);
        let decide = move |template: &mut Template| {
            crm_core::api::check_etag(etag, &template.version.to_string(), "template")
                .map_err(|e| e.with_metadata("current_etag", template.version.to_string()))?;
            let mut input = template.input();
            if let Some(change) = change.take() {
                change(&mut input);
            }
            template.set(input).map_err(invalid)?;
            template.updated_at = now;
            template.version += 1;
            Ok(true)
        };
        self.store
            .update_template(p.tenant_id, id, Box::new(decide))
            .await
    }

    /// Deletes a template (the event then falls back to the built-in one if the tenant has no
    /// other template for it).
    pub async fn delete_template(&self, p: &Principal, id: Uuid) -> Result<()> {
        p.require("templates.manage")?;
        if self.store.delete_template(p.tenant_id, id).await? {
            Ok(())
        } else {
            Err(Error::not_found("template", id))
        }
    }

    /// Whether `p` may see every notification of the tenant.
    fn reads_all(p: &Principal) -> bool {
        p.require("notifications.read_all").is_ok()
    }

    /// Notifications newest first before `before`: the caller's own, or (with
    /// `notifications.read_all`) the tenant's, optionally one recipient's.
    pub async fn list_notifications(
        &self,
        p: &Principal,
        mut filter: NotificationFilter,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        p.require("notifications.read")?;
        if !Self::reads_all(p) {
            filter.recipient = Some(p.user_id);
        }
        self.store
            .list_notifications(p.tenant_id, &filter, before, limit)
            .await
    }

    /// One notification: the caller's own, or any of the tenant's with
    /// `notifications.read_all`; any other is `NOT_FOUND`.
    pub async fn get_notification(&self, p: &Principal, id: Uuid) -> Result<Notification> {
        p.require("notifications.read")?;
        self.store
            .get_notification(p.tenant_id, id)
            .await?
            .filter(|n| Self::reads_all(p) || n.recipient_user_id == Some(p.user_id))
            .ok_or_else(|| Error::not_found("notification", id))
    }

    /// Marks the caller's own notification read (reading twice changes nothing).
    pub async fn mark_read(&self, p: &Principal, id: Uuid) -> Result<Notification> {
        p.require("notifications.read")?;
        let now = self.clock.now_millis();
        let user = p.user_id;
        // On the state read under the write lock: a delivery recorded meanwhile is kept.
        let read = move |n: &mut Notification| {
            if n.recipient_user_id != Some(user) {
                return Err(Error::not_found("notification", id));
            }
            Ok(n.read(now).then(NotificationWrite::default))
        };
        self.store
            .update_notification(p.tenant_id, id, Box::new(read))
            .await
    }

    /// Watches the caller's in-app notifications: the unread ones first when asked for, then
    /// each new one as it is delivered.
    pub async fn watch(&self, p: &Principal, include_unread: bool) -> Result<Watch> {
        p.require("notifications.read")?;
        // Subscribed before the unread are read: nothing falls between the two (a notification
        // in both is sent once, by id).
        let live = self.hub.watch(p.tenant_id, p.user_id);
        let mut unread = Vec::new();
        if include_unread {
            let filter = NotificationFilter {
                recipient: Some(p.user_id),
                unread_only: true,
                status: Some(crate::domain::notification::Status::Sent),
                ..NotificationFilter::default()
            };
            unread = self
                .store
                .list_notifications(p.tenant_id, &filter, None, 500)
                .await?;
            unread.reverse();
        }
        Ok(Watch { unread, live })
    }

    /// How many are watching in this process.
    pub fn watchers(&self) -> usize {
        self.hub.watchers()
    }
}

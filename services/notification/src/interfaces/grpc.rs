//! gRPC ⇄ use cases: `crm.notification.v1.NotificationService` and `TemplateService`.
//! Decoding requests (ids, masks, page tokens) and encoding responses; no business rules here.

use std::pin::Pin;

use crm_core::api::{self, bounded, mask_paths};
use crm_core::{Error, Principal, RequestContext};
use crm_proto::crm::notification::v1 as pb;
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::application::Notifications;
use crate::domain::notification::{Notification, Status as Delivery};
use crate::domain::ports::{NotificationFilter, TemplateFilter};
use crate::domain::template::{Channel, MAX_SOURCE, Template, TemplateInput};

/// The notification services over [`Notifications`].
#[derive(Clone)]
pub struct NotificationGrpc {
    app: Notifications,
    /// Revocation marks: an open `WatchNotifications` ends when its caller's access does.
    marks: crm_core::revocation::Revocations,
}

impl NotificationGrpc {
    /// Serves `app`, ending open streams on the revocations in `marks`.
    pub fn new(app: Notifications, marks: crm_core::revocation::Revocations) -> NotificationGrpc {
        NotificationGrpc { app, marks }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn principal<T>(request: &Request<T>) -> Result<Principal, Error> {
    Ok(RequestContext::of(request)?.principal()?.clone())
}

/// A channel as the API names it.
pub fn channel_pb(c: Channel) -> pb::Channel {
    c.to_pb()
}

fn channel(field: &str, raw: i32, required: bool) -> Result<Option<Channel>, Error> {
    match pb::Channel::try_from(raw) {
        Ok(pb::Channel::Email) => Ok(Some(Channel::Email)),
        Ok(pb::Channel::Sms) => Ok(Some(Channel::Sms)),
        Ok(pb::Channel::InApp) => Ok(Some(Channel::InApp)),
        Ok(pb::Channel::Unspecified) if !required => Ok(None),
        _ => Err(Error::invalid_field(
            field,
            "must be CHANNEL_EMAIL, CHANNEL_SMS or CHANNEL_IN_APP",
        )),
    }
}

fn status_pb(s: Delivery) -> pb::DeliveryStatus {
    match s {
        Delivery::Pending => pb::DeliveryStatus::Pending,
        Delivery::Retrying => pb::DeliveryStatus::Retrying,
        Delivery::Sent => pb::DeliveryStatus::Sent,
        Delivery::Failed => pb::DeliveryStatus::Failed,
        Delivery::Read => pb::DeliveryStatus::Read,
        Delivery::Cancelled => pb::DeliveryStatus::Cancelled,
    }
}

fn status(raw: i32) -> Result<Option<Delivery>, Error> {
    Ok(match pb::DeliveryStatus::try_from(raw) {
        Ok(pb::DeliveryStatus::Unspecified) => None,
        Ok(pb::DeliveryStatus::Pending) => Some(Delivery::Pending),
        Ok(pb::DeliveryStatus::Retrying) => Some(Delivery::Retrying),
        Ok(pb::DeliveryStatus::Sent) => Some(Delivery::Sent),
        Ok(pb::DeliveryStatus::Failed) => Some(Delivery::Failed),
        Ok(pb::DeliveryStatus::Read) => Some(Delivery::Read),
        Ok(pb::DeliveryStatus::Cancelled) => Some(Delivery::Cancelled),
        Err(_) => {
            return Err(Error::invalid_field(
                "status",
                format!("{raw} is not a DeliveryStatus"),
            ));
        }
    })
}

/// A notification as the API shows it.
pub fn notification_pb(n: &Notification) -> pb::Notification {
    pb::Notification {
        id: n.id.to_string(),
        tenant_id: n.tenant_id.to_string(),
        channel: channel_pb(n.channel) as i32,
        recipient_user_id: n
            .recipient_user_id
            .map(|u| u.to_string())
            .unwrap_or_default(),
        recipient_address: n.recipient_address.clone(),
        template_id: n.template_id.map(|t| t.to_string()).unwrap_or_default(),
        subject: n.subject.clone(),
        // An invitation's link is a one-time credential for the invited address alone: nobody
        // who reads the workspace's notifications may use it to join as someone else.
        body: if n.trigger_event_type == crate::domain::catalogue::USER_INVITED {
            format!(
                "An invitation with a one-time link, sent to {}; the link is not shown here.",
                n.recipient_address
            )
        } else {
            n.body.clone()
        },
        status: status_pb(n.status) as i32,
        attempts: n.attempts as i32,
        last_error: n.last_error.clone(),
        trigger_event_id: n.trigger_event_id.to_string(),
        trigger_event_type: n.trigger_event_type.clone(),
        create_time: Some(api::timestamp(n.created_at)),
        send_time: n.sent_at.map(api::timestamp),
        read_time: n.read_at.map(api::timestamp),
        next_attempt_time: n.next_attempt_at.map(api::timestamp),
        link: n.link.clone(),
    }
}

fn template_pb(t: &Template) -> pb::Template {
    pb::Template {
        id: t.id.to_string(),
        tenant_id: t.tenant_id.to_string(),
        name: t.name.clone(),
        channel: channel_pb(t.channel) as i32,
        event_type: t.event_type.clone(),
        locale: t.locale.clone(),
        subject_template: t.subject.clone(),
        body_template: t.body.clone(),
        enabled: t.enabled,
        create_time: Some(api::timestamp(t.created_at)),
        update_time: Some(api::timestamp(t.updated_at)),
        etag: t.version.to_string(),
    }
}

fn check_sizes(t: &pb::Template) -> Result<(), Error> {
    for (field, value, max) in [
        ("template.name", &t.name, 1024),
        ("template.event_type", &t.event_type, 1024),
        ("template.locale", &t.locale, 64),
        ("template.etag", &t.etag, 64),
        ("template.subject_template", &t.subject_template, MAX_SOURCE),
        ("template.body_template", &t.body_template, MAX_SOURCE),
    ] {
        bounded(field, value, max)?;
    }
    Ok(())
}

fn id(field: &str, raw: &str, what: &str) -> Result<Uuid, Error> {
    api::uuid(field, raw, what)
}

#[tonic::async_trait]
impl pb::template_service_server::TemplateService for NotificationGrpc {
    async fn create_template(
        &self,
        request: Request<pb::CreateTemplateRequest>,
    ) -> Reply<pb::CreateTemplateResponse> {
        let p = principal(&request)?;
        let r = request.into_inner();
        let t = r.template.clone().unwrap_or_default();
        check_sizes(&t)?;
        bounded("request_id", &r.request_id, 128)?;
        let input = TemplateInput {
            name: t.name.clone(),
            channel: channel("template.channel", t.channel, false)?,
            event_type: t.event_type.clone(),
            locale: t.locale.clone(),
            subject: t.subject_template.clone(),
            body: t.body_template.clone(),
            enabled: t.enabled,
        };
        let response = self
            .app
            .idempotency()
            .once(
                &p,
                "templates.manage",
                "CreateTemplate",
                &r.request_id,
                &r,
                || async {
                    let template = self.app.create_template(&p, input).await?;
                    Ok(pb::CreateTemplateResponse {
                        template: Some(template_pb(&template)),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn list_templates(
        &self,
        request: Request<pb::ListTemplatesRequest>,
    ) -> Reply<pb::ListTemplatesResponse> {
        let p = principal(&request)?;
        let r = request.get_ref();
        bounded("event_type", &r.event_type, 1024)?;
        let page = api::page("templates", r.page_size, &r.page_token)?;
        let after = api::uuid_cursor(&page)?;
        let filter = TemplateFilter {
            channel: channel("channel", r.channel, false)?,
            event_type: (!r.event_type.is_empty()).then(|| r.event_type.clone()),
        };
        let mut templates = self
            .app
            .list_templates(&p, &filter, after, page.size + 1)
            .await?;
        let more = templates.len() > page.size as usize;
        templates.truncate(page.size as usize);
        let next_page_token = match templates.last() {
            Some(last) if more => api::page_token("templates", &last.id.to_string()),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListTemplatesResponse {
            templates: templates.iter().map(template_pb).collect(),
            next_page_token,
        }))
    }

    async fn get_template(
        &self,
        request: Request<pb::GetTemplateRequest>,
    ) -> Reply<pb::GetTemplateResponse> {
        let p = principal(&request)?;
        let id = id("id", &request.get_ref().id, "a template id")?;
        let template = self.app.get_template(&p, id).await?;
        Ok(Response::new(pb::GetTemplateResponse {
            template: Some(template_pb(&template)),
        }))
    }

    async fn update_template(
        &self,
        request: Request<pb::UpdateTemplateRequest>,
    ) -> Reply<pb::UpdateTemplateResponse> {
        let p = principal(&request)?;
        let r = request.into_inner();
        let t = r.template.unwrap_or_default();
        check_sizes(&t)?;
        let template_id = id("template.id", &t.id, "a template id")?;
        let set = [
            ("name", !t.name.is_empty()),
            ("channel", t.channel != 0),
            ("event_type", !t.event_type.is_empty()),
            ("locale", !t.locale.is_empty()),
            ("subject_template", !t.subject_template.is_empty()),
            ("body_template", !t.body_template.is_empty()),
            ("enabled", t.enabled),
        ];
        let paths = mask_paths(
            r.update_mask,
            &set,
            &[
                "name",
                "channel",
                "event_type",
                "locale",
                "subject_template",
                "body_template",
                "enabled",
            ],
        )?;
        let has = |path: &str| paths.iter().any(|p| p == path);
        let new_channel = if has("channel") {
            channel("template.channel", t.channel, false)?
        } else {
            None
        };
        let template = self
            .app
            .update_template(&p, template_id, &t.etag, |input| {
                if has("name") {
                    input.name = t.name.clone();
                }
                if has("channel") {
                    input.channel = new_channel;
                }
                if has("event_type") {
                    input.event_type = t.event_type.clone();
                }
                if has("locale") {
                    input.locale = t.locale.clone();
                }
                if has("subject_template") {
                    input.subject = t.subject_template.clone();
                }
                if has("body_template") {
                    input.body = t.body_template.clone();
                }
                if has("enabled") {
                    input.enabled = t.enabled;
                }
            })
            .await?;
        Ok(Response::new(pb::UpdateTemplateResponse {
            template: Some(template_pb(&template)),
        }))
    }

    async fn delete_template(
        &self,
        request: Request<pb::DeleteTemplateRequest>,
    ) -> Reply<pb::DeleteTemplateResponse> {
        let p = principal(&request)?;
        let id = id("id", &request.get_ref().id, "a template id")?;
        self.app.delete_template(&p, id).await?;
        Ok(Response::new(pb::DeleteTemplateResponse {}))
    }
}

type WatchStream =
    Pin<Box<dyn Stream<Item = Result<pb::WatchNotificationsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl pb::notification_service_server::NotificationService for NotificationGrpc {
    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Reply<pb::ListNotificationsResponse> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let page = api::page("notifications", r.page_size, &r.page_token)?;
        let before = api::uuid_cursor(&page)?;
        let filter = NotificationFilter {
            recipient: api::optional_uuid("recipient_user_id", &r.recipient_user_id, "a user id")?
                .map(crm_core::UserId::from),
            channel: channel("channel", r.channel, false)?,
            status: status(r.status)?,
            unread_only: r.unread_only,
            from: r.start_time.as_ref().map(api::millis),
            before: r.end_time.as_ref().map(api::millis),
        };
        let mut found = self
            .app
            .list_notifications(&p, filter, before, page.size + 1)
            .await?;
        let more = found.len() > page.size as usize;
        found.truncate(page.size as usize);
        let next_page_token = match found.last() {
            Some(last) if more => api::page_token("notifications", &last.id.to_string()),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: found.iter().map(notification_pb).collect(),
            next_page_token,
        }))
    }

    async fn get_notification(
        &self,
        request: Request<pb::GetNotificationRequest>,
    ) -> Reply<pb::GetNotificationResponse> {
        let p = principal(&request)?;
        let id = id("id", &request.get_ref().id, "a notification id")?;
        let n = self.app.get_notification(&p, id).await?;
        Ok(Response::new(pb::GetNotificationResponse {
            notification: Some(notification_pb(&n)),
        }))
    }

    async fn mark_notification_read(
        &self,
        request: Request<pb::MarkNotificationReadRequest>,
    ) -> Reply<pb::MarkNotificationReadResponse> {
        let p = principal(&request)?;
        let id = id("id", &request.get_ref().id, "a notification id")?;
        let n = self.app.mark_read(&p, id).await?;
        Ok(Response::new(pb::MarkNotificationReadResponse {
            notification: Some(notification_pb(&n)),
        }))
    }

    type WatchNotificationsStream = WatchStream;

    async fn watch_notifications(
        &self,
        request: Request<pb::WatchNotificationsRequest>,
    ) -> Reply<Self::WatchNotificationsStream> {
        let p = principal(&request)?;
        let watch = self.app.watch(&p, request.get_ref().include_unread).await?;
        let replayed: std::collections::HashSet<Uuid> = watch.unread.iter().map(|n| n.id).collect();
        let first = futures::stream::iter(watch.unread.into_iter().map(|n| {
            Ok(pb::WatchNotificationsResponse {
                notification: Some(notification_pb(&n)),
                resync: false,
            })
        }));
        let live =
            futures::stream::unfold((watch.live, replayed), |(mut live, replayed)| async move {
                loop {
                    match live.recv().await {
                        Ok(n) if replayed.contains(&n.id) => continue,
                        Ok(n) => {
                            let message = pb::WatchNotificationsResponse {
                                notification: Some(notification_pb(&n)),
                                resync: false,
                            };
                            return Some((Ok(message), (live, replayed)));
                        }
                        Err(RecvError::Lagged(missed)) => {
                            tracing::info!(missed, "a watcher fell behind; told to resync");
                            let message = pb::WatchNotificationsResponse {
                                notification: None,
                                resync: true,
                            };
                            return Some((Ok(message), (live, replayed)));
                        }
                        Err(RecvError::Closed) => return None,
                    }
                }
            });
        use futures::StreamExt as _;
        // Open for as long as the caller's access lasts: it ends UNAUTHENTICATED when the token
        // expires or is revoked (a role or status change), never delivering past it.
        Ok(Response::new(Box::pin(
            crm_core::revocation::until_revoked(
                p.clone(),
                self.marks.clone(),
                crm_core::revocation::STREAM_CHECK_EVERY,
                Box::pin(first.chain(live)),
            ),
        )))
    }
}

//! A notification: stored first (pending), then delivered by the worker: sent, or retried after
//! each failure with a growing delay, failed after the configured attempts. An in-app one is
//! read by its recipient. Each delivery outcome gives the event it causes
//! (`NotificationSent`, `NotificationFailed`), built here and nowhere else.

use crm_core::{TenantId, UserId};
use crm_events::OutboxEvent;
use crm_proto::crm::notification::events::v1 as events;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Millis;
use super::template::Channel;

/// Where delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for its first attempt.
    Pending,
    /// Failed at least once; waiting for the next attempt.
    Retrying,
    /// Delivered to the provider (or the in-app inbox).
    Sent,
    /// Given up after the configured attempts.
    Failed,
    /// Read by its recipient (in-app).
    Read,
    /// Never sent: what caused it was undone within its grace period.
    Cancelled,
}

impl Status {
    /// Its name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Retrying => "retrying",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Read => "read",
            Status::Cancelled => "cancelled",
        }
    }

    /// Whether the worker still has to deliver it.
    pub fn is_due(self) -> bool {
        matches!(self, Status::Pending | Status::Retrying)
    }
}

/// A message to a person on one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// UUIDv7.
    pub id: Uuid,
    /// The tenant.
    pub tenant_id: TenantId,
    /// How it is delivered.
    pub channel: Channel,
    /// The user it is for, if a user.
    pub recipient_user_id: Option<UserId>,
    /// The email address or E.164 number (the user id for in-app).
    pub recipient_address: String,
    /// The template rendered (`None`: a built-in one).
    pub template_id: Option<Uuid>,
    /// The rendered subject.
    pub subject: String,
    /// The rendered body.
    pub body: String,
    /// Where delivery stands.
    pub status: Status,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The last delivery error.
    pub last_error: String,
    /// When the worker tries next (due ones only).
    pub next_attempt_at: Option<Millis>,
    /// The event that caused it.
    pub trigger_event_id: Uuid,
    /// That event's type.
    pub trigger_event_type: String,
    /// When created.
    pub created_at: Millis,
    /// When delivered.
    pub sent_at: Option<Millis>,
    /// When read.
    pub read_at: Option<Millis>,
    /// The etag.
    pub version: i64,
    /// Where it leads in a client (`customers/<id>`), for a notice that names one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub link: String,
    /// The record whose change caused it (`opportunity/<id>`), for a message that is held
    /// back when that change is undone.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub about: String,
    /// The end of its grace period: until then it is not sent, and can be cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_until: Option<Millis>,
}

/// Who a notification goes to, on which channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The channel.
    pub channel: Channel,
    /// The user, if a user.
    pub user_id: Option<UserId>,
    /// The address on that channel.
    pub address: String,
}

impl Notification {
    /// A pending notification, due at once.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tenant_id: TenantId,
        to: Recipient,
        template_id: Option<Uuid>,
        subject: String,
        body: String,
        trigger_event_id: Uuid,
        trigger_event_type: &str,
        now: Millis,
    ) -> Notification {
        Notification {
            id: Uuid::now_v7(),
            tenant_id,
            channel: to.channel,
            recipient_user_id: to.user_id,
            recipient_address: to.address,
            template_id,
            subject,
            body,
            status: Status::Pending,
            attempts: 0,
            last_error: String::new(),
            next_attempt_at: Some(now),
            trigger_event_id,
            trigger_event_type: trigger_event_type.into(),
            created_at: now,
            sent_at: None,
            read_at: None,
            version: 1,
            link: String::new(),
            about: String::new(),
            held_until: None,
        }
    }

    /// Held back until `at`, a grace period in which the worker leaves it alone.
    pub fn held(mut self, at: Millis) -> Notification {
        self.next_attempt_at = Some(at);
        self.held_until = Some(at);
        self
    }

    /// Not to be sent (what caused it was undone): true if this changed it, false once its
    /// grace period is over (the worker may be sending it, or has).
    pub fn cancel(&mut self, now: Millis) -> bool {
        let waiting = self.status == Status::Pending && self.held_until.is_some_and(|h| now < h);
        if !waiting {
            return false;
        }
        self.status = Status::Cancelled;
        self.next_attempt_at = None;
        self.version += 1;
        true
    }

    /// Delivered at `now`: the `NotificationSent` it causes.
    pub fn sent(&mut self, now: Millis) -> OutboxEvent {
        self.attempts += 1;
        self.status = Status::Sent;
        self.sent_at = Some(now);
        self.next_attempt_at = None;
        self.version += 1;
        self.event(
            now,
            &events::NotificationSent {
                notification_id: self.id.to_string(),
                channel: self.channel.to_pb() as i32,
                recipient_user_id: self.recipient(),
                recipient_address: self.recipient_address.clone(),
                template_id: self.template_id.map(|t| t.to_string()).unwrap_or_default(),
                trigger_event_id: self.trigger_event_id.to_string(),
                attempts: self.attempts as i32,
                send_time: Some(crm_core::api::timestamp(now)),
            },
        )
    }

    /// An attempt failed at `now` with `error`: retried at `next`, or failed for good when
    /// `next` is `None` (no attempts left). The `NotificationFailed` it causes.
    pub fn attempt_failed(
        &mut self,
        error: &str,
        next: Option<Millis>,
        now: Millis,
    ) -> OutboxEvent {
        self.attempts += 1;
        self.last_error = error.chars().take(2000).collect();
        self.next_attempt_at = next;
        self.status = if next.is_some() {
            Status::Retrying
        } else {
            Status::Failed
        };
        self.version += 1;
        self.event(
            now,
            &events::NotificationFailed {
                notification_id: self.id.to_string(),
                channel: self.channel.to_pb() as i32,
                recipient_user_id: self.recipient(),
                recipient_address: self.recipient_address.clone(),
                trigger_event_id: self.trigger_event_id.to_string(),
                attempts: self.attempts as i32,
                error: error.to_owned(),
                r#final: next.is_none(),
                fail_time: Some(crm_core::api::timestamp(now)),
            },
        )
    }

    fn recipient(&self) -> String {
        self.recipient_user_id
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// `message` about this notification, at `time`, for the outbox.
    fn event<M: prost::Message + prost::Name>(&self, time: Millis, message: &M) -> OutboxEvent {
        let mut envelope = crm_events::Envelope::new(
            "crm.notification",
            self.tenant_id,
            self.id,
            message,
            &crm_events::Causation::default(),
        );
        envelope.time = time;
        OutboxEvent::new("notification", envelope)
    }

    /// Put off to `at` without an attempt (its provider's breaker is open).
    pub fn put_off(&mut self, at: Millis) {
        self.next_attempt_at = Some(at);
        self.version += 1;
    }

    /// Read by its recipient at `now`: true if this changed it (reading twice changes nothing).
    pub fn read(&mut self, now: Millis) -> bool {
        if self.read_at.is_some() {
            return false;
        }
        self.read_at = Some(now);
        if self.status == Status::Sent {
            self.status = Status::Read;
        }
        self.version += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Notification {
        Notification::new(
            TenantId::new(),
            Recipient {
                channel: Channel::Email,
                user_id: None,
                address: "siti@example.com".into(),
            },
            None,
            "Hi".into(),
            "Hello".into(),
            Uuid::now_v7(),
            "crm.iam.events.v1.UserCreated",
            10,
        )
    }

    #[test]
    fn a_failure_retries_until_no_attempt_is_left() {
        let mut n = email();
        assert!(n.status.is_due());
        assert_eq!(n.next_attempt_at, Some(10));
        let retrying = n.attempt_failed("421 busy", Some(1010), 10);
        assert_eq!((n.status, n.attempts), (Status::Retrying, 1));
        assert_eq!(n.next_attempt_at, Some(1010));
        let failed = retrying
            .envelope
            .decode::<events::NotificationFailed>()
            .unwrap();
        assert_eq!((failed.attempts, failed.r#final), (1, false));
        let last = n.attempt_failed("421 busy", None, 1010);
        assert_eq!((n.status, n.attempts), (Status::Failed, 2));
        let failed = last
            .envelope
            .decode::<events::NotificationFailed>()
            .unwrap();
        assert_eq!(
            (failed.attempts, failed.r#final, failed.error.as_str()),
            (2, true, "421 busy")
        );
        assert_eq!(last.envelope.time, 1010);
        assert!(!n.status.is_due());
        assert_eq!(n.last_error, "421 busy");
    }

    #[test]
    fn sent_then_read_once() {
        let mut n = email();
        let sent = n.sent(20).envelope;
        assert_eq!(
            sent.decode::<events::NotificationSent>()
                .unwrap()
                .notification_id,
            n.id.to_string()
        );
        assert_eq!(
            (sent.subject.as_str(), sent.time),
            (n.id.to_string().as_str(), 20)
        );
        assert_eq!(
            (n.status, n.sent_at, n.next_attempt_at),
            (Status::Sent, Some(20), None)
        );
        assert!(n.read(30));
        assert_eq!(n.status, Status::Read);
        assert!(!n.read(40), "reading again changes nothing");
        assert_eq!(n.read_at, Some(30));
    }

    #[test]
    fn put_off_is_no_attempt() {
        let mut n = email();
        n.put_off(500);
        assert_eq!(
            (n.status, n.attempts, n.next_attempt_at),
            (Status::Pending, 0, Some(500))
        );
    }

    #[test]
    fn a_held_message_is_cancelled_only_within_its_grace_period() {
        let mut n = email().held(130);
        assert_eq!((n.next_attempt_at, n.held_until), (Some(130), Some(130)));
        let mut late = n.clone();
        assert!(n.cancel(129));
        assert_eq!((n.status, n.next_attempt_at), (Status::Cancelled, None));
        assert!(!n.status.is_due());
        assert!(!n.cancel(129), "cancelling twice changes nothing");
        assert!(!late.cancel(130), "the worker may be sending it");
        assert_eq!(late.status, Status::Pending);
        let mut at_once = email();
        assert!(
            !at_once.cancel(0),
            "a message sent at once has no grace period"
        );
    }
}

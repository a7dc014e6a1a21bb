//! The delivery worker: finds due notifications (pending, or retrying whose time has come),
//! claims each (a lease, so another worker leaves it alone), hands it to its channel's provider
//! through the provider's breaker, and records the outcome with the attempt and its event:
//! sent, retried later with exponential backoff and jitter, failed after the configured
//! attempts, or put off without an attempt while the breaker is open. A crash loses nothing:
//! a claimed notification whose lease runs out is due again.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use crm_core::clock::Clock;
use crm_core::{Result, TenantId};
use futures::StreamExt;
use tokio::sync::Notify;
use uuid::Uuid;

use super::channels::{Guarded, Outcome};
use crate::domain::notification::Notification;
use crate::domain::ports::{Attempt, NotificationStore, NotificationWrite};
use crate::domain::template::Channel;
use crm_core::storage::pinned;

/// How delivery retries.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The delay after the first failure.
    pub min_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// How long a claimed notification is left to its worker.
    pub lease: Duration,
    /// How often due notifications are looked for when nothing wakes the worker.
    pub poll: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_attempts: 5,
            min_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
            lease: Duration::from_secs(120),
            poll: Duration::from_secs(1),
            concurrency: 32,
        }
    }
}

impl Policy {
    /// The delay before the attempt after `failed` failed ones: exponential, with jitter.
    pub fn delay(&self, failed: u32) -> Duration {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
            .nth(failed.saturating_sub(1) as usize)
            .unwrap_or(self.max_delay)
    }
}

/// The providers of the three channels.
#[derive(Clone)]
pub struct Providers {
    /// Email.
    pub email: Guarded,
    /// SMS.
    pub sms: Guarded,
    /// In-app.
    pub in_app: Guarded,
}

impl Providers {
    /// Their breakers, named `notification.<channel>`.
    pub fn breakers(&self) -> Vec<crm_core::breaker::NamedBreaker> {
        [
            ("notification.email", &self.email),
            ("notification.sms", &self.sms),
            ("notification.in_app", &self.in_app),
        ]
        .into_iter()
        .map(|(name, guarded)| crm_core::breaker::NamedBreaker {
            name: name.into(),
            watch: guarded.watch(),
        })
        .collect()
    }

    fn of(&self, channel: Channel) -> &Guarded {
        match channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
            Channel::InApp => &self.in_app,
        }
    }
}

/// The delivery worker.
#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn NotificationStore>,
    providers: Providers,
    clock: Arc<dyn Clock>,
    policy: Policy,
    wake: Arc<Notify>,
}

impl Worker {
    /// A worker over its adapters, woken by `wake`.
    pub fn new(
        store: Arc<dyn NotificationStore>,
        providers: Providers,
        clock: Arc<dyn Clock>,
        policy: Policy,
        wake: Arc<Notify>,
    ) -> Worker {
        Worker {
            store,
            providers,
            clock,
            policy,
            wake,
        }
    }

    /// The providers, with their breakers.
    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    /// Delivers until the task is dropped.
    pub async fn run(self) {
        // Every channel and outcome shows on /metrics from 0, so a rate or increase sees the
        // first failure too (a series that appears at 1 has no increase to show).
        for channel in [Channel::Email, Channel::Sms, Channel::InApp] {
            for outcome in ["sent", "retrying", "failed"] {
                let _ = crm_core::metrics::DELIVERIES.get_or_create(&crm_core::metrics::Delivery {
                    channel: channel.as_str(),
                    outcome,
                });
            }
        }
        loop {
            match self.round().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot look for notifications to deliver"),
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.policy.poll) => {}
            }
        }
    }

    /// One pass over what is due now: claims a batch in one transaction, then sends each.
    /// How many it claimed.
    pub async fn round(&self) -> Result<usize> {
        let now = self.clock.now_millis();
        let lease_until = now + self.policy.lease.as_millis() as i64;
        let claimed = self.store.claim_due(now, lease_until, 200).await?;
        let count = claimed.len();
        futures::stream::iter(claimed)
            .for_each_concurrent(self.policy.concurrency, |n| async move {
                let id = n.id;
                if let Err(e) = self.send_claimed(n).await {
                    tracing::warn!(notification_id = %id, error = %e, "delivery not recorded; it is tried again");
                }
            })
            .await;
        Ok(count)
    }

    /// Delivers one notification if it is still due.
    pub async fn deliver(&self, tenant: TenantId, id: Uuid) -> Result<()> {
        let now = self.clock.now_millis();
        let lease = now + self.policy.lease.as_millis() as i64;
        // Claim it, on the state read under the write lock: another worker that claimed it
        // first has put it off, and this one leaves it.
        let mut claimed = false;
        let claim = |n: &mut Notification| {
            if !n.status.is_due() || n.next_attempt_at.is_none_or(|at| at > now) {
                return Ok(None);
            }
            n.put_off(lease);
            claimed = true;
            Ok(Some(NotificationWrite::default()))
        };
        let n = match self
            .store
            .update_notification(tenant, id, Box::new(claim))
            .await
        {
            Ok(n) => n,
            // Gone meanwhile (its tenant's data removed): nothing to deliver.
            Err(e) if e.kind() == crm_core::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if !claimed {
            return Ok(());
        }
        self.send_claimed(n).await
    }

    /// Sends a notification this worker claimed, and records what came of it.
    async fn send_claimed(&self, mut n: Notification) -> Result<()> {
        let claimed = n.version;
        let provider = self.providers.of(n.channel);
        let outcome = provider.send(&n).await;
        let now = self.clock.now_millis();
        let attempt = |answer: String, error: String| Attempt {
            attempt: n.attempts + 1,
            at: now,
            provider: provider.provider().into(),
            answer,
            error,
        };
        let (attempt, event) = match outcome {
            Outcome::Open => {
                n.put_off(now + provider.wait.as_millis() as i64);
                tracing::info!(notification_id = %n.id, provider = provider.provider(), "the provider's breaker is open; delivery waits");
                (None, None)
            }
            Outcome::Sent(answer) => {
                let attempt = attempt(answer, String::new());
                let sent = n.sent(now);
                (Some(attempt), Some(sent))
            }
            Outcome::Failed(e) => {
                let attempt = attempt(e.answer.clone(), e.message.clone());
                let last = e.permanent || n.attempts + 1 >= self.policy.max_attempts;
                let next =
                    (!last).then(|| now + self.policy.delay(n.attempts + 1).as_millis() as i64);
                let failed = n.attempt_failed(&e.message, next, now);
                tracing::warn!(notification_id = %n.id, provider = provider.provider(), attempts = n.attempts, error = %e.message, final = last, "delivery failed");
                (Some(attempt), Some(failed))
            }
        };
        let counted = attempt.is_some();
        // Recorded only if this worker's claim still holds: a claim that outlived its lease
        // and was taken by another worker is not overwritten.
        let write = NotificationWrite {
            events: event.into_iter().collect(),
            attempt,
        };
        let (tenant, id) = (n.tenant_id, n.id);
        let record = pinned(n, claimed, |n| n.version, write, "notification");
        let n = self.store.update_notification(tenant, id, record).await?;
        if counted {
            let outcome = match n.status {
                crate::domain::notification::Status::Retrying => "retrying",
                crate::domain::notification::Status::Failed => "failed",
                _ => "sent",
            };
            crm_core::metrics::DELIVERIES
                .get_or_create(&crm_core::metrics::Delivery {
                    channel: n.channel.as_str(),
                    outcome,
                })
                .inc();
        }
        Ok(())
    }
}

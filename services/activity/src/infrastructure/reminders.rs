//! The reminder worker: sleeps until the next reminder is due (or a task changed, or a second
//! passed: another replica may have added one), then fires every due reminder, each once:
//! claimed and its events (`TaskDue`, and the notice the notification context delivers)
//! written in one transaction, so a restart or another replica never fires it again.

use std::sync::Arc;
use std::time::Duration;

use crm_core::clock::Clock;
use crm_events::{Causation, Envelope, OutboxEvent};
use crm_proto::crm::notification::v1::NoticeRequested;
use tokio::sync::Notify;

use crate::domain::Millis;
use crate::domain::events::{SOURCE, task_due};
use crate::domain::ports::TaskStore;
use crate::domain::task::Task;

/// How many reminders one transaction fires at most.
pub const BATCH: u32 = 500;

/// The worker.
#[derive(Clone)]
pub struct Reminders {
    store: Arc<dyn TaskStore>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    /// The longest sleep (what bounds how late a reminder another replica added fires here).
    pub max_wait: Duration,
}

impl Reminders {
    /// Over `store`, woken by `wake`.
    pub fn new(store: Arc<dyn TaskStore>, clock: Arc<dyn Clock>, wake: Arc<Notify>) -> Reminders {
        Reminders {
            store,
            clock,
            wake,
            max_wait: Duration::from_secs(1),
        }
    }

    /// Fires what is due now: how many.
    pub async fn round(&self) -> crm_core::Result<usize> {
        let mut fired = 0;
        loop {
            let now = self.clock.now_millis();
            let n = self.store.fire_reminders(now, BATCH, events).await?;
            fired += n;
            if n < BATCH as usize {
                return Ok(fired);
            }
        }
    }

    /// Runs until the process stops.
    pub async fn run(self) {
        loop {
            if let Err(e) = self.round().await {
                tracing::warn!(error = %e, "could not fire reminders; trying again");
            }
            let wait = match self.store.next_reminder().await {
                Ok(Some(at)) => {
                    let ms = (at - self.clock.now_millis()).max(0) as u64;
                    Duration::from_millis(ms).min(self.max_wait)
                }
                Ok(None) => self.max_wait,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the next reminder");
                    self.max_wait
                }
            };
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {}
            }
        }
    }
}

/// What a reminder at `at` writes: `TaskDue`, and the notice to its assignee.
pub fn events(task: &Task, at: Millis) -> Vec<OutboxEvent> {
    let tz: chrono_tz::Tz = task.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC);
    let due = chrono::DateTime::from_timestamp_millis(task.due_at)
        .map(|t| {
            t.with_timezone(&tz)
                .format("%-d %b %Y, %H:%M (%Z)")
                .to_string()
        })
        .unwrap_or_default();
    let link = task
        .related
        .first()
        .map_or_else(|| format!("tasks/{}", task.id), |r| r.link());
    let notice = NoticeRequested {
        recipient_user_id: task.assignee_id.to_string(),
        subject: format!("Reminder: {}", task.title),
        body: if task.notes.is_empty() {
            format!("Due {due}.")
        } else {
            format!("Due {due}.\n\n{}", task.notes)
        },
        email: task.remind_by_email,
        link,
    };
    vec![
        task_due(task, at),
        OutboxEvent::new(
            "task",
            Envelope::new(
                SOURCE,
                task.tenant_id,
                task.id,
                &notice,
                &Causation::default(),
            ),
        ),
    ]
}

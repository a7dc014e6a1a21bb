//! Counters kept where only a context sees what happens (a delivery's outcome), for the
//! launcher to show on `/metrics`. They are process-wide: every context in the process adds to
//! the same families.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// A delivery attempt's channel and outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Delivery {
    /// `email`, `sms` or `in_app`.
    pub channel: &'static str,
    /// `sent`, `retrying` (failed, tried again later) or `failed` (for good).
    pub outcome: &'static str,
}

/// Notification delivery attempts, by channel and outcome
/// (`crm_notification_deliveries_total`).
pub static DELIVERIES: LazyLock<Family<Delivery, Counter>> = LazyLock::new(Family::default);

/// A background task's name (`relay crm.iam.events.v1`, `consumer notification-iam`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabel {
    /// The task's name.
    pub task: String,
}

/// Background tasks started again after they stopped while the process served
/// (`crm_task_restarts_total`; see [`crate::supervise`]).
pub static TASK_RESTARTS: LazyLock<Family<TaskLabel, Counter>> = LazyLock::new(Family::default);

//! The consumer of IAM's and sales' events: hands each to the flows
//! ([`crate::application::flows`]) in the transaction that records it as handled, and wakes the
//! delivery worker when that transaction commits.

use std::sync::Arc;

use async_trait::async_trait;
use crm_events::{Envelope, Handler, Tx};
use tokio::sync::Notify;

use crate::application::flows;

/// The consumer group of IAM's events.
pub const IAM_GROUP: &str = "notification";
/// The consumer group of sales' events.
pub const SALES_GROUP: &str = "notification-sales";

/// The flows, for both topics.
#[derive(Clone)]
pub struct Flows {
    /// Woken when notifications were stored.
    pub wake: Arc<Notify>,
    /// How long customer messages caused by a person's action wait before they are due.
    pub grace_millis: i64,
}

#[async_trait]
impl Handler for Flows {
    fn wants(&self, event_type: &str) -> bool {
        flows::wants(event_type)
    }

    async fn handle(&self, event: &Envelope, tx: &mut Tx) -> anyhow::Result<()> {
        flows::handle(event, &mut **tx, self.grace_millis).await
    }

    async fn committed(&self) {
        self.wake.notify_one();
    }
}

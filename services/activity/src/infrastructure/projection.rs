//! The timeline's consumer: each event's effects ([`crate::application::projection`]) applied
//! in the transaction that records the event as handled (so once, whatever is redelivered).

use async_trait::async_trait;
use crm_events::{Envelope, Handler, Tx};

use crate::application::projection;

/// The consumer groups, one per topic read.
pub const GROUPS: [(&str, &str); 5] = [
    ("crm.iam.events.v1", "activity-iam"),
    ("crm.customer.events.v1", "activity-customer"),
    ("crm.sales.events.v1", "activity-sales"),
    ("crm.notification.events.v1", "activity-notification"),
    (crate::TOPIC, "activity"),
];

/// Keeps the timelines from the events.
#[derive(Clone)]
pub struct Timeline {
    types: std::sync::Arc<Vec<String>>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            types: std::sync::Arc::new(projection::types()),
        }
    }
}

#[async_trait]
impl Handler for Timeline {
    fn wants(&self, event_type: &str) -> bool {
        self.types.iter().any(|t| t == event_type)
    }

    async fn handle(&self, event: &Envelope, tx: &mut Tx) -> anyhow::Result<()> {
        let effects = projection::effects(event);
        crate::infrastructure::sql::timeline::apply(&mut *tx, &event.tenant_id, &effects).await
    }
}

//! What sales does with the customer context's events: a deleted customer's opportunities still
//! open are lost (`OTHER`: the customer was deleted), so no deal of a customer that no longer
//! exists stays on the board or in the forecast. The customer context refuses to delete a
//! customer with open opportunities unless the caller chose this; any left open by a race (an
//! opportunity opened as the customer went) are closed all the same. Their `DealLost` names no
//! customer address: nothing is sent to a deleted customer. Written in the consumer's
//! transaction, which records the event as handled: a redelivery closes nothing twice.

use async_trait::async_trait;
use crm_core::{TenantId, UserId};
use crm_events::{Causation, Envelope, Handler, Tx};
use crm_proto::crm::customer::events::v1::CustomerDeleted;
use prost::Name;
use uuid::Uuid;

use super::sql::opportunities;
use crate::domain::events::{Cause, EventCustomer, deal_lost};
use crate::domain::opportunity::MAX_LOSS_REASON;

/// The consumer group reading the customer context's topic.
pub const GROUP: &str = "sales-customers";

/// The customer context's topic.
pub const CUSTOMER_TOPIC: &str = "crm.customer.events.v1";

/// Why an opportunity of a deleted customer was lost, in its loss detail.
pub const DELETED_DETAIL: &str = "the customer was deleted";

/// Closes a deleted customer's open opportunities.
#[derive(Clone, Copy, Debug, Default)]
pub struct CustomerEvents;

#[async_trait]
impl Handler for CustomerEvents {
    fn wants(&self, event_type: &str) -> bool {
        event_type == CustomerDeleted::full_name()
    }

    async fn handle(&self, event: &Envelope, tx: &mut Tx) -> anyhow::Result<()> {
        let Some(deleted) = event.decode::<CustomerDeleted>() else {
            return Ok(());
        };
        let tenant = TenantId::parse(&event.tenant_id)
            .map_err(|e| anyhow::anyhow!("the event's tenant id: {e}"))?;
        let customer = Uuid::try_parse(&deleted.customer_id)
            .map_err(|e| anyhow::anyhow!("CustomerDeleted.customer_id: {e}"))?;
        let by = UserId::parse(&deleted.deleted_by_user_id)
            .map_err(|e| anyhow::anyhow!("CustomerDeleted.deleted_by_user_id: {e}"))?;
        let causation = Causation {
            correlation_id: event.correlation_id.clone(),
            causation_id: Some(event.id.to_string()),
            traceparent: event.traceparent.clone(),
        };
        let cause = Cause {
            by,
            causation: &causation,
        };
        let open = opportunities::open_of_customer(tx, tenant, customer).await?;
        for id in &open {
            let Some(stored) = opportunities::get_to_change(tx, tenant, *id).await? else {
                continue;
            };
            let mut lost = stored.clone();
            if lost
                .lose(MAX_LOSS_REASON, DELETED_DETAIL, event.time)
                .is_err()
            {
                continue;
            }
            if !opportunities::update(tx, &lost, &stored).await? {
                anyhow::bail!("opportunity {id} changed under the consumer's lock");
            }
            let lost_event = deal_lost(&lost, &EventCustomer::default(), &cause);
            crm_events::outbox::append_events(tx, &[lost_event]).await?;
        }
        if !open.is_empty() {
            tracing::info!(tenant_id = %tenant, customer_id = %customer, closed = open.len(), "the deleted customer's open opportunities are lost");
        }
        Ok(())
    }
}

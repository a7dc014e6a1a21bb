//! The customer context's events (`crm.customer.events.v1`), each built here from the
//! aggregate as it now stands and nowhere else: a use case says which happened and who caused
//! it, this module says what the event carries (the whole customer, so a consumer never has to
//! call back).

use crm_core::UserId;
use crm_core::api::timestamp;
use crm_events::{Causation, Envelope, OutboxEvent};
use crm_proto::crm::customer::events::v1 as events;
use uuid::Uuid;

use super::Millis;
use super::customer::Customer;
use super::messages::{contact_pb, customer_pb};

/// Who caused a change, in answer to which request, and when.
#[derive(Clone, Copy, Debug)]
pub struct Cause<'a> {
    /// The user whose call it was.
    pub by: UserId,
    /// The request's correlation id and trace.
    pub causation: &'a Causation,
    /// When it happened.
    pub at: Millis,
}

/// `CustomerCreated`.
pub fn customer_created(c: &Customer, cause: &Cause) -> OutboxEvent {
    let created = events::CustomerCreated {
        customer: Some(customer_pb(c)),
        created_by_user_id: cause.by.to_string(),
    };
    event(c, &created, cause)
}

/// `CustomerUpdated`, naming the fields that changed.
pub fn customer_updated(c: &Customer, changed_fields: Vec<String>, cause: &Cause) -> OutboxEvent {
    let updated = events::CustomerUpdated {
        customer: Some(customer_pb(c)),
        changed_fields,
        updated_by_user_id: cause.by.to_string(),
    };
    event(c, &updated, cause)
}

/// `CustomerDeleted`.
pub fn customer_deleted(
    c: &Customer,
    cause: &Cause,
    close_open_opportunities: bool,
) -> OutboxEvent {
    let deleted = events::CustomerDeleted {
        customer_id: c.id.to_string(),
        display_name: c.display_name.clone(),
        email: c.email.clone().unwrap_or_default(),
        deleted_by_user_id: cause.by.to_string(),
        delete_time: Some(timestamp(cause.at)),
        close_open_opportunities,
    };
    event(c, &deleted, cause)
}

/// `CustomerRestored`.
pub fn customer_restored(c: &Customer, cause: &Cause) -> OutboxEvent {
    let restored = events::CustomerRestored {
        customer: Some(customer_pb(c)),
        restored_by_user_id: cause.by.to_string(),
    };
    event(c, &restored, cause)
}

/// `CustomerPurged`, for a deleted customer the purge removes at `at`. Caused by nobody's
/// request: a fresh correlation.
pub fn customer_purged(c: &Customer, at: Millis) -> OutboxEvent {
    let purged = events::CustomerPurged {
        customer_id: c.id.to_string(),
        delete_time: c.deleted_at.map(timestamp),
        purge_time: Some(timestamp(at)),
    };
    let causation = Causation::default();
    let cause = Cause {
        by: UserId::from(Uuid::nil()),
        causation: &causation,
        at,
    };
    event(c, &purged, &cause)
}

/// `ContactAdded` for the customer's contact `contact_id`.
pub fn contact_added(c: &Customer, contact_id: Uuid, cause: &Cause) -> OutboxEvent {
    let added = events::ContactAdded {
        customer_id: c.id.to_string(),
        contact: c.contact(contact_id).map(|contact| contact_pb(c, contact)),
        added_by_user_id: cause.by.to_string(),
    };
    event(c, &added, cause)
}

/// `ContactUpdated` for the customer's contact `contact_id`, naming the fields that changed.
pub fn contact_updated(
    c: &Customer,
    contact_id: Uuid,
    changed_fields: Vec<String>,
    cause: &Cause,
) -> OutboxEvent {
    let updated = events::ContactUpdated {
        customer_id: c.id.to_string(),
        contact: c.contact(contact_id).map(|contact| contact_pb(c, contact)),
        changed_fields,
        updated_by_user_id: cause.by.to_string(),
    };
    event(c, &updated, cause)
}

/// `ContactRemoved`.
pub fn contact_removed(c: &Customer, contact_id: Uuid, cause: &Cause) -> OutboxEvent {
    let removed = events::ContactRemoved {
        customer_id: c.id.to_string(),
        contact_id: contact_id.to_string(),
        removed_by_user_id: cause.by.to_string(),
        remove_time: Some(timestamp(cause.at)),
    };
    event(c, &removed, cause)
}

/// An event of `customer`, bound for the outbox.
fn event<M: prost::Message + prost::Name>(
    customer: &Customer,
    message: &M,
    cause: &Cause,
) -> OutboxEvent {
    let mut envelope = Envelope::new(
        "crm.customer",
        customer.tenant_id,
        customer.id,
        message,
        cause.causation,
    );
    envelope.time = cause.at;
    OutboxEvent {
        aggregate_type: "customer",
        envelope,
    }
}

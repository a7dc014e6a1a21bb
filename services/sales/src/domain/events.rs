//! The sales context's events (`crm.sales.events.v1`), each built here from the aggregate as it
//! now stands and nowhere else: a use case says which happened and who caused it, this module
//! says what the event carries. Each is dated when its aggregate last changed.

use crm_core::UserId;
use crm_core::api::timestamp;
use crm_events::{Causation, Envelope, OutboxEvent};
use crm_proto::crm::sales::events::v1 as events;
use uuid::Uuid;

use super::Millis;
use super::lead::Lead;
use super::messages::{deal_pb, lead_pb, money_pb};
use super::opportunity::{Deal, Opportunity};
use super::pipeline::Pipeline;

/// Who caused a change, and in answer to which request.
#[derive(Clone, Copy, Debug)]
pub struct Cause<'a> {
    /// The user (or service) whose call it was.
    pub by: UserId,
    /// The request's correlation id and trace.
    pub causation: &'a Causation,
}

/// The customer as a closing event names it ('' where it is not known), so the notification
/// context can thank or ask them without calling back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventCustomer {
    /// Its display name.
    pub name: String,
    /// Its email address.
    pub email: String,
    /// Its mobile number (E.164).
    pub mobile: String,
}

/// `LeadCreated`.
pub fn lead_created(lead: &Lead, cause: &Cause) -> OutboxEvent {
    let created = events::LeadCreated {
        lead: Some(lead_pb(lead)),
        created_by_user_id: cause.by.to_string(),
    };
    lead_event(lead, &created, cause)
}

/// `LeadAssigned`: the lead now belongs to its owner; `previous` had it before.
pub fn lead_assigned(lead: &Lead, previous: Option<UserId>, cause: &Cause) -> OutboxEvent {
    let event = events::LeadAssigned {
        lead_id: lead.id.to_string(),
        owner_id: lead.owner_id.map(|o| o.to_string()).unwrap_or_default(),
        previous_owner_id: previous.map(|o| o.to_string()).unwrap_or_default(),
        assigned_by_user_id: cause.by.to_string(),
        assign_time: Some(timestamp(lead.updated_at)),
    };
    lead_event(lead, &event, cause)
}

/// `LeadDeleted`: restorable until its purge.
pub fn lead_deleted(lead: &Lead, cause: &Cause) -> OutboxEvent {
    let deleted = events::LeadDeleted {
        lead_id: lead.id.to_string(),
        display_name: lead_name(lead),
        owner_id: lead.owner_id.map(|o| o.to_string()).unwrap_or_default(),
        deleted_by_user_id: cause.by.to_string(),
        delete_time: Some(timestamp(lead.updated_at)),
    };
    lead_event(lead, &deleted, cause)
}

/// `LeadRestored`: back as it was.
pub fn lead_restored(lead: &Lead, cause: &Cause) -> OutboxEvent {
    let restored = events::LeadRestored {
        lead: Some(lead_pb(lead)),
        restored_by_user_id: cause.by.to_string(),
    };
    lead_event(lead, &restored, cause)
}

/// `LeadPurged` at `at`: gone for good. Nobody's request caused it.
pub fn lead_purged(lead: &Lead, at: Millis) -> OutboxEvent {
    let purged = events::LeadPurged {
        lead_id: lead.id.to_string(),
        delete_time: lead.deleted_at.map(timestamp),
        purge_time: Some(timestamp(at)),
    };
    let causation = Causation::default();
    let cause = Cause {
        by: UserId::from(Uuid::nil()),
        causation: &causation,
    };
    event("lead", lead.tenant_id, lead.id, at, &purged, &cause)
}

/// A lead as messages name it: the person, and the company if any.
pub fn lead_name(lead: &Lead) -> String {
    [lead.contact_name.as_str(), lead.company_name.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `OpportunityCreated`: opened directly, not from a lead.
pub fn opportunity_created(o: &Opportunity, cause: &Cause) -> OutboxEvent {
    let event = events::OpportunityCreated {
        opportunity: Some(super::messages::opportunity_pb(o)),
        created_by_user_id: cause.by.to_string(),
    };
    opportunity_event(o, &event, cause)
}

/// `LeadQualified` (or disqualified, with `qualified` false), with the reason given.
pub fn lead_qualified(lead: &Lead, qualified: bool, reason: &str, cause: &Cause) -> OutboxEvent {
    let event = events::LeadQualified {
        lead_id: lead.id.to_string(),
        qualified,
        score: lead.score,
        reason: reason.to_owned(),
        owner_id: lead.owner_id.map(|o| o.to_string()).unwrap_or_default(),
        qualified_by_user_id: cause.by.to_string(),
        qualify_time: Some(timestamp(lead.updated_at)),
    };
    lead_event(lead, &event, cause)
}

/// `LeadConverted`: the lead became `opportunity` of `customer_id` (made by the conversion
/// when `customer_created`), at `at`. It is the opportunity's event: the saga's last write.
pub fn lead_converted(
    lead_id: Uuid,
    customer_id: Uuid,
    customer_created: bool,
    opportunity: &Opportunity,
    at: Millis,
    cause: &Cause,
) -> OutboxEvent {
    let event = events::LeadConverted {
        lead_id: lead_id.to_string(),
        customer_id: customer_id.to_string(),
        customer_created,
        opportunity_id: opportunity.id.to_string(),
        pipeline_id: opportunity.pipeline_id.to_string(),
        amount: Some(money_pb(&opportunity.amount)),
        owner_id: opportunity
            .owner_id
            .map(|o| o.to_string())
            .unwrap_or_default(),
        converted_by_user_id: cause.by.to_string(),
        convert_time: Some(timestamp(at)),
    };
    opportunity_event(opportunity, &event, cause)
}

/// `OpportunityStageChanged` from stage `from` of `pipeline` to where the opportunity now is.
pub fn opportunity_stage_changed(
    o: &Opportunity,
    pipeline: &Pipeline,
    from: Uuid,
    cause: &Cause,
) -> OutboxEvent {
    let name_of = |id: Uuid| {
        pipeline
            .stages
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
            .unwrap_or_default()
    };
    let event = events::OpportunityStageChanged {
        opportunity_id: o.id.to_string(),
        opportunity_name: o.name.clone(),
        pipeline_id: o.pipeline_id.to_string(),
        from_stage_id: from.to_string(),
        from_stage_name: name_of(from),
        to_stage_id: o.stage_id.to_string(),
        to_stage_name: name_of(o.stage_id),
        probability: o.probability,
        amount: Some(money_pb(&o.amount)),
        owner_id: o.owner_id.map(|u| u.to_string()).unwrap_or_default(),
        changed_by_user_id: cause.by.to_string(),
        change_time: Some(timestamp(o.updated_at)),
    };
    opportunity_event(o, &event, cause)
}

/// `DealWon`: `o` was won, booking `deal`.
pub fn deal_won(
    o: &Opportunity,
    deal: &Deal,
    customer: &EventCustomer,
    cause: &Cause,
) -> OutboxEvent {
    let event = events::DealWon {
        deal: Some(deal_pb(deal)),
        customer_name: customer.name.clone(),
        customer_email: customer.email.clone(),
        won_by_user_id: cause.by.to_string(),
        customer_mobile: customer.mobile.clone(),
    };
    opportunity_event(o, &event, cause)
}

/// `DealLost`: `o` was lost, for its loss reason.
pub fn deal_lost(o: &Opportunity, customer: &EventCustomer, cause: &Cause) -> OutboxEvent {
    let event = events::DealLost {
        opportunity_id: o.id.to_string(),
        opportunity_name: o.name.clone(),
        customer_id: o.customer_id.to_string(),
        customer_name: customer.name.clone(),
        customer_email: customer.email.clone(),
        customer_mobile: customer.mobile.clone(),
        owner_id: o.owner_id.map(|u| u.to_string()).unwrap_or_default(),
        amount: Some(money_pb(&o.amount)),
        loss_reason: o.loss_reason,
        loss_detail: o.loss_detail.clone(),
        lost_by_user_id: cause.by.to_string(),
        close_time: o.closed_at.map(timestamp),
    };
    opportunity_event(o, &event, cause)
}

/// `OpportunityReopened`: `o`, which was `previous` (won or lost), is open again; `deal` was
/// withdrawn when it was won.
pub fn opportunity_reopened(
    o: &Opportunity,
    previous: super::opportunity::OpportunityStatus,
    deal: Option<Uuid>,
    cause: &Cause,
) -> OutboxEvent {
    let event = events::OpportunityReopened {
        opportunity_id: o.id.to_string(),
        opportunity_name: o.name.clone(),
        customer_id: o.customer_id.to_string(),
        owner_id: o.owner_id.map(|u| u.to_string()).unwrap_or_default(),
        previous_status: previous as i32,
        deal_id: deal.map(|d| d.to_string()).unwrap_or_default(),
        stage_id: o.stage_id.to_string(),
        amount: Some(money_pb(&o.amount)),
        reopened_by_user_id: cause.by.to_string(),
        reopen_time: Some(timestamp(o.updated_at)),
    };
    opportunity_event(o, &event, cause)
}

/// `ApprovalRequested` (its approval waiting) or `ApprovalDecided` (decided) for `o`.
pub fn approval_event(o: &Opportunity, cause: &Cause) -> Option<OutboxEvent> {
    use super::opportunity::ApprovalState;
    let approval = o.approval.as_ref()?;
    let (id, name, customer, owner) = (
        o.id.to_string(),
        o.name.clone(),
        o.customer_id.to_string(),
        o.owner_id.map(|u| u.to_string()).unwrap_or_default(),
    );
    let shown = Some(super::messages::approval_pb(approval));
    Some(if approval.state == ApprovalState::Pending {
        let event = events::ApprovalRequested {
            opportunity_id: id,
            opportunity_name: name,
            customer_id: customer,
            owner_id: owner,
            approval: shown,
        };
        opportunity_event(o, &event, cause)
    } else {
        let event = events::ApprovalDecided {
            opportunity_id: id,
            opportunity_name: name,
            customer_id: customer,
            owner_id: owner,
            approval: shown,
        };
        opportunity_event(o, &event, cause)
    })
}

fn lead_event<M: prost::Message + prost::Name>(
    lead: &Lead,
    message: &M,
    cause: &Cause,
) -> OutboxEvent {
    event(
        "lead",
        lead.tenant_id,
        lead.id,
        lead.updated_at,
        message,
        cause,
    )
}

fn opportunity_event<M: prost::Message + prost::Name>(
    o: &Opportunity,
    message: &M,
    cause: &Cause,
) -> OutboxEvent {
    event(
        "opportunity",
        o.tenant_id,
        o.id,
        o.updated_at,
        message,
        cause,
    )
}

/// An event of an aggregate for the outbox, dated `time`, carrying the request's correlation
/// id and trace.
fn event<M: prost::Message + prost::Name>(
    aggregate_type: &'static str,
    tenant: crm_core::TenantId,
    subject: Uuid,
    time: Millis,
    message: &M,
    cause: &Cause,
) -> OutboxEvent {
    let mut envelope = Envelope::new("crm.sales", tenant, subject, message, cause.causation);
    envelope.time = time;
    OutboxEvent {
        aggregate_type,
        envelope,
    }
}

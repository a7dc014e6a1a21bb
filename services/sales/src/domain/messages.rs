//! The aggregates as the contract's messages: what responses and events carry.

use crm_core::api::timestamp;
use crm_proto::crm::common::v1 as common;
use crm_proto::crm::sales::v1 as pb;
use crm_proto::google::r#type::Money as MoneyPb;

use crate::domain::lead::Lead;
use crate::domain::money::Money;
use crate::domain::opportunity::{Approval, Deal, Opportunity};

/// Money as `google.type.Money`.
pub fn money_pb(m: &Money) -> MoneyPb {
    MoneyPb {
        currency_code: m.currency_code().to_owned(),
        units: m.units,
        nanos: m.nanos,
    }
}

/// A lead.
pub fn lead_pb(l: &Lead) -> pb::Lead {
    pb::Lead {
        id: l.id.to_string(),
        tenant_id: l.tenant_id.to_string(),
        contact_name: l.contact_name.clone(),
        company_name: l.company_name.clone(),
        email: l.email.clone().unwrap_or_default(),
        phone: l.phone.as_ref().map(|p| common::PhoneNumber {
            kind: 0,
            e164_number: p.clone(),
            extension: String::new(),
            primary: true,
            display_number: crm_core::text::phone_display(p),
        }),
        source: l.source,
        status: l.status as i32,
        score: l.score,
        owner_id: l.owner_id.map(|o| o.to_string()).unwrap_or_default(),
        estimated_value: l.estimated_value.as_ref().map(money_pb),
        interest: l.interest.clone(),
        notes: l.notes.clone(),
        tags: l.tags.clone(),
        converted_customer_id: l
            .converted_customer_id
            .map(|c| c.to_string())
            .unwrap_or_default(),
        converted_opportunity_id: l
            .converted_opportunity_id
            .map(|o| o.to_string())
            .unwrap_or_default(),
        create_time: Some(timestamp(l.created_at)),
        update_time: Some(timestamp(l.updated_at)),
        etag: l.version.to_string(),
        delete_time: l.deleted_at.map(timestamp),
        purge_time: l.purge_at().map(timestamp),
    }
}

/// An opportunity.
pub fn opportunity_pb(o: &Opportunity) -> pb::Opportunity {
    let id = |u: Option<uuid::Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
    pb::Opportunity {
        id: o.id.to_string(),
        tenant_id: o.tenant_id.to_string(),
        name: o.name.clone(),
        customer_id: o.customer_id.to_string(),
        lead_id: id(o.lead_id),
        pipeline_id: o.pipeline_id.to_string(),
        stage_id: o.stage_id.to_string(),
        owner_id: o.owner_id.map(|u| u.to_string()).unwrap_or_default(),
        amount: Some(money_pb(&o.amount)),
        probability: o.probability,
        expected_close_time: o.expected_close_at.map(timestamp),
        status: o.status as i32,
        loss_reason: o.loss_reason,
        loss_detail: o.loss_detail.clone(),
        deal_id: id(o.deal_id),
        stage_history: o
            .stage_history
            .iter()
            .map(|c| pb::StageChange {
                from_stage_id: id(c.from_stage_id),
                to_stage_id: c.to_stage_id.to_string(),
                changed_by_user_id: c.changed_by.to_string(),
                change_time: Some(timestamp(c.changed_at)),
            })
            .collect(),
        notes: o.notes.clone(),
        create_time: Some(timestamp(o.created_at)),
        update_time: Some(timestamp(o.updated_at)),
        close_time: o.closed_at.map(timestamp),
        etag: o.version.to_string(),
        reopenable_until: o.reopenable_until().map(timestamp),
        approval: o.approval.as_ref().map(approval_pb),
    }
}

/// An approval request.
pub fn approval_pb(a: &Approval) -> pb::Approval {
    pb::Approval {
        state: a.state as i32,
        amount: Some(money_pb(&a.amount)),
        note: a.note.clone(),
        requested_by_user_id: a.requested_by.to_string(),
        request_time: Some(timestamp(a.requested_at)),
        decided_by_user_id: a.decided_by.map(|u| u.to_string()).unwrap_or_default(),
        reason: a.reason.clone(),
        decide_time: a.decided_at.map(timestamp),
    }
}

/// A deal.
pub fn deal_pb(d: &Deal) -> pb::Deal {
    pb::Deal {
        id: d.id.to_string(),
        tenant_id: d.tenant_id.to_string(),
        opportunity_id: d.opportunity_id.to_string(),
        customer_id: d.customer_id.to_string(),
        pipeline_id: d.pipeline_id.to_string(),
        owner_id: d.owner_id.map(|u| u.to_string()).unwrap_or_default(),
        name: d.name.clone(),
        amount: Some(money_pb(&d.amount)),
        notes: d.notes.clone(),
        close_time: Some(timestamp(d.closed_at)),
    }
}

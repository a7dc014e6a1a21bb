//! The aggregates as the contract's messages: what responses and events carry.

use crm_core::api::timestamp;
use crm_proto::crm::common::v1 as common;
use crm_proto::crm::sales::v1 as pb;
use crm_proto::google::r#type::Money as MoneyPb;

use crate::domain::lead::Lead;
use crate::domain::money::Money;

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
    }
}

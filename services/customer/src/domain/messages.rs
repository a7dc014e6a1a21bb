//! The aggregate as the contract's messages: what responses carry and what events carry (the
//! whole customer, so a consumer never has to call back).

use crm_core::api::timestamp;
use crm_proto::crm::common::v1 as common;
use crm_proto::crm::customer::v1 as pb;

use crate::domain::customer::{Contact, Customer, CustomerType, EmailAddress, Phone, Status};
use crate::domain::values::CustomValue;

fn email_pb(e: &EmailAddress) -> common::EmailAddress {
    common::EmailAddress {
        kind: e.kind,
        address: e.address.clone(),
        primary: e.primary,
    }
}

fn phone_pb(p: &Phone) -> common::PhoneNumber {
    common::PhoneNumber {
        kind: p.kind,
        e164_number: p.number.clone(),
        extension: p.extension.clone(),
        primary: p.primary,
        display_number: crm_core::text::phone_display(&p.number),
    }
}

fn value_pb(v: &CustomValue) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match v {
        CustomValue::Text(s) | CustomValue::Date(s) => Kind::StringValue(s.clone()),
        CustomValue::Number(n) => Kind::NumberValue(*n),
        CustomValue::Bool(b) => Kind::BoolValue(*b),
    };
    prost_types::Value { kind: Some(kind) }
}

/// A contact of `customer`.
pub fn contact_pb(customer: &Customer, c: &Contact) -> pb::Contact {
    pb::Contact {
        id: c.id.to_string(),
        customer_id: customer.id.to_string(),
        given_name: c.given_name.clone(),
        family_name: c.family_name.clone(),
        job_title: c.job_title.clone(),
        department: c.department.clone(),
        emails: c.emails.iter().map(email_pb).collect(),
        phones: c.phones.iter().map(phone_pb).collect(),
        primary: customer.primary_contact_id == Some(c.id),
        notes: c.notes.clone(),
        create_time: Some(timestamp(c.created_at)),
        update_time: Some(timestamp(c.updated_at)),
        etag: c.version.to_string(),
    }
}

/// The customer, contacts included.
pub fn customer_pb(c: &Customer) -> pb::Customer {
    pb::Customer {
        id: c.id.to_string(),
        tenant_id: c.tenant_id.to_string(),
        r#type: match c.customer_type {
            CustomerType::Individual => pb::CustomerType::Individual,
            CustomerType::Business => pb::CustomerType::Business,
        } as i32,
        display_name: c.display_name.clone(),
        individual: (c.customer_type == CustomerType::Individual).then(|| pb::IndividualDetails {
            given_name: c.individual.given_name.clone(),
            family_name: c.individual.family_name.clone(),
        }),
        business: (c.customer_type == CustomerType::Business).then(|| pb::BusinessDetails {
            legal_name: c.business.legal_name.clone(),
            registration_number: c.business.registration_number.clone(),
            tax_id: c.business.tax_id.clone(),
            industry: c.business.industry.clone(),
            website: c.business.website.clone(),
        }),
        status: status_pb(c.status) as i32,
        owner_id: c.owner_id.map(|o| o.to_string()).unwrap_or_default(),
        email: c.email.clone().unwrap_or_default(),
        emails: c.emails.iter().map(email_pb).collect(),
        phones: c.phones.iter().map(phone_pb).collect(),
        addresses: c
            .addresses
            .iter()
            .map(|a| common::Address {
                kind: a.kind,
                lines: a.lines.clone(),
                locality: a.locality.clone(),
                administrative_area: a.administrative_area.clone(),
                postal_code: a.postal_code.clone(),
                region_code: a.region_code.clone(),
                primary: a.primary,
            })
            .collect(),
        social_profiles: c
            .social_profiles
            .iter()
            .map(|s| common::SocialProfile {
                network: s.network,
                handle: s.handle.clone(),
                url: s.url.clone(),
            })
            .collect(),
        tags: c.tags.clone(),
        custom_fields: c
            .custom_fields
            .iter()
            .map(|(k, v)| (k.clone(), value_pb(v)))
            .collect(),
        notes: c.notes.clone(),
        contacts: c.contacts.iter().map(|k| contact_pb(c, k)).collect(),
        primary_contact_id: c
            .primary_contact_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        create_time: Some(timestamp(c.created_at)),
        update_time: Some(timestamp(c.updated_at)),
        etag: c.etag(),
        delete_time: c.deleted_at.map(timestamp),
        purge_time: c.purge_at().map(timestamp),
    }
}

/// The contract's status.
pub fn status_pb(s: Status) -> pb::CustomerStatus {
    match s {
        Status::Prospect => pb::CustomerStatus::Prospect,
        Status::Active => pb::CustomerStatus::Active,
        Status::Inactive => pb::CustomerStatus::Inactive,
    }
}

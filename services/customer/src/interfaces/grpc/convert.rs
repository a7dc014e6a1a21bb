//! Requests into the aggregate's input: sizes bounded before any rule reads them, the
//! contract's enums checked (a value it does not define is a field violation, never ignored),
//! ids parsed, custom fields typed.

use std::collections::BTreeMap;

use crm_core::api::{self, bounded};
use crm_core::{Error, Result, UserId};
use crm_proto::crm::common::v1 as common;
use crm_proto::crm::customer::v1 as pb;

use crate::domain::customer::{
    Address, Business, ContactInput, CustomerInput, CustomerType, EmailAddress, Individual, Phone,
    SocialProfile, Status,
};
use crate::domain::values::RawValue;

/// The longest string any field may carry, in bytes (the rules then count characters).
pub const MAX_TEXT: usize = 16 * 1024;
/// The most items any list field may carry (the rules allow fewer).
pub const MAX_ITEMS: usize = 100;

/// Problems found while reading a request, each naming its field.
#[derive(Default)]
pub struct Problems(Vec<(String, String)>);

impl Problems {
    fn add(&mut self, field: String, problem: impl Into<String>) {
        self.0.push((field, problem.into()));
    }

    fn text(&mut self, field: impl Fn() -> String, value: &str) {
        if bounded("", value, MAX_TEXT).is_err() {
            self.add(field(), format!("must be at most {MAX_TEXT} bytes"));
        }
    }

    fn items(&mut self, field: &str, n: usize) {
        if n > MAX_ITEMS {
            self.add(
                field.to_owned(),
                format!("must have at most {MAX_ITEMS} items"),
            );
        }
    }

    fn kind<E: TryFrom<i32>>(&mut self, field: String, raw: i32) {
        if E::try_from(raw).is_err() {
            self.add(field, format!("{raw} is not a value of this enum"));
        }
    }

    /// `INVALID_ARGUMENT` naming every problem, or nothing.
    pub fn done(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_fields(self.0))
        }
    }
}

fn emails(p: &mut Problems, field: &str, list: &[common::EmailAddress]) -> Vec<EmailAddress> {
    p.items(field, list.len());
    list.iter()
        .enumerate()
        .map(|(i, e)| {
            p.kind::<common::EmailKind>(format!("{field}[{i}].kind"), e.kind);
            p.text(|| format!("{field}[{i}].address"), &e.address);
            EmailAddress {
                kind: e.kind,
                address: e.address.clone(),
                primary: e.primary,
            }
        })
        .collect()
}

fn phones(p: &mut Problems, field: &str, list: &[common::PhoneNumber]) -> Vec<Phone> {
    p.items(field, list.len());
    list.iter()
        .enumerate()
        .map(|(i, n)| {
            p.kind::<common::PhoneKind>(format!("{field}[{i}].kind"), n.kind);
            p.text(|| format!("{field}[{i}].e164_number"), &n.e164_number);
            p.text(|| format!("{field}[{i}].extension"), &n.extension);
            Phone {
                kind: n.kind,
                number: n.e164_number.clone(),
                extension: n.extension.clone(),
                primary: n.primary,
            }
        })
        .collect()
}

fn raw_value(v: &prost_types::Value) -> RawValue {
    use prost_types::value::Kind;
    match &v.kind {
        Some(Kind::StringValue(s)) => RawValue::Text(s.clone()),
        Some(Kind::NumberValue(n)) => RawValue::Number(*n),
        Some(Kind::BoolValue(b)) => RawValue::Bool(*b),
        Some(Kind::ListValue(_)) => RawValue::Other("a list"),
        Some(Kind::StructValue(_)) => RawValue::Other("a map"),
        Some(Kind::NullValue(_)) | None => RawValue::Other("null"),
    }
}

/// The contract's type, status and owner id of `c` (`field` prefixes the names).
fn head(
    p: &mut Problems,
    c: &pb::Customer,
) -> (Option<CustomerType>, Option<Status>, Option<UserId>) {
    let customer_type = match pb::CustomerType::try_from(c.r#type) {
        Ok(pb::CustomerType::Individual) => Some(CustomerType::Individual),
        Ok(pb::CustomerType::Business) => Some(CustomerType::Business),
        Ok(pb::CustomerType::Unspecified) => None,
        Err(_) => {
            p.add(
                "customer.type".into(),
                format!("{} is not a value of this enum", c.r#type),
            );
            None
        }
    };
    let status = match pb::CustomerStatus::try_from(c.status) {
        Ok(pb::CustomerStatus::Prospect) => Some(Status::Prospect),
        Ok(pb::CustomerStatus::Active) => Some(Status::Active),
        Ok(pb::CustomerStatus::Inactive) => Some(Status::Inactive),
        Ok(pb::CustomerStatus::Unspecified) => None,
        Err(_) => {
            p.add(
                "customer.status".into(),
                format!("{} is not a value of this enum", c.status),
            );
            None
        }
    };
    let owner = match api::optional_uuid("customer.owner_id", &c.owner_id, "a user id") {
        Ok(owner) => owner.map(UserId::from),
        Err(e) => {
            p.0.extend(e.field_violations().iter().cloned());
            None
        }
    };
    (customer_type, status, owner)
}

/// What a client sent as a customer, bounded and with its enums checked.
pub fn customer_input(c: &pb::Customer) -> Result<CustomerInput> {
    let mut p = Problems::default();
    let (customer_type, status, owner_id) = head(&mut p, c);
    let individual = c.individual.clone().unwrap_or_default();
    let business = c.business.clone().unwrap_or_default();
    for (field, value) in [
        ("customer.display_name", &c.display_name),
        ("customer.email", &c.email),
        ("customer.notes", &c.notes),
        ("customer.individual.given_name", &individual.given_name),
        ("customer.individual.family_name", &individual.family_name),
        ("customer.business.legal_name", &business.legal_name),
        (
            "customer.business.registration_number",
            &business.registration_number,
        ),
        ("customer.business.tax_id", &business.tax_id),
        ("customer.business.industry", &business.industry),
        ("customer.business.website", &business.website),
    ] {
        p.text(|| field.to_owned(), value);
    }
    let emails = emails(&mut p, "customer.emails", &c.emails);
    let phones = phones(&mut p, "customer.phones", &c.phones);
    p.items("customer.addresses", c.addresses.len());
    let addresses = c
        .addresses
        .iter()
        .enumerate()
        .map(|(i, a)| {
            p.kind::<common::AddressKind>(format!("customer.addresses[{i}].kind"), a.kind);
            p.items(&format!("customer.addresses[{i}].lines"), a.lines.len());
            for value in a.lines.iter().chain([
                &a.locality,
                &a.administrative_area,
                &a.postal_code,
                &a.region_code,
            ]) {
                p.text(|| format!("customer.addresses[{i}]"), value);
            }
            Address {
                kind: a.kind,
                lines: a.lines.clone(),
                locality: a.locality.clone(),
                administrative_area: a.administrative_area.clone(),
                postal_code: a.postal_code.clone(),
                region_code: a.region_code.clone(),
                primary: a.primary,
            }
        })
        .collect();
    p.items("customer.social_profiles", c.social_profiles.len());
    let social_profiles = c
        .social_profiles
        .iter()
        .enumerate()
        .map(|(i, s)| {
            p.kind::<common::SocialNetwork>(
                format!("customer.social_profiles[{i}].network"),
                s.network,
            );
            p.text(|| format!("customer.social_profiles[{i}]"), &s.handle);
            p.text(|| format!("customer.social_profiles[{i}]"), &s.url);
            SocialProfile {
                network: s.network,
                handle: s.handle.clone(),
                url: s.url.clone(),
            }
        })
        .collect();
    p.items("customer.tags", c.tags.len());
    for tag in &c.tags {
        p.text(|| "customer.tags".to_owned(), tag);
    }
    p.items("customer.contacts", c.contacts.len());
    let mut contacts = Vec::with_capacity(c.contacts.len());
    for contact in &c.contacts {
        match contact_input(contact) {
            Ok(input) => contacts.push(input),
            Err(e) => p.0.extend(e.field_violations().iter().map(|(f, d)| {
                (
                    format!(
                        "customer.{}",
                        f.replacen("contact.", &format!("contacts[{}].", contacts.len()), 1)
                    ),
                    d.clone(),
                )
            })),
        }
    }
    p.items("customer.custom_fields", c.custom_fields.len());
    let custom_fields: BTreeMap<String, RawValue> = c
        .custom_fields
        .iter()
        .filter(|(k, _)| k.len() <= MAX_TEXT)
        .map(|(k, v)| (k.clone(), raw_value(v)))
        .collect();
    p.done()?;
    Ok(CustomerInput {
        customer_type,
        display_name: c.display_name.clone(),
        individual: Individual {
            given_name: individual.given_name,
            family_name: individual.family_name,
        },
        business: Business {
            legal_name: business.legal_name,
            registration_number: business.registration_number,
            tax_id: business.tax_id,
            industry: business.industry,
            website: business.website,
        },
        status,
        owner_id,
        email: c.email.clone(),
        emails,
        phones,
        addresses,
        social_profiles,
        tags: c.tags.clone(),
        custom_fields,
        notes: c.notes.clone(),
        contacts,
    })
}

/// The fields of `c` that are set, for an update without a mask (AIP-134).
pub fn set_fields(c: &pb::Customer) -> Vec<(&'static str, bool)> {
    vec![
        ("type", c.r#type != 0),
        ("display_name", !c.display_name.is_empty()),
        ("individual", c.individual.is_some()),
        ("business", c.business.is_some()),
        ("status", c.status != 0),
        ("owner_id", !c.owner_id.is_empty()),
        ("email", !c.email.is_empty()),
        ("emails", !c.emails.is_empty()),
        ("phones", !c.phones.is_empty()),
        ("addresses", !c.addresses.is_empty()),
        ("social_profiles", !c.social_profiles.is_empty()),
        ("tags", !c.tags.is_empty()),
        ("custom_fields", !c.custom_fields.is_empty()),
        ("notes", !c.notes.is_empty()),
    ]
}

/// What a client sent as a contact.
pub fn contact_input(c: &pb::Contact) -> Result<ContactInput> {
    let mut p = Problems::default();
    for (field, value) in [
        ("contact.given_name", &c.given_name),
        ("contact.family_name", &c.family_name),
        ("contact.job_title", &c.job_title),
        ("contact.department", &c.department),
        ("contact.notes", &c.notes),
    ] {
        p.text(|| field.to_owned(), value);
    }
    let emails = emails(&mut p, "contact.emails", &c.emails);
    let phones = phones(&mut p, "contact.phones", &c.phones);
    p.done()?;
    Ok(ContactInput {
        given_name: c.given_name.clone(),
        family_name: c.family_name.clone(),
        job_title: c.job_title.clone(),
        department: c.department.clone(),
        emails,
        phones,
        notes: c.notes.clone(),
    })
}

/// The fields of a contact that are set, for an update without a mask.
pub fn contact_set_fields(c: &pb::Contact) -> Vec<(&'static str, bool)> {
    vec![
        ("given_name", !c.given_name.is_empty()),
        ("family_name", !c.family_name.is_empty()),
        ("job_title", !c.job_title.is_empty()),
        ("department", !c.department.is_empty()),
        ("emails", !c.emails.is_empty()),
        ("phones", !c.phones.is_empty()),
        ("notes", !c.notes.is_empty()),
    ]
}

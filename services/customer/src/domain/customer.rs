//! The customer aggregate: an individual or a business, with its contact points, tags, custom
//! fields and contacts. Every change goes through it, so its rules hold: a valid type and name,
//! normal-form emails and phones, at most one primary email, phone, address and contact, bounded
//! sizes. Changes bump the version (the etag) and the update time.

use std::collections::BTreeMap;

use crm_core::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Millis;
use super::values::{self, CustomValue, RawValue, Violation};

mod contacts;
mod deletion;
mod points;
#[cfg(test)]
mod tests;

pub use contacts::{CONTACT_UPDATABLE, Contact, ContactInput, MAX_CONTACTS};
pub use deletion::{RESTORE_WINDOW, RestoreRefusal};
use points::*;
pub use points::{Address, Business, EmailAddress, Individual, Phone, SocialProfile};

/// An individual or a business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomerType {
    /// A person.
    Individual,
    /// A company.
    Business,
}

impl CustomerType {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerType::Individual => "individual",
            CustomerType::Business => "business",
        }
    }
}

/// Where a customer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not buying yet.
    Prospect,
    /// Buying.
    Active,
    /// No longer buying.
    Inactive,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Prospect => "prospect",
            Status::Active => "active",
            Status::Inactive => "inactive",
        }
    }
}

/// A customer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Id (UUIDv7).
    pub id: Uuid,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Individual or business.
    pub customer_type: CustomerType,
    /// The name people see (derived from the names when not given).
    pub display_name: String,
    /// A person's names (individuals).
    pub individual: Individual,
    /// A company's particulars (businesses).
    pub business: Business,
    /// Prospect, active, inactive.
    pub status: Status,
    /// The user who owns it (`:own` grants reach only these).
    pub owner_id: Option<UserId>,
    /// The primary email, normalised; unique in the tenant among customers not deleted.
    pub email: Option<String>,
    /// Every email, the primary one included.
    pub emails: Vec<EmailAddress>,
    /// Phones, E.164.
    pub phones: Vec<Phone>,
    /// Addresses.
    pub addresses: Vec<Address>,
    /// Social profiles.
    pub social_profiles: Vec<SocialProfile>,
    /// Tags, lower-cased.
    pub tags: Vec<String>,
    /// Typed custom fields.
    pub custom_fields: BTreeMap<String, CustomValue>,
    /// Notes.
    pub notes: String,
    /// Contacts, in the order added.
    pub contacts: Vec<Contact>,
    /// The primary contact, one of `contacts`.
    pub primary_contact_id: Option<Uuid>,
    /// Created.
    pub created_at: Millis,
    /// Last changed.
    pub updated_at: Millis,
    /// Bumped by every change (its etag).
    pub version: i64,
    /// When it was deleted (restorable for [`RESTORE_WINDOW`], then purged); `None` while live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Millis>,
}

/// What a client sets on a customer, before the rules have read it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CustomerInput {
    /// Required at creation.
    pub customer_type: Option<CustomerType>,
    /// Empty: derived from the names.
    pub display_name: String,
    /// For individuals.
    pub individual: Individual,
    /// For businesses.
    pub business: Business,
    /// Default: prospect.
    pub status: Option<Status>,
    /// Default at creation: the creating user.
    pub owner_id: Option<UserId>,
    /// The primary email.
    pub email: String,
    /// Emails.
    pub emails: Vec<EmailAddress>,
    /// Phones as sent.
    pub phones: Vec<Phone>,
    /// Addresses.
    pub addresses: Vec<Address>,
    /// Social profiles.
    pub social_profiles: Vec<SocialProfile>,
    /// Tags.
    pub tags: Vec<String>,
    /// Custom fields as sent.
    pub custom_fields: BTreeMap<String, RawValue>,
    /// Notes.
    pub notes: String,
    /// Contacts to create with the customer (creation only; later through the contact
    /// methods).
    pub contacts: Vec<ContactInput>,
}

/// The fields an update may name.
pub const UPDATABLE: &[&str] = &[
    "type",
    "display_name",
    "individual",
    "business",
    "status",
    "owner_id",
    "email",
    "emails",
    "phones",
    "addresses",
    "social_profiles",
    "tags",
    "custom_fields",
    "notes",
];

/// The outcome of the rules: a value, or every problem found.
pub type Checked<T> = Result<T, Vec<Violation>>;

impl Customer {
    /// A new customer of `tenant` from `input`, owned by `input.owner_id` or else `creator`.
    pub fn create(
        tenant_id: TenantId,
        input: CustomerInput,
        creator: UserId,
        now: Millis,
    ) -> Checked<Customer> {
        let mut customer = Customer {
            id: Uuid::now_v7(),
            tenant_id,
            customer_type: CustomerType::Individual,
            display_name: String::new(),
            individual: Individual::default(),
            business: Business::default(),
            status: Status::Prospect,
            owner_id: Some(creator),
            email: None,
            emails: Vec::new(),
            phones: Vec::new(),
            addresses: Vec::new(),
            social_profiles: Vec::new(),
            tags: Vec::new(),
            custom_fields: BTreeMap::new(),
            notes: String::new(),
            contacts: Vec::new(),
            primary_contact_id: None,
            deleted_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let owner = input.owner_id.or(Some(creator));
        let contacts = input.contacts.clone();
        customer.set(CustomerInput {
            owner_id: owner,
            ..input
        })?;
        let mut problems = Vec::new();
        for (i, contact) in contacts.into_iter().enumerate() {
            if let Err(found) = customer.add_contact(contact, now) {
                problems.extend(found.into_iter().map(|(field, problem)| {
                    let field = field.strip_prefix("contact.").unwrap_or(&field).to_owned();
                    (format!("contacts[{i}].{field}"), problem)
                }));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        customer.version = 1;
        customer.updated_at = now;
        Ok(customer)
    }

    /// Applies the fields of `input` named in `paths` (top-level fields of [`UPDATABLE`]);
    /// returns the paths whose value changed. Nothing changes when a rule fails.
    pub fn apply(
        &mut self,
        input: CustomerInput,
        paths: &[String],
        now: Millis,
    ) -> Checked<Vec<String>> {
        let mut merged = self.input();
        for path in paths {
            match path.as_str() {
                "type" => merged.customer_type = input.customer_type,
                "display_name" => merged.display_name = input.display_name.clone(),
                "individual" => merged.individual = input.individual.clone(),
                "business" => merged.business = input.business.clone(),
                "status" => merged.status = input.status,
                "owner_id" => merged.owner_id = input.owner_id,
                "email" => merged.email = input.email.clone(),
                "emails" => merged.emails = input.emails.clone(),
                "phones" => merged.phones = input.phones.clone(),
                "addresses" => merged.addresses = input.addresses.clone(),
                "social_profiles" => merged.social_profiles = input.social_profiles.clone(),
                "tags" => merged.tags = input.tags.clone(),
                "custom_fields" => merged.custom_fields = input.custom_fields.clone(),
                "notes" => merged.notes = input.notes.clone(),
                other => {
                    return Err(vec![(
                        "update_mask".into(),
                        format!(
                            "{other:?} cannot be updated; allowed: {}",
                            UPDATABLE.join(", ")
                        ),
                    )]);
                }
            }
        }
        let before = self.clone();
        let mut next = self.clone();
        next.set(merged)?;
        let changed = next.changed_from(&before);
        if !changed.is_empty() {
            *self = next;
            self.touch(now);
        }
        Ok(changed)
    }

    fn changed_from(&self, before: &Customer) -> Vec<String> {
        let mut changed = Vec::new();
        let mut diff = |name: &str, same: bool| {
            if !same {
                changed.push(name.to_owned());
            }
        };
        diff("type", self.customer_type == before.customer_type);
        diff("display_name", self.display_name == before.display_name);
        diff("individual", self.individual == before.individual);
        diff("business", self.business == before.business);
        diff("status", self.status == before.status);
        diff("owner_id", self.owner_id == before.owner_id);
        diff("email", self.email == before.email);
        diff("emails", self.emails == before.emails);
        diff("phones", self.phones == before.phones);
        diff("addresses", self.addresses == before.addresses);
        diff(
            "social_profiles",
            self.social_profiles == before.social_profiles,
        );
        diff("tags", self.tags == before.tags);
        diff("custom_fields", self.custom_fields == before.custom_fields);
        diff("notes", self.notes == before.notes);
        changed
    }

    /// The customer as input (what an update starts from).
    pub fn input(&self) -> CustomerInput {
        CustomerInput {
            customer_type: Some(self.customer_type),
            display_name: self.display_name.clone(),
            individual: self.individual.clone(),
            business: self.business.clone(),
            status: Some(self.status),
            owner_id: self.owner_id,
            email: self.email.clone().unwrap_or_default(),
            emails: self.emails.clone(),
            phones: self.phones.clone(),
            addresses: self.addresses.clone(),
            social_profiles: self.social_profiles.clone(),
            tags: self.tags.clone(),
            custom_fields: self
                .custom_fields
                .iter()
                .map(|(k, v)| {
                    let raw = match v {
                        CustomValue::Text(s) | CustomValue::Date(s) => RawValue::Text(s.clone()),
                        CustomValue::Number(n) => RawValue::Number(*n),
                        CustomValue::Bool(b) => RawValue::Bool(*b),
                    };
                    (k.clone(), raw)
                })
                .collect(),
            notes: self.notes.clone(),
            contacts: Vec::new(),
        }
    }

    /// Checks every rule on `input` and takes it whole, or changes nothing.
    fn set(&mut self, input: CustomerInput) -> Checked<()> {
        let mut p = Problems(Vec::new());
        let customer_type = match input.customer_type {
            Some(t) => t,
            None => {
                p.add(
                    "type",
                    "must be CUSTOMER_TYPE_INDIVIDUAL or CUSTOMER_TYPE_BUSINESS",
                );
                CustomerType::Individual
            }
        };
        let individual = Individual {
            given_name: optional_name(
                &mut p,
                "individual.given_name",
                &input.individual.given_name,
            ),
            family_name: optional_name(
                &mut p,
                "individual.family_name",
                &input.individual.family_name,
            ),
        };
        let business = Business {
            legal_name: optional_name(&mut p, "business.legal_name", &input.business.legal_name),
            registration_number: p.short(
                "business.registration_number",
                &input.business.registration_number,
                64,
            ),
            tax_id: p.short("business.tax_id", &input.business.tax_id, 64),
            industry: p.short("business.industry", &input.business.industry, MAX_SHORT),
            website: p.short("business.website", &input.business.website, 2048),
        };
        if !business.website.is_empty() && !is_web_url(&business.website) {
            p.add("business.website", "must be an http:// or https:// URL");
        }
        let derived = match customer_type {
            CustomerType::Individual => {
                if individual.given_name.is_empty() && individual.family_name.is_empty() {
                    p.add("individual", "an individual needs a given or a family name");
                }
                format!("{} {}", individual.given_name, individual.family_name)
                    .trim()
                    .to_owned()
            }
            CustomerType::Business => {
                if business.legal_name.is_empty() {
                    p.add("business.legal_name", "a business needs its legal name");
                }
                business.legal_name.clone()
            }
        };
        let display_name = if input.display_name.trim().is_empty() {
            derived
        } else {
            optional_name(&mut p, "display_name", &input.display_name)
        };
        let mut email_list = emails(&mut p, "emails", &input.emails);
        let email = if input.email.trim().is_empty() {
            email_list
                .iter()
                .find(|e| e.primary)
                .map(|e| e.address.clone())
        } else {
            p.check("email", values::email(&input.email))
        };
        if let Some(primary) = &email {
            for e in &mut email_list {
                e.primary = &e.address == primary;
            }
            if !email_list.iter().any(|e| &e.address == primary) {
                email_list.insert(
                    0,
                    EmailAddress {
                        kind: 0,
                        address: primary.clone(),
                        primary: true,
                    },
                );
            }
        }
        let phones = phones(&mut p, "phones", &input.phones);
        let addresses = addresses(&mut p, &input.addresses);
        let social_profiles = social(&mut p, &input.social_profiles);
        let tags = p
            .check("tags", values::tags(&input.tags))
            .unwrap_or_default();
        let custom_fields = match values::custom_fields(input.custom_fields) {
            Ok(fields) => fields,
            Err(problems) => {
                p.0.extend(problems);
                BTreeMap::new()
            }
        };
        if input.notes.chars().count() > MAX_NOTES {
            p.add("notes", format!("must be at most {MAX_NOTES} characters"));
        }
        if !p.0.is_empty() {
            return Err(p.0);
        }
        self.customer_type = customer_type;
        self.display_name = display_name;
        self.individual = individual;
        self.business = business;
        self.status = input.status.unwrap_or(Status::Prospect);
        self.owner_id = input.owner_id;
        self.email = email;
        self.emails = email_list;
        self.phones = phones;
        self.addresses = addresses;
        self.social_profiles = social_profiles;
        self.tags = tags;
        self.custom_fields = custom_fields;
        self.notes = input.notes;
        Ok(())
    }

    /// Marks a change: the version (etag) and the update time.
    pub fn touch(&mut self, now: Millis) {
        self.version += 1;
        self.updated_at = now.max(self.updated_at);
    }

    /// The etag clients send back.
    pub fn etag(&self) -> String {
        self.version.to_string()
    }

    /// What search finds it by: names, emails, phone digits, tags, company particulars,
    /// cities, and its contacts' names and emails.
    pub fn search_text(&self) -> String {
        let mut words: Vec<&str> = vec![
            &self.display_name,
            &self.individual.given_name,
            &self.individual.family_name,
            &self.business.legal_name,
            &self.business.registration_number,
            &self.business.industry,
        ];
        words.extend(self.emails.iter().map(|e| e.address.as_str()));
        words.extend(self.tags.iter().map(String::as_str));
        words.extend(self.addresses.iter().map(|a| a.locality.as_str()));
        for c in &self.contacts {
            words.push(&c.given_name);
            words.push(&c.family_name);
            words.extend(c.emails.iter().map(|e| e.address.as_str()));
        }
        let mut text = words.join(" ");
        for phone in self
            .phones
            .iter()
            .chain(self.contacts.iter().flat_map(|c| &c.phones))
        {
            for digits in values::phone_digits(&phone.number) {
                text.push(' ');
                text.push_str(&digits);
            }
        }
        text
    }
}

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

/// A person's names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Individual {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
}

/// A company's particulars.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Business {
    /// Registered name.
    pub legal_name: String,
    /// Company registration number (e.g. SSM).
    pub registration_number: String,
    /// Tax id.
    pub tax_id: String,
    /// Industry.
    pub industry: String,
    /// Web site, `http(s)://`.
    pub website: String,
}

/// An email address. `kind` is the contract's `EmailKind` value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailAddress {
    /// Work, personal, other.
    pub kind: i32,
    /// Normalised address.
    pub address: String,
    /// The primary one.
    pub primary: bool,
}

/// A phone number. `kind` is the contract's `PhoneKind` value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// Mobile, work, home, fax, other.
    pub kind: i32,
    /// E.164 (as sent before it is parsed).
    pub number: String,
    /// Extension.
    pub extension: String,
    /// The primary one.
    pub primary: bool,
}

/// A postal address. `kind` is the contract's `AddressKind` value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Billing, shipping, office, home, other.
    pub kind: i32,
    /// Street lines.
    pub lines: Vec<String>,
    /// City or town.
    pub locality: String,
    /// State.
    pub administrative_area: String,
    /// Postcode.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub region_code: String,
    /// The primary one.
    pub primary: bool,
}

/// A social profile. `network` is the contract's `SocialNetwork` value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocialProfile {
    /// LinkedIn, Facebook, ...
    pub network: i32,
    /// Handle.
    pub handle: String,
    /// Profile URL.
    pub url: String,
}

/// A person at the customer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// Id (UUIDv7).
    pub id: Uuid,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Job title.
    pub job_title: String,
    /// Department.
    pub department: String,
    /// Emails.
    pub emails: Vec<EmailAddress>,
    /// Phones.
    pub phones: Vec<Phone>,
    /// Notes.
    pub notes: String,
    /// Created.
    pub created_at: Millis,
    /// Last changed.
    pub updated_at: Millis,
    /// Bumped by every change (its etag).
    pub version: i64,
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

/// What a client sets on a contact.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactInput {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Job title.
    pub job_title: String,
    /// Department.
    pub department: String,
    /// Emails.
    pub emails: Vec<EmailAddress>,
    /// Phones as sent.
    pub phones: Vec<Phone>,
    /// Notes.
    pub notes: String,
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

/// The contact fields an update may name.
pub const CONTACT_UPDATABLE: &[&str] = &[
    "given_name",
    "family_name",
    "job_title",
    "department",
    "emails",
    "phones",
    "notes",
];

const MAX_NAME: usize = 200;
const MAX_NOTES: usize = 10_000;
const MAX_POINTS: usize = 20;
const MAX_ADDRESS_LINES: usize = 5;
const MAX_SHORT: usize = 200;
/// The most contacts one customer holds.
pub const MAX_CONTACTS: usize = 200;

/// The outcome of the rules: a value, or every problem found.
pub type Checked<T> = Result<T, Vec<Violation>>;

struct Problems(Vec<Violation>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.push((field.into(), problem.into()));
    }

    fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|e| self.add(field, e)).ok()
    }

    fn short(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim();
        if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
        if value.chars().any(|c| c.is_control() && c != '\n') {
            self.add(field, "must not contain control characters");
        }
        value.to_owned()
    }
}

fn optional_name(problems: &mut Problems, field: &str, raw: &str) -> String {
    if raw.trim().is_empty() {
        return String::new();
    }
    problems
        .check(field, crm_core::text::name(raw, 1, MAX_NAME))
        .unwrap_or_default()
}

fn emails(problems: &mut Problems, field: &str, raw: &[EmailAddress]) -> Vec<EmailAddress> {
    if raw.len() > MAX_POINTS {
        problems.add(field, format!("must be at most {MAX_POINTS} addresses"));
    }
    let mut out: Vec<EmailAddress> = Vec::new();
    for (i, e) in raw.iter().enumerate() {
        if let Some(address) =
            problems.check(&format!("{field}[{i}].address"), values::email(&e.address))
            && !out.iter().any(|o| o.address == address)
        {
            out.push(EmailAddress {
                address,
                ..e.clone()
            });
        }
    }
    if out.iter().filter(|e| e.primary).count() > 1 {
        problems.add(field, "at most one email may be primary");
    }
    out
}

fn phones(problems: &mut Problems, field: &str, raw: &[Phone]) -> Vec<Phone> {
    if raw.len() > MAX_POINTS {
        problems.add(field, format!("must be at most {MAX_POINTS} numbers"));
    }
    let mut out = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        let number = problems.check(
            &format!("{field}[{i}].e164_number"),
            values::phone(&p.number),
        );
        let extension = problems.short(&format!("{field}[{i}].extension"), &p.extension, 10);
        if let Some(number) = number {
            out.push(Phone {
                number,
                extension,
                ..p.clone()
            });
        }
    }
    if out.iter().filter(|p| p.primary).count() > 1 {
        problems.add(field, "at most one phone may be primary");
    }
    out
}

fn addresses(problems: &mut Problems, raw: &[Address]) -> Vec<Address> {
    if raw.len() > MAX_POINTS {
        problems.add(
            "addresses",
            format!("must be at most {MAX_POINTS} addresses"),
        );
    }
    let mut out = Vec::new();
    for (i, a) in raw.iter().enumerate() {
        let at = |f: &str| format!("addresses[{i}].{f}");
        if a.lines.len() > MAX_ADDRESS_LINES {
            problems.add(
                at("lines"),
                format!("must be at most {MAX_ADDRESS_LINES} lines"),
            );
        }
        let lines = a
            .lines
            .iter()
            .map(|l| problems.short(&at("lines"), l, MAX_SHORT))
            .filter(|l| !l.is_empty())
            .collect();
        let region_code = if a.region_code.trim().is_empty() {
            String::new()
        } else {
            problems
                .check(&at("region_code"), values::region_code(&a.region_code))
                .unwrap_or_default()
        };
        out.push(Address {
            kind: a.kind,
            lines,
            locality: problems.short(&at("locality"), &a.locality, MAX_SHORT),
            administrative_area: problems.short(
                &at("administrative_area"),
                &a.administrative_area,
                MAX_SHORT,
            ),
            postal_code: problems.short(&at("postal_code"), &a.postal_code, 20),
            region_code,
            primary: a.primary,
        });
    }
    if out.iter().filter(|a| a.primary).count() > 1 {
        problems.add("addresses", "at most one address may be primary");
    }
    out
}

fn social(problems: &mut Problems, raw: &[SocialProfile]) -> Vec<SocialProfile> {
    if raw.len() > MAX_POINTS {
        problems.add(
            "social_profiles",
            format!("must be at most {MAX_POINTS} profiles"),
        );
    }
    let mut out = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let handle = problems.short(
            &format!("social_profiles[{i}].handle"),
            &s.handle,
            MAX_SHORT,
        );
        let url = problems.short(&format!("social_profiles[{i}].url"), &s.url, 2048);
        if handle.is_empty() && url.is_empty() {
            problems.add(format!("social_profiles[{i}]"), "needs a handle or a url");
        }
        if !url.is_empty() && !is_web_url(&url) {
            problems.add(
                format!("social_profiles[{i}].url"),
                "must be an http:// or https:// URL",
            );
        }
        out.push(SocialProfile {
            network: s.network,
            handle,
            url,
        });
    }
    out
}

fn is_web_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.contains(char::is_whitespace))
}

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

    /// A contact by id.
    pub fn contact(&self, id: Uuid) -> Option<&Contact> {
        self.contacts.iter().find(|c| c.id == id)
    }

    /// Adds a contact.
    pub fn add_contact(&mut self, input: ContactInput, now: Millis) -> Checked<&Contact> {
        if self.contacts.len() >= MAX_CONTACTS {
            return Err(vec![(
                "customer_id".into(),
                format!("a customer holds at most {MAX_CONTACTS} contacts"),
            )]);
        }
        let mut contact = Contact {
            id: Uuid::now_v7(),
            given_name: String::new(),
            family_name: String::new(),
            job_title: String::new(),
            department: String::new(),
            emails: Vec::new(),
            phones: Vec::new(),
            notes: String::new(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        set_contact(&mut contact, input)?;
        self.contacts.push(contact);
        self.touch(now);
        Ok(self.contacts.last().expect("just added"))
    }

    /// Changes the fields of a contact named in `paths`; returns those that changed, or `None`
    /// when the customer has no such contact.
    pub fn update_contact(
        &mut self,
        id: Uuid,
        input: ContactInput,
        paths: &[String],
        now: Millis,
    ) -> Option<Checked<Vec<String>>> {
        let index = self.contacts.iter().position(|c| c.id == id)?;
        let current = &self.contacts[index];
        let mut merged = ContactInput {
            given_name: current.given_name.clone(),
            family_name: current.family_name.clone(),
            job_title: current.job_title.clone(),
            department: current.department.clone(),
            emails: current.emails.clone(),
            phones: current.phones.clone(),
            notes: current.notes.clone(),
        };
        for path in paths {
            match path.as_str() {
                "given_name" => merged.given_name = input.given_name.clone(),
                "family_name" => merged.family_name = input.family_name.clone(),
                "job_title" => merged.job_title = input.job_title.clone(),
                "department" => merged.department = input.department.clone(),
                "emails" => merged.emails = input.emails.clone(),
                "phones" => merged.phones = input.phones.clone(),
                "notes" => merged.notes = input.notes.clone(),
                other => {
                    return Some(Err(vec![(
                        "update_mask".into(),
                        format!(
                            "{other:?} cannot be updated; allowed: {}",
                            CONTACT_UPDATABLE.join(", ")
                        ),
                    )]));
                }
            }
        }
        let mut next = current.clone();
        if let Err(problems) = set_contact(&mut next, merged) {
            return Some(Err(problems));
        }
        let before = current.clone();
        let changed: Vec<String> = [
            ("given_name", next.given_name == before.given_name),
            ("family_name", next.family_name == before.family_name),
            ("job_title", next.job_title == before.job_title),
            ("department", next.department == before.department),
            ("emails", next.emails == before.emails),
            ("phones", next.phones == before.phones),
            ("notes", next.notes == before.notes),
        ]
        .iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| (*name).to_owned())
        .collect();
        if !changed.is_empty() {
            next.version += 1;
            next.updated_at = now.max(next.updated_at);
            self.contacts[index] = next;
            self.touch(now);
        }
        Some(Ok(changed))
    }

    /// Removes a contact (and its primary mark); false when there was none.
    pub fn remove_contact(&mut self, id: Uuid, now: Millis) -> bool {
        let before = self.contacts.len();
        self.contacts.retain(|c| c.id != id);
        if self.contacts.len() == before {
            return false;
        }
        if self.primary_contact_id == Some(id) {
            self.primary_contact_id = None;
        }
        self.touch(now);
        true
    }

    /// Makes a contact the primary one (the only one); false when there is no such contact.
    pub fn set_primary_contact(&mut self, id: Uuid, now: Millis) -> bool {
        if self.contact(id).is_none() {
            return false;
        }
        if self.primary_contact_id != Some(id) {
            self.primary_contact_id = Some(id);
            self.touch(now);
        }
        true
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

fn set_contact(contact: &mut Contact, input: ContactInput) -> Checked<()> {
    let mut p = Problems(Vec::new());
    let given_name = optional_name(&mut p, "contact.given_name", &input.given_name);
    let family_name = optional_name(&mut p, "contact.family_name", &input.family_name);
    if given_name.is_empty() && family_name.is_empty() && p.0.is_empty() {
        p.add(
            "contact.given_name",
            "a contact needs a given or a family name",
        );
    }
    let job_title = p.short("contact.job_title", &input.job_title, MAX_SHORT);
    let department = p.short("contact.department", &input.department, MAX_SHORT);
    let emails = emails(&mut p, "contact.emails", &input.emails);
    let phones = phones(&mut p, "contact.phones", &input.phones);
    if input.notes.chars().count() > MAX_NOTES {
        p.add(
            "contact.notes",
            format!("must be at most {MAX_NOTES} characters"),
        );
    }
    if !p.0.is_empty() {
        return Err(p.0);
    }
    contact.given_name = given_name;
    contact.family_name = family_name;
    contact.job_title = job_title;
    contact.department = department;
    contact.emails = emails;
    contact.phones = phones;
    contact.notes = input.notes;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn siti() -> CustomerInput {
        CustomerInput {
            customer_type: Some(CustomerType::Individual),
            individual: Individual {
                given_name: "Siti".into(),
                family_name: "Aminah".into(),
            },
            email: " Siti@Kilang.Example ".into(),
            phones: vec![Phone {
                number: "012-345 6789".into(),
                primary: true,
                ..Phone::default()
            }],
            tags: vec!["Batik".into()],
            ..CustomerInput::default()
        }
    }

    fn fields(problems: &[Violation]) -> Vec<&str> {
        problems.iter().map(|(f, _)| f.as_str()).collect()
    }

    #[test]
    fn a_new_customer_is_normalised_and_owned_by_its_creator() {
        let creator = UserId::new();
        let c = Customer::create(TenantId::new(), siti(), creator, 1_000).unwrap();
        assert_eq!(c.display_name, "Siti Aminah");
        assert_eq!(c.email.as_deref(), Some("siti@kilang.example"));
        assert_eq!(c.emails.len(), 1);
        assert!(c.emails[0].primary);
        assert_eq!(c.phones[0].number, "+60123456789");
        assert_eq!(c.tags, ["batik"]);
        assert_eq!(c.owner_id, Some(creator));
        assert_eq!(c.status, Status::Prospect);
        assert_eq!((c.version, c.created_at, c.updated_at), (1, 1_000, 1_000));
        assert!(c.search_text().contains("0123456789"));
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let input = CustomerInput {
            customer_type: None,
            email: "not-an-email".into(),
            phones: vec![Phone {
                number: "12".into(),
                ..Phone::default()
            }],
            addresses: vec![Address {
                region_code: "XX".into(),
                ..Address::default()
            }],
            ..CustomerInput::default()
        };
        let problems = Customer::create(TenantId::new(), input, UserId::new(), 1).unwrap_err();
        assert_eq!(
            fields(&problems),
            [
                "type",
                "individual",
                "email",
                "phones[0].e164_number",
                "addresses[0].region_code"
            ]
        );
    }

    #[test]
    fn a_business_needs_its_legal_name_and_a_web_url() {
        let input = CustomerInput {
            customer_type: Some(CustomerType::Business),
            business: Business {
                website: "kilang.example".into(),
                ..Business::default()
            },
            ..CustomerInput::default()
        };
        let problems = Customer::create(TenantId::new(), input, UserId::new(), 1).unwrap_err();
        assert_eq!(
            fields(&problems),
            ["business.website", "business.legal_name"]
        );
    }

    #[test]
    fn updates_change_only_the_named_fields_and_report_what_changed() {
        let mut c = Customer::create(TenantId::new(), siti(), UserId::new(), 1_000).unwrap();
        let input = CustomerInput {
            notes: "prefers parang motifs".into(),
            tags: vec!["ignored".into()],
            ..CustomerInput::default()
        };
        let changed = c.apply(input, &["notes".into()], 2_000).unwrap();
        assert_eq!(changed, ["notes"]);
        assert_eq!(c.tags, ["batik"], "not named, not changed");
        assert_eq!((c.version, c.updated_at), (2, 2_000));

        let same = c
            .apply(c.input(), &["notes".into(), "tags".into()], 3_000)
            .unwrap();
        assert!(same.is_empty());
        assert_eq!(c.version, 2, "no change, no new version");

        let before = c.clone();
        let bad = CustomerInput {
            email: "nope".into(),
            ..CustomerInput::default()
        };
        assert!(c.apply(bad, &["email".into()], 4_000).is_err());
        assert_eq!(c, before, "a failed rule changes nothing");
        assert!(
            c.apply(CustomerInput::default(), &["id".into()], 4_000)
                .is_err()
        );
    }

    #[test]
    fn contacts_keep_one_primary_and_their_own_versions() {
        let mut c = Customer::create(TenantId::new(), siti(), UserId::new(), 1_000).unwrap();
        let a = c
            .add_contact(
                ContactInput {
                    given_name: "Ahmad".into(),
                    ..ContactInput::default()
                },
                2_000,
            )
            .unwrap()
            .id;
        let b = c
            .add_contact(
                ContactInput {
                    given_name: "Mei Ling".into(),
                    ..ContactInput::default()
                },
                3_000,
            )
            .unwrap()
            .id;
        assert!(c.set_primary_contact(a, 4_000));
        assert!(c.set_primary_contact(b, 5_000));
        assert_eq!(c.primary_contact_id, Some(b), "one primary at most");
        assert!(!c.set_primary_contact(Uuid::now_v7(), 6_000));

        let changed = c
            .update_contact(
                b,
                ContactInput {
                    job_title: "Buyer".into(),
                    ..ContactInput::default()
                },
                &["job_title".into()],
                7_000,
            )
            .unwrap()
            .unwrap();
        assert_eq!(changed, ["job_title"]);
        assert_eq!(c.contact(b).unwrap().version, 2);
        assert_eq!(c.contact(a).unwrap().version, 1);
        assert!(
            c.update_contact(Uuid::now_v7(), ContactInput::default(), &[], 1)
                .is_none()
        );

        assert!(c.remove_contact(b, 8_000));
        assert_eq!(c.primary_contact_id, None, "removing the primary clears it");
        assert!(!c.remove_contact(b, 9_000));
        let nameless = c.add_contact(ContactInput::default(), 10_000).unwrap_err();
        assert_eq!(fields(&nameless), ["contact.given_name"]);
    }

    #[test]
    fn contacts_can_come_with_a_new_customer() {
        let input = CustomerInput {
            contacts: vec![
                ContactInput {
                    given_name: "Ahmad".into(),
                    ..ContactInput::default()
                },
                ContactInput {
                    emails: vec![EmailAddress {
                        address: "bad".into(),
                        ..EmailAddress::default()
                    }],
                    ..ContactInput::default()
                },
            ],
            ..siti()
        };
        let problems =
            Customer::create(TenantId::new(), input.clone(), UserId::new(), 1).unwrap_err();
        assert_eq!(
            fields(&problems),
            ["contacts[1].given_name", "contacts[1].emails[0].address"]
        );
        let mut fine = input;
        fine.contacts.truncate(1);
        let c = Customer::create(TenantId::new(), fine, UserId::new(), 1).unwrap();
        assert_eq!(c.contacts[0].given_name, "Ahmad");
        assert_eq!(
            c.version, 1,
            "a new customer is at version 1, contacts and all"
        );
    }
}

//! The people at a customer: a contact's fields, and how the aggregate adds, changes and
//! removes them (one primary at most, each with its own version).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Millis;
use super::points::*;
use super::{Checked, Customer};

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

/// The most contacts one customer holds.
pub const MAX_CONTACTS: usize = 200;

impl Customer {
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

//! The records of other contexts that tasks and activities relate to, and whose timelines this
//! context keeps.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A kind of record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordType {
    /// A customer.
    Customer,
    /// A customer's contact person.
    Contact,
    /// A lead.
    Lead,
    /// An opportunity.
    Opportunity,
}

impl RecordType {
    /// Every kind.
    pub const ALL: [RecordType; 4] = [
        RecordType::Customer,
        RecordType::Contact,
        RecordType::Lead,
        RecordType::Opportunity,
    ];

    /// Its name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Customer => "customer",
            RecordType::Contact => "contact",
            RecordType::Lead => "lead",
            RecordType::Opportunity => "opportunity",
        }
    }

    /// From its name in the store.
    pub fn parse(raw: &str) -> Option<RecordType> {
        RecordType::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    /// The permission that reads such a record in its own context (a contact is read with its
    /// customer).
    pub fn read_permission(self) -> &'static str {
        match self {
            RecordType::Customer | RecordType::Contact => "customers.read",
            RecordType::Lead => "leads.read",
            RecordType::Opportunity => "opportunities.read",
        }
    }

    /// Where a client shows it (`customers/<id>`).
    pub fn collection(self) -> &'static str {
        match self {
            RecordType::Customer => "customers",
            RecordType::Contact => "contacts",
            RecordType::Lead => "leads",
            RecordType::Opportunity => "opportunities",
        }
    }
}

/// One record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordRef {
    /// Its kind.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// Its id.
    pub id: Uuid,
}

impl RecordRef {
    /// `kind` `id`.
    pub fn new(record_type: RecordType, id: Uuid) -> RecordRef {
        RecordRef { record_type, id }
    }

    /// Its link in a client: `customers/<id>`.
    pub fn link(&self) -> String {
        format!("{}/{}", self.record_type.collection(), self.id)
    }
}

/// The most records one task or activity may relate to.
pub const MAX_RELATED: usize = 10;

/// `related` without repeats, in its order; a problem when it holds more than [`MAX_RELATED`].
pub fn distinct(related: Vec<RecordRef>) -> Result<Vec<RecordRef>, String> {
    let mut out: Vec<RecordRef> = Vec::with_capacity(related.len());
    for r in related {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    if out.len() > MAX_RELATED {
        return Err(format!("at most {MAX_RELATED} records"));
    }
    Ok(out)
}

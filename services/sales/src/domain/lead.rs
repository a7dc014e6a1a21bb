//! Leads: people or companies who might buy, before they are customers. A lead moves
//! new → contacted → qualified → converted, or to disqualified; the machine is enforced here.

use crm_core::{TenantId, UserId};
use uuid::Uuid;

use super::Millis;
use super::money::Money;
use super::pipeline::Violation;

mod deletion;
pub use deletion::{RESTORE_WINDOW, RestoreRefusal};

/// Where a lead is in its life. The numbers are `crm.sales.v1.LeadStatus`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LeadStatus {
    /// Just came in.
    New = 1,
    /// Someone talked to it.
    Contacted = 2,
    /// Worth pursuing, with a score.
    Qualified = 3,
    /// Not worth pursuing.
    Disqualified = 4,
    /// Became a customer and an opportunity.
    Converted = 5,
}

impl LeadStatus {
    /// From the API's number.
    pub fn from_i32(n: i32) -> Option<LeadStatus> {
        use LeadStatus::*;
        [New, Contacted, Qualified, Disqualified, Converted]
            .into_iter()
            .find(|s| *s as i32 == n)
    }

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::New => "new",
            LeadStatus::Contacted => "contacted",
            LeadStatus::Qualified => "qualified",
            LeadStatus::Disqualified => "disqualified",
            LeadStatus::Converted => "converted",
        }
    }

    /// Whether a lead may move from this status to `to` by an update or a qualification
    /// (conversion has its own path).
    pub fn may_move_to(self, to: LeadStatus) -> bool {
        use LeadStatus::*;
        matches!(
            (self, to),
            (New, Contacted)
                | (New | Contacted | Qualified, Qualified)
                | (New | Contacted | Qualified, Disqualified)
                | (Qualified, Converted)
        )
    }
}

/// The highest lead source number (`crm.sales.v1.LeadSource`).
pub const MAX_SOURCE: i32 = 8;

/// A lead.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Lead {
    /// Its id.
    pub id: Uuid,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The person.
    pub contact_name: String,
    /// Their company, if any.
    pub company_name: String,
    /// Email, normalised.
    pub email: Option<String>,
    /// Phone, E.164.
    pub phone: Option<String>,
    /// `crm.sales.v1.LeadSource` number (0: unspecified).
    pub source: i32,
    /// Status.
    pub status: LeadStatus,
    /// 0 to 100, set when qualified.
    pub score: i32,
    /// The sales rep who owns it.
    pub owner_id: Option<UserId>,
    /// What it might be worth.
    pub estimated_value: Option<Money>,
    /// What they are interested in (e.g. "batik sarongs for a hotel").
    pub interest: String,
    /// Free notes.
    pub notes: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Set by conversion.
    pub converted_customer_id: Option<Uuid>,
    /// Set by conversion.
    pub converted_opportunity_id: Option<Uuid>,
    /// When created.
    pub created_at: Millis,
    /// When last changed.
    pub updated_at: Millis,
    /// The etag.
    pub version: i64,
    /// When it was deleted (restorable for [`RESTORE_WINDOW`], then purged); `None` while live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Millis>,
}

/// A lead's fields as a request gives them.
#[derive(Clone, Debug, Default)]
pub struct LeadInput {
    /// The person.
    pub contact_name: String,
    /// The company.
    pub company_name: String,
    /// Email (empty: none).
    pub email: String,
    /// Phone (empty: none).
    pub phone: String,
    /// Source number.
    pub source: i32,
    /// Estimated value: (currency, units, nanos); `None` for none.
    pub estimated_value: Option<(String, i64, i32)>,
    /// Interest.
    pub interest: String,
    /// Notes.
    pub notes: String,
    /// Tags.
    pub tags: Vec<String>,
}

/// The fields UpdateLead may change.
pub const UPDATABLE: &[&str] = &[
    "contact_name",
    "company_name",
    "email",
    "phone",
    "source",
    "estimated_value",
    "interest",
    "notes",
    "tags",
    "status",
];

/// Why a status change is refused.
#[derive(Debug, PartialEq, Eq)]
pub struct IllegalMove {
    /// From.
    pub from: LeadStatus,
    /// To.
    pub to: LeadStatus,
}

impl std::fmt::Display for IllegalMove {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a {} lead cannot become {}",
            self.from.as_str(),
            self.to.as_str()
        )
    }
}

struct Checked {
    contact_name: String,
    company_name: String,
    email: Option<String>,
    phone: Option<String>,
    source: i32,
    estimated_value: Option<Money>,
    interest: String,
    notes: String,
    tags: Vec<String>,
}

fn optional_text(raw: &str, max: usize) -> Result<String, String> {
    if raw.trim().is_empty() {
        Ok(String::new())
    } else {
        crm_core::text::name(raw, 1, max)
    }
}

fn check(input: &LeadInput, problems: &mut Vec<Violation>) -> Option<Checked> {
    let mut bad = |field: &str, e: String| problems.push((field.to_owned(), e));
    let contact_name = optional_text(&input.contact_name, 200)
        .map_err(|e| bad("contact_name", e))
        .ok();
    let company_name = optional_text(&input.company_name, 200)
        .map_err(|e| bad("company_name", e))
        .ok();
    if let (Some(c), Some(k)) = (&contact_name, &company_name)
        && c.is_empty()
        && k.is_empty()
    {
        bad(
            "contact_name",
            "a lead needs a contact name or a company name".into(),
        );
    }
    let email = if input.email.trim().is_empty() {
        Some(None)
    } else {
        crm_core::text::email(&input.email)
            .map(Some)
            .map_err(|e| bad("email", e.to_owned()))
            .ok()
    };
    let phone = if input.phone.trim().is_empty() {
        Some(None)
    } else {
        crm_core::text::phone(&input.phone)
            .map(Some)
            .map_err(|e| bad("phone", e))
            .ok()
    };
    if !(0..=MAX_SOURCE).contains(&input.source) {
        bad("source", format!("{} is not a LeadSource", input.source));
    }
    let estimated_value = match &input.estimated_value {
        None => Some(None),
        Some((currency, units, nanos)) => Money::parse(currency, *units, *nanos)
            .map(Some)
            .map_err(|e| bad("estimated_value", e))
            .ok(),
    };
    let interest = optional_text(&input.interest, 500)
        .map_err(|e| bad("interest", e))
        .ok();
    let notes = if input.notes.chars().count() > 5000 {
        bad("notes", "must be at most 5000 characters".into());
        None
    } else {
        Some(input.notes.trim().to_owned())
    };
    let tags = crm_core::text::tags(&input.tags)
        .map_err(|e| bad("tags", e))
        .ok();
    Some(Checked {
        contact_name: contact_name?,
        company_name: company_name?,
        email: email?,
        phone: phone?,
        source: input.source,
        estimated_value: estimated_value?,
        interest: interest?,
        notes: notes?,
        tags: tags?,
    })
}

impl Lead {
    /// What it is found by (`ListLeads`' `query`): its contact name, company, email, phone and
    /// interest, lower-cased.
    pub fn search_text(&self) -> String {
        super::search::text([
            self.contact_name.as_str(),
            &self.company_name,
            self.email.as_deref().unwrap_or_default(),
            self.phone.as_deref().unwrap_or_default(),
            &self.interest,
        ])
    }

    /// A new lead, owned by `owner`.
    pub fn new(
        tenant_id: TenantId,
        input: &LeadInput,
        owner: Option<UserId>,
        now: Millis,
    ) -> Result<Lead, Vec<Violation>> {
        let mut problems = Vec::new();
        let checked = check(input, &mut problems);
        let (Some(c), true) = (checked, problems.is_empty()) else {
            return Err(problems);
        };
        Ok(Lead {
            id: Uuid::now_v7(),
            tenant_id,
            contact_name: c.contact_name,
            company_name: c.company_name,
            email: c.email,
            phone: c.phone,
            source: c.source,
            status: LeadStatus::New,
            score: 0,
            owner_id: owner,
            estimated_value: c.estimated_value,
            interest: c.interest,
            notes: c.notes,
            tags: c.tags,
            converted_customer_id: None,
            converted_opportunity_id: None,
            created_at: now,
            updated_at: now,
            version: 1,
            deleted_at: None,
        })
    }

    /// Applies the masked fields of `input`; `status` may only move a new lead to contacted
    /// (qualification and conversion have their own calls).
    pub fn update(
        &mut self,
        input: &LeadInput,
        status: Option<LeadStatus>,
        paths: &[String],
        now: Millis,
    ) -> Result<(), LeadChangeError> {
        if self.status == LeadStatus::Converted {
            return Err(LeadChangeError::Converted);
        }
        // Fields outside the mask keep their current values, so only masked ones are checked.
        let has = |f: &str| paths.iter().any(|p| p == f);
        let current = self.as_input();
        let pick =
            |f: &str, new: &String, old: &String| if has(f) { new.clone() } else { old.clone() };
        let merged = LeadInput {
            contact_name: pick("contact_name", &input.contact_name, &current.contact_name),
            company_name: pick("company_name", &input.company_name, &current.company_name),
            email: pick("email", &input.email, &current.email),
            phone: pick("phone", &input.phone, &current.phone),
            source: if has("source") {
                input.source
            } else {
                current.source
            },
            estimated_value: if has("estimated_value") {
                input.estimated_value.clone()
            } else {
                current.estimated_value
            },
            interest: pick("interest", &input.interest, &current.interest),
            notes: pick("notes", &input.notes, &current.notes),
            tags: if has("tags") {
                input.tags.clone()
            } else {
                current.tags
            },
        };
        let mut problems = Vec::new();
        let checked = check(&merged, &mut problems);
        let (Some(c), true) = (checked, problems.is_empty()) else {
            return Err(LeadChangeError::Invalid(problems));
        };
        if let Some(to) = status
            && to != self.status
            && !(self.status == LeadStatus::New && to == LeadStatus::Contacted)
        {
            return Err(LeadChangeError::Illegal(IllegalMove {
                from: self.status,
                to,
            }));
        }
        let mut next = self.clone();
        next.contact_name = c.contact_name;
        next.company_name = c.company_name;
        next.email = c.email;
        next.phone = c.phone;
        next.source = c.source;
        next.estimated_value = c.estimated_value;
        next.interest = c.interest;
        next.notes = c.notes;
        next.tags = c.tags;
        if let Some(to) = status {
            next.status = to;
        }
        next.updated_at = now;
        next.version += 1;
        *self = next;
        Ok(())
    }

    /// The lead's fields as an input (what an update keeps outside its mask).
    fn as_input(&self) -> LeadInput {
        LeadInput {
            contact_name: self.contact_name.clone(),
            company_name: self.company_name.clone(),
            email: self.email.clone().unwrap_or_default(),
            phone: self.phone.clone().unwrap_or_default(),
            source: self.source,
            estimated_value: self
                .estimated_value
                .map(|m| (m.currency_code().to_owned(), m.units, m.nanos)),
            interest: self.interest.clone(),
            notes: self.notes.clone(),
            tags: self.tags.clone(),
        }
    }

    /// Qualifies (with a score) or disqualifies the lead.
    pub fn qualify(
        &mut self,
        qualified: bool,
        score: i32,
        now: Millis,
    ) -> Result<(), LeadChangeError> {
        if !(0..=100).contains(&score) {
            return Err(LeadChangeError::Invalid(vec![(
                "score".into(),
                "must be 0 to 100".into(),
            )]));
        }
        let to = if qualified {
            LeadStatus::Qualified
        } else {
            LeadStatus::Disqualified
        };
        if !self.status.may_move_to(to) {
            return Err(LeadChangeError::Illegal(IllegalMove {
                from: self.status,
                to,
            }));
        }
        self.status = to;
        self.score = score;
        self.updated_at = now;
        self.version += 1;
        Ok(())
    }

    /// Marks a qualified lead converted into `customer` and `opportunity`.
    pub fn convert(
        &mut self,
        customer: Uuid,
        opportunity: Uuid,
        now: Millis,
    ) -> Result<(), LeadChangeError> {
        if !self.status.may_move_to(LeadStatus::Converted) {
            return Err(LeadChangeError::Illegal(IllegalMove {
                from: self.status,
                to: LeadStatus::Converted,
            }));
        }
        self.status = LeadStatus::Converted;
        self.converted_customer_id = Some(customer);
        self.converted_opportunity_id = Some(opportunity);
        self.updated_at = now.max(self.updated_at);
        self.version += 1;
        Ok(())
    }

    /// Gives the lead to another owner.
    pub fn assign(&mut self, owner: UserId, now: Millis) -> Result<(), LeadChangeError> {
        if self.status == LeadStatus::Converted {
            return Err(LeadChangeError::Converted);
        }
        self.owner_id = Some(owner);
        self.updated_at = now;
        self.version += 1;
        Ok(())
    }
}

/// Why a change of a lead is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum LeadChangeError {
    /// Bad fields.
    Invalid(Vec<Violation>),
    /// A status move the machine does not allow.
    Illegal(IllegalMove),
    /// Converted leads are history.
    Converted,
}

#[cfg(test)]
mod tests;

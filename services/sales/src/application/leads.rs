//! Leads: create, read, list, change, qualify, assign. Every change is saved with its event
//! (`LeadCreated`, `LeadQualified`) in one transaction.

use crm_core::{Error, ErrorKind, Result, UserId};
use uuid::Uuid;

use super::{Caller, Sales, invalid};
use crate::domain::events::{lead_assigned, lead_created, lead_qualified};
use crate::domain::lead::{Lead, LeadChangeError, LeadInput, LeadStatus};
use crate::domain::ports::{LeadFilter, OutboxEvent, TenantPolicy};

/// The roles a lead's owner must hold one of.
pub const SALES_ROLES: &[&str] = &["sales_rep", "sales_manager"];

pub(super) fn refused(e: LeadChangeError) -> Error {
    match e {
        LeadChangeError::Invalid(problems) => invalid("lead", problems),
        LeadChangeError::Illegal(m) => Error::new(ErrorKind::FailedPrecondition, m.to_string())
            .with_reason("ILLEGAL_LEAD_STATUS")
            .with_metadata("from", m.from.as_str())
            .with_metadata("to", m.to.as_str()),
        LeadChangeError::Converted => Error::new(
            ErrorKind::FailedPrecondition,
            "a converted lead is history: change its customer or opportunity instead",
        )
        .with_reason("LEAD_CONVERTED"),
    }
}

/// Whether the caller may change `lead` as read under the write lock: `etag` current, and
/// `permission` granted on a lead of its owner.
fn may_change(caller: &Caller, lead: &Lead, (etag, permission): (&str, &str)) -> Result<()> {
    super::access::current(etag, lead.version, "lead")?;
    super::access::decide(
        caller,
        permission,
        lead.owner_id,
        None,
        &TenantPolicy::default(),
    )
}

impl Sales {
    /// Creates a lead, owned by `owner` (another user needs `leads.assign`) or the caller.
    pub async fn create_lead(
        &self,
        caller: &Caller,
        input: &LeadInput,
        owner: Option<UserId>,
    ) -> Result<Lead> {
        let p = &caller.principal;
        super::access::reach(caller, "leads.write")?;
        let owner = match owner {
            Some(o) if o != p.user_id => {
                p.require("leads.assign")?;
                self.assignable(caller, o).await?;
                Some(o)
            }
            _ => Some(p.user_id),
        };
        let lead = Lead::new(p.tenant_id, input, owner, self.now())
            .map_err(|problems| invalid("lead", problems))?;
        self.store
            .insert_lead(&lead, vec![lead_created(&lead, &caller.cause())])
            .await?;
        Ok(lead)
    }

    /// A lead of the caller's tenant.
    pub async fn get_lead(&self, caller: &Caller, id: Uuid) -> Result<Lead> {
        let p = &caller.principal;
        p.require("leads.read")?;
        self.store
            .get_lead(p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("lead", id))
    }

    /// The tenant's leads, filtered, in id order after `after`; on the first page (no `after`),
    /// also how many leads the filter takes (the later pages of one listing need it no more).
    pub async fn list_leads(
        &self,
        caller: &Caller,
        filter: &LeadFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<(Vec<Lead>, Option<i64>)> {
        let p = &caller.principal;
        p.require("leads.read")?;
        let total = match after {
            None => Some(self.store.count_leads(p.tenant_id, filter).await?),
            Some(_) => None,
        };
        let leads = self
            .store
            .list_leads(p.tenant_id, filter, after, limit)
            .await?;
        Ok((leads, total))
    }

    /// Changes the masked fields of a lead (status only from new to contacted): decided on the
    /// state read under the write lock, so without an etag the last writer wins.
    pub async fn update_lead(
        &self,
        caller: &Caller,
        id: Uuid,
        etag: &str,
        input: &LeadInput,
        status: Option<LeadStatus>,
        paths: &[String],
    ) -> Result<Lead> {
        super::access::reach(caller, "leads.write")?;
        let now = self.now();
        self.change_lead(caller, id, (etag, "leads.write"), |lead: &mut Lead| {
            lead.update(input, status, paths, now).map_err(refused)?;
            Ok(Some(Vec::new()))
        })
        .await
    }

    /// Qualifies (with a score) or disqualifies a lead.
    pub async fn qualify_lead(
        &self,
        caller: &Caller,
        id: Uuid,
        etag: &str,
        qualified: bool,
        score: i32,
        reason: &str,
    ) -> Result<Lead> {
        super::access::reach(caller, "leads.write")?;
        let reason = if reason.trim().is_empty() {
            String::new()
        } else {
            crm_core::text::name(reason, 1, 500).map_err(|e| Error::invalid_field("reason", e))?
        };
        let now = self.now();
        self.change_lead(caller, id, (etag, "leads.write"), |lead: &mut Lead| {
            lead.qualify(qualified, score, now).map_err(|e| match e {
                LeadChangeError::Invalid(problems) => Error::invalid_fields(problems),
                other => refused(other),
            })?;
            let qualified_event = lead_qualified(lead, qualified, &reason, &caller.cause());
            Ok(Some(vec![qualified_event]))
        })
        .await
    }

    /// Gives a lead to a sales rep or manager of the tenant.
    pub async fn assign_lead(
        &self,
        caller: &Caller,
        id: Uuid,
        etag: &str,
        owner: UserId,
    ) -> Result<Lead> {
        let p = &caller.principal;
        p.require("leads.assign")?;
        // A scoped grant (`leads.assign:team`) hands out only leads it reaches: refused before
        // anything else is asked, and again on the state the write locks.
        let rule = (etag, "leads.assign");
        let read = self
            .store
            .get_lead(p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("lead", id))?;
        may_change(caller, &read, rule)?;
        self.assignable(caller, owner).await?;
        let now = self.now();
        let cause = caller.cause();
        self.change_lead(caller, id, rule, |lead: &mut Lead| {
            let previous = lead.owner_id;
            if previous == Some(owner) {
                return Ok(None);
            }
            lead.assign(owner, now).map_err(refused)?;
            Ok(Some(vec![lead_assigned(lead, previous, &cause)]))
        })
        .await
    }

    /// Changes a lead as `change` decides on the state read under the write lock, once the
    /// etag and the permission of `rule` hold on that state.
    pub(super) async fn change_lead(
        &self,
        caller: &Caller,
        id: Uuid,
        rule: (&str, &str),
        mut change: impl FnMut(&mut Lead) -> Result<Option<Vec<OutboxEvent>>> + Send,
    ) -> Result<Lead> {
        self.store
            .update_lead(
                caller.principal.tenant_id,
                id,
                Box::new(|lead: &mut Lead| {
                    may_change(caller, lead, rule)?;
                    change(lead)
                }),
            )
            .await
    }

    /// Refuses an owner who is not an active sales rep or manager of the tenant (as sales'
    /// view of IAM's users, from its events, knows them).
    pub(crate) async fn assignable(&self, caller: &Caller, owner: UserId) -> Result<()> {
        let user = self
            .store
            .sales_user(caller.principal.tenant_id, owner)
            .await?;
        match user {
            Some(u) if !u.active => Err(Error::invalid_field(
                "owner_id",
                format!("{owner} is deactivated; choose an active sales rep or manager"),
            )),
            Some(u) if u.roles.iter().any(|r| SALES_ROLES.contains(&r.as_str())) => Ok(()),
            Some(_) => Err(Error::invalid_field(
                "owner_id",
                format!("{owner} holds no sales role (sales_rep or sales_manager)"),
            )),
            None => Err(Error::invalid_field(
                "owner_id",
                format!("{owner} is not a user of this tenant"),
            )),
        }
    }
}

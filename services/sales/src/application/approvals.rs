//! Large deals: winning above the tenant's threshold needs `deals.approve_large`. Whoever may
//! win an opportunity but for its amount asks a sales manager (`RequestApproval`), who approves
//! or declines it with a reason (`DecideApproval`); each is saved with its event
//! (`ApprovalRequested`, `ApprovalDecided`) in one transaction, and notification tells the sales
//! managers, then who asked. An approval lets the opportunity be won at up to its amount.

use crm_core::authz::Amount;
use crm_core::{Error, ErrorKind, Result};
use uuid::Uuid;

use super::access::{decide, refused};
use super::{Caller, Sales};
use crate::domain::events::approval_event;
use crate::domain::opportunity::Opportunity;
use crate::domain::ports::OpportunityWrite;

/// `FAILED_PRECONDITION` (`NO_APPROVAL_NEEDED`): the caller may win it at this amount already.
fn not_needed(o: &Opportunity) -> Error {
    let amount = o
        .approval
        .as_ref()
        .map(|a| crm_core::text::money(a.amount.currency_code(), a.amount.units, a.amount.nanos))
        .unwrap_or_default();
    Error::new(
        ErrorKind::FailedPrecondition,
        format!("no approval is needed: you may win it at {amount} yourself"),
    )
    .with_reason("NO_APPROVAL_NEEDED")
}

impl Sales {
    /// Asks a sales manager to approve winning `id` at `amount` (its own when `None`).
    #[tracing::instrument(skip_all, fields(tenant = %caller.principal.tenant_id, opportunity = %id))]
    pub async fn request_approval(
        &self,
        caller: &Caller,
        id: Uuid,
        amount: Option<(String, i64, i32)>,
        note: &str,
    ) -> Result<Opportunity> {
        // Whoever may win it but for its amount asks: the rule without the tenant's policy.
        let rule = ("", "opportunities.close", None);
        let read = self.changeable(caller, id, rule).await?;
        let policy = self.store.tenant_policy(caller.principal.tenant_id).await?;
        let pipeline = self.pipeline_of(caller, &read).await?;
        let now = self.now();
        self.change_opportunity(caller, id, rule, |o: &mut Opportunity| {
            o.request_approval(
                &pipeline,
                amount.as_ref(),
                note,
                caller.principal.user_id,
                now,
            )
            .map_err(refused)?;
            let asked = o.approval.as_ref().map(|a| a.amount).unwrap_or(o.amount);
            let weighed = Amount {
                currency: asked.currency_code(),
                units: asked.units,
                nanos: asked.nanos,
            };
            if decide(
                caller,
                "opportunities.close",
                o.owner_id,
                Some(weighed),
                &policy,
            )
            .is_ok()
            {
                return Err(not_needed(o));
            }
            Ok(Some(OpportunityWrite {
                deal: None,
                events: approval_event(o, &caller.cause()).into_iter().collect(),
            }))
        })
        .await
    }

    /// Approves or declines the request waiting on `id` (`deals.approve_large`).
    #[tracing::instrument(skip_all, fields(tenant = %caller.principal.tenant_id, opportunity = %id))]
    pub async fn decide_approval(
        &self,
        caller: &Caller,
        id: Uuid,
        approve: bool,
        reason: &str,
    ) -> Result<Opportunity> {
        let rule = ("", "deals.approve_large", None);
        self.changeable(caller, id, rule).await?;
        let now = self.now();
        self.change_opportunity(caller, id, rule, |o: &mut Opportunity| {
            o.decide_approval(approve, reason, caller.principal.user_id, now)
                .map_err(refused)?;
            Ok(Some(OpportunityWrite {
                deal: None,
                events: approval_event(o, &caller.cause()).into_iter().collect(),
            }))
        })
        .await
    }
}

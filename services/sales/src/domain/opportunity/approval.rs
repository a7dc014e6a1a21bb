//! Winning above the tenant's large-deal threshold: whoever may win an opportunity but for its
//! amount asks a sales manager, who approves or declines with a reason. An approval lets it be
//! won at up to the amount approved, in its currency.

use crm_core::UserId;

use super::{Opportunity, OpportunityChangeError, amount_in};
use crate::domain::Millis;
use crate::domain::money::Money;
use crate::domain::pipeline::Pipeline;

/// Where a request stands. The numbers are `crm.sales.v1.ApprovalState`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ApprovalState {
    /// Waiting for a sales manager.
    Pending = 1,
    /// Approved: it may be won at up to the amount.
    Approved = 2,
    /// Declined, with a reason.
    Declined = 3,
}

impl ApprovalState {
    /// From the API's number.
    pub fn from_i32(n: i32) -> Option<ApprovalState> {
        use ApprovalState::*;
        [Pending, Approved, Declined]
            .into_iter()
            .find(|s| *s as i32 == n)
    }

    /// The stored form (the `approval_state` column).
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Declined => "declined",
        }
    }
}

/// A request to win above the threshold, and its answer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Approval {
    /// Where it stands.
    pub state: ApprovalState,
    /// The amount asked to win at.
    pub amount: Money,
    /// What the requester wrote.
    pub note: String,
    /// Who asked.
    pub requested_by: UserId,
    /// When.
    pub requested_at: Millis,
    /// Who decided.
    pub decided_by: Option<UserId>,
    /// Why (always when declined).
    pub reason: String,
    /// When it was decided.
    pub decided_at: Option<Millis>,
}

/// The longest note or reason, in characters.
const MAX_TEXT: usize = 2_000;

fn text(field: &str, raw: &str, problems: &mut Vec<(String, String)>) -> String {
    if raw.chars().count() > MAX_TEXT {
        problems.push((
            field.into(),
            format!("must be at most {MAX_TEXT} characters"),
        ));
    }
    raw.trim().to_owned()
}

impl Opportunity {
    /// Asks to win it at `amount` (its own when `None`), by `by`: it must be open with no
    /// request waiting. Whether the amount needs an approval is the tenant's policy, weighed by
    /// the caller.
    pub fn request_approval(
        &mut self,
        pipeline: &Pipeline,
        amount: Option<&(String, i64, i32)>,
        note: &str,
        by: UserId,
        now: Millis,
    ) -> Result<(), OpportunityChangeError> {
        self.open()?;
        if let Some(waiting) = self
            .approval
            .as_ref()
            .filter(|a| a.state == ApprovalState::Pending)
        {
            return Err(OpportunityChangeError::ApprovalWaiting(
                waiting.requested_at,
            ));
        }
        let mut problems = Vec::new();
        let amount = match amount {
            Some(raw) => amount_in(pipeline, Some(raw))
                .map_err(|e| problems.push(("amount".into(), e)))
                .ok(),
            None => Some(self.amount),
        };
        let note = text("note", note, &mut problems);
        let Some(amount) = amount.filter(|_| problems.is_empty()) else {
            return Err(OpportunityChangeError::Invalid(problems));
        };
        self.touch(now);
        self.approval = Some(Approval {
            state: ApprovalState::Pending,
            amount,
            note,
            requested_by: by,
            requested_at: self.updated_at,
            decided_by: None,
            reason: String::new(),
            decided_at: None,
        });
        Ok(())
    }

    /// Approves or declines the waiting request, by `by`; declining needs a reason.
    pub fn decide_approval(
        &mut self,
        approve: bool,
        reason: &str,
        by: UserId,
        now: Millis,
    ) -> Result<(), OpportunityChangeError> {
        self.open()?;
        if !self
            .approval
            .as_ref()
            .is_some_and(|a| a.state == ApprovalState::Pending)
        {
            return Err(OpportunityChangeError::NoApprovalWaiting);
        }
        let mut problems = Vec::new();
        let reason = text("reason", reason, &mut problems);
        if !approve && reason.is_empty() {
            problems.push((
                "reason".into(),
                "say why it is declined: the requester reads it".into(),
            ));
        }
        if !problems.is_empty() {
            return Err(OpportunityChangeError::Invalid(problems));
        }
        self.touch(now);
        if let Some(a) = self.approval.as_mut() {
            a.state = if approve {
                ApprovalState::Approved
            } else {
                ApprovalState::Declined
            };
            a.reason = reason;
            a.decided_by = Some(by);
            a.decided_at = Some(self.updated_at);
        }
        Ok(())
    }

    /// Whether an approval lets it be won at `amount`: approved, in the same currency, for at
    /// least as much.
    pub fn approved_for(&self, amount: &Money) -> bool {
        self.approval.as_ref().is_some_and(|a| {
            a.state == ApprovalState::Approved
                && a.amount.currency == amount.currency
                && amount.total_nanos() <= a.amount.total_nanos()
        })
    }
}

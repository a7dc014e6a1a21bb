//! Closing an opportunity and undoing it: won (booking its deal), lost (for a reason), and
//! reopened within [`REOPEN_WINDOW`].

use crm_core::UserId;
use uuid::Uuid;

use super::{
    Deal, LOSS_REASON_OTHER, MAX_LOSS_REASON, Opportunity, OpportunityChangeError,
    OpportunityStatus, REOPEN_WINDOW, StageChange, amount_in, notes,
};
use crate::domain::Millis;
use crate::domain::pipeline::Pipeline;

impl Opportunity {
    /// Wins it at `amount` (its own when `None`), making its deal.
    pub fn win(
        &mut self,
        pipeline: &Pipeline,
        amount: Option<&(String, i64, i32)>,
        deal_notes: &str,
        now: Millis,
    ) -> Result<Deal, OpportunityChangeError> {
        self.open()?;
        let mut problems = Vec::new();
        let amount = match amount {
            Some(raw) => {
                amount_in(pipeline, Some(raw)).map_err(|e| problems.push(("amount".into(), e)))
            }
            None => Ok(self.amount),
        };
        let deal_notes = notes(deal_notes).map_err(|e| problems.push(("notes".into(), e)));
        let (Ok(amount), Ok(deal_notes)) = (amount, deal_notes) else {
            return Err(OpportunityChangeError::Invalid(problems));
        };
        self.touch(now);
        let deal = Deal {
            id: Uuid::now_v7(),
            tenant_id: self.tenant_id,
            opportunity_id: self.id,
            customer_id: self.customer_id,
            pipeline_id: self.pipeline_id,
            owner_id: self.owner_id,
            name: self.name.clone(),
            amount,
            notes: deal_notes,
            closed_at: self.updated_at,
        };
        self.amount = amount;
        self.status = OpportunityStatus::Won;
        self.probability_before_close = Some(self.probability);
        self.probability = 100;
        self.closed_at = Some(self.updated_at);
        self.deal_id = Some(deal.id);
        Ok(deal)
    }

    /// Loses it for `reason` (a `LossReason` number; `OTHER` needs `detail`).
    pub fn lose(
        &mut self,
        reason: i32,
        detail: &str,
        now: Millis,
    ) -> Result<(), OpportunityChangeError> {
        self.open()?;
        let mut problems = Vec::new();
        if !(1..=MAX_LOSS_REASON).contains(&reason) {
            problems.push((
                "reason".into(),
                "say why it was lost (PRICE, COMPETITOR, NO_BUDGET, TIMING, PRODUCT_FIT, NO_RESPONSE or OTHER)".into(),
            ));
        }
        let detail = if detail.trim().is_empty() {
            String::new()
        } else {
            crm_core::text::name(detail, 1, 1000).unwrap_or_else(|e| {
                problems.push(("detail".into(), e));
                String::new()
            })
        };
        if reason == LOSS_REASON_OTHER && detail.is_empty() {
            problems.push(("detail".into(), "say what the OTHER reason is".into()));
        }
        if !problems.is_empty() {
            return Err(OpportunityChangeError::Invalid(problems));
        }
        self.touch(now);
        self.status = OpportunityStatus::Lost;
        self.probability_before_close = Some(self.probability);
        self.probability = 0;
        self.loss_reason = reason;
        self.loss_detail = detail;
        self.closed_at = Some(self.updated_at);
        Ok(())
    }

    /// Until when it may be reopened: [`REOPEN_WINDOW`] after it was won or lost.
    pub fn reopenable_until(&self) -> Option<Millis> {
        match self.status {
            OpportunityStatus::Open => None,
            _ => self.closed_at.map(|at| at + REOPEN_WINDOW),
        }
    }

    /// Reopens it (an undo of a win or a loss): open in the stage it was in, with the
    /// probability it had (one set by hand, else the stage's), its loss and close forgotten. A stage removed
    /// since puts it in the pipeline's first, recorded in its history. The deal a win booked,
    /// which the caller withdraws.
    pub fn reopen(
        &mut self,
        pipeline: &Pipeline,
        by: UserId,
        now: Millis,
    ) -> Result<Option<Uuid>, OpportunityChangeError> {
        let until = self
            .reopenable_until()
            .ok_or(OpportunityChangeError::NotClosed)?;
        if now > until {
            return Err(OpportunityChangeError::TooLateToReopen(
                self.closed_at.unwrap_or_default(),
            ));
        }
        let stage = match pipeline.stages.iter().position(|s| s.id == self.stage_id) {
            Some(at) => &pipeline.stages[at],
            None => {
                let Some(first) = pipeline.stages.first() else {
                    return Err(OpportunityChangeError::Invalid(vec![(
                        "stage_id".into(),
                        "its pipeline has no stage to reopen it in".into(),
                    )]));
                };
                self.stage_history.push(StageChange {
                    from_stage_id: Some(self.stage_id),
                    to_stage_id: first.id,
                    to_position: 0,
                    changed_by: by,
                    changed_at: now.max(self.updated_at),
                });
                self.stage_id = first.id;
                first
            }
        };
        let deal = self.deal_id.take();
        // Closing made it 100 or 0: one set by hand comes back, else the stage's.
        self.probability = match (self.probability_set, self.probability_before_close.take()) {
            (true, Some(set)) => set,
            _ => stage.probability,
        };
        self.status = OpportunityStatus::Open;
        self.loss_reason = 0;
        self.loss_detail.clear();
        self.closed_at = None;
        self.touch(now);
        Ok(deal)
    }
}

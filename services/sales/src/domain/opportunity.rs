//! Opportunities: business in progress with a customer, in one pipeline's currency, moving through
//! its stages until won (becoming a [`Deal`]) or lost (with a reason). Every stage entered is
//! kept, oldest first: analytics and the point-in-time view are rebuilt from that history.

use crm_core::{TenantId, UserId};
use uuid::Uuid;

use super::Millis;
use super::money::Money;
use super::pipeline::{Pipeline, Violation};

/// Open, won or lost. The numbers are `crm.sales.v1.OpportunityStatus`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OpportunityStatus {
    /// Being worked on.
    Open = 1,
    /// Won; a deal exists.
    Won = 2,
    /// Lost.
    Lost = 3,
}

impl OpportunityStatus {
    /// From the API's number.
    pub fn from_i32(n: i32) -> Option<OpportunityStatus> {
        use OpportunityStatus::*;
        [Open, Won, Lost].into_iter().find(|s| *s as i32 == n)
    }

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            OpportunityStatus::Open => "open",
            OpportunityStatus::Won => "won",
            OpportunityStatus::Lost => "lost",
        }
    }
}

/// The highest `crm.sales.v1.LossReason` number; `OTHER` (7) needs a detail.
pub const MAX_LOSS_REASON: i32 = 7;
const LOSS_REASON_OTHER: i32 = 7;

/// One stage entered.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StageChange {
    /// The stage left; `None` for the first.
    pub from_stage_id: Option<Uuid>,
    /// The stage entered.
    pub to_stage_id: Uuid,
    /// Its place in the pipeline then (0 first): whether a later entry went further is judged
    /// by the order the stages had when they were entered.
    #[serde(default)]
    pub to_position: i32,
    /// Who moved it.
    pub changed_by: UserId,
    /// When.
    pub changed_at: Millis,
}

/// An opportunity.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Opportunity {
    /// Its id.
    pub id: Uuid,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// E.g. `Hotel Primula: 200 batik uniforms`.
    pub name: String,
    /// The customer (in the customer context).
    pub customer_id: Uuid,
    /// The lead it was converted from.
    pub lead_id: Option<Uuid>,
    /// Its pipeline.
    pub pipeline_id: Uuid,
    /// Its current stage.
    pub stage_id: Uuid,
    /// The sales rep responsible.
    pub owner_id: Option<UserId>,
    /// What it is worth, in the pipeline's currency.
    pub amount: Money,
    /// Win probability in percent.
    pub probability: i32,
    /// Whether `probability` was set by hand; otherwise it follows the stage.
    pub probability_set: bool,
    /// The probability it had when it was won or lost (closing makes it 100 or 0): a reopen
    /// gives back one set by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability_before_close: Option<i32>,
    /// When it is expected to close.
    pub expected_close_at: Option<Millis>,
    /// Open, won or lost.
    pub status: OpportunityStatus,
    /// `crm.sales.v1.LossReason` number when lost.
    pub loss_reason: i32,
    /// More on the loss.
    pub loss_detail: String,
    /// The deal it became.
    pub deal_id: Option<Uuid>,
    /// Every stage entered, oldest first.
    pub stage_history: Vec<StageChange>,
    /// Free notes.
    pub notes: String,
    /// When created.
    pub created_at: Millis,
    /// When last changed.
    pub updated_at: Millis,
    /// When won or lost.
    pub closed_at: Option<Millis>,
    /// The etag.
    pub version: i64,
    /// The latest request to win it above the large-deal threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

/// An opportunity's fields as a request gives them.
#[derive(Clone, Debug, Default)]
pub struct OpportunityInput {
    /// Its name.
    pub name: String,
    /// Amount: (currency, units, nanos); `None` for zero in the pipeline's currency.
    pub amount: Option<(String, i64, i32)>,
    /// Probability; `None` for the stage's.
    pub probability: Option<i32>,
    /// Expected close.
    pub expected_close_at: Option<Millis>,
    /// Notes.
    pub notes: String,
}

/// A won opportunity: booked revenue.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Deal {
    /// Its id.
    pub id: Uuid,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The opportunity won.
    pub opportunity_id: Uuid,
    /// The customer.
    pub customer_id: Uuid,
    /// The pipeline.
    pub pipeline_id: Uuid,
    /// The rep credited.
    pub owner_id: Option<UserId>,
    /// The opportunity's name.
    pub name: String,
    /// The booked amount.
    pub amount: Money,
    /// Notes.
    pub notes: String,
    /// When won.
    pub closed_at: Millis,
}

/// How long after it was won or lost an opportunity may be reopened: a week, long enough to
/// undo a slip noticed in the next days, short enough that last quarter's figures stay put.
pub const REOPEN_WINDOW: Millis = 7 * 24 * 3_600_000;

/// Why a change was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpportunityChangeError {
    /// Bad fields.
    Invalid(Vec<Violation>),
    /// It is won or lost: history, not work in progress.
    Closed(OpportunityStatus),
    /// Reopening one that is open.
    NotClosed,
    /// Reopening one closed at this time, longer ago than [`REOPEN_WINDOW`].
    TooLateToReopen(Millis),
    /// Asking for an approval while the request made at this time still waits.
    ApprovalWaiting(Millis),
    /// Deciding on a request when none waits.
    NoApprovalWaiting,
}

fn name(raw: &str) -> Result<String, String> {
    crm_core::text::name(raw, 1, 200)
}

fn notes(raw: &str) -> Result<String, String> {
    if raw.chars().count() > 10_000 {
        return Err("must be at most 10,000 characters".into());
    }
    Ok(raw.trim().to_owned())
}

/// An amount in `pipeline`'s currency; another currency is refused.
pub fn amount_in(pipeline: &Pipeline, raw: Option<&(String, i64, i32)>) -> Result<Money, String> {
    match raw {
        None => Money::parse(&pipeline.currency_code, 0, 0),
        Some((currency, units, nanos)) => {
            let money = Money::parse(currency, *units, *nanos)?;
            if money.currency_code() != pipeline.currency_code {
                return Err(format!(
                    "must be in the pipeline's currency, {}, not {}",
                    pipeline.currency_code,
                    money.currency_code()
                ));
            }
            Ok(money)
        }
    }
}

fn probability(raw: i32) -> Result<i32, String> {
    if (0..=100).contains(&raw) {
        Ok(raw)
    } else {
        Err("must be 0 to 100".into())
    }
}

/// Where and for whom a new opportunity starts.
#[derive(Clone, Debug)]
pub struct Placement<'a> {
    /// Its pipeline.
    pub pipeline: &'a Pipeline,
    /// The stage; `None` for the first.
    pub stage_id: Option<Uuid>,
    /// The customer.
    pub customer_id: Uuid,
    /// The lead converted, if any.
    pub lead_id: Option<Uuid>,
    /// The owner.
    pub owner_id: Option<UserId>,
    /// Who creates it.
    pub by: UserId,
}

impl Opportunity {
    /// What it is found by (`ListOpportunities`' `query`): its name, lower-cased.
    pub fn search_text(&self) -> String {
        super::search::text([self.name.as_str()])
    }

    /// A new open opportunity in `placement`'s stage (the pipeline's first by default).
    pub fn new(
        tenant_id: TenantId,
        placement: &Placement<'_>,
        input: &OpportunityInput,
        now: Millis,
    ) -> Result<Opportunity, Vec<Violation>> {
        let mut problems = Vec::new();
        let pipeline = placement.pipeline;
        let position = match placement.stage_id {
            Some(id) => pipeline.stages.iter().position(|s| s.id == id),
            None => (!pipeline.stages.is_empty()).then_some(0),
        };
        let stage = position.map(|p| &pipeline.stages[p]);
        if stage.is_none() {
            problems.push((
                "stage_id".into(),
                "not a stage of the pipeline; leave it empty for the first stage".into(),
            ));
        }
        let name = name(&input.name).map_err(|e| problems.push(("name".into(), e)));
        let amount = amount_in(pipeline, input.amount.as_ref())
            .map_err(|e| problems.push(("amount".into(), e)));
        let set = input
            .probability
            .map(probability)
            .transpose()
            .map_err(|e| problems.push(("probability".into(), e)));
        let notes = notes(&input.notes).map_err(|e| problems.push(("notes".into(), e)));
        let (Some(stage), Ok(name), Ok(amount), Ok(set), Ok(notes)) =
            (stage, name, amount, set, notes)
        else {
            return Err(problems);
        };
        Ok(Opportunity {
            id: Uuid::now_v7(),
            tenant_id,
            name,
            customer_id: placement.customer_id,
            lead_id: placement.lead_id,
            pipeline_id: pipeline.id,
            stage_id: stage.id,
            owner_id: placement.owner_id,
            amount,
            probability: set.unwrap_or(stage.probability),
            probability_set: set.is_some(),
            probability_before_close: None,
            expected_close_at: input.expected_close_at,
            status: OpportunityStatus::Open,
            loss_reason: 0,
            loss_detail: String::new(),
            deal_id: None,
            stage_history: vec![StageChange {
                from_stage_id: None,
                to_stage_id: stage.id,
                to_position: position.unwrap_or(0) as i32,
                changed_by: placement.by,
                changed_at: now,
            }],
            notes,
            created_at: now,
            updated_at: now,
            closed_at: None,
            version: 1,
            approval: None,
        })
    }

    fn open(&self) -> Result<(), OpportunityChangeError> {
        match self.status {
            OpportunityStatus::Open => Ok(()),
            closed => Err(OpportunityChangeError::Closed(closed)),
        }
    }

    fn touch(&mut self, now: Millis) {
        self.updated_at = now.max(self.updated_at);
        self.version += 1;
    }

    /// Changes the fields named by `paths` (`name`, `owner_id`, `amount`, `probability`,
    /// `expected_close_time`, `notes`); a closed opportunity only takes notes.
    pub fn update(
        &mut self,
        pipeline: &Pipeline,
        input: &OpportunityInput,
        owner: Option<Option<UserId>>,
        paths: &[String],
        now: Millis,
    ) -> Result<(), OpportunityChangeError> {
        if paths.iter().any(|p| p != "notes") {
            self.open()?;
        }
        let mut problems = Vec::new();
        let mut next = self.clone();
        for path in paths {
            match path.as_str() {
                "name" => match name(&input.name) {
                    Ok(n) => next.name = n,
                    Err(e) => problems.push(("name".into(), e)),
                },
                "owner_id" => next.owner_id = owner.flatten(),
                "amount" => match amount_in(pipeline, input.amount.as_ref()) {
                    Ok(a) => next.amount = a,
                    Err(e) => problems.push(("amount".into(), e)),
                },
                "probability" => match input.probability {
                    Some(p) => match probability(p) {
                        Ok(p) => {
                            next.probability = p;
                            next.probability_set = true;
                        }
                        Err(e) => problems.push(("probability".into(), e)),
                    },
                    None => {
                        // Cleared: back to the stage's.
                        next.probability_set = false;
                        next.probability = pipeline
                            .stages
                            .iter()
                            .find(|s| s.id == self.stage_id)
                            .map_or(self.probability, |s| s.probability);
                    }
                },
                "expected_close_time" => next.expected_close_at = input.expected_close_at,
                "notes" => match notes(&input.notes) {
                    Ok(n) => next.notes = n,
                    Err(e) => problems.push(("notes".into(), e)),
                },
                other => problems.push((other.into(), "cannot be changed".into())),
            }
        }
        if !problems.is_empty() {
            return Err(OpportunityChangeError::Invalid(problems));
        }
        next.touch(now);
        *self = next;
        Ok(())
    }

    /// Moves it to another stage of its pipeline; the probability follows the stage unless it
    /// was set by hand. Moving to the stage it is in changes nothing (`false`).
    pub fn move_to(
        &mut self,
        pipeline: &Pipeline,
        stage_id: Uuid,
        by: UserId,
        now: Millis,
    ) -> Result<bool, OpportunityChangeError> {
        self.open()?;
        let Some(position) = pipeline.stages.iter().position(|s| s.id == stage_id) else {
            return Err(OpportunityChangeError::Invalid(vec![(
                "stage_id".into(),
                format!("{stage_id} is not a stage of the opportunity's pipeline"),
            )]));
        };
        let stage = &pipeline.stages[position];
        if stage.id == self.stage_id {
            return Ok(false);
        }
        self.stage_history.push(StageChange {
            from_stage_id: Some(self.stage_id),
            to_stage_id: stage.id,
            to_position: position as i32,
            changed_by: by,
            changed_at: now.max(self.updated_at),
        });
        self.stage_id = stage.id;
        if !self.probability_set {
            self.probability = stage.probability;
        }
        self.touch(now);
        Ok(true)
    }
}

mod approval;
mod close;

pub use approval::{Approval, ApprovalState};

#[cfg(test)]
mod tests;

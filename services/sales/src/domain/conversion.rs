//! The lead-conversion saga's state, saved after every step so a crash resumes where it stopped:
//!
//! 1. `Started` → ensure the customer (the one given, the one with the lead's email, or a new one
//!    created with a request id derived from the saga, so a retry never makes a second);
//! 2. `CustomerEnsured` → in one sales transaction: create the opportunity, mark the lead
//!    converted, append `LeadConverted` → `Done`;
//! 3. if step 2 is refused (the lead was disqualified meanwhile, the pipeline is gone) →
//!    `Compensating`: delete the customer, only if this saga created it → `Compensated`, with why.

use crm_core::{TenantId, UserId};
use uuid::Uuid;

use super::Millis;

/// Where a conversion is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Step {
    /// Saved; the customer is not ensured yet.
    Started,
    /// The customer exists (`customer_id`); the opportunity and the lead's change are next.
    CustomerEnsured,
    /// Converted: the opportunity exists and the lead says so.
    Done,
    /// Refused after the customer was ensured; the customer this saga created is being deleted.
    Compensating,
    /// Undone: nothing of it remains; `failure` says why.
    Compensated,
}

impl Step {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Started => "started",
            Step::CustomerEnsured => "customer_ensured",
            Step::Done => "done",
            Step::Compensating => "compensating",
            Step::Compensated => "compensated",
        }
    }

    /// Whether the saga has ended (done or undone).
    pub fn finished(self) -> bool {
        matches!(self, Step::Done | Step::Compensated)
    }
}

/// A refusal that ended a conversion: its gRPC reason and words.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Failure {
    /// E.g. `LEAD_NOT_QUALIFIED`, `PIPELINE_NOT_FOUND`.
    pub reason: String,
    /// What happened and what to do.
    pub message: String,
    /// The field at fault, when the request was.
    pub field: Option<String>,
}

/// One conversion of a lead.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Conversion {
    /// The saga's id.
    pub id: Uuid,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The lead converted.
    pub lead_id: Uuid,
    /// The caller's idempotency key (empty: none).
    pub request_id: String,
    /// Who converts.
    pub by: UserId,
    /// Use this customer instead of one from the lead.
    pub existing_customer_id: Option<Uuid>,
    /// The converter may write only their own customers (`customers.write:own`): a customer
    /// that already has the lead's email is reused only if `by` owns it.
    #[serde(default)]
    pub own_customers_only: bool,
    /// The pipeline; the tenant's default when `None`.
    pub pipeline_id: Option<Uuid>,
    /// The opportunity's name; derived from the lead when empty.
    pub opportunity_name: String,
    /// The amount (currency, units, nanos); the lead's estimate when `None`.
    pub amount: Option<(String, i64, i32)>,
    /// The expected close.
    pub expected_close_at: Option<Millis>,
    /// Where it is.
    pub step: Step,
    /// The customer, once ensured.
    pub customer_id: Option<Uuid>,
    /// Whether this saga created it (and so may delete it).
    pub customer_created: bool,
    /// The opportunity, once created.
    pub opportunity_id: Option<Uuid>,
    /// Why it was undone.
    pub failure: Option<Failure>,
    /// How many times a step was tried and could not finish (the peer or the store was down).
    pub attempts: u32,
    /// The starting request's correlation id, carried by the saga's events.
    pub correlation_id: Option<String>,
    /// The starting request's trace.
    pub traceparent: Option<String>,
    /// When started.
    pub created_at: Millis,
    /// When last saved.
    pub updated_at: Millis,
}

impl Conversion {
    /// A new conversion of `lead` by `by`, at its first step, into the tenant's default
    /// pipeline with what the lead says (set the fields to choose otherwise).
    pub fn start(tenant: TenantId, lead: Uuid, request_id: &str, by: UserId, now: Millis) -> Self {
        Conversion {
            id: Uuid::now_v7(),
            tenant_id: tenant,
            lead_id: lead,
            request_id: request_id.to_owned(),
            by,
            existing_customer_id: None,
            own_customers_only: false,
            pipeline_id: None,
            opportunity_name: String::new(),
            amount: None,
            expected_close_at: None,
            step: Step::Started,
            customer_id: None,
            customer_created: false,
            opportunity_id: None,
            failure: None,
            attempts: 0,
            correlation_id: None,
            traceparent: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The idempotency key of the customer it creates: the same for every retry and every
    /// recovery of this saga, so the customer service makes at most one.
    pub fn customer_request_id(&self) -> String {
        format!("sales-lead-conversion-{}", self.id)
    }

    /// Moves to `step`.
    pub fn advance(&mut self, step: Step, now: Millis) {
        self.step = step;
        self.updated_at = now.max(self.updated_at);
    }

    /// Step 1 done: `customer` exists.
    pub fn customer_ensured(&mut self, customer: Uuid, created: bool, now: Millis) {
        self.customer_id = Some(customer);
        self.customer_created = created;
        self.advance(Step::CustomerEnsured, now);
    }

    /// Step 2 refused: undo (delete the customer if this saga created it), then
    /// `Compensated`; with nothing to undo it is `Compensated` at once.
    pub fn refuse(&mut self, failure: Failure, now: Millis) {
        self.failure = Some(failure);
        let next = if self.customer_created {
            Step::Compensating
        } else {
            Step::Compensated
        };
        self.advance(next, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversion() -> Conversion {
        Conversion::start(TenantId::new(), Uuid::now_v7(), "", UserId::new(), 1)
    }

    fn failure() -> Failure {
        Failure {
            reason: "LEAD_NOT_QUALIFIED".into(),
            message: "disqualified meanwhile".into(),
            field: None,
        }
    }

    #[test]
    fn only_a_customer_the_saga_created_is_undone() {
        let mut created = conversion();
        created.customer_ensured(Uuid::now_v7(), true, 2);
        created.refuse(failure(), 3);
        assert_eq!(created.step, Step::Compensating);
        assert!(!created.step.finished());

        let mut reused = conversion();
        reused.customer_ensured(Uuid::now_v7(), false, 2);
        reused.refuse(failure(), 3);
        assert_eq!(
            reused.step,
            Step::Compensated,
            "a customer it did not create is kept"
        );
        assert!(reused.step.finished());
    }

    #[test]
    fn the_customer_request_id_is_the_same_on_every_retry() {
        let c = conversion();
        assert_eq!(c.customer_request_id(), c.clone().customer_request_id());
        assert!(c.customer_request_id().len() <= 128);
        assert_ne!(c.customer_request_id(), conversion().customer_request_id());
    }
}

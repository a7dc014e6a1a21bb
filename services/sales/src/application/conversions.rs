//! ConvertLead: the saga that turns a qualified lead into a customer (through the customer
//! service) and an opportunity, saved after every step (see [`crate::domain::conversion`]).
//! The live call and the recovery task run the same [`Sales::drive`], with sales' own service
//! identity towards the customer service, so a conversion resumed after a crash ends exactly as
//! it would have without it.

use crm_core::{Error, ErrorKind, Result};
use uuid::Uuid;

use super::{Caller, Sales};
use crate::domain::conversion::{Conversion, Failure, Step};
use crate::domain::lead::{Lead, LeadStatus};
use crate::domain::opportunity::Opportunity;

mod saga;

/// What a conversion gives back.
#[derive(Clone, Debug)]
pub struct Converted {
    /// The lead, converted.
    pub lead: Lead,
    /// The customer, created or existing.
    pub customer_id: Uuid,
    /// Whether the conversion created it.
    pub customer_created: bool,
    /// The opportunity created.
    pub opportunity: Opportunity,
}

/// How a conversion is asked for.
#[derive(Clone, Debug, Default)]
pub struct ConvertRequest {
    /// The lead.
    pub lead_id: Uuid,
    /// Use this customer.
    pub existing_customer_id: Option<Uuid>,
    /// The pipeline (default: the tenant's).
    pub pipeline_id: Option<Uuid>,
    /// The opportunity's name (default: from the lead).
    pub opportunity_name: String,
    /// The amount (default: the lead's estimate).
    pub amount: Option<(String, i64, i32)>,
    /// The expected close.
    pub expected_close_at: Option<i64>,
    /// The idempotency key.
    pub request_id: String,
}

fn failure(reason: &str, message: impl Into<String>, field: Option<&str>) -> Failure {
    Failure {
        reason: reason.into(),
        message: message.into(),
        field: field.map(str::to_owned),
    }
}

/// The error a refused conversion answers.
fn refusal(f: &Failure) -> Error {
    let e = match &f.field {
        Some(field) => Error::invalid_field(field, &f.message),
        None => Error::new(ErrorKind::FailedPrecondition, &f.message),
    };
    e.with_reason(static_reason(&f.reason))
}

/// The stored reason as the `&'static str` errors carry.
fn static_reason(reason: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "LEAD_NOT_CONVERTIBLE",
        "LEAD_NOT_FOUND",
        "PIPELINE_NOT_FOUND",
        "INVALID_OPPORTUNITY",
        "CUSTOMER_NOT_FOUND",
    ];
    KNOWN
        .iter()
        .find(|k| **k == reason)
        .copied()
        .unwrap_or("CONVERSION_REFUSED")
}

impl Sales {
    /// Converts a qualified lead: ensures its customer, creates its opportunity, marks it
    /// converted. The same `request_id` (or a conversion of the same lead still under way)
    /// gives the first conversion's result.
    pub async fn convert_lead(
        &self,
        caller: &Caller,
        request: &ConvertRequest,
    ) -> Result<Converted> {
        let p = &caller.principal;
        let lead = self.get_lead(caller, request.lead_id).await?;
        self.authorize(caller, "leads.convert", lead.owner_id, None)
            .await?;
        if !request.request_id.is_empty()
            && let Some(found) = self
                .store
                .conversion_by_request(p.tenant_id, &request.request_id)
                .await?
        {
            if found.lead_id != request.lead_id {
                return Err(Error::invalid_field(
                    "request_id",
                    "this request id converted another lead; use a new one",
                )
                .with_reason("REQUEST_ID_REUSED"));
            }
            return self.finish(caller, found).await;
        }
        // Refusals known before anything is created cost no compensation.
        if lead.status != LeadStatus::Qualified {
            return Err(lead_not_convertible(&lead));
        }
        self.pipeline_for(caller, request.pipeline_id, "pipeline_id")
            .await?;
        let mut own_customers_only = false;
        if let Some(id) = request.existing_customer_id {
            self.customer_for(caller, id, "existing_customer_id")
                .await?;
        } else {
            // Creating the customer for the lead: the caller must be able to create customers.
            self.authorize(
                caller,
                "customers.write",
                lead.owner_id.or(Some(p.user_id)),
                None,
            )
            .await?;
            // With `customers.write:own`, a customer found by the lead's email is reused only
            // if it is the caller's (checked again by the saga, should one appear meanwhile).
            own_customers_only = !matches!(
                p.scope("customers.write"),
                Some(crm_core::authz::Scope::All)
            );
            if own_customers_only
                && let Some(email) = &lead.email
                && let Some(found) = self.customers.find_by_email(p.tenant_id, email).await?
                && found.owner_id != Some(p.user_id)
            {
                return Err(customer_not_yours());
            }
        }
        let conversion = Conversion {
            existing_customer_id: request.existing_customer_id,
            own_customers_only,
            pipeline_id: request.pipeline_id,
            opportunity_name: request.opportunity_name.clone(),
            amount: request.amount.clone(),
            expected_close_at: request.expected_close_at,
            correlation_id: caller.causation.correlation_id.clone(),
            traceparent: caller.causation.traceparent.clone(),
            ..Conversion::start(
                p.tenant_id,
                lead.id,
                &request.request_id,
                p.user_id,
                self.now(),
            )
        };
        let conversion = self.store.start_conversion(&conversion).await?;
        self.finish(caller, conversion).await
    }

    /// Drives a conversion to its end and answers its result.
    async fn finish(&self, caller: &Caller, conversion: Conversion) -> Result<Converted> {
        let conversion = self.drive(conversion).await?;
        match conversion.step {
            Step::Done => {
                let tenant = caller.principal.tenant_id;
                let lead = self
                    .store
                    .get_lead(tenant, conversion.lead_id)
                    .await?
                    .ok_or_else(|| Error::not_found("lead", conversion.lead_id))?;
                let opportunity_id = conversion.opportunity_id.ok_or_else(|| {
                    Error::internal(
                        "a done conversion without its opportunity",
                        anyhow::anyhow!("conversion {}", conversion.id),
                    )
                })?;
                let opportunity = self
                    .store
                    .get_opportunity(tenant, opportunity_id)
                    .await?
                    .ok_or_else(|| Error::not_found("opportunity", opportunity_id))?;
                Ok(Converted {
                    lead,
                    customer_id: conversion.customer_id.unwrap_or_default(),
                    customer_created: conversion.customer_created,
                    opportunity,
                })
            }
            _ => Err(conversion.failure.as_ref().map(refusal).unwrap_or_else(|| {
                Error::new(
                    ErrorKind::Unavailable,
                    "the conversion is still under way; retry with the same request id",
                )
            })),
        }
    }

    /// Finishes conversions left unfinished (a crash, an outage) for at least `idle`: the
    /// recovery task's round. Answers how many ended (done or undone).
    pub async fn recover_conversions(&self, idle: std::time::Duration) -> Result<usize> {
        let before = self.now() - idle.as_millis() as i64;
        let mut ended = 0;
        for c in self.store.unfinished_conversions(before, 100).await? {
            let id = c.id;
            match self.drive(c).await {
                Ok(c) => {
                    ended += 1;
                    tracing::info!(conversion_id = %id, step = c.step.as_str(), "recovered a conversion");
                }
                Err(e) => {
                    tracing::warn!(conversion_id = %id, error = %e, "a conversion could not be recovered yet")
                }
            }
        }
        Ok(ended)
    }
}

/// `FAILED_PRECONDITION` `CUSTOMER_NOT_YOURS`: the lead's email is another's customer's, and the
/// converter may write only their own (it is not named: they may not read it).
fn customer_not_yours() -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        "a customer with this lead's email already exists and is someone else's: ask a sales manager to convert the lead, or that customer's owner to hand it to you",
    )
    .with_reason("CUSTOMER_NOT_YOURS")
}

fn lead_not_convertible(lead: &Lead) -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        format!(
            "the lead is {}: only a qualified lead converts (qualify it first)",
            lead.status.as_str()
        ),
    )
    .with_reason("LEAD_NOT_CONVERTIBLE")
    .with_metadata("status", lead.status.as_str())
}

//! ConvertLead: the saga that turns a qualified lead into a customer (through the customer
//! service) and an opportunity, saved after every step (see [`crate::domain::conversion`]).
//! The live call and the recovery task run the same [`Sales::drive`], with sales' own service
//! identity towards the customer service, so a conversion resumed after a crash ends exactly as
//! it would have without it.

use crm_core::{Error, ErrorKind, Result};
use uuid::Uuid;

use super::{Caller, Sales};
use crate::domain::conversion::{Conversion, Failure, Step};
use crate::domain::events::{Cause, lead_converted};
use crate::domain::lead::{Lead, LeadStatus};
use crate::domain::opportunity::{Opportunity, OpportunityInput, Placement};
use crate::domain::ports::{CustomerRef, NewCustomer};

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

/// Whether an error of a step is a refusal (undo) rather than an outage (retry later).
/// `FAILED_PRECONDITION` `CUSTOMER_NOT_YOURS`: the lead's email is another's customer's, and the
/// converter may write only their own (it is not named: they may not read it).
fn customer_not_yours() -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        "a customer with this lead's email already exists and is someone else's: ask a sales manager to convert the lead, or that customer's owner to hand it to you",
    )
    .with_reason("CUSTOMER_NOT_YOURS")
}

fn is_refusal(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::InvalidArgument
            | ErrorKind::FailedPrecondition
            | ErrorKind::NotFound
            | ErrorKind::PermissionDenied
            | ErrorKind::AlreadyExists
    )
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

    /// Runs a conversion's remaining steps, saving after each. An outage (the customer service
    /// or the store unreachable) leaves it at its step, for a retry or the recovery task.
    pub async fn drive(&self, mut c: Conversion) -> Result<Conversion> {
        loop {
            match c.step {
                Step::Done | Step::Compensated => return Ok(c),
                Step::Started => {
                    match self.ensure_customer(&c).await {
                        Ok((customer, created)) => {
                            c.customer_ensured(customer.id, created, self.now());
                        }
                        Err(e) if is_refusal(&e) => {
                            c.refuse(
                                failure(
                                    e.reason().unwrap_or("CUSTOMER_REFUSED"),
                                    e.message(),
                                    None,
                                ),
                                self.now(),
                            );
                        }
                        Err(e) => return Err(self.outage(&mut c, e).await),
                    }
                    c = self.moved_on(c, Step::Started).await?;
                }
                Step::CustomerEnsured => match self.create_opportunity_for(&mut c).await {
                    Ok(()) => {}
                    Err(failed) => {
                        // Another runner of this saga (a concurrent call, the recovery task)
                        // may have moved it on meanwhile: its outcome stands.
                        if let Some(stored) = self.store.get_conversion(c.tenant_id, c.id).await?
                            && stored.step != Step::CustomerEnsured
                        {
                            c = stored;
                            continue;
                        }
                        match failed {
                            Refused(f) => {
                                c.refuse(f, self.now());
                                c = self.moved_on(c, Step::CustomerEnsured).await?;
                            }
                            Outage(e) => return Err(self.outage(&mut c, e).await),
                        }
                    }
                },
                Step::Compensating => {
                    let customer = c
                        .customer_id
                        .expect("a compensating conversion has its customer");
                    match self.customers.delete(c.tenant_id, customer).await {
                        Ok(()) => {
                            tracing::info!(conversion_id = %c.id, customer_id = %customer, reason = ?c.failure, "conversion undone: its customer was deleted");
                            c.advance(Step::Compensated, self.now());
                            c = self.moved_on(c, Step::Compensating).await?;
                        }
                        Err(e) => return Err(self.outage(&mut c, e).await),
                    }
                }
            }
        }
    }

    /// Saves `c`, moved on from step `from`, and answers where the saga now is: `c`, or, when
    /// another runner of it (a concurrent call, the recovery task) moved it on first, what that
    /// runner saved, which stands and is where this one goes on from. Saving unconditionally
    /// would let a runner holding an older state set the saga back (a conversion whose
    /// customer was made, put back at `Started`), and the runners could then undo each other.
    async fn moved_on(&self, c: Conversion, from: Step) -> Result<Conversion> {
        if self.store.save_conversion(&c, from).await? {
            return Ok(c);
        }
        self.store
            .get_conversion(c.tenant_id, c.id)
            .await?
            .ok_or_else(|| Error::not_found("conversion", c.id))
    }

    /// Counts a failed try (the recovery task tries again later) and passes the error on; not
    /// counted when another runner moved the saga on meanwhile.
    async fn outage(&self, c: &mut Conversion, e: Error) -> Error {
        c.attempts += 1;
        c.updated_at = self.now().max(c.updated_at);
        if let Err(save) = self.store.save_conversion(c, c.step).await {
            tracing::warn!(conversion_id = %c.id, error = %save, "could not count a failed conversion step");
        }
        tracing::warn!(conversion_id = %c.id, step = c.step.as_str(), error = %e, "a conversion step could not finish; it will be retried");
        e
    }

    /// Step 1: the customer given, the one with the lead's email, or a new one.
    async fn ensure_customer(&self, c: &Conversion) -> Result<(CustomerRef, bool)> {
        if let Some(id) = c.existing_customer_id {
            let found = self.customers.get(c.tenant_id, id).await?;
            return found.map(|f| (f, false)).ok_or_else(|| {
                Error::invalid_field(
                    "existing_customer_id",
                    format!("{id} is not a customer of this tenant"),
                )
                .with_reason("CUSTOMER_NOT_FOUND")
            });
        }
        let lead = self
            .store
            .get_lead(c.tenant_id, c.lead_id)
            .await?
            .ok_or_else(|| Error::not_found("lead", c.lead_id))?;
        // Create first, with the saga's request id: a retry gets the customer this saga made
        // (and knows it made it); a customer that already has the lead's email is refused by
        // the customer service, and reused below.
        let new = NewCustomer {
            contact_name: lead.contact_name.clone(),
            company_name: lead.company_name.clone(),
            email: lead.email.clone(),
            phone: lead.phone.clone(),
            owner_id: lead.owner_id.or(Some(c.by)),
            tags: lead.tags.clone(),
            notes: lead.interest.clone(),
        };
        match self
            .customers
            .create(c.tenant_id, &c.customer_request_id(), &new)
            .await
        {
            Ok(created) => Ok((created, true)),
            // A customer with the lead's email appeared meanwhile: reuse it.
            Err(e) if e.kind() == ErrorKind::AlreadyExists && lead.email.is_some() => {
                let email = lead.email.as_deref().unwrap_or_default();
                match self.customers.find_by_email(c.tenant_id, email).await? {
                    Some(found) if c.own_customers_only && found.owner_id != Some(c.by) => {
                        Err(customer_not_yours())
                    }
                    Some(found) => Ok((found, false)),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Steps 2 and 3, in one sales transaction.
    async fn create_opportunity_for(
        &self,
        c: &mut Conversion,
    ) -> std::result::Result<(), StepError> {
        let tenant = c.tenant_id;
        let lead = self
            .store
            .get_lead(tenant, c.lead_id)
            .await
            .map_err(Outage)?
            .ok_or_else(|| {
                Refused(failure(
                    "LEAD_NOT_FOUND",
                    "the lead was deleted meanwhile",
                    None,
                ))
            })?;
        if lead.status != LeadStatus::Qualified {
            let e = lead_not_convertible(&lead);
            return Err(Refused(failure("LEAD_NOT_CONVERTIBLE", e.message(), None)));
        }
        let pipeline = match c.pipeline_id {
            Some(id) => self.store.get_pipeline(tenant, id).await,
            None => self.store.default_pipeline(tenant).await,
        }
        .map_err(Outage)?
        .ok_or_else(|| {
            Refused(failure(
                "PIPELINE_NOT_FOUND",
                "the pipeline is gone; convert the lead into another one",
                Some("pipeline_id"),
            ))
        })?;
        let customer_id = c
            .customer_id
            .expect("an ensured conversion has its customer");
        let name = if c.opportunity_name.trim().is_empty() {
            let who = if lead.company_name.is_empty() {
                &lead.contact_name
            } else {
                &lead.company_name
            };
            let what = if lead.interest.is_empty() {
                "new business".to_owned()
            } else {
                lead.interest.chars().take(150).collect()
            };
            format!("{who}: {what}").chars().take(200).collect()
        } else {
            c.opportunity_name.clone()
        };
        let amount = c.amount.clone().or_else(|| {
            lead.estimated_value
                .filter(|m| m.currency_code() == pipeline.currency_code)
                .map(|m| (m.currency_code().to_owned(), m.units, m.nanos))
        });
        let input = OpportunityInput {
            name,
            amount,
            probability: None,
            expected_close_at: c.expected_close_at,
            notes: lead.notes.clone(),
        };
        let placement = Placement {
            pipeline: &pipeline,
            stage_id: None,
            customer_id,
            lead_id: Some(lead.id),
            owner_id: lead.owner_id.or(Some(c.by)),
            by: c.by,
        };
        let now = self.now();
        let opportunity =
            Opportunity::new(tenant, &placement, &input, now).map_err(|problems| {
                let (field, problem) = problems.into_iter().next().unwrap_or_default();
                let field = match field.as_str() {
                    "name" => "opportunity_name",
                    "amount" => "amount",
                    other => other,
                }
                .to_owned();
                Refused(failure("INVALID_OPPORTUNITY", problem, Some(&field)))
            })?;
        let mut converted = lead.clone();
        converted
            .convert(customer_id, opportunity.id, now)
            .map_err(|e| Refused(failure("LEAD_NOT_CONVERTIBLE", format!("{e:?}"), None)))?;
        let causation = crm_events::Causation {
            correlation_id: c.correlation_id.clone(),
            causation_id: None,
            traceparent: c.traceparent.clone(),
        };
        let cause = Cause {
            by: c.by,
            causation: &causation,
        };
        let converted_event = lead_converted(
            lead.id,
            customer_id,
            c.customer_created,
            &opportunity,
            now,
            &cause,
        );
        let mut done = c.clone();
        done.opportunity_id = Some(opportunity.id);
        done.advance(Step::Done, now);
        self.store
            .finish_conversion(
                &done,
                &opportunity,
                &converted,
                lead.version,
                vec![converted_event],
            )
            .await
            .map_err(|e| match e.kind() {
                // Another conversion of the lead won the race (its opportunity exists, the
                // lead changed under us): this one is refused, not retried.
                ErrorKind::AlreadyExists | ErrorKind::Aborted => Refused(failure(
                    "LEAD_NOT_CONVERTIBLE",
                    "the lead was converted or changed at the same time; read it again",
                    None,
                )),
                _ => Outage(e),
            })?;
        *c = done;
        Ok(())
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

/// How a step 2 failed.
enum StepError {
    /// A rule refused it: undo.
    Refused(Failure),
    /// The store could not finish it: retry later.
    Outage(Error),
}
use StepError::{Outage, Refused};

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

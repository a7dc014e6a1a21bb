//! The saga's steps: ensure the customer (through the customer service), create the
//! opportunity and mark the lead converted, saving after each; a refusal undoes what was done,
//! an outage leaves the conversion at its step for a retry or the recovery task.

use crm_core::{Error, ErrorKind, Result};

use crate::application::Sales;
use crate::domain::conversion::{Conversion, Failure, Step};
use crate::domain::events::{Cause, lead_converted};
use crate::domain::lead::LeadStatus;
use crate::domain::opportunity::{Opportunity, OpportunityInput, Placement};
use crate::domain::ports::{CustomerRef, NewCustomer};

use super::*;

/// Whether an error of a step is a refusal (undo) rather than an outage (retry later).
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
}

/// How a step 2 failed.
enum StepError {
    /// A rule refused it: undo.
    Refused(Failure),
    /// The store could not finish it: retry later.
    Outage(Error),
}
use StepError::{Outage, Refused};

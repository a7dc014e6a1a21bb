//! Opportunities and deals: create, read, list, change, move between stages, win (booking the
//! deal), lose. Every change is saved with its event (`OpportunityStageChanged`, `DealWon`,
//! `DealLost`) in one transaction. Who may touch which opportunity is the policy engine's
//! answer: `opportunities.write:own` reaches only one's own, and winning above the tenant's
//! threshold needs `deals.approve_large`.

use crm_core::authz::Amount;
use crm_core::{Error, Result, UserId};
use uuid::Uuid;

use super::access::{Rule, current, decide, readable, refused, restrict};
use super::{Caller, Sales, invalid};
use crate::domain::events::{
    EventCustomer, deal_lost, deal_won, opportunity_created, opportunity_reopened,
    opportunity_stage_changed,
};
use crate::domain::money::Money;
use crate::domain::opportunity::{
    Deal, Opportunity, OpportunityChangeError, OpportunityInput, Placement,
};
use crate::domain::pipeline::Pipeline;
use crate::domain::ports::{
    CustomerRef, DealCursor, DealFilter, OpportunityCursor, OpportunityFilter, OpportunityOrder,
    OpportunityWrite, TenantPolicy,
};

impl Sales {
    /// A pipeline of the tenant, or `INVALID_ARGUMENT` on `field`.
    pub(crate) async fn pipeline_for(
        &self,
        caller: &Caller,
        id: Option<Uuid>,
        field: &str,
    ) -> Result<Pipeline> {
        let tenant = caller.principal.tenant_id;
        let found = match id {
            Some(id) => self.store.get_pipeline(tenant, id).await?,
            None => self.store.default_pipeline(tenant).await?,
        };
        found.ok_or_else(|| match id {
            Some(id) => {
                Error::invalid_field(field, format!("{id} is not a pipeline of this tenant"))
            }
            None => Error::invalid_field(
                field,
                "the tenant has no default pipeline yet; name one, or create a pipeline",
            ),
        })
    }

    /// A customer the caller may read, or `INVALID_ARGUMENT` on `field`.
    pub(crate) async fn customer_for(
        &self,
        caller: &Caller,
        id: Uuid,
        field: &str,
    ) -> Result<CustomerRef> {
        let customer = self.customers.get(caller.principal.tenant_id, id).await?;
        let missing =
            || Error::invalid_field(field, format!("{id} is not a customer of this tenant"));
        let customer = customer.ok_or_else(missing)?;
        readable(caller, "customers.read", customer.owner_id, missing)?;
        Ok(customer)
    }

    /// Creates an opportunity in `pipeline_id`'s first stage (or `stage_id`).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_opportunity(
        &self,
        caller: &Caller,
        pipeline_id: Uuid,
        stage_id: Option<Uuid>,
        customer_id: Uuid,
        owner: Option<UserId>,
        input: &OpportunityInput,
    ) -> Result<Opportunity> {
        let p = &caller.principal;
        let owner = owner.unwrap_or(p.user_id);
        self.authorize(caller, "opportunities.write", Some(owner), None)
            .await?;
        if owner != p.user_id {
            self.assignable(caller, owner).await?;
        }
        let pipeline = self
            .pipeline_for(caller, Some(pipeline_id), "opportunity.pipeline_id")
            .await?;
        self.customer_for(caller, customer_id, "opportunity.customer_id")
            .await?;
        let placement = Placement {
            pipeline: &pipeline,
            stage_id,
            customer_id,
            lead_id: None,
            owner_id: Some(owner),
            by: p.user_id,
        };
        let opportunity = Opportunity::new(p.tenant_id, &placement, input, self.now())
            .map_err(|problems| invalid("opportunity", problems))?;
        self.store
            .insert_opportunity(
                &opportunity,
                vec![opportunity_created(&opportunity, &caller.cause())],
            )
            .await?;
        Ok(opportunity)
    }

    /// An opportunity the caller may read.
    pub async fn get_opportunity(&self, caller: &Caller, id: Uuid) -> Result<Opportunity> {
        let o = self
            .store
            .get_opportunity(caller.principal.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("opportunity", id))?;
        readable(caller, "opportunities.read", o.owner_id, || {
            Error::not_found("opportunity", id)
        })?;
        Ok(o)
    }

    /// The opportunities the caller may read, filtered, in `order` after `after`; on the first
    /// page (no `after`), also how many the filter takes (the later pages need it no more).
    pub async fn list_opportunities(
        &self,
        caller: &Caller,
        mut filter: OpportunityFilter,
        order: OpportunityOrder,
        after: Option<OpportunityCursor>,
        limit: u32,
    ) -> Result<(Vec<Opportunity>, Option<i64>)> {
        if !restrict(caller, "opportunities.read", &mut filter.owner_id)? {
            return Ok((Vec::new(), after.is_none().then_some(0)));
        }
        let tenant = caller.principal.tenant_id;
        let total = match after {
            None => Some(self.store.count_opportunities(tenant, &filter).await?),
            Some(_) => None,
        };
        let found = self
            .store
            .list_opportunities(tenant, &filter, order, after, limit)
            .await?;
        Ok((found, total))
    }

    /// Changes the masked fields of an opportunity: decided on the state read under the write
    /// lock, so without an etag the last writer wins, on what the one before left.
    pub async fn update_opportunity(
        &self,
        caller: &Caller,
        id: Uuid,
        etag: &str,
        input: &OpportunityInput,
        owner: Option<UserId>,
        paths: &[String],
    ) -> Result<Opportunity> {
        let rule = (etag, "opportunities.write", None);
        let read = self.changeable(caller, id, rule).await?;
        let changes_owner = paths.iter().any(|p| p == "owner_id");
        if changes_owner {
            let new_owner = owner.ok_or_else(|| {
                Error::invalid_field("opportunity.owner_id", "an opportunity keeps an owner")
            })?;
            // Handing it to someone else: the grant must reach their opportunities too.
            self.authorize(caller, "opportunities.write", Some(new_owner), None)
                .await?;
            self.assignable(caller, new_owner).await?;
        }
        let pipeline = self.pipeline_of(caller, &read).await?;
        let now = self.now();
        self.change_opportunity(caller, id, rule, |o: &mut Opportunity| {
            o.update(&pipeline, input, changes_owner.then_some(owner), paths, now)
                .map_err(|e| match e {
                    OpportunityChangeError::Invalid(problems) => invalid("opportunity", problems),
                    other => refused(other),
                })?;
            Ok(Some(OpportunityWrite::default()))
        })
        .await
    }

    /// Moves an open opportunity to another stage of its pipeline: decided on the state read
    /// under the write lock, so without an etag the last writer wins.
    pub async fn move_opportunity(
        &self,
        caller: &Caller,
        id: Uuid,
        etag: &str,
        stage_id: Uuid,
    ) -> Result<Opportunity> {
        let rule = (etag, "opportunities.write", None);
        let read = self.changeable(caller, id, rule).await?;
        let pipeline = self.pipeline_of(caller, &read).await?;
        let now = self.now();
        self.change_opportunity(caller, id, rule, |o: &mut Opportunity| {
            let from = o.stage_id;
            if !o
                .move_to(&pipeline, stage_id, caller.principal.user_id, now)
                .map_err(refused)?
            {
                return Ok(None);
            }
            Ok(Some(OpportunityWrite {
                deal: None,
                events: vec![opportunity_stage_changed(
                    o,
                    &pipeline,
                    from,
                    &caller.cause(),
                )],
            }))
        })
        .await
    }

    /// Wins an open opportunity, booking its deal: decided on the state read under the write
    /// lock, so without an etag the last writer wins.
    pub async fn win_opportunity(
        &self,
        caller: &Caller,
        id: Uuid,
        etag: &str,
        amount: Option<(String, i64, i32)>,
        notes: &str,
    ) -> Result<(Opportunity, Deal)> {
        // The large-deal rule weighs the amount against the tenant's threshold.
        let policy = self.store.tenant_policy(caller.principal.tenant_id).await?;
        let rule = (etag, "opportunities.close", Some(&policy));
        let read = self.changeable(caller, id, rule).await?;
        let pipeline = self.pipeline_of(caller, &read).await?;
        let customer = self.customer_of_event(&read).await;
        let now = self.now();
        let mut booked_deal = None;
        let won = self
            .change_opportunity(caller, id, rule, |o: &mut Opportunity| {
                if let Some((currency, units, nanos)) = &amount {
                    // The large-deal rule looks at the amount booked, too (in the
                    // opportunity's currency when it names none).
                    let booked = Amount {
                        currency: if currency.trim().is_empty() {
                            o.amount.currency_code()
                        } else {
                            currency.trim()
                        },
                        units: *units,
                        nanos: *nanos,
                    };
                    let approved = Money::parse(booked.currency, booked.units, booked.nanos)
                        .is_ok_and(|m| o.approved_for(&m));
                    if !approved {
                        decide(
                            caller,
                            "opportunities.close",
                            o.owner_id,
                            Some(booked),
                            &policy,
                        )?;
                    }
                }
                let deal = o
                    .win(&pipeline, amount.as_ref(), notes, now)
                    .map_err(|e| match e {
                        OpportunityChangeError::Invalid(problems) => {
                            Error::invalid_fields(problems)
                        }
                        other => refused(other),
                    })?;
                let events = vec![deal_won(o, &deal, &customer, &caller.cause())];
                booked_deal = Some(deal.clone());
                Ok(Some(OpportunityWrite {
                    deal: Some(deal),
                    events,
                }))
            })
            .await?;
        let deal = booked_deal.ok_or_else(|| {
            Error::internal(
                "a won opportunity without its deal",
                anyhow::anyhow!("opportunity {id}"),
            )
        })?;
        Ok((won, deal))
    }

    /// Loses an open opportunity for a reason: decided on the state read under the write lock,
    /// so without an etag the last writer wins.
    pub async fn lose_opportunity(
        &self,
        caller: &Caller,
        id: Uuid,
        etag: &str,
        reason: i32,
        detail: &str,
    ) -> Result<Opportunity> {
        let rule = (etag, "opportunities.close", None);
        let read = self.changeable(caller, id, rule).await?;
        let customer = self.customer_of_event(&read).await;
        let now = self.now();
        self.change_opportunity(caller, id, rule, |o: &mut Opportunity| {
            o.lose(reason, detail, now).map_err(refused)?;
            Ok(Some(OpportunityWrite {
                deal: None,
                events: vec![deal_lost(o, &customer, &caller.cause())],
            }))
        })
        .await
    }

    /// Reopens a won or lost opportunity (an undo), within the reopen window: whoever may
    /// close it may reopen it. A won one's deal is withdrawn in the same transaction, and the
    /// `OpportunityReopened` event lets notification hold back what the closing would send.
    #[tracing::instrument(skip_all, fields(tenant = %caller.principal.tenant_id, opportunity = %id))]
    pub async fn reopen_opportunity(
        &self,
        caller: &Caller,
        id: Uuid,
        etag: &str,
    ) -> Result<Opportunity> {
        let rule = (etag, "opportunities.close", None);
        let read = self.changeable(caller, id, rule).await?;
        // Open business needs a customer: a deleted one's opportunities stay closed.
        if self
            .customers
            .get(read.tenant_id, read.customer_id)
            .await?
            .is_none()
        {
            return Err(Error::new(
                crm_core::ErrorKind::FailedPrecondition,
                "its customer was deleted: an opportunity of a customer that no longer exists is not reopened",
            )
            .with_reason("CUSTOMER_DELETED"));
        }
        let pipeline = self.pipeline_of(caller, &read).await?;
        let now = self.now();
        self.change_opportunity(caller, id, rule, |o: &mut Opportunity| {
            let previous = o.status;
            let deal = o
                .reopen(&pipeline, caller.principal.user_id, now)
                .map_err(refused)?;
            Ok(Some(OpportunityWrite {
                deal: None,
                events: vec![opportunity_reopened(o, previous, deal, &caller.cause())],
            }))
        })
        .await
    }

    /// The opportunity as the caller reads it, if they may change it under `rule`: checked
    /// before anything else is asked, and again by [`Sales::change_opportunity`] on the state
    /// the write locks.
    pub(super) async fn changeable(
        &self,
        caller: &Caller,
        id: Uuid,
        rule: Rule<'_>,
    ) -> Result<Opportunity> {
        let o = self.get_opportunity(caller, id).await?;
        self.may_change(caller, &o, rule)?;
        Ok(o)
    }

    /// Changes an opportunity as `change` decides on the state read under the write lock, once
    /// `rule` holds on that state.
    pub(super) async fn change_opportunity(
        &self,
        caller: &Caller,
        id: Uuid,
        rule: Rule<'_>,
        mut change: impl FnMut(&mut Opportunity) -> Result<Option<OpportunityWrite>> + Send,
    ) -> Result<Opportunity> {
        self.store
            .update_opportunity(
                caller.principal.tenant_id,
                id,
                Box::new(|o: &mut Opportunity| {
                    self.may_change(caller, o, rule)?;
                    change(o)
                }),
            )
            .await
    }

    /// Whether `rule` lets the caller change `o`: its etag current, and its permission granted
    /// on `o` (winning, with the tenant's policy, also weighs `o`'s amount against the
    /// large-deal threshold).
    fn may_change(&self, caller: &Caller, o: &Opportunity, rule: Rule<'_>) -> Result<()> {
        let (etag, permission, policy) = rule;
        current(etag, o.version, "opportunity")?;
        // An approval lets it be won at up to the amount approved.
        let amount = policy
            .filter(|_| !o.approved_for(&o.amount))
            .map(|_| Amount {
                currency: o.amount.currency_code(),
                units: o.amount.units,
                nanos: o.amount.nanos,
            });
        decide(
            caller,
            permission,
            o.owner_id,
            amount,
            policy.unwrap_or(&TenantPolicy::default()),
        )
    }

    /// The pipeline an opportunity is in.
    pub(super) async fn pipeline_of(&self, caller: &Caller, o: &Opportunity) -> Result<Pipeline> {
        self.store
            .get_pipeline(caller.principal.tenant_id, o.pipeline_id)
            .await?
            .ok_or_else(|| Error::not_found("pipeline", o.pipeline_id))
    }

    /// The customer an event names, best effort: a closed deal is not refused because the
    /// customer service is slow; the event then carries the customer id alone.
    async fn customer_of_event(&self, o: &Opportunity) -> EventCustomer {
        match self.customers.get(o.tenant_id, o.customer_id).await {
            Ok(found) => found
                .map(|c| EventCustomer {
                    name: c.display_name,
                    email: c.email.unwrap_or_default(),
                    mobile: c.mobile.unwrap_or_default(),
                })
                .unwrap_or_default(),
            Err(e) => {
                tracing::warn!(opportunity_id = %o.id, error = %e, "the customer's name and email could not be read for the event; it carries the customer id alone");
                EventCustomer::default()
            }
        }
    }

    /// A deal of the tenant.
    pub async fn get_deal(&self, caller: &Caller, id: Uuid) -> Result<Deal> {
        let d = self
            .store
            .get_deal(caller.principal.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("deal", id))?;
        readable(caller, "deals.read", d.owner_id, || {
            Error::not_found("deal", id)
        })?;
        Ok(d)
    }

    /// The deals the caller may read, newest first.
    pub async fn list_deals(
        &self,
        caller: &Caller,
        mut filter: DealFilter,
        after: Option<DealCursor>,
        limit: u32,
    ) -> Result<Vec<Deal>> {
        if !restrict(caller, "deals.read", &mut filter.owner_id)? {
            return Ok(Vec::new());
        }
        self.store
            .list_deals(caller.principal.tenant_id, &filter, after, limit)
            .await
    }
}

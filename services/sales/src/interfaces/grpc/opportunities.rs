//! OpportunityService and DealService.

use super::*;
use crate::domain::messages::{deal_pb, opportunity_pb};
use crate::domain::opportunity::{ApprovalState, OpportunityInput, OpportunityStatus};
use crate::domain::ports::{DealFilter, OpportunityCursor, OpportunityFilter, OpportunityOrder};
use crate::domain::search;

fn opportunity_id(field: &str, raw: &str) -> Result<Uuid, Error> {
    api::uuid(field, raw, "an opportunity id")
}

fn money(m: &Option<crm_proto::google::r#type::Money>) -> Option<(String, i64, i32)> {
    m.as_ref()
        .map(|m| (m.currency_code.clone(), m.units, m.nanos))
}

fn input(o: &pb::Opportunity) -> Result<OpportunityInput, Error> {
    for (field, value) in [
        ("opportunity.name", &o.name),
        ("opportunity.etag", &o.etag),
        ("opportunity.owner_id", &o.owner_id),
    ] {
        bounded(field, value, MAX_TEXT)?;
    }
    bounded("opportunity.notes", &o.notes, 40_000)?;
    Ok(OpportunityInput {
        name: o.name.clone(),
        amount: money(&o.amount),
        probability: None,
        expected_close_at: o.expected_close_time.as_ref().map(api::millis),
        notes: o.notes.clone(),
    })
}

/// ListOpportunities' `order_by`.
fn order(raw: &str) -> Result<OpportunityOrder, Error> {
    if raw.len() > 64 {
        return Err(Error::invalid_field(
            "order_by",
            "must be at most 64 characters",
        ));
    }
    let words: Vec<&str> = raw.split_whitespace().collect();
    let (field, descending) = match words.as_slice() {
        [] => ("create_time", false),
        [field] | [field, "asc"] => (*field, false),
        [field, "desc"] => (*field, true),
        _ => ("", false),
    };
    Ok(match (field, descending) {
        ("create_time", false) => OpportunityOrder::Created,
        ("create_time", true) => OpportunityOrder::CreatedDesc,
        ("update_time", false) => OpportunityOrder::Updated,
        ("update_time", true) => OpportunityOrder::UpdatedDesc,
        ("amount", false) => OpportunityOrder::Amount,
        ("amount", true) => OpportunityOrder::AmountDesc,
        ("expected_close_time", false) => OpportunityOrder::Close,
        ("expected_close_time", true) => OpportunityOrder::CloseDesc,
        _ => {
            return Err(Error::invalid_field(
                "order_by",
                format!(
                    "{raw:?} is not an order of this list; use create_time, update_time, amount or expected_close_time, each optionally followed by \" desc\""
                ),
            ));
        }
    })
}

/// A page's cursor as its token's text: the two keys, then the id.
fn cursor_text(c: OpportunityCursor) -> String {
    format!("{}:{}:{}", c.keys.0, c.keys.1, c.id)
}

fn cursor(text: &str) -> Result<OpportunityCursor, Error> {
    let bad = || Error::invalid_field("page_token", "is not a page token of this list");
    let mut parts = text.splitn(3, ':');
    let mut key =
        || -> Result<i64, Error> { parts.next().and_then(|k| k.parse().ok()).ok_or_else(bad) };
    let keys = (key()?, key()?);
    let id = parts
        .next()
        .and_then(|id| Uuid::try_parse(id).ok())
        .ok_or_else(bad)?;
    Ok(OpportunityCursor { keys, id })
}

#[tonic::async_trait]
impl pb::opportunity_service_server::OpportunityService for SalesGrpc {
    async fn list_opportunities(
        &self,
        request: Request<pb::ListOpportunitiesRequest>,
    ) -> Reply<pb::ListOpportunitiesResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let order = order(&r.order_by)?;
        // The order is part of the list's name: a token of another order is refused.
        let list = format!("opportunities/{order:?}");
        let page = api::page(&list, r.page_size, &r.page_token)?;
        let after = page.after.as_deref().map(cursor).transpose()?;
        let status = match r.status {
            0 => None,
            n => Some(OpportunityStatus::from_i32(n).ok_or_else(|| {
                Error::invalid_field("status", format!("{n} is not an OpportunityStatus"))
            })?),
        };
        let filter = OpportunityFilter {
            pipeline_id: api::optional_uuid("pipeline_id", &r.pipeline_id, "a pipeline id")?,
            stage_id: api::optional_uuid("stage_id", &r.stage_id, "a stage id")?,
            owner_id: api::optional_uuid("owner_id", &r.owner_id, "a user id")?
                .map(crm_core::UserId::from),
            status,
            customer_id: api::optional_uuid("customer_id", &r.customer_id, "a customer id")?,
            close_from: None,
            close_before: None,
            approval: match r.approval_state {
                0 => None,
                n => Some(ApprovalState::from_i32(n).ok_or_else(|| {
                    Error::invalid_field("approval_state", format!("{n} is not an ApprovalState"))
                })?),
            },
            query: search::pattern(&r.query)?,
        };
        let (mut found, total) = self
            .sales
            .list_opportunities(&caller, filter, order, after, page.size + 1)
            .await?;
        let more = found.len() > page.size as usize;
        found.truncate(page.size as usize);
        let next_page_token = match found.last() {
            Some(last) if more => api::page_token(&list, &cursor_text(order.cursor(last))),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListOpportunitiesResponse {
            opportunities: found.iter().map(opportunity_pb).collect(),
            next_page_token,
            total_size: total
                .map(|n| i32::try_from(n).unwrap_or(i32::MAX))
                .unwrap_or_default(),
        }))
    }

    async fn create_opportunity(
        &self,
        request: Request<pb::CreateOpportunityRequest>,
    ) -> Reply<pb::CreateOpportunityResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let o = r.opportunity.clone().unwrap_or_default();
        let mut fields = input(&o)?;
        fields.probability = (o.probability != 0).then_some(o.probability);
        let pipeline_id = api::uuid("opportunity.pipeline_id", &o.pipeline_id, "a pipeline id")?;
        let customer_id = api::uuid("opportunity.customer_id", &o.customer_id, "a customer id")?;
        let stage_id = api::optional_uuid("opportunity.stage_id", &o.stage_id, "a stage id")?;
        let owner = api::optional_uuid("opportunity.owner_id", &o.owner_id, "a user id")?
            .map(crm_core::UserId::from);
        let response = self
            .sales
            .idempotency()
            .once(
                &caller.principal,
                "opportunities.write",
                "CreateOpportunity",
                &r.request_id,
                &r,
                || async {
                    let created = self
                        .sales
                        .create_opportunity(
                            &caller,
                            pipeline_id,
                            stage_id,
                            customer_id,
                            owner,
                            &fields,
                        )
                        .await?;
                    Ok(pb::CreateOpportunityResponse {
                        opportunity: Some(opportunity_pb(&created)),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn get_opportunity(
        &self,
        request: Request<pb::GetOpportunityRequest>,
    ) -> Reply<pb::GetOpportunityResponse> {
        let caller = caller(&request)?;
        let id = opportunity_id("id", &request.get_ref().id)?;
        let o = self.sales.get_opportunity(&caller, id).await?;
        Ok(Response::new(pb::GetOpportunityResponse {
            opportunity: Some(opportunity_pb(&o)),
        }))
    }

    async fn update_opportunity(
        &self,
        request: Request<pb::UpdateOpportunityRequest>,
    ) -> Reply<pb::UpdateOpportunityResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let o = r.opportunity.unwrap_or_default();
        let id = opportunity_id("opportunity.id", &o.id)?;
        let mut fields = input(&o)?;
        let set = [
            ("name", !o.name.is_empty()),
            ("owner_id", !o.owner_id.is_empty()),
            ("amount", o.amount.is_some()),
            ("probability", o.probability != 0),
            ("expected_close_time", o.expected_close_time.is_some()),
            ("notes", !o.notes.is_empty()),
        ];
        let paths = mask_paths(
            r.update_mask,
            &set,
            &[
                "name",
                "owner_id",
                "amount",
                "probability",
                "expected_close_time",
                "notes",
            ],
        )?;
        // A masked probability of 0 is a real 0 %, not "unset".
        fields.probability = Some(o.probability);
        let owner = api::optional_uuid("opportunity.owner_id", &o.owner_id, "a user id")?
            .map(crm_core::UserId::from);
        let updated = self
            .sales
            .update_opportunity(&caller, id, &o.etag, &fields, owner, &paths)
            .await?;
        Ok(Response::new(pb::UpdateOpportunityResponse {
            opportunity: Some(opportunity_pb(&updated)),
        }))
    }

    async fn move_opportunity_stage(
        &self,
        request: Request<pb::MoveOpportunityStageRequest>,
    ) -> Reply<pb::MoveOpportunityStageResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let id = opportunity_id("id", &r.id)?;
        let stage = api::uuid("stage_id", &r.stage_id, "a stage id")?;
        bounded("etag", &r.etag, 64)?;
        let moved = self
            .sales
            .move_opportunity(&caller, id, &r.etag, stage)
            .await?;
        Ok(Response::new(pb::MoveOpportunityStageResponse {
            opportunity: Some(opportunity_pb(&moved)),
        }))
    }

    async fn win_opportunity(
        &self,
        request: Request<pb::WinOpportunityRequest>,
    ) -> Reply<pb::WinOpportunityResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let id = opportunity_id("id", &r.id)?;
        bounded("etag", &r.etag, 64)?;
        bounded("notes", &r.notes, 40_000)?;
        let (o, deal) = self
            .sales
            .win_opportunity(&caller, id, &r.etag, money(&r.amount), &r.notes)
            .await?;
        Ok(Response::new(pb::WinOpportunityResponse {
            opportunity: Some(opportunity_pb(&o)),
            deal: Some(deal_pb(&deal)),
        }))
    }

    async fn lose_opportunity(
        &self,
        request: Request<pb::LoseOpportunityRequest>,
    ) -> Reply<pb::LoseOpportunityResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let id = opportunity_id("id", &r.id)?;
        bounded("etag", &r.etag, 64)?;
        bounded("detail", &r.detail, MAX_TEXT)?;
        let o = self
            .sales
            .lose_opportunity(&caller, id, &r.etag, r.reason, &r.detail)
            .await?;
        Ok(Response::new(pb::LoseOpportunityResponse {
            opportunity: Some(opportunity_pb(&o)),
        }))
    }

    async fn reopen_opportunity(
        &self,
        request: Request<pb::ReopenOpportunityRequest>,
    ) -> Reply<pb::ReopenOpportunityResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let id = opportunity_id("id", &r.id)?;
        bounded("etag", &r.etag, 64)?;
        let o = self.sales.reopen_opportunity(&caller, id, &r.etag).await?;
        Ok(Response::new(pb::ReopenOpportunityResponse {
            opportunity: Some(opportunity_pb(&o)),
        }))
    }

    async fn request_approval(
        &self,
        request: Request<pb::RequestApprovalRequest>,
    ) -> Reply<pb::RequestApprovalResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let id = opportunity_id("id", &r.id)?;
        bounded("note", &r.note, 8_000)?;
        let o = self
            .sales
            .request_approval(&caller, id, money(&r.amount), &r.note)
            .await?;
        Ok(Response::new(pb::RequestApprovalResponse {
            opportunity: Some(opportunity_pb(&o)),
        }))
    }

    async fn decide_approval(
        &self,
        request: Request<pb::DecideApprovalRequest>,
    ) -> Reply<pb::DecideApprovalResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let id = opportunity_id("id", &r.id)?;
        bounded("reason", &r.reason, 8_000)?;
        let o = self
            .sales
            .decide_approval(&caller, id, r.approve, &r.reason)
            .await?;
        Ok(Response::new(pb::DecideApprovalResponse {
            opportunity: Some(opportunity_pb(&o)),
        }))
    }
}

#[tonic::async_trait]
impl pb::deal_service_server::DealService for SalesGrpc {
    async fn list_deals(
        &self,
        request: Request<pb::ListDealsRequest>,
    ) -> Reply<pb::ListDealsResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let page = api::page("deals", r.page_size, &r.page_token)?;
        let after = match page.after.as_deref() {
            None => None,
            Some(cursor) => {
                let bad = || Error::invalid_field("page_token", "is not a page token of this list");
                let (time, id) = cursor.split_once('/').ok_or_else(bad)?;
                Some((
                    time.parse::<i64>().map_err(|_| bad())?,
                    Uuid::try_parse(id).map_err(|_| bad())?,
                ))
            }
        };
        let filter = DealFilter {
            owner_id: api::optional_uuid("owner_id", &r.owner_id, "a user id")?
                .map(crm_core::UserId::from),
            customer_id: api::optional_uuid("customer_id", &r.customer_id, "a customer id")?,
            from: r.start_time.as_ref().map(api::millis),
            before: r.end_time.as_ref().map(api::millis),
        };
        let mut deals = self
            .sales
            .list_deals(&caller, filter, after, page.size + 1)
            .await?;
        let more = deals.len() > page.size as usize;
        deals.truncate(page.size as usize);
        let next_page_token = match deals.last() {
            Some(last) if more => {
                api::page_token("deals", &format!("{}/{}", last.closed_at, last.id))
            }
            _ => String::new(),
        };
        Ok(Response::new(pb::ListDealsResponse {
            deals: deals.iter().map(deal_pb).collect(),
            next_page_token,
        }))
    }

    async fn get_deal(&self, request: Request<pb::GetDealRequest>) -> Reply<pb::GetDealResponse> {
        let caller = caller(&request)?;
        let id = api::uuid("id", &request.get_ref().id, "a deal id")?;
        let deal = self.sales.get_deal(&caller, id).await?;
        Ok(Response::new(pb::GetDealResponse {
            deal: Some(deal_pb(&deal)),
        }))
    }
}

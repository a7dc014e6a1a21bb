//! LeadService: leads and their conversion.

use super::*;
use crate::application::conversions::ConvertRequest;
use crate::domain::lead::{LeadInput, LeadStatus, MAX_SOURCE, UPDATABLE};
use crate::domain::messages::{lead_pb, opportunity_pb};
use crate::domain::ports::LeadFilter;
use crate::domain::search;

fn input(l: &pb::Lead) -> Result<LeadInput, Error> {
    for (field, value) in [
        ("lead.contact_name", &l.contact_name),
        ("lead.company_name", &l.company_name),
        ("lead.email", &l.email),
        ("lead.interest", &l.interest),
        ("lead.owner_id", &l.owner_id),
        ("lead.etag", &l.etag),
    ] {
        bounded(field, value, MAX_TEXT)?;
    }
    bounded("lead.notes", &l.notes, 20_000)?;
    api::bounded_list("lead.tags", &l.tags, 100, 256)?;
    let phone = l
        .phone
        .as_ref()
        .map(|p| p.e164_number.clone())
        .unwrap_or_default();
    bounded("lead.phone", &phone, MAX_TEXT)?;
    Ok(LeadInput {
        contact_name: l.contact_name.clone(),
        company_name: l.company_name.clone(),
        email: l.email.clone(),
        phone,
        source: l.source,
        estimated_value: l
            .estimated_value
            .as_ref()
            .map(|m| (m.currency_code.clone(), m.units, m.nanos)),
        interest: l.interest.clone(),
        notes: l.notes.clone(),
        tags: l.tags.clone(),
    })
}

fn lead_id(field: &str, raw: &str) -> Result<Uuid, Error> {
    api::uuid(field, raw, "a lead id")
}

#[tonic::async_trait]
impl pb::lead_service_server::LeadService for SalesGrpc {
    async fn list_leads(
        &self,
        request: Request<pb::ListLeadsRequest>,
    ) -> Reply<pb::ListLeadsResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let page = api::page("leads", r.page_size, &r.page_token)?;
        let after = api::uuid_cursor(&page)?;
        let status = match r.status {
            0 => None,
            n => Some(LeadStatus::from_i32(n).ok_or_else(|| {
                Error::invalid_field("status", format!("{n} is not a LeadStatus"))
            })?),
        };
        if !(0..=MAX_SOURCE).contains(&r.source) {
            return Err(Error::invalid_field(
                "source",
                format!("{} is not a LeadSource", r.source),
            )
            .into());
        }
        let filter = LeadFilter {
            status,
            owner_id: user("owner_id", &r.owner_id)?,
            source: (r.source != 0).then_some(r.source),
            query: search::pattern(&r.query)?,
        };
        let (mut leads, total) = self
            .sales
            .list_leads(&caller, &filter, after, page.size + 1)
            .await?;
        let more = leads.len() > page.size as usize;
        leads.truncate(page.size as usize);
        let next_page_token = match leads.last() {
            Some(last) if more => api::page_token("leads", &last.id.to_string()),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListLeadsResponse {
            leads: leads.iter().map(lead_pb).collect(),
            next_page_token,
            total_size: total
                .map(|n| i32::try_from(n).unwrap_or(i32::MAX))
                .unwrap_or_default(),
        }))
    }

    async fn create_lead(
        &self,
        request: Request<pb::CreateLeadRequest>,
    ) -> Reply<pb::CreateLeadResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let lead = r.lead.clone().unwrap_or_default();
        let fields = input(&lead)?;
        let owner = user("lead.owner_id", &lead.owner_id)?;
        let response = self
            .sales
            .idempotency()
            .once(
                &caller.principal,
                "leads.write",
                "CreateLead",
                &r.request_id,
                &r,
                || async {
                    let lead = self.sales.create_lead(&caller, &fields, owner).await?;
                    Ok(pb::CreateLeadResponse {
                        lead: Some(lead_pb(&lead)),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn get_lead(&self, request: Request<pb::GetLeadRequest>) -> Reply<pb::GetLeadResponse> {
        let caller = caller(&request)?;
        let id = lead_id("id", &request.get_ref().id)?;
        let lead = self.sales.get_lead(&caller, id).await?;
        Ok(Response::new(pb::GetLeadResponse {
            lead: Some(lead_pb(&lead)),
        }))
    }

    async fn update_lead(
        &self,
        request: Request<pb::UpdateLeadRequest>,
    ) -> Reply<pb::UpdateLeadResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let l = r.lead.unwrap_or_default();
        let id = lead_id("lead.id", &l.id)?;
        let fields = input(&l)?;
        let set = [
            ("contact_name", !l.contact_name.is_empty()),
            ("company_name", !l.company_name.is_empty()),
            ("email", !l.email.is_empty()),
            ("phone", l.phone.is_some()),
            ("source", l.source != 0),
            ("estimated_value", l.estimated_value.is_some()),
            ("interest", !l.interest.is_empty()),
            ("notes", !l.notes.is_empty()),
            ("tags", !l.tags.is_empty()),
            ("status", l.status != 0),
        ];
        let paths = mask_paths(r.update_mask, &set, UPDATABLE)?;
        let status = if paths.iter().any(|p| p == "status") {
            Some(LeadStatus::from_i32(l.status).ok_or_else(|| {
                Error::invalid_field("lead.status", format!("{} is not a LeadStatus", l.status))
            })?)
        } else {
            None
        };
        let lead = self
            .sales
            .update_lead(&caller, id, &l.etag, &fields, status, &paths)
            .await?;
        Ok(Response::new(pb::UpdateLeadResponse {
            lead: Some(lead_pb(&lead)),
        }))
    }

    async fn qualify_lead(
        &self,
        request: Request<pb::QualifyLeadRequest>,
    ) -> Reply<pb::QualifyLeadResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let id = lead_id("id", &r.id)?;
        bounded("reason", &r.reason, MAX_TEXT)?;
        bounded("etag", &r.etag, 64)?;
        let lead = self
            .sales
            .qualify_lead(&caller, id, &r.etag, r.qualified, r.score, &r.reason)
            .await?;
        Ok(Response::new(pb::QualifyLeadResponse {
            lead: Some(lead_pb(&lead)),
        }))
    }

    async fn assign_lead(
        &self,
        request: Request<pb::AssignLeadRequest>,
    ) -> Reply<pb::AssignLeadResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let id = lead_id("id", &r.id)?;
        let owner = crm_core::UserId::from(api::uuid("owner_id", &r.owner_id, "a user id")?);
        bounded("etag", &r.etag, 64)?;
        let lead = self.sales.assign_lead(&caller, id, &r.etag, owner).await?;
        Ok(Response::new(pb::AssignLeadResponse {
            lead: Some(lead_pb(&lead)),
        }))
    }

    async fn convert_lead(
        &self,
        request: Request<pb::ConvertLeadRequest>,
    ) -> Reply<pb::ConvertLeadResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        bounded("opportunity_name", &r.opportunity_name, MAX_TEXT)?;
        let max = crm_core::idempotency::MAX_KEY_LEN;
        if r.request_id.len() > max || !r.request_id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid_field(
                "request_id",
                format!("must be at most {max} printable ASCII characters, e.g. a UUID"),
            )
            .into());
        }
        let request_id = r.request_id.clone();
        let convert = ConvertRequest {
            lead_id: lead_id("id", &r.id)?,
            existing_customer_id: api::optional_uuid(
                "existing_customer_id",
                &r.existing_customer_id,
                "a customer id",
            )?,
            pipeline_id: api::optional_uuid("pipeline_id", &r.pipeline_id, "a pipeline id")?,
            opportunity_name: r.opportunity_name.clone(),
            amount: r
                .amount
                .as_ref()
                .map(|m| (m.currency_code.clone(), m.units, m.nanos)),
            expected_close_at: r.expected_close_time.as_ref().map(api::millis),
            request_id,
        };
        let done = self.sales.convert_lead(&caller, &convert).await?;
        Ok(Response::new(pb::ConvertLeadResponse {
            lead: Some(lead_pb(&done.lead)),
            customer_id: done.customer_id.to_string(),
            customer_created: done.customer_created,
            opportunity: Some(opportunity_pb(&done.opportunity)),
        }))
    }

    async fn delete_lead(
        &self,
        request: Request<pb::DeleteLeadRequest>,
    ) -> Reply<pb::DeleteLeadResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let id = lead_id("id", &r.id)?;
        bounded("etag", &r.etag, 64)?;
        self.sales.delete_lead(&caller, id, &r.etag).await?;
        Ok(Response::new(pb::DeleteLeadResponse {}))
    }

    async fn list_deleted_leads(
        &self,
        request: Request<pb::ListDeletedLeadsRequest>,
    ) -> Reply<pb::ListDeletedLeadsResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let list = "leads/deleted";
        let page = api::page(list, r.page_size, &r.page_token)?;
        let after = match page.after.as_deref() {
            None => None,
            Some(cursor) => Some(deleted_cursor(cursor).ok_or_else(|| {
                Error::invalid_field("page_token", "is not a page token of this list")
            })?),
        };
        let page = self
            .sales
            .list_deleted_leads(&caller, after, page.size)
            .await?;
        Ok(Response::new(pb::ListDeletedLeadsResponse {
            leads: page.leads.iter().map(lead_pb).collect(),
            next_page_token: page
                .next
                .map(|(at, id)| api::page_token(list, &format!("{at}_{id}")))
                .unwrap_or_default(),
        }))
    }

    async fn restore_lead(
        &self,
        request: Request<pb::RestoreLeadRequest>,
    ) -> Reply<pb::RestoreLeadResponse> {
        let caller = caller(&request)?;
        let id = lead_id("id", &request.get_ref().id)?;
        let lead = self.sales.restore_lead(&caller, id).await?;
        Ok(Response::new(pb::RestoreLeadResponse {
            lead: Some(lead_pb(&lead)),
        }))
    }
}

/// A deleted-leads page cursor, `<deletion millis>_<id>`.
fn deleted_cursor(cursor: &str) -> Option<(i64, Uuid)> {
    let (at, id) = cursor.split_once('_')?;
    Some((at.parse().ok()?, Uuid::try_parse(id).ok()?))
}

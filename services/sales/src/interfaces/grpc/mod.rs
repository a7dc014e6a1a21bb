//! gRPC ⇄ use cases: `crm.sales.v1.PipelineService`, `LeadService`, `OpportunityService` and
//! `DealService`.
//! Decoding requests (ids, masks, page tokens) and encoding responses; no business rules here.

mod leads;
mod opportunities;

use crm_core::api::{self, bounded, mask_paths};
use crm_core::{Error, RequestContext};
use crm_proto::crm::sales::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::application::pipelines::PipelineChange;
use crate::application::{Caller, Sales};
use crate::domain::pipeline::{MAX_STAGES, Pipeline, StageInput};

/// The sales services over [`Sales`].
#[derive(Clone)]
pub struct SalesGrpc {
    sales: Sales,
}

impl SalesGrpc {
    /// Serves `sales`.
    pub fn new(sales: Sales) -> SalesGrpc {
        SalesGrpc { sales }
    }
}

type Reply<T> = Result<Response<T>, Status>;

/// The longest text field a request may carry.
const MAX_TEXT: usize = 1024;

fn caller<T>(request: &Request<T>) -> Result<Caller, Error> {
    let context = RequestContext::of(request)?;
    Ok(Caller {
        principal: context.principal()?.clone(),
        causation: crm_events::Causation::of_request(context),
    })
}

fn pipeline_pb(p: &Pipeline) -> pb::Pipeline {
    pb::Pipeline {
        id: p.id.to_string(),
        tenant_id: p.tenant_id.to_string(),
        name: p.name.clone(),
        currency_code: p.currency_code.clone(),
        stages: p
            .stages
            .iter()
            .map(|s| pb::Stage {
                id: s.id.to_string(),
                name: s.name.clone(),
                probability: s.probability,
            })
            .collect(),
        default: p.is_default,
        create_time: Some(api::timestamp(p.created_at)),
        update_time: Some(api::timestamp(p.updated_at)),
        etag: p.version.to_string(),
    }
}

fn stage_inputs(stages: &[pb::Stage]) -> Result<Vec<StageInput>, Error> {
    if stages.len() > MAX_STAGES * 2 {
        return Err(Error::invalid_field(
            "pipeline.stages",
            format!("at most {MAX_STAGES} stages per pipeline"),
        ));
    }
    stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            bounded(&format!("pipeline.stages[{i}].name"), &s.name, MAX_TEXT)?;
            Ok(StageInput {
                id: api::optional_uuid(&format!("pipeline.stages[{i}].id"), &s.id, "a stage id")?,
                name: s.name.clone(),
                probability: s.probability,
            })
        })
        .collect()
}

#[tonic::async_trait]
impl pb::pipeline_service_server::PipelineService for SalesGrpc {
    async fn list_pipelines(
        &self,
        request: Request<pb::ListPipelinesRequest>,
    ) -> Reply<pb::ListPipelinesResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let page = api::page("pipelines", r.page_size, &r.page_token)?;
        let after = api::uuid_cursor(&page)?;
        let mut pipelines = self
            .sales
            .list_pipelines(&caller, after, page.size + 1)
            .await?;
        let more = pipelines.len() > page.size as usize;
        pipelines.truncate(page.size as usize);
        let next_page_token = match pipelines.last() {
            Some(last) if more => api::page_token("pipelines", &last.id.to_string()),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListPipelinesResponse {
            pipelines: pipelines.iter().map(pipeline_pb).collect(),
            next_page_token,
        }))
    }

    async fn create_pipeline(
        &self,
        request: Request<pb::CreatePipelineRequest>,
    ) -> Reply<pb::CreatePipelineResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let p = r.pipeline.clone().unwrap_or_default();
        bounded("pipeline.name", &p.name, MAX_TEXT)?;
        bounded("pipeline.currency_code", &p.currency_code, MAX_TEXT)?;
        let stages = stage_inputs(&p.stages)?;
        if stages.iter().any(|s| s.id.is_some()) {
            return Err(Error::invalid_field(
                "pipeline.stages",
                "a new pipeline's stages have no ids yet: leave them empty",
            )
            .into());
        }
        let response = self
            .sales
            .idempotency()
            .once(
                &caller.principal,
                "pipelines.manage",
                "CreatePipeline",
                &r.request_id,
                &r,
                || async {
                    let pipeline = self
                        .sales
                        .create_pipeline(&caller, &p.name, &p.currency_code, &stages, p.default)
                        .await?;
                    Ok(pb::CreatePipelineResponse {
                        pipeline: Some(pipeline_pb(&pipeline)),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn get_pipeline(
        &self,
        request: Request<pb::GetPipelineRequest>,
    ) -> Reply<pb::GetPipelineResponse> {
        let caller = caller(&request)?;
        let id: Uuid = api::uuid("id", &request.get_ref().id, "a pipeline id")?;
        let pipeline = self.sales.get_pipeline(&caller, id).await?;
        Ok(Response::new(pb::GetPipelineResponse {
            pipeline: Some(pipeline_pb(&pipeline)),
        }))
    }

    async fn update_pipeline(
        &self,
        request: Request<pb::UpdatePipelineRequest>,
    ) -> Reply<pb::UpdatePipelineResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let p = r.pipeline.unwrap_or_default();
        let id: Uuid = api::uuid("pipeline.id", &p.id, "a pipeline id")?;
        bounded("pipeline.name", &p.name, MAX_TEXT)?;
        bounded("pipeline.currency_code", &p.currency_code, MAX_TEXT)?;
        bounded("pipeline.etag", &p.etag, 64)?;
        let set = [
            ("name", !p.name.is_empty()),
            ("currency_code", !p.currency_code.is_empty()),
            ("stages", !p.stages.is_empty()),
            ("default", p.default),
        ];
        let paths = mask_paths(
            r.update_mask,
            &set,
            &["name", "currency_code", "stages", "default"],
        )?;
        let has = |path: &str| paths.iter().any(|p| p == path);
        let change = PipelineChange {
            name: has("name").then(|| p.name.clone()),
            currency_code: has("currency_code").then(|| p.currency_code.clone()),
            stages: if has("stages") {
                Some(stage_inputs(&p.stages)?)
            } else {
                None
            },
            default: has("default").then_some(p.default),
        };
        let pipeline = self
            .sales
            .update_pipeline(&caller, id, &p.etag, change)
            .await?;
        Ok(Response::new(pb::UpdatePipelineResponse {
            pipeline: Some(pipeline_pb(&pipeline)),
        }))
    }

    async fn get_pipeline_analytics(
        &self,
        request: Request<pb::GetPipelineAnalyticsRequest>,
    ) -> Reply<pb::GetPipelineAnalyticsResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let id: Uuid = api::uuid("id", &r.id, "a pipeline id")?;
        let period = period(r.start_time.as_ref(), r.end_time.as_ref());
        let owner = user("owner_id", &r.owner_id)?;
        let response = self
            .sales
            .pipeline_analytics(
                &caller,
                id,
                period,
                r.as_of.as_ref().map(api::millis),
                owner,
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn get_revenue_forecast(
        &self,
        request: Request<pb::GetRevenueForecastRequest>,
    ) -> Reply<pb::GetRevenueForecastResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let id: Uuid = api::uuid("id", &r.id, "a pipeline id")?;
        let owner = user("owner_id", &r.owner_id)?;
        let response = self
            .sales
            .revenue_forecast(&caller, id, r.months, owner)
            .await?;
        Ok(Response::new(response))
    }

    async fn get_team_analytics(
        &self,
        request: Request<pb::GetTeamAnalyticsRequest>,
    ) -> Reply<pb::GetTeamAnalyticsResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let id: Uuid = api::uuid("id", &r.id, "a pipeline id")?;
        let period = period(r.start_time.as_ref(), r.end_time.as_ref());
        let response = self.sales.team_analytics(&caller, id, period).await?;
        Ok(Response::new(response))
    }
}

/// The creation period of an analytics request: `[start_time, end_time)`, either end open.
fn period(
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
) -> crate::domain::analytics::Period {
    crate::domain::analytics::Period {
        from: start.map(api::millis),
        before: end.map(api::millis),
    }
}

/// An optional user id (`field` names it when it is not one).
fn user(field: &str, raw: &str) -> Result<Option<crm_core::UserId>, Error> {
    Ok(api::optional_uuid(field, raw, "a user id")?.map(crm_core::UserId::from))
}

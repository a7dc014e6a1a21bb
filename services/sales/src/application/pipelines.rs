//! Pipelines: create, read, list, change (name, currency, stages, which is the default).

use crm_core::{Error, Result};
use uuid::Uuid;

use super::{Caller, Sales, invalid};
use crate::domain::pipeline::{Pipeline, StageInput};

/// What an update changes: each `Some` part is replaced.
#[derive(Clone, Debug, Default)]
pub struct PipelineChange {
    /// A new name.
    pub name: Option<String>,
    /// A new currency.
    pub currency_code: Option<String>,
    /// The new list of stages.
    pub stages: Option<Vec<StageInput>>,
    /// Make it the default (only `true` is accepted: another pipeline is made the default
    /// instead of unsetting this one).
    pub default: Option<bool>,
}

impl Sales {
    /// Creates a pipeline; the tenant's first becomes its default.
    pub async fn create_pipeline(
        &self,
        caller: &Caller,
        name: &str,
        currency: &str,
        stages: &[StageInput],
        default: bool,
    ) -> Result<Pipeline> {
        let p = &caller.principal;
        p.require("pipelines.manage")?;
        let mut pipeline = Pipeline::new(p.tenant_id, name, currency, stages, self.now())
            .map_err(|problems| invalid("pipeline", problems))?;
        pipeline.is_default = default || self.store.default_pipeline(p.tenant_id).await?.is_none();
        self.store.insert_pipeline(&pipeline).await?;
        Ok(pipeline)
    }

    /// A pipeline of the caller's tenant.
    pub async fn get_pipeline(&self, caller: &Caller, id: Uuid) -> Result<Pipeline> {
        let p = &caller.principal;
        p.require("pipelines.read")?;
        self.store
            .get_pipeline(p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("pipeline", id))
    }

    /// The caller's tenant's pipelines, in id order after `after`.
    pub async fn list_pipelines(
        &self,
        caller: &Caller,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Pipeline>> {
        let p = &caller.principal;
        p.require("pipelines.read")?;
        self.store.list_pipelines(p.tenant_id, after, limit).await
    }

    /// Changes a pipeline if `etag` is current (or empty).
    pub async fn update_pipeline(
        &self,
        caller: &Caller,
        id: Uuid,
        etag: &str,
        change: PipelineChange,
    ) -> Result<Pipeline> {
        let p = &caller.principal;
        p.require("pipelines.manage")?;
        let now = self.now();
        // The stages as they were, for naming one that cannot go.
        let mut before: Vec<(Uuid, String)> = Vec::new();
        let decide = |pipeline: &mut Pipeline| {
            crm_core::api::check_etag(etag, &pipeline.version.to_string(), "pipeline")
                .map_err(|e| e.with_metadata("current_etag", pipeline.version.to_string()))?;
            if change.default == Some(false) && pipeline.is_default {
                return Err(Error::invalid_field(
                    "pipeline.default",
                    "a tenant always has a default pipeline: make another one the default instead",
                ));
            }
            before = pipeline
                .stages
                .iter()
                .map(|s| (s.id, s.name.clone()))
                .collect();
            pipeline
                .change(
                    change.name.as_deref(),
                    change.currency_code.as_deref(),
                    change.stages.as_deref(),
                    now,
                )
                .map_err(|problems| invalid("pipeline", problems))?;
            if change.default == Some(true) {
                pipeline.is_default = true;
            }
            // A stage may go only when no open opportunity is in it: checked in the
            // transaction of the save, so a move into a removed stage at the same moment is
            // either counted there or refused itself (`STAGE_REMOVED`).
            let removed: Vec<Uuid> = before
                .iter()
                .filter(|(id, _)| !pipeline.stages.iter().any(|s| s.id == *id))
                .map(|(id, _)| *id)
                .collect();
            Ok(Some(removed))
        };
        let (pipeline, occupied) = self
            .store
            .update_pipeline(p.tenant_id, id, Box::new(decide))
            .await?;
        if let Some((stage, count)) = occupied.first() {
            let name = before
                .iter()
                .find(|(id, _)| id == stage)
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            let total: i64 = occupied.iter().map(|(_, n)| n).sum();
            let mut e = Error::new(
                crm_core::ErrorKind::FailedPrecondition,
                format!(
                    "stage {name:?} holds {count} open opportunit{}: move {} to another stage, or win or lose {}, before removing it",
                    if *count == 1 { "y" } else { "ies" },
                    if *count == 1 { "it" } else { "them" },
                    if *count == 1 { "it" } else { "them" },
                ),
            )
            .with_reason("STAGE_NOT_EMPTY")
            .with_metadata("stage_id", stage.to_string())
            .with_metadata("open_opportunities", total.to_string());
            for (stage, n) in &occupied {
                e = e.with_precondition_violation(
                    "STAGE_NOT_EMPTY",
                    format!("stages/{stage}"),
                    format!("{n} open opportunities"),
                );
            }
            return Err(e);
        }
        Ok(pipeline)
    }
}

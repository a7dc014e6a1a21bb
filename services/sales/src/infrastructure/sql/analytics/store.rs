//! The analytics port of the SQL store: each read in a transaction scoped to its tenant.

use async_trait::async_trait;
use crm_core::{Result, UserId};

use super::super::SqlSalesStore;
use super::{analytics_as_of, analytics_now, forecast, late_and_undated, owner_analytics, team};
use crate::domain::Millis;
use crate::domain::analytics::{Analytics, ForecastMonth, OpenSums, OwnerSums, Period};
use crate::domain::pipeline::Pipeline;
use crate::domain::ports::AnalyticsStore;

#[async_trait]
impl AnalyticsStore for SqlSalesStore {
    async fn analytics_now(
        &self,
        pipeline: &Pipeline,
        period: &Period,
        now: Millis,
    ) -> Result<Analytics> {
        self.db
            .in_tenant(pipeline.tenant_id, "reading analytics", async |tx| {
                analytics_now(tx, self.db.engine(), pipeline, period, now).await
            })
            .await
    }

    async fn analytics(
        &self,
        pipeline: &Pipeline,
        period: &Period,
        as_of: Millis,
    ) -> Result<Analytics> {
        self.db
            .in_tenant(pipeline.tenant_id, "reading analytics", async |tx| {
                analytics_as_of(tx, self.db.engine(), pipeline, period, as_of).await
            })
            .await
    }

    async fn forecast(
        &self,
        pipeline: &Pipeline,
        months: &[(Millis, Millis)],
    ) -> Result<Vec<ForecastMonth>> {
        self.db
            .in_tenant(pipeline.tenant_id, "reading the forecast", async |tx| {
                forecast(tx, self.db.engine(), pipeline, months, None).await
            })
            .await
    }

    async fn late_and_undated(
        &self,
        pipeline: &Pipeline,
        before: Millis,
    ) -> Result<(OpenSums, OpenSums)> {
        self.db
            .in_tenant(pipeline.tenant_id, "reading the forecast", async |tx| {
                late_and_undated(tx, self.db.engine(), pipeline, before, None).await
            })
            .await
    }

    async fn owner_analytics(
        &self,
        pipeline: &Pipeline,
        period: &Period,
        as_of: Millis,
        owner: UserId,
    ) -> Result<Analytics> {
        self.db
            .in_tenant(pipeline.tenant_id, "reading analytics", async |tx| {
                owner_analytics(tx, self.db.engine(), pipeline, period, as_of, owner).await
            })
            .await
    }

    async fn owner_forecast(
        &self,
        pipeline: &Pipeline,
        months: &[(Millis, Millis)],
        owner: UserId,
    ) -> Result<(Vec<ForecastMonth>, OpenSums, OpenSums)> {
        let owner = owner.to_string();
        let first = months.first().map_or(0, |m| m.0);
        self.db
            .in_tenant(pipeline.tenant_id, "reading the forecast", async |tx| {
                let engine = self.db.engine();
                let sums = forecast(tx, engine, pipeline, months, Some(&owner)).await?;
                let (late, undated) =
                    late_and_undated(tx, engine, pipeline, first, Some(&owner)).await?;
                Ok((sums, late, undated))
            })
            .await
    }

    async fn team(
        &self,
        pipeline: &Pipeline,
        period: &Period,
        now: Millis,
        only: Option<UserId>,
    ) -> Result<Vec<OwnerSums>> {
        self.db
            .in_tenant(
                pipeline.tenant_id,
                "reading the team's analytics",
                async |tx| team(tx, self.db.engine(), pipeline, period, now, only).await,
            )
            .await
    }
}

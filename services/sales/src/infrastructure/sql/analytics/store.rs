//! The analytics port of the SQL store: each read in a transaction scoped to its tenant.

use async_trait::async_trait;
use crm_core::Result;

use super::super::SqlSalesStore;
use super::{analytics_as_of, analytics_now, forecast, late_and_undated};
use crate::domain::Millis;
use crate::domain::analytics::{Analytics, ForecastMonth, OpenSums, Period};
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
                forecast(tx, self.db.engine(), pipeline, months).await
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
                late_and_undated(tx, self.db.engine(), pipeline, before).await
            })
            .await
    }
}

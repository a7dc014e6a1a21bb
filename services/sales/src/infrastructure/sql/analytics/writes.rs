//! What each change of an opportunity adds to the running sums, in its own transaction.

use crm_core::Result;
use crm_core::storage::Conn;
use uuid::Uuid;

use super::db;

use crate::domain::analytics::{ClosedSums, Contribution, ForecastSums, StageSums, SumsChange};
use crate::domain::opportunity::Opportunity;

/// Adds what changed when `old` became `new` (or `new` was created) to the running sums.
pub async fn apply(tx: &mut Conn, old: Option<&Opportunity>, new: &Opportunity) -> Result<()> {
    let SumsChange {
        day,
        at_day,
        stages,
        gone,
        added,
        forecast,
    } = Contribution::change(old, new);
    let (tenant, pipeline) = (new.tenant_id.to_string(), new.pipeline_id.to_string());
    for (stage, d) in stages {
        add_stage(tx, &tenant, &pipeline, stage, (day, None), d).await?;
        add_stage(tx, &tenant, &pipeline, stage, (day, Some(at_day)), d).await?;
    }
    for (c, sign) in gone
        .map(|c| (c, -1))
        .into_iter()
        .chain(added.map(|c| (c, 1)))
    {
        add_closed(tx, &tenant, &pipeline, (day, None), c, sign).await?;
        add_closed(tx, &tenant, &pipeline, (day, Some(at_day)), c, sign).await?;
    }
    for (sign, f) in forecast {
        add_forecast(tx, &tenant, &pipeline, f, sign).await?;
    }
    Ok(())
}

/// The table of a bucket: by day of creation alone, or with the day of the change.
pub(super) fn table(base: &str, key: (i64, Option<i64>)) -> (String, &'static str, &'static str) {
    match key.1 {
        None => (base.to_string(), "", ""),
        Some(_) => (format!("{base}_at"), ", at_day", ", $13"),
    }
}

pub(super) async fn add_stage(
    tx: &mut Conn,
    tenant: &str,
    pipeline: &str,
    stage: Uuid,
    key: (i64, Option<i64>),
    d: StageSums,
) -> Result<()> {
    let (table, column, value) = table("stage_stats", key);
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into {table} (tenant_id, pipeline_id, stage_id, day, entered, advanced, \
         stay_millis, stays, open_count, open_entered_at, open_units, open_nanos{column}) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12{value}) \
         on conflict (tenant_id, pipeline_id, stage_id, day{column}) do update set \
         entered = {table}.entered + excluded.entered, \
         advanced = {table}.advanced + excluded.advanced, \
         stay_millis = {table}.stay_millis + excluded.stay_millis, \
         stays = {table}.stays + excluded.stays, \
         open_count = {table}.open_count + excluded.open_count, \
         open_entered_at = {table}.open_entered_at + excluded.open_entered_at, \
         open_units = {table}.open_units + excluded.open_units, \
         open_nanos = {table}.open_nanos + excluded.open_nanos"
    )))
    .bind(tenant)
    .bind(pipeline)
    .bind(stage.to_string())
    .bind(key.0)
    .bind(d.entered)
    .bind(d.advanced)
    .bind(d.stay_millis)
    .bind(d.stays)
    .bind(d.open_count)
    .bind(d.open_entered_at)
    .bind(d.open_units)
    .bind(d.open_nanos);
    if let Some(at_day) = key.1 {
        query = query.bind(at_day);
    }
    query
        .execute(tx)
        .await
        .map_err(db("keeping the analytics' sums"))
        .map(drop)
}

pub(super) async fn add_closed(
    tx: &mut Conn,
    tenant: &str,
    pipeline: &str,
    key: (i64, Option<i64>),
    c: ClosedSums,
    sign: i64,
) -> Result<()> {
    let (table, column, _) = table("close_stats", key);
    let value = if key.1.is_some() { ", $10" } else { "" };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into {table} (tenant_id, pipeline_id, day, status, loss_reason, closed, units, \
         nanos, cycle_millis{column}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9{value}) \
         on conflict (tenant_id, pipeline_id, day, status, loss_reason{column}) do update set \
         closed = {table}.closed + excluded.closed, units = {table}.units + excluded.units, \
         nanos = {table}.nanos + excluded.nanos, \
         cycle_millis = {table}.cycle_millis + excluded.cycle_millis"
    )))
    .bind(tenant)
    .bind(pipeline)
    .bind(key.0)
    .bind(c.status)
    .bind(i64::from(c.loss_reason))
    .bind(sign)
    .bind(sign * c.units)
    .bind(sign * c.nanos)
    .bind(sign * c.cycle_millis);
    if let Some(at_day) = key.1 {
        query = query.bind(at_day);
    }
    query
        .execute(tx)
        .await
        .map_err(db("keeping the analytics' sums"))
        .map(drop)
}

pub(super) async fn add_forecast(
    tx: &mut Conn,
    tenant: &str,
    pipeline: &str,
    f: ForecastSums,
    sign: i64,
) -> Result<()> {
    sqlx::query(
        "insert into forecast_stats (tenant_id, pipeline_id, hour, open_count, units, nanos, \
         weighted_units, weighted_nanos) values ($1, $2, $3, $4, $5, $6, $7, $8) \
         on conflict (tenant_id, pipeline_id, hour) do update set \
         open_count = forecast_stats.open_count + excluded.open_count, \
         units = forecast_stats.units + excluded.units, \
         nanos = forecast_stats.nanos + excluded.nanos, \
         weighted_units = forecast_stats.weighted_units + excluded.weighted_units, \
         weighted_nanos = forecast_stats.weighted_nanos + excluded.weighted_nanos",
    )
    .bind(tenant)
    .bind(pipeline)
    .bind(f.hour)
    .bind(sign)
    .bind(sign * f.units)
    .bind(sign * f.nanos)
    .bind(sign * f.weighted_units)
    .bind(sign * f.weighted_nanos)
    .execute(tx)
    .await
    .map_err(db("keeping the forecast's sums"))
    .map(drop)
}

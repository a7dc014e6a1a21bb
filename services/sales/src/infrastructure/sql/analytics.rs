//! The sums behind pipeline analytics (rebuilt from the stage history, at any past moment) and
//! the revenue forecast. Amounts are summed as whole units and billionths apart, then joined
//! exactly (i128) in Rust; PostgreSQL's `sum(bigint)` is numeric, hence the casts.

use crm_core::storage::Conn;
use crm_core::Result;
use uuid::Uuid;

use super::db;
use crate::domain::analytics::{Analytics, ForecastMonth, Period, StageFigures};
use crate::domain::pipeline::Pipeline;

const NANOS: i128 = 1_000_000_000;

fn nanos(units: i64, nanos: i64) -> i128 {
    i128::from(units) * NANOS + i128::from(nanos)
}

fn uuid(raw: &str) -> Option<Uuid> {
    Uuid::parse_str(raw).ok()
}

/// The pipeline's figures for opportunities created in `period`, as they stood at `as_of`.
pub async fn analytics(
    tx: &mut Conn,
    pipeline: &Pipeline,
    period: &Period,
    as_of: i64,
) -> Result<Analytics> {
    let tenant = pipeline.tenant_id.to_string();
    let id = pipeline.id.to_string();
    let from = period.from.unwrap_or(i64::MIN);
    let before = period.before.unwrap_or(i64::MAX);

    // Open at `as_of`: a stay that had begun and not ended.
    let open: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "select sc.to_stage_id, count(*), cast(coalesce(sum(o.amount_units), 0) as bigint), \
         cast(coalesce(sum(o.amount_nanos), 0) as bigint) \
         from stage_changes sc join opportunities o \
         on o.tenant_id = sc.tenant_id and o.id = sc.opportunity_id \
         where sc.tenant_id = $1 and sc.pipeline_id = $2 and sc.changed_at <= $3 \
         and (sc.left_at is null or sc.left_at > $3) \
         and o.created_at >= $4 and o.created_at < $5 \
         group by sc.to_stage_id",
    )
    .bind(&tenant)
    .bind(&id)
    .bind(as_of)
    .bind(from)
    .bind(before)
    .fetch_all(&mut *tx)
    .await
    .map_err(db("summing open opportunities"))?;

    // Every stay begun by `as_of`: whether a later stage (or a win) followed it, and how long
    // it lasted (up to `as_of` for one still running).
    let flow: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "with entries as ( \
           select sc.opportunity_id, sc.to_stage_id, st.position, sc.changed_at, sc.left_at, \
             max(st.position) over (partition by sc.opportunity_id order by sc.seq \
               rows between 1 following and unbounded following) as later_max, \
             case when o.status = 'won' and o.closed_at <= $3 then 1 else 0 end as won \
           from stage_changes sc \
           join stages st on st.tenant_id = sc.tenant_id and st.id = sc.to_stage_id \
           join opportunities o on o.tenant_id = sc.tenant_id and o.id = sc.opportunity_id \
           where sc.tenant_id = $1 and sc.pipeline_id = $2 and sc.changed_at <= $3 \
           and o.created_at >= $4 and o.created_at < $5 \
         ) \
         select to_stage_id, count(distinct opportunity_id), \
           count(distinct case when later_max > position or won = 1 then opportunity_id end), \
           cast(coalesce(sum(case when left_at is null or left_at > $3 then $3 else left_at end - changed_at), 0) as bigint), \
           count(*) \
         from entries group by to_stage_id",
    )
    .bind(&tenant)
    .bind(&id)
    .bind(as_of)
    .bind(from)
    .bind(before)
    .fetch_all(&mut *tx)
    .await
    .map_err(db("summing stage history"))?;

    let mut stages: Vec<StageFigures> = pipeline
        .stages
        .iter()
        .map(|s| StageFigures {
            stage_id: s.id,
            ..StageFigures::default()
        })
        .collect();
    for (stage, count, units, n) in open {
        if let Some(f) = stages.iter_mut().find(|f| Some(f.stage_id) == uuid(&stage)) {
            f.open_count = count;
            f.open_nanos = nanos(units, n);
        }
    }
    for (stage, entered, advanced, stay, stays) in flow {
        if let Some(f) = stages.iter_mut().find(|f| Some(f.stage_id) == uuid(&stage)) {
            f.entered = entered;
            f.advanced = advanced;
            f.stay_millis = i128::from(stay);
            f.stays = stays;
        }
    }

    // Closed by `as_of`.
    let closed: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "select status, loss_reason, count(*), cast(coalesce(sum(amount_units), 0) as bigint), \
         cast(coalesce(sum(amount_nanos), 0) as bigint), \
         cast(coalesce(sum(closed_at - created_at), 0) as bigint) \
         from opportunities where tenant_id = $1 and pipeline_id = $2 \
         and status in ('won', 'lost') and closed_at <= $3 \
         and created_at >= $4 and created_at < $5 \
         group by status, loss_reason",
    )
    .bind(&tenant)
    .bind(&id)
    .bind(as_of)
    .bind(from)
    .bind(before)
    .fetch_all(&mut *tx)
    .await
    .map_err(db("summing closed opportunities"))?;
    let mut out = Analytics {
        stages,
        ..Analytics::default()
    };
    for (status, reason, count, units, n, cycle) in closed {
        if status == "won" {
            out.won_count += count;
            out.won_nanos += nanos(units, n);
            out.cycle_millis += i128::from(cycle);
        } else {
            out.lost_count += count;
            out.loss_reasons.push((reason as i32, count));
        }
    }
    out.loss_reasons.sort();
    Ok(out)
}

/// Per month: won amounts closed in it, and open amounts expected to close in it.
pub async fn forecast(
    tx: &mut Conn,
    pipeline: &Pipeline,
    months: &[(i64, i64)],
) -> Result<Vec<ForecastMonth>> {
    let tenant = pipeline.tenant_id.to_string();
    let id = pipeline.id.to_string();
    let mut out = Vec::with_capacity(months.len());
    for &(start, end) in months {
        let (units, n): (i64, i64) = sqlx::query_as(
            "select cast(coalesce(sum(amount_units), 0) as bigint), \
             cast(coalesce(sum(amount_nanos), 0) as bigint) \
             from deals where tenant_id = $1 and pipeline_id = $2 and closed_at >= $3 and closed_at < $4",
        )
        .bind(&tenant)
        .bind(&id)
        .bind(start)
        .bind(end)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("summing won deals"))?;
        let (count, units_all, nanos_all, units_weighted, nanos_weighted): (i64, i64, i64, i64, i64) =
            sqlx::query_as(
                "select count(*), cast(coalesce(sum(amount_units), 0) as bigint), \
                 cast(coalesce(sum(amount_nanos), 0) as bigint), \
                 cast(coalesce(sum(amount_units * probability), 0) as bigint), \
                 cast(coalesce(sum(amount_nanos * probability), 0) as bigint) \
                 from opportunities where tenant_id = $1 and pipeline_id = $2 and status = 'open' \
                 and expected_close_at >= $3 and expected_close_at < $4",
            )
            .bind(&tenant)
            .bind(&id)
            .bind(start)
            .bind(end)
            .fetch_one(&mut *tx)
            .await
            .map_err(db("summing open opportunities"))?;
        out.push(ForecastMonth {
            start,
            end,
            committed_nanos: nanos(units, n),
            weighted_percent_nanos: nanos(units_weighted, nanos_weighted),
            best_case_nanos: nanos(units_all, nanos_all),
            open_count: count,
        });
    }
    Ok(out)
}

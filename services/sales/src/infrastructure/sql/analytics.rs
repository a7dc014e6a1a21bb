//! The sums behind pipeline analytics (rebuilt from the stage history, at any past moment) and
//! the revenue forecast. Amounts are summed as whole units and billionths apart, then joined
//! exactly (i128) in Rust; PostgreSQL's `sum(bigint)` is numeric, hence the casts.

use crm_core::Result;
use crm_core::storage::Conn;
use uuid::Uuid;

use super::db;
use crm_core::storage::Engine;

use crate::domain::analytics::{
    Analytics, ClosedSums, Contribution, DAY, ForecastMonth, Period, StageFigures, StageSums,
    SumsChange,
};
use crate::domain::opportunity::Opportunity;
use crate::domain::pipeline::Pipeline;

const NANOS: i128 = 1_000_000_000;

fn nanos(units: i64, nanos: i64) -> i128 {
    i128::from(units) * NANOS + i128::from(nanos)
}

fn uuid(raw: &str) -> Option<Uuid> {
    Uuid::parse_str(raw).ok()
}

/// Zero figures for every stage of `pipeline`, in order.
fn empty(pipeline: &Pipeline) -> Analytics {
    Analytics {
        stages: pipeline
            .stages
            .iter()
            .map(|s| StageFigures {
                stage_id: s.id,
                ..StageFigures::default()
            })
            .collect(),
        ..Analytics::default()
    }
}

/// Adds closed sums (status, loss reason, count, units, billionths, cycle millis) to `out`.
fn add_closed_rows(out: &mut Analytics, rows: Vec<(String, i64, i64, i64, i64, i64)>) {
    for (status, reason, count, units, n, cycle) in rows {
        if count == 0 {
            continue;
        }
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
}

/// Adds what changed when `old` became `new` (or `new` was created) to the running sums.
pub async fn apply(tx: &mut Conn, old: Option<&Opportunity>, new: &Opportunity) -> Result<()> {
    let SumsChange {
        day,
        stages,
        gone,
        added,
    } = Contribution::change(old, new);
    let (tenant, pipeline) = (new.tenant_id.to_string(), new.pipeline_id.to_string());
    for (stage, d) in stages {
        add_stage(tx, &tenant, &pipeline, stage, day, d).await?;
    }
    if let Some(c) = gone {
        add_closed(tx, &tenant, &pipeline, day, c, -1).await?;
    }
    if let Some(c) = added {
        add_closed(tx, &tenant, &pipeline, day, c, 1).await?;
    }
    Ok(())
}

async fn add_stage(
    tx: &mut Conn,
    tenant: &str,
    pipeline: &str,
    stage: Uuid,
    day: i64,
    d: StageSums,
) -> Result<()> {
    sqlx::query(
        "insert into stage_stats (tenant_id, pipeline_id, stage_id, day, entered, advanced, \
         stay_millis, stays, open_count, open_entered_at, open_units, open_nanos) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         on conflict (tenant_id, pipeline_id, stage_id, day) do update set \
         entered = stage_stats.entered + excluded.entered, \
         advanced = stage_stats.advanced + excluded.advanced, \
         stay_millis = stage_stats.stay_millis + excluded.stay_millis, \
         stays = stage_stats.stays + excluded.stays, \
         open_count = stage_stats.open_count + excluded.open_count, \
         open_entered_at = stage_stats.open_entered_at + excluded.open_entered_at, \
         open_units = stage_stats.open_units + excluded.open_units, \
         open_nanos = stage_stats.open_nanos + excluded.open_nanos",
    )
    .bind(tenant)
    .bind(pipeline)
    .bind(stage.to_string())
    .bind(day)
    .bind(d.entered)
    .bind(d.advanced)
    .bind(d.stay_millis)
    .bind(d.stays)
    .bind(d.open_count)
    .bind(d.open_entered_at)
    .bind(d.open_units)
    .bind(d.open_nanos)
    .execute(tx)
    .await
    .map_err(db("keeping the analytics' sums"))
    .map(drop)
}

async fn add_closed(
    tx: &mut Conn,
    tenant: &str,
    pipeline: &str,
    day: i64,
    c: ClosedSums,
    sign: i64,
) -> Result<()> {
    sqlx::query(
        "insert into close_stats (tenant_id, pipeline_id, day, status, loss_reason, closed, units, \
         nanos, cycle_millis) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         on conflict (tenant_id, pipeline_id, day, status, loss_reason) do update set \
         closed = close_stats.closed + excluded.closed, units = close_stats.units + excluded.units, \
         nanos = close_stats.nanos + excluded.nanos, \
         cycle_millis = close_stats.cycle_millis + excluded.cycle_millis",
    )
    .bind(tenant)
    .bind(pipeline)
    .bind(day)
    .bind(c.status)
    .bind(i64::from(c.loss_reason))
    .bind(sign)
    .bind(sign * c.units)
    .bind(sign * c.nanos)
    .bind(sign * c.cycle_millis)
    .execute(tx)
    .await
    .map_err(db("keeping the analytics' sums"))
    .map(drop)
}

/// The pipeline's figures now for opportunities created in `period`: whole days from the
/// running sums, the part-days at either end of the period from the history.
pub async fn analytics_now(
    tx: &mut Conn,
    engine: Engine,
    pipeline: &Pipeline,
    period: &Period,
    now: i64,
) -> Result<Analytics> {
    // Whole days [first, last), and the part-days around them.
    let first = period.from.map_or(i64::MIN, |f| {
        f.div_euclid(DAY) + i64::from(f.rem_euclid(DAY) != 0)
    });
    let last = period.before.map_or(i64::MAX, |b| b.div_euclid(DAY));
    if first >= last {
        // Inside one day: from the history alone.
        return analytics(tx, pipeline, period, now).await;
    }
    let mut out = sums(tx, engine, pipeline, first, last, now).await?;
    if let Some(from) = period.from
        && from < first * DAY
    {
        let head = Period {
            from: Some(from),
            before: Some(first * DAY),
        };
        out.merge(&analytics(tx, pipeline, &head, now).await?);
    }
    if let Some(before) = period.before
        && before > last * DAY
    {
        let tail = Period {
            from: Some(last * DAY),
            before: Some(before),
        };
        out.merge(&analytics(tx, pipeline, &tail, now).await?);
    }
    Ok(out)
}

/// A stage's summed row: id, entered, advanced, stay millis, stays, open count, open entered-at
/// sum, open units, open billionths.
type StageRow = (String, i64, i64, i64, i64, i64, i64, i64, i64);

/// The running sums of the days `[first, last)`, with stays still running counted up to `now`.
async fn sums(
    tx: &mut Conn,
    engine: Engine,
    pipeline: &Pipeline,
    first: i64,
    last: i64,
    now: i64,
) -> Result<Analytics> {
    let tenant = pipeline.tenant_id.to_string();
    let id = pipeline.id.to_string();
    // PostgreSQL's sum(bigint) is numeric; SQLite's sum of integers is an integer.
    let sum = |column: &str| match engine {
        Engine::Postgres => format!("cast(coalesce(sum({column}), 0) as bigint)"),
        Engine::Sqlite => format!("coalesce(sum({column}), 0)"),
    };
    let stage_rows: Vec<StageRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select stage_id, {}, {}, {}, {}, {}, {}, {}, {} from stage_stats \
             where tenant_id = $1 and pipeline_id = $2 and day >= $3 and day < $4 group by stage_id",
            sum("entered"),
            sum("advanced"),
            sum("stay_millis"),
            sum("stays"),
            sum("open_count"),
            sum("open_entered_at"),
            sum("open_units"),
            sum("open_nanos"),
        )))
        .bind(&tenant)
        .bind(&id)
        .bind(first)
        .bind(last)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading the analytics' sums"))?;
    let mut out = empty(pipeline);
    for (stage, entered, advanced, stay, stays, open, open_entered, units, n) in stage_rows {
        if let Some(f) = out
            .stages
            .iter_mut()
            .find(|f| Some(f.stage_id) == uuid(&stage))
        {
            f.entered = entered;
            f.advanced = advanced;
            f.open_count = open;
            f.open_nanos = nanos(units, n);
            // Running stays last until now.
            f.stays = stays + open;
            f.stay_millis =
                i128::from(stay) + i128::from(open) * i128::from(now) - i128::from(open_entered);
        }
    }
    let closed: Vec<(String, i64, i64, i64, i64, i64)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select status, loss_reason, {}, {}, {}, {} from close_stats \
         where tenant_id = $1 and pipeline_id = $2 and day >= $3 and day < $4 \
         group by status, loss_reason",
            sum("closed"),
            sum("units"),
            sum("nanos"),
            sum("cycle_millis"),
        )))
        .bind(&tenant)
        .bind(&id)
        .bind(first)
        .bind(last)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading the analytics' sums"))?;
    add_closed_rows(&mut out, closed);
    Ok(out)
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
           select sc.opportunity_id, sc.to_stage_id, sc.to_position as position, sc.changed_at, \
             sc.left_at, max(sc.to_position) over (partition by sc.opportunity_id order by sc.seq \
               rows between 1 following and unbounded following) as later_max, \
             case when o.status = 'won' and o.closed_at <= $3 then 1 else 0 end as won \
           from stage_changes sc \
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

    let mut out = empty(pipeline);
    let stages = &mut out.stages;
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
    add_closed_rows(&mut out, closed);
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
        let (count, units_all, nanos_all, units_weighted, nanos_weighted): (
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = sqlx::query_as(
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

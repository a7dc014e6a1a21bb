//! The sums behind pipeline analytics and the revenue forecast.
//!
//! Each change of an opportunity adds the difference it makes to running sums, in its own
//! transaction: per stage and day of creation (`stage_stats`, `close_stats`: analytics now),
//! the same per day of the change too (`stage_stats_at`, `close_stats_at`: the point-in-time
//! view), and per hour of expected close (`forecast_stats`). Reads sum those rows; the history
//! (`stage_changes`) is read only for the edges: part-days of a period, and the opportunities
//! changed on the day of an `as_of` moment.
//!
//! Amounts are summed as whole units and billionths apart, then joined exactly (i128) in Rust;
//! PostgreSQL's `sum(bigint)` is numeric, hence the casts.

use crm_core::Result;
use crm_core::storage::Conn;

use super::db;
use crm_core::storage::Engine;

use std::collections::BTreeMap;

use crate::domain::analytics::{Analytics, DAY, Period, StageFigures, StageSums, day_of};
use crate::domain::pipeline::Pipeline;

mod forecast;
mod owners;
mod store;
mod writes;

pub use forecast::{forecast, late_and_undated};
pub use owners::{owner_analytics, team};
pub use writes::apply;

pub(super) const NANOS: i128 = 1_000_000_000;

pub(super) fn nanos(units: i64, nanos: i64) -> i128 {
    i128::from(units) * NANOS + i128::from(nanos)
}

/// Raw sums, before they are read at a moment: per stage the [`StageSums`] (open stays as a count
/// and a sum of entry times), and per (status, loss reason) the closed count, units, billionths
/// and cycle millis.
#[derive(Debug, Default)]
pub(super) struct Sums {
    stages: BTreeMap<String, StageSums>,
    closed: BTreeMap<(String, i64), [i64; 4]>,
}

pub(super) fn plus(a: StageSums, b: StageSums) -> StageSums {
    StageSums {
        entered: a.entered + b.entered,
        advanced: a.advanced + b.advanced,
        stay_millis: a.stay_millis + b.stay_millis,
        stays: a.stays + b.stays,
        open_count: a.open_count + b.open_count,
        open_entered_at: a.open_entered_at + b.open_entered_at,
        open_units: a.open_units + b.open_units,
        open_nanos: a.open_nanos + b.open_nanos,
    }
}

impl Sums {
    fn stage(&mut self, stage: String, sums: StageSums) {
        let mine = self.stages.entry(stage).or_default();
        *mine = plus(*mine, sums);
    }

    fn closed(&mut self, status: String, reason: i64, figures: [i64; 4]) {
        let mine = self.closed.entry((status, reason)).or_default();
        for (m, f) in mine.iter_mut().zip(figures) {
            *m += f;
        }
    }

    fn add(&mut self, other: Sums) {
        for (stage, sums) in other.stages {
            self.stage(stage, sums);
        }
        for ((status, reason), figures) in other.closed {
            self.closed(status, reason, figures);
        }
    }

    /// The figures at `at`: stays still running last until then.
    fn figures(&self, pipeline: &Pipeline, at: i64) -> Analytics {
        let mut out = Analytics {
            stages: pipeline
                .stages
                .iter()
                .map(|s| {
                    let sums = self
                        .stages
                        .get(&s.id.to_string())
                        .copied()
                        .unwrap_or_default();
                    StageFigures {
                        stage_id: s.id,
                        open_count: sums.open_count,
                        open_nanos: nanos(sums.open_units, sums.open_nanos),
                        entered: sums.entered,
                        advanced: sums.advanced,
                        stays: sums.stays + sums.open_count,
                        stay_millis: i128::from(sums.stay_millis)
                            + i128::from(sums.open_count) * i128::from(at)
                            - i128::from(sums.open_entered_at),
                    }
                })
                .collect(),
            ..Analytics::default()
        };
        for ((status, reason), [count, units, n, cycle]) in &self.closed {
            if *count == 0 {
                continue;
            }
            if status == "won" {
                out.won_count += count;
                out.won_nanos += nanos(*units, *n);
                out.cycle_millis += i128::from(*cycle);
            } else {
                out.lost_count += count;
                out.loss_reasons.push((*reason as i32, *count));
            }
        }
        out.loss_reasons.sort();
        out
    }
}

/// `sum(column)` as a 64-bit integer (PostgreSQL's `sum(bigint)` is numeric).
pub(super) fn sum(engine: Engine, column: &str) -> String {
    match engine {
        Engine::Postgres => format!("cast(coalesce(sum({column}), 0) as bigint)"),
        Engine::Sqlite => format!("coalesce(sum({column}), 0)"),
    }
}

/// A period of creation split into whole days `[first, last)` read from the running sums, and
/// the part-days around them (creation-time ranges) read from the history.
/// A range of days, or of creation times: `[first, last)`.
pub(super) type Range = (i64, i64);

pub(super) fn split(period: &Period) -> (Option<Range>, Vec<Range>) {
    let (from, before) = (
        period.from.unwrap_or(i64::MIN),
        period.before.unwrap_or(i64::MAX),
    );
    let first = period.from.map_or(i64::MIN, |f| {
        f.div_euclid(DAY) + i64::from(f.rem_euclid(DAY) != 0)
    });
    let last = period.before.map_or(i64::MAX, |b| b.div_euclid(DAY));
    if first >= last {
        return (None, vec![(from, before)]);
    }
    let mut parts = Vec::new();
    if from < first.saturating_mul(DAY) {
        parts.push((from, first * DAY));
    }
    if before > last.saturating_mul(DAY) {
        parts.push((last * DAY, before));
    }
    (Some((first, last)), parts)
}

/// The pipeline's figures now for opportunities created in `period`.
pub async fn analytics_now(
    tx: &mut Conn,
    engine: Engine,
    pipeline: &Pipeline,
    period: &Period,
    now: i64,
) -> Result<Analytics> {
    let (whole, parts) = split(period);
    let mut out = Sums::default();
    if let Some(days) = whole {
        out.add(summed(tx, engine, pipeline, days, None).await?);
    }
    for part in parts {
        out.add(history(tx, engine, pipeline, part, now).await?);
    }
    Ok(out.figures(pipeline, now))
}

/// The pipeline's figures for opportunities created in `period`, as they stood at `as_of`:
/// the sums of the changes made before `as_of`'s day, plus what the day changed until `as_of`
/// ([`day_change`]).
pub async fn analytics_as_of(
    tx: &mut Conn,
    engine: Engine,
    pipeline: &Pipeline,
    period: &Period,
    as_of: i64,
) -> Result<Analytics> {
    let (whole, parts) = split(period);
    let day = day_of(as_of);
    let mut out = Sums::default();
    if let Some((first, last)) = whole {
        out.add(summed(tx, engine, pipeline, (first, last), Some(day)).await?);
        let created = (first.saturating_mul(DAY), last.saturating_mul(DAY));
        out.add(day_change(tx, engine, pipeline, created, day * DAY, as_of).await?);
    }
    for part in parts {
        out.add(history(tx, engine, pipeline, part, as_of).await?);
    }
    Ok(out.figures(pipeline, as_of))
}

/// The same figures from the history alone: the reference the running sums are tested against.
pub async fn rebuilt(
    tx: &mut Conn,
    engine: Engine,
    pipeline: &Pipeline,
    period: &Period,
    as_of: i64,
) -> Result<Analytics> {
    let created = (
        period.from.unwrap_or(i64::MIN),
        period.before.unwrap_or(i64::MAX),
    );
    let sums = history(tx, engine, pipeline, created, as_of).await?;
    Ok(sums.figures(pipeline, as_of))
}

/// The running sums of the creation days `[first, last)`; with `before_day`, of the changes made
/// before that day only.
pub(super) async fn summed(
    tx: &mut Conn,
    engine: Engine,
    pipeline: &Pipeline,
    (first, last): (i64, i64),
    before_day: Option<i64>,
) -> Result<Sums> {
    let (suffix, changed) = match before_day {
        Some(_) => ("_at", " and at_day < $5"),
        None => ("", ""),
    };
    let mut values = vec![first, last];
    values.extend(before_day);
    let columns = [
        "entered",
        "advanced",
        "stay_millis",
        "stays",
        "open_count",
        "open_entered_at",
        "open_units",
        "open_nanos",
    ]
    .map(|c| sum(engine, c))
    .join(", ");
    let stage_rows: Vec<StageRow> = bound(
        format!(
            "select stage_id, {columns} from stage_stats{suffix} \
         where tenant_id = $1 and pipeline_id = $2 and day >= $3 and day < $4{changed} \
         group by stage_id"
        ),
        pipeline,
        &values,
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db("reading the analytics' sums"))?;
    let columns = ["closed", "units", "nanos", "cycle_millis"]
        .map(|c| sum(engine, c))
        .join(", ");
    let closed: Vec<ClosedRow> = bound(
        format!(
            "select status, loss_reason, {columns} from close_stats{suffix} \
         where tenant_id = $1 and pipeline_id = $2 and day >= $3 and day < $4{changed} \
         group by status, loss_reason"
        ),
        pipeline,
        &values,
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db("reading the analytics' sums"))?;
    Ok(sums_of(stage_rows, closed))
}

/// `sql` with the pipeline's tenant and id as `$1` and `$2`, then `values`.
pub(super) fn bound<'q, O>(
    sql: String,
    pipeline: &Pipeline,
    values: &[i64],
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(pipeline.tenant_id.to_string())
        .bind(pipeline.id.to_string());
    for value in values {
        query = query.bind(*value);
    }
    query
}

/// A stage's summed row: id, then [`StageSums`]' fields in order.
pub(super) type StageRow = (String, i64, i64, i64, i64, i64, i64, i64, i64);
/// Closed sums: status, loss reason, count, units, billionths, cycle millis.
pub(super) type ClosedRow = (String, i64, i64, i64, i64, i64);

pub(super) fn sums_of(stage_rows: Vec<StageRow>, closed: Vec<ClosedRow>) -> Sums {
    let mut out = Sums::default();
    for (stage, entered, advanced, stay_millis, stays, open_count, open_entered_at, u, n) in
        stage_rows
    {
        let sums = StageSums {
            entered,
            advanced,
            stay_millis,
            stays,
            open_count,
            open_entered_at,
            open_units: u,
            open_nanos: n,
        };
        out.stage(stage, sums);
    }
    for (status, reason, count, units, n, cycle) in closed {
        out.closed(status, reason, [count, units, n, cycle]);
    }
    out
}

/// The stage changes and the closed opportunities of [`history`]: `$1` tenant, `$2` pipeline,
/// `$3` the moment, `$4` and `$5` the creation range.
pub(super) fn history_statements() -> (&'static str, &'static str) {
    // SQLite plans without statistics: a unary `+` keeps a column's index from being chosen
    // over the creation index and the keys (PostgreSQL plans it freely).
    (
        "opportunities o cross join stage_changes sc \
         where sc.tenant_id = o.tenant_id and sc.opportunity_id = o.id \
         and o.tenant_id = $1 and o.pipeline_id = $2 and +sc.changed_at <= $3 \
         and o.created_at >= $4 and o.created_at < $5",
        "opportunities o where o.tenant_id = $1 and o.pipeline_id = $2 \
         and +o.closed_at <= $3 and o.created_at >= $4 and o.created_at < $5",
    )
}

/// The history's sums at `as_of` for opportunities created in `[from, before)`.
pub(super) async fn history(
    tx: &mut Conn,
    engine: Engine,
    pipeline: &Pipeline,
    (from, before): (i64, i64),
    as_of: i64,
) -> Result<Sums> {
    let (changes, closed) = history_statements();
    let values = [as_of, from, before];
    sums_from_history(
        tx,
        engine,
        pipeline,
        (changes, closed),
        &values,
        None,
        false,
    )
    .await
}

/// What the day beginning at `start` changed until `as_of` (its history at `as_of` less its
/// history just before `start`) for opportunities created in `[from, before)`. Only the
/// opportunities with a stage change or a close that day are read: every other one stands the
/// same at both moments.
pub(super) async fn day_change(
    tx: &mut Conn,
    engine: Engine,
    pipeline: &Pipeline,
    (from, before): (i64, i64),
    start: i64,
    as_of: i64,
) -> Result<Sums> {
    // The day's opportunities drive the join by primary key. `cross join` fixes SQLite's join
    // order (it plans without statistics; PostgreSQL plans it freely), and a unary `+` keeps a
    // column's index from being chosen over the key: SQLite 3.51 otherwise read every change of
    // the tenant per point-in-time view.
    let changes = "(select opportunity_id as id from stage_changes where tenant_id = $1 \
         and pipeline_id = $2 and changed_at >= $6 and changed_at <= $3 \
         union select id from opportunities where tenant_id = $1 and pipeline_id = $2 \
         and closed_at >= $6 and closed_at <= $3) s \
         cross join stage_changes sc cross join opportunities o \
         where sc.tenant_id = $1 and sc.opportunity_id = s.id \
         and o.tenant_id = sc.tenant_id and o.id = sc.opportunity_id \
         and +sc.changed_at <= $3 and +o.created_at >= $4 and +o.created_at < $5";
    // Closed that day by `as_of`: closes are final, so nothing else differs.
    let closed = "opportunities o where o.tenant_id = $1 and o.pipeline_id = $2 \
         and o.closed_at >= $6 and o.closed_at <= $3 \
         and +o.created_at >= $4 and +o.created_at < $5";
    let values = [as_of, from, before, start];
    sums_from_history(tx, engine, pipeline, (changes, closed), &values, None, true).await
}

/// The sums of the stage changes `changes` (joined as `sc`, with their opportunity `o`) and the
/// opportunities `closed` (as `o`) at `$3`; with `since_start`, less the same just before `$6`.
/// `owner`, when the statements name one, is bound after `values`.
pub(super) async fn sums_from_history(
    tx: &mut Conn,
    engine: Engine,
    pipeline: &Pipeline,
    (changes, closed): (&str, &str),
    values: &[i64],
    owner: Option<&str>,
    since_start: bool,
) -> Result<Sums> {
    // Every stay begun by `$3`: ended by then or still running, and whether a later stage (or
    // a win) followed it; with `since_start`, the same just before `$6` (`*1`).
    let earlier = if since_start {
        ", case when sc.changed_at < $6 then 1 else 0 end as in1, \
         case when sc.left_at < $6 then sc.left_at end as left1, \
         max(case when sc.changed_at < $6 then sc.to_position end) over w as later1, \
         case when o.status = 'won' and o.closed_at < $6 then 1 else 0 end as won1"
    } else {
        ""
    };
    let s = |at_end: &str, at_start: &str| {
        if since_start {
            sum(engine, &format!("({at_end}) - ({at_start})"))
        } else {
            sum(engine, at_end)
        }
    };
    // A figure of one stay at the end (`left2`) and at the start (`left1`, counted if `in1`).
    let figure =
        |of: &dyn Fn(&str, &str) -> String| s(&of("1 = 1", "left2"), &of("in1 = 1", "left1"));
    let count = |opportunities: &str, at_start: &str| {
        if since_start {
            format!(
                "count(distinct {opportunities}) - count(distinct case when in1 = 1 {at_start} \
                 then opportunity_id end)"
            )
        } else {
            format!("count(distinct {opportunities})")
        }
    };
    let stage_rows = bound(
        format!(
            "with entries as ( \
           select sc.opportunity_id, sc.to_stage_id, sc.to_position as position, sc.changed_at, \
             case when sc.left_at <= $3 then sc.left_at end as left2, \
             max(sc.to_position) over w as later2, \
             case when o.status = 'won' and o.closed_at <= $3 then 1 else 0 end as won2, \
             o.amount_units, o.amount_nanos{earlier} \
           from {changes} \
           window w as (partition by sc.opportunity_id order by sc.seq \
             rows between 1 following and unbounded following) \
         ) \
         select to_stage_id, {}, {}, {}, {}, {}, {}, {}, {} \
         from entries group by to_stage_id",
            count("opportunity_id", ""),
            count(
                "case when later2 > position or won2 = 1 then opportunity_id end",
                "and (later1 > position or won1 = 1)"
            ),
            figure(&|c, l| format!(
                "case when {c} and {l} is not null then {l} - changed_at else 0 end"
            )),
            figure(&|c, l| format!("case when {c} and {l} is not null then 1 else 0 end")),
            figure(&|c, l| format!("case when {c} and {l} is null then 1 else 0 end")),
            figure(&|c, l| format!("case when {c} and {l} is null then changed_at else 0 end")),
            figure(&|c, l| format!("case when {c} and {l} is null then amount_units else 0 end")),
            figure(&|c, l| format!("case when {c} and {l} is null then amount_nanos else 0 end")),
        ),
        pipeline,
        values,
    );
    let stage_rows: Vec<StageRow> = forecast::with_owner(stage_rows, owner)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("summing stage history"))?;
    let s = |c: &str| sum(engine, c);
    let closed = bound(
        format!(
            "select o.status, o.loss_reason, count(*), {}, {}, {} from {closed} \
         and o.status in ('won', 'lost') group by o.status, o.loss_reason",
            s("o.amount_units"),
            s("o.amount_nanos"),
            s("o.closed_at - o.created_at"),
        ),
        pipeline,
        values,
    );
    let closed: Vec<ClosedRow> = forecast::with_owner(closed, owner)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("summing closed opportunities"))?;
    Ok(sums_of(stage_rows, closed))
}

//! The revenue forecast: open opportunities weighted by probability, per month of expected close.

use crm_core::Result;
use crm_core::storage::Conn;

use super::db;
use crm_core::storage::Engine;

use crate::domain::analytics::{ForecastMonth, HOUR, OpenSums};
use crate::domain::pipeline::Pipeline;

use super::*;

/// Open opportunities expected to close in `[start, end)`: count, units, billionths, and both
/// times the probability.
pub(super) type OpenRow = (i64, i64, i64, i64, i64);

/// ` and owner_id = $n` when the sums are one owner's, bound as `$n`.
pub(super) fn owned(owner: Option<&str>, n: u8) -> String {
    owner.map_or_else(String::new, |_| format!(" and owner_id = ${n}"))
}

/// `query` with `owner` bound last when the sums are one owner's ([`owned`]).
pub(super) fn with_owner<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    owner: Option<&'q str>,
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
    match owner {
        Some(owner) => query.bind(owner),
        None => query,
    }
}

/// Per month: won amounts closed in it, and open amounts expected to close in it (whole hours
/// from the running sums, a month's edges that are not on the hour from the opportunities).
/// With `owner`, only what they own (and won), all from the opportunities and deals: the running
/// sums have no owner.
pub async fn forecast(
    tx: &mut Conn,
    engine: Engine,
    pipeline: &Pipeline,
    months: &[(i64, i64)],
    owner: Option<&str>,
) -> Result<Vec<ForecastMonth>> {
    let tenant = pipeline.tenant_id.to_string();
    let id = pipeline.id.to_string();
    let mut out = Vec::with_capacity(months.len());
    for &(start, end) in months {
        let units = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select cast(coalesce(sum(amount_units), 0) as bigint), \
             cast(coalesce(sum(amount_nanos), 0) as bigint) \
             from deals where tenant_id = $1 and pipeline_id = $2 and closed_at >= $3 \
             and closed_at < $4{}",
            owned(owner, 5)
        )))
        .bind(&tenant)
        .bind(&id)
        .bind(start)
        .bind(end);
        let (units, n): (i64, i64) = with_owner(units, owner)
            .fetch_one(&mut *tx)
            .await
            .map_err(db("summing won deals"))?;
        let open = match owner {
            None => open_in(tx, engine, &tenant, &id, start, end).await?,
            Some(_) => open_rows(tx, &tenant, &id, (start, end), owner).await?,
        };
        let (count, units_all, nanos_all, units_weighted, nanos_weighted) = open;
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

/// Open opportunities expected to close in `[start, end)`: whole hours from the running sums,
/// the edges that are not on the hour from the opportunities.
async fn open_in(
    tx: &mut Conn,
    engine: Engine,
    tenant: &str,
    id: &str,
    start: i64,
    end: i64,
) -> Result<OpenRow> {
    let first = start.div_euclid(HOUR) + i64::from(start.rem_euclid(HOUR) != 0);
    let last = end.div_euclid(HOUR);
    let mut open: OpenRow = (0, 0, 0, 0, 0);
    let mut add = |row: OpenRow| {
        open = (
            open.0 + row.0,
            open.1 + row.1,
            open.2 + row.2,
            open.3 + row.3,
            open.4 + row.4,
        );
    };
    if first < last {
        let columns = [
            "open_count",
            "units",
            "nanos",
            "weighted_units",
            "weighted_nanos",
        ]
        .map(|c| sum(engine, c))
        .join(", ");
        add(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select {columns} from forecast_stats \
                 where tenant_id = $1 and pipeline_id = $2 and hour >= $3 and hour < $4"
        )))
        .bind(tenant)
        .bind(id)
        .bind(first)
        .bind(last)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("summing open opportunities"))?);
        for (a, b) in [(start, first * HOUR), (last * HOUR, end)] {
            if a < b {
                add(open_rows(tx, tenant, id, (a, b), None).await?);
            }
        }
    } else {
        add(open_rows(tx, tenant, id, (start, end), None).await?);
    }
    Ok(open)
}

/// Before any expected close date there is: where the overdue sum starts.
const EARLIEST: i64 = i64::MIN / 4;

/// Open opportunities of the pipeline expected to close before `before` (overdue: still open
/// past their date), and those with no expected close date, which no month's forecast counts;
/// with `owner`, only theirs.
pub async fn late_and_undated(
    tx: &mut Conn,
    engine: Engine,
    pipeline: &Pipeline,
    before: i64,
    owner: Option<&str>,
) -> Result<(OpenSums, OpenSums)> {
    let tenant = pipeline.tenant_id.to_string();
    let id = pipeline.id.to_string();
    let late = match owner {
        None => open_in(tx, engine, &tenant, &id, EARLIEST, before).await?,
        Some(_) => open_rows(tx, &tenant, &id, (EARLIEST, before), owner).await?,
    };
    let undated = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select count(*), cast(coalesce(sum(amount_units), 0) as bigint), \
         cast(coalesce(sum(amount_nanos), 0) as bigint), \
         cast(coalesce(sum(amount_units * probability), 0) as bigint), \
         cast(coalesce(sum(amount_nanos * probability), 0) as bigint) \
         from opportunities where tenant_id = $1 and pipeline_id = $2 and status = 'open' \
         and expected_close_at is null{}",
        owned(owner, 3)
    )))
    .bind(&tenant)
    .bind(&id);
    let undated: OpenRow = with_owner(undated, owner)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("summing open opportunities without a close date"))?;
    Ok((sums(late), sums(undated)))
}

fn sums((count, units, n, weighted_units, weighted_nanos): OpenRow) -> OpenSums {
    OpenSums {
        open_count: count,
        best_case_nanos: nanos(units, n),
        weighted_percent_nanos: nanos(weighted_units, weighted_nanos),
    }
}

/// Open opportunities expected to close in `[start, end)` (with `owner`, theirs), summed from
/// their rows.
pub(super) async fn open_rows(
    tx: &mut Conn,
    tenant: &str,
    id: &str,
    (start, end): (i64, i64),
    owner: Option<&str>,
) -> Result<OpenRow> {
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select count(*), cast(coalesce(sum(amount_units), 0) as bigint), \
         cast(coalesce(sum(amount_nanos), 0) as bigint), \
         cast(coalesce(sum(amount_units * probability), 0) as bigint), \
         cast(coalesce(sum(amount_nanos * probability), 0) as bigint) \
         from opportunities where tenant_id = $1 and pipeline_id = $2 and status = 'open' \
         and expected_close_at >= $3 and expected_close_at < $4{}",
        owned(owner, 5)
    )))
    .bind(tenant)
    .bind(id)
    .bind(start)
    .bind(end);
    with_owner(rows, owner)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("summing open opportunities"))
}

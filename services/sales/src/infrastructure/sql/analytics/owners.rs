//! Figures per owner: one person's pipeline ("my pipeline") and the team's rows. The running
//! sums have no owner, so these read the opportunities and their history: one owner's share of
//! a pipeline, or one grouped pass over it.

use crm_core::storage::{Conn, Engine};
use crm_core::{Result, UserId};

use super::{db, history_statements, nanos, sum, sums_from_history};
use crate::domain::analytics::{Analytics, OpenSums, OwnerSums, Period};
use crate::domain::pipeline::Pipeline;

/// The pipeline's figures for the opportunities `owner` owns now, created in `period`, as they
/// stood at `as_of`: the history's reference sums with the owner named.
pub async fn owner_analytics(
    tx: &mut Conn,
    engine: Engine,
    pipeline: &Pipeline,
    period: &Period,
    as_of: i64,
    owner: UserId,
) -> Result<Analytics> {
    let (changes, closed) = history_statements();
    let mine = " and o.owner_id = $6";
    let statements = (format!("{changes}{mine}"), format!("{closed}{mine}"));
    let values = [
        as_of,
        period.from.unwrap_or(i64::MIN),
        period.before.unwrap_or(i64::MAX),
    ];
    let owner = owner.to_string();
    let sums = sums_from_history(
        tx,
        engine,
        pipeline,
        (&statements.0, &statements.1),
        &values,
        Some(&owner),
        false,
    )
    .await?;
    Ok(sums.figures(pipeline, as_of))
}

/// A team row as read: owner ('' for nobody), open count, units, billionths, both times the
/// probability, won count, units, billionths, lost count, overdue count, undated count.
type TeamRow = (
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

/// Per owner (`only`: that one alone), the opportunities created in `period`: open (overdue when
/// expected before `now`), won and lost; in no particular order.
pub async fn team(
    tx: &mut Conn,
    engine: Engine,
    pipeline: &Pipeline,
    period: &Period,
    now: i64,
    only: Option<UserId>,
) -> Result<Vec<OwnerSums>> {
    let open = |then: &str| {
        sum(
            engine,
            &format!("case when status = 'open' then {then} else 0 end"),
        )
    };
    let of = |status: &str, then: &str| {
        sum(
            engine,
            &format!("case when status = '{status}' then {then} else 0 end"),
        )
    };
    let columns = [
        open("1"),
        open("amount_units"),
        open("amount_nanos"),
        open("amount_units * probability"),
        open("amount_nanos * probability"),
        of("won", "1"),
        of("won", "amount_units"),
        of("won", "amount_nanos"),
        of("lost", "1"),
        open("case when expected_close_at < $5 then 1 else 0 end"),
        open("case when expected_close_at is null then 1 else 0 end"),
    ]
    .join(", ");
    let only = only.map(|o| o.to_string());
    let query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select coalesce(owner_id, ''), {columns} from opportunities \
         where tenant_id = $1 and pipeline_id = $2 and created_at >= $3 and created_at < $4{} \
         group by coalesce(owner_id, '')",
        super::forecast::owned(only.as_deref(), 6)
    )))
    .bind(pipeline.tenant_id.to_string())
    .bind(pipeline.id.to_string())
    .bind(period.from.unwrap_or(i64::MIN))
    .bind(period.before.unwrap_or(i64::MAX))
    .bind(now);
    let rows: Vec<TeamRow> = super::forecast::with_owner(query, only.as_deref())
        .fetch_all(&mut *tx)
        .await
        .map_err(db("summing the team's opportunities"))?;
    Ok(rows
        .into_iter()
        .map(|r| OwnerSums {
            owner: r.0.parse().ok(),
            open: OpenSums {
                open_count: r.1,
                best_case_nanos: nanos(r.2, r.3),
                weighted_percent_nanos: nanos(r.4, r.5),
            },
            won_count: r.6,
            won_nanos: nanos(r.7, r.8),
            lost_count: r.9,
            overdue_count: r.10,
            undated_count: r.11,
        })
        .collect())
}

//! GetPipelineAnalytics and GetRevenueForecast: the store's exact sums, turned into the
//! contract's figures.

use crm_core::{Error, Result, UserId};
use crm_proto::crm::sales::v1 as pb;
use uuid::Uuid;

use super::{Caller, Sales};
use crate::domain::Millis;
use crate::domain::analytics::{OpenSums, OwnerSums, Period, div_round, money, months, rate};
use crate::domain::messages::money_pb;

/// At most this many months ahead.
pub const MAX_MONTHS: i32 = 24;

fn duration(millis: i128) -> prost_types::Duration {
    let millis = i64::try_from(millis).unwrap_or(i64::MAX);
    prost_types::Duration {
        seconds: millis / 1000,
        nanos: ((millis % 1000) * 1_000_000) as i32,
    }
}

/// Whose figures the caller gets: those `asked` for (everyone's when `None`) if they may read
/// every opportunity; their own if they may read only theirs (another's is refused).
fn whose(caller: &Caller, asked: Option<UserId>) -> Result<Option<UserId>> {
    caller.principal.require("pipelines.read")?;
    let mut owner = asked;
    if !super::access::restrict(caller, "opportunities.read", &mut owner)? {
        return Err(Error::permission_denied(
            "you may see the figures of your own opportunities only",
        )
        .with_reason("NOT_ALLOWED")
        .with_metadata("permission", "opportunities.read"));
    }
    Ok(owner)
}

fn owner_pb(currency: &str, s: &OwnerSums) -> pb::OwnerAnalytics {
    pb::OwnerAnalytics {
        owner_id: s.owner.map(|o| o.to_string()).unwrap_or_default(),
        open_count: s.open.open_count,
        open_value: Some(money_pb(&money(currency, s.open.best_case_nanos))),
        weighted_value: Some(money_pb(&money(
            currency,
            div_round(s.open.weighted_percent_nanos, 100),
        ))),
        won_count: s.won_count,
        won_value: Some(money_pb(&money(currency, s.won_nanos))),
        lost_count: s.lost_count,
        win_rate: rate(s.won_count, s.won_count + s.lost_count),
        overdue_count: s.overdue_count,
        undated_count: s.undated_count,
    }
}

fn check_period(period: &Period) -> Result<()> {
    match (period.from, period.before) {
        (Some(from), Some(before)) if from >= before => {
            Err(Error::invalid_field("end_time", "must be after start_time"))
        }
        _ => Ok(()),
    }
}

impl Sales {
    /// A pipeline's figures for opportunities created in `period` (with `owner`, theirs only),
    /// as they stood at `as_of` (now when `None`).
    pub async fn pipeline_analytics(
        &self,
        caller: &Caller,
        id: Uuid,
        period: Period,
        as_of: Option<Millis>,
        owner: Option<UserId>,
    ) -> Result<pb::GetPipelineAnalyticsResponse> {
        let owner = whose(caller, owner)?;
        let pipeline = self.get_pipeline(caller, id).await?;
        let now = self.now();
        if as_of.is_some_and(|t| t > now) {
            return Err(Error::invalid_field(
                "as_of",
                "must not be in the future: analytics show what happened",
            ));
        }
        check_period(&period)?;
        let (sums, as_of) = match (as_of, owner) {
            // One owner's: from their opportunities' history.
            (at, Some(owner)) => {
                let at = at.unwrap_or(now);
                let sums = self
                    .store
                    .owner_analytics(&pipeline, &period, at, owner)
                    .await?;
                (sums, at)
            }
            // Now: from the running sums.
            (None, None) => (
                self.store.analytics_now(&pipeline, &period, now).await?,
                now,
            ),
            // A past moment: rebuilt from the history.
            (Some(t), None) => (self.store.analytics(&pipeline, &period, t).await?, t),
        };
        let currency = &pipeline.currency_code;
        let stages = pipeline
            .stages
            .iter()
            .zip(&sums.stages)
            .map(|(stage, f)| pb::StageAnalytics {
                stage_id: stage.id.to_string(),
                stage_name: stage.name.clone(),
                open_count: f.open_count,
                open_value: Some(money_pb(&money(currency, f.open_nanos))),
                conversion_rate: rate(f.advanced, f.entered),
                average_time_in_stage: Some(duration(div_round(
                    f.stay_millis,
                    i128::from(f.stays),
                ))),
            })
            .collect();
        let won = i128::from(sums.won_count);
        Ok(pb::GetPipelineAnalyticsResponse {
            pipeline_id: pipeline.id.to_string(),
            stages,
            won_count: sums.won_count,
            lost_count: sums.lost_count,
            win_rate: rate(sums.won_count, sums.won_count + sums.lost_count),
            won_value: Some(money_pb(&money(currency, sums.won_nanos))),
            average_deal_value: Some(money_pb(&money(currency, div_round(sums.won_nanos, won)))),
            average_sales_cycle: Some(duration(div_round(sums.cycle_millis, won))),
            loss_reasons: sums
                .loss_reasons
                .iter()
                .map(|(reason, count)| {
                    let name = pb::LossReason::try_from(*reason)
                        .map(|r| r.as_str_name().to_owned())
                        .unwrap_or_else(|_| reason.to_string());
                    (name, *count)
                })
                .collect(),
            as_of: Some(crm_core::api::timestamp(as_of)),
        })
    }

    /// A pipeline's forecast: `months` calendar months (the tenant's) from the current one, and
    /// the open opportunities no month counts (overdue, without a close date); with `owner`,
    /// theirs only.
    pub async fn revenue_forecast(
        &self,
        caller: &Caller,
        id: Uuid,
        months_ahead: i32,
        owner: Option<UserId>,
    ) -> Result<pb::GetRevenueForecastResponse> {
        let p = &caller.principal;
        let owner = whose(caller, owner)?;
        let count = match months_ahead {
            0 => 3,
            n if (1..=MAX_MONTHS).contains(&n) => n,
            _ => {
                return Err(Error::invalid_field(
                    "months",
                    format!("must be 1 to {MAX_MONTHS} (0 for 3)"),
                ));
            }
        };
        let pipeline = self.get_pipeline(caller, id).await?;
        let policy = self.store.tenant_policy(p.tenant_id).await?;
        let zone: chrono_tz::Tz = policy.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC);
        let ranges = months(zone, self.now(), count as u32);
        let first = ranges.first().map_or(self.now(), |r| r.0);
        let (sums, late, undated) = match owner {
            Some(owner) => self.store.owner_forecast(&pipeline, &ranges, owner).await?,
            None => {
                let sums = self.store.forecast(&pipeline, &ranges).await?;
                let (late, undated) = self.store.late_and_undated(&pipeline, first).await?;
                (sums, late, undated)
            }
        };
        let currency = &pipeline.currency_code;
        let outside = |s: OpenSums, end: Option<Millis>| pb::ForecastPeriod {
            start_time: None,
            end_time: end.map(crm_core::api::timestamp),
            committed: Some(money_pb(&money(currency, 0))),
            weighted: Some(money_pb(&money(
                currency,
                div_round(s.weighted_percent_nanos, 100),
            ))),
            best_case: Some(money_pb(&money(currency, s.best_case_nanos))),
            open_count: s.open_count,
        };
        Ok(pb::GetRevenueForecastResponse {
            pipeline_id: pipeline.id.to_string(),
            periods: sums
                .iter()
                .map(|m| pb::ForecastPeriod {
                    start_time: Some(crm_core::api::timestamp(m.start)),
                    end_time: Some(crm_core::api::timestamp(m.end)),
                    committed: Some(money_pb(&money(currency, m.committed_nanos))),
                    weighted: Some(money_pb(&money(
                        currency,
                        div_round(m.weighted_percent_nanos, 100),
                    ))),
                    best_case: Some(money_pb(&money(currency, m.best_case_nanos))),
                    open_count: m.open_count,
                })
                .collect(),
            overdue: Some(outside(late, Some(first))),
            undated: Some(outside(undated, None)),
        })
    }

    /// Per owner, the pipeline's opportunities created in `period`, most won value first; a
    /// caller who may read only their own opportunities gets their own row.
    pub async fn team_analytics(
        &self,
        caller: &Caller,
        id: Uuid,
        period: Period,
    ) -> Result<pb::GetTeamAnalyticsResponse> {
        let only = whose(caller, None)?;
        let pipeline = self.get_pipeline(caller, id).await?;
        check_period(&period)?;
        let now = self.now();
        let mut rows = self.store.team(&pipeline, &period, now, only).await?;
        rows.sort_by(|a, b| {
            (b.won_nanos, b.open.best_case_nanos, a.owner).cmp(&(
                a.won_nanos,
                a.open.best_case_nanos,
                b.owner,
            ))
        });
        Ok(pb::GetTeamAnalyticsResponse {
            pipeline_id: pipeline.id.to_string(),
            owners: rows
                .iter()
                .map(|r| owner_pb(&pipeline.currency_code, r))
                .collect(),
            as_of: Some(crm_core::api::timestamp(now)),
        })
    }
}

//! Pipeline analytics and the revenue forecast: the figures the store sums (exact, in billionths
//! of the currency unit) and the arithmetic on them (means, rates, probability weights, months
//! in the tenant's time zone). No floats touch money.

use chrono::{Datelike, TimeZone};
use uuid::Uuid;

use super::Millis;
use super::money::Money;
use super::opportunity::{Opportunity, OpportunityStatus};

/// A day: the bucket of the running sums (days since the epoch, UTC).
pub const DAY: Millis = 86_400_000;

/// The day `at` falls in.
pub fn day_of(at: Millis) -> i64 {
    at.div_euclid(DAY)
}

/// Which opportunities count: those created in `[from, before)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Period {
    /// Created at or after.
    pub from: Option<Millis>,
    /// Created before.
    pub before: Option<Millis>,
}

/// One stage's sums.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageFigures {
    /// The stage.
    pub stage_id: Uuid,
    /// Open opportunities in it (at `as_of`).
    pub open_count: i64,
    /// Their summed amount, in billionths.
    pub open_nanos: i128,
    /// Opportunities that entered it (by `as_of`).
    pub entered: i64,
    /// Of those, the ones that reached a later stage or were won.
    pub advanced: i64,
    /// Milliseconds spent in it, summed over every stay (a stay still running counts up to
    /// `as_of`).
    pub stay_millis: i128,
    /// How many stays.
    pub stays: i64,
}

/// A pipeline's sums.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Analytics {
    /// Per stage, in stage order.
    pub stages: Vec<StageFigures>,
    /// Won (by `as_of`).
    pub won_count: i64,
    /// Lost (by `as_of`).
    pub lost_count: i64,
    /// Won amounts, in billionths.
    pub won_nanos: i128,
    /// Creation-to-win milliseconds, summed over the won.
    pub cycle_millis: i128,
    /// Lost per `LossReason` number.
    pub loss_reasons: Vec<(i32, i64)>,
}

impl Analytics {
    /// Adds `other`'s sums (the same pipeline's, for other opportunities).
    pub fn merge(&mut self, other: &Analytics) {
        for (mine, theirs) in self.stages.iter_mut().zip(&other.stages) {
            mine.open_count += theirs.open_count;
            mine.open_nanos += theirs.open_nanos;
            mine.entered += theirs.entered;
            mine.advanced += theirs.advanced;
            mine.stay_millis += theirs.stay_millis;
            mine.stays += theirs.stays;
        }
        self.won_count += other.won_count;
        self.lost_count += other.lost_count;
        self.won_nanos += other.won_nanos;
        self.cycle_millis += other.cycle_millis;
        for (reason, count) in &other.loss_reasons {
            match self.loss_reasons.iter_mut().find(|(r, _)| r == reason) {
                Some((_, mine)) => *mine += count,
                None => self.loss_reasons.push((*reason, *count)),
            }
        }
        self.loss_reasons.sort();
    }
}

/// What one opportunity adds to one stage's running sums.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageSums {
    /// 1 if it entered the stage.
    pub entered: i64,
    /// 1 if, after entering it, it entered a stage further on or was won.
    pub advanced: i64,
    /// Milliseconds of its ended stays in the stage.
    pub stay_millis: i64,
    /// Its ended stays in the stage.
    pub stays: i64,
    /// 1 if it is open and in the stage now.
    pub open_count: i64,
    /// When it entered the stage, if open and there now (the running stay is `now - this`).
    pub open_entered_at: i64,
    /// Its amount's whole units, if open and there now.
    pub open_units: i64,
    /// Its amount's billionths, if open and there now.
    pub open_nanos: i64,
}

impl StageSums {
    /// `self - other`, field by field.
    pub fn minus(self, other: StageSums) -> StageSums {
        StageSums {
            entered: self.entered - other.entered,
            advanced: self.advanced - other.advanced,
            stay_millis: self.stay_millis - other.stay_millis,
            stays: self.stays - other.stays,
            open_count: self.open_count - other.open_count,
            open_entered_at: self.open_entered_at - other.open_entered_at,
            open_units: self.open_units - other.open_units,
            open_nanos: self.open_nanos - other.open_nanos,
        }
    }

    /// Whether it adds nothing.
    pub fn is_zero(&self) -> bool {
        *self == StageSums::default()
    }
}

/// What one closed opportunity adds to its pipeline's closed sums.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClosedSums {
    /// `won` or `lost`.
    pub status: &'static str,
    /// The `LossReason` number (0 when won).
    pub loss_reason: i32,
    /// Its amount's whole units.
    pub units: i64,
    /// Its amount's billionths.
    pub nanos: i64,
    /// Creation to close, in milliseconds.
    pub cycle_millis: i64,
}

/// What a change of one opportunity does to the running sums of its day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SumsChange {
    /// The day it was created.
    pub day: i64,
    /// The day of the change: the point-in-time view sums the changes made before a day.
    pub at_day: i64,
    /// Per stage whose sums change, the difference.
    pub stages: Vec<(Uuid, StageSums)>,
    /// Closed sums to take away.
    pub gone: Option<ClosedSums>,
    /// Closed sums to add.
    pub added: Option<ClosedSums>,
    /// The forecast's sums to take away (`-1`) and add (`1`), per hour of expected close.
    pub forecast: Vec<(i64, ForecastSums)>,
}

/// An open opportunity's part in the forecast: the hour it is expected to close in, its amount
/// and its amount times its probability (percent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForecastSums {
    /// Hours since the epoch of the expected close.
    pub hour: i64,
    /// Whole units.
    pub units: i64,
    /// Billionths.
    pub nanos: i64,
    /// Whole units times the probability.
    pub weighted_units: i64,
    /// Billionths times the probability.
    pub weighted_nanos: i64,
}

/// An hour in milliseconds: the forecast's running sums are kept per hour of expected close.
pub const HOUR: Millis = 3_600_000;

impl ForecastSums {
    /// What `o` adds to the forecast: nothing unless it is open with an expected close.
    pub fn of(o: &Opportunity) -> Option<ForecastSums> {
        let at = o.expected_close_at?;
        if o.status != OpportunityStatus::Open {
            return None;
        }
        let p = i64::from(o.probability);
        Some(ForecastSums {
            hour: at.div_euclid(HOUR),
            units: o.amount.units,
            nanos: i64::from(o.amount.nanos),
            weighted_units: o.amount.units * p,
            weighted_nanos: i64::from(o.amount.nanos) * p,
        })
    }
}

/// What one opportunity adds to its pipeline's running sums, in the bucket of the day it was
/// created: what analytics of "now" read instead of the whole history. A change of an
/// opportunity applies `contribution(new) - contribution(old)` in its transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contribution {
    /// The day it was created.
    pub day: i64,
    /// Per stage it touched.
    pub stages: Vec<(Uuid, StageSums)>,
    /// If it is closed.
    pub closed: Option<ClosedSums>,
}

impl Contribution {
    /// An opportunity's contribution.
    pub fn of(o: &Opportunity) -> Contribution {
        let mut stages: Vec<(Uuid, StageSums)> = Vec::new();
        let won = o.status == OpportunityStatus::Won;
        let history = &o.stage_history;
        for (i, entry) in history.iter().enumerate() {
            let at = match stages.iter().position(|(s, _)| *s == entry.to_stage_id) {
                Some(at) => at,
                None => {
                    stages.push((entry.to_stage_id, StageSums::default()));
                    stages.len() - 1
                }
            };
            let sums = &mut stages[at].1;
            if sums.entered == 0 {
                sums.entered = 1;
            }
            let further = history[i + 1..]
                .iter()
                .any(|later| later.to_position > entry.to_position);
            if further || won {
                sums.advanced = 1;
            }
            let left = match history.get(i + 1) {
                Some(next) => Some(next.changed_at),
                None => o.closed_at,
            };
            match left {
                Some(left) => {
                    sums.stay_millis += left - entry.changed_at;
                    sums.stays += 1;
                }
                None => {
                    sums.open_count = 1;
                    sums.open_entered_at = entry.changed_at;
                    sums.open_units = o.amount.units;
                    sums.open_nanos = i64::from(o.amount.nanos);
                }
            }
        }
        let closed = match (o.status, o.closed_at) {
            (OpportunityStatus::Open, _) | (_, None) => None,
            (status, Some(closed_at)) => Some(ClosedSums {
                status: status.as_str(),
                loss_reason: o.loss_reason,
                units: o.amount.units,
                nanos: i64::from(o.amount.nanos),
                cycle_millis: closed_at - o.created_at,
            }),
        };
        Contribution {
            day: day_of(o.created_at),
            stages,
            closed,
        }
    }

    /// What changes in the sums when `old` becomes `new` (the same opportunity): per stage the
    /// difference (stages left unchanged are left out), and the closed sums to take away and
    /// to add.
    pub fn change(old: Option<&Opportunity>, new: &Opportunity) -> SumsChange {
        let after = Contribution::of(new);
        let before = old.map(Contribution::of).unwrap_or_default();
        let mut stages: Vec<(Uuid, StageSums)> = Vec::new();
        for (stage, sums) in &after.stages {
            let was = before
                .stages
                .iter()
                .find(|(s, _)| s == stage)
                .map_or_else(StageSums::default, |(_, s)| *s);
            stages.push((*stage, sums.minus(was)));
        }
        for (stage, was) in &before.stages {
            if !after.stages.iter().any(|(s, _)| s == stage) {
                stages.push((*stage, StageSums::default().minus(*was)));
            }
        }
        stages.retain(|(_, s)| !s.is_zero());
        let (gone, added) = if before.closed == after.closed {
            (None, None)
        } else {
            (before.closed, after.closed)
        };
        let (was, is) = (old.and_then(ForecastSums::of), ForecastSums::of(new));
        let forecast = if was == is {
            Vec::new()
        } else {
            was.map(|f| (-1, f))
                .into_iter()
                .chain(is.map(|f| (1, f)))
                .collect()
        };
        SumsChange {
            day: after.day,
            at_day: day_of(new.updated_at),
            stages,
            gone,
            added,
            forecast,
        }
    }
}

/// One month of the forecast.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForecastMonth {
    /// Its start.
    pub start: Millis,
    /// Its end (exclusive).
    pub end: Millis,
    /// Won in it, in billionths.
    pub committed_nanos: i128,
    /// Open and expected to close in it: Σ probability × amount (percent × billionths).
    pub weighted_percent_nanos: i128,
    /// Open and expected to close in it, in billionths.
    pub best_case_nanos: i128,
    /// Open and expected to close in it.
    pub open_count: i64,
}

/// Open opportunities outside the months of a forecast: overdue, or with no close date.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenSums {
    /// How many.
    pub open_count: i64,
    /// Σ probability × amount (percent × billionths).
    pub weighted_percent_nanos: i128,
    /// Σ amount, in billionths.
    pub best_case_nanos: i128,
}

/// One owner's opportunities in a pipeline (created in a period): what is open, won and lost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerSums {
    /// The owner; `None` for the opportunities nobody owns.
    pub owner: Option<crm_core::UserId>,
    /// Open ones, weighted and not.
    pub open: OpenSums,
    /// Won: how many, and their amounts in billionths.
    pub won_count: i64,
    /// Σ won amount, in billionths.
    pub won_nanos: i128,
    /// Lost.
    pub lost_count: i64,
    /// Open ones past their expected close.
    pub overdue_count: i64,
    /// Open ones with no expected close.
    pub undated_count: i64,
}

const NANOS: i128 = 1_000_000_000;

/// Billionths of `currency` as money (amounts here are never negative).
pub fn money(currency: &str, nanos: i128) -> Money {
    let nanos = nanos.max(0);
    let code = currency.as_bytes();
    Money {
        currency: [code[0], code[1], code[2]],
        units: i64::try_from(nanos / NANOS).unwrap_or(i64::MAX),
        nanos: (nanos % NANOS) as i32,
    }
}

/// `numerator / denominator` rounded half up (both not negative; 0 when dividing by 0).
pub fn div_round(numerator: i128, denominator: i128) -> i128 {
    if denominator == 0 {
        0
    } else {
        (numerator + denominator / 2) / denominator
    }
}

/// `part / whole`, 0 to 1 (0 when `whole` is 0).
pub fn rate(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// `months` calendar months in `zone` from the one holding `now`: each `[start, end)` in
/// milliseconds.
pub fn months(zone: chrono_tz::Tz, now: Millis, months: u32) -> Vec<(Millis, Millis)> {
    let local = zone
        .timestamp_millis_opt(now)
        .single()
        .unwrap_or_else(|| zone.timestamp_millis_opt(0).unwrap());
    let (mut year, mut month) = (local.year(), local.month());
    let start_of = |year: i32, month: u32| {
        zone.with_ymd_and_hms(year, month, 1, 0, 0, 0)
            .earliest()
            .map_or(0, |t| t.timestamp_millis())
    };
    let mut out = Vec::with_capacity(months as usize);
    for _ in 0..months {
        let (next_year, next_month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
        out.push((start_of(year, month), start_of(next_year, next_month)));
        (year, month) = (next_year, next_month);
    }
    out
}

#[cfg(test)]
mod tests;

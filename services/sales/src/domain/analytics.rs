//! Pipeline analytics and the revenue forecast: the figures the store sums (exact, in billionths
//! of the currency unit) and the arithmetic on them (means, rates, probability weights, months
//! in the tenant's time zone). No floats touch money.

use chrono::{Datelike, TimeZone};
use uuid::Uuid;

use super::Millis;
use super::money::Money;

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
mod tests {
    use super::*;

    #[test]
    fn money_from_billionths_is_exact() {
        let m = money("MYR", 12_345_670_000_000);
        assert_eq!((m.units, m.nanos), (12_345, 670_000_000));
        assert_eq!(m.currency_code(), "MYR");
        assert_eq!(money("MYR", -5).units, 0);
    }

    #[test]
    fn division_rounds_half_up_and_never_divides_by_zero() {
        assert_eq!(div_round(10, 4), 3);
        assert_eq!(div_round(9, 4), 2);
        assert_eq!(div_round(7, 0), 0);
        assert_eq!(rate(1, 4), 0.25);
        assert_eq!(rate(1, 0), 0.0);
    }

    #[test]
    fn months_follow_the_tenants_calendar() {
        // 2026-01-31 20:00 UTC is already February in Kuala Lumpur (UTC+8).
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 1, 31, 20, 0, 0)
            .unwrap()
            .timestamp_millis();
        let kl: chrono_tz::Tz = "Asia/Kuala_Lumpur".parse().unwrap();
        let got = months(kl, now, 11);
        let feb = chrono::Utc
            .with_ymd_and_hms(2026, 1, 31, 16, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(got[0].0, feb, "February 1st, 00:00 in Kuala Lumpur");
        assert_eq!(got[0].1 - got[0].0, 28 * 24 * 3_600_000);
        assert_eq!(got[10].1, chrono::Utc
            .with_ymd_and_hms(2026, 12, 31, 16, 0, 0)
            .unwrap()
            .timestamp_millis(), "through December, into the next year");
        for pair in got.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "months follow each other");
        }
    }
}

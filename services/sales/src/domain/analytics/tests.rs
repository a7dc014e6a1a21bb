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
fn a_change_adds_only_its_difference_to_the_running_sums() {
    use crate::domain::opportunity::{OpportunityInput, Placement};
    let pipeline = crate::domain::pipeline::Pipeline::seed(crm_core::TenantId::new(), "MYR", 0);
    let by = crm_core::UserId::new();
    let placement = Placement {
        pipeline: &pipeline,
        stage_id: None,
        customer_id: Uuid::now_v7(),
        lead_id: None,
        owner_id: Some(by),
        by,
    };
    let input = OpportunityInput {
        name: "Sarongs".into(),
        amount: Some(("MYR".into(), 100, 0)),
        expected_close_at: Some(40 * DAY + 5 * HOUR + 7),
        ..OpportunityInput::default()
    };
    let created = Opportunity::new(pipeline.tenant_id, &placement, &input, DAY + 5).unwrap();
    let SumsChange {
        day,
        at_day,
        stages,
        gone,
        added,
        forecast,
    } = Contribution::change(None, &created);
    assert_eq!((day, at_day), (1, 1));
    let expected = ForecastSums {
        hour: 40 * 24 + 5,
        units: 100,
        nanos: 0,
        weighted_units: 100 * i64::from(created.probability),
        weighted_nanos: 0,
    };
    assert_eq!(forecast, [(1, expected)]);
    assert_eq!(stages.len(), 1);
    assert_eq!(stages[0].1.open_count, 1);
    assert_eq!(stages[0].1.open_entered_at, DAY + 5);
    assert_eq!((gone, added), (None, None));

    let mut moved = created.clone();
    moved
        .move_to(&pipeline, pipeline.stages[2].id, by, DAY + 105)
        .unwrap();
    let stages = Contribution::change(Some(&created), &moved).stages;
    let first = stages
        .iter()
        .find(|(s, _)| *s == pipeline.stages[0].id)
        .unwrap()
        .1;
    assert_eq!(
        (first.advanced, first.stays, first.stay_millis),
        (1, 1, 100)
    );
    assert_eq!(
        (first.open_count, first.open_entered_at, first.open_units),
        (-1, -(DAY + 5), -100)
    );
    let third = stages
        .iter()
        .find(|(s, _)| *s == pipeline.stages[2].id)
        .unwrap()
        .1;
    assert_eq!((third.entered, third.open_count), (1, 1));

    let mut won = moved.clone();
    won.win(&pipeline, None, "", 3 * DAY + 205).unwrap();
    let SumsChange {
        stages,
        gone,
        added,
        at_day,
        forecast,
        ..
    } = Contribution::change(Some(&moved), &won);
    // The change is summed on the day it was made; a closed opportunity leaves the forecast.
    assert_eq!(at_day, 3);
    assert_eq!(forecast, [(-1, ForecastSums::of(&moved).unwrap())]);
    let third = stages
        .iter()
        .find(|(s, _)| *s == pipeline.stages[2].id)
        .unwrap()
        .1;
    assert_eq!(
        (
            third.advanced,
            third.stays,
            third.stay_millis,
            third.open_count
        ),
        (1, 1, 2 * DAY + 100, -1)
    );
    assert_eq!(gone, None);
    assert_eq!(added.unwrap().cycle_millis, 2 * DAY + 200);
    // A notes-only change touches no sum.
    let mut noted = won.clone();
    noted.notes = "paid".into();
    let SumsChange {
        stages,
        gone,
        added,
        forecast,
        ..
    } = Contribution::change(Some(&won), &noted);
    assert!(stages.is_empty() && gone.is_none() && added.is_none() && forecast.is_empty());
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
    assert_eq!(
        got[10].1,
        chrono::Utc
            .with_ymd_and_hms(2026, 12, 31, 16, 0, 0)
            .unwrap()
            .timestamp_millis(),
        "through December, into the next year"
    );
    for pair in got.windows(2) {
        assert_eq!(pair[0].1, pair[1].0, "months follow each other");
    }
}

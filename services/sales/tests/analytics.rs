//! Pipeline analytics and the forecast on a small fixed data set, against figures worked out by
//! hand (below), on SQLite always and on PostgreSQL when `DATABASE_URL` is set (`#[ignore]`d
//! without `--include-ignored`).
//!
//! Days from 0, MYR, the seeded stages S0 New 10, S1 Qualified 25, S2 Sample sent 50:
//!
//! | opportunity | amount  | created | moves             | closed         | expected close |
//! |-------------|---------|---------|-------------------|----------------|----------------|
//! | A           | 1000.50 | 0       | S1 at 2, S2 at 5  | won at 9       | –              |
//! | B           | 2000.00 | 1       | S1 at 3           | lost (price) 4 | –              |
//! | C           |  333.33 | 2       | S2 at 6           | open           | 12             |
//! | D           |  100.00 | 3       | –                 | open           | 15             |
//!
//! At day 10: S0 holds D (100.00), S2 holds C (333.33). S0 was entered by 4 and left onward by 3
//! (0.75); S1 by 2, onward 1 (A; B was lost) → 0.5; S2 by 2, onward 1 (A won) → 0.5. Stays: S0
//! 2 + 2 + 4 + 7 = 15 days over 4 → 3 d 18 h; S1 3 + 1 = 4 over 2 → 2 d; S2 4 + 4 over 2 → 4 d.
//! Won 1 (1000.50), lost 1, win rate 0.5, cycle 9 days. At day 4.5: S0 holds C and D (433.33),
//! S1 holds A (1000.50), nothing won, B lost. Forecast [0, 10) [10, 20): committed 1000.50 then
//! 0; open in the second: C 333.33 × 50 % + D 100.00 × 10 % = 176.665, best case 433.33.

use std::sync::Arc;

use crm_core::config::{Config, Secret};
use crm_core::idempotency::Idempotency;
use crm_core::storage::Database;
use crm_core::{Principal, TenantId, UserId};
use crm_proto::google::r#type::Money;
use crm_sales::application::{Caller, Sales};
use crm_sales::domain::analytics::Period;
use crm_sales::domain::opportunity::{Opportunity, OpportunityInput, Placement};
use crm_sales::domain::pipeline::Pipeline;
use crm_sales::domain::ports::{AnalyticsStore, OpportunityStore, PipelineStore};
use crm_sales::infrastructure::sql::{SqlSalesStore, analytics};
use uuid::Uuid;

#[path = "analytics/owners.rs"]
mod owners;

const DAY: i64 = 86_400_000;

fn myr(units: i64, nanos: i32) -> Option<Money> {
    Some(Money {
        currency_code: "MYR".into(),
        units,
        nanos,
    })
}

async fn fixture(db: Database) -> (Sales, Arc<SqlSalesStore>, Caller, Pipeline) {
    let store = Arc::new(SqlSalesStore::new(db.clone()));
    let sales = Sales::new(
        store.clone(),
        Arc::new(crm_sales::Unconfigured("analytics call no customer".into())),
        Arc::new(crm_core::clock::SystemClock),
        Idempotency::new(db),
    );
    let tenant = TenantId::new();
    let pipeline = Pipeline::seed(tenant, "MYR", 0);
    store.insert_pipeline(&pipeline).await.unwrap();
    let by = UserId::new();
    let s = |i: usize| pipeline.stages[i].id;
    let new = |amount: (i64, i32), created: i64, expected: Option<i64>| {
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
            amount: Some(("MYR".into(), amount.0, amount.1)),
            expected_close_at: expected.map(|d| d * DAY),
            ..OpportunityInput::default()
        };
        Opportunity::new(tenant, &placement, &input, created * DAY).unwrap()
    };
    /// Saves `o` (changed from `expected`, the stored version) with `deal`, as a use case's
    /// change would.
    async fn save_with(
        store: &SqlSalesStore,
        o: &Opportunity,
        expected: i64,
        deal: Option<&crm_sales::domain::opportunity::Deal>,
    ) {
        store
            .update_opportunity(
                o.tenant_id,
                o.id,
                Box::new(|stored: &mut Opportunity| {
                    assert_eq!(stored.version, expected);
                    *stored = o.clone();
                    Ok(Some(crm_sales::domain::ports::OpportunityWrite {
                        deal: deal.cloned(),
                        events: Vec::new(),
                    }))
                }),
            )
            .await
            .unwrap();
    }
    async fn save(store: &SqlSalesStore, o: &Opportunity, expected: i64) {
        save_with(store, o, expected, None).await;
    }

    let mut a = new((1000, 500_000_000), 0, None);
    store.insert_opportunity(&a, Vec::new()).await.unwrap();
    a.move_to(&pipeline, s(1), by, 2 * DAY).unwrap();
    save(&store, &a, 1).await;
    a.move_to(&pipeline, s(2), by, 5 * DAY).unwrap();
    save(&store, &a, 2).await;
    let deal = a.win(&pipeline, None, "", 9 * DAY).unwrap();
    save_with(&store, &a, 3, Some(&deal)).await;

    let mut b = new((2000, 0), 1, None);
    store.insert_opportunity(&b, Vec::new()).await.unwrap();
    b.move_to(&pipeline, s(1), by, 3 * DAY).unwrap();
    save(&store, &b, 1).await;
    b.lose(1, "", 4 * DAY).unwrap();
    save(&store, &b, 2).await;

    let mut c = new((333, 330_000_000), 2, Some(12));
    store.insert_opportunity(&c, Vec::new()).await.unwrap();
    c.move_to(&pipeline, s(2), by, 6 * DAY).unwrap();
    save(&store, &c, 1).await;

    let d = new((100, 0), 3, Some(15));
    store.insert_opportunity(&d, Vec::new()).await.unwrap();

    let caller = Caller {
        principal: Principal {
            tenant_id: tenant,
            user_id: by,
            roles: vec!["viewer".into()],
            permissions: vec!["pipelines.read".into(), "opportunities.read".into()],
            team: None,
            token_id: String::new(),
            issued_at: 0,
            expires_at: None,
            api_key_id: None,
            service: None,
        },
        causation: crm_events::Causation::default(),
    };
    (sales, store, caller, pipeline)
}

fn ts(day_tenths: i64) -> prost_types::Timestamp {
    crm_core::api::timestamp(day_tenths * DAY / 10)
}

fn secs(d: &Option<prost_types::Duration>) -> i64 {
    d.as_ref().unwrap().seconds
}

async fn figures_match_the_hand_worked_ones(db: Database) {
    let (sales, store, caller, pipeline) = fixture(db.clone()).await;
    let at_10 = sales
        .pipeline_analytics(
            &caller,
            pipeline.id,
            Period::default(),
            Some(10 * DAY),
            None,
        )
        .await
        .unwrap();
    let open: Vec<(i64, Option<Money>)> = at_10
        .stages
        .iter()
        .map(|s| (s.open_count, s.open_value.clone()))
        .collect();
    assert_eq!(
        open,
        [
            (1, myr(100, 0)),
            (0, myr(0, 0)),
            (1, myr(333, 330_000_000)),
            (0, myr(0, 0)),
            (0, myr(0, 0)),
        ]
    );
    let rates: Vec<f64> = at_10.stages.iter().map(|s| s.conversion_rate).collect();
    assert_eq!(rates, [0.75, 0.5, 0.5, 0.0, 0.0]);
    let stays: Vec<i64> = at_10
        .stages
        .iter()
        .map(|s| secs(&s.average_time_in_stage))
        .collect();
    let h = 3600;
    assert_eq!(stays, [(3 * 24 + 18) * h, 2 * 24 * h, 4 * 24 * h, 0, 0]);
    assert_eq!((at_10.won_count, at_10.lost_count), (1, 1));
    assert_eq!(at_10.win_rate, 0.5);
    assert_eq!(at_10.won_value, myr(1000, 500_000_000));
    assert_eq!(at_10.average_deal_value, myr(1000, 500_000_000));
    assert_eq!(secs(&at_10.average_sales_cycle), 9 * 24 * h);
    assert_eq!(at_10.loss_reasons.get("LOSS_REASON_PRICE"), Some(&1));
    assert_eq!(at_10.as_of, Some(ts(100)));

    // The point-in-time view: day 4.5.
    let then = sales
        .pipeline_analytics(
            &caller,
            pipeline.id,
            Period::default(),
            Some(45 * DAY / 10),
            None,
        )
        .await
        .unwrap();
    let open: Vec<i64> = then.stages.iter().map(|s| s.open_count).collect();
    assert_eq!(open, [2, 1, 0, 0, 0]);
    assert_eq!(then.stages[0].open_value, myr(433, 330_000_000));
    assert_eq!(then.stages[1].open_value, myr(1000, 500_000_000));
    assert_eq!((then.won_count, then.lost_count), (0, 1));

    // A period: only C and D were created from day 2 on.
    let later = sales
        .pipeline_analytics(
            &caller,
            pipeline.id,
            Period {
                from: Some(2 * DAY),
                before: None,
            },
            Some(10 * DAY),
            None,
        )
        .await
        .unwrap();
    assert_eq!(later.stages[0].conversion_rate, 0.5, "C went on, D did not");
    assert_eq!((later.won_count, later.lost_count), (0, 0));

    // Now, and the point-in-time view, from the running sums give what the history alone gives
    // at the same moment: for whole days and part-days of a period, on a change, a millisecond
    // either side of one, and part-way through a day.
    let periods = [
        Period::default(),
        Period {
            from: Some(2 * DAY),
            before: None,
        },
        Period {
            from: Some(DAY + DAY / 2),
            before: Some(3 * DAY + 1),
        },
        Period {
            from: Some(DAY / 3),
            before: Some(DAY / 2),
        },
        Period {
            from: None,
            before: Some(2 * DAY + 7),
        },
    ];
    let rebuilt = async |period: &Period, at: i64| {
        let mut tx = db.begin_for(pipeline.tenant_id).await.unwrap();
        let figures = analytics::rebuilt(&mut tx, db.engine(), &pipeline, period, at)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        figures
    };
    for period in &periods {
        assert_eq!(
            store
                .analytics_now(&pipeline, period, 10 * DAY)
                .await
                .unwrap(),
            rebuilt(period, 10 * DAY).await,
            "{period:?}"
        );
        for day in 0..11 {
            for at in [day * DAY - 1, day * DAY, day * DAY + 1, day * DAY + DAY / 2] {
                assert_eq!(
                    store.analytics(&pipeline, period, at).await.unwrap(),
                    rebuilt(period, at).await,
                    "{period:?} as of {at}"
                );
            }
        }
    }
    // The sums are not all zero: the comparison above compares something.
    let mid = rebuilt(&Period::default(), 45 * DAY / 10).await;
    assert_eq!(mid.stages[0].open_count, 2);

    backfill_equals_the_running_sums(&db).await;

    // The forecast's sums for two ten-day periods.
    let months = store
        .forecast(&pipeline, &[(0, 10 * DAY), (10 * DAY, 20 * DAY)])
        .await
        .unwrap();
    assert_eq!(months[0].committed_nanos, 1_000_500_000_000);
    assert_eq!(months[0].open_count, 0);
    assert_eq!(months[1].committed_nanos, 0);
    assert_eq!(months[1].best_case_nanos, 433_330_000_000);
    assert_eq!(months[1].open_count, 2);
    // Σ probability × amount, in percent × billionths: 176.665 MYR × 100.
    assert_eq!(months[1].weighted_percent_nanos, 17_666_500_000_000);
    assert_eq!(
        crm_sales::domain::analytics::div_round(months[1].weighted_percent_nanos, 100),
        176_665_000_000
    );
    // Months that do not begin on the hour (time zones at half and quarter hours): their edges
    // are summed from the opportunities. C is expected at day 12, D at day 15.
    let half = 30 * 60 * 1000;
    let months = store
        .forecast(
            &pipeline,
            &[
                (12 * DAY - half, 12 * DAY + half),
                (12 * DAY + 1, 15 * DAY + 1),
                (12 * DAY - 1, 15 * DAY),
            ],
        )
        .await
        .unwrap();
    let open: Vec<(i64, i128)> = months
        .iter()
        .map(|m| (m.open_count, m.best_case_nanos))
        .collect();
    assert_eq!(
        open,
        [
            (1, 333_330_000_000),
            (1, 100_000_000_000),
            (1, 333_330_000_000)
        ]
    );

    // What no month counts. Overdue: open past the expected close (C at day 12, D at 15), from
    // the running sums and, before a time not on the hour, the opportunities.
    let late = async |before: i64| {
        let (late, _) = store.late_and_undated(&pipeline, before).await.unwrap();
        (
            late.open_count,
            late.best_case_nanos,
            late.weighted_percent_nanos,
        )
    };
    assert_eq!(
        late(12 * DAY).await,
        (0, 0, 0),
        "C is due at day 12, not late"
    );
    assert_eq!(
        late(12 * DAY + half).await,
        (1, 333_330_000_000, 16_666_500_000_000),
        "C at 50 %"
    );
    assert_eq!(
        late(16 * DAY).await,
        (2, 433_330_000_000, 17_666_500_000_000)
    );
    let (_, none) = store.late_and_undated(&pipeline, 16 * DAY).await.unwrap();
    assert_eq!(none, Default::default(), "every open one has a date");
    // Undated: open with no expected close date (a won or lost one without a date is neither).
    let e = Opportunity::new(
        pipeline.tenant_id,
        &Placement {
            pipeline: &pipeline,
            stage_id: None,
            customer_id: Uuid::now_v7(),
            lead_id: None,
            owner_id: None,
            by: UserId::new(),
        },
        &OpportunityInput {
            name: "Batik tulis".into(),
            amount: Some(("MYR".into(), 50, 0)),
            ..OpportunityInput::default()
        },
        7 * DAY,
    )
    .unwrap();
    store.insert_opportunity(&e, Vec::new()).await.unwrap();
    let (late_now, undated) = store.late_and_undated(&pipeline, 16 * DAY).await.unwrap();
    assert_eq!(late_now.open_count, 2, "an undated one is not late");
    assert_eq!(
        (
            undated.open_count,
            undated.best_case_nanos,
            undated.weighted_percent_nanos
        ),
        (1, 50_000_000_000, 500_000_000_000),
        "E at S0's 10 %"
    );

    owners::figures_per_owner_add_up(&sales, &store, &caller, &pipeline).await;
}

/// The sums migration 0005 computes from what was stored before it equal the sums the service
/// kept change by change: its `insert` statements, run again on emptied tables, give the same
/// rows.
async fn backfill_equals_the_running_sums(db: &Database) {
    let engine = match db.engine() {
        crm_core::storage::Engine::Sqlite => "sqlite",
        crm_core::storage::Engine::Postgres => "postgres",
    };
    let path = format!(
        "{}/../../migrations/sales/{engine}/0005_history_sums.sql",
        env!("CARGO_MANIFEST_DIR")
    );
    let migration = std::fs::read_to_string(path).unwrap();
    let inserts: Vec<String> = migration
        .split(';')
        .map(|statement| {
            statement
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|statement| statement.trim_start().starts_with("insert into"))
        .collect();
    assert_eq!(inserts.len(), 3, "three sums are backfilled");
    // Each table's key columns, then its sums, as eleven columns (text, then ten integers).
    let zero = "cast(0 as bigint)";
    let tables = [
        (
            "stage_stats_at",
            3,
            "stage_id, day, at_day, entered, advanced, stay_millis, stays, open_count, \
             open_entered_at, open_units, open_nanos"
                .to_string(),
        ),
        (
            "close_stats_at",
            4,
            format!(
                "status, day, at_day, loss_reason, closed, units, nanos, cycle_millis, {zero}, \
                 {zero}, {zero}"
            ),
        ),
        (
            "forecast_stats",
            2,
            format!(
                "'', hour, open_count, units, nanos, weighted_units, weighted_nanos, {zero}, \
                 {zero}, {zero}, {zero}"
            ),
        ),
    ];
    type Row = (String, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
    let read = async |table: &str, keys: usize, columns: &str| -> Vec<Row> {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select {columns} from {table}"
        )))
        .fetch_all(db.pool())
        .await
        .unwrap();
        // Sums that went back to nothing (an opportunity that left the forecast) are no rows to
        // a backfill.
        let mut rows: Vec<Row> = rows
            .into_iter()
            .filter(|r| {
                let numbers = [r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10];
                numbers[keys - 1..].iter().any(|n| *n != 0)
            })
            .collect();
        rows.sort();
        rows
    };
    let mut kept = Vec::new();
    for (table, keys, columns) in &tables {
        kept.push(read(table, *keys, columns).await);
        sqlx::query(sqlx::AssertSqlSafe(format!("delete from {table}")))
            .execute(db.pool())
            .await
            .unwrap();
    }
    assert!(kept.iter().all(|rows| !rows.is_empty()));
    for insert in inserts {
        sqlx::query(sqlx::AssertSqlSafe(insert))
            .execute(db.pool())
            .await
            .unwrap();
    }
    for ((table, keys, columns), kept) in tables.iter().zip(kept) {
        assert_eq!(read(table, *keys, columns).await, kept, "{table}");
    }
}

#[tokio::test]
async fn figures_match_the_hand_worked_ones_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let db = Database::open(&config, "sales").await.unwrap();
    db.migrate("sales", &crm_sales::MIGRATIONS).await.unwrap();
    db.migrate_shared("sales", &crm_events::TABLES)
        .await
        .unwrap();
    figures_match_the_hand_worked_ones(db).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set DATABASE_URL and run with --include-ignored"]
async fn figures_match_the_hand_worked_ones_on_postgres() {
    let url = crm_core::testing::backend("DATABASE_URL");
    let mut config = Config::default();
    config.database.url = Some(Secret::new(url));
    let context = format!("sales_test_{}", Uuid::now_v7().simple());
    let db = Database::open(&config, &context)
        .await
        .expect("DATABASE_URL is set but PostgreSQL is unreachable");
    db.migrate(&context, &crm_sales::MIGRATIONS).await.unwrap();
    db.migrate_shared(&context, &crm_events::TABLES)
        .await
        .unwrap();
    figures_match_the_hand_worked_ones(db.clone()).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop schema {context} cascade"
    )))
    .execute(db.pool())
    .await
    .unwrap();
}

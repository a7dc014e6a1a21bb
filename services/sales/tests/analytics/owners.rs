//! Figures per owner on the hand-worked data set, once E (open, undated, nobody's) is added:
//! D goes to a second owner and E to a third, so A, B and C stay with the first. Each owner's
//! figures, added up, give the pipeline's at every moment; the team's rows give the same totals;
//! each owner's forecast adds up to the pipeline's; and who may see whose figures.

use crm_core::{ErrorKind, UserId};
use crm_sales::application::{Caller, Sales};
use crm_sales::domain::analytics::{Analytics, Period, StageFigures};
use crm_sales::domain::opportunity::{Opportunity, OpportunityInput, OpportunityStatus};
use crm_sales::domain::pipeline::Pipeline;
use crm_sales::domain::ports::{AnalyticsStore, OpportunityFilter, OpportunityStore};
use crm_sales::infrastructure::sql::SqlSalesStore;

use super::DAY;

/// Gives the open opportunity worth `units` to `owner`.
async fn give(store: &SqlSalesStore, pipeline: &Pipeline, units: i64, owner: UserId) {
    let open = store
        .list_opportunities(
            pipeline.tenant_id,
            &OpportunityFilter {
                status: Some(OpportunityStatus::Open),
                ..OpportunityFilter::default()
            },
            Default::default(),
            None,
            100,
        )
        .await
        .unwrap();
    let o = open.iter().find(|o| o.amount.units == units).unwrap();
    store
        .update_opportunity(
            o.tenant_id,
            o.id,
            Box::new(|o: &mut Opportunity| {
                let paths = ["owner_id".to_string()];
                o.update(
                    pipeline,
                    &OpportunityInput::default(),
                    Some(Some(owner)),
                    &paths,
                    16 * DAY,
                )
                .unwrap();
                Ok(Some(crm_sales::domain::ports::OpportunityWrite {
                    deal: None,
                    events: Vec::new(),
                }))
            }),
        )
        .await
        .unwrap();
}

pub async fn figures_per_owner_add_up(
    sales: &Sales,
    store: &SqlSalesStore,
    caller: &Caller,
    pipeline: &Pipeline,
) {
    let first = caller.principal.user_id;
    let (second, third) = (UserId::new(), UserId::new());
    give(store, pipeline, 100, second).await;
    give(store, pipeline, 50, third).await;

    // Every moment of the history, whole and in part, for two periods of creation.
    let periods = [
        Period::default(),
        Period {
            from: Some(2 * DAY),
            before: Some(7 * DAY + 1),
        },
    ];
    for period in &periods {
        for day in 0..17 {
            for at in [day * DAY - 1, day * DAY, day * DAY + DAY / 2] {
                let mut added = Analytics {
                    stages: pipeline
                        .stages
                        .iter()
                        .map(|s| StageFigures {
                            stage_id: s.id,
                            ..StageFigures::default()
                        })
                        .collect(),
                    ..Analytics::default()
                };
                for owner in [first, second, third] {
                    let mine = store
                        .owner_analytics(pipeline, period, at, owner)
                        .await
                        .unwrap();
                    added.merge(&mine);
                }
                let whole = store.analytics(pipeline, period, at).await.unwrap();
                assert_eq!(added, whole, "{period:?} as of {at}");
            }
        }
    }
    // Not all zero: the first owner holds C in S2 at day 10, the second D in S0.
    let all_time = Period::default();
    let at_10 = |owner| store.owner_analytics(pipeline, &all_time, 10 * DAY, owner);
    let firsts = at_10(first).await.unwrap();
    let open: Vec<i64> = firsts.stages.iter().map(|s| s.open_count).collect();
    assert_eq!(open, [0, 0, 1, 0, 0]);
    assert_eq!((firsts.won_count, firsts.lost_count), (1, 1));
    let seconds = at_10(second).await.unwrap();
    assert_eq!(seconds.stages[0].open_nanos, 100_000_000_000);
    assert_eq!((seconds.won_count, seconds.lost_count), (0, 0));
    let nobody = at_10(UserId::new()).await.unwrap();
    assert!(
        nobody
            .stages
            .iter()
            .all(|s| s.open_count == 0 && s.entered == 0)
    );

    // The team's rows at day 16: C and D overdue (due 12 and 15), E undated.
    let now = 16 * DAY;
    let mut rows = store
        .team(pipeline, &Period::default(), now, None)
        .await
        .unwrap();
    rows.sort_by_key(|r| (r.won_count, r.open.best_case_nanos));
    let figures: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.owner,
                r.open.open_count,
                r.open.best_case_nanos,
                r.open.weighted_percent_nanos,
                (r.won_count, r.won_nanos, r.lost_count),
                (r.overdue_count, r.undated_count),
            )
        })
        .collect();
    assert_eq!(
        figures,
        [
            (
                Some(third),
                1,
                50_000_000_000,
                500_000_000_000,
                (0, 0, 0),
                (0, 1)
            ),
            (
                Some(second),
                1,
                100_000_000_000,
                1_000_000_000_000,
                (0, 0, 0),
                (1, 0)
            ),
            (
                Some(first),
                1,
                333_330_000_000,
                16_666_500_000_000,
                (1, 1_000_500_000_000, 1),
                (1, 0)
            ),
        ]
    );
    let whole = store
        .analytics_now(pipeline, &Period::default(), now)
        .await
        .unwrap();
    let open: i64 = whole.stages.iter().map(|s| s.open_count).sum();
    assert_eq!(open, rows.iter().map(|r| r.open.open_count).sum::<i64>());
    assert_eq!(
        whole.won_nanos,
        rows.iter().map(|r| r.won_nanos).sum::<i128>()
    );
    // Created from day 3 on: D and E only.
    let later = Period {
        from: Some(3 * DAY),
        before: None,
    };
    let rows = store.team(pipeline, &later, now, None).await.unwrap();
    assert_eq!(rows.len(), 2);
    let only = store
        .team(pipeline, &Period::default(), now, Some(second))
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].owner, Some(second));

    // Each owner's forecast adds up to the pipeline's; what each leaves out, too.
    let months = [(0, 10 * DAY), (10 * DAY, 20 * DAY)];
    let whole = store.forecast(pipeline, &months).await.unwrap();
    let (late, undated) = store.late_and_undated(pipeline, 13 * DAY).await.unwrap();
    let mut sums = vec![(0i128, 0i128, 0i128, 0i64); 2];
    let (mut late_n, mut undated_n) = (0, 0);
    for owner in [first, second, third] {
        let (mine, my_late, my_undated) = store
            .owner_forecast(pipeline, &[(0, 10 * DAY), (10 * DAY, 20 * DAY)], owner)
            .await
            .unwrap();
        for (sum, m) in sums.iter_mut().zip(&mine) {
            sum.0 += m.committed_nanos;
            sum.1 += m.weighted_percent_nanos;
            sum.2 += m.best_case_nanos;
            sum.3 += m.open_count;
        }
        // Late before the first month's start (day 0): nothing; the undated one is E's.
        late_n += my_late.open_count;
        undated_n += my_undated.open_count;
        if owner == second {
            assert_eq!(
                mine[1].best_case_nanos, 100_000_000_000,
                "D is due at day 15"
            );
            assert_eq!(mine[0].committed_nanos, 0, "the second owner won nothing");
        }
        if owner == third {
            assert_eq!(my_undated.best_case_nanos, 50_000_000_000);
        }
    }
    let expected: Vec<_> = whole
        .iter()
        .map(|m| {
            (
                m.committed_nanos,
                m.weighted_percent_nanos,
                m.best_case_nanos,
                m.open_count,
            )
        })
        .collect();
    assert_eq!(sums, expected);
    assert_eq!(sums[0].0, 1_000_500_000_000, "A won in the first");
    assert_eq!((late_n, undated_n), (0, undated.open_count));
    assert_eq!(
        late.open_count, 1,
        "C is late at day 13 for the whole pipeline"
    );

    who_sees_whose(sales, caller, pipeline, second).await;
}

/// A caller who reads every opportunity picks anyone's figures; one who reads only their own
/// gets their own, and is refused another's.
async fn who_sees_whose(sales: &Sales, caller: &Caller, pipeline: &Pipeline, other: UserId) {
    let me = caller.principal.user_id;
    let theirs = sales
        .pipeline_analytics(caller, pipeline.id, Period::default(), None, Some(other))
        .await
        .unwrap();
    assert_eq!(theirs.stages[0].open_count, 1, "D");
    let team = sales
        .team_analytics(caller, pipeline.id, Period::default())
        .await
        .unwrap();
    assert_eq!(team.owners.len(), 3);
    assert_eq!(team.owners[0].owner_id, me.to_string(), "most won first");
    assert_eq!(team.owners[0].won_count, 1);

    let mut own = caller.clone();
    own.principal.permissions = vec!["pipelines.read".into(), "opportunities.read:own".into()];
    let mine = sales
        .pipeline_analytics(&own, pipeline.id, Period::default(), None, None)
        .await
        .unwrap();
    assert_eq!(mine.won_count, 1, "the caller's own A");
    let open: Vec<i64> = mine.stages.iter().map(|s| s.open_count).collect();
    assert_eq!(open, [0, 0, 1, 0, 0], "C alone: not D nor E");
    let refused = sales
        .pipeline_analytics(&own, pipeline.id, Period::default(), None, Some(other))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::PermissionDenied);
    let refused = sales
        .revenue_forecast(&own, pipeline.id, 3, Some(other))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::PermissionDenied);
    let forecast = sales
        .revenue_forecast(&own, pipeline.id, 3, None)
        .await
        .unwrap();
    // Now is long after day 16: C is overdue, and it is the caller's only open one.
    assert_eq!(forecast.overdue.unwrap().open_count, 1);
    assert_eq!(forecast.undated.unwrap().open_count, 0, "E is not theirs");
    let team = sales
        .team_analytics(&own, pipeline.id, Period::default())
        .await
        .unwrap();
    let owners: Vec<&str> = team.owners.iter().map(|o| o.owner_id.as_str()).collect();
    assert_eq!(owners, [me.to_string()]);

    let mut none = caller.clone();
    none.principal.permissions = vec!["pipelines.read".into()];
    let refused = sales
        .team_analytics(&none, pipeline.id, Period::default())
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::PermissionDenied);
}

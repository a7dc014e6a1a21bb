//! The SalesStore contract, run against SQLite always and PostgreSQL when `DATABASE_URL` is set
//! (`#[ignore]`d without `--include-ignored`; set but unreachable fails), the latter under
//! row-level security as the application role.

use crm_core::storage::Database;
use crm_core::testing::TestDb;
use crm_core::{ErrorKind, TenantId, UserId};
use crm_sales::domain::analytics::Period;
use crm_sales::domain::conversion::{Conversion, Step};
use crm_sales::domain::lead::{Lead, LeadInput, LeadStatus};
use crm_sales::domain::opportunity::Deal;
use crm_sales::domain::opportunity::{
    ApprovalState, Opportunity, OpportunityInput, OpportunityStatus, Placement,
};
use crm_sales::domain::pipeline::{Pipeline, StageInput};
use crm_sales::domain::ports::{
    DealFilter, LeadFilter, OpportunityCursor, OpportunityFilter, OpportunityWrite, OutboxEvent,
    SalesStore,
};
use crm_sales::domain::search;
use crm_sales::infrastructure::sql::SqlSalesStore;
use uuid::Uuid;

#[path = "store/deleted_leads.rs"]
mod deleted_leads;
use deleted_leads::*;

#[path = "store/opportunity_order.rs"]
mod opportunity_order;
use opportunity_order::opportunities_are_listed_in_each_order_paged_and_counted;

struct Store {
    store: Box<dyn SalesStore>,
    db: Database,
    test: TestDb,
}

async fn sqlite() -> Store {
    store(TestDb::sqlite("sales", &crm_sales::MIGRATIONS, &[&crm_events::TABLES]).await)
}

async fn postgres() -> Store {
    store(TestDb::postgres("sales", &crm_sales::MIGRATIONS, &[&crm_events::TABLES]).await)
}

/// Saves `next` over the stored pipeline if it is still at `expected`, removing `removed`
/// stages, as a use case decides: the stages that hold open opportunities (none: saved).
async fn save_pipeline(
    store: &dyn SalesStore,
    next: &Pipeline,
    expected: i64,
    removed: &[Uuid],
) -> crm_core::Result<Vec<(Uuid, i64)>> {
    let decide = crm_core::storage::pinned(
        next.clone(),
        expected,
        |p| p.version,
        removed.to_vec(),
        "pipeline",
    );
    store
        .update_pipeline(next.tenant_id, next.id, decide)
        .await
        .map(|(_, occupied)| occupied)
}

fn store(test: TestDb) -> Store {
    Store {
        store: Box::new(SqlSalesStore::new(test.db.clone())),
        db: test.db.clone(),
        test,
    }
}

impl Store {
    async fn drop_schema(self) {
        self.test.drop().await;
    }
}

crm_core::on_every_engine! {
    engines {
        sqlite_engine = sqlite;
        postgres_engine = postgres, ignore "needs DATABASE_URL (PostgreSQL): run with --include-ignored";
    }
    flavor "current_thread",
    each |s| (&*s.store, &s.db),
    tests {
    pipelines_round_trip_with_their_stages_in_order,
    one_pipeline_is_the_default_and_moving_it_moves_it,
    changes_keep_stage_ids_and_stale_versions_are_refused,
    another_tenants_pipelines_are_invisible,
    leads_are_saved_with_their_events_filtered_and_kept_per_tenant,
    concurrent_changes_of_a_lead_each_see_the_last,
    the_view_of_users_keeps_the_newest_roles,
    opportunities_keep_their_history_deals_and_filters_per_tenant,
    one_conversion_per_lead_is_under_way_and_a_request_id_names_one,
    a_stage_removed_while_an_opportunity_moves_into_it_never_keeps_both,
    a_reopened_win_withdraws_its_deal_and_its_figures_and_can_be_won_again,
    a_deleted_lead_leaves_every_read_and_comes_back_in_its_tenant,
    the_purge_removes_only_leads_past_their_window,
    a_restore_racing_the_purge_leaves_one_outcome,
    opportunities_are_listed_in_each_order_paged_and_counted,
    }
}

fn lead(tenant: TenantId, name: &str, source: i32, owner: Option<UserId>) -> Lead {
    let input = LeadInput {
        contact_name: name.into(),
        source,
        ..LeadInput::default()
    };
    Lead::new(tenant, &input, owner, 1).unwrap()
}

fn created_event(lead: &Lead) -> OutboxEvent {
    let message = crm_proto::crm::sales::events::v1::LeadCreated {
        lead: None,
        created_by_user_id: String::new(),
    };
    OutboxEvent {
        aggregate_type: "lead",
        envelope: crm_events::Envelope::new(
            "crm.sales",
            lead.tenant_id,
            lead.id,
            &message,
            &crm_events::Causation::default(),
        ),
    }
}

async fn outbox_rows(db: &Database, tenant: TenantId) -> i64 {
    let mut tx = db.begin_for(tenant).await.unwrap();
    let n: i64 = sqlx::query_scalar("select count(*) from outbox where tenant_id = $1")
        .bind(tenant.to_string())
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

async fn leads_are_saved_with_their_events_filtered_and_kept_per_tenant(
    store: &dyn SalesStore,
    db: &Database,
) {
    let (a, b) = (TenantId::new(), TenantId::new());
    let rep = UserId::new();
    let siti = lead(a, "Siti", 1, Some(rep));
    let ali = lead(a, "Ali", 3, None);
    store
        .insert_lead(&siti, vec![created_event(&siti)])
        .await
        .unwrap();
    store
        .insert_lead(&ali, vec![created_event(&ali)])
        .await
        .unwrap();
    assert_eq!(outbox_rows(db, a).await, 2, "each lead with its event");
    assert_eq!(
        store.get_lead(a, siti.id).await.unwrap(),
        Some(siti.clone())
    );
    assert_eq!(store.get_lead(b, siti.id).await.unwrap(), None);
    let all = store
        .list_leads(a, &LeadFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(all, [siti.clone(), ali.clone()]);
    let mine = LeadFilter {
        owner_id: Some(rep),
        ..LeadFilter::default()
    };
    assert_eq!(
        store.list_leads(a, &mine, None, 10).await.unwrap(),
        std::slice::from_ref(&siti)
    );
    let trade_show = LeadFilter {
        source: Some(3),
        ..LeadFilter::default()
    };
    assert_eq!(
        store.list_leads(a, &trade_show, None, 10).await.unwrap(),
        std::slice::from_ref(&ali)
    );
    assert_eq!(
        store
            .list_leads(a, &LeadFilter::default(), Some(siti.id), 10)
            .await
            .unwrap(),
        std::slice::from_ref(&ali)
    );
    assert!(
        store
            .list_leads(b, &LeadFilter::default(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A change decides on the lead as stored and is saved with its events.
    let qualified = store
        .update_lead(
            a,
            siti.id,
            Box::new(|lead: &mut Lead| {
                assert_eq!(*lead, siti, "the change sees the stored lead");
                lead.qualify(true, 70, 2).unwrap();
                Ok(Some(vec![created_event(lead)]))
            }),
        )
        .await
        .unwrap();
    assert_eq!(qualified.version, siti.version + 1);
    let only_qualified = LeadFilter {
        status: Some(LeadStatus::Qualified),
        ..LeadFilter::default()
    };
    assert_eq!(
        store
            .list_leads(a, &only_qualified, None, 10)
            .await
            .unwrap(),
        std::slice::from_ref(&qualified)
    );
    // Found by a piece of its words in any case (as saved, after the change too), in its
    // tenant only; `%` and `_` are only themselves.
    let words = |q: &str| LeadFilter {
        query: search::pattern(q).unwrap(),
        ..LeadFilter::default()
    };
    assert_eq!(
        store
            .list_leads(a, &words(" sIT "), None, 10)
            .await
            .unwrap(),
        std::slice::from_ref(&qualified)
    );
    assert_eq!(store.count_leads(a, &words("siti")).await.unwrap(), 1);
    assert_eq!(store.count_leads(a, &words("i")).await.unwrap(), 2);
    for nothing in ["s%i", "_", "siti ali"] {
        assert_eq!(
            store.count_leads(a, &words(nothing)).await.unwrap(),
            0,
            "{nothing}"
        );
    }
    assert_eq!(store.count_leads(b, &words("siti")).await.unwrap(), 0);
    // A change that refuses saves nothing; one that changes nothing writes nothing.
    let err = store
        .update_lead(
            a,
            siti.id,
            Box::new(|lead: &mut Lead| {
                lead.qualify(false, 0, 3).unwrap();
                Err(crm_core::Error::new(ErrorKind::FailedPrecondition, "no"))
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition);
    let unchanged = store
        .update_lead(a, siti.id, Box::new(|_: &mut Lead| Ok(None)))
        .await
        .unwrap();
    assert_eq!(unchanged, qualified);
    assert_eq!(
        store.get_lead(a, siti.id).await.unwrap().unwrap(),
        qualified
    );
    assert_eq!(
        outbox_rows(db, a).await,
        3,
        "the refused change wrote no event"
    );
    // Through another tenant: not found, and the change is never asked.
    let err = store
        .update_lead(
            b,
            siti.id,
            Box::new(|_: &mut Lead| panic!("another tenant's lead reached the change")),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// Many changes of one lead at once: each decides on what the one before it left, so none is
/// lost (a read-then-write without the lock would lose some).
async fn concurrent_changes_of_a_lead_each_see_the_last(store: &dyn SalesStore, _: &Database) {
    let tenant = TenantId::new();
    let first = lead(tenant, "Aminah", 1, None);
    store
        .insert_lead(&first, vec![created_event(&first)])
        .await
        .unwrap();
    let changes = (0..8).map(|i| {
        store.update_lead(
            tenant,
            first.id,
            Box::new(move |lead: &mut Lead| {
                let mut input = LeadInput {
                    contact_name: lead.contact_name.clone(),
                    ..LeadInput::default()
                };
                input.contact_name.push_str(&format!(" {i}"));
                lead.update(&input, None, &["contact_name".into()], 10 + i)
                    .unwrap();
                Ok(Some(Vec::new()))
            }),
        )
    });
    for changed in futures::future::join_all(changes).await {
        changed.unwrap();
    }
    let last = store.get_lead(tenant, first.id).await.unwrap().unwrap();
    assert_eq!(last.version, first.version + 8, "every change was saved");
    for i in 0..8 {
        assert!(
            last.contact_name.contains(&format!(" {i}")),
            "change {i} was lost: {}",
            last.contact_name
        );
    }
}

async fn the_view_of_users_keeps_the_newest_roles(store: &dyn SalesStore, _: &Database) {
    let (a, b) = (TenantId::new(), TenantId::new());
    let ali = UserId::new();
    assert_eq!(store.sales_user(a, ali).await.unwrap(), None);
    store
        .record_user(a, ali, "ali@kilang.example", &["viewer".into()], 10)
        .await
        .unwrap();
    store
        .record_user(
            a,
            ali,
            "ali@kilang.example",
            &["sales_rep".into(), "viewer".into()],
            20,
        )
        .await
        .unwrap();
    // An older event arriving late does not undo the newer one.
    store
        .record_user(a, ali, "ali@kilang.example", &[], 15)
        .await
        .unwrap();
    let known = store.sales_user(a, ali).await.unwrap().unwrap();
    assert_eq!(known.roles, ["sales_rep", "viewer"]);
    assert!(known.active);
    assert_eq!(store.sales_user(b, ali).await.unwrap(), None);
    // Deactivated, then a stale reactivation: still inactive, roles kept.
    store
        .record_user_status(a, ali, "ali@kilang.example", false, 30)
        .await
        .unwrap();
    store
        .record_user_status(a, ali, "ali@kilang.example", true, 25)
        .await
        .unwrap();
    let known = store.sales_user(a, ali).await.unwrap().unwrap();
    assert!(!known.active);
    assert_eq!(known.roles, ["sales_rep", "viewer"]);
}

fn stages(names: &[(&str, i32)]) -> Vec<StageInput> {
    names
        .iter()
        .map(|(n, p)| StageInput {
            id: None,
            name: (*n).into(),
            probability: *p,
        })
        .collect()
}

fn wholesale(tenant: TenantId) -> Pipeline {
    Pipeline::new(
        tenant,
        "Wholesale",
        "MYR",
        &stages(&[("Enquiry", 5), ("Sample", 40), ("Order", 95)]),
        10,
    )
    .unwrap()
}

async fn pipelines_round_trip_with_their_stages_in_order(store: &dyn SalesStore, _: &Database) {
    let tenant = TenantId::new();
    let seeded = Pipeline::seed(tenant, "MYR", 1);
    store.insert_pipeline(&seeded).await.unwrap();
    let other = wholesale(tenant);
    store.insert_pipeline(&other).await.unwrap();
    assert_eq!(
        store.get_pipeline(tenant, seeded.id).await.unwrap(),
        Some(seeded.clone())
    );
    assert_eq!(
        store.get_pipeline(tenant, other.id).await.unwrap(),
        Some(other.clone())
    );
    assert_eq!(
        store.get_pipeline(tenant, Uuid::now_v7()).await.unwrap(),
        None
    );
    // Lists page in id order.
    let first = store.list_pipelines(tenant, None, 1).await.unwrap();
    assert_eq!(first, std::slice::from_ref(&seeded));
    let rest = store
        .list_pipelines(tenant, Some(seeded.id), 10)
        .await
        .unwrap();
    assert_eq!(rest, [other]);
}

async fn one_pipeline_is_the_default_and_moving_it_moves_it(store: &dyn SalesStore, _: &Database) {
    let tenant = TenantId::new();
    assert_eq!(store.default_pipeline(tenant).await.unwrap(), None);
    let seeded = Pipeline::seed(tenant, "MYR", 1);
    store.insert_pipeline(&seeded).await.unwrap();
    let mut other = wholesale(tenant);
    store.insert_pipeline(&other).await.unwrap();
    assert_eq!(
        store.default_pipeline(tenant).await.unwrap().unwrap().id,
        seeded.id
    );
    // Saving another as the default takes it from the first.
    let before = other.version;
    other.is_default = true;
    other.version += 1;
    save_pipeline(store, &other, before, &[]).await.unwrap();
    assert_eq!(
        store.default_pipeline(tenant).await.unwrap().unwrap().id,
        other.id
    );
    assert!(
        !store
            .get_pipeline(tenant, seeded.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    // A new default pipeline does the same.
    let mut third = wholesale(tenant);
    third.is_default = true;
    store.insert_pipeline(&third).await.unwrap();
    let all = store.list_pipelines(tenant, None, 10).await.unwrap();
    assert_eq!(all.iter().filter(|p| p.is_default).count(), 1);
    assert!(all.iter().any(|p| p.id == third.id && p.is_default));
}

async fn changes_keep_stage_ids_and_stale_versions_are_refused(
    store: &dyn SalesStore,
    _: &Database,
) {
    let tenant = TenantId::new();
    let mut p = Pipeline::seed(tenant, "MYR", 1);
    store.insert_pipeline(&p).await.unwrap();
    let (new, qualified) = (p.stages[0].id, p.stages[1].id);
    let expected = p.version;
    let change = vec![
        StageInput {
            id: Some(qualified),
            name: "Qualified".into(),
            probability: 30,
        },
        StageInput {
            id: Some(new),
            name: "Fresh".into(),
            probability: 5,
        },
        StageInput {
            id: None,
            name: "Trade fair".into(),
            probability: 15,
        },
    ];
    p.change(Some("Retail"), Some("SGD"), Some(&change), 2)
        .unwrap();
    save_pipeline(store, &p, expected, &[]).await.unwrap();
    let read = store.get_pipeline(tenant, p.id).await.unwrap().unwrap();
    assert_eq!(read, p);
    assert_eq!(read.stages[0].id, qualified);
    assert_eq!(read.stages[1].name, "Fresh");
    assert_eq!(
        read.stages.len(),
        3,
        "the removed stages are gone from the pipeline"
    );
    let err = save_pipeline(store, &p, expected, &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Aborted);
    assert_eq!(
        store.get_pipeline(tenant, p.id).await.unwrap().unwrap(),
        read
    );
}

async fn another_tenants_pipelines_are_invisible(store: &dyn SalesStore, _: &Database) {
    let (a, b) = (TenantId::new(), TenantId::new());
    let pa = Pipeline::seed(a, "MYR", 1);
    store.insert_pipeline(&pa).await.unwrap();
    assert_eq!(store.get_pipeline(b, pa.id).await.unwrap(), None);
    assert_eq!(store.default_pipeline(b).await.unwrap(), None);
    assert!(store.list_pipelines(b, None, 10).await.unwrap().is_empty());
    let mut moved = pa.clone();
    moved.tenant_id = b;
    moved.name = "Taken".into();
    moved.version += 1;
    let err = save_pipeline(store, &moved, pa.version, &[])
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::NotFound,
        "another tenant's pipeline is not found, and a write through that tenant changes nothing"
    );
    assert_eq!(
        store.get_pipeline(a, pa.id).await.unwrap().unwrap().name,
        "Sales"
    );
    // B's own default does not touch A's.
    let pb = Pipeline::seed(b, "MYR", 1);
    store.insert_pipeline(&pb).await.unwrap();
    assert!(
        store
            .get_pipeline(a, pa.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
}

/// Saves `changed` as a use case's change would: the change puts `changed`'s state in place of
/// the one it reads (which must be the version before it), with `deal`.
async fn save(
    store: &dyn SalesStore,
    changed: &Opportunity,
    deal: Option<&Deal>,
) -> crm_core::Result<Opportunity> {
    store
        .update_opportunity(
            changed.tenant_id,
            changed.id,
            Box::new(|o: &mut Opportunity| {
                assert_eq!(
                    o.version + 1,
                    changed.version,
                    "the change sees the stored state"
                );
                *o = changed.clone();
                Ok(Some(OpportunityWrite {
                    deal: deal.cloned(),
                    events: Vec::new(),
                }))
            }),
        )
        .await
}

fn opportunity(pipeline: &Pipeline, owner: UserId, at: i64) -> Opportunity {
    let placement = Placement {
        pipeline,
        stage_id: None,
        customer_id: Uuid::now_v7(),
        lead_id: None,
        owner_id: Some(owner),
        by: owner,
    };
    let input = OpportunityInput {
        name: "Sarongs".into(),
        amount: Some(("MYR".into(), 1_000, 0)),
        expected_close_at: Some(at + 10),
        ..OpportunityInput::default()
    };
    Opportunity::new(pipeline.tenant_id, &placement, &input, at).unwrap()
}

async fn opportunities_keep_their_history_deals_and_filters_per_tenant(
    store: &dyn SalesStore,
    _: &Database,
) {
    let (a, b) = (TenantId::new(), TenantId::new());
    let pipeline = Pipeline::seed(a, "MYR", 1);
    store.insert_pipeline(&pipeline).await.unwrap();
    let (rep, other) = (UserId::new(), UserId::new());
    let mut mine = opportunity(&pipeline, rep, 10);
    let theirs = opportunity(&pipeline, other, 20);
    store.insert_opportunity(&mine, Vec::new()).await.unwrap();
    store.insert_opportunity(&theirs, Vec::new()).await.unwrap();

    mine.move_to(&pipeline, pipeline.stages[2].id, rep, 30)
        .unwrap();
    save(store, &mine, None).await.unwrap();
    let read = store.get_opportunity(a, mine.id).await.unwrap().unwrap();
    assert_eq!(read, mine);
    assert_eq!(read.stage_history.len(), 2);
    let open = store
        .open_in_stages(
            a,
            pipeline.id,
            &[
                pipeline.stages[0].id,
                pipeline.stages[2].id,
                pipeline.stages[4].id,
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        open,
        [(pipeline.stages[0].id, 1), (pipeline.stages[2].id, 1)]
    );

    // Won: the opportunity and its deal in one write; the deal lists newest first.
    let deal = mine.win(&pipeline, None, "", 40).unwrap();
    save(store, &mine, Some(&deal)).await.unwrap();
    assert_eq!(
        store.get_deal(a, deal.id).await.unwrap(),
        Some(deal.clone())
    );
    let mut again = mine.clone();
    again.version += 1;
    let mut second_deal = deal.clone();
    second_deal.id = Uuid::now_v7();
    let twice = save(store, &again, Some(&second_deal)).await.unwrap_err();
    assert_eq!(
        twice.kind(),
        ErrorKind::AlreadyExists,
        "one deal per opportunity"
    );
    assert_eq!(
        store
            .get_opportunity(a, mine.id)
            .await
            .unwrap()
            .unwrap()
            .version,
        mine.version,
        "nothing of the refused write stays"
    );
    let deals = store
        .list_deals(a, &DealFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(deals, std::slice::from_ref(&deal));
    let later = DealFilter {
        from: Some(41),
        ..DealFilter::default()
    };
    assert!(
        store
            .list_deals(a, &later, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_deals(
                a,
                &DealFilter::default(),
                Some((deal.closed_at, deal.id)),
                10
            )
            .await
            .unwrap()
            .is_empty()
    );

    // Filters.
    let by = |f: OpportunityFilter| async move {
        store
            .list_opportunities(a, &f, Default::default(), None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        by(OpportunityFilter {
            owner_id: Some(rep),
            ..Default::default()
        })
        .await,
        [mine.id]
    );
    assert_eq!(
        by(OpportunityFilter {
            status: Some(OpportunityStatus::Open),
            ..Default::default()
        })
        .await,
        [theirs.id]
    );
    assert_eq!(
        by(OpportunityFilter {
            stage_id: Some(pipeline.stages[0].id),
            ..Default::default()
        })
        .await,
        [theirs.id]
    );
    assert_eq!(
        by(OpportunityFilter {
            customer_id: Some(theirs.customer_id),
            ..Default::default()
        })
        .await,
        [theirs.id]
    );
    assert_eq!(
        by(OpportunityFilter {
            close_from: Some(25),
            ..Default::default()
        })
        .await,
        [theirs.id]
    );
    assert_eq!(
        by(OpportunityFilter {
            query: search::pattern("SARONG").unwrap(),
            ..Default::default()
        })
        .await,
        [mine.id, theirs.id]
    );
    assert!(
        by(OpportunityFilter {
            query: search::pattern("sarong%").unwrap(),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    // Asked to win above the threshold: listed by the request's state, which follows its answer.
    let ask = |approve: Option<bool>| {
        let pipeline = pipeline.clone();
        Box::new(move |o: &mut Opportunity| {
            match approve {
                None => o.request_approval(&pipeline, None, "", UserId::new(), 50),
                Some(yes) => o.decide_approval(yes, "too low a margin", UserId::new(), 60),
            }
            .unwrap();
            Ok(Some(OpportunityWrite {
                deal: None,
                events: Vec::new(),
            }))
        })
    };
    let pending = OpportunityFilter {
        approval: Some(ApprovalState::Pending),
        ..Default::default()
    };
    assert!(by(pending.clone()).await.is_empty());
    store
        .update_opportunity(a, theirs.id, ask(None))
        .await
        .unwrap();
    assert_eq!(by(pending.clone()).await, [theirs.id]);
    store
        .update_opportunity(a, theirs.id, ask(Some(false)))
        .await
        .unwrap();
    assert!(by(pending).await.is_empty(), "answered: no longer waiting");
    let declined = OpportunityFilter {
        approval: Some(ApprovalState::Declined),
        ..Default::default()
    };
    assert_eq!(by(declined).await, [theirs.id]);
    assert_eq!(
        store
            .list_opportunities(
                a,
                &OpportunityFilter::default(),
                Default::default(),
                Some(OpportunityCursor {
                    keys: (0, 0),
                    id: mine.id.min(theirs.id)
                }),
                10
            )
            .await
            .unwrap()
            .len(),
        1
    );

    // Another tenant sees none of it and changes none of it.
    assert_eq!(store.get_opportunity(b, mine.id).await.unwrap(), None);
    assert_eq!(store.get_deal(b, deal.id).await.unwrap(), None);
    assert!(
        store
            .list_opportunities(
                b,
                &OpportunityFilter::default(),
                Default::default(),
                None,
                10
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_deals(b, &DealFilter::default(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .update_opportunity(
                b,
                theirs.id,
                Box::new(|o: &mut Opportunity| {
                    o.name = "Taken".into();
                    Ok(Some(OpportunityWrite::default()))
                }),
            )
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        store
            .get_opportunity(a, theirs.id)
            .await
            .unwrap()
            .unwrap()
            .name,
        "Sarongs"
    );
}

fn conversion(tenant: TenantId, lead: Uuid, request_id: &str) -> Conversion {
    Conversion::start(tenant, lead, request_id, UserId::new(), 1)
}

async fn one_conversion_per_lead_is_under_way_and_a_request_id_names_one(
    store: &dyn SalesStore,
    _: &Database,
) {
    let (a, b) = (TenantId::new(), TenantId::new());
    let lead = Uuid::now_v7();
    let first = conversion(a, lead, "req-1");
    assert_eq!(store.start_conversion(&first).await.unwrap(), first);
    // A second start for the same lead joins the first.
    let second = conversion(a, lead, "");
    assert_eq!(store.start_conversion(&second).await.unwrap().id, first.id);
    assert_eq!(
        store
            .conversion_by_request(a, "req-1")
            .await
            .unwrap()
            .unwrap()
            .id,
        first.id
    );
    assert_eq!(store.conversion_by_request(b, "req-1").await.unwrap(), None);
    assert_eq!(store.get_conversion(b, first.id).await.unwrap(), None);
    // Unfinished ones of every tenant are found for recovery, oldest first.
    let other = conversion(b, Uuid::now_v7(), "req-1");
    store.start_conversion(&other).await.unwrap();
    let found: Vec<Uuid> = store
        .unfinished_conversions(2, 10)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert!(
        found.contains(&first.id) && found.contains(&other.id),
        "{found:?}"
    );
    // Once it ended, the lead may be converted again (e.g. into another pipeline).
    let mut ended = first.clone();
    ended.refuse(
        crm_sales::domain::conversion::Failure {
            reason: "PIPELINE_NOT_FOUND".into(),
            message: "gone".into(),
            field: None,
        },
        5,
    );
    assert!(
        !store
            .save_conversion(&ended, Step::CustomerEnsured)
            .await
            .unwrap(),
        "a save from a step the conversion is no longer at changes nothing"
    );
    assert_eq!(
        store
            .get_conversion(a, first.id)
            .await
            .unwrap()
            .unwrap()
            .step,
        first.step
    );
    assert!(store.save_conversion(&ended, first.step).await.unwrap());
    assert!(
        store
            .unfinished_conversions(10, 10)
            .await
            .unwrap()
            .iter()
            .all(|c| c.id != first.id)
    );
    let retry = conversion(a, lead, "req-2");
    assert_eq!(store.start_conversion(&retry).await.unwrap().id, retry.id);
}

/// A stage removed while an opportunity moves into it, at the same moment, many times: exactly
/// one of the two lands. Either the move is refused (`STAGE_REMOVED`) and the stage is gone, or
/// the removal is refused (the stage's open opportunities counted) and the opportunity sits in a
/// stage its pipeline still has; never an open opportunity in a removed stage.
async fn a_stage_removed_while_an_opportunity_moves_into_it_never_keeps_both(
    store: &dyn SalesStore,
    _: &Database,
) {
    let tenant = TenantId::new();
    let rep = UserId::new();
    let (mut moves, mut removals) = (0, 0);
    for round in 0..24 {
        let pipeline = wholesale(tenant);
        store.insert_pipeline(&pipeline).await.unwrap();
        let order = pipeline.stages[2].id;
        let mut moving = opportunity(&pipeline, rep, 10);
        store.insert_opportunity(&moving, Vec::new()).await.unwrap();
        moving.move_to(&pipeline, order, rep, 20).unwrap();
        let mut smaller = pipeline.clone();
        let kept: Vec<StageInput> = pipeline.stages[..2]
            .iter()
            .map(|s| StageInput {
                id: Some(s.id),
                name: s.name.clone(),
                probability: s.probability,
            })
            .collect();
        smaller.change(None, None, Some(&kept), 20).unwrap();

        let gone = [order];
        let move_first = round % 2 == 0;
        let (moved, removed) = if move_first {
            tokio::join!(
                save(store, &moving, None),
                save_pipeline(store, &smaller, pipeline.version, &gone),
            )
        } else {
            let (removed, moved) = tokio::join!(
                save_pipeline(store, &smaller, pipeline.version, &gone),
                save(store, &moving, None),
            );
            (moved, removed)
        };
        let removed = removed.unwrap();
        let read = store
            .get_pipeline(tenant, pipeline.id)
            .await
            .unwrap()
            .unwrap();
        let stored = store
            .get_opportunity(tenant, moving.id)
            .await
            .unwrap()
            .unwrap();
        match moved {
            Ok(_) => {
                moves += 1;
                assert_eq!(
                    removed,
                    [(order, 1)],
                    "round {round}: the removal saw the move"
                );
                assert_eq!(read, pipeline, "round {round}: the removal saved nothing");
                assert_eq!(stored.stage_id, order);
            }
            Err(e) => {
                removals += 1;
                assert_eq!(
                    (e.kind(), e.reason()),
                    (ErrorKind::FailedPrecondition, Some("STAGE_REMOVED")),
                    "round {round}: {e:?}"
                );
                assert!(removed.is_empty(), "round {round}: the removal landed");
                assert_eq!(read.stages.len(), 2);
                assert_eq!(
                    stored.stage_id, pipeline.stages[0].id,
                    "round {round}: not moved"
                );
            }
        }
        assert!(
            read.stages.iter().any(|s| s.id == stored.stage_id),
            "round {round}: an open opportunity in a removed stage"
        );
    }
    eprintln!("{moves} moves landed, {removals} removals");
    assert!(
        moves > 0 && removals > 0,
        "both orders were tried: {moves} moves, {removals} removals"
    );
}

/// A win undone (reopened) in the same transaction as the deal's withdrawal: the deal is gone,
/// the figures and the forecast are as before the win, the opportunity is open in its stage,
/// and winning it again books a new deal (one per opportunity still).
async fn a_reopened_win_withdraws_its_deal_and_its_figures_and_can_be_won_again(
    store: &dyn SalesStore,
    _: &Database,
) {
    let tenant = TenantId::new();
    let pipeline = Pipeline::seed(tenant, "MYR", 1);
    store.insert_pipeline(&pipeline).await.unwrap();
    let rep = UserId::new();
    let mut o = opportunity(&pipeline, rep, 10);
    store.insert_opportunity(&o, Vec::new()).await.unwrap();
    o.move_to(&pipeline, pipeline.stages[1].id, rep, 20)
        .unwrap();
    save(store, &o, None).await.unwrap();
    let months = [(0, 1_000_000)];
    let figures = async |at| {
        let now = store
            .analytics_now(&pipeline, &Period::default(), at)
            .await
            .unwrap();
        let forecast = store.forecast(&pipeline, &months).await.unwrap();
        (now, forecast)
    };
    let open = figures(30).await;
    assert_eq!(open.1[0].open_count, 1);

    let deal = o.win(&pipeline, None, "", 40).unwrap();
    save(store, &o, Some(&deal)).await.unwrap();
    let won = figures(50).await;
    assert_eq!((won.0.won_count, won.1[0].open_count), (1, 0));
    assert_eq!(won.1[0].committed_nanos, 1_000 * 1_000_000_000);

    assert_eq!(o.reopen(&pipeline, rep, 60), Ok(Some(deal.id)));
    save(store, &o, None).await.unwrap();
    assert_eq!(store.get_deal(tenant, deal.id).await.unwrap(), None);
    let read = store.get_opportunity(tenant, o.id).await.unwrap().unwrap();
    assert_eq!(read, o);
    assert_eq!(
        (read.status, read.stage_id, read.deal_id),
        (OpportunityStatus::Open, pipeline.stages[1].id, None)
    );
    let reopened = figures(70).await;
    assert_eq!(reopened.0.won_count, 0);
    assert_eq!(reopened.0.won_nanos, 0);
    assert_eq!(reopened.1, open.1, "the forecast as before the win");
    assert_eq!(
        reopened
            .0
            .stages
            .iter()
            .map(|s| s.open_count)
            .collect::<Vec<_>>(),
        open.0
            .stages
            .iter()
            .map(|s| s.open_count)
            .collect::<Vec<_>>()
    );

    let again = o.win(&pipeline, None, "", 80).unwrap();
    save(store, &o, Some(&again)).await.unwrap();
    assert_eq!(
        store
            .list_deals(tenant, &DealFilter::default(), None, 10)
            .await
            .unwrap(),
        vec![again]
    );
}

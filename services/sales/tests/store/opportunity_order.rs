//! Opportunities listed in every order ListOpportunities offers, paged through by the cursor the
//! order gives its last item, and counted by the same filters, per tenant.

use crm_core::storage::Database;
use crm_core::{TenantId, UserId};
use crm_sales::domain::opportunity::{Opportunity, OpportunityInput, Placement};
use crm_sales::domain::pipeline::Pipeline;
use crm_sales::domain::ports::{OpportunityFilter, OpportunityOrder, SalesStore};
use uuid::Uuid;

/// An opportunity named `name` of `amount` (units, nanos), expected to close at `close`,
/// created at `at`.
fn deal(
    pipeline: &Pipeline,
    owner: UserId,
    name: &str,
    amount: (i64, i32),
    close: Option<i64>,
    at: i64,
) -> Opportunity {
    let placement = Placement {
        pipeline,
        stage_id: None,
        customer_id: Uuid::now_v7(),
        lead_id: None,
        owner_id: Some(owner),
        by: owner,
    };
    let input = OpportunityInput {
        name: name.into(),
        amount: Some(("MYR".into(), amount.0, amount.1)),
        expected_close_at: close,
        ..OpportunityInput::default()
    };
    Opportunity::new(pipeline.tenant_id, &placement, &input, at).unwrap()
}

async fn names(
    store: &dyn SalesStore,
    tenant: TenantId,
    filter: &OpportunityFilter,
    order: OpportunityOrder,
    size: u32,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_opportunities(tenant, filter, order, after, size)
            .await
            .unwrap();
        out.extend(page.iter().map(|o| o.name.clone()));
        match page.last() {
            Some(last) if page.len() as u32 == size => after = Some(order.cursor(last)),
            _ => return out,
        }
    }
}

pub async fn opportunities_are_listed_in_each_order_paged_and_counted(
    store: &dyn SalesStore,
    _: &Database,
) {
    let (a, b) = (TenantId::new(), TenantId::new());
    let pipeline = Pipeline::seed(a, "MYR", 1);
    store.insert_pipeline(&pipeline).await.unwrap();
    let (rep, other) = (UserId::new(), UserId::new());
    // Created in this order (their ids follow it); updated at their creation time.
    let deals = [
        deal(&pipeline, rep, "Songket", (5_000, 0), Some(3_000), 10),
        deal(&pipeline, rep, "Sarong", (1_000, 500_000_000), None, 20),
        deal(
            &pipeline,
            other,
            "Kain",
            (1_000, 250_000_000),
            Some(1_000),
            30,
        ),
        deal(&pipeline, rep, "Batik", (20_000, 0), Some(2_000), 40),
        deal(&pipeline, rep, "Tudung", (1_000, 250_000_000), None, 50),
    ];
    for d in &deals {
        store.insert_opportunity(d, Vec::new()).await.unwrap();
    }
    let elsewhere = Pipeline::seed(b, "MYR", 1);
    store.insert_pipeline(&elsewhere).await.unwrap();
    store
        .insert_opportunity(&deal(&elsewhere, rep, "Other", (1, 0), None, 5), Vec::new())
        .await
        .unwrap();
    // "Songket" changed last.
    let mut songket = deals[0].clone();
    songket.notes = "two colours".into();
    songket.updated_at = 60;
    songket.version += 1;
    store
        .update_opportunity(
            a,
            songket.id,
            Box::new(move |o: &mut Opportunity| {
                *o = songket.clone();
                Ok(Some(crm_sales::domain::ports::OpportunityWrite {
                    deal: None,
                    events: Vec::new(),
                }))
            }),
        )
        .await
        .unwrap();

    let all = OpportunityFilter::default();
    let expected: [(OpportunityOrder, [&str; 5]); 8] = [
        (
            OpportunityOrder::Created,
            ["Songket", "Sarong", "Kain", "Batik", "Tudung"],
        ),
        (
            OpportunityOrder::CreatedDesc,
            ["Tudung", "Batik", "Kain", "Sarong", "Songket"],
        ),
        (
            OpportunityOrder::Updated,
            ["Sarong", "Kain", "Batik", "Tudung", "Songket"],
        ),
        (
            OpportunityOrder::UpdatedDesc,
            ["Songket", "Tudung", "Batik", "Kain", "Sarong"],
        ),
        // Nanos count; equal amounts go by creation.
        (
            OpportunityOrder::Amount,
            ["Kain", "Tudung", "Sarong", "Songket", "Batik"],
        ),
        (
            OpportunityOrder::AmountDesc,
            ["Batik", "Songket", "Sarong", "Tudung", "Kain"],
        ),
        // Without a date last (by creation), and first the other way.
        (
            OpportunityOrder::Close,
            ["Kain", "Batik", "Songket", "Sarong", "Tudung"],
        ),
        (
            OpportunityOrder::CloseDesc,
            ["Tudung", "Sarong", "Songket", "Batik", "Kain"],
        ),
    ];
    for (order, names_in_order) in expected {
        for size in [50, 2, 1] {
            assert_eq!(
                names(store, a, &all, order, size).await,
                names_in_order,
                "{order:?} in pages of {size}"
            );
        }
    }

    let mine = OpportunityFilter {
        owner_id: Some(rep),
        ..OpportunityFilter::default()
    };
    assert_eq!(
        names(store, a, &mine, OpportunityOrder::AmountDesc, 2).await,
        ["Batik", "Songket", "Sarong", "Tudung"]
    );
    assert_eq!(store.count_opportunities(a, &all).await.unwrap(), 5);
    assert_eq!(store.count_opportunities(a, &mine).await.unwrap(), 4);
    assert_eq!(store.count_opportunities(b, &all).await.unwrap(), 1);
    let nobody = OpportunityFilter {
        owner_id: Some(UserId::new()),
        ..OpportunityFilter::default()
    };
    assert_eq!(store.count_opportunities(a, &nobody).await.unwrap(), 0);
}

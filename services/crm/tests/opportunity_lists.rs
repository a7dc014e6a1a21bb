//! ListOpportunities as a list screen reads it through the served CRM: in the order asked
//! (`order_by`), with the total on the first page, a page token that belongs to its order, a
//! bad order named by field, a filter counted as it lists, and another tenant's opportunities
//! never counted.

use crate::conversions::{myr, opened, opportunities};
use crate::support;

use crm_proto::crm::sales::v1::*;
use tonic::Code;

use support::iam::{fields, member, register};
use support::{TestServer, authorized, spawn};

async fn list(
    server: &TestServer,
    token: &str,
    request: ListOpportunitiesRequest,
) -> Result<ListOpportunitiesResponse, tonic::Status> {
    opportunities(server)
        .list_opportunities(authorized(request, token))
        .await
        .map(|r| r.into_inner())
}

fn units(r: &ListOpportunitiesResponse) -> Vec<i64> {
    r.opportunities
        .iter()
        .map(|o| o.amount.as_ref().unwrap().units)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn opportunities_are_listed_in_the_order_asked_with_their_total() {
    let server = spawn().await;
    let owner = register(&server, "Kilang Desa Murni Batik", "siti@kilang.example").await;
    let rep = member(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    for (i, amount) in [5_000, 25_000, 1_000].into_iter().enumerate() {
        opened(
            &server,
            &owner.access,
            &format!("buyer{i}@hotel.example"),
            myr(amount),
        )
        .await;
    }
    let reps = opened(&server, &rep, "rep@hotel.example", myr(7_000)).await;

    let first = list(
        &server,
        &owner.access,
        ListOpportunitiesRequest {
            order_by: "amount desc".into(),
            page_size: 3,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(units(&first), [25_000, 7_000, 5_000]);
    assert_eq!(first.total_size, 4);
    assert!(!first.next_page_token.is_empty());
    let second = list(
        &server,
        &owner.access,
        ListOpportunitiesRequest {
            order_by: "amount desc".into(),
            page_size: 3,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(units(&second), [1_000]);
    assert_eq!(second.total_size, 0, "counted on the first page only");
    assert!(second.next_page_token.is_empty());

    let oldest_first = list(&server, &owner.access, ListOpportunitiesRequest::default())
        .await
        .unwrap();
    assert_eq!(units(&oldest_first), [5_000, 25_000, 1_000, 7_000]);
    let newest_first = list(
        &server,
        &owner.access,
        ListOpportunitiesRequest {
            order_by: " create_time  desc ".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(units(&newest_first), [7_000, 1_000, 25_000, 5_000]);

    // A token of one order is refused in another.
    let err = list(
        &server,
        &owner.access,
        ListOpportunitiesRequest {
            order_by: "amount".into(),
            page_size: 3,
            page_token: first.next_page_token,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(fields(&err), ["page_token"]);
    for bad in ["name", "amount up", "amount desc desc", "AMOUNT"] {
        let err = list(
            &server,
            &owner.access,
            ListOpportunitiesRequest {
                order_by: bad.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
        assert_eq!(fields(&err), ["order_by"], "{bad}");
    }

    // One owner's, counted the same way.
    let owned = list(
        &server,
        &owner.access,
        ListOpportunitiesRequest {
            owner_id: reps.owner_id.clone(),
            order_by: "update_time desc".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((units(&owned), owned.total_size), (vec![7_000], 1));

    // Another tenant counts none of them.
    let other = register(&server, "Toko Lain", "lain@toko.example").await;
    let theirs = list(&server, &other.access, ListOpportunitiesRequest::default())
        .await
        .unwrap();
    assert_eq!((theirs.opportunities.len(), theirs.total_size), (0, 0));
}

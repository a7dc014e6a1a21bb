//! The customer list's bulk actions through the generated client: BatchUpdateCustomers and
//! BatchDeleteCustomers give each customer its own outcome (one refused never stops the
//! others), are bounded, replay by `request_id`, check the caller's right before anything, and
//! never reach another tenant's customers.

use crate::customers::{company, create};
use crate::support;

use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use crm_proto::crm::customer::v1::*;
use tonic::Code;

use support::authorized;
use support::iam::{fields, member, register, unique_name};

/// The customer `id` as `token` reads it.
async fn read(
    c: &mut CustomerServiceClient<tonic::transport::Channel>,
    token: &str,
    id: &str,
) -> Customer {
    c.get_customer(authorized(GetCustomerRequest { id: id.into() }, token))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap()
}

/// Each result's code, by its place.
fn codes(results: &[CustomerBatchResult]) -> Vec<Code> {
    results
        .iter()
        .map(|r| Code::from(r.status.as_ref().unwrap().code))
        .collect()
}

#[tokio::test]
async fn one_change_reaches_each_customer_and_a_refused_one_stops_none() {
    let server = support::spawn().await;
    let owner = register(&server, &unique_name("Kilang"), "owner@kilang.example").await;
    let token = owner.access.as_str();
    let mut c = CustomerServiceClient::new(server.channel.clone());
    let tan = create(&mut c, token, company("Kedai Tan", &["batik", "vip"]))
        .await
        .unwrap();
    let seri = create(&mut c, token, company("Butik Seri", &["songket"]))
        .await
        .unwrap();
    let other = register(&server, &unique_name("Lain"), "ali@lain.example").await;
    let theirs = create(&mut c, &other.access, company("Kedai Lain", &[]))
        .await
        .unwrap();

    let ask = BatchUpdateCustomersRequest {
        ids: vec![tan.id.clone(), theirs.id.clone(), seri.id.clone()],
        status: CustomerStatus::Active as i32,
        add_tags: vec![" Wholesale ".into(), "batik".into()],
        remove_tags: vec!["vip".into()],
        request_id: "bulk-1".into(),
        ..Default::default()
    };
    let answer = c
        .batch_update_customers(authorized(ask.clone(), token))
        .await
        .unwrap()
        .into_inner();
    // In the order asked: another tenant's is not found (and nothing of it comes back).
    assert_eq!(codes(&answer.results), [Code::Ok, Code::NotFound, Code::Ok]);
    assert_eq!(answer.results[1].id, theirs.id);
    let hidden = answer.results[1].status.as_ref().unwrap();
    assert!(!hidden.message.contains("Kedai Lain"), "{hidden:?}");
    assert!(answer.results[1].customer.is_none());
    let changed = answer.results[0].customer.as_ref().unwrap();
    assert_eq!(changed.tags, ["batik", "wholesale"]);
    assert_eq!(changed.status, CustomerStatus::Active as i32);
    let seri_now = read(&mut c, token, &seri.id).await;
    assert_eq!(seri_now.tags, ["songket", "wholesale", "batik"]);
    // The other tenant's customer is untouched.
    let kept = read(&mut c, &other.access, &theirs.id).await;
    assert_eq!((kept.tags.len(), kept.status), (0, theirs.status));

    // The same request_id and request: the first answer again, nothing changed twice.
    let again = c
        .batch_update_customers(authorized(ask.clone(), token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, answer);
    // The same key with another request is refused.
    let reused = c
        .batch_update_customers(authorized(
            BatchUpdateCustomersRequest {
                remove_tags: vec!["batik".into()],
                ..ask.clone()
            },
            token,
        ))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::InvalidArgument);

    // Refused as a whole: no ids, too many, one twice, one that is not an id, a bad tag.
    let many: Vec<String> = (0..101).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    for (request, field) in [
        (
            BatchUpdateCustomersRequest {
                status: 2,
                ..Default::default()
            },
            "ids",
        ),
        (
            BatchUpdateCustomersRequest {
                ids: many,
                status: 2,
                ..Default::default()
            },
            "ids",
        ),
        (
            BatchUpdateCustomersRequest {
                ids: vec![tan.id.clone(), tan.id.clone()],
                status: 2,
                ..Default::default()
            },
            "ids[1]",
        ),
        (
            BatchUpdateCustomersRequest {
                ids: vec![tan.id.clone(), "not-an-id".into()],
                status: 2,
                ..Default::default()
            },
            "ids[1]",
        ),
        (
            BatchUpdateCustomersRequest {
                ids: vec![tan.id.clone()],
                add_tags: vec!["  ".into()],
                ..Default::default()
            },
            "add_tags",
        ),
    ] {
        let err = c
            .batch_update_customers(authorized(request, token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert_eq!(fields(&err), [field]);
    }
    // A change of nothing leaves each as it is, and says so per customer.
    let nothing = c
        .batch_update_customers(authorized(
            BatchUpdateCustomersRequest {
                ids: vec![tan.id.clone(), theirs.id.clone()],
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(codes(&nothing.results), [Code::Ok, Code::NotFound]);
    assert_eq!(
        nothing.results[0].customer.as_ref().unwrap().etag,
        changed.etag
    );
}

#[tokio::test]
async fn a_rep_changes_only_his_own_and_a_viewer_nothing_at_all() {
    let server = support::spawn().await;
    let owner = register(&server, &unique_name("Kilang"), "owner@kilang.example").await;
    let mut c = CustomerServiceClient::new(server.channel.clone());
    let hers = create(&mut c, &owner.access, company("Kedai Tan", &[]))
        .await
        .unwrap();
    let rep = member(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let his = create(&mut c, &rep, company("Butik Ali", &[]))
        .await
        .unwrap();
    let answer = c
        .batch_update_customers(authorized(
            BatchUpdateCustomersRequest {
                ids: vec![his.id.clone(), hers.id.clone()],
                add_tags: vec!["follow-up".into()],
                ..Default::default()
            },
            &rep,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(codes(&answer.results), [Code::Ok, Code::PermissionDenied]);
    assert_eq!(
        answer.results[0].customer.as_ref().unwrap().tags,
        ["follow-up"]
    );
    assert!(read(&mut c, &owner.access, &hers.id).await.tags.is_empty());

    // Without the right at all, refused before anything (a replayable key included).
    let viewer = member(&server, &owner, "mei@kilang.example", &["viewer"]).await;
    for request_id in ["", "viewer-1"] {
        let err = c
            .batch_update_customers(authorized(
                BatchUpdateCustomersRequest {
                    ids: vec![hers.id.clone()],
                    status: CustomerStatus::Inactive as i32,
                    request_id: request_id.into(),
                    ..Default::default()
                },
                &viewer,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
        let err = c
            .batch_delete_customers(authorized(
                BatchDeleteCustomersRequest {
                    ids: vec![hers.id.clone()],
                    request_id: request_id.into(),
                },
                &viewer,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    }
    let hers_now = read(&mut c, &owner.access, &hers.id).await;
    assert_eq!(hers_now.status, hers.status, "nothing changed");
}

#[tokio::test]
async fn many_deleted_at_once_each_restorable_and_another_tenants_not_found() {
    let server = support::spawn().await;
    let owner = register(&server, &unique_name("Kilang"), "owner@kilang.example").await;
    let token = owner.access.as_str();
    let mut c = CustomerServiceClient::new(server.channel.clone());
    let tan = create(&mut c, token, company("Kedai Tan", &[]))
        .await
        .unwrap();
    let seri = create(&mut c, token, company("Butik Seri", &[]))
        .await
        .unwrap();
    let other = register(&server, &unique_name("Lain"), "ali@lain.example").await;
    let theirs = create(&mut c, &other.access, company("Kedai Lain", &[]))
        .await
        .unwrap();
    let answer = c
        .batch_delete_customers(authorized(
            BatchDeleteCustomersRequest {
                ids: vec![tan.id.clone(), theirs.id.clone(), seri.id.clone()],
                request_id: "delete-1".into(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(codes(&answer.results), [Code::Ok, Code::NotFound, Code::Ok]);
    let deleted = c
        .list_deleted_customers(authorized(ListDeletedCustomersRequest::default(), token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.customers.len(), 2);
    // Deleted twice: gone already, on its own.
    let twice = c
        .batch_delete_customers(authorized(
            BatchDeleteCustomersRequest {
                ids: vec![tan.id.clone()],
                request_id: String::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(codes(&twice.results), [Code::NotFound]);
    c.restore_customer(authorized(
        RestoreCustomerRequest { id: tan.id.clone() },
        token,
    ))
    .await
    .unwrap();
    // Over REST too, each outcome a google.rpc.Status in proto3 JSON, its details typed.
    let (status, answer) = crate::rest::call(
        &server,
        "POST",
        "/api/v1/customers:batchDelete",
        Some(token),
        &serde_json::json!({"ids": [seri.id, tan.id]}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["results"][0]["status"]["code"], 5,
        "gone already: {answer}"
    );
    let details = answer["results"][0]["status"]["details"].to_string();
    assert!(details.contains("NOT_FOUND"), "{answer}");
    assert!(
        answer["results"][1]["status"].get("code").is_none(),
        "done: {answer}"
    );
    // A request that is wrong as a whole is a 400 with the place of the bad id.
    let (status, error) = crate::rest::call(
        &server,
        "POST",
        "/api/v1/customers:batchDelete",
        Some(token),
        &serde_json::json!({"ids": [tan.id, "nope"]}).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["details"]
            .to_string()
            .contains("\"field\":\"ids[1]\""),
        "{error}"
    );
    // The other tenant's is still there.
    read(&mut c, &other.access, &theirs.id).await;
}

//! The way back from a delete through the served CRM, as its users call it: a deleted customer
//! is listed in ListDeletedCustomers with when it goes for good, restored with
//! RestoreCustomer (over gRPC and REST) by whoever may delete it, never by another tenant or a
//! rep, and its restore is on its timeline.

use crate::support;

use crm_core::testing::eventually;
use crm_proto::crm::activity::v1 as act;
use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use crm_proto::crm::customer::v1::*;
use tonic::Code;

use crate::customers::{Client, company, create, person};
use support::iam::{fields, member, reason, register, unique_name};
use support::{authorized, spawn};

const DAYS_30: i64 = 30 * 24 * 60 * 60;

/// RestoreCustomer's refusal of `id` to `token`.
async fn refused_restore(c: &mut Client, id: &str, token: &str) -> tonic::Status {
    let request = RestoreCustomerRequest { id: id.into() };
    c.restore_customer(authorized(request, token))
        .await
        .unwrap_err()
}

async fn delete(c: &mut Client, id: &str, token: &str) {
    let request = DeleteCustomerRequest {
        id: id.into(),
        ..Default::default()
    };
    c.delete_customer(authorized(request, token)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_customer_is_listed_and_restored_by_who_may_delete_it_in_its_tenant_only() {
    let server = spawn().await;
    let owner = register(&server, &unique_name("Kilang"), "owner@kilang.example").await;
    let token = owner.access.clone();
    let rep = member(&server, &owner, "rep@kilang.example", &["sales_rep"]).await;
    let stranger = register(&server, &unique_name("Lain"), "owner@lain.example")
        .await
        .access;
    let mut c = CustomerServiceClient::new(server.channel.clone());
    let siti = Customer {
        tags: vec!["songket".into()],
        ..person("Siti", "Aminah", "siti@pelanggan.example")
    };
    let created = create(&mut c, &token, siti).await.unwrap();
    assert_eq!((created.delete_time, created.purge_time), (None, None));
    let id = created.id.clone();
    delete(&mut c, &id, &token).await;

    let listed = c
        .list_deleted_customers(authorized(ListDeletedCustomersRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.customers.len(), 1, "{listed:?}");
    let gone = &listed.customers[0];
    assert_eq!(
        (gone.id.as_str(), gone.tags.as_slice()),
        (id.as_str(), &["songket".to_owned()][..])
    );
    let (deleted, purge) = (gone.delete_time.unwrap(), gone.purge_time.unwrap());
    assert_eq!(
        purge.seconds - deleted.seconds,
        DAYS_30,
        "restorable for 30 days"
    );

    // Another tenant sees nothing and restores nothing; a rep may not delete, so neither.
    let theirs = c
        .list_deleted_customers(authorized(
            ListDeletedCustomersRequest::default(),
            &stranger,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.customers.is_empty());
    let err = refused_restore(&mut c, &id, &stranger).await;
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    for err in [
        refused_restore(&mut c, &id, &rep).await,
        c.list_deleted_customers(authorized(ListDeletedCustomersRequest::default(), &rep))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
        assert_eq!(reason(&err), "MISSING_PERMISSION");
    }
    // Bad input is named.
    let err = refused_restore(&mut c, "x", &token).await;
    assert_eq!(
        (err.code(), fields(&err)),
        (Code::InvalidArgument, vec!["id".to_owned()])
    );
    let err = c
        .list_deleted_customers(authorized(
            ListDeletedCustomersRequest {
                page_token: "nonsense".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");

    // Restored over REST: found again, searchable, and its email is its own again.
    let request = http::Request::post(format!(
        "http://{}/api/v1/customers/{id}/restore",
        server.addr
    ))
    .header("authorization", format!("Bearer {token}"))
    .header("content-type", "application/json")
    .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
    .unwrap();
    let (parts, body) = support::http1(server.addr, request).await;
    assert_eq!(parts.status, 200, "{body:?}");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["customer"]["id"], id.as_str());
    assert!(json["customer"].get("deleteTime").is_none(), "{json}");
    let back = c
        .get_customer(authorized(GetCustomerRequest { id: id.clone() }, &token))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(back.email, "siti@pelanggan.example");
    let found = c
        .search_customers(authorized(
            SearchCustomersRequest {
                query: "aminah".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.customers.len(), 1);
    let err = refused_restore(&mut c, &id, &token).await;
    assert_eq!(
        err.code(),
        Code::NotFound,
        "a live customer is not restored: {err:?}"
    );

    // Deleted again, its email taken meanwhile: refused in words, naming the holder.
    delete(&mut c, &id, &token).await;
    let taker = Customer {
        email: "siti@pelanggan.example".into(),
        ..company("Butik Siti", &[])
    };
    let taker = create(&mut c, &token, taker).await.unwrap();
    let err = refused_restore(&mut c, &id, &token).await;
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert_eq!(fields(&err), ["customer.email"]);
    assert!(
        err.message().contains("belongs to another customer now"),
        "{err:?}"
    );
    use tonic_types::StatusExt;
    let holder = err
        .get_error_details()
        .error_info()
        .map(|i| i.metadata["customer_id"].clone());
    assert_eq!(holder.as_deref(), Some(taker.id.as_str()));

    // The timeline tells who deleted and restored it.
    let mut timeline =
        act::timeline_service_client::TimelineServiceClient::new(server.channel.clone());
    let record = act::RecordRef {
        r#type: act::RecordType::Customer as i32,
        id: id.clone(),
    };
    eventually("the timeline holds the restore", async || {
        let entries = timeline
            .list_timeline(authorized(
                act::ListTimelineRequest {
                    record: Some(record.clone()),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .entries;
        entries
            .iter()
            .any(|e| e.summary == "Customer restored: Siti Aminah")
            .then_some(())
    })
    .await;
}

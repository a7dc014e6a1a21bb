//! The way back from a delete through the served CRM, as its users call it: a deleted customer
//! is listed in ListDeletedCustomers with when it goes for good, restored with
//! RestoreCustomer (over gRPC and REST) by whoever may delete it, never by another tenant or a
//! rep, and its restore is on its timeline. A deleted lead likewise: listed in ListDeletedLeads,
//! restored with RestoreLead by whoever may write it (a rep, their own), never by another
//! tenant; a converted lead is not deleted.

use crate::support;

use crm_core::testing::eventually;
use crm_proto::crm::activity::v1 as act;
use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use crm_proto::crm::customer::v1::*;
use crm_proto::crm::sales::v1 as sales;
use tonic::Code;

use crate::customers::{Client, company, create, person};
use crate::leads;
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
    eventually("the timeline holds the restore", async || {
        let said =
            support::timeline_summaries(&server, &token, act::RecordType::Customer, &id).await;
        said.iter()
            .any(|s| s == "Customer restored: Siti Aminah")
            .then_some(())
    })
    .await;
}

/// DeleteLead of `id` by `token` with `etag`.
async fn delete_lead(
    server: &support::TestServer,
    token: &str,
    id: &str,
    etag: &str,
) -> Result<(), tonic::Status> {
    let request = sales::DeleteLeadRequest {
        id: id.into(),
        etag: etag.into(),
    };
    leads::client(server)
        .delete_lead(authorized(request, token))
        .await
        .map(drop)
}

/// The names of the deleted leads `token` may restore, most recently deleted first.
async fn deleted_leads(server: &support::TestServer, token: &str) -> Vec<sales::Lead> {
    leads::client(server)
        .list_deleted_leads(authorized(sales::ListDeletedLeadsRequest::default(), token))
        .await
        .unwrap()
        .into_inner()
        .leads
}

async fn restore_lead(
    server: &support::TestServer,
    token: &str,
    id: &str,
) -> Result<sales::Lead, tonic::Status> {
    leads::client(server)
        .restore_lead(authorized(
            sales::RestoreLeadRequest { id: id.into() },
            token,
        ))
        .await
        .map(|r| r.into_inner().lead.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_lead_is_listed_and_restored_by_who_may_write_it_in_its_tenant_only() {
    let server = spawn().await;
    let owner = register(&server, &unique_name("Kilang"), "owner@kilang.example").await;
    let token = owner.access.clone();
    let rep = member(&server, &owner, "rep@kilang.example", &["sales_rep"]).await;
    let stranger = register(&server, &unique_name("Lain"), "owner@lain.example")
        .await
        .access;
    let mine = leads::create(&server, &rep, leads::aisyah()).await.unwrap();
    let others = sales::Lead {
        contact_name: "Farid bin Ismail".into(),
        email: "farid@kedai.example".into(),
        ..leads::aisyah()
    };
    let others = leads::create(&server, &token, others).await.unwrap();
    assert_eq!((mine.delete_time, mine.purge_time), (None, None));

    // Who may not: a rep on another's lead, another tenant, a stale etag.
    let err = delete_lead(&server, &rep, &others.id, "")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = delete_lead(&server, &stranger, &mine.id, "")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = delete_lead(&server, &rep, &mine.id, "41")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    let err = delete_lead(&server, &rep, "x", "").await.unwrap_err();
    assert_eq!(fields(&err), ["id"]);
    assert!(
        leads::get(&server, &rep, &mine.id).await.is_ok(),
        "nothing deleted yet"
    );

    delete_lead(&server, &rep, &mine.id, &mine.etag)
        .await
        .unwrap();
    let err = leads::get(&server, &rep, &mine.id).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let listed = leads::client(&server)
        .list_leads(authorized(sales::ListLeadsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .leads;
    assert_eq!(
        listed.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        [others.id.as_str()]
    );
    let err = delete_lead(&server, &rep, &mine.id, "").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "deleted once: {err:?}");

    // Listed for 30 days to whoever may restore it: the rep their own, the owner every one.
    let gone = deleted_leads(&server, &rep).await;
    assert_eq!(gone.len(), 1);
    let (deleted, purge) = (gone[0].delete_time.unwrap(), gone[0].purge_time.unwrap());
    assert_eq!(purge.seconds - deleted.seconds, DAYS_30);
    delete_lead(&server, &token, &others.id, "").await.unwrap();
    let ids = |l: Vec<sales::Lead>| l.into_iter().map(|l| l.id).collect::<Vec<_>>();
    assert_eq!(ids(deleted_leads(&server, &rep).await), [mine.id.as_str()]);
    assert_eq!(
        ids(deleted_leads(&server, &token).await),
        [others.id.as_str(), mine.id.as_str()],
        "most recently deleted first"
    );
    assert!(deleted_leads(&server, &stranger).await.is_empty());
    let err = leads::client(&server)
        .list_deleted_leads(authorized(
            sales::ListDeletedLeadsRequest {
                page_token: "nonsense".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");

    let err = restore_lead(&server, &stranger, &mine.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = restore_lead(&server, &rep, &others.id).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // The rep restores theirs over REST: read again, as it was.
    let request = http::Request::post(format!(
        "http://{}/api/v1/leads/{}/restore",
        server.addr, mine.id
    ))
    .header("authorization", format!("Bearer {rep}"))
    .header("content-type", "application/json")
    .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
    .unwrap();
    let (parts, body) = support::http1(server.addr, request).await;
    assert_eq!(parts.status, 200, "{body:?}");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(json["lead"].get("deleteTime").is_none(), "{json}");
    let back = leads::get(&server, &rep, &mine.id).await.unwrap();
    assert_eq!(
        (back.contact_name.as_str(), back.email.as_str(), &back.tags),
        (mine.contact_name.as_str(), mine.email.as_str(), &mine.tags)
    );
    let err = restore_lead(&server, &rep, &mine.id).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "a live lead is not restored");

    // A converted lead is history: not deleted.
    restore_lead(&server, &token, &others.id).await.unwrap();
    leads::qualify(&server, &token, &others.id, true, 80)
        .await
        .unwrap();
    leads::client(&server)
        .convert_lead(authorized(
            sales::ConvertLeadRequest {
                id: others.id.clone(),
                request_id: "restore-test-convert".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap();
    let err = delete_lead(&server, &token, &others.id, "")
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::FailedPrecondition, "LEAD_CONVERTED".to_owned())
    );

    // The lead's timeline tells who deleted and restored it.
    eventually(
        "the lead's timeline holds the delete and the restore",
        async || {
            let said =
                support::timeline_summaries(&server, &token, act::RecordType::Lead, &mine.id).await;
            let name = "Aisyah binti Omar, Hotel Seri Malaysia";
            (said.contains(&format!("Lead deleted: {name}"))
                && said.contains(&format!("Lead restored: {name}")))
            .then_some(())
        },
    )
    .await;
}

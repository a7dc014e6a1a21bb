//! Custom fields over gRPC: an owner defines them, whoever reads customers reads them, a
//! customer's values hold them, a list filters on them, bad input is named by field, and
//! another tenant's fields are NOT_FOUND on every RPC.

use crate::support;

use crm_proto::crm::customer::v1::custom_field_service_client::CustomFieldServiceClient;
use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use crm_proto::crm::customer::v1::*;
use prost_types::{FieldMask, Value, value::Kind};
use support::iam::{fields, member, reason, register};
use support::{authorized, spawn};
use tonic::Code;

type Fields = CustomFieldServiceClient<tonic::transport::Channel>;

fn motif() -> CreateCustomFieldRequest {
    CreateCustomFieldRequest {
        custom_field: Some(CustomField {
            key: "motif".into(),
            label: "Preferred motif".into(),
            r#type: CustomFieldType::Choice as i32,
            options: vec!["parang".into(), "bunga tanjung".into()],
            required: true,
            ..Default::default()
        }),
        request_id: "motif-1".into(),
    }
}

fn text(s: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(s.into())),
    }
}

fn business(name: &str, motif: Option<&str>) -> CreateCustomerRequest {
    let mut customer = Customer {
        r#type: CustomerType::Business as i32,
        business: Some(BusinessDetails {
            legal_name: name.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    if let Some(m) = motif {
        customer.custom_fields.insert("motif".into(), text(m));
    }
    CreateCustomerRequest {
        customer: Some(customer),
        request_id: String::new(),
    }
}

async fn keys(f: &mut Fields, token: &str) -> Vec<String> {
    f.list_custom_fields(authorized(ListCustomFieldsRequest {}, token))
        .await
        .unwrap()
        .into_inner()
        .custom_fields
        .into_iter()
        .map(|f| f.key)
        .collect()
}

#[tokio::test]
async fn an_owner_defines_custom_fields_that_customers_hold_and_lists_filter_on() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let manager = member(&server, &owner, "farah@kilang.example", &["sales_manager"]).await;
    let rep = member(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let mut defs = CustomFieldServiceClient::new(server.channel.clone());
    let mut customers = CustomerServiceClient::new(server.channel.clone());

    // Authority first, replays included: a manager's retry of the owner's request is refused.
    let refused = defs
        .create_custom_field(authorized(motif(), &manager))
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), reason(&refused).as_str()),
        (Code::PermissionDenied, "MISSING_PERMISSION")
    );
    let defined = defs
        .create_custom_field(authorized(motif(), &owner.access))
        .await
        .unwrap()
        .into_inner()
        .custom_field
        .unwrap();
    assert_eq!((defined.etag.as_str(), defined.required), ("1", true));
    let replayed = defs
        .create_custom_field(authorized(motif(), &owner.access))
        .await
        .unwrap()
        .into_inner()
        .custom_field
        .unwrap();
    assert_eq!(
        replayed, defined,
        "the same request_id answers as the first time"
    );
    let refused = defs
        .create_custom_field(authorized(motif(), &manager))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let mut again = motif();
    again.request_id = "motif-2".into();
    let taken = defs
        .create_custom_field(authorized(again, &owner.access))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    assert_eq!(fields(&taken), ["custom_field.key"]);
    assert_eq!(
        keys(&mut defs, &rep).await,
        ["motif"],
        "every reader reads them"
    );

    // A customer holds the definition: required, one of the options.
    for (request, problem) in [
        (business("Anggun Songket", None), "required"),
        (
            business("Anggun Songket", Some("songket")),
            "one of its options",
        ),
    ] {
        let err = customers
            .create_customer(authorized(request, &manager))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{problem}");
        assert_eq!(fields(&err), ["customer.custom_fields.motif"], "{problem}");
    }
    for (name, motif) in [
        ("Anggun Songket", "parang"),
        ("Bunga Tekstil", "bunga tanjung"),
    ] {
        customers
            .create_customer(authorized(business(name, Some(motif)), &manager))
            .await
            .unwrap();
    }
    let listed = |filters: &[&str]| ListCustomersRequest {
        custom_fields: filters.iter().map(|f| (*f).to_owned()).collect(),
        ..Default::default()
    };
    let page = customers
        .list_customers(authorized(listed(&["motif=parang"]), &rep))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = page
        .customers
        .iter()
        .map(|c| c.display_name.as_str())
        .collect();
    assert_eq!((names, page.total_size), (vec!["Anggun Songket"], 1));
    for bad in [&["motif"][..], &["colour=merah"], &["motif=songket"]] {
        let err = customers
            .list_customers(authorized(listed(bad), &rep))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{bad:?}");
        assert_eq!(fields(&err), ["custom_fields"], "{bad:?}");
    }

    // Options change; the key and type never do; a stale etag changes nothing.
    let update = |etag: &str, paths: &[&str]| UpdateCustomFieldRequest {
        custom_field: Some(CustomField {
            key: "motif".into(),
            label: "Motif".into(),
            options: vec!["parang".into(), "bunga tanjung".into(), "geometri".into()],
            r#type: CustomFieldType::Text as i32,
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
    };
    let err = defs
        .update_custom_field(authorized(update("1", &["type"]), &owner.access))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["update_mask"]);
    let changed = defs
        .update_custom_field(authorized(
            update("1", &["label", "options"]),
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .custom_field
        .unwrap();
    assert_eq!(
        (
            changed.label.as_str(),
            changed.options.len(),
            changed.etag.as_str()
        ),
        ("Motif", 3, "2")
    );
    assert_eq!(changed.r#type, CustomFieldType::Choice as i32);
    let stale = defs
        .update_custom_field(authorized(update("1", &["label"]), &owner.access))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    // Deleting the definition keeps the values.
    defs.delete_custom_field(authorized(
        DeleteCustomFieldRequest {
            key: "motif".into(),
            etag: "2".into(),
        },
        &owner.access,
    ))
    .await
    .unwrap();
    assert!(keys(&mut defs, &rep).await.is_empty());
    let all = customers
        .list_customers(authorized(ListCustomersRequest::default(), &rep))
        .await
        .unwrap()
        .into_inner()
        .customers;
    assert!(
        all.iter().all(|c| c.custom_fields.contains_key("motif")),
        "the values stay"
    );
}

#[tokio::test]
async fn bad_definitions_are_named_by_field_and_another_tenants_are_not_found() {
    let server = spawn().await;
    let kilang = register(&server, "Kilang", "siti@kilang.example").await;
    let other = register(&server, "Toko Lain", "owner@toko.example").await;
    let mut defs = CustomFieldServiceClient::new(server.channel.clone());

    let bad = CreateCustomFieldRequest {
        custom_field: Some(CustomField {
            key: "Preferred Motif".into(),
            label: "\u{202e}".into(),
            r#type: CustomFieldType::Number as i32,
            options: vec!["x".into()],
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let err = defs
        .create_custom_field(authorized(bad, &kilang.access))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&err),
        [
            "custom_field.key",
            "custom_field.label",
            "custom_field.options"
        ]
    );
    let mut unknown = motif();
    unknown.custom_field.as_mut().unwrap().r#type = 99;
    let err = defs
        .create_custom_field(authorized(unknown, &kilang.access))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["custom_field.type"]);

    defs.create_custom_field(authorized(motif(), &kilang.access))
        .await
        .unwrap();
    assert!(keys(&mut defs, &other.access).await.is_empty());
    let change = UpdateCustomFieldRequest {
        custom_field: Some(CustomField {
            key: "motif".into(),
            label: "Mine".into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["label".into()],
        }),
    };
    let err = defs
        .update_custom_field(authorized(change, &other.access))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = defs
        .delete_custom_field(authorized(
            DeleteCustomFieldRequest {
                key: "motif".into(),
                etag: String::new(),
            },
            &other.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // Keys are the workspace's own: the other one defines its own `motif`, even with the same
    // request_id, and the first keeps its definition.
    let theirs = defs
        .create_custom_field(authorized(motif(), &other.access))
        .await
        .unwrap()
        .into_inner()
        .custom_field
        .unwrap();
    assert_eq!(theirs.key, "motif");
    assert_eq!(keys(&mut defs, &kilang.access).await, ["motif"]);
}

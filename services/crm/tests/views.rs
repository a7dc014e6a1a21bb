//! Saved views over gRPC: a person's own and the workspace's shared ones, who may share and
//! change them, bad input named by field, another person's own view and another tenant's views
//! NOT_FOUND on every RPC, and a key that sees only the shared ones.

use crate::support;

use crm_proto::crm::iam::v1::saved_view_service_client::SavedViewServiceClient;
use crm_proto::crm::iam::v1::*;
use prost_types::FieldMask;
use support::iam::{api_key, fields, member, reason, register};
use support::{authorized, spawn};
use tonic::Code;

type Client = SavedViewServiceClient<tonic::transport::Channel>;

fn new_view(list: &str, name: &str, query: &str, shared: bool) -> CreateSavedViewRequest {
    CreateSavedViewRequest {
        saved_view: Some(SavedView {
            list: list.into(),
            name: name.into(),
            query: query.into(),
            shared,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

async fn create(views: &mut Client, token: &str, request: CreateSavedViewRequest) -> SavedView {
    views
        .create_saved_view(authorized(request, token))
        .await
        .unwrap()
        .into_inner()
        .saved_view
        .unwrap()
}

async fn names(views: &mut Client, token: &str, list: &str) -> Vec<String> {
    let request = ListSavedViewsRequest {
        list: list.into(),
        ..Default::default()
    };
    let page = views.list_saved_views(authorized(request, token)).await;
    page.unwrap()
        .into_inner()
        .saved_views
        .into_iter()
        .map(|v| v.name)
        .collect()
}

fn rename(view: &SavedView, name: &str) -> UpdateSavedViewRequest {
    UpdateSavedViewRequest {
        saved_view: Some(SavedView {
            id: view.id.clone(),
            name: name.into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["name".into()],
        }),
    }
}

fn delete(view: &SavedView) -> DeleteSavedViewRequest {
    DeleteSavedViewRequest {
        id: view.id.clone(),
        etag: String::new(),
    }
}

#[tokio::test]
async fn views_are_a_persons_own_or_shared_by_whoever_may_share_them() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let rep = member(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let manager = member(&server, &owner, "farah@kilang.example", &["sales_manager"]).await;
    let mut views = SavedViewServiceClient::new(server.channel.clone());

    let shared = create(
        &mut views,
        &owner.access,
        new_view(
            "customers",
            "Borong aktif",
            "?status=active&tag=borong",
            true,
        ),
    )
    .await;
    assert_eq!(
        (shared.query.as_str(), shared.shared, shared.etag.as_str()),
        ("status=active&tag=borong", true, "1"),
        "kept as the address says, without its ?"
    );
    let own = create(
        &mut views,
        &rep,
        new_view("customers", "Pelanggan saya", "owner=me&sort=name", false),
    )
    .await;
    let mine = create(
        &mut views,
        &owner.access,
        new_view("customers", "Siti's", "sort=name-desc", false),
    )
    .await;
    assert_eq!(
        names(&mut views, &rep, "customers").await,
        ["Borong aktif", "Pelanggan saya"]
    );
    assert_eq!(
        names(&mut views, &owner.access, "customers").await,
        ["Borong aktif", "Siti's"]
    );
    assert!(names(&mut views, &rep, "leads").await.is_empty());

    // A rep keeps his own; sharing, and changing what the workspace sees, is not his.
    let refused = views
        .create_saved_view(authorized(
            new_view("customers", "For everyone", "", true),
            &rep,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), reason(&refused).as_str()),
        (Code::PermissionDenied, "MISSING_PERMISSION")
    );
    for status in [
        views
            .update_saved_view(authorized(rename(&shared, "Mine now"), &rep))
            .await
            .unwrap_err(),
        views
            .delete_saved_view(authorized(delete(&shared), &rep))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    let renamed = views
        .update_saved_view(authorized(rename(&own, "Pelanggan Ali"), &rep))
        .await
        .unwrap()
        .into_inner()
        .saved_view
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.etag.as_str()),
        ("Pelanggan Ali", "2")
    );

    // Another person's own view does not exist for anyone else, the owner included.
    for status in [
        views
            .update_saved_view(authorized(rename(&own, "Taken"), &owner.access))
            .await
            .unwrap_err(),
        views
            .delete_saved_view(authorized(delete(&own), &manager))
            .await
            .unwrap_err(),
        views
            .update_saved_view(authorized(rename(&mine, "Taken"), &rep))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    }

    // A sales manager may share, and may change and delete what is shared.
    let unshared = views
        .update_saved_view(authorized(
            UpdateSavedViewRequest {
                saved_view: Some(SavedView {
                    id: shared.id.clone(),
                    shared: false,
                    etag: shared.etag.clone(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["shared".into()],
                }),
            },
            &manager,
        ))
        .await
        .unwrap()
        .into_inner()
        .saved_view
        .unwrap();
    assert!(!unshared.shared);
    assert_eq!(
        names(&mut views, &rep, "customers").await,
        ["Pelanggan Ali"]
    );
    // A stale etag is refused; the view is left as it was.
    let stale = views
        .delete_saved_view(authorized(
            DeleteSavedViewRequest {
                id: own.id.clone(),
                etag: own.etag.clone(),
            },
            &rep,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    views
        .delete_saved_view(authorized(delete(&own), &rep))
        .await
        .unwrap();
    assert!(names(&mut views, &rep, "customers").await.is_empty());
}

#[tokio::test]
async fn bad_views_are_named_by_field_and_a_name_is_kept_once_per_person_and_list() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let mut views = SavedViewServiceClient::new(server.channel.clone());
    let bad = views
        .create_saved_view(authorized(
            new_view("invoices", "", "tag=kain sutera", false),
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(fields(&bad), ["saved_view.list"]);
    let bad = views
        .create_saved_view(authorized(
            new_view("leads", " ", "tag=kain sutera", false),
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&bad), ["saved_view.name", "saved_view.query"]);
    let list = views
        .list_saved_views(authorized(ListSavedViewsRequest::default(), &owner.access))
        .await
        .unwrap_err();
    assert_eq!(fields(&list), ["list"]);

    let first = create(
        &mut views,
        &owner.access,
        new_view("leads", "Hot", "", false),
    )
    .await;
    let again = views
        .create_saved_view(authorized(
            new_view("leads", "Hot", "", false),
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    assert_eq!(fields(&again), ["saved_view.name"]);
    // The same name for another list is another view.
    create(
        &mut views,
        &owner.access,
        new_view("tasks", "Hot", "", false),
    )
    .await;
    // A retry with its request_id answers the first save.
    let mut retry = new_view("opportunities", "Big deals", "sort=amount", true);
    retry.request_id = "5f0c8a3e-views-retry".into();
    let a = create(&mut views, &owner.access, retry.clone()).await;
    let b = create(&mut views, &owner.access, retry).await;
    assert_eq!(a.id, b.id);
    assert_ne!(a.id, first.id);
}

#[tokio::test]
async fn another_tenants_views_are_not_found_on_every_rpc_and_keys_see_the_shared_ones() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let other = register(&server, "Other Shop", "owner@other.example").await;
    let mut views = SavedViewServiceClient::new(server.channel.clone());
    let shared = create(
        &mut views,
        &owner.access,
        new_view("customers", "Borong", "tag=borong", true),
    )
    .await;
    create(
        &mut views,
        &owner.access,
        new_view("customers", "Siti's", "", false),
    )
    .await;

    assert!(
        names(&mut views, &other.access, "customers")
            .await
            .is_empty()
    );
    for status in [
        views
            .update_saved_view(authorized(rename(&shared, "Ours"), &other.access))
            .await
            .unwrap_err(),
        views
            .delete_saved_view(authorized(delete(&shared), &other.access))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    }
    assert_eq!(
        names(&mut views, &owner.access, "customers").await,
        ["Borong", "Siti's"],
        "nothing of theirs changed"
    );

    // An integration's key: the shared views only, and none of its own.
    let key = api_key(&server, &owner.access, "viewer").await;
    assert_eq!(names(&mut views, &key, "customers").await, ["Borong"]);
    let refused = views
        .create_saved_view(authorized(new_view("customers", "Key's", "", false), &key))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

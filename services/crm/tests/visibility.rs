//! Which customers a sales rep reads is the workspace's choice: a new workspace shares every
//! customer (a rep changes only their own), an owner may narrow it to each rep's own, and the
//! change holds at once (the tokens issued before it are cut). A duplicate email names its
//! holder only to whoever may read it.

use crate::customers::{Client, create, metadata, person};
use crate::support;

use crm_proto::crm::customer::v1::*;
use crm_proto::crm::iam::v1::tenant_service_client::TenantServiceClient;
use crm_proto::crm::iam::v1::{
    CustomerVisibility, GetTenantRequest, Tenant, TenantSettings, UpdateTenantRequest,
};
use support::iam::{PASSWORD, api_key, login, member, reason, register};
use support::{TestServer, authorized, spawn};
use tonic::Code;

async fn tenant(server: &TestServer, owner: &str, id: &str) -> Tenant {
    TenantServiceClient::new(server.channel.clone())
        .get_tenant(authorized(GetTenantRequest { id: id.into() }, owner))
        .await
        .unwrap()
        .into_inner()
        .tenant
        .unwrap()
}

/// The owner sets who sees which customers (`None`: the settings sent without it).
async fn choose(
    server: &TestServer,
    owner: &str,
    id: &str,
    visibility: Option<CustomerVisibility>,
) {
    let current = tenant(server, owner, id).await;
    let settings = TenantSettings {
        customer_visibility: visibility.map_or(0, |v| v as i32),
        ..current.settings.unwrap()
    };
    TenantServiceClient::new(server.channel.clone())
        .update_tenant(authorized(
            UpdateTenantRequest {
                tenant: Some(Tenant {
                    id: id.into(),
                    settings: Some(settings),
                    etag: current.etag,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["settings".into()],
                }),
            },
            owner,
        ))
        .await
        .unwrap();
}

async fn get(c: &mut Client, token: &str, id: &str) -> Result<Customer, tonic::Status> {
    c.get_customer(authorized(GetCustomerRequest { id: id.into() }, token))
        .await
        .map(|r| r.into_inner().customer.unwrap())
}

async fn listed(c: &mut Client, token: &str) -> Vec<String> {
    c.list_customers(authorized(ListCustomersRequest::default(), token))
        .await
        .unwrap()
        .into_inner()
        .customers
        .into_iter()
        .map(|c| c.id)
        .collect()
}

#[tokio::test]
async fn reps_read_every_customer_or_only_their_own_as_the_workspace_chooses() {
    let server = spawn().await;
    let boss = register(&server, "Kilang Desa", "siti@kilang.example").await;
    let (owner, workspace) = (boss.access.clone(), boss.tenant.clone());
    assert_eq!(
        workspace.settings.as_ref().unwrap().customer_visibility,
        CustomerVisibility::Everyone as i32,
        "a new workspace shares its customers"
    );
    let rep = member(&server, &boss, "ali@kilang.example", &["sales_rep"]).await;
    let mut c = Client::new(server.channel.clone());
    let hotel = create(&mut c, &owner, person("Hotel", "Seri", "hotel@seri.my"))
        .await
        .unwrap();

    // Everyone: the rep finds the shop's customer, changes only their own, and a duplicate
    // names its holder.
    assert_eq!(get(&mut c, &rep, &hotel.id).await.unwrap().id, hotel.id);
    assert!(listed(&mut c, &rep).await.contains(&hotel.id));
    let mut change = hotel.clone();
    change.notes = "the rep's note".into();
    let refused = c
        .update_customer(authorized(
            UpdateCustomerRequest {
                customer: Some(change),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["notes".into()],
                }),
            },
            &rep,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(reason(&refused), "NOT_OWNER");
    let twin = create(&mut c, &rep, person("Hotel", "Lain", "hotel@seri.my"))
        .await
        .unwrap_err();
    assert_eq!(twin.code(), Code::AlreadyExists);
    assert_eq!(metadata(&twin, "customer_id"), hotel.id);
    let key = api_key(&server, &owner, "sales_rep").await;
    let mut by_key = tonic::Request::new(GetCustomerRequest {
        id: hotel.id.clone(),
    });
    by_key
        .metadata_mut()
        .insert("x-api-key", key.parse().unwrap());
    assert!(
        c.get_customer(by_key).await.is_ok(),
        "a rep's key reads as a rep does"
    );

    // Only their own: the rep's token is cut at once, and a new one reads only their own.
    choose(
        &server,
        &owner,
        &workspace.id,
        Some(CustomerVisibility::Own),
    )
    .await;
    let cut = get(&mut c, &rep, &hotel.id).await.unwrap_err();
    assert_eq!(
        (cut.code(), reason(&cut).as_str()),
        (Code::Unauthenticated, "TOKEN_REVOKED")
    );
    let rep = login(&server, &workspace.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap()
        .access_token;
    assert_eq!(
        get(&mut c, &rep, &hotel.id).await.unwrap_err().code(),
        Code::NotFound
    );
    assert!(!listed(&mut c, &rep).await.contains(&hotel.id));
    let twin = create(&mut c, &rep, person("Hotel", "Lain", "hotel@seri.my"))
        .await
        .unwrap_err();
    assert_eq!(twin.code(), Code::AlreadyExists);
    assert_eq!(
        metadata(&twin, "customer_id"),
        "",
        "the holder is not named to who may not read it"
    );
    let own = create(&mut c, &rep, person("Kedai", "Ali", "kedai@ali.my"))
        .await
        .unwrap();
    assert_eq!(get(&mut c, &rep, &own.id).await.unwrap().id, own.id);

    // Settings sent without it keep it; back to everyone, the rep reads the hotel again.
    let owner = login(&server, &workspace.slug, "siti@kilang.example", PASSWORD)
        .await
        .unwrap()
        .access_token;
    choose(&server, &owner, &workspace.id, None).await;
    let kept = tenant(&server, &owner, &workspace.id).await;
    assert_eq!(
        kept.settings.unwrap().customer_visibility,
        CustomerVisibility::Own as i32
    );
    assert_eq!(
        get(&mut c, &rep, &hotel.id).await.unwrap_err().code(),
        Code::NotFound,
        "an update that leaves it unset cuts nothing and widens nothing"
    );
    choose(
        &server,
        &owner,
        &workspace.id,
        Some(CustomerVisibility::Everyone),
    )
    .await;
    let rep = login(&server, &workspace.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap()
        .access_token;
    assert_eq!(get(&mut c, &rep, &hotel.id).await.unwrap().id, hotel.id);
}

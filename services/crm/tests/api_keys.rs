//! ApiKeyService through the generated clients against a served CRM (embedded SQLite): a key
//! calls with its role's permissions and nothing more, by either header; it is shown once and
//! stored as a hash; revoked, expired and unknown keys are refused; bad input by field; another
//! tenant's keys are NOT_FOUND; keys cannot make keys; the audit trail records them.

use crate::support;

use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use crm_proto::crm::customer::v1::{
    CreateCustomerRequest, Customer, CustomerType, IndividualDetails, ListCustomersRequest,
};
use crm_proto::crm::iam::v1::api_key_service_client::ApiKeyServiceClient;
use crm_proto::crm::iam::v1::audit_service_client::AuditServiceClient;
use crm_proto::crm::iam::v1::*;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crm_proto::crm::iam::v1::role_service_client::RoleServiceClient;
use support::iam::{Session, fields, invite, login, reason, register, spawn_postgres, unique_name};
use support::{TestServer, authorized, spawn};

type Keys = ApiKeyServiceClient<Channel>;

fn keys(server: &TestServer) -> Keys {
    ApiKeyServiceClient::new(server.channel.clone())
}

async fn owner(server: &TestServer) -> Session {
    register(server, &unique_name("Kilang"), "owner@kilang.example").await
}

async fn create_key(
    server: &TestServer,
    token: &str,
    name: &str,
    role_id: &str,
    expire_time: Option<prost_types::Timestamp>,
) -> Result<CreateApiKeyResponse, Status> {
    let request = CreateApiKeyRequest {
        name: name.into(),
        role_id: role_id.into(),
        expire_time,
        request_id: String::new(),
    };
    keys(server)
        .create_api_key(authorized(request, token))
        .await
        .map(|r| r.into_inner())
}

async fn list_customers(
    server: &TestServer,
    request: tonic::Request<ListCustomersRequest>,
) -> Result<(), Status> {
    CustomerServiceClient::new(server.channel.clone())
        .list_customers(request)
        .await
        .map(drop)
}

async fn create_customer(server: &TestServer, key: &str) -> Result<Customer, Status> {
    let customer = Customer {
        r#type: CustomerType::Individual as i32,
        individual: Some(IndividualDetails {
            given_name: "Siti".into(),
            family_name: "Aminah".into(),
        }),
        ..Default::default()
    };
    let request = CreateCustomerRequest {
        customer: Some(customer),
        request_id: String::new(),
    };
    CustomerServiceClient::new(server.channel.clone())
        .create_customer(authorized(request, key))
        .await
        .map(|r| r.into_inner().customer.unwrap())
}

fn with_api_key_header<T>(message: T, key: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-api-key", key.parse().unwrap());
    request
}

fn from_now(millis: i64) -> prost_types::Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    crm_core::api::timestamp(now + millis)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_calls_with_its_roles_permissions_and_nothing_more_by_either_header() {
    let server = spawn().await;
    let owner = owner(&server).await;
    let created = create_key(&server, &owner.access, "shop-sync", "viewer", None)
        .await
        .unwrap();
    let key = created.secret.clone();
    let record = created.api_key.unwrap();
    assert!(key.starts_with("kcrm_") && key.starts_with(&record.prefix));
    assert_eq!(
        (record.name.as_str(), record.role_id.as_str()),
        ("shop-sync", "viewer")
    );
    assert_eq!(record.created_by, owner.user.id);
    assert!(record.revoke_time.is_none() && record.expire_time.is_none());

    // Viewer: reads, but does not write.
    list_customers(&server, authorized(ListCustomersRequest::default(), &key))
        .await
        .unwrap();
    list_customers(
        &server,
        with_api_key_header(ListCustomersRequest::default(), &key),
    )
    .await
    .unwrap();
    let refused = create_customer(&server, &key).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // Shown once: reads carry the prefix, never the key.
    let got = keys(&server)
        .get_api_key(authorized(
            GetApiKeyRequest {
                id: record.id.clone(),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .api_key
        .unwrap();
    assert_eq!(got.prefix, record.prefix);
    assert!(got.last_use_time.is_some(), "the calls above were recorded");
    let listed = keys(&server)
        .list_api_keys(authorized(ListApiKeysRequest::default(), &owner.access))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.api_keys.len(), 1);
    assert!(
        !format!("{listed:?}").contains(&key[20..]),
        "no secret in a list"
    );

    // A key acting as sales_rep writes, and what it creates is audited as the key's doing.
    let rep = create_key(&server, &owner.access, "lead-form", "sales_rep", None)
        .await
        .unwrap();
    let customer = create_customer(&server, &rep.secret).await.unwrap();
    assert_eq!(
        customer.owner_id,
        rep.api_key.unwrap().id,
        "a key is its own subject"
    );

    let audit = AuditServiceClient::new(server.channel.clone())
        .list_audit_events(authorized(
            ListAuditEventsRequest {
                kinds: vec![AuditEventKind::ApiKeyChanged as i32],
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .audit_events;
    assert_eq!(audit.len(), 2, "both creations: {audit:?}");
    assert!(audit.iter().all(|e| e.actor_id == owner.user.id));
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_expired_and_unknown_keys_are_refused() {
    let server = spawn().await;
    let owner = owner(&server).await;
    let created = create_key(&server, &owner.access, "old-sync", "viewer", None)
        .await
        .unwrap();
    let key = created.secret;
    let id = created.api_key.unwrap().id;
    list_customers(&server, authorized(ListCustomersRequest::default(), &key))
        .await
        .unwrap();

    let revoked = keys(&server)
        .revoke_api_key(authorized(
            RevokeApiKeyRequest { id: id.clone() },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .api_key
        .unwrap();
    assert!(revoked.revoke_time.is_some());
    let refused = list_customers(&server, authorized(ListCustomersRequest::default(), &key))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(reason(&refused), "INVALID_API_KEY");
    // Again: nothing changes.
    let again = keys(&server)
        .revoke_api_key(authorized(RevokeApiKeyRequest { id }, &owner.access))
        .await
        .unwrap()
        .into_inner()
        .api_key
        .unwrap();
    assert_eq!(again.revoke_time, revoked.revoke_time);

    // A key of the right shape nobody issued, and one of another tenant's shape.
    let flipped = if &key[10..11] == "A" { "B" } else { "A" };
    let forged = format!("{}{flipped}{}", &key[..10], &key[11..]);
    assert_ne!(forged, key);
    let refused = list_customers(
        &server,
        authorized(ListCustomersRequest::default(), &forged),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    // Expiry: works until then, refused after.
    let brief = create_key(
        &server,
        &owner.access,
        "brief",
        "viewer",
        Some(from_now(1_000)),
    )
    .await
    .unwrap()
    .secret;
    list_customers(&server, authorized(ListCustomersRequest::default(), &brief))
        .await
        .unwrap();
    let refused = crm_core::testing::eventually("the key expires", || async {
        list_customers(&server, authorized(ListCustomersRequest::default(), &brief))
            .await
            .err()
    })
    .await;
    assert_eq!(refused.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_other_tenants_and_who_may_manage_keys() {
    let server = spawn().await;
    let owner = owner(&server).await;
    let err = create_key(&server, &owner.access, " ", "", Some(from_now(-60_000)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(fields(&err), ["name", "role_id", "expire_time"]);
    let err = create_key(&server, &owner.access, "sync", "no_such_role", None)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["role_id"]);
    let err = create_key(&server, &owner.access, "sync", "owner", None)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), fields(&err)),
        (Code::InvalidArgument, vec!["role_id".to_owned()])
    );
    let err = keys(&server)
        .get_api_key(authorized(
            GetApiKeyRequest {
                id: "not-a-uuid".into(),
            },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["id"]);

    // Another tenant's key is NOT_FOUND to read or revoke, and absent from lists.
    let other = register(&server, &unique_name("Songket"), "owner@songket.example").await;
    let theirs = create_key(&server, &other.access, "theirs", "viewer", None)
        .await
        .unwrap();
    let their_id = theirs.api_key.unwrap().id;
    let err = keys(&server)
        .get_api_key(authorized(
            GetApiKeyRequest {
                id: their_id.clone(),
            },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = keys(&server)
        .revoke_api_key(authorized(
            RevokeApiKeyRequest { id: their_id },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let listed = keys(&server)
        .list_api_keys(authorized(ListApiKeysRequest::default(), &owner.access))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.api_keys.is_empty());
    // Their key says which tenant it is of: sending ours alongside is refused.
    let mut request = authorized(ListCustomersRequest::default(), &theirs.secret);
    request
        .metadata_mut()
        .insert("x-tenant-id", owner.tenant.id.parse().unwrap());
    let err = list_customers(&server, request).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // A viewer may not manage keys; a key may not make keys, whatever its role.
    invite(&server, &owner, "viewer@kilang.example", &["viewer"]).await;
    let viewer = login(
        &server,
        &owner.tenant.slug,
        "viewer@kilang.example",
        support::iam::PASSWORD,
    )
    .await
    .unwrap()
    .access_token;
    let err = create_key(&server, &viewer, "sync", "viewer", None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let admin_key = create_key(&server, &owner.access, "admin-tool", "admin", None)
        .await
        .unwrap()
        .secret;
    let err = create_key(&server, &admin_key, "minted", "viewer", None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs DATABASE_URL (PostgreSQL) and REDIS_URL: run with --include-ignored"]
async fn keys_work_on_postgres_under_row_level_security() {
    let (server, _keys) = spawn_postgres().await;
    let owner = owner(&server).await;
    let created = create_key(&server, &owner.access, "pg-sync", "viewer", None)
        .await
        .unwrap();
    let roles = |token: &str| {
        let mut client = RoleServiceClient::new(server.channel.clone());
        let request = authorized(ListRolesRequest::default(), token);
        async move { client.list_roles(request).await }
    };
    roles(&created.secret).await.unwrap();
    keys(&server)
        .revoke_api_key(authorized(
            RevokeApiKeyRequest {
                id: created.api_key.unwrap().id,
            },
            &owner.access,
        ))
        .await
        .unwrap();
    let err = roles(&created.secret).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

//! Service identity through the generated clients against a served CRM: IAM issues the CRM's own
//! services short-lived tokens (OAuth2 client credentials) for one callee and one tenant; a
//! callee takes them only on the methods it lets services call, people never reach internal
//! methods, and the client side renews a token before it expires.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use crm_core::TenantId;
use crm_core::clock::ManualClock;
use crm_core::config::Secret;
use crm_core::service_auth::ServiceTokens;
use crm_iam::domain::service_account::{hash_secret, new_secret};
use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use crm_proto::crm::customer::v1::*;
use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
use crm_proto::crm::iam::v1::directory_service_client::DirectoryServiceClient;
use crm_proto::crm::iam::v1::user_service_client::UserServiceClient;
use crm_proto::crm::iam::v1::*;
use tonic::{Code, Status};

use support::iam::{api_key, fields, reason, register};
use support::{TestServer, authorized, spawn_with};

/// The CRM with a `sales` service account whose secret is returned.
async fn spawn_with_sales() -> (TestServer, String) {
    let secret = new_secret().unwrap();
    let hash = hash_secret(&secret);
    let server = spawn_with(move |config| {
        crm_iam::config::IamConfig {
            service_accounts: [("sales".to_owned(), hash)].into(),
            // The rest as the test server has it (sign-ups unthrottled).
            ..crm_iam::config::IamConfig::of(config).unwrap()
        }
        .set(config);
    })
    .await;
    (server, secret)
}

async fn issue(
    server: &TestServer,
    client: &str,
    secret: &str,
    audience: &str,
    tenant: &str,
) -> Result<IssueServiceTokenResponse, Status> {
    AuthServiceClient::new(server.channel.clone())
        .issue_service_token(IssueServiceTokenRequest {
            client_id: client.into(),
            client_secret: secret.into(),
            audience: audience.into(),
            tenant_id: tenant.into(),
        })
        .await
        .map(|r| r.into_inner())
}

fn customers(server: &TestServer) -> CustomerServiceClient<tonic::transport::Channel> {
    CustomerServiceClient::new(server.channel.clone())
}

async fn create_customer(server: &TestServer, token: &str, name: &str) -> Result<Customer, Status> {
    let customer = Customer {
        r#type: CustomerType::Business as i32,
        business: Some(BusinessDetails {
            legal_name: name.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let request = CreateCustomerRequest {
        customer: Some(customer),
        request_id: String::new(),
    };
    customers(server)
        .create_customer(authorized(request, token))
        .await
        .map(|r| r.into_inner().customer.unwrap())
}

async fn get_customer(server: &TestServer, token: &str, id: &str) -> Result<Customer, Status> {
    customers(server)
        .get_customer(authorized(GetCustomerRequest { id: id.into() }, token))
        .await
        .map(|r| r.into_inner().customer.unwrap())
}

async fn lookup(
    server: &TestServer,
    token: &str,
    ids: &[&str],
) -> Result<Vec<DirectoryUser>, Status> {
    let request = LookupUsersRequest {
        user_ids: ids.iter().map(|i| i.to_string()).collect(),
    };
    DirectoryServiceClient::new(server.channel.clone())
        .lookup_users(authorized(request, token))
        .await
        .map(|r| r.into_inner().users)
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_issues_a_service_token_only_to_a_known_service_for_its_callees() {
    let (server, secret) = spawn_with_sales().await;
    let a = register(&server, "Kilang", "owner@kilang.example").await;
    let tenant = a.tenant.id.as_str();

    let err = issue(&server, "sales", "ksvc_wrong", "crm.customer", tenant)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::Unauthenticated, "INVALID_CLIENT")
    );
    // A service with an account in code but none configured, and one with neither.
    for client in ["notification", "billing"] {
        let err = issue(&server, client, &secret, "crm.iam", tenant)
            .await
            .unwrap_err();
        assert_eq!(reason(&err), "INVALID_CLIENT", "{client}");
    }
    let err = issue(&server, "sales", &secret, "crm.notification", tenant)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "AUDIENCE_NOT_ALLOWED")
    );
    let err = issue(
        &server,
        "sales",
        &secret,
        "crm.customer",
        &TenantId::new().to_string(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = issue(&server, "sales", &secret, "crm.customer", "nope")
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["tenant_id"]);

    let issued = issue(&server, "sales", &secret, "crm.customer", tenant)
        .await
        .unwrap();
    assert_eq!(issued.token_type, "Bearer");
    let expires = crm_core::api::millis(issued.expire_time.as_ref().unwrap());
    let now = chrono::Utc::now().timestamp_millis();
    assert!(
        (now + 240_000..=now + 301_000).contains(&expires),
        "five minutes: {expires} vs {now}"
    );
    // The header says what it is.
    let header = jsonwebtoken::decode_header(&issued.access_token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("svc+jwt"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_token_calls_what_its_callee_lets_services_call_in_its_tenant_only() {
    let (server, secret) = spawn_with_sales().await;
    let a = register(&server, "Kilang", "owner@kilang.example").await;
    let b = register(&server, "Other", "owner@other.example").await;
    let to_customers = issue(&server, "sales", &secret, "crm.customer", &a.tenant.id)
        .await
        .unwrap()
        .access_token;

    // What the saga's recovery does: make the customer, read it back.
    let made = create_customer(&server, &to_customers, "Kedai Batik Ali")
        .await
        .unwrap();
    let read = get_customer(&server, &to_customers, &made.id)
        .await
        .unwrap();
    assert_eq!(read.display_name, "Kedai Batik Ali");
    assert_eq!(
        get_customer(&server, &a.access, &made.id).await.unwrap().id,
        made.id,
        "in the tenant the token names"
    );
    // Methods that serve only people refuse it.
    let err = customers(&server)
        .list_customers(authorized(ListCustomersRequest::default(), &to_customers))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "USER_ONLY")
    );
    let err = customers(&server)
        .update_customer(authorized(
            UpdateCustomerRequest {
                customer: Some(Customer {
                    id: made.id.clone(),
                    notes: "changed by a service".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["notes".into()],
                }),
            },
            &to_customers,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "USER_ONLY");
    // Another callee refuses it: its audience is the customer context.
    let err = lookup(&server, &to_customers, &[&a.user.id])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = UserServiceClient::new(server.channel.clone())
        .list_users(authorized(ListUsersRequest::default(), &to_customers))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // Another tenant's customer is not found with a token for this one.
    let b_customer = create_customer(&server, &b.access, "Batik Pahang")
        .await
        .unwrap();
    let err = get_customer(&server, &to_customers, &b_customer.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // The directory is internal: services with `directory.read` only.
    let to_iam = issue(&server, "sales", &secret, "crm.iam", &a.tenant.id)
        .await
        .unwrap()
        .access_token;
    let users = lookup(
        &server,
        &to_iam,
        &[&a.user.id, &b.user.id, &uuid::Uuid::now_v7().to_string()],
    )
    .await
    .unwrap();
    assert_eq!(users.len(), 1, "only this tenant's, unknown ids left out");
    assert_eq!(users[0].email, "owner@kilang.example");
    let err = lookup(&server, &to_iam, &["not-an-id"]).await.unwrap_err();
    assert_eq!(fields(&err), ["user_ids"]);
    let too_many: Vec<String> = (0..101).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    let err = lookup(&server, &to_iam, &too_many).await.unwrap_err();
    assert_eq!(fields(&err), ["user_ids"]);
    let err = lookup(&server, &a.access, &[&a.user.id]).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "INTERNAL_ONLY")
    );
    let key = api_key(&server, &a.access, "admin").await;
    let err = lookup(&server, &key, &[&a.user.id]).await.unwrap_err();
    assert_eq!(
        reason(&err),
        "INTERNAL_ONLY",
        "an API key is a person's kind of caller"
    );
    let err = UserServiceClient::new(server.channel.clone())
        .list_users(authorized(ListUsersRequest::default(), &to_iam))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "USER_ONLY");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_renews_its_token_before_it_expires_and_no_call_fails() {
    let (server, secret) = spawn_with_sales().await;
    let a = register(&server, "Kilang", "owner@kilang.example").await;
    let tenant = TenantId::parse(&a.tenant.id).unwrap();
    let clock = ManualClock::at(chrono::Utc::now().timestamp_millis());
    let tokens = ServiceTokens::new(
        sales_to_iam(&server),
        "sales",
        Secret::new(secret),
        Arc::new(clock.clone()),
    );
    let made = {
        let token = tokens.token(tenant, "crm.customer").await.unwrap();
        create_customer(&server, &token, "Kedai Batik Ali")
            .await
            .unwrap()
    };
    let first = tokens.token(tenant, "crm.customer").await.unwrap();
    let mut seen = vec![first.clone()];
    // Every 30 s of the service's clock, a call: the token is the same until a minute before its
    // five minutes are up, then a new one, and every call goes through.
    for _ in 0..12 {
        clock.advance(Duration::from_secs(30));
        let request = tokens
            .authorize(
                GetCustomerRequest {
                    id: made.id.clone(),
                },
                tenant,
                "crm.customer",
            )
            .await
            .unwrap();
        customers(&server)
            .get_customer(request)
            .await
            .expect("no call fails");
        let now = tokens.token(tenant, "crm.customer").await.unwrap();
        if seen.last() != Some(&now) {
            seen.push(now);
        }
    }
    assert!(seen.len() >= 2, "renewed at least once in six minutes");
    // The renewal came from IAM: another token, not the cached one.
    assert_ne!(seen[0], seen[1]);
    // Tokens are per callee: the IAM one is another.
    let to_iam = tokens.token(tenant, "crm.iam").await.unwrap();
    assert!(!seen.contains(&to_iam));
    // A wrong secret is IAM's answer, passed on.
    let wrong = ServiceTokens::new(
        sales_to_iam(&server),
        "sales",
        Secret::new("ksvc_wrong"),
        Arc::new(clock.clone()),
    );
    let err = wrong.token(tenant, "crm.customer").await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

/// Sales' way to IAM at `server`.
fn sales_to_iam(server: &support::TestServer) -> crm_core::upstream::Balanced {
    crm_core::upstream::Balanced::connect(
        "sales",
        "iam",
        "sales.iam_endpoint",
        &format!("http://{}", server.addr),
    )
    .unwrap()
}

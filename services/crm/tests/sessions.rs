//! Sessions through the generated clients against a served CRM: each sign-in is a session its
//! user can list and end; admins can for anyone of their tenant, others only their own; the
//! tenant's idle timeout and maximum lifetime bound every refresh token, with OWASP's defaults.

use crate::support;

use crm_proto::crm::iam::v1::tenant_service_client::TenantServiceClient;
use crm_proto::crm::iam::v1::user_service_client::UserServiceClient;
use crm_proto::crm::iam::v1::*;
use prost_types::FieldMask;
use tonic::Code;

use support::iam::{PASSWORD, invite, login, refresh, register, unique_name};
use support::{TestServer, authorized, spawn};

async fn sessions(
    server: &TestServer,
    token: &str,
    user: &str,
) -> Result<Vec<UserSession>, tonic::Status> {
    UserServiceClient::new(server.channel.clone())
        .list_sessions(authorized(
            ListSessionsRequest {
                user_id: user.into(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().sessions)
}

async fn revoke(
    server: &TestServer,
    token: &str,
    user: &str,
    session: &str,
) -> Result<(), tonic::Status> {
    let request = RevokeSessionRequest {
        user_id: user.into(),
        session_id: session.into(),
    };
    UserServiceClient::new(server.channel.clone())
        .revoke_session(authorized(request, token))
        .await
        .map(drop)
}

/// The owner signs in again: the tokens, and the session that sign-in began.
async fn sign_in(
    server: &TestServer,
    owner: &support::iam::Session,
) -> (LoginResponse, UserSession) {
    let signed_in = login(server, &owner.tenant.slug, "owner@kilang.example", PASSWORD)
        .await
        .unwrap();
    let listed = sessions(server, &signed_in.access_token, &owner.user.id)
        .await
        .unwrap();
    let newest = listed
        .into_iter()
        .max_by_key(|s| millis(&s.start_time))
        .unwrap();
    (signed_in, newest)
}

fn millis(t: &Option<prost_types::Timestamp>) -> i64 {
    crm_core::api::millis(t.as_ref().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_ins_are_sessions_their_users_and_admins_list_and_end() {
    let server = spawn().await;
    let owner = register(&server, &unique_name("Kilang"), "owner@kilang.example").await;
    let slug = owner.tenant.slug.clone();
    let ali = invite(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let phone = login(&server, &slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap();
    let laptop = login(&server, &slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap();

    let listed = sessions(&server, &phone.access_token, &ali.id)
        .await
        .unwrap();
    assert_eq!(listed.len(), 2, "two sign-ins");
    assert!(listed.iter().all(|s| s.user_id == ali.id));
    // A refresh stays in its session, and the session keeps its sign-in time.
    let before = listed.clone();
    let laptop = refresh(&server, &laptop.refresh_token).await.unwrap();
    let after = sessions(&server, &laptop.access_token, &ali.id)
        .await
        .unwrap();
    assert_eq!(after.len(), 2);
    let mut ids: Vec<&str> = after.iter().map(|s| s.id.as_str()).collect();
    let mut before_ids: Vec<&str> = before.iter().map(|s| s.id.as_str()).collect();
    ids.sort();
    before_ids.sort();
    assert_eq!(ids, before_ids);
    for s in &after {
        let was = before.iter().find(|b| b.id == s.id).unwrap();
        assert_eq!(s.start_time, was.start_time);
    }

    // Ali ends the phone's session: its refresh token stops working, the laptop's does not.
    // The phone signed in first (each sign-in hashes a password: they are milliseconds apart).
    let phone_session = after
        .iter()
        .min_by_key(|s| millis(&s.start_time))
        .map(|s| s.id.clone())
        .unwrap();
    revoke(&server, &laptop.access_token, &ali.id, &phone_session)
        .await
        .unwrap();
    let err = refresh(&server, &phone.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    refresh(&server, &laptop.refresh_token).await.unwrap();
    assert_eq!(
        revoke(&server, &laptop.access_token, &ali.id, &phone_session)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound,
        "an ended session is gone"
    );

    // A sales rep sees only their own; the owner sees anyone's in the tenant; another
    // tenant's user is NOT_FOUND; a bad id is a field violation.
    let err = sessions(&server, &laptop.access_token, &owner.user.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(
        sessions(&server, &owner.access, &ali.id)
            .await
            .unwrap()
            .len(),
        1
    );
    let other = register(&server, &unique_name("Songket"), "owner@songket.example").await;
    let err = sessions(&server, &owner.access, &other.user.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = revoke(&server, &owner.access, &other.user.id, &other.user.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = sessions(&server, &owner.access, "nobody")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tenants_idle_timeout_and_maximum_lifetime_bound_every_refresh_token() {
    let server = spawn().await;
    let owner = register(&server, &unique_name("Kilang"), "owner@kilang.example").await;
    // OWASP's defaults: 30 minutes idle, 8 hours at most.
    let (signed_in, newest) = sign_in(&server, &owner).await;
    let idle = millis(&newest.expire_time) - millis(&newest.last_active_time);
    assert_eq!(idle, 30 * 60_000);
    assert_eq!(
        millis(&signed_in.refresh_token_expire_time),
        millis(&newest.expire_time)
    );

    // The tenant allows a week idle but only 2 hours in all: the 2 hours bound.
    let mut tenants = TenantServiceClient::new(server.channel.clone());
    let mut tenant = owner.tenant.clone();
    let mut settings = tenant.settings.clone().unwrap();
    settings.session_idle_timeout_minutes = 7 * 24 * 60;
    settings.session_max_lifetime_hours = 2;
    tenant.settings = Some(settings.clone());
    tenants
        .update_tenant(authorized(
            UpdateTenantRequest {
                tenant: Some(tenant.clone()),
                update_mask: Some(FieldMask {
                    paths: vec!["settings".into()],
                }),
            },
            &owner.access,
        ))
        .await
        .unwrap();
    let (signed_in, newest) = sign_in(&server, &owner).await;
    assert_eq!(
        millis(&newest.expire_time) - millis(&newest.start_time),
        2 * 3_600_000
    );
    let refreshed = refresh(&server, &signed_in.refresh_token).await.unwrap();
    assert_eq!(
        millis(&refreshed.refresh_token_expire_time),
        millis(&newest.expire_time),
        "a refresh never outlives the session"
    );

    // Out of range: named by field.
    settings.session_idle_timeout_minutes = 1;
    settings.session_max_lifetime_hours = 100_000;
    tenant.settings = Some(settings);
    tenant.etag = String::new();
    let err = tenants
        .update_tenant(authorized(
            UpdateTenantRequest {
                tenant: Some(tenant),
                update_mask: Some(FieldMask {
                    paths: vec!["settings".into()],
                }),
            },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("session_idle_timeout_minutes"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("session_max_lifetime_hours"),
        "{}",
        err.message()
    );
}

//! Languages: a workspace speaks the one its owner signed up in, and each person may choose
//! their own (read by the console and by the notification context), which nobody else changes
//! for them.

use crate::support;

use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
use crm_proto::crm::iam::v1::tenant_service_client::TenantServiceClient;
use crm_proto::crm::iam::v1::user_service_client::UserServiceClient;
use crm_proto::crm::iam::v1::*;
use prost_types::FieldMask;
use support::iam::{PASSWORD, Session, invite, login, register};
use support::{TestServer, authorized, spawn};
use tonic::{Code, Status};
use tonic_types::StatusExt;

fn fields(err: &Status) -> Vec<String> {
    err.get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

async fn sign_up(server: &TestServer, locale: &str) -> Result<RegisterResponse, Status> {
    AuthServiceClient::new(server.channel.clone())
        .register(RegisterRequest {
            tenant_name: "Batik Tanjung".into(),
            email: "mei@batiktanjung.my".into(),
            password: PASSWORD.into(),
            display_name: "Mei Ling".into(),
            locale: locale.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Sets `user`'s own language as `who`.
async fn speak(
    server: &TestServer,
    who: &Session,
    user: &User,
    locale: &str,
) -> Result<User, Status> {
    UserServiceClient::new(server.channel.clone())
        .update_user(authorized(
            UpdateUserRequest {
                user: Some(User {
                    id: user.id.clone(),
                    locale: locale.into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["locale".into()],
                }),
            },
            &who.access,
        ))
        .await
        .map(|r| r.into_inner().user.unwrap())
}

#[tokio::test]
async fn a_workspace_speaks_the_language_it_was_signed_up_in() {
    let server = spawn().await;
    let bad = sign_up(&server, "not a language").await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(fields(&bad), ["locale"]);

    let english = sign_up(&server, "en-my").await.unwrap();
    let tenant = TenantServiceClient::new(server.channel.clone())
        .get_tenant(authorized(
            GetTenantRequest {
                id: english.tenant.unwrap().id,
            },
            &english.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .tenant
        .unwrap();
    assert_eq!(
        tenant.settings.unwrap().locale,
        "en-MY",
        "kept in its canonical form"
    );

    // Signed up with none: the default, Malay.
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    assert_eq!(owner.tenant.settings.unwrap().locale, "ms-MY");
}

#[tokio::test]
async fn each_person_chooses_their_own_language_and_only_their_own() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let ali = invite(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let ali_session = login(&server, &owner.tenant.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap();
    let ali_in = Session {
        access: ali_session.access_token.clone(),
        refresh: ali_session.refresh_token.clone(),
        user: ali.clone(),
        tenant: owner.tenant.clone(),
    };
    assert_eq!(
        ali.locale, "",
        "nobody has chosen one at first: the workspace's"
    );

    // A rep sets his own, and reads it back.
    let chosen = speak(&server, &ali_in, &ali, "en-gb").await.unwrap();
    assert_eq!(chosen.locale, "en-GB");
    let read = UserServiceClient::new(server.channel.clone())
        .get_user(authorized(
            GetUserRequest { id: ali.id.clone() },
            &ali_in.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(read.locale, "en-GB");

    // Not a language: refused beside its field, and nothing changed.
    let bad = speak(&server, &ali_in, &ali, "xx-nonsense-language")
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(fields(&bad), ["user.locale"]);

    // Not his to choose for the owner.
    let side_door = speak(&server, &ali_in, &owner.user, "en-MY")
        .await
        .unwrap_err();
    assert_eq!(side_door.code(), Code::PermissionDenied);

    // Empty: the workspace's again.
    let cleared = speak(&server, &ali_in, &ali, "").await.unwrap();
    assert_eq!(cleared.locale, "");

    // Another tenant's person is not there to change.
    let other = register(&server, "Tanjung", "mei@tanjung.example").await;
    let elsewhere = speak(&server, &other, &ali, "ms-MY").await.unwrap_err();
    assert_eq!(elsewhere.code(), Code::NotFound);
}

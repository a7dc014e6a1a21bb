//! Invitations through the served CRM: the owner invites over gRPC, the email reaches a real
//! SMTP server naming the workspace and the inviter with a one-time link, the link is read and
//! accepted over REST and gRPC without a token, and the person signs in with the password they
//! chose. Nobody reads the link where the workspace's notifications are listed; another
//! workspace's owner cannot resend or withdraw it.

use crate::support;

use crm_core::testing::eventually;
use crm_notification::config::NotificationConfig;
use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
use crm_proto::crm::iam::v1::user_service_client::UserServiceClient;
use crm_proto::crm::iam::v1::*;
use crm_proto::crm::notification::v1::ListNotificationsRequest;
use crm_proto::crm::notification::v1::notification_service_client::NotificationServiceClient;
use tonic::Code;

use support::iam::{login, reason, register};
use support::smtp::SmtpSink;
use support::{TestServer, authorized, http1, spawn_with};

/// The message as it reads, its quoted-printable soft line breaks and `=3D` undone.
fn decoded(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=3D", "=")
}

/// The token of the invitation link in `mail`.
fn token_in(mail: &str) -> String {
    let at = mail
        .find("#invitation/")
        .unwrap_or_else(|| panic!("no link in {mail}"))
        + "#invitation/".len();
    mail[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

/// A JSON POST to the REST gateway without a token: its status and body.
async fn post(
    server: &TestServer,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let request = http::Request::post(format!("http://{}{path}", server.addr))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .unwrap();
    let (parts, body) = http1(server.addr, request).await;
    (
        parts.status.as_u16(),
        serde_json::from_slice(&body).unwrap_or_default(),
    )
}

fn invite_request(email: &str, roles: &[&str]) -> InviteUserRequest {
    InviteUserRequest {
        user: Some(User {
            email: email.into(),
            display_name: "Ali bin Hassan".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            ..User::default()
        }),
        request_id: uuid::Uuid::now_v7().to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invitation_email_names_the_workspace_and_inviter_and_its_link_joins_once() {
    let smtp = SmtpSink::start().await;
    let port = smtp.port;
    let server = spawn_with(move |config| {
        NotificationConfig {
            smtp_url: Some(crm_core::config::Secret::new(format!(
                "smtp://127.0.0.1:{port}"
            ))),
            ..NotificationConfig::default()
        }
        .set(config)
    })
    .await;
    let owner = register(&server, "Kilang Desa Murni Batik", "siti@kilangbatik.my").await;
    let mut users = UserServiceClient::new(server.channel.clone());
    let invited = users
        .invite_user(authorized(
            invite_request("ali@kilangbatik.my", &["sales_rep"]),
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(invited.status, UserStatus::Invited as i32);
    let pending = invited.invitation.clone().expect("its invitation is shown");
    assert_eq!(
        pending.expire_time.unwrap().seconds - pending.send_time.unwrap().seconds,
        72 * 3600
    );
    assert_eq!(pending.inviter_user_id, owner.user.id);

    let mail = decoded(&smtp.received("To: ali@kilangbatik.my").await);
    assert!(
        mail.contains("Siti Aminah invited you to Kilang Desa Murni Batik")
            || mail.contains("Siti Aminah menjemput anda ke Kilang Desa Murni Batik"),
        "{mail}"
    );
    assert!(mail.contains("sales rep"), "the role in words: {mail}");
    let token = token_in(&mail);
    assert!(token.starts_with("inv_"), "{token}");

    // The owner lists the workspace's notifications: the invitation is there, its link is not.
    let mut notices = NotificationServiceClient::new(server.channel.clone());
    let listed = eventually("the invitation is recorded", async || {
        notices
            .list_notifications(authorized(
                ListNotificationsRequest {
                    recipient_user_id: invited.id.clone(),
                    ..ListNotificationsRequest::default()
                },
                &owner.access,
            ))
            .await
            .unwrap()
            .into_inner()
            .notifications
            .into_iter()
            .find(|n| n.recipient_address == "ali@kilangbatik.my")
    })
    .await;
    assert!(!listed.body.contains("inv_"), "{}", listed.body);

    // Read over REST, without a token.
    let (status, seen) = post(
        &server,
        "/api/v1/auth/invitation:get",
        serde_json::json!({ "token": token }),
    )
    .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["workspace"]["name"], "Kilang Desa Murni Batik");
    assert_eq!(seen["inviterName"], "Siti Aminah");
    assert_eq!(seen["email"], "ali@kilangbatik.my");
    assert_eq!(seen["roles"][0], "sales_rep");

    // Not a member yet: no password signs in.
    let err = login(
        &server,
        &owner.tenant.slug,
        "ali@kilangbatik.my",
        "kain sarung songket",
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let mut auth = AuthServiceClient::new(server.channel.clone());
    let err = auth
        .accept_invitation(AcceptInvitationRequest {
            token: token.clone(),
            password: "short".into(),
            display_name: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let joined = auth
        .accept_invitation(AcceptInvitationRequest {
            token: token.clone(),
            password: "kain sarung songket".into(),
            display_name: "Ali".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(joined.workspace.unwrap().slug, owner.tenant.slug);
    let user = joined.user.unwrap();
    assert_eq!(
        (user.status, user.display_name.as_str()),
        (UserStatus::Active as i32, "Ali")
    );
    let session = login(
        &server,
        &owner.tenant.slug,
        "ali@kilangbatik.my",
        "kain sarung songket",
    )
    .await
    .unwrap();
    assert_eq!(session.user.unwrap().id, invited.id);

    // Once.
    let err = auth
        .accept_invitation(AcceptInvitationRequest {
            token: token.clone(),
            password: "another good password".into(),
            display_name: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::NotFound, "INVITATION_INVALID")
    );
    let (status, _) = post(
        &server,
        "/api/v1/auth/invitation:get",
        serde_json::json!({ "token": token }),
    )
    .await;
    assert_eq!(status, 404);
    // No welcome on top of the invitation.
    assert_eq!(
        smtp.everything().matches("To: ali@kilangbatik.my").count(),
        1,
        "one email to Ali"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_workspaces_managers_resend_or_withdraw_and_a_withdrawn_link_is_dead() {
    let server = spawn_with(|_| {}).await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let other = register(&server, "Tanjung", "mei@tanjung.example").await;
    let mut users = UserServiceClient::new(server.channel.clone());
    let ali = users
        .invite_user(authorized(
            invite_request("ali@kilang.example", &["viewer"]),
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    let rep = support::iam::member(&server, &owner, "rep@kilang.example", &["sales_rep"]).await;
    for (token, code) in [
        (&other.access, Code::NotFound),
        (&rep, Code::PermissionDenied),
    ] {
        let err = users
            .resend_invitation(authorized(
                ResendInvitationRequest {
                    user_id: ali.id.clone(),
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{err:?}");
        let err = users
            .revoke_invitation(authorized(
                RevokeInvitationRequest {
                    user_id: ali.id.clone(),
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{err:?}");
    }
    let err = users
        .invite_user(authorized(
            invite_request("x@kilang.example", &["viewer"]),
            &rep,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // Listed as invited, with its invitation.
    let listed = users
        .list_users(authorized(
            ListUsersRequest {
                status: UserStatus::Invited as i32,
                ..ListUsersRequest::default()
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, ali.id);
    assert!(listed[0].invitation.is_some());
    let resent = users
        .resend_invitation(authorized(
            ResendInvitationRequest {
                user_id: ali.id.clone(),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(resent.invitation.unwrap().send_count, 2);
    users
        .revoke_invitation(authorized(
            RevokeInvitationRequest {
                user_id: ali.id.clone(),
            },
            &owner.access,
        ))
        .await
        .unwrap();
    let err = users
        .get_user(authorized(
            GetUserRequest { id: ali.id.clone() },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // A link that names nothing is the one answer, never a hint.
    let (status, body) = post(
        &server,
        "/api/v1/auth/invitation:get",
        serde_json::json!({ "token": format!("inv_{}_{}", owner.tenant.id.replace('-', ""), "A".repeat(43)) }),
    )
    .await;
    assert_eq!(status, 404, "{body}");
}

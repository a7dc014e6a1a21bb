//! Signing in without the workspace's slug, over gRPC and REST as the console and scripts call
//! Login: by email alone, by the business's name, choosing among several workspaces; failures
//! on each workspace's trail and never toward an account's lockout.

use crate::iam::audit_kinds;
use crate::support;

use crm_proto::crm::iam::v1::*;
use support::iam::{PASSWORD, Session, login, reason, register, spawn_postgres, unique_name};
use support::spawn;
use tonic::Code;

const SITI: &str = "siti@kilang.example";

#[tokio::test]
async fn one_workspace_is_signed_in_to_by_email_alone_or_its_name_over_grpc_and_rest() {
    let server = spawn().await;
    let owner = register(&server, "Kilang Desa Murni Batik", SITI).await;
    for typed in ["", "  kilang desa murni BATIK "] {
        let r = login(&server, typed, SITI, PASSWORD).await.unwrap();
        assert!(!r.access_token.is_empty(), "{typed:?}");
        assert_eq!(r.user.unwrap().id, owner.user.id);
        let workspace = r.workspace.unwrap();
        assert_eq!(
            (workspace.id, workspace.name, workspace.slug),
            (
                owner.tenant.id.clone(),
                "Kilang Desa Murni Batik".to_owned(),
                owner.tenant.slug.clone()
            )
        );
        assert!(r.workspaces.is_empty());
    }

    let request = http::Request::post(format!("http://{}/api/v1/auth/login", server.addr))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(format!(
            r#"{{"email":"{SITI}","password":"{PASSWORD}"}}"#
        ))))
        .unwrap();
    let (parts, body) = support::http1(server.addr, request).await;
    assert_eq!(parts.status, 200, "{body:?}");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["workspace"]["slug"], owner.tenant.slug.as_str());
    assert!(json["accessToken"].as_str().is_some_and(|t| !t.is_empty()));
}

#[tokio::test]
async fn an_email_in_several_workspaces_chooses_one_and_gets_no_token_until_then() {
    let server = spawn().await;
    let kilang = register(&server, "Kilang Desa", SITI).await;
    let timur = register(&server, "Batik Timur", SITI).await;

    let choice = login(&server, "", SITI, PASSWORD).await.unwrap();
    assert!(choice.access_token.is_empty() && choice.refresh_token.is_empty());
    assert!(choice.user.is_none() && choice.workspace.is_none());
    let offered: Vec<_> = choice
        .workspaces
        .iter()
        .map(|w| (w.name.as_str(), w.slug.as_str()))
        .collect();
    assert_eq!(
        offered,
        [
            ("Batik Timur", timur.tenant.slug.as_str()),
            ("Kilang Desa", kilang.tenant.slug.as_str())
        ]
    );
    let chosen = login(&server, &timur.tenant.slug, SITI, PASSWORD)
        .await
        .unwrap();
    assert_eq!(chosen.user.unwrap().tenant_id, timur.tenant.id);
}

#[tokio::test]
async fn failures_by_email_are_on_the_trail_and_never_lock_the_account_in_its_workspace() {
    let server = spawn().await;
    let owner = register(&server, "Kilang Desa", SITI).await;
    let mut last = None;
    for _ in 0..5 {
        last = Some(
            login(&server, "", SITI, "not the password")
                .await
                .unwrap_err(),
        );
    }
    let locked = last.unwrap();
    assert_eq!(locked.code(), Code::ResourceExhausted, "{locked:?}");
    assert_eq!(reason(&locked), "LOGIN_LOCKED_OUT");
    let wrong_name = login(&server, "Kilang Batik Sdn Bhd", SITI, PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(
        wrong_name.code(),
        Code::ResourceExhausted,
        "a workspace's name counts as signing in by email"
    );
    let by_slug = login(&server, &owner.tenant.slug, SITI, PASSWORD)
        .await
        .expect("the account in its workspace was never locked");
    let kinds = audit_kinds(
        &server,
        &Session {
            access: by_slug.access_token,
            ..owner
        },
    )
    .await;
    let failed = kinds
        .iter()
        .filter(|k| **k == AuditEventKind::LoginFailed)
        .count();
    assert_eq!(
        failed, 5,
        "each failure by email on the workspace's trail: {kinds:?}"
    );
    assert!(kinds.contains(&AuditEventKind::Lockout), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs DATABASE_URL (PostgreSQL) and REDIS_URL: run with --include-ignored"]
async fn on_postgres_the_workspaces_of_an_email_are_found_across_tenants() {
    let (server, _keys) = spawn_postgres().await;
    // PostgreSQL keeps earlier runs' tenants: an address of this run only.
    let email = format!("siti.{}@kilang.example", uuid::Uuid::now_v7().simple());
    let kilang = register(&server, &unique_name("Kilang Desa"), &email).await;
    let r = login(&server, "", &email, PASSWORD).await.unwrap();
    assert_eq!(r.workspace.unwrap().id, kilang.tenant.id);
    let timur = register(&server, &unique_name("Batik Timur"), &email).await;
    let choice = login(&server, "", &email, PASSWORD).await.unwrap();
    let mut offered: Vec<_> = choice.workspaces.into_iter().map(|w| w.id).collect();
    offered.sort();
    let mut expected = vec![kilang.tenant.id.clone(), timur.tenant.id.clone()];
    expected.sort();
    assert_eq!(offered, expected);
    let named = login(&server, &timur.tenant.name.to_uppercase(), &email, PASSWORD)
        .await
        .unwrap();
    assert_eq!(named.user.unwrap().tenant_id, timur.tenant.id);
}

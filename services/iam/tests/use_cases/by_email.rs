//! Signing in without a workspace's slug: by email alone, or by the workspace's name. The
//! workspaces offered are only those where the password is right, and failures there never
//! count toward the lockout of an account of a workspace.

use crm_core::ErrorKind;
use crm_iam::application::{SignIn, Workspace};
use crm_iam::domain::audit::Origin;
use crm_iam::domain::tenant::Tenant;

use super::{PASSWORD, World, world};

const SITI: &str = "siti@kilang.example";

/// A new workspace named `name`, with Siti as its owner signing in with `password`.
async fn workspace(w: &World, name: &str, password: &str) -> Tenant {
    let (tenant, _) = w
        .iam
        .register(name, SITI, password, ("Siti", ""), &Origin::default())
        .await
        .unwrap();
    tenant
}

async fn login(w: &World, typed: &str, password: &str) -> crm_core::Result<SignIn> {
    w.iam.login(typed, SITI, password, &Origin::default()).await
}

/// The workspace a sign-in ended in, signed in (no second factor is set up here).
fn signed_in_to(answer: crm_core::Result<SignIn>) -> Workspace {
    match answer {
        Ok(SignIn::Done(session, workspace)) => {
            assert_eq!(
                session.user.tenant_id, workspace.id,
                "the session is the workspace's"
            );
            workspace
        }
        other => panic!("expected a session, got {other:?}"),
    }
}

#[tokio::test]
async fn one_workspace_is_signed_in_to_by_email_alone_or_by_its_name_in_any_case() {
    let w = world().await;
    let kilang = workspace(&w, "Kilang Desa Murni Batik", PASSWORD).await;
    for typed in [
        "",
        "Kilang Desa Murni Batik",
        "  kilang desa   MURNI batik ",
        &kilang.slug.to_uppercase(),
        &kilang.slug,
        &kilang.id.to_string(),
    ] {
        let signed = signed_in_to(login(&w, typed, PASSWORD).await);
        assert_eq!(signed.id, kilang.id, "{typed:?}");
        assert_eq!(signed.name, "Kilang Desa Murni Batik");
        assert_eq!(signed.slug, kilang.slug);
    }
}

#[tokio::test]
async fn several_workspaces_are_offered_only_where_the_password_is_right() {
    let w = world().await;
    let kilang = workspace(&w, "Kilang Desa", PASSWORD).await;
    let timur = workspace(&w, "Batik Timur", PASSWORD).await;
    let songket = workspace(&w, "Songket Terengganu", "another long password").await;

    let Ok(SignIn::Choose(offered)) = login(&w, "", PASSWORD).await else {
        panic!("two workspaces with this password: a choice, no session");
    };
    let names: Vec<_> = offered.iter().map(|o| (o.name.as_str(), o.id)).collect();
    assert_eq!(
        names,
        [("Batik Timur", timur.id), ("Kilang Desa", kilang.id)],
        "by name, and never the workspace whose password differs"
    );

    assert_eq!(
        signed_in_to(login(&w, "kilang desa", PASSWORD).await).id,
        kilang.id
    );
    assert_eq!(
        signed_in_to(login(&w, &timur.slug, PASSWORD).await).id,
        timur.id
    );
    assert_eq!(
        signed_in_to(login(&w, "", "another long password").await).id,
        songket.id,
        "the one workspace where that password is right"
    );
    let wrong = login(&w, "Songket Terengganu", PASSWORD).await.unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::Unauthenticated);
    assert_eq!(wrong.reason(), Some("INVALID_CREDENTIALS"));
}

#[tokio::test]
async fn an_unknown_workspace_or_email_gets_the_one_answer_and_a_field_may_be_missing() {
    let w = world().await;
    workspace(&w, "Kilang Desa", PASSWORD).await;
    for (typed, email) in [
        ("Kilang Batik Sdn Bhd", SITI),
        ("", "nobody@kilang.example"),
        ("", "not an email"),
    ] {
        let err = w
            .iam
            .login(typed, email, PASSWORD, &Origin::default())
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Unauthenticated,
            "{typed:?} {email:?}"
        );
        assert_eq!(err.reason(), Some("INVALID_CREDENTIALS"));
    }
    let err = w
        .iam
        .login("", " ", "", &Origin::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let fields: Vec<_> = err.field_violations().iter().map(|v| v.0.clone()).collect();
    assert_eq!(
        fields,
        ["email", "password"],
        "the workspace may be left out"
    );
}

fn from(address: &str) -> Origin {
    Origin {
        client_address: Some(address.into()),
        ..Origin::default()
    }
}

async fn login_from(
    w: &World,
    address: &str,
    typed: &str,
    password: &str,
) -> crm_core::Result<SignIn> {
    w.iam.login(typed, SITI, password, &from(address)).await
}

#[tokio::test]
async fn a_wrong_workspace_never_counts_toward_a_real_accounts_lockout() {
    let w = world().await;
    let kilang = workspace(&w, "Kilang Desa", PASSWORD).await;
    // Typing the business name wrong, then the password wrong by email alone, from one
    // address: signing in by email locks there; the account in its workspace does not lock.
    for _ in 0..3 {
        let _ = login_from(&w, "10.0.0.1", "Kilang Batik", PASSWORD)
            .await
            .unwrap_err();
    }
    let mut locked = false;
    for _ in 0..2 {
        let err = login_from(&w, "10.0.0.1", "", "not the password")
            .await
            .unwrap_err();
        locked = err.kind() == ErrorKind::ResourceExhausted;
    }
    assert!(
        locked,
        "five failures by email from one address lock it there"
    );
    assert_eq!(
        login_from(&w, "10.0.0.1", "", PASSWORD)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::ResourceExhausted,
        "while it lasts, even the right password by email alone, from there"
    );
    assert_eq!(
        signed_in_to(login_from(&w, "10.0.0.2", "", PASSWORD).await).id,
        kilang.id,
        "from another address the person still signs in by email: a stranger cannot lock them out"
    );
    assert_eq!(
        signed_in_to(login_from(&w, "10.0.0.1", &kilang.slug, PASSWORD).await).id,
        kilang.id,
        "by the workspace's slug, the account was never locked"
    );
}

#[tokio::test]
async fn guessing_by_email_spread_over_addresses_locks_at_four_times_an_accounts_limit() {
    let w = world().await;
    workspace(&w, "Kilang Desa", PASSWORD).await;
    // Five addresses, four failures each: no address reaches its five, but everywhere's twenty
    // is reached on the last.
    let mut kinds = Vec::new();
    for n in 0..20 {
        let address = format!("10.0.1.{}", n % 5);
        kinds.push(
            login_from(&w, &address, "", "not the password")
                .await
                .unwrap_err()
                .kind(),
        );
    }
    assert!(
        kinds[..19].iter().all(|k| *k == ErrorKind::Unauthenticated),
        "{kinds:?}"
    );
    assert_eq!(kinds[19], ErrorKind::ResourceExhausted);
    assert_eq!(
        login_from(&w, "10.0.2.1", "", PASSWORD)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::ResourceExhausted,
        "then signing in by that email waits, from anywhere"
    );
}

#[tokio::test]
async fn an_account_locked_in_its_workspace_is_not_tried_by_email_nor_said_to_be_locked() {
    let w = world().await;
    let kilang = workspace(&w, "Kilang Desa", PASSWORD).await;
    let timur = workspace(&w, "Batik Timur", PASSWORD).await;
    for _ in 0..5 {
        let _ = login(&w, &kilang.slug, "not the password")
            .await
            .unwrap_err();
    }
    assert_eq!(
        login(&w, &kilang.slug, PASSWORD).await.unwrap_err().kind(),
        ErrorKind::ResourceExhausted,
        "the account in Kilang Desa is locked out"
    );
    assert_eq!(
        signed_in_to(login(&w, "", PASSWORD).await).id,
        timur.id,
        "by email, only the account not locked is tried: straight into it, no choice"
    );
    let err = login(&w, "Kilang Desa", PASSWORD).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.reason()),
        (ErrorKind::Unauthenticated, Some("INVALID_CREDENTIALS")),
        "the locked account by name: the one answer, which says nothing of a lockout"
    );
}

//! Invitations: a person invited by email chooses their own password through a one-time link
//! that works for 72 hours; sending again replaces the link, withdrawing deletes the invited
//! user; only those who manage users invite, and nobody hands out more than they hold. The link
//! is read where the notification context reads it: from the `UserInvited` event in IAM's
//! outbox.

use crm_iam::application::InvitationView;
use crm_iam::domain::user::{User, UserPatch, UserStatus};
use crm_proto::crm::iam::events::v1::{UserCreated, UserInvited};
use prost::Message;

use super::*;

const ALI: &str = "ali@kilang.example";

/// `user` calling, with the roles the store gives them.
fn as_user(user: &User, w: &World) -> Caller {
    Caller {
        principal: Principal {
            tenant_id: user.tenant_id,
            user_id: user.id,
            roles: user.roles.clone(),
            permissions: Vec::new(),
            team: None,
            token_id: format!("token-for-{}", user.id),
            issued_at: w.clock.now_millis(),
            expires_at: None,
            api_key_id: None,
            service: None,
        },
        origin: Origin::default(),
    }
}

/// Every event of `M`'s type in IAM's outbox, oldest first.
async fn events<M: Message + prost::Name + Default>(w: &World) -> Vec<M> {
    let rows: Vec<(Vec<u8>,)> =
        sqlx::query_as("select payload from outbox where event_type = $1 order by seq")
            .bind(M::full_name())
            .fetch_all(w.db.pool())
            .await
            .unwrap();
    rows.into_iter()
        .map(|(payload,)| M::decode(payload.as_slice()).unwrap())
        .collect()
}

/// The token of the last invitation link sent to `email`.
async fn link_to(w: &World, email: &str) -> String {
    let sent = events::<UserInvited>(w).await;
    let last = sent
        .iter()
        .rev()
        .find(|e| e.email == email)
        .unwrap_or_else(|| panic!("no invitation to {email}"));
    let (console, token) = last.link.split_once("/#invitation/").unwrap();
    assert!(console.starts_with("http"), "{}", last.link);
    token.to_owned()
}

async fn invite(w: &World, by: &Caller, email: &str, roles: &[&str]) -> crm_core::Result<User> {
    w.iam
        .invite_user(
            by,
            email,
            "Ali bin Hassan",
            roles.iter().map(|r| r.to_string()).collect(),
            "",
        )
        .await
}

/// Another workspace, Tanjung, and its owner Mei calling.
async fn another_workspace(w: &World) -> (crm_iam::domain::tenant::Tenant, Caller) {
    let origin = Origin::default();
    let (other, _) = w
        .iam
        .register(
            "Tanjung",
            "mei@tanjung.example",
            PASSWORD,
            ("Mei", ""),
            &origin,
        )
        .await
        .unwrap();
    let SignIn::Done(mei, _) = w
        .iam
        .login(&other.slug, "mei@tanjung.example", PASSWORD, &origin)
        .await
        .unwrap()
    else {
        panic!("no second factor");
    };
    let caller = as_user(&mei.user, w);
    (other, caller)
}

async fn view(w: &World, token: &str) -> crm_core::Result<InvitationView> {
    w.iam.invitation(token).await
}

#[tokio::test]
async fn an_invited_person_chooses_their_password_through_the_link_once() {
    let w = world().await;
    let (siti, slug) = owner(&w).await;
    let ali = invite(&w, &siti, ALI, &["sales_rep"]).await.unwrap();
    assert_eq!(ali.status, UserStatus::Invited);
    // Invited is not a member: no password works, and other contexts have not heard of him.
    let err = w
        .iam
        .login(&slug, ALI, PASSWORD, &Origin::default())
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some("INVALID_CREDENTIALS"), "{err:?}");
    assert!(
        events::<UserCreated>(&w)
            .await
            .iter()
            .all(|e| e.email != ALI)
    );

    let sent = events::<UserInvited>(&w).await;
    let mail = sent.iter().find(|e| e.email == ALI).unwrap();
    assert_eq!(
        (
            mail.inviter_name.as_str(),
            mail.tenant_name.as_str(),
            mail.roles.clone()
        ),
        ("Siti", "Kilang", vec!["sales_rep".to_owned()])
    );
    assert!(mail.link.starts_with("http://localhost:"), "{}", mail.link);
    assert_eq!(mail.send_count, 1);
    let expires = mail.expire_time.unwrap();
    assert_eq!(expires.seconds * 1000, START + 72 * 3600 * 1000);

    let token = link_to(&w, ALI).await;
    let seen = view(&w, &token).await.unwrap();
    assert_eq!(seen.workspace.slug, slug);
    assert_eq!(seen.inviter_name, "Siti");
    assert_eq!(seen.user.email.to_string(), ALI);
    assert!(!seen.sso_enabled);

    // A bad password is a field violation and spends nothing.
    let err = w
        .iam
        .accept_invitation(&token, "short", "", &Origin::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("password"), "{err}");
    let (workspace, joined) = w
        .iam
        .accept_invitation(&token, "kain sarung songket", "Ali", &Origin::default())
        .await
        .unwrap();
    assert_eq!(
        (
            workspace.slug.as_str(),
            joined.status,
            joined.display_name.as_str()
        ),
        (slug.as_str(), UserStatus::Active, "Ali")
    );
    let SignIn::Done(session, _) = w
        .iam
        .login(&slug, ALI, "kain sarung songket", &Origin::default())
        .await
        .unwrap()
    else {
        panic!("no second factor was asked for");
    };
    assert_eq!(session.user.id, ali.id);
    // The other contexts hear of him now, and no welcome is sent on top of the invitation.
    let created = events::<UserCreated>(&w).await;
    let joined_event = created.iter().find(|e| e.email == ALI).unwrap();
    assert!(joined_event.accepted_invitation);
    assert_eq!(
        joined_event.invited_by_user_id,
        siti.principal.user_id.to_string()
    );

    // Once: the link is spent.
    for answer in [
        view(&w, &token).await.map(drop),
        w.iam
            .accept_invitation(&token, "another password here", "", &Origin::default())
            .await
            .map(drop),
    ] {
        let err = answer.unwrap_err();
        assert_eq!(
            (err.kind(), err.reason()),
            (ErrorKind::NotFound, Some("INVITATION_INVALID"))
        );
    }
    // Resending or withdrawing an accepted invitation is refused in words.
    let err = w.iam.resend_invitation(&siti, ali.id).await.unwrap_err();
    assert_eq!(err.reason(), Some("NOT_INVITED"), "{err:?}");
    let err = w.iam.revoke_invitation(&siti, ali.id).await.unwrap_err();
    assert_eq!(err.reason(), Some("NOT_INVITED"), "{err:?}");
}

#[tokio::test]
async fn a_link_expires_after_72_hours_and_sending_again_replaces_it() {
    let w = world().await;
    let (siti, _) = owner(&w).await;
    let ali = invite(&w, &siti, ALI, &["viewer"]).await.unwrap();
    let first = link_to(&w, ALI).await;
    w.clock.advance(Duration::from_secs(72 * 3600 - 1));
    view(&w, &first).await.expect("a second before the end");
    w.clock.advance(Duration::from_secs(1));
    for answer in [
        view(&w, &first).await.map(drop),
        w.iam
            .accept_invitation(&first, "kain sarung songket", "", &Origin::default())
            .await
            .map(drop),
    ] {
        let err = answer.unwrap_err();
        assert_eq!(
            (err.kind(), err.reason()),
            (ErrorKind::FailedPrecondition, Some("INVITATION_EXPIRED")),
        );
        assert!(
            err.to_string().contains("ask Siti to send it again"),
            "{err}"
        );
    }
    let resent = w.iam.resend_invitation(&siti, ali.id).await.unwrap();
    assert_eq!(resent.status, UserStatus::Invited);
    let second = link_to(&w, ALI).await;
    assert_ne!(second, first);
    assert_eq!(
        events::<UserInvited>(&w).await.last().unwrap().send_count,
        2
    );
    let err = view(&w, &first).await.unwrap_err();
    assert_eq!(
        err.reason(),
        Some("INVITATION_INVALID"),
        "the old link is dead"
    );
    let seen = view(&w, &second).await.unwrap();
    assert_eq!(
        seen.invitation.expires_at,
        w.clock.now_millis() + 72 * 3600 * 1000
    );
    w.iam
        .accept_invitation(&second, "kain sarung songket", "", &Origin::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn withdrawing_deletes_the_invited_user_and_frees_the_email() {
    let w = world().await;
    let (siti, _) = owner(&w).await;
    let ali = invite(&w, &siti, ALI, &["viewer"]).await.unwrap();
    let token = link_to(&w, ALI).await;
    // Invited twice is refused, saying so; an account's email too.
    let err = invite(&w, &siti, ALI, &["viewer"]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert!(err.to_string().contains("invited already"), "{err}");
    let err = invite(&w, &siti, "siti@kilang.example", &["viewer"])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    // An invited person cannot be activated by hand, nor sent elsewhere.
    for patch in [
        UserPatch {
            status: Some(UserStatus::Active),
            ..UserPatch::default()
        },
        UserPatch {
            email: Some("ali.hassan@kilang.example".into()),
            ..UserPatch::default()
        },
    ] {
        let err = w
            .iam
            .update_user(&siti, ali.id, "", patch)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err:?}");
    }

    w.iam.revoke_invitation(&siti, ali.id).await.unwrap();
    let err = view(&w, &token).await.unwrap_err();
    assert_eq!(err.reason(), Some("INVITATION_INVALID"));
    let mut reader = siti.clone();
    reader.principal.permissions = crm_iam::domain::role::Catalog::default()
        .built_in("owner")
        .unwrap();
    let err = w.iam.get_user(&reader, ali.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let again = invite(&w, &siti, ALI, &["viewer"]).await.unwrap();
    assert_ne!(again.id, ali.id);
    assert_ne!(link_to(&w, ALI).await, token);
}

#[tokio::test]
async fn only_who_manages_users_invites_and_nobody_hands_out_more_than_they_hold() {
    let w = world().await;
    let (siti, _) = owner(&w).await;
    let make = |email: &'static str, role: &'static str| {
        w.iam
            .create_user(&siti, email, "Someone", PASSWORD, vec![role.into()], "")
    };
    let admin = make("admin@kilang.example", "admin").await.unwrap();
    let manager = make("mei@kilang.example", "sales_manager").await.unwrap();
    let (admin, manager) = (as_user(&admin, &w), as_user(&manager, &w));

    let err = invite(&w, &manager, ALI, &["viewer"]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    let err = invite(&w, &admin, ALI, &["owner"]).await.unwrap_err();
    assert_eq!(err.reason(), Some("OWNERS_ONLY"), "{err:?}");
    // An owner invited by an owner: an admin neither resends nor withdraws it.
    let new_owner = invite(&w, &siti, "aminah@kilang.example", &["owner"])
        .await
        .unwrap();
    for err in [
        w.iam
            .resend_invitation(&admin, new_owner.id)
            .await
            .unwrap_err(),
        w.iam
            .revoke_invitation(&admin, new_owner.id)
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.reason(), Some("OWNERS_ONLY"), "{err:?}");
    }
    let ali = invite(&w, &admin, ALI, &["sales_rep"]).await.unwrap();
    for err in [
        w.iam.resend_invitation(&manager, ali.id).await.unwrap_err(),
        w.iam.revoke_invitation(&manager, ali.id).await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err:?}");
    }

    // Another workspace's owner cannot touch this one's invitation; its token names its own.
    let (other, stranger) = another_workspace(&w).await;

    for err in [
        w.iam
            .resend_invitation(&stranger, ali.id)
            .await
            .unwrap_err(),
        w.iam
            .revoke_invitation(&stranger, ali.id)
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
    }
    let token = link_to(&w, ALI).await;
    let (_, secret) = token.strip_prefix("inv_").unwrap().split_once('_').unwrap();
    let forged = format!("inv_{}_{secret}", other.id.as_uuid().simple());
    for bad in [forged.as_str(), "inv_nothing", "rt_x", ""] {
        let err = view(&w, bad).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::NotFound | ErrorKind::InvalidArgument),
            "{bad:?}: {err:?}"
        );
    }
    view(&w, &token).await.expect("the real link still works");
    // The invited person's roles were checked when invited; joining grants nothing more.
    let (_, joined) = w
        .iam
        .accept_invitation(&token, "kain sarung songket", "", &Origin::default())
        .await
        .unwrap();
    assert_eq!(joined.roles, vec!["sales_rep".to_owned()]);
}

#[tokio::test]
async fn a_first_sign_in_through_the_workspaces_provider_accepts_the_invitation() {
    let w = world().await;
    let (siti, slug) = owner(&w).await;
    super::sso::sso_on(&w, &siti).await;
    // The provider vouches for aminah@kilang.example (of its `sales` group).
    let aminah = invite(&w, &siti, "aminah@kilang.example", &["viewer"])
        .await
        .unwrap();
    let token = link_to(&w, "aminah@kilang.example").await;
    assert!(view(&w, &token).await.unwrap().sso_enabled);
    let started = w.iam.start_sso(&slug).await.unwrap();
    let (session, created) = w
        .iam
        .complete_sso(&started.state, "good", &Origin::default())
        .await
        .unwrap();
    assert!(!created, "the invited user, not a new one");
    assert_eq!(session.user.id, aminah.id);
    assert_eq!(session.user.status, UserStatus::Active);
    assert_eq!(
        session.user.roles,
        vec!["viewer".to_owned()],
        "the roles she was invited with"
    );
    let joined = events::<UserCreated>(&w).await;
    assert!(
        joined
            .iter()
            .any(|e| e.email == "aminah@kilang.example" && e.accepted_invitation)
    );
    let err = view(&w, &token).await.unwrap_err();
    assert_eq!(
        err.reason(),
        Some("INVITATION_INVALID"),
        "the link is spent"
    );
}

#[tokio::test]
async fn a_workspace_sends_a_bounded_number_of_invitations_a_day() {
    let w = world_with(|config| {
        crm_iam::config::IamConfig {
            invitation_daily_limit: 3,
            ..Default::default()
        }
        .set(config)
    })
    .await;
    let (siti, _) = owner(&w).await;
    let first = invite(&w, &siti, "a@kilang.example", &["viewer"])
        .await
        .unwrap();
    invite(&w, &siti, "b@kilang.example", &["viewer"])
        .await
        .unwrap();
    // A typo or a duplicate is not a send: it does not count.
    invite(&w, &siti, "not an email", &["viewer"])
        .await
        .unwrap_err();
    invite(&w, &siti, "a@kilang.example", &["viewer"])
        .await
        .unwrap_err();
    w.iam.resend_invitation(&siti, first.id).await.unwrap();
    for refused in [
        invite(&w, &siti, "c@kilang.example", &["viewer"])
            .await
            .map(drop),
        w.iam.resend_invitation(&siti, first.id).await.map(drop),
    ] {
        let err = refused.unwrap_err();
        assert_eq!(
            (err.kind(), err.reason()),
            (ErrorKind::ResourceExhausted, Some("INVITATIONS_THROTTLED")),
            "{err:?}"
        );
        assert!(err.to_string().contains("try again in 24 h"), "{err}");
    }
    assert_eq!(
        events::<UserInvited>(&w).await.len(),
        3,
        "nothing sent over the limit"
    );
    // Another workspace has its own.
    let (_, mei) = another_workspace(&w).await;
    invite(&w, &mei, "c@tanjung.example", &["viewer"])
        .await
        .unwrap();
    // A day later the workspace sends again.
    w.clock.advance(Duration::from_secs(24 * 3600));
    invite(&w, &siti, "c@kilang.example", &["viewer"])
        .await
        .unwrap();
}

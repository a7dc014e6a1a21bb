//! Single sign-on's use cases with the provider behind its port: what IAM does with the
//! provider's answers (a first sign-in that provisions a user, a refusal, a flow used twice or
//! too late), without an identity provider running.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crm_iam::domain::audit::AuditKind;
use crm_iam::domain::ports::{AuditFilter, AuthorizationRequest, OpenIdProvider, UserFilter};
use crm_iam::domain::role::Catalog;
use crm_iam::domain::sso::{FLOW_TTL, Identity, SsoProvider, SsoRefusal, SsoSettings};

use super::*;

const ISSUER: &str = "https://idp.kilang.example";

/// An OpenID provider that answers from a script: the code `good` is Aminah of the `sales`
/// group, with a verified email; any other code is refused. It keeps the nonce and verifier
/// of each authorization URL it made and of each exchange it was asked for.
#[derive(Default)]
pub(super) struct FakeProvider {
    minted: Mutex<Vec<(String, String)>>,
    exchanged: Mutex<Vec<(String, String)>>,
}

#[async_trait]
impl OpenIdProvider for FakeProvider {
    async fn check_issuer(&self, issuer: &str) -> std::result::Result<(), SsoRefusal> {
        if issuer == ISSUER {
            Ok(())
        } else {
            Err(SsoRefusal::Unreachable(format!(
                "{issuer} has no discovery document"
            )))
        }
    }

    async fn authorization_url(
        &self,
        _provider: &SsoProvider,
        state: &str,
    ) -> std::result::Result<AuthorizationRequest, SsoRefusal> {
        let n = self.minted.lock().unwrap().len();
        let (nonce, pkce_verifier) = (format!("nonce-{n}"), format!("verifier-{n}"));
        self.minted
            .lock()
            .unwrap()
            .push((nonce.clone(), pkce_verifier.clone()));
        Ok(AuthorizationRequest {
            url: format!("{ISSUER}/authorize?state={state}"),
            nonce,
            pkce_verifier,
        })
    }

    async fn identity(
        &self,
        _provider: &SsoProvider,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> std::result::Result<Identity, SsoRefusal> {
        self.exchanged
            .lock()
            .unwrap()
            .push((nonce.to_owned(), pkce_verifier.to_owned()));
        if code != "good" {
            return Err(SsoRefusal::CodeRefused("invalid_grant".into()));
        }
        Ok(Identity {
            issuer: ISSUER.into(),
            subject: "aminah-1".into(),
            verified_email: Some("aminah@kilang.example".into()),
            email: Some("aminah@kilang.example".into()),
            name: Some("Aminah".into()),
            groups: vec!["sales".into()],
        })
    }
}

/// The owner turns single sign-on on: `sales` maps to `sales_rep`, new users are provisioned.
pub(super) async fn sso_on(w: &World, siti: &Caller) {
    let settings = SsoSettings {
        enabled: true,
        issuer_url: ISSUER.into(),
        client_id: "kilang-crm".into(),
        redirect_uri: "https://crm.kilang.example/sso/callback".into(),
        allowed_email_domains: vec!["kilang.example".into()],
        groups_claim: "groups".into(),
        group_roles: BTreeMap::from([("sales".to_owned(), "sales_rep".to_owned())]),
        default_role: String::new(),
        provision_users: true,
    };
    w.iam
        .update_sso_settings(siti, settings, "client-secret", "")
        .await
        .unwrap();
}

/// How many users of the tenant have `email` (asked as the owner, with the owner's rights).
async fn users_named(w: &World, siti: &Caller, email: &str) -> usize {
    let mut owner = siti.clone();
    owner.principal.permissions = Catalog::default().built_in("owner").unwrap();
    let page = w
        .iam
        .list_users(&owner, UserFilter::default(), 100, None)
        .await
        .unwrap();
    page.users
        .iter()
        .filter(|u| u.email.to_string() == email)
        .count()
}

#[tokio::test]
async fn an_issuer_that_does_not_answer_is_refused_when_set() {
    let w = world().await;
    let (siti, _) = owner(&w).await;
    let settings = SsoSettings {
        enabled: true,
        issuer_url: "https://nowhere.example".into(),
        client_id: "kilang-crm".into(),
        redirect_uri: "https://crm.kilang.example/sso/callback".into(),
        ..SsoSettings::default()
    };
    let err = w
        .iam
        .update_sso_settings(&siti, settings, "client-secret", "")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err:?}");
    assert!(w.iam.get_sso_settings(&siti).await.unwrap().is_none());
}

#[tokio::test]
async fn a_first_sign_in_provisions_the_user_with_the_mapped_role_and_its_flow_works_once() {
    let w = world().await;
    let (siti, slug) = owner(&w).await;
    sso_on(&w, &siti).await;

    let started = w.iam.start_sso(&slug).await.unwrap();
    assert!(started.authorization_url.starts_with(ISSUER));
    assert_eq!(started.expires_at, w.clock.now_millis() + FLOW_TTL);
    let (tokens, created) = w
        .iam
        .complete_sso(&started.state, "good", &Origin::default())
        .await
        .unwrap();
    assert!(created, "a first sign-in with provisioning makes the user");
    assert_eq!(tokens.user.email.to_string(), "aminah@kilang.example");
    assert_eq!(tokens.user.roles, vec!["sales_rep".to_owned()]);
    // The exchange was made with the nonce and verifier kept for this flow, not others.
    assert_eq!(
        *w.provider.exchanged.lock().unwrap(),
        *w.provider.minted.lock().unwrap()
    );

    // The same state again: the flow is gone.
    let again = w
        .iam
        .complete_sso(&started.state, "good", &Origin::default())
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Unauthenticated, "{again:?}");

    // A second sign-in finds the linked user: nobody is made twice.
    let second = w.iam.start_sso(&slug).await.unwrap();
    let (_, created) = w
        .iam
        .complete_sso(&second.state, "good", &Origin::default())
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(users_named(&w, &siti, "aminah@kilang.example").await, 1);
}

#[tokio::test]
async fn a_refused_code_makes_nobody_and_is_audited_as_a_failed_login() {
    let w = world().await;
    let (siti, slug) = owner(&w).await;
    sso_on(&w, &siti).await;
    let started = w.iam.start_sso(&slug).await.unwrap();
    let err = w
        .iam
        .complete_sso(&started.state, "stolen", &Origin::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err:?}");
    assert_eq!(err.reason(), Some("SSO_CODE_REFUSED"));
    assert_eq!(users_named(&w, &siti, "aminah@kilang.example").await, 0);
    let filter = AuditFilter {
        kinds: vec![AuditKind::LoginFailed],
        ..AuditFilter::default()
    };
    let mut auditor = siti.clone();
    auditor.principal.permissions = Catalog::default().built_in("owner").unwrap();
    let (entries, _) = w.iam.list_audit(&auditor, filter, 10, None).await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        entries[0].details.get("reason").map(String::as_str),
        Some("code_refused"),
        "{entries:?}"
    );
}

#[tokio::test]
async fn a_flow_completed_after_its_time_is_refused() {
    let w = world().await;
    let (siti, slug) = owner(&w).await;
    sso_on(&w, &siti).await;
    let started = w.iam.start_sso(&slug).await.unwrap();
    w.clock.advance(Duration::from_millis(FLOW_TTL as u64 + 1));
    let err = w
        .iam
        .complete_sso(&started.state, "good", &Origin::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err:?}");
    assert!(
        w.provider.exchanged.lock().unwrap().is_empty(),
        "no code exchanged for a dead flow"
    );
    assert_eq!(users_named(&w, &siti, "aminah@kilang.example").await, 0);
}

//! The second factor through the generated clients against a served CRM: a user turns TOTP on,
//! Login then answers with a challenge that VerifyMfa completes with an app code or a recovery
//! code (each once); a tenant requiring it has users enrol while signing in; administrators
//! reset another user's; other tenants, API keys and unauthenticated callers are refused.
//!
//! Codes are computed from the secret the server returned, for the real clock. Each test spends
//! at most the current step and the next one (an app a step ahead is accepted), so no test
//! waits for the clock; later sign-ins use recovery codes.

use crate::support;

use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
use crm_proto::crm::iam::v1::mfa_service_client::MfaServiceClient;
use crm_proto::crm::iam::v1::tenant_service_client::TenantServiceClient;
use crm_proto::crm::iam::v1::user_service_client::UserServiceClient;
use crm_proto::crm::iam::v1::*;
use prost_types::FieldMask;
use tonic::{Code, Status};

use support::iam::{PASSWORD, Session, api_key, app_code, fields, invite, login, reason, register};
use support::{TestServer, authorized, spawn};

fn mfa(server: &TestServer) -> MfaServiceClient<tonic::transport::Channel> {
    MfaServiceClient::new(server.channel.clone())
}

async fn start(server: &TestServer, token: &str) -> Result<StartMfaEnrollmentResponse, Status> {
    mfa(server)
        .start_mfa_enrollment(authorized(StartMfaEnrollmentRequest {}, token))
        .await
        .map(|r| r.into_inner())
}

async fn confirm(server: &TestServer, token: &str, code: &str) -> Result<Vec<String>, Status> {
    mfa(server)
        .confirm_mfa_enrollment(authorized(
            ConfirmMfaEnrollmentRequest { code: code.into() },
            token,
        ))
        .await
        .map(|r| r.into_inner().recovery_codes)
}

async fn disable(server: &TestServer, token: &str, user: &str, code: &str) -> Result<(), Status> {
    let request = DisableMfaRequest {
        user_id: user.into(),
        code: code.into(),
    };
    mfa(server)
        .disable_mfa(authorized(request, token))
        .await
        .map(drop)
}

async fn verify(
    server: &TestServer,
    mfa_token: &str,
    code: &str,
) -> Result<VerifyMfaResponse, Status> {
    AuthServiceClient::new(server.channel.clone())
        .verify_mfa(VerifyMfaRequest {
            mfa_token: mfa_token.into(),
            code: code.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn get_user(server: &TestServer, token: &str, id: &str) -> Result<User, Status> {
    UserServiceClient::new(server.channel.clone())
        .get_user(authorized(GetUserRequest { id: id.into() }, token))
        .await
        .map(|r| r.into_inner().user.unwrap())
}

/// Logs in with the password and returns the challenge (panics if tokens came instead).
async fn challenge(server: &TestServer, slug: &str, email: &str) -> MfaChallenge {
    let response = login(server, slug, email, PASSWORD).await.unwrap();
    assert!(
        response.access_token.is_empty(),
        "no token before the second step"
    );
    assert!(response.refresh_token.is_empty());
    response.mfa_challenge.expect("a challenge")
}

/// A code that is not the app's right now.
fn wrong_code(secret: &str) -> &'static str {
    if [-30, 0, 30]
        .iter()
        .any(|s| app_code(secret, *s) == "000000")
    {
        "111111"
    } else {
        "000000"
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_turns_mfa_on_and_then_signs_in_in_two_steps() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let slug = owner.tenant.slug.clone();
    assert!(!owner.user.mfa_enabled);

    let enrolment = start(&server, &owner.access).await.unwrap();
    assert_eq!(enrolment.secret.len(), 32, "160 bits in base32");
    assert!(
        enrolment
            .otpauth_uri
            .starts_with("otpauth://totp/Kilang%20CRM:owner%40kilang.example?")
    );
    assert!(
        enrolment
            .otpauth_uri
            .contains(&format!("secret={}", enrolment.secret))
    );
    // Until confirmed, the password alone still signs in.
    assert!(
        login(&server, &slug, "owner@kilang.example", PASSWORD)
            .await
            .unwrap()
            .mfa_challenge
            .is_none()
    );

    let err = confirm(&server, &owner.access, wrong_code(&enrolment.secret))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "INVALID_MFA_CODE");
    let err = confirm(&server, &owner.access, "").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(fields(&err), ["code"]);
    let recovery = confirm(&server, &owner.access, &app_code(&enrolment.secret, 0))
        .await
        .unwrap();
    assert_eq!(recovery.len(), 10);
    assert!(
        get_user(&server, &owner.access, &owner.user.id)
            .await
            .unwrap()
            .mfa_enabled
    );
    let err = start(&server, &owner.access).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "MFA_ALREADY_ON");

    // Login now stops at the challenge; a recovery code completes it, once.
    let pending = challenge(&server, &slug, "owner@kilang.example").await;
    assert!(!pending.enrollment_required);
    assert!(pending.expire_time.is_some());
    let signed_in = verify(&server, &pending.mfa_token, &recovery[0])
        .await
        .unwrap();
    assert_eq!(signed_in.token_type, "Bearer");
    assert!(signed_in.recovery_codes.is_empty());
    assert_eq!(signed_in.user.as_ref().unwrap().id, owner.user.id);
    get_user(&server, &signed_in.access_token, &owner.user.id)
        .await
        .expect("the second step's token works");
    let err = verify(&server, &pending.mfa_token, &recovery[1])
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        "INVALID_MFA_TOKEN",
        "a challenge completes once"
    );
    let pending = challenge(&server, &slug, "owner@kilang.example").await;
    let err = verify(&server, &pending.mfa_token, &recovery[0])
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        "INVALID_MFA_CODE",
        "a recovery code works once"
    );

    // Bad input and foreign tokens.
    let err = verify(&server, &pending.mfa_token, " ").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(fields(&err), ["code"]);
    for token in [
        "",
        "mfa_nonsense",
        &pending.mfa_token.replace("mfa_", "rt_"),
        &"x".repeat(5000),
    ] {
        let err = verify(&server, token, "123456").await.unwrap_err();
        assert!(
            matches!(err.code(), Code::Unauthenticated | Code::InvalidArgument),
            "{token:.20}: {err:?}"
        );
    }

    // The app's next code (it may run a step ahead) replaces the recovery codes.
    let fresh = mfa(&server)
        .regenerate_recovery_codes(authorized(
            RegenerateRecoveryCodesRequest {
                code: app_code(&enrolment.secret, 30),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .recovery_codes;
    assert_eq!(fresh.len(), 10);
    let err = verify(&server, &pending.mfa_token, &recovery[2])
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "INVALID_MFA_CODE", "the old codes are gone");

    // Turning it off needs a code; then the password alone signs in again.
    let err = disable(&server, &owner.access, &owner.user.id, "")
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["code"]);
    disable(&server, &owner.access, &owner.user.id, &fresh[0])
        .await
        .unwrap();
    let response = login(&server, &slug, "owner@kilang.example", PASSWORD)
        .await
        .unwrap();
    assert!(response.mfa_challenge.is_none());
    assert!(!response.user.unwrap().mfa_enabled);
}

async fn set_policy(server: &TestServer, owner: &Session, policy: i32) -> Result<Tenant, Status> {
    let mut tenants = TenantServiceClient::new(server.channel.clone());
    let mut tenant = tenants
        .get_tenant(authorized(
            GetTenantRequest {
                id: owner.tenant.id.clone(),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .tenant
        .unwrap();
    tenant.settings.as_mut().unwrap().mfa_policy = policy;
    let request = UpdateTenantRequest {
        tenant: Some(tenant),
        update_mask: Some(FieldMask {
            paths: vec!["settings".into()],
        }),
    };
    tenants
        .update_tenant(authorized(request, &owner.access))
        .await
        .map(|r| r.into_inner().tenant.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_that_requires_mfa_has_users_enrol_while_signing_in() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let slug = owner.tenant.slug.clone();
    let err = set_policy(&server, &owner, 9).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(fields(&err), ["tenant.settings.mfa_policy"]);
    invite(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;

    // Admins only: the sales rep is not covered, the owner is.
    let tenant = set_policy(&server, &owner, MfaPolicy::Admins as i32)
        .await
        .unwrap();
    assert_eq!(
        tenant.settings.unwrap().mfa_policy,
        MfaPolicy::Admins as i32
    );
    let rep = login(&server, &slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap();
    assert!(rep.mfa_challenge.is_none() && !rep.access_token.is_empty());
    let pending = challenge(&server, &slug, "owner@kilang.example").await;
    assert!(pending.enrollment_required);

    // Everyone: Ali enrols during the sign-in and gets the tokens and the recovery codes.
    set_policy(&server, &owner, MfaPolicy::Everyone as i32)
        .await
        .unwrap();
    let pending = challenge(&server, &slug, "ali@kilang.example").await;
    assert!(pending.enrollment_required);
    let err = verify(&server, &pending.mfa_token, "123456")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "MFA_NOT_ENROLLED");
    let mut auth = AuthServiceClient::new(server.channel.clone());
    let enrolment = auth
        .enroll_mfa(EnrollMfaRequest {
            mfa_token: pending.mfa_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(enrolment.otpauth_uri.contains("ali%40kilang.example"));
    let signed_in = verify(&server, &pending.mfa_token, &app_code(&enrolment.secret, 0))
        .await
        .unwrap();
    assert_eq!(signed_in.recovery_codes.len(), 10);
    assert!(signed_in.user.unwrap().mfa_enabled);
    // The next sign-in is an ordinary second step: enrolling again is refused.
    let pending = challenge(&server, &slug, "ali@kilang.example").await;
    assert!(!pending.enrollment_required);
    let err = auth
        .enroll_mfa(EnrollMfaRequest {
            mfa_token: pending.mfa_token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    verify(&server, &pending.mfa_token, &signed_in.recovery_codes[0])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn mfa_is_per_person_per_tenant_and_administrators_reset_it() {
    let server = spawn().await;
    let a = register(&server, "Kilang", "owner@kilang.example").await;
    let b = register(&server, "Other", "owner@other.example").await;
    let ali = invite(&server, &a, "ali@kilang.example", &["viewer"]).await;
    let ali_token = login(&server, &a.tenant.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap()
        .access_token;
    let enrolment = start(&server, &ali_token).await.unwrap();
    confirm(&server, &ali_token, &app_code(&enrolment.secret, 0))
        .await
        .unwrap();

    // No token, an API key, another tenant, a viewer: refused.
    let err = mfa(&server)
        .start_mfa_enrollment(StartMfaEnrollmentRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let key = api_key(&server, &a.access, "admin").await;
    let err = start(&server, &key).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(reason(&err), "NOT_A_PERSON");
    let err = disable(&server, &b.access, &ali.id, "").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "another tenant's user");
    let err = disable(&server, &ali_token, &a.user.id, "")
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "a viewer resetting the owner"
    );
    let err = disable(&server, &a.access, "not-a-uuid", "")
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["user_id"]);

    // A challenge names its tenant: pointed at another tenant it is unknown there.
    let pending = challenge(&server, &a.tenant.slug, "ali@kilang.example").await;
    let a_hex = a.tenant.id.replace('-', "");
    let b_hex = b.tenant.id.replace('-', "");
    let moved = pending.mfa_token.replace(&a_hex, &b_hex);
    let err = verify(&server, &moved, &app_code(&enrolment.secret, 30))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "INVALID_MFA_TOKEN");

    // The owner resets Ali's (a lost phone): the password alone signs Ali in again.
    disable(&server, &a.access, &ali.id, "").await.unwrap();
    let response = login(&server, &a.tenant.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap();
    assert!(response.mfa_challenge.is_none());
    assert!(
        !get_user(&server, &a.access, &ali.id)
            .await
            .unwrap()
            .mfa_enabled
    );
}

/// Issue 29, item 4: a user signed in with a password alone and promoted into the tenant's
/// second-factor policy cannot refresh into the new rights: the refresh asks for a sign-in with
/// the factor (MFA_REQUIRED), which then asks them to enrol. Someone the policy does not cover
/// keeps refreshing.
#[tokio::test]
async fn a_promotion_into_the_mfa_policy_needs_the_factor_before_a_refresh() {
    let server = spawn().await;
    let owner = register(&server, "Kilang Naik", "owner@kilang.example").await;
    let slug = owner.tenant.slug.clone();
    let ali = invite(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    set_policy(&server, &owner, MfaPolicy::Admins as i32)
        .await
        .unwrap();
    let rep = login(&server, &slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap();
    assert!(rep.mfa_challenge.is_none(), "a rep is not covered");
    let again = support::iam::refresh(&server, &rep.refresh_token)
        .await
        .expect("not covered: refreshes as before");
    UserServiceClient::new(server.channel.clone())
        .assign_role(authorized(
            AssignRoleRequest {
                user_id: ali.id.clone(),
                role: "admin".into(),
            },
            &owner.access,
        ))
        .await
        .unwrap();
    let refused = support::iam::refresh(&server, &again.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert_eq!(reason(&refused), "MFA_REQUIRED");
    let pending = challenge(&server, &slug, "ali@kilang.example").await;
    assert!(
        pending.enrollment_required,
        "the sign-in asks them to set it up"
    );
}

//! The second factor's use cases: enrolment, the second step, lockouts, turning it off.

use super::*;

/// The code an authenticator app holding `secret` shows at `millis`.
fn app_code(secret: &str, millis: i64) -> String {
    crm_iam::domain::mfa::Mfa {
        secret: secret.to_owned(),
        confirmed_at: None,
    }
    .code_at((millis / 1000) as u64)
}

/// The challenge of a password sign-in that needs a second factor.
async fn challenged(w: &World, slug: &str) -> crm_iam::application::PendingSignIn {
    match w
        .iam
        .login(slug, "siti@kilang.example", PASSWORD, &Origin::default())
        .await
        .unwrap()
    {
        SignIn::SecondFactor(pending, _) => pending,
        other => panic!("expected a second factor, got {other:?}"),
    }
}

/// Siti turns TOTP on; returns the secret and the recovery codes.
async fn enrolled(w: &World, siti: &Caller) -> (String, Vec<String>) {
    let enrolment = w.iam.start_mfa_enrollment(siti).await.unwrap();
    let codes = w
        .iam
        .confirm_mfa_enrollment(siti, &app_code(&enrolment.secret, w.clock.now_millis()))
        .await
        .unwrap();
    (enrolment.secret, codes)
}

#[tokio::test]
async fn a_second_factor_is_asked_for_once_on_and_each_code_works_once() {
    let w = world().await;
    let (siti, slug) = owner(&w).await;
    let origin = Origin::default();
    let enrolment = w.iam.start_mfa_enrollment(&siti).await.unwrap();
    assert!(enrolment.otpauth_uri.starts_with("otpauth://totp/"));
    // Not on until confirmed: the password alone still signs in.
    assert!(matches!(
        w.iam
            .login(&slug, "siti@kilang.example", PASSWORD, &origin)
            .await
            .unwrap(),
        SignIn::Done(..)
    ));
    let wrong = w.iam.confirm_mfa_enrollment(&siti, "000000").await;
    let now = w.clock.now_millis();
    let right = app_code(&enrolment.secret, now);
    if right != "000000" {
        assert_eq!(wrong.unwrap_err().kind(), ErrorKind::Unauthenticated);
    }
    let recovery = w.iam.confirm_mfa_enrollment(&siti, &right).await.unwrap();
    assert_eq!(recovery.len(), 10);
    assert_eq!(
        w.iam.start_mfa_enrollment(&siti).await.unwrap_err().kind(),
        ErrorKind::FailedPrecondition,
        "on already"
    );

    // The confirming code is spent: it cannot complete a sign-in in the same step.
    let pending = challenged(&w, &slug).await;
    assert!(!pending.enrollment_required);
    let err = w
        .iam
        .verify_mfa(&pending.mfa_token, &right, &origin)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    // The next step's code does (the app a step ahead), once.
    let next = app_code(&enrolment.secret, now + 30_000);
    let (tokens, codes) = w
        .iam
        .verify_mfa(&pending.mfa_token, &next, &origin)
        .await
        .unwrap();
    assert_eq!(tokens.user.id, siti.principal.user_id);
    assert!(codes.is_none());
    // The challenge is spent too.
    let err = w
        .iam
        .verify_mfa(&pending.mfa_token, &recovery[0], &origin)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some("INVALID_MFA_TOKEN"));

    // A minute later the app's code works again; a recovery code works once.
    w.clock.advance(Duration::from_secs(60));
    let pending = challenged(&w, &slug).await;
    let code = app_code(&enrolment.secret, w.clock.now_millis());
    w.iam
        .verify_mfa(&pending.mfa_token, &code, &origin)
        .await
        .unwrap();
    let pending = challenged(&w, &slug).await;
    w.iam
        .verify_mfa(&pending.mfa_token, &recovery[3].to_uppercase(), &origin)
        .await
        .expect("a recovery code, whatever its case");
    let pending = challenged(&w, &slug).await;
    let err = w
        .iam
        .verify_mfa(&pending.mfa_token, &recovery[3], &origin)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some("INVALID_MFA_CODE"), "used already");

    // A challenge lasts five minutes.
    w.clock.advance(Duration::from_secs(301));
    let code = app_code(&enrolment.secret, w.clock.now_millis());
    let err = w
        .iam
        .verify_mfa(&pending.mfa_token, &code, &origin)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some("INVALID_MFA_TOKEN"));
}

#[tokio::test]
async fn wrong_codes_lock_the_second_step_out_like_wrong_passwords() {
    let w = world().await;
    let (siti, slug) = owner(&w).await;
    let origin = Origin::default();
    let (secret, _) = enrolled(&w, &siti).await;
    w.clock.advance(Duration::from_secs(60));
    let pending = challenged(&w, &slug).await;
    let good = app_code(&secret, w.clock.now_millis());
    let wrong = if good == "123456" { "654321" } else { "123456" };
    for attempt in 1..=5 {
        let err = w
            .iam
            .verify_mfa(&pending.mfa_token, wrong, &origin)
            .await
            .unwrap_err();
        let expected = if attempt < 5 {
            ErrorKind::Unauthenticated
        } else {
            ErrorKind::ResourceExhausted
        };
        assert_eq!(err.kind(), expected, "attempt {attempt}");
    }
    let err = w
        .iam
        .verify_mfa(&pending.mfa_token, &good, &origin)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::ResourceExhausted,
        "even the right code"
    );
    w.clock.advance(Duration::from_secs(900));
    let pending = challenged(&w, &slug).await;
    let good = app_code(&secret, w.clock.now_millis());
    w.iam
        .verify_mfa(&pending.mfa_token, &good, &origin)
        .await
        .expect("the lockout is over");
    let mut auditor = siti.clone();
    auditor.principal.permissions = vec!["audit.read".into()];
    let (trail, _) = w
        .iam
        .list_audit(
            &auditor,
            crm_iam::domain::ports::AuditFilter::default(),
            100,
            None,
        )
        .await
        .unwrap();
    let kinds: Vec<_> = trail.iter().map(|e| e.kind).collect();
    use crm_iam::domain::audit::AuditKind;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == AuditKind::LoginFailed)
            .count(),
        5
    );
    assert!(kinds.contains(&AuditKind::Lockout));
    assert!(kinds.contains(&AuditKind::MfaChanged));
}

#[tokio::test]
async fn a_tenant_requiring_mfa_has_its_users_enrol_while_signing_in() {
    let w = world().await;
    let (siti, slug) = owner(&w).await;
    let origin = Origin::default();
    let settings = crm_iam::domain::tenant::TenantSettings {
        mfa_policy: crm_iam::domain::mfa::MfaPolicy::Admins,
        ..Default::default()
    };
    w.iam
        .update_tenant(
            &siti,
            siti.principal.tenant_id,
            "",
            None,
            Some(settings),
            None,
        )
        .await
        .unwrap();
    // A viewer is not covered by "admins".
    w.iam
        .create_user(&siti, "ali@kilang.example", "Ali", PASSWORD, vec![], "")
        .await
        .unwrap();
    assert!(matches!(
        w.iam
            .login(&slug, "ali@kilang.example", PASSWORD, &origin)
            .await
            .unwrap(),
        SignIn::Done(..)
    ));
    // The owner is: no token until a second factor is set up.
    let pending = challenged(&w, &slug).await;
    assert!(pending.enrollment_required);
    let err = w
        .iam
        .verify_mfa(&pending.mfa_token, "123456", &origin)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some("MFA_NOT_ENROLLED"));
    let enrolment = w
        .iam
        .enroll_mfa_for_sign_in(&pending.mfa_token, &origin)
        .await
        .unwrap();
    let code = app_code(&enrolment.secret, w.clock.now_millis());
    let (tokens, codes) = w
        .iam
        .verify_mfa(&pending.mfa_token, &code, &origin)
        .await
        .unwrap();
    assert_eq!(tokens.user.id, siti.principal.user_id);
    assert!(tokens.user.mfa_on());
    assert_eq!(codes.map(|c| c.len()), Some(10));
    // From now on it is an ordinary second step, and enrolling again is refused.
    let pending = challenged(&w, &slug).await;
    assert!(!pending.enrollment_required);
    let err = w
        .iam
        .enroll_mfa_for_sign_in(&pending.mfa_token, &origin)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition);
}

#[tokio::test]
async fn turning_it_off_needs_a_code_for_oneself_and_users_manage_for_another() {
    let w = world().await;
    let (siti, slug) = owner(&w).await;
    let origin = Origin::default();
    let ali = w
        .iam
        .create_user(&siti, "ali@kilang.example", "Ali", PASSWORD, vec![], "")
        .await
        .unwrap();
    let (secret, recovery) = enrolled(&w, &siti).await;
    let me = siti.principal.user_id;
    let err = w.iam.disable_mfa(&siti, me, "").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    // New recovery codes replace the old ones.
    w.clock.advance(Duration::from_secs(60));
    let fresh = w
        .iam
        .regenerate_recovery_codes(&siti, &app_code(&secret, w.clock.now_millis()))
        .await
        .unwrap();
    assert_eq!(fresh.len(), 10);
    let err = w
        .iam
        .disable_mfa(&siti, me, &recovery[0])
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        Some("INVALID_MFA_CODE"),
        "an old recovery code"
    );
    w.iam.disable_mfa(&siti, me, &fresh[0]).await.unwrap();
    assert!(matches!(
        w.iam
            .login(&slug, "siti@kilang.example", PASSWORD, &origin)
            .await
            .unwrap(),
        SignIn::Done(..)
    ));

    // Ali (a viewer) cannot reset Siti's; Siti resets Ali's without a code.
    let SignIn::Done(ali_session, _) = w
        .iam
        .login(&slug, "ali@kilang.example", PASSWORD, &origin)
        .await
        .unwrap()
    else {
        panic!("no second factor yet");
    };
    let ali_caller = Caller {
        principal: Principal {
            tenant_id: ali.tenant_id,
            user_id: ali.id,
            roles: ali.roles.clone(),
            permissions: Vec::new(),
            team: None,
            token_id: ali_session.access_token.clone(),
            issued_at: w.clock.now_millis(),
            expires_at: None,
            api_key_id: None,
            service: None,
        },
        origin: Origin::default(),
    };
    enrolled(&w, &ali_caller).await;
    let err = w.iam.disable_mfa(&ali_caller, me, "").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    w.iam.disable_mfa(&siti, ali.id, "").await.unwrap();
    assert!(matches!(
        w.iam
            .login(&slug, "ali@kilang.example", PASSWORD, &origin)
            .await
            .unwrap(),
        SignIn::Done(..)
    ));
    // An unknown user is NOT_FOUND.
    let err = w
        .iam
        .disable_mfa(&siti, crm_core::UserId::new(), "")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

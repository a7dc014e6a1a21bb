use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{EncodingKey, Header};

use super::*;

pub(crate) struct TestKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub jwk: serde_json::Value,
}

pub(crate) fn test_key(seed: u8, kid: &str) -> TestKey {
    let signing = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let der = signing.to_pkcs8_der().unwrap();
    let x =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
    TestKey {
        kid: kid.into(),
        encoding: EncodingKey::from_ed_der(der.as_bytes()),
        jwk: serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub(crate) fn claims(tenant: TenantId, user: UserId) -> AccessClaims {
    AccessClaims {
        iss: "kilang-crm".into(),
        aud: "kilang-crm".into(),
        sub: user.to_string(),
        tid: tenant.to_string(),
        roles: vec!["sales_rep".into()],
        perms: vec!["customers.read".into()],
        team: None,
        exp: now() + 900,
        iat: now(),
        nbf: now(),
        jti: "t-1".into(),
        svc: None,
    }
}

pub(crate) fn sign(key: &TestKey, claims: &AccessClaims) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    header.typ = Some(ACCESS_TOKEN_TYPE.into());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

pub(crate) fn verifier(keys: &[&TestKey]) -> TokenVerifier {
    let jwks: JwkSet = serde_json::from_value(
        serde_json::json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}),
    )
    .unwrap();
    TokenVerifier::from_jwks(&jwks, "kilang-crm", "kilang-crm").unwrap()
}

#[test]
fn a_valid_token_yields_its_principal() {
    let key = test_key(1, "k1");
    let (tenant, user) = (TenantId::new(), UserId::new());
    let principal = verifier(&[&key])
        .verify(&sign(&key, &claims(tenant, user)))
        .unwrap();
    assert_eq!(principal.tenant_id, tenant);
    assert_eq!(principal.user_id, user);
    assert_eq!(principal.roles, ["sales_rep"]);
}

#[test]
fn a_remembered_token_answers_as_verifying_again_would() {
    let key = test_key(1, "k1");
    let verifier = verifier(&[&key]);
    let claims = claims(TenantId::new(), UserId::new());
    let token = sign(&key, &claims);
    let first = verifier.verify(&token).unwrap();
    assert_eq!(
        verifier.verified.get(&token).map(|v| v.principal),
        Some(first.clone())
    );
    assert_eq!(
        verifier.verify(&token).unwrap(),
        first,
        "the second call is answered from memory"
    );
    // Past its expiry (and the leeway) it is expired, remembered or not.
    let later = claims.exp + LEEWAY + 1;
    assert!(matches!(
        verifier.verify_at(&token, None, later),
        Err(TokenError::Expired)
    ));
    assert!(verifier.verified.get(&token).is_none(), "and forgotten");
    // A token that differs in one character of its signature is checked, not remembered.
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert!(verifier.verify(&forged).is_err());
    assert!(verifier.verified.get(&forged).is_none());
}

#[test]
fn a_remembered_token_is_forgotten_when_it_expires_without_being_asked_again() {
    let key = test_key(1, "k1");
    let verifier = verifier(&[&key]);
    let mut claims = claims(TenantId::new(), UserId::new());
    // Good for one more second, the leeway included.
    claims.exp = now_secs() + 1 - LEEWAY;
    let token = sign(&key, &claims);
    verifier.verify(&token).unwrap();
    verifier.verified.run_pending_tasks();
    assert_eq!(verifier.verified.entry_count(), 1, "remembered while good");
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    verifier.verified.run_pending_tasks();
    assert_eq!(
        verifier.verified.entry_count(),
        0,
        "forgotten once expired, though nobody asked for it again"
    );
}

#[test]
fn tokens_of_every_configured_key_verify() {
    let (old, new) = (test_key(1, "old"), test_key(2, "new"));
    let verifier = verifier(&[&old, &new]);
    let claims = claims(TenantId::new(), UserId::new());
    assert!(verifier.verify(&sign(&old, &claims)).is_ok());
    assert!(verifier.verify(&sign(&new, &claims)).is_ok());
}

#[test]
fn refuses_expired_foreign_issuer_wrong_audience_and_unknown_key() {
    let key = test_key(1, "k1");
    let verifier = verifier(&[&key]);
    let base = claims(TenantId::new(), UserId::new());

    let expired = AccessClaims {
        exp: now() - 3600,
        ..base.clone()
    };
    assert_eq!(
        verifier.verify(&sign(&key, &expired)),
        Err(TokenError::Expired)
    );

    let foreign = AccessClaims {
        iss: "someone-else".into(),
        ..base.clone()
    };
    assert_eq!(
        verifier.verify(&sign(&key, &foreign)),
        Err(TokenError::InvalidClaims)
    );

    let audience = AccessClaims {
        aud: "another-api".into(),
        ..base.clone()
    };
    assert_eq!(
        verifier.verify(&sign(&key, &audience)),
        Err(TokenError::InvalidClaims)
    );

    let stranger = test_key(9, "k1");
    assert_eq!(
        verifier.verify(&sign(&stranger, &base)),
        Err(TokenError::BadSignature)
    );

    let unknown = test_key(1, "k2");
    assert_eq!(
        verifier.verify(&sign(&unknown, &base)),
        Err(TokenError::UnknownKey)
    );
}

#[test]
fn refuses_alg_none_and_tampered_payloads() {
    let key = test_key(1, "k1");
    let verifier = verifier(&[&key]);
    let token = sign(&key, &claims(TenantId::new(), UserId::new()));
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();

    let none_header = b64.encode(r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#);
    let unsigned = format!("{none_header}.{}.", parts[1]);
    assert!(verifier.verify(&unsigned).is_err());

    let mut payload: serde_json::Value =
        serde_json::from_slice(&b64.decode(&parts[1]).unwrap()).unwrap();
    payload["roles"] = serde_json::json!(["owner"]);
    parts[1] = b64.encode(payload.to_string());
    assert_eq!(
        verifier.verify(&parts.join(".")),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn refuses_a_jwt_that_is_not_typed_as_an_access_token() {
    let key = test_key(1, "k1");
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k1".into());
    header.typ = Some("JWT".into());
    let token = jsonwebtoken::encode(
        &header,
        &claims(TenantId::new(), UserId::new()),
        &key.encoding,
    )
    .unwrap();
    assert_eq!(verifier(&[&key]).verify(&token), Err(TokenError::WrongType));
}

#[test]
fn a_key_without_alg_is_refused_at_load_time() {
    let mut key = test_key(1, "k1");
    key.jwk.as_object_mut().unwrap().remove("alg");
    let jwks: JwkSet = serde_json::from_value(serde_json::json!({ "keys": [key.jwk] })).unwrap();
    let err = TokenVerifier::from_jwks(&jwks, "i", "a").unwrap_err();
    assert!(err.to_string().contains("alg"), "{err}");
}

fn sign_typed(key: &TestKey, claims: &AccessClaims, typ: &str) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    header.typ = Some(typ.into());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

fn service_claims(tenant: TenantId, name: &str, audience: &str) -> AccessClaims {
    AccessClaims {
        aud: audience.into(),
        sub: service_user_id(name).to_string(),
        roles: Vec::new(),
        perms: vec!["customers.create".into()],
        svc: Some(name.into()),
        ..claims(tenant, UserId::new())
    }
}

#[test]
fn a_service_token_calls_only_the_callee_it_names() {
    let key = test_key(1, "k1");
    let verifier = verifier(&[&key]);
    let tenant = TenantId::new();
    let token = sign_typed(
        &key,
        &service_claims(tenant, "sales", "crm.customer"),
        SERVICE_TOKEN_TYPE,
    );
    let customer = "/crm.customer.v1.CustomerService/CreateCustomer";
    let p = verifier.verify_call(&token, customer).unwrap();
    assert_eq!(p.service.as_deref(), Some("sales"));
    assert_eq!(p.user_id, service_user_id("sales"));
    assert_eq!(p.tenant_id, tenant);
    assert_eq!(p.permissions, ["customers.create"]);
    // Remembered or not, another callee is refused.
    for _ in 0..2 {
        assert_eq!(
            verifier.verify_call(&token, "/crm.iam.v1.UserService/ListUsers"),
            Err(TokenError::WrongAudience)
        );
        assert_eq!(verifier.verify(&token), Err(TokenError::WrongAudience));
        assert!(verifier.verify_call(&token, customer).is_ok());
    }
}

#[test]
fn service_and_person_tokens_cannot_pass_for_each_other() {
    let key = test_key(1, "k1");
    let verifier = verifier(&[&key]);
    let tenant = TenantId::new();
    let customer = "/crm.customer.v1.CustomerService/GetCustomer";
    // A service's claims under the person's type, and a person's under the service's.
    let svc = service_claims(tenant, "sales", "crm.customer");
    let as_person = sign_typed(&key, &svc, ACCESS_TOKEN_TYPE);
    assert_eq!(
        verifier.verify_call(&as_person, customer),
        Err(TokenError::InvalidClaims),
        "a person's token names the product's audience"
    );
    let as_person = sign_typed(
        &key,
        &AccessClaims {
            aud: "kilang-crm".into(),
            ..svc.clone()
        },
        ACCESS_TOKEN_TYPE,
    );
    assert_eq!(
        verifier.verify_call(&as_person, customer),
        Err(TokenError::WrongType)
    );
    let person = claims(tenant, UserId::new());
    let as_service = sign_typed(&key, &person, SERVICE_TOKEN_TYPE);
    assert_eq!(
        verifier.verify_call(&as_service, customer),
        Err(TokenError::WrongType)
    );
    // A service claiming another's subject, or a whole-product audience.
    let stolen = AccessClaims {
        sub: service_user_id("notification").to_string(),
        ..svc.clone()
    };
    let stolen = sign_typed(&key, &stolen, SERVICE_TOKEN_TYPE);
    assert_eq!(
        verifier.verify_call(&stolen, customer),
        Err(TokenError::WrongType)
    );
    let broad = AccessClaims {
        aud: "kilang-crm".into(),
        ..svc
    };
    let broad = sign_typed(&key, &broad, SERVICE_TOKEN_TYPE);
    assert_eq!(
        verifier.verify_call(&broad, customer),
        Err(TokenError::WrongType)
    );
}

#[test]
fn the_callee_of_a_method_is_its_contexts_package() {
    assert_eq!(
        callee_audience("/crm.customer.v1.CustomerService/GetCustomer"),
        Some("crm.customer")
    );
    assert_eq!(
        callee_audience("/crm.iam.v1.DirectoryService/LookupUsers"),
        Some("crm.iam")
    );
    assert_eq!(
        callee_audience("/grpc.health.v1.Health/Check"),
        Some("grpc.health")
    );
    assert_eq!(callee_audience("/nodots/X"), None);
    assert_ne!(service_user_id("sales"), service_user_id("notification"));
    assert_eq!(service_user_id("sales"), service_user_id("sales"));
}

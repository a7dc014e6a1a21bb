//! Single sign-on against a real OpenID provider run by the test (npm `oauth2-mock-server`,
//! `fixtures/oidc-provider.mjs`): the owner configures the tenant's provider; staff sign in
//! through it (authorization code + PKCE, state, nonce) and are linked to their invitation or
//! provisioned; ID tokens with a wrong nonce, an expiry in the past, another client's audience or
//! another issuer are refused; a key the provider rotates in is picked up.
//!
//! The browser's part is played by following the provider's redirect by hand.

use crate::support;

use std::process::Stdio;

use crm_proto::crm::iam::v1::audit_service_client::AuditServiceClient;
use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
use crm_proto::crm::iam::v1::sso_service_client::SsoServiceClient;
use crm_proto::crm::iam::v1::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use support::iam::{PASSWORD, Session, fields, invite, login, reason, register};
use support::{TestServer, authorized, spawn_with};

const CLIENT_ID: &str = "kilang-crm";
const REDIRECT: &str = "http://127.0.0.1:9/sso/callback";

/// The provider, driven through its stdin.
struct Provider {
    issuer: String,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    _child: Child,
}

impl Provider {
    async fn start() -> Provider {
        let modules = crm_core::testing::backend("OIDC_PROVIDER_MODULES");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/oidc-provider.mjs"
        );
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .env("OIDC_PROVIDER_MODULES", modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (Node.js 20 or later is needed for the SSO tests)");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = stdout
            .next_line()
            .await
            .unwrap()
            .expect("the provider starts");
        let issuer = serde_json::from_str::<Value>(&first).unwrap()["issuer"]
            .as_str()
            .unwrap()
            .to_owned();
        Provider {
            issuer,
            stdin,
            stdout,
            _child: child,
        }
    }

    async fn send(&mut self, command: Value) -> Value {
        let line = format!("{command}\n");
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        let answer = self.stdout.next_line().await.unwrap().unwrap();
        serde_json::from_str(&answer).unwrap()
    }
}

async fn spawn() -> TestServer {
    spawn_with(|config| {
        crm_iam::config::IamConfig {
            sso_allow_loopback_http: true,
            // The rest as the test server has it (sign-ups unthrottled).
            ..crm_iam::config::IamConfig::of(config).unwrap()
        }
        .set(config);
    })
    .await
}

fn settings(provider: &Provider, provision: bool) -> SsoSettings {
    settings_at(&provider.issuer, provision)
}

/// The settings of an enabled provider at `issuer`.
fn settings_at(issuer: &str, provision: bool) -> SsoSettings {
    SsoSettings {
        enabled: true,
        issuer_url: issuer.to_owned(),
        client_id: CLIENT_ID.into(),
        client_secret: "client-secret".into(),
        redirect_uri: REDIRECT.into(),
        allowed_email_domains: vec!["kilang.example".into()],
        groups_claim: "groups".into(),
        group_roles: [("sales".to_owned(), "sales_rep".to_owned())].into(),
        default_role: "viewer".into(),
        provision_users: provision,
        ..Default::default()
    }
}

async fn configure(
    server: &TestServer,
    token: &str,
    s: SsoSettings,
) -> Result<SsoSettings, Status> {
    SsoServiceClient::new(server.channel.clone())
        .update_sso_settings(authorized(
            UpdateSsoSettingsRequest { settings: Some(s) },
            token,
        ))
        .await
        .map(|r| r.into_inner().settings.unwrap())
}

/// The browser: follows the authorization URL to the provider's redirect, returns code and state.
async fn follow(url: &str) -> (String, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = client.get(url.parse().unwrap()).await.unwrap();
    assert_eq!(response.status(), 302, "the provider redirects back");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    let query = location.split_once('?').unwrap().1;
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .map(|v| v.replace("%2F", "/").replace("%3D", "="))
            .unwrap()
    };
    (param("code"), param("state"))
}

/// One sign-in through the provider, its next ID tokens carrying `claims`.
async fn sign_in(
    server: &TestServer,
    provider: &mut Provider,
    tenant: &str,
    claims: Value,
) -> Result<CompleteSsoResponse, Status> {
    provider.send(json!({ "claims": claims })).await;
    let mut auth = AuthServiceClient::new(server.channel.clone());
    let started = auth
        .start_sso(StartSsoRequest {
            tenant: tenant.into(),
        })
        .await?
        .into_inner();
    assert!(
        started
            .authorization_url
            .contains("code_challenge_method=S256")
    );
    assert!(started.authorization_url.contains("nonce="));
    let (code, state) = follow(&started.authorization_url).await;
    assert_eq!(state, started.state, "the provider sends the state back");
    auth.complete_sso(CompleteSsoRequest { state, code })
        .await
        .map(|r| r.into_inner())
}

fn person(sub: &str, email: &str, verified: bool) -> Value {
    json!({ "sub": sub, "email": email, "email_verified": verified, "name": "Ali bin Abu" })
}

async fn owner_with_provider(server: &TestServer, provider: &Provider, provision: bool) -> Session {
    let owner = register(server, "Kilang", "owner@kilang.example").await;
    configure(server, &owner.access, settings(provider, provision))
        .await
        .unwrap();
    owner
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs OIDC_PROVIDER_MODULES (an npm prefix with oauth2-mock-server): run with --include-ignored"]
async fn staff_sign_in_through_the_tenants_provider_linked_or_provisioned() {
    let mut provider = Provider::start().await;
    let server = spawn().await;
    let owner = owner_with_provider(&server, &provider, false).await;
    let slug = owner.tenant.slug.clone();

    let stored = SsoServiceClient::new(server.channel.clone())
        .get_sso_settings(authorized(GetSsoSettingsRequest {}, &owner.access))
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    assert!(
        stored.client_secret.is_empty(),
        "the secret is never returned"
    );
    assert!(stored.client_secret_set);
    assert_eq!(stored.issuer_url, provider.issuer);

    // An invited user is linked by verified email, then by the provider's subject.
    let ali = invite(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let signed_in = sign_in(
        &server,
        &mut provider,
        &slug,
        person("idp-ali", "ali@kilang.example", true),
    )
    .await
    .unwrap();
    assert_eq!(signed_in.user.as_ref().unwrap().id, ali.id);
    assert!(!signed_in.user_created);
    assert_eq!(signed_in.token_type, "Bearer");
    let renamed = person("idp-ali", "ali.abu@kilang.example", true);
    let again = sign_in(&server, &mut provider, &slug, renamed)
        .await
        .unwrap();
    assert_eq!(
        again.user.unwrap().id,
        ali.id,
        "linked by subject, whatever the email"
    );

    // Not invited, an unverified email, another domain: refused, each saying why.
    let cases = [
        (
            person("idp-nur", "nur@kilang.example", true),
            "SSO_NOT_INVITED",
        ),
        (
            person("idp-x", "ali@kilang.example", false),
            "SSO_EMAIL_UNVERIFIED",
        ),
        (
            person("idp-y", "ali@other.example", true),
            "SSO_EMAIL_DOMAIN",
        ),
    ];
    for (claims, expected) in cases {
        let err = sign_in(&server, &mut provider, &slug, claims)
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), reason(&err)),
            (Code::PermissionDenied, expected.to_owned())
        );
    }

    // With provisioning on, a newcomer gets the roles their groups map to, and no password.
    let mut on = settings(&provider, true);
    on.client_secret = String::new();
    on.etag = stored.etag.clone();
    configure(&server, &owner.access, on.clone()).await.unwrap();
    let err = configure(&server, &owner.access, on).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "a stale etag");
    let mut nur = person("idp-nur", "nur@kilang.example", true);
    nur["groups"] = json!(["sales", "batik-lovers"]);
    let created = sign_in(&server, &mut provider, &slug, nur).await.unwrap();
    assert!(created.user_created);
    let user = created.user.unwrap();
    assert_eq!(user.email, "nur@kilang.example");
    assert_eq!(user.roles, ["sales_rep"]);
    let err = login(&server, &slug, "nur@kilang.example", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "INVALID_CREDENTIALS");

    // Every SSO sign-in and failure is in the trail.
    let events = AuditServiceClient::new(server.channel.clone())
        .list_audit_events(authorized(
            ListAuditEventsRequest {
                page_size: 100,
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .audit_events;
    let sso = |kind: AuditEventKind| {
        events
            .iter()
            .filter(|e| {
                e.kind == kind as i32 && e.details.get("method").map(String::as_str) == Some("sso")
            })
            .count()
    };
    assert_eq!(sso(AuditEventKind::LoginSucceeded), 3);
    assert_eq!(sso(AuditEventKind::LoginFailed), 3);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs OIDC_PROVIDER_MODULES (an npm prefix with oauth2-mock-server): run with --include-ignored"]
async fn id_tokens_with_a_wrong_nonce_expiry_audience_or_issuer_are_refused_and_rotated_keys_work()
{
    let mut provider = Provider::start().await;
    let server = spawn().await;
    let owner = owner_with_provider(&server, &provider, true).await;
    let slug = owner.tenant.slug.clone();
    let now = chrono::Utc::now().timestamp();
    let base = person("idp-ali", "ali@kilang.example", true);
    let with = |extra: Value| {
        let mut claims = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    for (extra, what, why) in [
        (
            json!({"nonce": "not-the-one-sent"}),
            "a wrong nonce",
            "nonce mismatch",
        ),
        (
            json!({"exp": now - 3600, "iat": now - 7200, "nbf": now - 7200}),
            "an expired ID token",
            "ID token expired",
        ),
        (
            json!({"aud": "another-client"}),
            "a token for another client",
            "must contain `kilang-crm`",
        ),
        (
            json!({"aud": [CLIENT_ID, "another-client"], "azp": "another-client"}),
            "another authorized party",
            "not a trusted audience",
        ),
        (
            json!({"iss": "http://localhost:1/evil"}),
            "another issuer",
            "Invalid issuer",
        ),
    ] {
        let err = sign_in(&server, &mut provider, &slug, with(extra))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{what}: {err:?}");
        assert_eq!(reason(&err), "SSO_ID_TOKEN_INVALID", "{what}");
        assert!(err.message().contains(why), "{what}: {}", err.message());
    }
    // A state completes once.
    provider.send(json!({ "claims": base })).await;
    let mut auth = AuthServiceClient::new(server.channel.clone());
    let started = auth
        .start_sso(StartSsoRequest {
            tenant: slug.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let (code, state) = follow(&started.authorization_url).await;
    auth.complete_sso(CompleteSsoRequest {
        state: state.clone(),
        code: code.clone(),
    })
    .await
    .unwrap();
    let err = auth
        .complete_sso(CompleteSsoRequest { state, code })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "SSO_STATE_INVALID");

    // The provider rotates a new key in: sign-ins keep working, with tokens it signs.
    let rotated = provider.send(json!({ "rotate": true })).await["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        sign_in(&server, &mut provider, &slug, base.clone())
            .await
            .expect("a rotated key verifies");
    }
    let kids = provider.send(json!({ "kids": true })).await;
    let kids: Vec<&str> = kids["kids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(
        kids.ends_with(&[rotated.as_str()]) || kids[kids.len() - 2] == rotated,
        "{kids:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs OIDC_PROVIDER_MODULES (an npm prefix with oauth2-mock-server): run with --include-ignored"]
async fn settings_are_checked_owned_by_their_tenant_and_only_owners_change_them() {
    let mut provider = Provider::start().await;
    let server = spawn().await;
    let a = register(&server, "Kilang", "owner@kilang.example").await;
    let b = register(&server, "Other", "owner@other.example").await;

    let mut bad = settings(&provider, true);
    bad.issuer_url = "ftp://idp.example".into();
    bad.redirect_uri = "nowhere".into();
    bad.client_secret = String::new();
    bad.group_roles = [("boss".to_owned(), "owner".to_owned())].into();
    bad.default_role = "emperor".into();
    let err = configure(&server, &a.access, bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&err),
        [
            "settings.issuer_url",
            "settings.redirect_uri",
            "settings.group_roles",
            "settings.default_role",
            "settings.client_secret",
        ]
    );
    let mut unreachable = settings(&provider, true);
    unreachable.issuer_url = "http://127.0.0.1:1".into();
    let err = configure(&server, &a.access, unreachable)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["settings.issuer_url"]);

    let ali = invite(&server, &a, "ali@kilang.example", &["admin"]).await;
    let admin = login(&server, &a.tenant.slug, &ali.email, PASSWORD)
        .await
        .unwrap();
    let err = configure(&server, &admin.access_token, settings(&provider, true))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "tenant.manage is the owner's"
    );

    configure(&server, &a.access, settings(&provider, true))
        .await
        .unwrap();
    // Tenant B sees no provider and has none to start.
    let none = SsoServiceClient::new(server.channel.clone())
        .get_sso_settings(authorized(GetSsoSettingsRequest {}, &b.access))
        .await
        .unwrap()
        .into_inner()
        .settings;
    assert!(none.is_none());
    let mut auth = AuthServiceClient::new(server.channel.clone());
    let err = auth
        .start_sso(StartSsoRequest {
            tenant: b.tenant.slug.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::FailedPrecondition, "SSO_NOT_CONFIGURED".to_owned())
    );
    let err = auth
        .start_sso(StartSsoRequest {
            tenant: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["tenant"]);
    // A's flow pointed at B is unknown there.
    provider
        .send(json!({ "claims": person("idp-a", "a@kilang.example", true) }))
        .await;
    let started = auth
        .start_sso(StartSsoRequest {
            tenant: a.tenant.slug.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let (code, state) = follow(&started.authorization_url).await;
    let moved = state.replace(&a.tenant.id.replace('-', ""), &b.tenant.id.replace('-', ""));
    let err = auth
        .complete_sso(CompleteSsoRequest {
            state: moved,
            code: code.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "SSO_STATE_INVALID");
    let err = auth
        .complete_sso(CompleteSsoRequest {
            state,
            code: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["code"]);
}

/// The field violations' descriptions of `status`.
fn violations(status: &Status) -> Vec<(String, String)> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| {
            b.field_violations
                .iter()
                .map(|v| (v.field.clone(), v.description.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// No provider needed: an owner cannot aim the CRM at this machine's ports unless the operator
/// allowed a local provider, the issuer is only a scheme, host, port and path (the discovery
/// document's path is fixed), and every failed discovery answers the same words, whatever
/// listened there and whatever it said.
#[tokio::test(flavor = "multi_thread")]
async fn an_issuer_on_this_machine_or_with_extras_is_refused_and_failures_answer_alike() {
    // Something listening on this machine that is not a provider, and says things.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 24\r\n\r\nSSH-2.0-internal-banner\n",
                )
                .await;
        }
    });
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let with_issuer = |issuer: String| settings_at(&issuer, false);

    // By default (every mode, the embedded one included) plain HTTP to this machine is refused
    // before anything is fetched.
    let server = spawn_with(|_| {}).await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let refused = [
        (
            format!("http://127.0.0.1:{}", open.port()),
            "must not point at this machine",
        ),
        (
            format!("http://localhost:{}", closed.port()),
            "must be an https:// URL",
        ),
        // Extras an issuer never has: a query, a fragment, credentials, the discovery path.
        (
            "https://idp.example/?next=/admin".into(),
            "must not have a ?query",
        ),
        ("https://idp.example/#x".into(), "must not have a #fragment"),
        (
            "https://user:pass@idp.example".into(),
            "must not carry a user name or password",
        ),
        (
            "https://idp.example/.well-known/openid-configuration".into(),
            "must be the issuer itself",
        ),
    ];
    for (issuer, why) in refused {
        let err = configure(&server, &owner.access, with_issuer(issuer.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{issuer}");
        let found = violations(&err);
        assert_eq!(found.len(), 1, "{issuer}: {found:?}");
        assert_eq!(found[0].0, "settings.issuer_url");
        assert!(found[0].1.starts_with(why), "{issuer}: {:?}", found[0].1);
    }

    // Allowed by the operator (development): an open port that is not a provider, a closed one
    // and the CRM itself all answer the same words, naming nothing they said.
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let mut answers = Vec::new();
    for issuer in [
        format!("http://127.0.0.1:{}", open.port()),
        format!("http://127.0.0.1:{}", closed.port()),
        format!("http://127.0.0.1:{}/realms/x", server.addr.port()),
    ] {
        let err = configure(&server, &owner.access, with_issuer(issuer.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{issuer}");
        let found = violations(&err);
        assert_eq!(found.len(), 1, "{issuer}: {found:?}");
        assert_eq!(found[0].0, "settings.issuer_url");
        answers.push((found[0].1.clone(), err.message().to_owned()));
    }
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "every failed discovery answers alike: {answers:#?}"
    );
    for word in [
        "banner",
        "refused",
        "connect",
        "404",
        "Not Found",
        "status",
        "error",
    ] {
        assert!(!answers[0].0.contains(word), "{word} in {:?}", answers[0].0);
    }
}

//! Test helpers: a CRM server on a free port with a temp data dir and a test signing key.

#![allow(dead_code)]

pub mod iam;
pub mod smtp;

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use crm_core::auth::{ACCESS_TOKEN_TYPE, AccessClaims};
use crm_core::config::{Config, Target};
use crm_core::{TenantId, UserId};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tonic::transport::Channel;

/// A running server; dropping it stops the server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub data_dir: std::path::PathBuf,
    pub channel: Channel,
    signing_key: EncodingKey,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The server's run: what `run_until` returned, once it stops.
    pub run: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _data_dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub const KID: &str = "test-key-1";

fn test_signing_key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

/// Starts the whole CRM (`--target all`).
pub async fn spawn() -> TestServer {
    spawn_with(|_| {}).await
}

/// Starts the CRM with `adjust` applied to a test configuration.
pub async fn spawn_targets(targets: &[Target]) -> TestServer {
    let targets = targets.to_vec();
    spawn_with(move |config| config.target = targets).await
}

/// Starts the CRM on 127.0.0.1:0 with a temp data dir and a JWK Set holding the test key.
pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
    spawn_app(adjust, |app| app).await
}

/// As [`spawn_with`], with `extend` applied to the built application before it runs.
pub async fn spawn_app(
    adjust: impl FnOnce(&mut Config),
    extend: impl FnOnce(crm::Application) -> crm::Application,
) -> TestServer {
    spawn_on(crm::Contexts::BUILT_IN, adjust, extend).await
}

/// As [`spawn_with`], serving `contexts` instead of the binary's own list.
pub async fn spawn_contexts(
    contexts: crm::Contexts,
    adjust: impl FnOnce(&mut Config),
) -> TestServer {
    spawn_on(contexts, adjust, |app| app).await
}

async fn spawn_on(
    contexts: crm::Contexts,
    adjust: impl FnOnce(&mut Config),
    extend: impl FnOnce(crm::Application) -> crm::Application,
) -> TestServer {
    let data_dir = tempfile::tempdir().unwrap();
    let key = test_signing_key(7);
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let jwks = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": KID, "alg": "EdDSA", "use": "sig"}]});
    let jwks_file = data_dir.path().join("jwks.json");
    std::fs::write(&jwks_file, jwks.to_string()).unwrap();

    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.path().join("data"),
        ..Config::default()
    };
    config.auth.jwks_file = Some(jwks_file);
    // Quotas off: tests poll and loop as fast as they like. `tests/rest.rs` sets them.
    config.rate_limit.tenant_per_minute = 0;
    config.rate_limit.subject_per_minute = 0;
    // Sign-ups unthrottled: a suite signs up many workspaces from 127.0.0.1; `hardening.rs`
    // sets the limits where it tests them.
    crm_iam::config::IamConfig {
        signup_address_limit: 0,
        signup_limit: 0,
        ..Default::default()
    }
    .set(&mut config);
    // `KILANG_TEST_CUSTOMER_STORE=mongodb` (with MONGODB_URL) keeps a suite's customers on
    // MongoDB, each server in a database of its own: CI runs the customer and sales journeys so.
    if std::env::var("KILANG_TEST_CUSTOMER_STORE").as_deref() == Ok("mongodb") {
        let url = crm_core::testing::backend("MONGODB_URL");
        config.mongodb.url = Some(crm_core::config::Secret::new(url));
        crm_customer::config::CustomerConfig {
            store: Some(crm_customer::config::StoreKind::Mongodb),
            mongodb_database: format!("crm_test_{}", uuid::Uuid::now_v7().simple()),
            ..Default::default()
        }
        .set(&mut config);
    }
    adjust(&mut config);

    let app = extend(
        crm::Application::build_with(config, contexts)
            .await
            .expect("the server builds"),
    );
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    // The listener is bound already: connecting cannot race the server's start.
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    TestServer {
        addr,
        data_dir: data_dir.path().join("data"),
        channel,
        signing_key: EncodingKey::from_ed_der(key.to_pkcs8_der().unwrap().as_bytes()),
        stop: Some(stop),
        run: Some(run),
        _data_dir: data_dir,
    }
}

impl TestServer {
    /// A valid access token for a new user of a new tenant.
    pub fn token(&self) -> String {
        self.token_for(TenantId::new(), UserId::new(), &["owner"])
    }

    /// A valid access token for `user` of `tenant`.
    pub fn token_for(&self, tenant: TenantId, user: UserId, roles: &[&str]) -> String {
        sign(&self.signing_key, tenant, user, roles)
    }

    /// A valid access token whose claims grant `perms`, whatever the store says of the user: a
    /// token issued before a change (or by a compromised signer) claims more than is true now.
    pub fn token_claiming(
        &self,
        tenant: TenantId,
        user: UserId,
        roles: &[&str],
        perms: &[&str],
    ) -> String {
        sign_claims(&self.signing_key, tenant, user, roles, perms)
    }

    /// A token signed by a key the server does not know, under the server's `kid`.
    pub fn forged_token(&self) -> String {
        let stranger =
            EncodingKey::from_ed_der(test_signing_key(99).to_pkcs8_der().unwrap().as_bytes());
        sign(&stranger, TenantId::new(), UserId::new(), &["owner"])
    }
}

/// An access token as IAM would issue it, signed with `key` under the test `kid`.
fn sign(key: &EncodingKey, tenant: TenantId, user: UserId, roles: &[&str]) -> String {
    sign_claims(key, tenant, user, roles, &[])
}

fn sign_claims(
    key: &EncodingKey,
    tenant: TenantId,
    user: UserId,
    roles: &[&str],
    perms: &[&str],
) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = AccessClaims {
        iss: "kilang-crm".into(),
        aud: "kilang-crm".into(),
        sub: user.to_string(),
        tid: tenant.to_string(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        perms: perms.iter().map(|p| p.to_string()).collect(),
        team: None,
        exp: now + 600,
        iat: now,
        nbf: now,
        jti: uuid::Uuid::now_v7().to_string(),
        svc: None,
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(KID.into());
    header.typ = Some(ACCESS_TOKEN_TYPE.into());
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

/// `request` with `authorization: Bearer <token>`.
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// An HTTP/1.1 connection to `addr`, as a browser or a scraper opens one.
pub async fn http1_connection(
    addr: impl tokio::net::ToSocketAddrs,
) -> hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    sender
}

/// `request` over HTTP/1.1 to `addr`: the answer's head and body.
pub async fn http1(
    addr: impl tokio::net::ToSocketAddrs,
    request: http::Request<http_body_util::Full<bytes::Bytes>>,
) -> (http::response::Parts, bytes::Bytes) {
    use http_body_util::BodyExt;
    let mut sender = http1_connection(addr).await;
    let (parts, body) = sender.send_request(request).await.unwrap().into_parts();
    (parts, body.collect().await.unwrap().to_bytes())
}

/// `GET /metrics` of the server at `addr`.
pub async fn scrape(addr: impl std::fmt::Display) -> String {
    let addr = addr.to_string();
    let request = http::Request::get(format!("http://{addr}/metrics"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let (_, body) = http1(addr.as_str(), request).await;
    String::from_utf8_lossy(&body).into_owned()
}

/// The summaries of the entries on the timeline of the record (`record_type`, `id`), newest
/// first, as `token` reads them.
pub async fn timeline_summaries(
    server: &TestServer,
    token: &str,
    record_type: crm_proto::crm::activity::v1::RecordType,
    id: &str,
) -> Vec<String> {
    use crm_proto::crm::activity::v1 as act;
    act::timeline_service_client::TimelineServiceClient::new(server.channel.clone())
        .list_timeline(authorized(
            act::ListTimelineRequest {
                record: Some(act::RecordRef {
                    r#type: record_type as i32,
                    id: id.to_owned(),
                }),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .entries
        .into_iter()
        .map(|e| e.summary)
        .collect()
}

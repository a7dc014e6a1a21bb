//! IAM helpers for the gRPC tests: sign up, invite, log in, refresh, read an error's reason.

use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
use crm_proto::crm::iam::v1::user_service_client::UserServiceClient;
use crm_proto::crm::iam::v1::*;
use tonic::Status;
use tonic_types::StatusExt;

use super::{TestServer, authorized};

pub const PASSWORD: &str = "batik canting motif";

pub struct Session {
    pub access: String,
    pub refresh: String,
    pub user: User,
    pub tenant: Tenant,
}

pub async fn register(server: &TestServer, tenant_name: &str, email: &str) -> Session {
    let mut auth = AuthServiceClient::new(server.channel.clone());
    let r = auth
        .register(RegisterRequest {
            locale: String::new(),
            tenant_name: tenant_name.into(),
            email: email.into(),
            password: PASSWORD.into(),
            display_name: "Siti Aminah".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.token_type, "Bearer");
    Session {
        access: r.access_token,
        refresh: r.refresh_token,
        user: r.user.unwrap(),
        tenant: r.tenant.unwrap(),
    }
}

pub async fn invite(server: &TestServer, owner: &Session, email: &str, roles: &[&str]) -> User {
    let mut users = UserServiceClient::new(server.channel.clone());
    let user = User {
        email: email.into(),
        display_name: "Ali".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        ..Default::default()
    };
    let request = CreateUserRequest {
        user: Some(user),
        password: PASSWORD.into(),
        request_id: String::new(),
    };
    users
        .create_user(authorized(request, &owner.access))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap()
}

/// Someone invited into the owner's tenant with `roles`, signed in: their access token.
pub async fn member(server: &TestServer, owner: &Session, email: &str, roles: &[&str]) -> String {
    invite(server, owner, email, roles).await;
    login(server, &owner.tenant.slug, email, PASSWORD)
        .await
        .unwrap()
        .access_token
}

pub async fn login(
    server: &TestServer,
    tenant: &str,
    email: &str,
    password: &str,
) -> Result<LoginResponse, Status> {
    let mut auth = AuthServiceClient::new(server.channel.clone());
    auth.login(LoginRequest {
        tenant: tenant.into(),
        email: email.into(),
        password: password.into(),
    })
    .await
    .map(|r| r.into_inner())
}

pub async fn refresh(server: &TestServer, token: &str) -> Result<RefreshResponse, Status> {
    let mut auth = AuthServiceClient::new(server.channel.clone());
    auth.refresh(RefreshRequest {
        refresh_token: token.into(),
    })
    .await
    .map(|r| r.into_inner())
}

pub fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// A new API key of `token`'s tenant acting as `role`: its secret.
pub async fn api_key(server: &TestServer, token: &str, role: &str) -> String {
    use crm_proto::crm::iam::v1::api_key_service_client::ApiKeyServiceClient;
    let request = CreateApiKeyRequest {
        name: "shop".into(),
        role_id: role.into(),
        expire_time: None,
        request_id: String::new(),
    };
    ApiKeyServiceClient::new(server.channel.clone())
        .create_api_key(authorized(request, token))
        .await
        .unwrap()
        .into_inner()
        .secret
}

/// The fields an `INVALID_ARGUMENT` names.
pub fn fields(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// The code an authenticator app holding `secret` (base32) shows `offset_secs` from now.
pub fn app_code(secret: &str, offset_secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    crm_iam::domain::mfa::Mfa {
        secret: secret.to_owned(),
        confirmed_at: None,
    }
    .code_at((now + offset_secs) as u64)
}

/// The CRM with IAM on PostgreSQL and Redis (migrated first); `DATABASE_URL` and `REDIS_URL`
/// are required. Keep the returned directory: it holds IAM's signing key.
pub async fn spawn_postgres() -> (TestServer, tempfile::TempDir) {
    let database = crm_core::testing::backend("DATABASE_URL");
    let redis = crm_core::testing::backend("REDIS_URL");
    let keys = tempfile::tempdir().unwrap();
    crm_iam::infrastructure::keys::SigningKeys::rotate(keys.path()).unwrap();
    let dir = keys.path().to_owned();
    let configure = move |config: &mut crm_core::Config| {
        config.target = vec![crm_core::config::Target::named("iam")];
        config.database.url = Some(crm_core::config::Secret::new(database.clone()));
        config.redis.url = Some(crm_core::config::Secret::new(redis.clone()));
        crm_iam::config::IamConfig {
            signing_keys_dir: Some(dir.clone()),
            throttle_key_prefix: format!("crm:test:{}:", uuid::Uuid::now_v7().simple()),
            // Many sign-ups from 127.0.0.1, as in every suite (see `spawn_with`).
            signup_address_limit: 0,
            signup_limit: 0,
            ..Default::default()
        }
        .set(config);
    };
    let mut config = crm_core::Config::default();
    configure(&mut config);
    crm::migrate(&config).await.expect("crm migrate");
    (super::spawn_with(configure).await, keys)
}

/// A tenant name no earlier run used (PostgreSQL keeps tenants between runs).
pub fn unique_name(base: &str) -> String {
    format!("{base} {}", uuid::Uuid::now_v7().simple())
}

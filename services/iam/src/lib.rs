//! IAM: tenants, users, roles and permissions, sessions (register, login, refresh, logout) with
//! EdDSA JWTs, RBAC + ABAC, audit log, login rate limits.
//!
//! `domain/` holds the rules, `application/` the use cases, `infrastructure/` the SQLite,
//! PostgreSQL and Redis adapters, the hasher and the keys, `interfaces/grpc.rs` the API.

pub mod application;
pub mod config;
pub mod domain;
pub mod infrastructure;
pub mod interfaces;

use std::sync::Arc;

use crate::domain::role::Catalog;
use anyhow::Context as _;
use crm_core::Config;
use crm_core::grpc::ServiceSet;
use crm_core::storage::{Database, Migrations};
use crm_events::bounded::{Access, BoundedContext, Provides, Started, Startup};
use crm_proto::crm::iam::v1 as pb;
use futures::future::BoxFuture;

use crate::application::{Adapters, Iam, IamSettings};
use crate::domain::ports::{IamStore, LoginThrottle};
use crate::infrastructure::hasher::PasswordHasher;
use crate::infrastructure::keys::SigningKeys;
use crate::infrastructure::oidc::Oidc;
use crate::infrastructure::secrets::SecretBox;
use crate::infrastructure::sql::SqlIamStore;
use crate::infrastructure::throttle::{MemoryThrottle, RedisThrottle};
use crate::interfaces::grpc::IamGrpc;
use crm_core::idempotency::Idempotency;
use crm_core::revocation::Revocations;

/// IAM's embedded migrations.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("../../migrations/iam/sqlite"),
    postgres: sqlx::migrate!("../../migrations/iam/postgres"),
};

/// Methods callable without an access token: they are how a caller gets one.
pub const OPEN_METHODS: [&str; 11] = [
    "/crm.iam.v1.AuthService/Register",
    "/crm.iam.v1.AuthService/Login",
    "/crm.iam.v1.AuthService/VerifyMfa",
    "/crm.iam.v1.AuthService/EnrollMfa",
    "/crm.iam.v1.AuthService/IssueServiceToken",
    "/crm.iam.v1.AuthService/StartSso",
    "/crm.iam.v1.AuthService/CompleteSso",
    "/crm.iam.v1.AuthService/Refresh",
    "/crm.iam.v1.AuthService/GetJwks",
    "/crm.iam.v1.AuthService/GetInvitation",
    "/crm.iam.v1.AuthService/AcceptInvitation",
];

/// IAM, for the launcher's list: its store and migrations, its topic, and its start, which
/// builds [`Iam`], registers its services and hands the process the keys that verify the tokens
/// it signs.
pub static CONTEXT: BoundedContext = BoundedContext {
    name: "iam",
    has_store: true,
    topic: Some("crm.iam.events.v1"),
    migrations: Some(&MIGRATIONS),
    config: Some(&config::SECTION),
    services: crm_proto::services::IAM,
    access: ACCESS,
    calls: &[],
    service_secret: None,
    provides: Provides {
        service_secrets: Some(issue_service_secret),
        api_keys: Some(domain::api_key::looks_like_key),
    },
    permissions: domain::role::PERMISSIONS,
    sends_notices: false,
    start,
};

/// A secret for `service`'s account that only this process knows (its hash in
/// `iam.service_accounts`, never written anywhere), unless the configuration gives it one.
fn issue_service_secret(
    config: &mut crm_core::Config,
    service: &str,
) -> anyhow::Result<Option<crm_core::config::Secret>> {
    let mut iam = config::IamConfig::of(config)?;
    if iam.service_accounts.contains_key(service) {
        return Ok(None);
    }
    let secret = domain::service_account::new_secret()
        .map_err(|e| anyhow::anyhow!("no randomness for {service}'s service secret: {e}"))?;
    iam.service_accounts.insert(
        service.to_owned(),
        domain::service_account::hash_secret(&secret),
    );
    iam.set(config);
    Ok(Some(crm_core::config::Secret::new(secret)))
}

/// Who calls IAM's methods: the [`OPEN_METHODS`] without a token, the directory only services.
pub const ACCESS: Access = Access {
    open: &OPEN_METHODS,
    for_services: &[],
    internal: &["/crm.iam.v1.DirectoryService/LookupUsers"],
};

fn start(startup: Startup<'_>) -> BoxFuture<'_, anyhow::Result<Started>> {
    Box::pin(async move {
        let db = startup
            .db
            .context("IAM needs its store; it is opened for every context with has_store")?;
        let iam = build(startup.config, db, startup.revocations.clone())
            .await?
            .with_permissions(Catalog::new(startup.permissions.iter().copied()));
        let token_keys = Some(iam.signer().jwks());
        let api_keys: Arc<dyn crm_core::layer::ApiKeys> = Arc::new(iam.clone());
        Ok(Started {
            register: Box::new(move |services: &mut ServiceSet| register(services, iam)),
            token_keys,
            api_keys: Some(api_keys),
            ..Started::default()
        })
    })
}

/// Builds the IAM service on a migrated database: the SQL store for its engine, the throttle
/// (Redis when `redis.url` is set, else in memory), the hasher and the signing keys.
/// `revocations` is where it marks revoked access tokens: the same the auth layer checks.
pub async fn build(
    config: &Config,
    db: &Database,
    revocations: Revocations,
) -> anyhow::Result<Iam> {
    let iam_config = config::IamConfig::of(config)?;
    let keys_dir = iam_config.signing_keys_dir(config);
    // Where the signing keys may be made, so may the key that seals stored secrets; every IAM
    // process of a deployment must share it.
    let secrets = if config.database.url.is_none() || keys_dir.exists() {
        SecretBox::load_or_create(&keys_dir)?
    } else {
        SecretBox::require(&keys_dir)?
    };
    let store: Arc<dyn IamStore> = Arc::new(SqlIamStore::new(db.clone(), secrets));
    let throttle: Arc<dyn LoginThrottle> = match &config.redis.url {
        Some(url) => Arc::new(
            RedisThrottle::connect(url.expose(), &iam_config.throttle_key_prefix)
                .await
                .with_context(|| {
                    format!(
                        "cannot connect to Redis at {} (redis.url / REDIS_URL)",
                        url.redacted()
                    )
                })?,
        ),
        None => Arc::new(MemoryThrottle::new()),
    };
    let concurrency = match iam_config.hash_concurrency {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n,
    };
    let keys = if config.database.url.is_none() || keys_dir.exists() {
        SigningKeys::load_or_create(&keys_dir)?
    } else {
        SigningKeys::load(&keys_dir)?
    };
    let adapters = Adapters {
        store,
        throttle,
        hasher: Arc::new(PasswordHasher::new(concurrency)),
        keys: Arc::new(keys),
        clock: Arc::new(crm_core::clock::SystemClock),
        revocations,
        idempotency: Idempotency::new(db.clone()),
        oidc: Arc::new(Oidc::new(iam_config.sso_allow_loopback_http)?),
    };
    Ok(Iam::new(adapters, IamSettings::from_config(config)?))
}

/// Adds IAM's services to a server.
pub fn register(services: &mut ServiceSet, iam: Iam) {
    let grpc = IamGrpc::new(iam);
    services
        .add(pb::auth_service_server::AuthServiceServer::new(
            grpc.clone(),
        ))
        .add(pb::user_service_server::UserServiceServer::new(
            grpc.clone(),
        ))
        .add(pb::role_service_server::RoleServiceServer::new(
            grpc.clone(),
        ))
        .add(pb::tenant_service_server::TenantServiceServer::new(
            grpc.clone(),
        ))
        .add(pb::authorization_service_server::AuthorizationServiceServer::new(grpc.clone()))
        .add(pb::api_key_service_server::ApiKeyServiceServer::new(
            grpc.clone(),
        ))
        .add(pb::mfa_service_server::MfaServiceServer::new(grpc.clone()))
        .add(pb::directory_service_server::DirectoryServiceServer::new(
            grpc.clone(),
        ))
        .add(pb::sso_service_server::SsoServiceServer::new(grpc.clone()))
        .add(pb::saved_view_service_server::SavedViewServiceServer::new(
            grpc.clone(),
        ))
        .add(pb::audit_service_server::AuditServiceServer::new(grpc));
    ACCESS.apply(services);
}

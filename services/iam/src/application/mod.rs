//! IAM's use cases: one method each on [`Iam`], orchestrating the domain and the ports.

pub mod api_keys;
mod auth;
mod by_email;
mod invitations;
pub mod mfa;
pub mod roles;
mod rules;
mod services;
mod sessions;
mod signin;
mod signup;
mod sso;
mod tenants;
mod users;
mod views;

use std::sync::Arc;
use std::time::Duration;

use crm_core::auth::AccessClaims;
use crm_core::idempotency::Idempotency;
use crm_core::revocation::Revocations;
use crm_core::{Error, Principal, Result, TenantId, UserId};
use uuid::Uuid;

use crate::domain::Millis;
use crate::domain::audit::Origin;
use crate::domain::ports::{IamStore, LoginThrottle};
use crate::domain::ports::{OpenIdProvider, PasswordHashing, TokenSigning};
use crate::domain::role::{Catalog, CustomRole};
use crate::domain::session::{Session, issue_refresh_token, refresh_expiry};
use crate::domain::user::User;
use crm_core::clock::Clock;

pub use invitations::InvitationView;
pub use mfa::Enrolment;
pub use services::ServiceToken;
pub use signin::{PendingSignIn, SessionTokens, SignIn, Workspace};
pub use sso::StartedSso;
pub use users::UserPage;

/// Settings of the use cases, from configuration.
#[derive(Clone, Debug)]
pub struct IamSettings {
    /// `iss` of issued tokens.
    pub issuer: String,
    /// `aud` of issued tokens.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Refresh-token lifetime.
    pub refresh_ttl: Duration,
    /// Failures per account before a lockout.
    pub account_failure_limit: u32,
    /// Failures per client address before a lockout.
    pub address_failure_limit: u32,
    /// Failures per tenant before a lockout.
    pub tenant_failure_limit: u32,
    /// The counting window.
    pub failure_window: Duration,
    /// The lockout.
    pub lockout: Duration,
    /// Sign-ups per client address per window (0: no limit).
    pub signup_address_limit: u32,
    /// Sign-ups in all per window (0: no limit).
    pub signup_limit: u32,
    /// The window sign-ups are counted in.
    pub signup_window: Duration,
    /// Invitation emails a workspace sends per day (0: no limit).
    pub invitation_daily_limit: u32,
    /// Service name → SHA-256 of its secret (`iam.service_accounts`).
    pub service_accounts: std::collections::BTreeMap<String, String>,
    /// Service-token lifetime.
    pub service_token_ttl: Duration,
    /// Whether single sign-on may use a plain-HTTP provider on a loopback address (tests,
    /// local providers); HTTPS only otherwise.
    pub sso_allow_loopback_http: bool,
    /// The console's address, which invitation links open.
    pub console_url: String,
}

impl IamSettings {
    /// From the process configuration.
    pub fn from_config(
        config: &crm_core::Config,
    ) -> Result<IamSettings, crm_core::config::ConfigError> {
        let iam = &crate::config::IamConfig::of(config)?;
        Ok(IamSettings {
            issuer: config.auth.issuer.clone(),
            audience: config.auth.audience.clone(),
            access_ttl: Duration::from_secs(iam.access_token_ttl_seconds),
            refresh_ttl: Duration::from_secs(iam.refresh_token_ttl_days * 24 * 3600),
            account_failure_limit: iam.account_failure_limit,
            address_failure_limit: iam.address_failure_limit,
            tenant_failure_limit: iam.tenant_failure_limit,
            failure_window: Duration::from_secs(iam.failure_window_seconds),
            lockout: Duration::from_secs(iam.lockout_seconds),
            signup_address_limit: iam.signup_address_limit,
            signup_limit: iam.signup_limit,
            signup_window: Duration::from_secs(iam.signup_window_seconds),
            invitation_daily_limit: iam.invitation_daily_limit,
            service_accounts: iam.service_accounts.clone(),
            service_token_ttl: Duration::from_secs(iam.service_token_ttl_seconds),
            sso_allow_loopback_http: iam.sso_allow_loopback_http,
            console_url: iam.console_url(config),
        })
    }
}

/// Who calls a use case and from where.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The authenticated user.
    pub principal: Principal,
    /// Where the call came from.
    pub origin: Origin,
}

/// The IAM application service.
#[derive(Clone)]
pub struct Iam {
    store: Arc<dyn IamStore>,
    throttle: Arc<dyn LoginThrottle>,
    hasher: Arc<dyn PasswordHashing>,
    keys: Arc<dyn TokenSigning>,
    clock: Arc<dyn Clock>,
    revocations: Revocations,
    idempotency: Idempotency,
    settings: IamSettings,
    api_keys: api_keys::KeyCache,
    oidc: Arc<dyn OpenIdProvider>,
    /// Every permission a role can grant (IAM's and the other contexts').
    catalog: Arc<Catalog>,
}

/// IAM's adapters, for [`Iam::new`].
pub struct Adapters {
    /// The store.
    pub store: Arc<dyn IamStore>,
    /// The login throttle.
    pub throttle: Arc<dyn LoginThrottle>,
    /// The password hasher (argon2id; a fake in use-case tests).
    pub hasher: Arc<dyn PasswordHashing>,
    /// The token signer.
    pub keys: Arc<dyn TokenSigning>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Where access-token revocations are marked (shared with the auth layer).
    pub revocations: Revocations,
    /// Idempotency keys of the create RPCs, in IAM's store.
    pub idempotency: Idempotency,
    /// The relying party of single sign-on.
    pub oidc: Arc<dyn OpenIdProvider>,
}

impl Iam {
    /// Wires the use cases to their adapters.
    pub fn new(adapters: Adapters, settings: IamSettings) -> Iam {
        let Adapters {
            store,
            throttle,
            hasher,
            keys,
            clock,
            revocations,
            idempotency,
            oidc,
        } = adapters;
        Iam {
            store,
            throttle,
            hasher,
            keys,
            clock,
            revocations,
            idempotency,
            settings,
            api_keys: api_keys::key_cache(),
            oidc,
            catalog: Arc::new(Catalog::default()),
        }
    }

    /// Hands out `catalog`'s permissions (IAM's own and every other context's) instead of IAM's
    /// own only: what the launcher does with the permissions its contexts declare.
    pub fn with_permissions(mut self, catalog: Catalog) -> Iam {
        self.catalog = Arc::new(catalog);
        self
    }

    /// Every permission a role can grant.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The token signer (its public keys verify tokens).
    pub fn signer(&self) -> &dyn TokenSigning {
        self.keys.as_ref()
    }

    /// Now, by the clock the use cases run on.
    pub(crate) fn now(&self) -> Millis {
        self.clock.now_millis()
    }

    /// The idempotency keys of IAM's create RPCs.
    pub fn idempotency(&self) -> &Idempotency {
        &self.idempotency
    }

    /// The caller as the store knows them now, for administration: the token says who calls,
    /// but roles and status come from the store, so a right revoked a second ago is gone here
    /// even if the revocation mark has not reached this process.
    pub(crate) async fn current(&self, caller: &Caller) -> Result<Principal> {
        let p = &caller.principal;
        if p.api_key_id.is_some() {
            // An API key: its role was read with it, at most `KEY_CACHE_TTL` ago.
            return Ok(p.clone());
        }
        let user = self
            .store
            .get_user(p.tenant_id, p.user_id)
            .await?
            .filter(User::is_active)
            .ok_or_else(|| {
                Error::unauthenticated(
                    "your account is deactivated or deleted; ask an administrator of your tenant",
                )
                .with_reason("ACCOUNT_INACTIVE")
            })?;
        let custom = self.custom_roles_of(&user).await?;
        Ok(Principal {
            permissions: self.catalog.effective_permissions(&user.roles, &custom),
            roles: user.roles,
            team: user.team,
            ..p.clone()
        })
    }

    /// The tenant's custom roles when `user` holds one; none otherwise (no query).
    async fn custom_roles_of(&self, user: &User) -> Result<Vec<CustomRole>> {
        if user
            .roles
            .iter()
            .all(|r| crate::domain::role::is_built_in(r))
        {
            Ok(Vec::new())
        } else {
            self.store.list_custom_roles(user.tenant_id).await
        }
    }

    /// Cuts every access token of `user` issued before now, in every process that checks the
    /// marks. Written before the change is saved: if the mark cannot be written the change is
    /// refused, never saved with old tokens still valid.
    pub(crate) async fn revoke_tokens(&self, user: UserId) -> Result<()> {
        let keep = self.settings.access_ttl + Duration::from_secs(60);
        self.revocations.revoke(user, self.now(), keep).await
    }

    /// Signs an access token and makes a refresh token for `user`: in the session of
    /// `previous` (a refresh), or a new one (a sign-in). The token's permissions are the
    /// roles' as the tenant's `settings` widen them
    /// ([`crate::domain::tenant::TenantSettings::widen`]). The refresh token ends at the first
    /// of its configured lifetime and the tenant's session limits (idle timeout, maximum
    /// lifetime; [`crate::domain::tenant::TenantSettings::session_limits`]).
    async fn issue(
        &self,
        user: &User,
        previous: Option<&Session>,
        method: crate::domain::session::SignInMethod,
        settings: &crate::domain::tenant::TenantSettings,
        now: Millis,
    ) -> Result<(SessionTokens, Session)> {
        let limits = settings.session_limits();
        // Custom roles are read only when the user holds one: most logins need no query for them.
        let custom = self.custom_roles_of(user).await?;
        let (secs, exp) = (
            now / 1000,
            (now + self.settings.access_ttl.as_millis() as i64) / 1000,
        );
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: user.id.to_string(),
            tid: user.tenant_id.to_string(),
            roles: user.roles.clone(),
            perms: settings.widen(self.catalog.effective_permissions(&user.roles, &custom)),
            team: user.team.clone(),
            exp: exp as u64,
            iat: secs as u64,
            nbf: secs as u64,
            // The jti carries the issue time to the millisecond, which revocation marks compare.
            jti: Uuid::new_v7(uuid::Timestamp::from_unix(
                uuid::NoContext,
                (now / 1000) as u64,
                (now % 1000) as u32 * 1_000_000,
            ))
            .to_string(),
            svc: None,
        };
        let access_token = self.keys.sign(&claims)?;
        let refresh = issue_refresh_token(user.tenant_id)
            .map_err(|e| Error::internal("no randomness for a token", e))?;
        let started_at = previous.map_or(now, Session::session_start);
        let (idle, max) = limits;
        let session = Session {
            token_hash: refresh.hash,
            family_id: previous.map_or_else(Uuid::now_v7, |p| p.family_id),
            tenant_id: user.tenant_id,
            user_id: user.id,
            issued_at: now,
            started_at,
            expires_at: refresh_expiry(
                now,
                started_at,
                self.settings.refresh_ttl.as_millis() as i64,
                idle,
                max,
            ),
            spent_at: None,
            revoked_at: None,
            // A refresh keeps the way its family was signed in.
            method: previous.map_or(method, |p| p.method),
        };
        let tokens = SessionTokens {
            access_token,
            access_expires_at: exp * 1000,
            refresh_token: refresh.token,
            refresh_expires_at: session.expires_at,
            user: user.clone(),
        };
        Ok((tokens, session))
    }

    /// The tenant's custom roles and whether `role` names a built-in or one of them.
    async fn known_role(&self, tenant: TenantId, role: &str) -> Result<Option<CustomRole>> {
        if crate::domain::role::is_built_in(role) {
            return Ok(None);
        }
        let custom = self.store.list_custom_roles(tenant).await?;
        custom
            .into_iter()
            .find(|c| c.name == role)
            .map(Some)
            .ok_or_else(|| {
                Error::invalid_field(
                    "role",
                    format!("{role:?} is not a role of this tenant; ListRoles lists them"),
                )
            })
    }
}

/// Checks an etag sent by a client against the stored version (AIP-154: a sent etag must
/// match; an empty one means an unconditional change).
pub(crate) fn check_etag(sent: &str, version: i64, what: &str) -> Result<()> {
    crm_core::api::check_etag(sent, &version.to_string(), what)
}

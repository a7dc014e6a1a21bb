//! IAM's use cases: one method each on [`Iam`], orchestrating the domain and the ports.

mod auth;
pub mod roles;
mod tenants;
mod users;

use std::sync::Arc;
use std::time::Duration;

use crm_core::auth::AccessClaims;
use crm_core::{Error, Principal, Result, TenantId};
use uuid::Uuid;

use crate::domain::audit::Origin;
use crate::domain::ports::{IamStore, LoginThrottle};
use crate::domain::role::{CustomRole, effective_permissions};
use crate::domain::session::{Session, issue_refresh_token};
use crate::domain::user::User;
use crate::domain::{Millis, now_millis};
use crate::infrastructure::hasher::PasswordHasher;
use crate::infrastructure::keys::SigningKeys;

pub use auth::SessionTokens;
pub use users::{UserChanges, UserPage};

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
}

impl IamSettings {
    /// From the process configuration.
    pub fn from_config(config: &crm_core::Config) -> IamSettings {
        let iam = &config.iam;
        IamSettings {
            issuer: config.auth.issuer.clone(),
            audience: config.auth.audience.clone(),
            access_ttl: Duration::from_secs(iam.access_token_ttl_seconds),
            refresh_ttl: Duration::from_secs(iam.refresh_token_ttl_days * 24 * 3600),
            account_failure_limit: iam.account_failure_limit,
            address_failure_limit: iam.address_failure_limit,
            tenant_failure_limit: iam.tenant_failure_limit,
            failure_window: Duration::from_secs(iam.failure_window_seconds),
            lockout: Duration::from_secs(iam.lockout_seconds),
        }
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
    hasher: PasswordHasher,
    keys: Arc<SigningKeys>,
    settings: IamSettings,
}

impl Iam {
    /// Wires the use cases to their adapters.
    pub fn new(
        store: Arc<dyn IamStore>,
        throttle: Arc<dyn LoginThrottle>,
        hasher: PasswordHasher,
        keys: Arc<SigningKeys>,
        settings: IamSettings,
    ) -> Iam {
        Iam {
            store,
            throttle,
            hasher,
            keys,
            settings,
        }
    }

    /// The signing keys (their public halves verify tokens).
    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    /// Signs an access token and makes a refresh token for `user` (in `family`, or a new one).
    async fn issue(
        &self,
        user: &User,
        family: Option<Uuid>,
        now: Millis,
    ) -> Result<(SessionTokens, Session)> {
        // Custom roles are read only when the user holds one: most logins need no query for them.
        let custom = if user
            .roles
            .iter()
            .all(|r| crate::domain::role::is_built_in(r))
        {
            Vec::new()
        } else {
            self.store.list_custom_roles(user.tenant_id).await?
        };
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
            perms: effective_permissions(&user.roles, &custom),
            team: user.team.clone(),
            exp: exp as u64,
            iat: secs as u64,
            nbf: secs as u64,
            jti: Uuid::now_v7().to_string(),
        };
        let access_token = self
            .keys
            .sign(&claims)
            .map_err(|e| Error::internal("could not sign the access token", e))?;
        let refresh = issue_refresh_token(user.tenant_id)
            .map_err(|e| Error::internal("no randomness for a token", e))?;
        let session = Session {
            token_hash: refresh.hash,
            family_id: family.unwrap_or_else(Uuid::now_v7),
            tenant_id: user.tenant_id,
            user_id: user.id,
            issued_at: now,
            expires_at: now + self.settings.refresh_ttl.as_millis() as i64,
            spent_at: None,
            revoked_at: None,
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

/// Checks an etag sent by a client against the stored version: empty means "don't check".
pub(crate) fn check_etag(sent: &str, version: i64, what: &str) -> Result<()> {
    if sent.is_empty() || sent == version.to_string() {
        Ok(())
    } else {
        Err(Error::etag_mismatch(what))
    }
}

/// Page size from a request: default 50, at most 500.
pub(crate) fn page_size(requested: i32) -> Result<u32> {
    match requested {
        0 => Ok(50),
        n if n < 0 => Err(Error::invalid_field("page_size", "must not be negative")),
        n => Ok((n as u32).min(500)),
    }
}

/// Now, for use cases.
pub(crate) fn now() -> Millis {
    now_millis()
}

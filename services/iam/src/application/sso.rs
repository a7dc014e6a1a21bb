//! Single sign-on: the tenant's provider settings, and the sign-in through it (start, complete),
//! with linking and just-in-time provisioning. Every SSO sign-in and failure is audited.

use crm_core::{Error, ErrorKind, Result};

use super::rules::invalid;
use super::signin::SessionTokens;
use super::{Caller, Iam, check_etag};
use crate::domain::Millis;
use crate::domain::audit::{AuditEntry, AuditKind, Origin, Outcome};
use crate::domain::email::Email;
use crate::domain::events::user_created;
use crate::domain::opaque;
use crate::domain::ports::{AuthorizationRequest, Changes};
use crate::domain::sso::{
    FLOW_TTL, Flow, Identity, STATE_PREFIX, SsoProvider, SsoRefusal, SsoSettings,
};
use crate::domain::tenant::{Tenant, TenantStatus};
use crate::domain::user::{NO_PASSWORD, User, parse_display_name};
use crm_core::storage::pinned;

/// A started sign-in.
#[derive(Clone, Debug)]
pub struct StartedSso {
    /// Where to send the browser.
    pub authorization_url: String,
    /// The state the provider sends back.
    pub state: String,
    /// When it stops working.
    pub expires_at: Millis,
}

fn bad_state() -> Error {
    Error::unauthenticated("this sign-in is unknown, expired or completed already; start again")
        .with_reason("SSO_STATE_INVALID")
}

fn not_configured() -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        "this tenant has no single sign-on; sign in with a password, or ask an owner to set it up",
    )
    .with_reason("SSO_NOT_CONFIGURED")
}

impl Iam {
    /// The tenant's provider settings; needs `tenant.manage`.
    pub async fn get_sso_settings(&self, caller: &Caller) -> Result<Option<SsoProvider>> {
        let p = self.current(caller).await?;
        p.require("tenant.manage")?;
        self.store.sso_provider(p.tenant_id).await
    }

    /// Replaces the tenant's provider settings (an empty `client_secret` keeps the stored one);
    /// the issuer must answer its discovery document. Needs `tenant.manage`.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id))]
    pub async fn update_sso_settings(
        &self,
        caller: &Caller,
        mut settings: SsoSettings,
        client_secret: &str,
        etag: &str,
    ) -> Result<SsoProvider> {
        let p = self.current(caller).await?;
        p.require("tenant.manage")?;
        let custom = self.store.list_custom_roles(p.tenant_id).await?;
        let known = |role: &str| {
            crate::domain::role::is_built_in(role) || custom.iter().any(|c| c.name == role)
        };
        let mut problems = settings.validate(self.settings.sso_allow_loopback_http, known);
        let current = self.store.sso_provider(p.tenant_id).await?;
        let secret = match (client_secret.trim(), &current) {
            ("", Some(c)) => c.client_secret.clone(),
            ("", None) => {
                problems.push((
                    "settings.client_secret".into(),
                    "is required the first time".into(),
                ));
                String::new()
            }
            (s, _) => s.to_owned(),
        };
        if !problems.is_empty() {
            return Err(Error::invalid_fields(problems));
        }
        let version = current.as_ref().map_or(0, |c| c.version);
        if current.is_some() {
            check_etag(etag, version, "single sign-on settings")?;
        }
        if settings.enabled
            && let Err(e) = self.oidc.check_issuer(&settings.issuer_url).await
        {
            // One answer for every failure (closed port, open port that is not a provider, a
            // wrong document): what was there stays in the operator's log, not the caller's.
            tracing::info!(issuer = %settings.issuer_url, error = %e, "an SSO issuer's discovery failed");
            return Err(Error::invalid_field(
                "settings.issuer_url",
                format!(
                    "no OpenID provider answered here: the issuer must serve its discovery document at <issuer>{} over HTTPS, reachable from the internet",
                    crate::domain::sso::DISCOVERY_PATH
                ),
            ));
        }
        let now = self.now();
        let provider = SsoProvider {
            tenant_id: p.tenant_id,
            settings,
            client_secret: secret,
            updated_at: now,
            version: version + 1,
        };
        let audit = AuditEntry::new(
            p.tenant_id,
            AuditKind::TenantChanged,
            Some(p.user_id),
            ("tenant", p.tenant_id.to_string()),
            Outcome::Success,
            &caller.origin,
            now,
        )
        .with("change", "sso_settings")
        .with("issuer", provider.settings.issuer_url.clone());
        let version_of = |p: &Option<SsoProvider>| p.as_ref().map_or(0, |c| c.version);
        let change = pinned(
            Some(provider),
            version,
            version_of,
            Changes::audit(audit),
            "single sign-on settings",
        );
        self.store
            .update_sso_provider(p.tenant_id, change)
            .await?
            .ok_or_else(|| {
                Error::internal(
                    "the single sign-on settings were not stored",
                    anyhow::anyhow!("none after a change"),
                )
            })
    }

    /// Starts a sign-in through the tenant's provider.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn start_sso(&self, tenant: &str) -> Result<StartedSso> {
        if tenant.trim().is_empty() {
            return Err(invalid(vec![("tenant", "must not be empty".into())]));
        }
        let tenant = self
            .store
            .find_tenant(tenant.trim())
            .await?
            .filter(|t| t.status == TenantStatus::Active)
            .ok_or_else(not_configured)?;
        let provider = self
            .store
            .sso_provider(tenant.id)
            .await?
            .filter(|p| p.settings.enabled)
            .ok_or_else(not_configured)?;
        let state = opaque::mint(STATE_PREFIX, tenant.id)
            .map_err(|e| Error::internal("no randomness", e))?;
        let AuthorizationRequest {
            url: authorization_url,
            nonce,
            pkce_verifier,
        } = self
            .oidc
            .authorization_url(&provider, &state)
            .await
            .inspect_err(
                |refusal| tracing::warn!(error = %refusal, "single sign-on could not start"),
            )?;
        let now = self.now();
        let flow = Flow {
            state_hash: opaque::sha256_hex(&state),
            tenant_id: tenant.id,
            nonce,
            pkce_verifier,
            created_at: now,
            expires_at: now + FLOW_TTL,
        };
        self.store.insert_sso_flow(&flow).await?;
        Ok(StartedSso {
            authorization_url,
            state,
            expires_at: flow.expires_at,
        })
    }

    /// Completes a sign-in: the provider's answer for `state` becomes the CRM's tokens; the
    /// bool says whether the user was provisioned by it.
    #[tracing::instrument(skip_all)]
    pub async fn complete_sso(
        &self,
        state: &str,
        code: &str,
        origin: &Origin,
    ) -> Result<(SessionTokens, bool)> {
        if code.trim().is_empty() {
            return Err(invalid(vec![("code", "must not be empty".into())]));
        }
        let tenant_id = opaque::tenant_of(STATE_PREFIX, state).ok_or_else(bad_state)?;
        let now = self.now();
        let flow = self
            .store
            .take_sso_flow(tenant_id, &opaque::sha256_hex(state), now)
            .await?
            .ok_or_else(bad_state)?;
        let tenant = self
            .store
            .find_tenant(&tenant_id.to_string())
            .await?
            .filter(|t| t.status == TenantStatus::Active)
            .ok_or_else(bad_state)?;
        let provider = self
            .store
            .sso_provider(tenant.id)
            .await?
            .filter(|p| p.settings.enabled)
            .ok_or_else(not_configured)?;
        let identity = match self
            .oidc
            .identity(&provider, code, &flow.nonce, &flow.pkce_verifier)
            .await
        {
            Ok(identity) => identity,
            Err(refusal) => {
                let reason = match &refusal {
                    SsoRefusal::Unreachable(_) => "provider_unreachable",
                    SsoRefusal::CodeRefused(_) => "code_refused",
                    SsoRefusal::IdToken(_) => "id_token_invalid",
                };
                tracing::warn!(error = %refusal, "single sign-on refused");
                self.audit_sso_failure(&tenant, None, reason, &refusal.to_string(), origin, now)
                    .await;
                return Err(refusal.into());
            }
        };
        let (user, created) = match self
            .sso_user(&tenant, &provider, &identity, origin, now)
            .await
        {
            Ok(found) => found,
            Err(e) => {
                let reason = e.reason().unwrap_or("refused");
                self.audit_sso_failure(&tenant, Some(&identity), reason, e.message(), origin, now)
                    .await;
                return Err(e);
            }
        };
        let details = [
            ("method", "sso".to_owned()),
            ("issuer", identity.issuer.clone()),
        ];
        let tokens = self
            .signed_in(
                &tenant,
                &user,
                crate::domain::session::SignInMethod::SingleSignOn,
                &details,
                origin,
                now,
            )
            .await?;
        Ok((tokens, created))
    }

    /// The user a verified identity signs in as: the one linked before, else an invited user
    /// with the same verified email (linked now), else a new one if the tenant provisions.
    async fn sso_user(
        &self,
        tenant: &Tenant,
        provider: &SsoProvider,
        identity: &Identity,
        origin: &Origin,
        now: Millis,
    ) -> Result<(User, bool)> {
        let inactive = || {
            Error::permission_denied(
                "your account in this tenant is deactivated; ask an administrator",
            )
            .with_reason("ACCOUNT_INACTIVE")
        };
        if let Some(id) = self
            .store
            .identity_user(tenant.id, &identity.issuer, &identity.subject)
            .await?
        {
            let user = self.store.get_user(tenant.id, id).await?;
            return user
                .filter(User::is_active)
                .map(|u| (u, false))
                .ok_or_else(inactive);
        }
        let Some(email) = identity.verified_email.as_deref() else {
            return Err(Error::permission_denied(
                "the identity provider did not vouch for your email (email_verified), so it cannot be matched to a user",
            )
            .with_reason("SSO_EMAIL_UNVERIFIED"));
        };
        if !provider.settings.allows_email(email) {
            return Err(Error::permission_denied(format!(
                "{email} is not in a domain this tenant signs in through its provider"
            ))
            .with_reason("SSO_EMAIL_DOMAIN"));
        }
        let email = Email::parse(email).map_err(|e| {
            Error::permission_denied(format!("the provider's email is unusable: {e}"))
                .with_reason("SSO_EMAIL_UNVERIFIED")
        })?;
        let link = Some((
            identity.issuer.clone(),
            identity.subject.clone(),
            crm_core::UserId::new(),
            now,
        ));
        if let Some(user) = self.store.user_by_email(tenant.id, &email).await? {
            if user.status == crate::domain::user::UserStatus::Invited {
                let link = link.map(|(i, s, _, at)| (i, s, user.id, at));
                let user = self
                    .accept_through_provider(tenant, user, link, origin)
                    .await?;
                return Ok((user, false));
            }
            if !user.is_active() {
                return Err(inactive());
            }
            let audit = AuditEntry::new(
                tenant.id,
                AuditKind::UserUpdated,
                Some(user.id),
                ("user", user.id.to_string()),
                Outcome::Success,
                origin,
                now,
            )
            .with("change", "sso_linked")
            .with("issuer", identity.issuer.clone());
            let changes = Changes {
                audit: vec![audit],
                link_identity: link.map(|(i, s, _, at)| (i, s, user.id, at)),
                ..Changes::default()
            };
            self.store.append_audit(tenant.id, changes).await?;
            return Ok((user, false));
        }
        if !provider.settings.provision_users {
            return Err(Error::permission_denied(
                "you are not a user of this tenant yet: ask an administrator to invite you with this email",
            )
            .with_reason("SSO_NOT_INVITED"));
        }
        let name = identity
            .name
            .as_deref()
            .and_then(|n| parse_display_name(n).ok())
            .or_else(|| parse_display_name(email.as_str().split('@').next()?).ok())
            .unwrap_or_else(|| "New user".to_owned());
        let roles = provider.settings.roles_for(&identity.groups);
        let user = User::new(
            tenant.id,
            email,
            name,
            NO_PASSWORD.to_owned(),
            roles.clone(),
            now,
        );
        let changes = Changes {
            events: vec![user_created(tenant, &user, None, origin)],
            audit: vec![
                AuditEntry::new(
                    tenant.id,
                    AuditKind::UserCreated,
                    None,
                    ("user", user.id.to_string()),
                    Outcome::Success,
                    origin,
                    now,
                )
                .with("roles", roles.join(","))
                .with("via", "sso"),
            ],
            link_identity: link.map(|(i, s, _, at)| (i, s, user.id, at)),
            custom_roles: crate::domain::role::custom_only(&roles),
            ..Changes::default()
        };
        self.store.insert_user(&user, changes).await?;
        Ok((user, true))
    }

    async fn audit_sso_failure(
        &self,
        tenant: &Tenant,
        identity: Option<&Identity>,
        reason: &str,
        message: &str,
        origin: &Origin,
        now: Millis,
    ) {
        let target = identity
            .and_then(|i| i.email.clone())
            .unwrap_or_else(|| "unknown".to_owned());
        let entry = AuditEntry::new(
            tenant.id,
            AuditKind::LoginFailed,
            None,
            ("account", target),
            Outcome::Failure,
            origin,
            now,
        )
        .with("method", "sso")
        .with("reason", reason.to_owned())
        .with("detail", crm_core::error::clip(message));
        if let Err(e) = self
            .store
            .append_audit(tenant.id, Changes::audit(entry))
            .await
        {
            tracing::error!(error = %e, "could not audit a failed single sign-on");
        }
    }
}

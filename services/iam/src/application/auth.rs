//! Signing in with a password: the login, its lockouts and the one answer every failure gets.

use crm_core::{Error, Result, TenantId};

use super::Iam;
use super::rules::{invalid, locked_out};
use super::signin::{SessionTokens, SignIn};
use crate::domain::Millis;
use crate::domain::audit::{AuditEntry, AuditKind, Origin, Outcome};
use crate::domain::email::Email;
use crate::domain::ports::Changes;
use crate::domain::session::SignInMethod;
use crate::domain::tenant::{Tenant, TenantStatus};
use crate::domain::user::User;

/// The one message every failed login gets, whatever failed: no user enumeration.
const BAD_CREDENTIALS: &str = "invalid tenant, email or password";

fn bad_credentials() -> Error {
    Error::unauthenticated(BAD_CREDENTIALS).with_reason("INVALID_CREDENTIALS")
}

impl Iam {
    /// Login with tenant (slug or id), email and password. Failures are counted per account,
    /// address and tenant; past a limit the key is locked out for a while.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn login(
        &self,
        tenant: &str,
        email: &str,
        password: &str,
        origin: &Origin,
    ) -> Result<SignIn> {
        if tenant.trim().is_empty() || email.trim().is_empty() || password.is_empty() {
            let mut problems = Vec::new();
            for (field, value) in [
                ("tenant", tenant.trim()),
                ("email", email.trim()),
                ("password", password),
            ] {
                if value.is_empty() {
                    problems.push((field, "must not be empty".to_owned()));
                }
            }
            return Err(invalid(problems));
        }
        let normalised = email.trim().to_lowercase();
        let address_key = origin
            .client_address
            .as_ref()
            .map(|ip| format!("address:{ip}"));
        let found = self.store.find_tenant(tenant.trim()).await?;
        let tenant_key = found.as_ref().map(|t| format!("tenant:{}", t.id));
        // The account is keyed by the tenant it resolves to, so naming the tenant by slug or by
        // id counts against the same account; an unknown tenant keys by what was sent.
        let account_key = match &found {
            Some(t) => format!("account:{}:{normalised}", t.id),
            None => format!("account:?{}:{normalised}", tenant.trim().to_lowercase()),
        };
        for key in [
            Some(&account_key),
            address_key.as_ref(),
            tenant_key.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(left) = self.throttle.locked_for(key).await? {
                return Err(locked_out(left));
            }
        }

        let user = match (&found, Email::parse(email)) {
            (Some(t), Ok(email)) if t.status == TenantStatus::Active => {
                self.store.user_by_email(t.id, &email).await?
            }
            _ => None,
        };
        let active = user.as_ref().filter(|u| u.is_active());
        let ok = self
            .hasher
            .verify(password, active.and_then(User::password_phc))
            .await?;
        let now = self.now();
        let (Some(tenant), Some(user), true) = (found, active, ok) else {
            return Err(self
                .failed_login(
                    tenant_key.as_deref(),
                    &account_key,
                    address_key.as_deref(),
                    user.as_ref(),
                    origin,
                    now,
                )
                .await);
        };

        self.throttle.reset(&account_key).await?;
        if let Some(pending) = self.second_step(&tenant, user, now).await? {
            return Ok(SignIn::SecondFactor(pending));
        }
        let tokens = self
            .signed_in(&tenant, user, SignInMethod::Password, &[], origin, now)
            .await?;
        Ok(SignIn::Done(Box::new(tokens)))
    }

    /// Ends a successful sign-in (password, second factor or single sign-on): a new session
    /// under the tenant's limits, the user's last login stamped, and the trail's entry with
    /// `details` (how they signed in).
    pub(super) async fn signed_in(
        &self,
        tenant: &Tenant,
        user: &User,
        method: SignInMethod,
        details: &[(&str, String)],
        origin: &Origin,
        now: Millis,
    ) -> Result<SessionTokens> {
        let limits = tenant.settings.session_limits();
        let (tokens, session) = self.issue(user, None, method, limits, now).await?;
        let mut audit = AuditEntry::new(
            tenant.id,
            AuditKind::LoginSucceeded,
            Some(user.id),
            ("user", user.id.to_string()),
            Outcome::Success,
            origin,
            now,
        );
        for (key, value) in details {
            audit = audit.with(key, value.clone());
        }
        self.store
            .record_login(&session, Changes::audit(audit))
            .await?;
        Ok(tokens)
    }

    async fn failed_login(
        &self,
        tenant_key: Option<&str>,
        account_key: &str,
        address_key: Option<&str>,
        user: Option<&User>,
        origin: &Origin,
        now: Millis,
    ) -> Error {
        let s = &self.settings;
        let limits = [
            (Some(account_key), s.account_failure_limit),
            (address_key, s.address_failure_limit),
            (tenant_key, s.tenant_failure_limit),
        ];
        let mut lockout = None;
        for (key, limit) in limits {
            let Some(key) = key else { continue };
            match self
                .throttle
                .record_failure(key, limit, s.failure_window, s.lockout)
                .await
            {
                Ok(Some(locked)) => lockout = Some((key.to_owned(), locked)),
                Ok(None) => {}
                Err(e) => return e,
            }
        }
        // Failures against a real tenant go to its audit trail; unknown tenants have none.
        if let Some(tenant) = tenant_key
            .and_then(|k| k.strip_prefix("tenant:"))
            .and_then(|t| TenantId::parse(t).ok())
        {
            let target = user
                .map(|u| ("user", u.id.to_string()))
                .unwrap_or(("account", account_key.to_owned()));
            let mut entries = vec![AuditEntry::new(
                tenant,
                AuditKind::LoginFailed,
                None,
                (target.0, target.1.clone()),
                Outcome::Failure,
                origin,
                now,
            )];
            if let Some((key, _)) = &lockout {
                entries.push(
                    AuditEntry::new(
                        tenant,
                        AuditKind::Lockout,
                        None,
                        (target.0, target.1),
                        Outcome::Denied,
                        origin,
                        now,
                    )
                    .with("key", key.clone()),
                );
            }
            let changes = Changes {
                audit: entries,
                ..Changes::default()
            };
            if let Err(e) = self.store.append_audit(tenant, changes).await {
                tracing::error!(error = %e, "could not audit a failed login");
            }
        }
        match lockout {
            Some((_, locked)) => locked_out(locked),
            None => bad_credentials(),
        }
    }
}

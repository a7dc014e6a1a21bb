//! Signing in with a password: the login, its lockouts and the one answer every failure gets.

use crm_core::{Error, Result, TenantId};

use super::Iam;
use super::rules::{invalid, locked_out};
use super::signin::{SessionTokens, SignIn, Workspace};
use crate::domain::Millis;
use crate::domain::audit::{AuditEntry, AuditKind, Origin, Outcome};
use crate::domain::email::Email;
use crate::domain::ports::Changes;
use crate::domain::session::SignInMethod;
use crate::domain::tenant::{Tenant, TenantStatus};
use crate::domain::user::User;

/// The one message every failed login gets, whatever failed: no user enumeration.
const BAD_CREDENTIALS: &str = "invalid tenant, email or password";

pub(super) fn bad_credentials() -> Error {
    Error::unauthenticated(BAD_CREDENTIALS).with_reason("INVALID_CREDENTIALS")
}

/// The lockout key of one account: a tenant's and an email's.
pub(super) fn account_key(tenant: TenantId, normalised_email: &str) -> String {
    format!("account:{tenant}:{normalised_email}")
}

/// The lockout key of the address a sign-in came from.
pub(super) fn address_key(origin: &Origin) -> Option<String> {
    origin
        .client_address
        .as_ref()
        .map(|ip| format!("address:{ip}"))
}

impl Iam {
    /// Login with a workspace, email and password. A workspace named by its slug or id signs in
    /// there: failures count per account, address and tenant, and past a limit the key is
    /// locked out for a while. A workspace named otherwise (its name), or not at all, is found
    /// by the email ([`Iam::login_by_email`]).
    #[tracing::instrument(skip_all, fields(tenant = %workspace))]
    pub async fn login(
        &self,
        workspace: &str,
        email: &str,
        password: &str,
        origin: &Origin,
    ) -> Result<SignIn> {
        if email.trim().is_empty() || password.is_empty() {
            let mut problems = Vec::new();
            for (field, value) in [("email", email.trim()), ("password", password)] {
                if value.is_empty() {
                    problems.push((field, "must not be empty".to_owned()));
                }
            }
            return Err(invalid(problems));
        }
        let workspace = workspace.trim();
        let found = match workspace {
            "" => None,
            named => self.store.find_tenant(named).await?,
        };
        match found {
            Some(tenant) => self.login_to(tenant, email, password, origin).await,
            None => {
                self.login_by_email(workspace, email, password, origin)
                    .await
            }
        }
    }

    /// Login to the tenant named by its slug or id.
    async fn login_to(
        &self,
        tenant: Tenant,
        email: &str,
        password: &str,
        origin: &Origin,
    ) -> Result<SignIn> {
        let normalised = email.trim().to_lowercase();
        let address_key = address_key(origin);
        let tenant_key = format!("tenant:{}", tenant.id);
        // The account is keyed by the tenant, so naming it by slug or by id counts against the
        // same account.
        let account_key = account_key(tenant.id, &normalised);
        for key in [Some(&account_key), address_key.as_ref(), Some(&tenant_key)]
            .into_iter()
            .flatten()
        {
            if let Some(left) = self.throttle.locked_for(key).await? {
                return Err(locked_out(left));
            }
        }

        let user = match Email::parse(email) {
            Ok(email) if tenant.status == TenantStatus::Active => {
                self.store.user_by_email(tenant.id, &email).await?
            }
            _ => None,
        };
        let active = user.as_ref().filter(|u| u.is_active());
        let ok = self
            .hasher
            .verify(password, active.and_then(User::password_phc))
            .await?;
        let (Some(user), true) = (active, ok) else {
            let s = &self.settings;
            let keys = [
                (Some(account_key.as_str()), s.account_failure_limit),
                (address_key.as_deref(), s.address_failure_limit),
                (Some(tenant_key.as_str()), s.tenant_failure_limit),
            ];
            let target = user
                .map(|u| ("user", u.id.to_string()))
                .unwrap_or(("account", account_key.clone()));
            return Err(self
                .failed_login(&keys, &[(tenant.id, target)], origin)
                .await);
        };
        self.throttle.reset(&account_key).await?;
        self.password_accepted(&tenant, user, origin).await
    }

    /// After a right password: the session, or the second factor still to give.
    pub(super) async fn password_accepted(
        &self,
        tenant: &Tenant,
        user: &User,
        origin: &Origin,
    ) -> Result<SignIn> {
        let now = self.now();
        let workspace = Workspace::from(tenant);
        if let Some(pending) = self.second_step(tenant, user, now).await? {
            return Ok(SignIn::SecondFactor(pending, workspace));
        }
        let tokens = self
            .signed_in(tenant, user, SignInMethod::Password, &[], origin, now)
            .await?;
        Ok(SignIn::Done(Box::new(tokens), workspace))
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
        let (tokens, session) = self
            .issue(user, None, method, &tenant.settings, now)
            .await?;
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

    /// A failed login: each of `keys` counted toward its limit, the failure (and any lockout it
    /// caused) on the trail of each tenant `tried` (with the account's target there), and the one
    /// answer every failure gets, or the lockout's.
    pub(super) async fn failed_login(
        &self,
        keys: &[(Option<&str>, u32)],
        tried: &[(TenantId, (&'static str, String))],
        origin: &Origin,
    ) -> Error {
        let s = &self.settings;
        let now = self.now();
        let mut lockout = None;
        for (key, limit) in keys {
            let Some(key) = key else { continue };
            match self
                .throttle
                .record_failure(key, *limit, s.failure_window, s.lockout)
                .await
            {
                Ok(Some(locked)) => lockout = Some(((*key).to_owned(), locked)),
                Ok(None) => {}
                Err(e) => return e,
            }
        }
        // Failures against a real tenant go to its audit trail; unknown tenants have none.
        for (tenant, target) in tried {
            let mut entries = vec![AuditEntry::new(
                *tenant,
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
                        *tenant,
                        AuditKind::Lockout,
                        None,
                        (target.0, target.1.clone()),
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
            if let Err(e) = self.store.append_audit(*tenant, changes).await {
                tracing::error!(error = %e, "could not audit a failed login");
            }
        }
        match lockout {
            Some((_, locked)) => locked_out(locked),
            None => bad_credentials(),
        }
    }
}

//! Sessions: register, login, refresh, logout.

use crm_core::{Error, Result, TenantId, UserId};
use uuid::Uuid;

use super::rules::{invalid, locked_out, owners_only};
use super::signin::{SessionTokens, SignIn};
use super::{Caller, Iam};
use crate::domain::Millis;
use crate::domain::audit::{AuditEntry, AuditKind, Origin, Outcome};
use crate::domain::email::Email;
use crate::domain::events::{tenant_created, user_created};
use crate::domain::password::Password;
use crate::domain::ports::Changes;
use crate::domain::role::OWNER;
use crate::domain::session::SignInMethod;
use crate::domain::session::{Presentation, Session, hash_refresh_token, refresh_token_tenant};
use crate::domain::tenant::{Tenant, TenantStatus, parse_tenant_name, slug_from_name};
use crate::domain::user::{User, parse_display_name};

/// The one message every failed login gets, whatever failed: no user enumeration.
const BAD_CREDENTIALS: &str = "invalid tenant, email or password";

fn bad_credentials() -> Error {
    Error::unauthenticated(BAD_CREDENTIALS).with_reason("INVALID_CREDENTIALS")
}

fn bad_refresh() -> Error {
    Error::unauthenticated("the refresh token is invalid, expired or revoked; log in again")
        .with_reason("INVALID_REFRESH_TOKEN")
}

impl Iam {
    /// Register: a new tenant with its owner, signed in.
    #[tracing::instrument(skip_all, fields(tenant_name = %tenant_name))]
    pub async fn register(
        &self,
        tenant_name: &str,
        email: &str,
        password: &str,
        display_name: &str,
        origin: &Origin,
    ) -> Result<(Tenant, SessionTokens)> {
        let limits = self.signup_limits(origin);
        for (key, _) in &limits {
            if let Some(left) = self.throttle.locked_for(key).await? {
                return Err(signups_throttled(key, left));
            }
        }
        let mut problems = Vec::new();
        let name = parse_tenant_name(tenant_name)
            .map_err(|e| problems.push(("tenant_name", e.to_owned())))
            .ok();
        let email = Email::parse(email)
            .map_err(|e| problems.push(("email", e.to_owned())))
            .ok();
        let password = Password::parse(password)
            .map_err(|e| problems.push(("password", e)))
            .ok();
        let display_name = parse_display_name(display_name)
            .map_err(|e| problems.push(("display_name", e.to_owned())))
            .ok();
        let (Some(name), Some(email), Some(password), Some(display_name)) =
            (name, email, password, display_name)
        else {
            return Err(invalid(problems));
        };

        // Counted once it is a sign-up (a typo is not); the one that reaches a limit still
        // goes through, the next waits out the window.
        let window = self.settings.signup_window;
        for (key, limit) in &limits {
            self.throttle
                .record_failure(key, *limit, window, window)
                .await?;
        }
        let slug = self.free_slug(&slug_from_name(&name)).await?;
        let now = self.now();
        let tenant = Tenant::new(name, slug, now);
        let hash = self.hasher.hash(&password).await?;
        let owner = User::new(
            tenant.id,
            email,
            display_name,
            hash,
            vec![OWNER.to_owned()],
            now,
        );
        let changes = Changes {
            events: vec![
                tenant_created(&tenant, Some(&owner), origin),
                user_created(&tenant, &owner, None, origin),
            ],
            audit: vec![
                AuditEntry::new(
                    tenant.id,
                    AuditKind::TenantChanged,
                    Some(owner.id),
                    ("tenant", tenant.id.to_string()),
                    Outcome::Success,
                    origin,
                    now,
                )
                .with("change", "created"),
                AuditEntry::new(
                    tenant.id,
                    AuditKind::UserCreated,
                    Some(owner.id),
                    ("user", owner.id.to_string()),
                    Outcome::Success,
                    origin,
                    now,
                )
                .with("roles", OWNER),
            ],
            ..Changes::default()
        };
        self.store
            .create_tenant(&tenant, Some(&owner), changes)
            .await?;
        let limits = tenant.settings.session_limits();
        let (tokens, session) = self
            .issue(&owner, None, SignInMethod::Password, limits, now)
            .await?;
        self.store.insert_session(&session).await?;
        Ok((tenant, tokens))
    }

    /// A slug not yet taken: `base`, else `base-2`, `base-3`, ...
    /// The sign-up limits that apply to a call from `origin`: (throttle key, limit).
    fn signup_limits(&self, origin: &Origin) -> Vec<(String, u32)> {
        let s = &self.settings;
        let mut limits = Vec::new();
        if s.signup_address_limit > 0
            && let Some(address) = &origin.client_address
        {
            limits.push((format!("signup:address:{address}"), s.signup_address_limit));
        }
        if s.signup_limit > 0 {
            limits.push(("signup:all".to_owned(), s.signup_limit));
        }
        limits
    }

    /// A slug for a new tenant: the name's, else with `-2` … `-9`, else with a random suffix,
    /// so no number of sign-ups can take a name away from the business that owns it.
    pub(crate) async fn free_slug(&self, base: &str) -> Result<String> {
        for n in 1..10 {
            let candidate = if n == 1 {
                base.to_owned()
            } else {
                format!("{base}-{n}")
            };
            if !self.store.slug_taken(&candidate).await? {
                return Ok(candidate);
            }
        }
        // Within a slug's 48 characters (a name's slug is ASCII).
        let base = base[..base.len().min(41)].trim_end_matches('-');
        loop {
            // The tail of a UUIDv7 is random.
            let id = uuid::Uuid::now_v7().simple().to_string();
            let candidate = format!("{base}-{}", &id[26..]);
            if !self.store.slug_taken(&candidate).await? {
                return Ok(candidate);
            }
        }
    }

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

    /// Refresh: spends the refresh token and issues a new pair. A spent token presented again
    /// revokes its whole family and is audited (RFC 9700).
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, refresh_token: &str, origin: &Origin) -> Result<SessionTokens> {
        let tenant = refresh_token_tenant(refresh_token).ok_or_else(bad_refresh)?;
        let hash = hash_refresh_token(refresh_token);
        let session = self
            .store
            .session_by_hash(tenant, &hash)
            .await?
            .ok_or_else(bad_refresh)?;
        let now = self.now();
        match session.present(now) {
            Presentation::Valid => {}
            Presentation::Reused => {
                self.revoke_reused(&session, origin, now).await?;
                return Err(bad_refresh());
            }
            Presentation::Revoked | Presentation::Expired => return Err(bad_refresh()),
        }
        let user = self.store.get_user(tenant, session.user_id).await?;
        let Some(user) = user.filter(|u| u.is_active()) else {
            self.store
                .revoke_family(tenant, session.family_id, now, Changes::default())
                .await?;
            return Err(bad_refresh());
        };
        // The tenant's settings as they are now: a tightened limit applies at once, and so does
        // a second-factor policy that now covers the user (promoted since they signed in).
        let settings = self
            .store
            .find_tenant(&tenant.to_string())
            .await?
            .ok_or_else(bad_refresh)?
            .settings;
        if !session.method.meets_second_factor_policy() {
            let custom = self.custom_roles_of(&user).await?;
            let permissions = crate::domain::role::effective_permissions(&user.roles, &custom);
            if settings.mfa_policy.requires(&permissions) {
                return Err(Error::unauthenticated(
                    "your workspace requires a second factor for what you may now do, and this session was signed in without one: sign in again (you will be asked for the factor, or to set it up)",
                )
                .with_reason("MFA_REQUIRED"));
            }
        }
        let limits = settings.session_limits();
        let (tokens, next) = self
            .issue(&user, Some(&session), SignInMethod::Password, limits, now)
            .await?;
        if !self.store.rotate_session(tenant, &hash, &next, now).await? {
            // Spent or revoked between our read and our write: a concurrent replay.
            self.revoke_reused(&session, origin, now).await?;
            return Err(bad_refresh());
        }
        Ok(tokens)
    }

    async fn revoke_reused(
        &self,
        session: &crate::domain::session::Session,
        origin: &Origin,
        now: Millis,
    ) -> Result<()> {
        tracing::warn!(user_id = %session.user_id, family = %session.family_id, "refresh token reused: revoking its family");
        let audit = AuditEntry::new(
            session.tenant_id,
            AuditKind::RefreshTokenReused,
            Some(session.user_id),
            ("session", session.family_id.to_string()),
            Outcome::Denied,
            origin,
            now,
        );
        self.store
            .revoke_family(
                session.tenant_id,
                session.family_id,
                now,
                Changes::audit(audit),
            )
            .await
    }

    /// Logout: revokes the session's family. The refresh token must be the caller's.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id))]
    pub async fn logout(&self, caller: &Caller, refresh_token: &str) -> Result<()> {
        let p = &caller.principal;
        let not_found = || Error::not_found("session", "of this refresh token");
        if refresh_token_tenant(refresh_token) != Some(p.tenant_id) {
            return Err(not_found());
        }
        let session = self
            .store
            .session_by_hash(p.tenant_id, &hash_refresh_token(refresh_token))
            .await?
            .ok_or_else(not_found)?;
        if session.user_id != p.user_id {
            return Err(not_found());
        }
        let now = self.now();
        let audit = AuditEntry::new(
            p.tenant_id,
            AuditKind::Logout,
            Some(p.user_id),
            ("session", session.family_id.to_string()),
            Outcome::Success,
            &caller.origin,
            now,
        );
        self.store
            .revoke_family(p.tenant_id, session.family_id, now, Changes::audit(audit))
            .await
    }

    /// The sessions of `user` that can still refresh: the caller's own, or anyone's in the
    /// tenant with `users.manage`.
    pub async fn list_sessions(&self, caller: &Caller, user: UserId) -> Result<Vec<Session>> {
        self.session_owner(caller, user).await?;
        let now = self.now();
        self.store
            .live_sessions(caller.principal.tenant_id, user, now)
            .await
    }

    /// Ends one session of `user` (its family of refresh tokens), audited as a logout.
    pub async fn revoke_session(&self, caller: &Caller, user: UserId, family: Uuid) -> Result<()> {
        let (p, holder) = self.session_owner(caller, user).await?;
        // Ending someone else's session is a change to their account: an owner's, owners' only.
        if p.user_id != user {
            owners_only(&p, &holder)?;
        }
        let p = &caller.principal;
        let now = self.now();
        let live = self.store.live_sessions(p.tenant_id, user, now).await?;
        if !live.iter().any(|s| s.family_id == family) {
            return Err(Error::not_found("session", family));
        }
        let audit = AuditEntry::new(
            p.tenant_id,
            AuditKind::Logout,
            Some(p.user_id),
            ("session", family.to_string()),
            Outcome::Success,
            &caller.origin,
            now,
        )
        .with("user_id", user.to_string());
        self.store
            .revoke_family(p.tenant_id, family, now, Changes::audit(audit))
            .await
    }

    /// Refuses unless the caller is `user` or may manage users; `NOT_FOUND` for a user the
    /// tenant does not have.
    async fn session_owner(
        &self,
        caller: &Caller,
        user: UserId,
    ) -> Result<(crm_core::context::Principal, crate::domain::user::User)> {
        let p = self.current(caller).await?;
        if p.user_id != user {
            p.require("users.manage")?;
        }
        let holder = self
            .store
            .get_user(p.tenant_id, user)
            .await?
            .ok_or_else(|| Error::not_found("user", user))?;
        Ok((p, holder))
    }
}

/// `RESOURCE_EXHAUSTED` for a sign-up over a limit, with when to try again (RetryInfo).
fn signups_throttled(key: &str, left: std::time::Duration) -> Error {
    let seconds = left.as_secs().max(1);
    let whose = if key.starts_with("signup:address:") {
        "from your address"
    } else {
        "right now"
    };
    Error::resource_exhausted(
        format!(
            "too many new workspaces {whose}; try again in {} min",
            seconds.div_ceil(60)
        ),
        std::time::Duration::from_secs(seconds),
    )
    .with_reason("SIGNUPS_THROTTLED")
}

//! Signing up: a new workspace with its owner, signed in, within the sign-up limits.

use crm_core::{Error, Result};

use super::Iam;
use super::rules::invalid;
use super::signin::SessionTokens;
use crate::domain::audit::{AuditEntry, AuditKind, Origin, Outcome};
use crate::domain::email::Email;
use crate::domain::events::{tenant_created, tenant_settings_changed, user_created};
use crate::domain::password::Password;
use crate::domain::ports::Changes;
use crate::domain::role::OWNER;
use crate::domain::session::SignInMethod;
use crate::domain::tenant::{Tenant, parse_tenant_name, slug_from_name};
use crate::domain::user::{User, parse_display_name};

impl Iam {
    /// Register: a new tenant with its owner, signed in; the tenant speaks `locale` (its
    /// default when empty).
    #[tracing::instrument(skip_all, fields(tenant_name = %tenant_name))]
    pub async fn register(
        &self,
        tenant_name: &str,
        email: &str,
        password: &str,
        (display_name, locale): (&str, &str),
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
        let locale = match locale.trim() {
            "" => None,
            given => crm_core::text::locale(given)
                .map_err(|e| problems.push(("locale", e.to_owned())))
                .ok(),
        };
        let (Some(name), Some(email), Some(password), Some(display_name), true) =
            (name, email, password, display_name, problems.is_empty())
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
        let mut tenant = Tenant::new(name, slug, now);
        let speaks_other = locale
            .as_ref()
            .is_some_and(|l| *l != tenant.settings.locale);
        if let Some(locale) = locale {
            tenant.settings.locale = locale;
        }
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
            events: [
                Some(tenant_created(&tenant, Some(&owner), origin)),
                // The other contexts learn a language other than the default as they learn any.
                speaks_other.then(|| tenant_settings_changed(&tenant, owner.id, origin)),
                Some(user_created(&tenant, &owner, None, origin)),
            ]
            .into_iter()
            .flatten()
            .collect(),
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
        let (tokens, session) = self
            .issue(&owner, None, SignInMethod::Password, &tenant.settings, now)
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

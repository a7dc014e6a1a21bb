//! The second factor: enrolment, turning it off, recovery codes; the second step of a sign-in
//! is [`sign_in`].
//!
//! Every code checked here (sign-in, confirmation, turning it off, new recovery codes) counts
//! toward the same per-user lockout as a wrong password does toward its own: past the account
//! limit within the window, codes are refused for the lockout period whatever they are.

use crm_core::error::ErrorKind;
use crm_core::{Error, Result, UserId};

use super::rules::{invalid, locked_out, owners_only};
use super::{Caller, Iam};
use crate::domain::Millis;
use crate::domain::audit::{AuditEntry, AuditKind, Origin, Outcome};
use crate::domain::mfa::{Mfa, hash_recovery_code, is_totp_code, recovery_codes};
use crate::domain::ports::{Changes, SecondFactor};
use crate::domain::user::User;
use crm_core::storage::pinned;

mod sign_in;

/// A secret to add to an authenticator app.
#[derive(Clone, Debug)]
pub struct Enrolment {
    /// Base32.
    pub secret: String,
    /// `otpauth://totp/...`.
    pub otpauth_uri: String,
}

/// Which kind of code a check accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Accept {
    /// Only a code from the app.
    AppOnly,
    /// A code from the app or a recovery code.
    AppOrRecovery,
}

fn precondition(message: &str) -> Error {
    Error::new(ErrorKind::FailedPrecondition, message)
}

fn bad_code() -> Error {
    Error::unauthenticated("the code is wrong or was used already; try the app's next code")
        .with_reason("INVALID_MFA_CODE")
}

fn no_code() -> Error {
    invalid(vec![(
        "code",
        "must not be empty: six digits from the authenticator app".to_owned(),
    )])
}

impl Iam {
    /// Starts the caller's enrolment: a new secret, replacing one not yet confirmed.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id))]
    pub async fn start_mfa_enrollment(&self, caller: &Caller) -> Result<Enrolment> {
        let user = self.own_account(caller).await?;
        if user.mfa_on() {
            return Err(precondition(
                "the second factor is on already; turn it off with DisableMfa to set up another app",
            )
            .with_reason("MFA_ALREADY_ON"));
        }
        let now = self.now();
        self.start_enrolment(&user, user.id, &caller.origin, now)
            .await
    }

    /// Confirms the caller's enrolment with a code from the app; returns the recovery codes.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id))]
    pub async fn confirm_mfa_enrollment(&self, caller: &Caller, code: &str) -> Result<Vec<String>> {
        if code.trim().is_empty() {
            return Err(no_code());
        }
        let user = self.own_account(caller).await?;
        match &user.mfa {
            Some(mfa) if !mfa.is_on() => {
                let now = self.now();
                self.confirm(&user, mfa, code, &caller.origin, now).await
            }
            Some(_) => {
                Err(precondition("the second factor is on already").with_reason("MFA_ALREADY_ON"))
            }
            None => Err(
                precondition("no enrolment to confirm: call StartMfaEnrollment first")
                    .with_reason("MFA_NOT_ENROLLED"),
            ),
        }
    }

    /// Turns a user's second factor off: one's own with a code, another's with `users.manage`.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id))]
    pub async fn disable_mfa(&self, caller: &Caller, user_id: UserId, code: &str) -> Result<()> {
        let p = self.current(caller).await?;
        let now = self.now();
        let user = if p.user_id == user_id && p.api_key_id.is_none() {
            let user = self.own_account(caller).await?;
            if let Some(mfa) = user.mfa.as_ref().filter(|m| m.is_on()) {
                if code.trim().is_empty() {
                    return Err(no_code());
                }
                self.check_code(&user, mfa, code, Accept::AppOrRecovery, &caller.origin, now)
                    .await?;
            }
            user
        } else {
            p.require("users.manage")?;
            let user = self
                .store
                .get_user(p.tenant_id, user_id)
                .await?
                .ok_or_else(|| Error::not_found("user", user_id))?;
            owners_only(&p, &user)?;
            user
        };
        if user.mfa.is_none() {
            return Ok(());
        }
        let mut next = user.clone();
        next.mfa = None;
        self.save_mfa(
            p.user_id,
            &user,
            next,
            "disabled",
            None,
            &caller.origin,
            now,
        )
        .await
    }

    /// New recovery codes for the caller, for a code from the app.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id))]
    pub async fn regenerate_recovery_codes(
        &self,
        caller: &Caller,
        code: &str,
    ) -> Result<Vec<String>> {
        if code.trim().is_empty() {
            return Err(no_code());
        }
        let user = self.own_account(caller).await?;
        let Some(mfa) = user.mfa.as_ref().filter(|m| m.is_on()) else {
            return Err(precondition(
                "the second factor is off: there are no recovery codes to replace",
            )
            .with_reason("MFA_NOT_ENROLLED"));
        };
        let now = self.now();
        self.check_code(&user, mfa, code, Accept::AppOnly, &caller.origin, now)
            .await?;
        let (codes, hashes) = new_recovery_codes()?;
        self.save_mfa(
            user.id,
            &user,
            user.clone(),
            "recovery_codes_replaced",
            Some(hashes),
            &caller.origin,
            now,
        )
        .await?;
        Ok(codes)
    }

    /// The caller's own user; API keys have no second factor.
    async fn own_account(&self, caller: &Caller) -> Result<User> {
        let p = self.current(caller).await?;
        if p.api_key_id.is_some() {
            return Err(Error::permission_denied(
                "an API key has no second factor; a person signs in to set one up",
            )
            .with_reason("NOT_A_PERSON"));
        }
        self.store
            .get_user(p.tenant_id, p.user_id)
            .await?
            .ok_or_else(|| Error::not_found("user", p.user_id))
    }

    async fn start_enrolment(
        &self,
        user: &User,
        actor: UserId,
        origin: &Origin,
        now: Millis,
    ) -> Result<Enrolment> {
        let mfa = Mfa::enrol().map_err(|e| Error::internal("no randomness for a secret", e))?;
        let enrolment = Enrolment {
            otpauth_uri: mfa.otpauth_uri(user.email.as_str()),
            secret: mfa.secret.clone(),
        };
        let mut next = user.clone();
        next.mfa = Some(mfa);
        next.updated_at = now;
        next.version += 1;
        let audit = mfa_audit(user, Some(actor), "enrollment_started", origin, now);
        let change = pinned(
            next,
            user.version,
            |u| u.version,
            Changes::audit(audit),
            "user",
        );
        self.store
            .update_user(user.tenant_id, user.id, change)
            .await?;
        Ok(enrolment)
    }

    /// Checks a code against the enrolment in progress, turns the second factor on and returns
    /// the recovery codes.
    async fn confirm(
        &self,
        user: &User,
        mfa: &Mfa,
        code: &str,
        origin: &Origin,
        now: Millis,
    ) -> Result<Vec<String>> {
        let mut next = user.clone();
        next.mfa = Some(Mfa {
            confirmed_at: Some(now),
            ..mfa.clone()
        });
        // The code is checked against the secret being confirmed, and spent once it is on.
        let step = self
            .check_code(user, mfa, code, Accept::AppOnly, origin, now)
            .await?;
        let (codes, hashes) = new_recovery_codes()?;
        self.save_mfa(user.id, user, next, "enabled", Some(hashes), origin, now)
            .await?;
        if let Some(step) = step {
            self.store
                .spend_second_factor(user.tenant_id, user.id, &SecondFactor::Step(step), now)
                .await?;
        }
        Ok(codes)
    }

    /// Saves the user's second factor as `next` says, with its recovery codes (`None` keeps
    /// them unless the factor is gone), audited as `change`.
    #[allow(clippy::too_many_arguments)]
    async fn save_mfa(
        &self,
        actor: UserId,
        user: &User,
        mut next: User,
        change: &str,
        recovery: Option<Vec<String>>,
        origin: &Origin,
        now: Millis,
    ) -> Result<()> {
        next.updated_at = now;
        next.version = user.version + 1;
        let recovery = match (recovery, &next.mfa) {
            (Some(hashes), _) => Some((user.id, hashes)),
            (None, None) => Some((user.id, Vec::new())),
            (None, Some(_)) => None,
        };
        let mut audit = mfa_audit(user, Some(actor), change, origin, now);
        if actor != user.id {
            audit = audit.with("by_administrator", "true");
        }
        let changes = Changes {
            audit: vec![audit],
            recovery_codes: recovery,
            ..Changes::default()
        };
        let change = pinned(next, user.version, |u| u.version, changes, "user");
        self.store
            .update_user(user.tenant_id, user.id, change)
            .await
            .map(drop)
    }

    /// Checks and spends a code of `user` for `mfa` (for an enrolment in progress, checks only),
    /// returning the TOTP step it was good for: refused while the user is locked out, and a
    /// wrong code counts toward the lockout and is audited as a failed sign-in.
    async fn check_code(
        &self,
        user: &User,
        mfa: &Mfa,
        code: &str,
        accept: Accept,
        origin: &Origin,
        now: Millis,
    ) -> Result<Option<i64>> {
        let key = format!("mfa:{}:{}", user.tenant_id, user.id);
        if let Some(left) = self.throttle.locked_for(&key).await? {
            return Err(locked_out(left));
        }
        let factor = if is_totp_code(code) {
            mfa.check(code, (now / 1000) as u64).map(SecondFactor::Step)
        } else if accept == Accept::AppOrRecovery && mfa.is_on() {
            Some(SecondFactor::RecoveryCode(hash_recovery_code(code)))
        } else {
            None
        };
        let spent = match &factor {
            // An enrolment in progress has no step to spend yet: `confirm` spends it once the
            // factor is on.
            Some(SecondFactor::Step(_)) if !mfa.is_on() => true,
            Some(f) => {
                self.store
                    .spend_second_factor(user.tenant_id, user.id, f, now)
                    .await?
            }
            None => false,
        };
        if spent {
            self.throttle.reset(&key).await?;
            return Ok(match factor {
                Some(SecondFactor::Step(step)) => Some(step),
                _ => None,
            });
        }
        let s = &self.settings;
        let lockout = self
            .throttle
            .record_failure(&key, s.account_failure_limit, s.failure_window, s.lockout)
            .await?;
        let mut entries = vec![
            AuditEntry::new(
                user.tenant_id,
                AuditKind::LoginFailed,
                Some(user.id),
                ("user", user.id.to_string()),
                Outcome::Failure,
                origin,
                now,
            )
            .with("second_factor", "wrong_code"),
        ];
        if lockout.is_some() {
            entries.push(
                AuditEntry::new(
                    user.tenant_id,
                    AuditKind::Lockout,
                    Some(user.id),
                    ("user", user.id.to_string()),
                    Outcome::Denied,
                    origin,
                    now,
                )
                .with("key", key),
            );
        }
        let changes = Changes {
            audit: entries,
            ..Changes::default()
        };
        if let Err(e) = self.store.append_audit(user.tenant_id, changes).await {
            tracing::error!(error = %e, "could not audit a wrong second-factor code");
        }
        Err(match lockout {
            Some(left) => locked_out(left),
            None => bad_code(),
        })
    }
}

fn new_recovery_codes() -> Result<(Vec<String>, Vec<String>)> {
    recovery_codes().map_err(|e| Error::internal("no randomness for recovery codes", e))
}

fn mfa_audit(
    user: &User,
    actor: Option<UserId>,
    change: &str,
    origin: &Origin,
    now: Millis,
) -> AuditEntry {
    AuditEntry::new(
        user.tenant_id,
        AuditKind::MfaChanged,
        actor,
        ("user", user.id.to_string()),
        Outcome::Success,
        origin,
        now,
    )
    .with("change", change)
}

//! The second step of a sign-in: after a right password, a challenge when the user has a second
//! factor or the tenant requires one; its code (or an enrolment it asks for) gives the session.

use crm_core::{Error, Result};

use crate::application::Iam;
use crate::application::signin::{PendingSignIn, SessionTokens};
use crate::domain::Millis;
use crate::domain::audit::Origin;
use crate::domain::mfa::{CHALLENGE_PREFIX, Challenge, is_totp_code};
use crate::domain::opaque;
use crate::domain::tenant::{Tenant, TenantStatus};
use crate::domain::user::User;

use super::*;

fn bad_challenge() -> Error {
    Error::unauthenticated("the mfa_token is invalid, expired or used; log in again")
        .with_reason("INVALID_MFA_TOKEN")
}

impl Iam {
    /// After a right password: the tokens, or a challenge when the user has a second factor or
    /// the tenant's policy requires one.
    pub(in crate::application) async fn second_step(
        &self,
        tenant: &Tenant,
        user: &User,
        now: Millis,
    ) -> Result<Option<PendingSignIn>> {
        let required = if user.mfa_on() {
            true
        } else {
            let custom = self.custom_roles_of(user).await?;
            let permissions = self.catalog.effective_permissions(&user.roles, &custom);
            tenant.settings.mfa_policy.requires(&permissions)
        };
        if !required {
            return Ok(None);
        }
        let (challenge, token) = Challenge::issue(tenant.id, user.id, !user.mfa_on(), now)
            .map_err(|e| Error::internal("no randomness for a challenge", e))?;
        self.store.insert_challenge(&challenge).await?;
        Ok(Some(PendingSignIn {
            mfa_token: token,
            expires_at: challenge.expires_at,
            enrollment_required: challenge.enrollment_required,
        }))
    }

    /// The second step of a sign-in: the challenge's token and a code give the session. When
    /// the challenge asked for an enrolment, the code confirms it and the recovery codes come
    /// back too.
    #[tracing::instrument(skip_all)]
    pub async fn verify_mfa(
        &self,
        mfa_token: &str,
        code: &str,
        origin: &Origin,
    ) -> Result<(SessionTokens, Option<Vec<String>>)> {
        if code.trim().is_empty() {
            return Err(no_code());
        }
        let now = self.now();
        let (tenant, user, challenge) = self.open_challenge(mfa_token, now).await?;
        let codes = match &user.mfa {
            Some(mfa) if mfa.is_on() => {
                self.check_code(&user, mfa, code, Accept::AppOrRecovery, origin, now)
                    .await?;
                None
            }
            Some(mfa) if challenge.enrollment_required => {
                Some(self.confirm(&user, mfa, code, origin, now).await?)
            }
            _ if challenge.enrollment_required => {
                return Err(precondition(
                    "no secret to check the code against: call AuthService.EnrollMfa with this mfa_token, add the secret to an authenticator app, then send its code",
                )
                .with_reason("MFA_NOT_ENROLLED"));
            }
            // Turned off since the password was checked: sign in again.
            _ => return Err(bad_challenge()),
        };
        if !self
            .store
            .spend_challenge(tenant.id, &challenge.token_hash, now)
            .await?
        {
            return Err(bad_challenge());
        }
        let factor = match &codes {
            Some(_) => "enrolment",
            None if is_totp_code(code) => "totp",
            None => "recovery_code",
        };
        let user = self
            .store
            .get_user(tenant.id, user.id)
            .await?
            .ok_or_else(bad_challenge)?;
        let details = [("second_factor", factor.to_owned())];
        let tokens = self
            .signed_in(
                &tenant,
                &user,
                crate::domain::session::SignInMethod::SecondFactor,
                &details,
                origin,
                now,
            )
            .await?;
        Ok((tokens, codes))
    }

    /// During a sign-in whose challenge asks for an enrolment: a new secret for the user.
    #[tracing::instrument(skip_all)]
    pub async fn enroll_mfa_for_sign_in(
        &self,
        mfa_token: &str,
        origin: &Origin,
    ) -> Result<Enrolment> {
        let now = self.now();
        let (_, user, challenge) = self.open_challenge(mfa_token, now).await?;
        if !challenge.enrollment_required || user.mfa_on() {
            return Err(precondition(
                "this sign-in needs a code from the authenticator app already set up: call AuthService.VerifyMfa",
            )
            .with_reason("MFA_ALREADY_ON"));
        }
        self.start_enrolment(&user, user.id, origin, now).await
    }

    /// The challenge a token names, open, with its tenant (active) and user (active).
    async fn open_challenge(&self, token: &str, now: Millis) -> Result<(Tenant, User, Challenge)> {
        let tenant_id = opaque::tenant_of(CHALLENGE_PREFIX, token).ok_or_else(bad_challenge)?;
        let challenge = self
            .store
            .challenge(tenant_id, &opaque::sha256_hex(token))
            .await?
            .filter(|c| c.is_open(now))
            .ok_or_else(bad_challenge)?;
        let tenant = self
            .store
            .find_tenant(&tenant_id.to_string())
            .await?
            .filter(|t| t.status == TenantStatus::Active)
            .ok_or_else(bad_challenge)?;
        let user = self
            .store
            .get_user(tenant_id, challenge.user_id)
            .await?
            .filter(User::is_active)
            .ok_or_else(bad_challenge)?;
        Ok((tenant, user, challenge))
    }
}

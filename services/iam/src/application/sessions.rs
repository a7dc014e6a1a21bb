//! Sessions after sign-in: refreshing (a reused refresh token revokes its family), logging
//! out, listing and revoking a user's sessions.

use crm_core::{Error, Result, UserId};
use uuid::Uuid;

use super::rules::owners_only;
use super::signin::SessionTokens;
use super::{Caller, Iam};
use crate::domain::Millis;
use crate::domain::audit::{AuditEntry, AuditKind, Origin, Outcome};
use crate::domain::ports::Changes;
use crate::domain::session::SignInMethod;
use crate::domain::session::{Presentation, Session, hash_refresh_token, refresh_token_tenant};

fn bad_refresh() -> Error {
    Error::unauthenticated("the refresh token is invalid, expired or revoked; log in again")
        .with_reason("INVALID_REFRESH_TOKEN")
}

impl Iam {
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
            let permissions = self.catalog.effective_permissions(&user.roles, &custom);
            if settings.mfa_policy.requires(&permissions) {
                return Err(Error::unauthenticated(
                    "your workspace requires a second factor for what you may now do, and this session was signed in without one: sign in again (you will be asked for the factor, or to set it up)",
                )
                .with_reason("MFA_REQUIRED"));
            }
        }
        let (tokens, next) = self
            .issue(
                &user,
                Some(&session),
                SignInMethod::Password,
                &settings,
                now,
            )
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

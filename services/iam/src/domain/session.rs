//! Refresh tokens: opaque, random, stored only as a SHA-256 hash, rotated on every use, grouped
//! in families (every token descended from one login) so reuse of a spent one revokes them all
//! (RFC 9700 §4.14).
//!
//! The token names its tenant (`rt_<tenant>_<secret>`) so a refresh is scoped to one tenant before
//! anything is read; the secret is 256 random bits.

use crm_core::{TenantId, UserId};
use uuid::Uuid;

use super::{Millis, opaque};

const PREFIX: &str = "rt_";

/// A new refresh token: the string to hand out and the hash to store.
pub struct IssuedRefreshToken {
    /// What the client gets.
    pub token: String,
    /// What is stored.
    pub hash: String,
}

/// Makes a refresh token for `tenant`.
pub fn issue_refresh_token(tenant: TenantId) -> Result<IssuedRefreshToken, getrandom::Error> {
    let token = opaque::mint(PREFIX, tenant)?;
    let hash = hash_refresh_token(&token);
    Ok(IssuedRefreshToken { token, hash })
}

/// The stored form of a token.
pub fn hash_refresh_token(token: &str) -> String {
    opaque::sha256_hex(token)
}

/// The tenant a presented token names, or `None` if it is not one of ours.
pub fn refresh_token_tenant(token: &str) -> Option<TenantId> {
    opaque::tenant_of(PREFIX, token)
}

/// A stored refresh token.
#[derive(Clone, Debug)]
pub struct Session {
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// Every token descended from one login shares it.
    pub family_id: Uuid,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its user.
    pub user_id: UserId,
    /// When issued.
    pub issued_at: Millis,
    /// When its family began (the sign-in); 0 for tokens stored before this was kept, which
    /// count from their own issue.
    pub started_at: Millis,
    /// When it stops working.
    pub expires_at: Millis,
    /// Set when exchanged by Refresh.
    pub spent_at: Option<Millis>,
    /// Set when its family was revoked.
    pub revoked_at: Option<Millis>,
    /// How its family was signed in.
    pub method: SignInMethod,
}

/// How a session was signed in: what a refresh knows of the assurance behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInMethod {
    /// A password alone.
    Password,
    /// A password and a second factor (an app code or a recovery code).
    SecondFactor,
    /// The tenant's OpenID provider, which answers for how the person signed in there.
    SingleSignOn,
}

impl SignInMethod {
    /// Its name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::SecondFactor => "second_factor",
            SignInMethod::SingleSignOn => "single_sign_on",
        }
    }

    /// From the store (unknown names, from no version, read as a password).
    pub fn parse(name: &str) -> SignInMethod {
        match name {
            "second_factor" => SignInMethod::SecondFactor,
            "single_sign_on" => SignInMethod::SingleSignOn,
            _ => SignInMethod::Password,
        }
    }

    /// Whether a tenant policy that requires a second factor is met by it.
    pub fn meets_second_factor_policy(self) -> bool {
        self != SignInMethod::Password
    }
}

/// What presenting a stored token means.
#[derive(Debug, PartialEq, Eq)]
pub enum Presentation {
    /// Fine: rotate it.
    Valid,
    /// Already exchanged: someone replays it. Revoke the family.
    Reused,
    /// Revoked (logout, reuse, user deactivated).
    Revoked,
    /// Past its expiry.
    Expired,
}

/// When a refresh token issued at `now`, in a session signed in at `started_at`, stops
/// working: the first of its own lifetime `ttl`, the `idle` timeout from now, and the session's
/// `max` lifetime from its sign-in.
pub fn refresh_expiry(
    now: Millis,
    started_at: Millis,
    ttl: Millis,
    idle: Millis,
    max: Millis,
) -> Millis {
    (now + ttl).min(now + idle).min(started_at + max)
}

impl Session {
    /// When the session this token belongs to was signed in.
    pub fn session_start(&self) -> Millis {
        if self.started_at > 0 {
            self.started_at
        } else {
            self.issued_at
        }
    }

    /// Judges a presentation of this token at `now`.
    pub fn present(&self, now: Millis) -> Presentation {
        if self.revoked_at.is_some() {
            Presentation::Revoked
        } else if self.spent_at.is_some() {
            Presentation::Reused
        } else if now >= self.expires_at {
            Presentation::Expired
        } else {
            Presentation::Valid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_tenant_and_is_stored_hashed() {
        let tenant = TenantId::new();
        let issued = issue_refresh_token(tenant).unwrap();
        assert_eq!(refresh_token_tenant(&issued.token), Some(tenant));
        assert_eq!(issued.hash, hash_refresh_token(&issued.token));
        assert!(!issued.hash.contains(&issued.token[3..20]));
        assert_ne!(issue_refresh_token(tenant).unwrap().token, issued.token);
    }

    #[test]
    fn foreign_strings_are_not_tokens() {
        assert_eq!(refresh_token_tenant("eyJhbGciOi.x.y"), None);
        assert_eq!(refresh_token_tenant("rt_nottenant_xxx"), None);
    }

    #[test]
    fn a_refresh_token_ends_at_the_first_of_its_lifetime_the_idle_timeout_and_the_sessions_end() {
        let (ttl, idle, max) = (30 * 86_400_000, 30 * 60_000, 8 * 3_600_000);
        // Just signed in: the idle timeout comes first.
        assert_eq!(refresh_expiry(1_000, 1_000, ttl, idle, max), 1_000 + idle);
        // Refreshed 7h50m after the sign-in: the session's end comes first.
        let late = 1_000 + max - 10 * 60_000;
        assert_eq!(refresh_expiry(late, 1_000, ttl, idle, max), 1_000 + max);
        // A token lifetime shorter than both.
        assert_eq!(refresh_expiry(0, 0, 60_000, idle, max), 60_000);
    }

    #[test]
    fn spent_tokens_are_reuse_and_revocation_wins() {
        let mut s = Session {
            token_hash: "h".into(),
            family_id: Uuid::now_v7(),
            tenant_id: TenantId::new(),
            user_id: UserId::new(),
            issued_at: 0,
            started_at: 0,
            expires_at: 100,
            spent_at: None,
            revoked_at: None,
            method: SignInMethod::Password,
        };
        assert_eq!(s.present(50), Presentation::Valid);
        assert_eq!(s.present(100), Presentation::Expired);
        s.spent_at = Some(60);
        assert_eq!(s.present(70), Presentation::Reused);
        s.revoked_at = Some(80);
        assert_eq!(s.present(90), Presentation::Revoked);
    }
}

//! Refresh tokens: opaque, random, stored only as a SHA-256 hash, rotated on every use, grouped
//! in families (every token descended from one login) so reuse of a spent one revokes them all
//! (RFC 9700 §4.14).
//!
//! The token names its tenant (`rt_<tenant>_<secret>`) so a refresh is scoped to one tenant before
//! anything is read; the secret is 256 random bits.

use base64::Engine;
use crm_core::{TenantId, UserId};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Millis;

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
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)?;
    let token = format!(
        "{PREFIX}{}_{}",
        tenant.as_uuid().simple(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let hash = hash_refresh_token(&token);
    Ok(IssuedRefreshToken { token, hash })
}

/// The stored form of a token.
pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The tenant a presented token names, or `None` if it is not one of ours.
pub fn refresh_token_tenant(token: &str) -> Option<TenantId> {
    let rest = token.strip_prefix(PREFIX)?;
    let (tenant, secret) = rest.split_once('_')?;
    if secret.len() != 43 {
        return None;
    }
    Uuid::try_parse(tenant).ok().map(TenantId::from)
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
    /// When it stops working.
    pub expires_at: Millis,
    /// Set when exchanged by Refresh.
    pub spent_at: Option<Millis>,
    /// Set when its family was revoked.
    pub revoked_at: Option<Millis>,
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

impl Session {
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
    fn spent_tokens_are_reuse_and_revocation_wins() {
        let mut s = Session {
            token_hash: "h".into(),
            family_id: Uuid::now_v7(),
            tenant_id: TenantId::new(),
            user_id: UserId::new(),
            issued_at: 0,
            expires_at: 100,
            spent_at: None,
            revoked_at: None,
        };
        assert_eq!(s.present(50), Presentation::Valid);
        assert_eq!(s.present(100), Presentation::Expired);
        s.spent_at = Some(60);
        assert_eq!(s.present(70), Presentation::Reused);
        s.revoked_at = Some(80);
        assert_eq!(s.present(90), Presentation::Revoked);
    }
}

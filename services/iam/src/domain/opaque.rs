//! Opaque tokens that name their tenant, `<prefix><tenant>_<256 random bits, base64url>`, and
//! are stored only as their SHA-256: refresh tokens (`rt_`), sign-in challenges (`mfa_`) and
//! single sign-on states (`sso_`). The tenant in the token scopes the lookup before anything is
//! read.

use base64::Engine;
use crm_core::TenantId;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A new token for `tenant` with `prefix`.
pub fn mint(prefix: &str, tenant: TenantId) -> Result<String, getrandom::Error> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)?;
    Ok(format!(
        "{prefix}{}_{}",
        tenant.as_uuid().simple(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    ))
}

/// The tenant a presented token of `prefix` names, or `None` if it is not shaped like one.
pub fn tenant_of(prefix: &str, token: &str) -> Option<TenantId> {
    let rest = token.strip_prefix(prefix)?;
    let (tenant, secret) = rest.split_once('_')?;
    if secret.len() != 43 {
        return None;
    }
    Uuid::try_parse(tenant).ok().map(TenantId::from)
}

/// The stored form of a secret presented in full (a token, a key): SHA-256, hex. Enough for
/// values with 256 random bits; passwords use argon2id.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_tenant_under_its_prefix_only() {
        let tenant = TenantId::new();
        let token = mint("x_", tenant).unwrap();
        assert_eq!(tenant_of("x_", &token), Some(tenant));
        assert_eq!(tenant_of("y_", &token), None);
        assert_ne!(mint("x_", tenant).unwrap(), token);
        assert_eq!(tenant_of("x_", "x_nope_short"), None);
        assert_eq!(sha256_hex(&token).len(), 64);
        assert_ne!(sha256_hex(&token), sha256_hex("other"));
    }
}

//! API keys: credentials of integrations. A key acts with one role's permissions, may expire,
//! can be revoked, and is stored only as its SHA-256.
//!
//! A key reads `kcrm_<secret>_<tenant>`: 256 random bits (43 characters of base64url), then its
//! tenant, so it is looked up under that tenant before anything else is read (as refresh tokens
//! are). Its first characters, `kcrm_` and 8 of the secret, are its visible prefix.

use base64::Engine;
use crm_core::{TenantId, UserId};
use uuid::Uuid;

use super::Millis;

/// What every key starts with.
pub const KEY_PREFIX: &str = "kcrm_";
/// The longest name.
pub const MAX_NAME: usize = 100;
/// Characters of the secret in the visible prefix.
const VISIBLE: usize = 8;
/// Characters of the secret (32 bytes, base64url without padding).
const SECRET_LEN: usize = 43;

/// A stored key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// UUIDv7.
    pub id: Uuid,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// What it is for.
    pub name: String,
    /// The role it acts with: a built-in role's name or a custom role's id.
    pub role_id: String,
    /// Its first characters, shown to recognise it.
    pub prefix: String,
    /// SHA-256 of the key, hex.
    pub key_hash: String,
    /// Who created it.
    pub created_by: UserId,
    /// Created.
    pub created_at: Millis,
    /// When it stops working.
    pub expires_at: Option<Millis>,
    /// The last call with it (recorded at most once a minute).
    pub last_used_at: Option<Millis>,
    /// When it was revoked.
    pub revoked_at: Option<Millis>,
    /// Bumped by every change.
    pub version: i64,
}

/// A key just made: its record and the key itself, shown once.
pub struct IssuedKey {
    /// What is stored.
    pub record: ApiKey,
    /// What the caller gets.
    pub secret: String,
}

impl ApiKey {
    /// A new key of `tenant` acting as `role_id`; the name trimmed, 1 to [`MAX_NAME`]
    /// characters; an expiry, if any, after `now`. Errors are (field, reason).
    pub fn issue(
        tenant: TenantId,
        name: &str,
        role_id: &str,
        expires_at: Option<Millis>,
        created_by: UserId,
        now: Millis,
    ) -> Result<IssuedKey, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            problems.push(("name", format!("must be 1 to {MAX_NAME} characters")));
        }
        if role_id.trim().is_empty() {
            problems.push((
                "role_id",
                "is required: the role the key acts with".to_owned(),
            ));
        }
        if expires_at.is_some_and(|at| at <= now) {
            problems.push(("expire_time", "must be in the future".to_owned()));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| vec![("secret", e.to_string())])?;
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
        let key = format!("{KEY_PREFIX}{secret}_{}", tenant.as_uuid().simple());
        let record = ApiKey {
            id: Uuid::now_v7(),
            tenant_id: tenant,
            name: name.to_owned(),
            role_id: role_id.trim().to_owned(),
            prefix: format!("{KEY_PREFIX}{}", &secret[..VISIBLE]),
            key_hash: hash_key(&key),
            created_by,
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
            version: 1,
        };
        Ok(IssuedKey {
            record,
            secret: key,
        })
    }

    /// Whether it can still be used at `now`.
    pub fn is_usable(&self, now: Millis) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }

    /// Revokes it; false when it already was (nothing changes).
    pub fn revoke(&mut self, now: Millis) -> bool {
        if self.revoked_at.is_some() {
            return false;
        }
        self.revoked_at = Some(now);
        self.version += 1;
        true
    }
}

/// The stored form of a key.
pub fn hash_key(key: &str) -> String {
    super::opaque::sha256_hex(key)
}

/// Whether `credential` has the shape of a key (it may still be unknown or revoked).
pub fn looks_like_key(credential: &str) -> bool {
    key_tenant(credential).is_some()
}

/// The tenant a presented key names, or `None` if it is not shaped like one of ours.
pub fn key_tenant(key: &str) -> Option<TenantId> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (secret, tenant) = rest.rsplit_once('_')?;
    if secret.len() != SECRET_LEN {
        return None;
    }
    Uuid::try_parse(tenant).ok().map(TenantId::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(expires_at: Option<Millis>) -> IssuedKey {
        ApiKey::issue(
            TenantId::new(),
            "  shopify-sync ",
            "sales_rep",
            expires_at,
            UserId::new(),
            1_000,
        )
        .unwrap()
    }

    #[test]
    fn a_key_names_its_tenant_is_stored_as_a_hash_and_shows_only_its_prefix() {
        let issued = issue(None);
        let key = &issued.secret;
        assert!(key.starts_with("kcrm_"));
        assert_eq!(key_tenant(key), Some(issued.record.tenant_id));
        assert_eq!(issued.record.key_hash, hash_key(key));
        assert_ne!(issued.record.key_hash, *key);
        assert!(key.starts_with(&issued.record.prefix));
        assert_eq!(issued.record.prefix.len(), "kcrm_".len() + 8);
        assert_eq!(issued.record.name, "shopify-sync");
        assert_ne!(issue(None).secret, issue(None).secret, "random");
    }

    #[test]
    fn only_our_shape_is_a_key() {
        let key = issue(None).secret;
        assert!(looks_like_key(&key));
        for other in [
            "eyJhbGciOiJFZERTQSJ9.e30.sig",
            "kcrm_short_0190c7a4b8e27c3f9d2a1b4c5d6e7f80",
            &key.replace("kcrm_", "kcrx_"),
            &key[..key.len() - 1],
        ] {
            assert!(!looks_like_key(other), "{other}");
        }
    }

    #[test]
    fn a_key_works_until_it_expires_or_is_revoked_once() {
        let mut key = issue(Some(5_000)).record;
        assert!(key.is_usable(4_999));
        assert!(!key.is_usable(5_000));
        let mut forever = issue(None).record;
        assert!(forever.is_usable(i64::MAX));
        assert!(forever.revoke(2_000));
        assert!(!forever.is_usable(2_001));
        assert!(!forever.revoke(3_000), "revoking again changes nothing");
        assert_eq!(forever.revoked_at, Some(2_000));
        assert_eq!(forever.version, 2);
        key.revoke(1_500);
        assert!(!key.is_usable(1_600));
    }

    #[test]
    fn bad_input_names_every_field() {
        let problems = ApiKey::issue(TenantId::new(), " ", "", Some(500), UserId::new(), 1_000)
            .err()
            .unwrap();
        let fields: Vec<&str> = problems.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["name", "role_id", "expire_time"]);
        let long = "x".repeat(MAX_NAME + 1);
        assert!(ApiKey::issue(TenantId::new(), &long, "viewer", None, UserId::new(), 1).is_err());
    }
}

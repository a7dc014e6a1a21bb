//! Access-token verification (RFC 8725): EdDSA JWTs with a `kid`, the algorithm pinned per key,
//! `iss`, `aud`, `exp`, `nbf` and the `at+jwt` type checked. IAM signs with [`AccessClaims`];
//! every service verifies with [`TokenVerifier`] built from the public keys (a JWK Set).

use std::collections::HashMap;
use std::path::Path;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use crate::context::{Principal, TenantId, UserId};

/// The JOSE `typ` header of an access token (RFC 9068), so no other JWT of ours passes as one.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// The JOSE `typ` header of a service token: what IAM issues a service account (OAuth2 client
/// credentials) to call one other service for one tenant. It never passes as a person's token.
pub const SERVICE_TOKEN_TYPE: &str = "svc+jwt";

/// The audience a service token must name to call the method at `path`: its context's package
/// prefix, `/crm.customer.v1.CustomerService/GetCustomer` → `crm.customer`.
pub fn callee_audience(path: &str) -> Option<&str> {
    let service = path.trim_start_matches('/').split('/').next()?;
    let mut dots = service.match_indices('.');
    let (second, _) = dots.nth(1)?;
    Some(&service[..second])
}

/// The stable user id a service acts under (UUIDv5 of `crm:service:<name>`), so what it writes
/// names it the same way every time.
pub fn service_user_id(name: &str) -> UserId {
    UserId::from(uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("crm:service:{name}").as_bytes(),
    ))
}

/// The claims of an access token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user's id.
    pub sub: String,
    /// The tenant's id.
    pub tid: String,
    /// Role names.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The roles' permissions at issue time (so services decide without calling IAM).
    #[serde(default)]
    pub perms: Vec<String>,
    /// The user's team, for team-scoped grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Token id.
    pub jti: String,
    /// Set on service tokens: the calling service's name (`sales`); `sub` is then
    /// [`service_user_id`] of it and `aud` the callee ([`callee_audience`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub svc: Option<String>,
}

/// Why a token was refused. Every variant becomes `UNAUTHENTICATED`; the text is safe to send.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts with a JSON header.
    #[error("the access token is malformed")]
    Malformed,
    /// No `kid`, or a `kid` no configured key has.
    #[error("the access token's signing key is unknown")]
    UnknownKey,
    /// The header's `typ` is not `at+jwt` (nor `svc+jwt` with a service claim).
    #[error("the token is not an access token")]
    WrongType,
    /// A service token for another callee.
    #[error("this service token is for another service (its `aud`); get one for this one")]
    WrongAudience,
    /// The header's `alg` is not the one pinned for its key (including `none`).
    #[error("the access token's algorithm is not allowed")]
    WrongAlgorithm,
    /// The signature does not verify.
    #[error("the access token's signature is invalid")]
    BadSignature,
    /// Past `exp`.
    #[error("the access token has expired; refresh it")]
    Expired,
    /// Before `nbf`.
    #[error("the access token is not valid yet")]
    NotYetValid,
    /// Another issuer or audience, or a claim missing or not a UUID.
    #[error("the access token's claims are invalid")]
    InvalidClaims,
}

/// Why a key set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    /// The file could not be read.
    #[error("cannot read the JWK Set file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a JWK Set.
    #[error("not a JWK Set (RFC 7517 JSON with a `keys` array): {0}")]
    Parse(#[from] serde_json::Error),
    /// A key lacks `kid` or `alg`, or its parameters are wrong.
    #[error("key {index} of the JWK Set: {reason}")]
    BadKey {
        /// The key's position.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Verifies access tokens against a set of public keys, each pinned to its algorithm.
///
/// A token that verified is remembered (the whole token, signature included, as the key) with
/// its caller and expiry, so its next calls skip the signature check until it expires: the
/// answer is the one verifying again would give, as time only moves past `nbf` and toward
/// `exp`, and adding keys forgets every remembered token. Revocation is not remembered here: the
/// request layer checks it on every call.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    issuer: String,
    audience: String,
    verified: moka::sync::Cache<String, Verified>,
}

/// A token that verified: who it names, its expiry, and for a service token its audience.
#[derive(Clone)]
struct Verified {
    principal: Principal,
    exp: u64,
    service_audience: Option<String>,
}

/// How many verified tokens are remembered at most.
const REMEMBERED_TOKENS: u64 = 100_000;
/// Seconds of clock skew allowed on `exp` and `nbf`.
const LEEWAY: u64 = 30;

/// A remembered token is forgotten when it expires (with the leeway), not only when the cache is
/// full: otherwise every process keeps up to [`REMEMBERED_TOKENS`] dead tokens (about a
/// kilobyte each) and its memory grows with every token issued until it holds them all.
struct UntilExpiry;

impl moka::Expiry<String, Verified> for UntilExpiry {
    fn expire_after_create(
        &self,
        _token: &String,
        verified: &Verified,
        _created_at: std::time::Instant,
    ) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(
            (verified.exp + LEEWAY).saturating_sub(now_secs()),
        ))
    }
}

fn remembered() -> moka::sync::Cache<String, Verified> {
    moka::sync::Cache::builder()
        .max_capacity(REMEMBERED_TOKENS)
        .expire_after(UntilExpiry)
        .build()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl TokenVerifier {
    /// A verifier with no keys: every token is refused. What a process has until IAM's keys
    /// are configured.
    pub fn without_keys(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            keys: HashMap::new(),
            issuer: issuer.into(),
            audience: audience.into(),
            verified: remembered(),
        }
    }

    /// A verifier for the keys of a JWK Set. Every key needs `kid` and `alg`.
    pub fn from_jwks(
        jwks: &JwkSet,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, KeySetError> {
        let mut verifier = Self::without_keys(issuer, audience);
        verifier.add_jwks(jwks)?;
        Ok(verifier)
    }

    /// Trusts the keys of another JWK Set too (e.g. IAM's own beside a configured file).
    pub fn add_jwks(&mut self, jwks: &JwkSet) -> Result<(), KeySetError> {
        for (index, jwk) in jwks.keys.iter().enumerate() {
            let bad = |reason: &str| KeySetError::BadKey {
                index,
                reason: reason.to_owned(),
            };
            let kid = jwk
                .common
                .key_id
                .clone()
                .ok_or_else(|| bad("missing `kid`"))?;
            let alg = jwk
                .common
                .key_algorithm
                .ok_or_else(|| bad("missing `alg`: keys must pin their algorithm"))?;
            let alg =
                Algorithm::try_from(alg).map_err(|_| bad("`alg` is not a signature algorithm"))?;
            let key = DecodingKey::from_jwk(jwk).map_err(|e| bad(&e.to_string()))?;
            self.keys.insert(kid, (key, alg));
        }
        self.verified.invalidate_all();
        Ok(())
    }

    /// A verifier for the JWK Set in a JSON file.
    pub fn from_jwks_file(
        path: &Path,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, KeySetError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeySetError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let jwks: JwkSet = serde_json::from_str(&text)?;
        Self::from_jwks(&jwks, issuer, audience)
    }

    /// How many keys it holds.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Verifies a person's access token and returns the caller it names; a service token is
    /// refused here (see [`TokenVerifier::verify_call`]).
    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        self.verify_at(token, None, now_secs())
    }

    /// Verifies a token presented to the method at `path`: a person's access token, or a
    /// service token whose audience is the method's context ([`callee_audience`]).
    pub fn verify_call(&self, token: &str, path: &str) -> Result<Principal, TokenError> {
        self.verify_at(token, callee_audience(path), now_secs())
    }

    fn verify_at(
        &self,
        token: &str,
        callee: Option<&str>,
        now: u64,
    ) -> Result<Principal, TokenError> {
        let verified = match self.verified.get(token) {
            Some(v) => v,
            None => {
                let v = self.check_signature(token)?;
                self.verified.insert(token.to_owned(), v.clone());
                v
            }
        };
        if now > verified.exp + LEEWAY {
            self.verified.invalidate(token);
            return Err(TokenError::Expired);
        }
        if let Some(audience) = &verified.service_audience
            && callee != Some(audience.as_str())
        {
            return Err(TokenError::WrongAudience);
        }
        Ok(verified.principal)
    }

    /// The full check: header, key, algorithm, signature and claims.
    fn check_signature(&self, token: &str) -> Result<Verified, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let (key, alg) = self.keys.get(kid).ok_or(TokenError::UnknownKey)?;
        if header.alg != *alg {
            return Err(TokenError::WrongAlgorithm);
        }
        let service = match header.typ.as_deref() {
            Some(ACCESS_TOKEN_TYPE) => false,
            Some(SERVICE_TOKEN_TYPE) => true,
            _ => return Err(TokenError::WrongType),
        };
        let mut validation = Validation::new(*alg);
        validation.set_issuer(&[&self.issuer]);
        if service {
            // Any callee of ours; which one is checked against the method called.
            validation.validate_aud = false;
        } else {
            validation.set_audience(&[&self.audience]);
        }
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY;
        let data = jsonwebtoken::decode::<AccessClaims>(token, key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::ExpiredSignature => TokenError::Expired,
                K::ImmatureSignature => TokenError::NotYetValid,
                K::InvalidSignature => TokenError::BadSignature,
                K::InvalidAlgorithm => TokenError::WrongAlgorithm,
                K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => TokenError::Malformed,
                _ => TokenError::InvalidClaims,
            }
        })?;
        let claims = data.claims;
        let service_audience = match (service, &claims.svc) {
            (false, None) => None,
            // A callee is one context (`crm.customer`), and the subject is the service's own id.
            (true, Some(name))
                if claims.aud.matches('.').count() == 1
                    && UserId::parse(&claims.sub).ok() == Some(service_user_id(name)) =>
            {
                Some(claims.aud.clone())
            }
            _ => return Err(TokenError::WrongType),
        };
        let issued_at = issued_at_millis(&claims.jti, claims.iat);
        let principal = Principal {
            tenant_id: TenantId::parse(&claims.tid).map_err(|_| TokenError::InvalidClaims)?,
            user_id: UserId::parse(&claims.sub).map_err(|_| TokenError::InvalidClaims)?,
            roles: claims.roles,
            permissions: claims.perms,
            team: claims.team,
            token_id: claims.jti,
            issued_at,
            expires_at: Some((claims.exp as i64).saturating_mul(1000)),
            api_key_id: None,
            service: claims.svc,
        };
        Ok(Verified {
            principal,
            exp: claims.exp,
            service_audience,
        })
    }
}

/// A token's issue time in milliseconds: IAM's `jti` is a UUIDv7, whose timestamp has them;
/// `iat` has only seconds, and a revocation and a new sign-in can fall within one second.
fn issued_at_millis(jti: &str, iat: u64) -> i64 {
    let from_iat = (iat as i64).saturating_mul(1000);
    uuid::Uuid::try_parse(jti)
        .ok()
        .filter(|id| id.get_version_num() == 7)
        .and_then(|id| id.get_timestamp())
        .map(|ts| {
            let (secs, nanos) = ts.to_unix();
            secs as i64 * 1000 + i64::from(nanos / 1_000_000)
        })
        // Only a jti minted in the same second as `iat` is trusted for the milliseconds.
        .filter(|ms| ms / 1000 == iat as i64)
        .unwrap_or(from_iat)
}

#[cfg(test)]
pub(crate) mod tests;

//! Signing keys for access tokens: Ed25519, one PKCS#8 PEM file per key in a directory, named
//! by its `kid` (a UUIDv7, so the newest sorts last). New tokens use the newest key; tokens of
//! older keys verify until their file is removed. Embedded mode generates the first key in the
//! data dir; `crm keys rotate` adds one.

use std::path::{Path, PathBuf};

use base64::Engine;
use crm_core::auth::{ACCESS_TOKEN_TYPE, AccessClaims, SERVICE_TOKEN_TYPE, TokenVerifier};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// Why the keys could not be used. The messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The directory could not be read or written.
    #[error(
        "signing keys in {dir}: {source}; check the directory and its permissions (iam.signing_keys_dir)"
    )]
    Io {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not an Ed25519 PKCS#8 PEM key.
    #[error("{file} is not an Ed25519 PKCS#8 PEM private key: {reason}")]
    BadKey {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No key at all where keys are required.
    #[error("no signing key in {0}; create one with `crm keys rotate`")]
    None(PathBuf),
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    public_x: String,
}

/// The signing keys, oldest first.
pub struct SigningKeys {
    keys: Vec<Key>,
}

impl SigningKeys {
    /// Loads the keys in `dir`, generating the first one when there is none.
    pub fn load_or_create(dir: &Path) -> Result<SigningKeys, KeyError> {
        std::fs::create_dir_all(dir).map_err(|source| KeyError::Io {
            dir: dir.to_owned(),
            source,
        })?;
        let keys = Self::load(dir);
        match keys {
            Err(KeyError::None(_)) => {
                let kid = Self::rotate(dir)?;
                tracing::info!(%kid, dir = %dir.display(), "generated the first token signing key");
                Self::load(dir)
            }
            other => other,
        }
    }

    /// Loads the keys in `dir`; at least one is required.
    pub fn load(dir: &Path) -> Result<SigningKeys, KeyError> {
        let io = |source| KeyError::Io {
            dir: dir.to_owned(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pem"))
            .collect();
        files.sort();
        let mut keys = Vec::new();
        for file in files {
            let pem = std::fs::read_to_string(&file).map_err(io)?;
            let signing = SigningKey::from_pkcs8_pem(&pem).map_err(|e| KeyError::BadKey {
                file: file.clone(),
                reason: e.to_string(),
            })?;
            let der = signing.to_pkcs8_der().map_err(|e| KeyError::BadKey {
                file: file.clone(),
                reason: e.to_string(),
            })?;
            let kid = file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            keys.push(Key {
                kid,
                encoding: EncodingKey::from_ed_der(der.as_bytes()),
                public_x: base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(signing.verifying_key().as_bytes()),
            });
        }
        if keys.is_empty() {
            return Err(KeyError::None(dir.to_owned()));
        }
        Ok(SigningKeys { keys })
    }

    /// Adds a new key to `dir` (readable by its owner only); returns its `kid`.
    pub fn rotate(dir: &Path) -> Result<String, KeyError> {
        use std::io::Write;
        let io = |source| KeyError::Io {
            dir: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| io(std::io::Error::other(e)))?;
        let key = SigningKey::from_bytes(&secret);
        let pem = key
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|e| io(std::io::Error::other(e)))?;
        let kid = uuid::Uuid::now_v7().to_string();
        let path = dir.join(format!("{kid}.pem"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(io)?;
        file.write_all(pem.as_bytes()).map_err(io)?;
        Ok(kid)
    }

    /// Signs access-token claims with the newest key.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, jsonwebtoken::errors::Error> {
        let key = self.keys.last().expect("at least one key is loaded");
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        header.typ = Some(
            if claims.svc.is_some() {
                SERVICE_TOKEN_TYPE
            } else {
                ACCESS_TOKEN_TYPE
            }
            .into(),
        );
        jsonwebtoken::encode(&header, claims, &key.encoding)
    }

    /// The public keys as an RFC 7517 JWK Set.
    pub fn jwks(&self) -> JwkSet {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .map(|k| {
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": k.public_x, "kid": k.kid, "alg": "EdDSA", "use": "sig"})
            })
            .collect();
        serde_json::from_value(serde_json::json!({ "keys": keys })).expect("well-formed JWKs")
    }

    /// The `(kid, x)` of every public key, oldest first.
    pub fn public_keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.keys
            .iter()
            .map(|k| (k.kid.as_str(), k.public_x.as_str()))
    }

    /// A verifier for tokens of these keys.
    pub fn verifier(&self, issuer: &str, audience: &str) -> TokenVerifier {
        TokenVerifier::from_jwks(&self.jwks(), issuer, audience).expect("our own JWKs are valid")
    }
}

impl crate::domain::ports::TokenSigning for SigningKeys {
    fn sign(&self, claims: &AccessClaims) -> crm_core::Result<String> {
        SigningKeys::sign(self, claims)
            .map_err(|e| crm_core::Error::internal("could not sign the access token", e))
    }

    fn public_keys(&self) -> Vec<(String, String)> {
        SigningKeys::public_keys(self)
            .map(|(kid, x)| (kid.to_owned(), x.to_owned()))
            .collect()
    }

    fn jwks(&self) -> JwkSet {
        SigningKeys::jwks(self)
    }
}

#[cfg(test)]
mod tests {
    use crm_core::{TenantId, UserId};

    use super::*;

    fn claims() -> AccessClaims {
        let now = chrono::Utc::now().timestamp() as u64;
        AccessClaims {
            iss: "i".into(),
            aud: "a".into(),
            sub: UserId::new().to_string(),
            tid: TenantId::new().to_string(),
            roles: vec![],
            perms: vec![],
            team: None,
            exp: now + 60,
            iat: now,
            nbf: now,
            jti: "j".into(),
            svc: None,
        }
    }

    #[test]
    fn the_first_key_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = SigningKeys::load_or_create(dir.path()).unwrap();
        let again = SigningKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(
            first.public_keys().collect::<Vec<_>>(),
            again.public_keys().collect::<Vec<_>>()
        );
        assert_eq!(first.public_keys().count(), 1);
    }

    #[test]
    fn after_rotation_new_tokens_use_the_new_key_and_old_tokens_still_verify() {
        let dir = tempfile::tempdir().unwrap();
        let before = SigningKeys::load_or_create(dir.path()).unwrap();
        let old_token = before.sign(&claims()).unwrap();
        let new_kid = SigningKeys::rotate(dir.path()).unwrap();
        let after = SigningKeys::load(dir.path()).unwrap();
        let new_token = after.sign(&claims()).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&new_token)
                .unwrap()
                .kid
                .as_deref(),
            Some(new_kid.as_str())
        );
        let verifier = after.verifier("i", "a");
        assert!(verifier.verify(&old_token).is_ok());
        assert!(verifier.verify(&new_token).is_ok());
        assert_eq!(after.jwks().keys.len(), 2);
    }

    #[test]
    fn a_broken_key_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("broken.pem"), "not a key").unwrap();
        let err = SigningKeys::load(dir.path()).err().unwrap();
        assert!(err.to_string().contains("broken.pem"), "{err}");
    }
}

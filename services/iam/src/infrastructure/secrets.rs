//! Secrets IAM must read back (TOTP shared secrets, SSO client secrets) are stored sealed with
//! AES-256-GCM under a key kept beside the signing keys (`secrets.key`), not in the database: a
//! copy of the database alone does not give them away.
//!
//! A sealed value is `v1:<nonce>:<ciphertext>` (base64url). A value without the prefix was
//! stored before sealing existed and is read as it is; the next save seals it.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

const PREFIX: &str = "v1:";
/// The key's file name in the keys directory.
pub const FILE: &str = "secrets.key";

/// Seals and opens stored secrets.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(<key>)")
    }
}

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    /// Reading or writing the file failed.
    #[error("the secrets key {path}: {source}; check the keys directory (iam.signing_keys_dir)")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file holds no 32-byte key.
    #[error("{0} is not a secrets key (32 bytes, base64url); restore it from a backup")]
    Bad(PathBuf),
    /// No key where one is required.
    #[error(
        "no secrets key in {0}; create it with `crm keys rotate` (and share it with every IAM replica)"
    )]
    Missing(PathBuf),
}

impl SecretBox {
    /// A box with a random key that lives as long as the process (tests).
    pub fn ephemeral() -> SecretBox {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS has randomness");
        SecretBox::from_key(&key)
    }

    fn from_key(key: &[u8; 32]) -> SecretBox {
        SecretBox {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// The key in `dir`; `None` when the file does not exist.
    pub fn load(dir: &Path) -> Result<Option<SecretBox>, SecretKeyError> {
        let path = dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(SecretKeyError::Io { path, source }),
        };
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| SecretKeyError::Bad(path.clone()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SecretKeyError::Bad(path.clone()))?;
        Ok(Some(SecretBox::from_key(&key)))
    }

    /// The key in `dir`, required.
    pub fn require(dir: &Path) -> Result<SecretBox, SecretKeyError> {
        Self::load(dir)?.ok_or_else(|| SecretKeyError::Missing(dir.join(FILE)))
    }

    /// The key in `dir`, made (readable by the owner only) when there is none.
    pub fn load_or_create(dir: &Path) -> Result<SecretBox, SecretKeyError> {
        if let Some(existing) = Self::load(dir)? {
            return Ok(existing);
        }
        Self::create(dir)?;
        Self::require(dir)
    }

    /// Writes a new key file in `dir` if it has none; true when it wrote one.
    pub fn create(dir: &Path) -> Result<bool, SecretKeyError> {
        use std::io::Write;
        let path = dir.join(FILE);
        let io = |source| SecretKeyError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| io(std::io::Error::other(e)))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(mut file) => {
                file.write_all(B64.encode(key).as_bytes()).map_err(io)?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io(e)),
        }
    }

    /// `plain`, sealed for storage.
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("the OS has randomness");
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), plain.as_bytes())
            .expect("AES-GCM seals any message of this size");
        format!("{PREFIX}{}:{}", B64.encode(nonce), B64.encode(sealed))
    }

    /// A stored value, opened; one stored before sealing is returned as it is. `None` when it
    /// was sealed under another key or tampered with.
    pub fn open(&self, stored: &str) -> Option<String> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Some(stored.to_owned());
        };
        let (nonce, sealed) = rest.split_once(':')?;
        let nonce: [u8; 12] = B64.decode(nonce).ok()?.try_into().ok()?;
        let sealed = B64.decode(sealed).ok()?;
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce), sealed.as_slice())
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_under_their_key_and_old_values_read_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SecretBox::load(dir.path()).unwrap().is_none());
        assert!(matches!(
            SecretBox::require(dir.path()),
            Err(SecretKeyError::Missing(_))
        ));
        let sealer = SecretBox::load_or_create(dir.path()).unwrap();
        let sealed = sealer.seal("JBSWY3DPEHPK3PXP");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_ne!(
            sealer.seal("JBSWY3DPEHPK3PXP"),
            sealed,
            "a fresh nonce each time"
        );
        // The same key read again (another process, a restart) opens it.
        let again = SecretBox::require(dir.path()).unwrap();
        assert_eq!(again.open(&sealed).as_deref(), Some("JBSWY3DPEHPK3PXP"));
        assert!(
            !SecretBox::create(dir.path()).unwrap(),
            "an existing key is kept"
        );
        // Another key, or a changed byte, opens nothing.
        assert_eq!(SecretBox::ephemeral().open(&sealed), None);
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(again.open(&tampered), None);
        assert_eq!(
            again.open("plain-from-before").as_deref(),
            Some("plain-from-before")
        );
        std::fs::write(dir.path().join(FILE), "short").unwrap();
        assert!(matches!(
            SecretBox::load(dir.path()),
            Err(SecretKeyError::Bad(_))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let other = tempfile::tempdir().unwrap();
            SecretBox::create(other.path()).unwrap();
            let mode = std::fs::metadata(other.path().join(FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

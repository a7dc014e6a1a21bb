//! Password hashing: argon2id PHC strings at OWASP's minimum (19 MiB, 2 passes, 1 lane), run on
//! the blocking pool with bounded concurrency so a burst of logins queues instead of allocating
//! 19 MiB each at once.

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier, Version,
};
use crm_core::{Error, Result};
use tokio::sync::Semaphore;

use crate::domain::password::Password;

/// argon2id memory cost in KiB (OWASP: at least 19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// argon2id passes.
pub const ITERATIONS: u32 = 2;
/// argon2id lanes.
pub const PARALLELISM: u32 = 1;

/// The argon2id instance every hash and verification uses.
pub fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .expect("constant parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes and verifies passwords off the async executor.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when there is no user, so an unknown
    /// email takes as long as a wrong password.
    dummy: Arc<str>,
}

impl PasswordHasher {
    /// A hasher running at most `concurrency` hashes at once.
    pub fn new(concurrency: usize) -> PasswordHasher {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).expect("the OS has randomness");
        let dummy = argon2()
            .hash_password(&random)
            .expect("hashing works")
            .to_string();
        PasswordHasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: dummy.into(),
        }
    }

    /// The PHC string of a password.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let password = password.expose().to_owned();
        self.run(move || {
            argon2()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| Error::internal("could not hash the password", anyhow::anyhow!("{e}")))
        })
        .await
    }

    /// Whether `password` matches `phc`; with no hash, spends the same time and says no.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool> {
        let password = password.to_owned();
        let (phc, real) = match phc {
            Some(phc) => (phc.to_owned(), true),
            None => (self.dummy.to_string(), false),
        };
        self.run(move || {
            let parsed = PasswordHash::new(&phc).map_err(|e| {
                Error::internal(
                    "a stored password hash is unreadable",
                    anyhow::anyhow!("{e}"),
                )
            })?;
            Ok(argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
                && real)
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::internal("hasher closed", e))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| Error::internal("password hashing failed", e))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_at_owasp_parameters() {
        let hasher = PasswordHasher::new(2);
        let hash = hasher
            .hash(&Password::parse("batik canting motif").unwrap())
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            hasher
                .verify("batik canting motif", Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("batik canting motiv", Some(&hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn no_hash_means_no_even_for_the_dummys_password() {
        let hasher = PasswordHasher::new(1);
        assert!(!hasher.verify("anything at all", None).await.unwrap());
    }
}

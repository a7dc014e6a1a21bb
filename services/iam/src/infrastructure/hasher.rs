//! Password hashing: argon2id PHC strings at OWASP's minimum (19 MiB, 2 passes, 1 lane).
//!
//! Hashing runs on a fixed pool of worker threads, one per core by default, each owning a 19 MiB
//! block buffer that every verification reuses. Bounded concurrency means a burst of logins
//! queues instead of allocating 19 MiB each. A reused buffer means no allocation and no page
//! faults per login, and memory stays at workers × 19 MiB however many blocking threads the
//! runtime has.

use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::Output;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher as _, Version};
use crm_core::{Error, Result};
use tokio::sync::{mpsc, oneshot};

use crate::domain::password::Password;

/// argon2id memory cost in KiB (OWASP: at least 19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// argon2id passes.
pub const ITERATIONS: u32 = 2;
/// argon2id lanes.
pub const PARALLELISM: u32 = 1;

/// The argon2id instance new hashes use.
pub fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .expect("constant parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Whether `password` matches the PHC string `phc`, computed in `blocks` (grown if the hash's
/// memory cost needs more). The comparison is constant-time.
pub fn verify_in(
    blocks: &mut Vec<Block>,
    password: &[u8],
    phc: &str,
) -> std::result::Result<bool, String> {
    let parsed = PasswordHash::new(phc).map_err(|e| e.to_string())?;
    let params = Params::try_from(&parsed).map_err(|e| e.to_string())?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| e.to_string())?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| e.to_string())?,
        None => Version::default(),
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err("the PHC string has no salt or no hash".into());
    };
    if blocks.len() < params.block_count() {
        blocks.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(
            password,
            &salt,
            &mut out,
            &mut blocks[..params.block_count()],
        )
        .map_err(|e| e.to_string())?;
    let computed = Output::new(&out).map_err(|e| e.to_string())?;
    Ok(computed == expected)
}

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// Hashes and verifies passwords on its own worker threads.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::UnboundedSender<Job>,
    /// A real hash of a random password, verified against when there is no user, so an unknown
    /// email takes as long as a wrong password.
    dummy: Arc<str>,
}

impl PasswordHasher {
    /// A hasher with `workers` threads (each holding 19 MiB); they stop when the last clone of
    /// the hasher is dropped.
    pub fn new(workers: usize) -> PasswordHasher {
        let (jobs, queue) = mpsc::unbounded_channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..workers.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    let mut blocks = vec![Block::default(); argon2().params().block_count()];
                    loop {
                        let job = queue.lock().expect("hasher queue").blocking_recv();
                        match job {
                            Some(job) => job(&mut blocks),
                            None => break,
                        }
                    }
                })
                .expect("the OS starts a hasher thread");
        }
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).expect("the OS has randomness");
        let dummy = argon2()
            .hash_password(&random)
            .expect("hashing works")
            .to_string();
        PasswordHasher {
            jobs,
            dummy: dummy.into(),
        }
    }

    /// The PHC string of a password.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let password = password.expose().to_owned();
        self.run(move |_| {
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
        self.run(move |blocks| {
            let matches = verify_in(blocks, password.as_bytes(), &phc).map_err(|e| {
                Error::internal("a stored password hash is unreadable", anyhow::anyhow!(e))
            })?;
            Ok(matches && real)
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |blocks| {
            let _ = reply.send(work(blocks));
        });
        self.jobs.send(job).map_err(|_| {
            Error::internal(
                "password hashing failed",
                anyhow::anyhow!("the hasher threads stopped"),
            )
        })?;
        answer.await.map_err(|_| {
            Error::internal(
                "password hashing failed",
                anyhow::anyhow!("a hasher thread died"),
            )
        })?
    }
}

#[async_trait::async_trait]
impl crate::domain::ports::PasswordHashing for PasswordHasher {
    async fn hash(&self, password: &Password) -> Result<String> {
        PasswordHasher::hash(self, password).await
    }

    async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool> {
        PasswordHasher::verify(self, password, phc).await
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

    #[test]
    fn verification_in_reused_memory_agrees_with_the_library() {
        use argon2::PasswordVerifier;
        let mut blocks = Vec::new();
        // Another memory cost than ours: the buffer grows to fit.
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        );
        for (argon, password) in [
            (argon2(), "batik canting motif"),
            (other, "songket benang emas"),
        ] {
            let phc = argon
                .hash_password(password.as_bytes())
                .unwrap()
                .to_string();
            let parsed = PasswordHash::new(&phc).unwrap();
            assert!(argon.verify_password(password.as_bytes(), &parsed).is_ok());
            assert_eq!(verify_in(&mut blocks, password.as_bytes(), &phc), Ok(true));
            assert_eq!(verify_in(&mut blocks, b"wrong password", &phc), Ok(false));
        }
        assert!(verify_in(&mut blocks, b"x", "not a phc string").is_err());
    }
}

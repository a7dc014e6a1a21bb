//! Cutting access at once: a user whose roles change, or who is deactivated or deleted, loses
//! every access token issued before that moment, in every service that checks here.
//!
//! IAM records "tokens of user U issued before T no longer count"; the auth layer
//! ([`crate::layer`]) asks on every call. Embedded mode keeps the marks in memory (IAM and the
//! layer share the process); with `redis.url` they live in Redis, so every process of a
//! microservices deployment sees a mark as soon as IAM writes it. A mark is kept as long as an
//! access token lives, after which no token it could refuse remains.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncCommands;

use crate::context::UserId;
use crate::error::{Error, Result};

/// Milliseconds since the Unix epoch.
type Millis = i64;

/// Where revocation marks live.
#[derive(Clone)]
pub enum Revocations {
    /// In this process (embedded mode, tests).
    Memory(Arc<Mutex<HashMap<UserId, (Millis, Millis)>>>),
    /// In Redis, shared by every process.
    Redis {
        /// The connection (reconnects by itself).
        connection: redis::aio::ConnectionManager,
        /// Prepended to every key, e.g. `crm:`.
        prefix: String,
    },
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Revocations::Memory(_) => "Revocations::Memory",
            Revocations::Redis { .. } => "Revocations::Redis",
        })
    }
}

impl Default for Revocations {
    fn default() -> Self {
        Revocations::memory()
    }
}

impl Revocations {
    /// Marks kept in this process.
    pub fn memory() -> Revocations {
        Revocations::Memory(Arc::default())
    }

    /// Marks kept in Redis at `url`, under keys starting with `prefix`.
    pub async fn redis(url: &str, prefix: &str) -> anyhow::Result<Revocations> {
        let client = redis::Client::open(url)?;
        let connection = redis::aio::ConnectionManager::new(client).await?;
        Ok(Revocations::Redis {
            connection,
            prefix: prefix.to_owned(),
        })
    }

    /// Tokens of `user` issued before `at` no longer count. `keep` is how long a token can live:
    /// the mark is forgotten after it.
    pub async fn revoke(&self, user: UserId, at: Millis, keep: Duration) -> Result<()> {
        match self {
            Revocations::Memory(marks) => {
                let mut marks = marks.lock().unwrap_or_else(|e| e.into_inner());
                let forget_at = at + keep.as_millis() as Millis;
                marks.retain(|_, (_, until)| *until > at);
                let mark = marks.entry(user).or_insert((at, forget_at));
                *mark = (mark.0.max(at), mark.1.max(forget_at));
                Ok(())
            }
            Revocations::Redis { connection, prefix } => {
                let mut connection = connection.clone();
                let key = format!("{prefix}revoked:{user}");
                // Keep the later mark when two revocations race.
                let script = redis::Script::new(
                    "local old = tonumber(redis.call('GET', KEYS[1]) or '0') \
                     if tonumber(ARGV[1]) > old then redis.call('SET', KEYS[1], ARGV[1]) end \
                     redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1",
                );
                script
                    .key(key)
                    .arg(at)
                    .arg(keep.as_millis().max(1) as u64)
                    .invoke_async::<i64>(&mut connection)
                    .await
                    .map_err(|e| Error::unavailable("cannot record a revocation", e))?;
                Ok(())
            }
        }
    }

    /// Whether a token of `user` issued at `issued_at` was revoked since.
    pub async fn is_revoked(&self, user: UserId, issued_at: Millis) -> Result<bool> {
        let mark = match self {
            Revocations::Memory(marks) => marks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&user)
                .map(|(at, _)| *at),
            Revocations::Redis { connection, prefix } => {
                let mut connection = connection.clone();
                connection
                    .get::<_, Option<Millis>>(format!("{prefix}revoked:{user}"))
                    .await
                    .map_err(|e| {
                        Error::unavailable("cannot check whether the access token was revoked", e)
                    })?
            }
        };
        Ok(mark.is_some_and(|at| issued_at < at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_issued_before_a_mark_are_revoked_and_later_ones_are_not() {
        let marks = Revocations::memory();
        let (user, other) = (UserId::new(), UserId::new());
        let keep = Duration::from_secs(900);
        marks.revoke(user, 1_000, keep).await.unwrap();
        assert!(marks.is_revoked(user, 999).await.unwrap());
        assert!(!marks.is_revoked(user, 1_000).await.unwrap());
        assert!(!marks.is_revoked(other, 0).await.unwrap());
        // An older mark arriving late does not move the cut back.
        marks.revoke(user, 500, keep).await.unwrap();
        assert!(marks.is_revoked(user, 999).await.unwrap());
    }

    #[tokio::test]
    async fn marks_are_forgotten_once_no_token_they_cut_can_be_alive() {
        let marks = Revocations::memory();
        let (old, new) = (UserId::new(), UserId::new());
        marks
            .revoke(old, 1_000, Duration::from_millis(100))
            .await
            .unwrap();
        marks
            .revoke(new, 5_000, Duration::from_millis(100))
            .await
            .unwrap();
        let Revocations::Memory(map) = &marks else {
            unreachable!()
        };
        assert_eq!(map.lock().unwrap().len(), 1, "the expired mark was pruned");
    }
}

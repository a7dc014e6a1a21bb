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
        let connection = crate::redis_retry::connect(url).await?;
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
                let key = format!("{prefix}revoked:{user}");
                // Keep the later mark when two revocations race (so it is safe to repeat).
                let script = redis::Script::new(
                    "local old = tonumber(redis.call('GET', KEYS[1]) or '0') \
                     if tonumber(ARGV[1]) > old then redis.call('SET', KEYS[1], ARGV[1]) end \
                     redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1",
                );
                crate::redis_retry::again(|| {
                    let mut connection = connection.clone();
                    let mut invocation = script.key(&key);
                    invocation.arg(at).arg(keep.as_millis().max(1) as u64);
                    async move { invocation.invoke_async::<i64>(&mut connection).await }
                })
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
                let key = format!("{prefix}revoked:{user}");
                crate::redis_retry::again(|| {
                    let mut connection = connection.clone();
                    let key = key.clone();
                    async move { connection.get::<_, Option<Millis>>(key).await }
                })
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

    /// A Redis server of the test's own (so that it can be restarted), on `port`.
    fn redis_server(port: u16) -> std::process::Child {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (install Redis, or run .ci/services.sh up)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return child;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not listen on {port}");
    }

    #[tokio::test]
    #[ignore = "needs redis-server on PATH: run with --include-ignored"]
    async fn the_first_check_after_redis_restarts_is_answered() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = redis_server(port);
        let marks = Revocations::redis(&format!("redis://127.0.0.1:{port}"), "crm:")
            .await
            .unwrap();
        let user = UserId::new();
        marks
            .revoke(user, 1_000, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(marks.is_revoked(user, 999).await.unwrap());

        // Redis restarts (its marks gone: nothing saved); the connection the marks held is dead.
        server.kill().unwrap();
        server.wait().unwrap();
        let mut server = redis_server(port);
        let answer = marks.is_revoked(user, 999).await;
        assert!(
            matches!(answer, Ok(false)),
            "the first check after the restart: {answer:?}"
        );
        marks
            .revoke(user, 2_000, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(marks.is_revoked(user, 1_999).await.unwrap());
        server.kill().unwrap();
        let _ = server.wait();
    }

    #[tokio::test]
    #[ignore = "needs redis-server on PATH: run with --include-ignored"]
    async fn a_check_while_redis_is_down_fails_before_redis_is_back() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = redis_server(port);
        let marks = Revocations::redis(&format!("redis://127.0.0.1:{port}"), "crm:")
            .await
            .unwrap();
        let user = UserId::new();
        assert!(!marks.is_revoked(user, 999).await.unwrap());

        // Redis goes away and comes back 3 s later. A check made meanwhile is refused
        // (UNAVAILABLE: the caller is told to retry) rather than held until Redis returns, as
        // the client's default reconnection (six attempts, 6 s and more) held it, past a gRPC
        // caller's deadline.
        server.kill().unwrap();
        server.wait().unwrap();
        let back = tokio::task::spawn_blocking(move || {
            std::thread::sleep(Duration::from_secs(3));
            redis_server(port)
        });
        let during = marks.is_revoked(user, 999).await;
        let returned_before_redis = !back.is_finished();
        assert!(
            matches!(&during, Err(e) if e.kind() == crate::error::ErrorKind::Unavailable)
                && returned_before_redis,
            "a check while Redis is down: {during:?}, answered before Redis was back: {returned_before_redis}"
        );
        let mut server = back.await.unwrap();
        assert!(
            !marks.is_revoked(user, 999).await.unwrap(),
            "the first check after Redis is back is answered"
        );
        server.kill().unwrap();
        let _ = server.wait();
    }
}

fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// How often an open stream asks whether its caller's credential was revoked.
pub const STREAM_CHECK_EVERY: Duration = Duration::from_secs(2);

/// `inner`, ended with `UNAUTHENTICATED` as soon as the caller's credential expires or is
/// revoked (a mark for `caller` after it was issued; asked every `every`): a long-lived stream
/// never outlives the rights it was opened with. Every streaming RPC that may stay open goes
/// through here.
pub fn until_revoked<S, T>(
    caller: crate::context::Principal,
    marks: Revocations,
    every: Duration,
    inner: S,
) -> impl futures::Stream<Item = std::result::Result<T, tonic::Status>> + Send
where
    S: futures::Stream<Item = std::result::Result<T, tonic::Status>> + Send + Unpin + 'static,
    T: Send + 'static,
{
    use futures::StreamExt as _;
    futures::stream::unfold(Some(inner), move |state| {
        let (caller, marks) = (caller.clone(), marks.clone());
        async move {
            let mut inner = state?;
            loop {
                let now = now_millis();
                let left = caller.expires_at.map(|at| (at - now).max(0) as u64);
                let wait = match left {
                    Some(ms) => every.min(Duration::from_millis(ms)),
                    None => every,
                };
                tokio::select! {
                    item = inner.next() => return item.map(|item| (item, Some(inner))),
                    () = tokio::time::sleep(wait) => {
                        let now = now_millis();
                        if caller.expires_at.is_some_and(|at| at <= now) {
                            let ended = Error::unauthenticated(
                                "your access ended while this stream was open; refresh it and open the stream again",
                            )
                            .with_reason("TOKEN_EXPIRED");
                            return Some((Err(tonic::Status::from(ended)), None));
                        }
                        match marks.is_revoked(caller.user_id, caller.issued_at).await {
                            Ok(true) => {
                                let ended = Error::unauthenticated(
                                    "this access was revoked while the stream was open (your roles or status changed); sign in again",
                                )
                                .with_reason("TOKEN_REVOKED");
                                return Some((Err(tonic::Status::from(ended)), None));
                            }
                            Ok(false) => {}
                            // The marks cannot be read: keep serving what the call was allowed
                            // (as new calls would be refused), and ask again at the next tick.
                            Err(e) => tracing::warn!(error = %e.message(), "cannot check revocations for an open stream"),
                        }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod streams {
    use super::*;
    use crate::context::{Principal, TenantId};
    use futures::StreamExt as _;

    fn caller(expires_at: Option<i64>) -> Principal {
        Principal {
            tenant_id: TenantId::new(),
            user_id: UserId::new(),
            roles: Vec::new(),
            permissions: Vec::new(),
            team: None,
            token_id: String::new(),
            issued_at: now_millis() - 1_000,
            expires_at,
            api_key_id: None,
            service: None,
        }
    }

    /// A stream that never ends by itself (a watch with nothing to say).
    fn silent()
    -> impl futures::Stream<Item = std::result::Result<u32, tonic::Status>> + Send + Unpin {
        futures::stream::pending()
    }

    #[tokio::test]
    async fn an_open_stream_ends_unauthenticated_when_its_token_is_revoked() {
        let marks = Revocations::memory();
        let who = caller(None);
        let mut stream = Box::pin(until_revoked(
            who.clone(),
            marks.clone(),
            Duration::from_millis(20),
            silent(),
        ));
        marks
            .revoke(who.user_id, now_millis(), Duration::from_secs(60))
            .await
            .unwrap();
        let ended = stream.next().await.unwrap().unwrap_err();
        assert_eq!(ended.code(), tonic::Code::Unauthenticated);
        assert!(stream.next().await.is_none(), "and then it is over");
    }

    #[tokio::test]
    async fn an_open_stream_ends_unauthenticated_when_its_token_expires() {
        let soon = now_millis() + 50;
        let mut stream = Box::pin(until_revoked(
            caller(Some(soon)),
            Revocations::memory(),
            Duration::from_secs(60),
            silent(),
        ));
        let ended = stream.next().await.unwrap().unwrap_err();
        assert_eq!(ended.code(), tonic::Code::Unauthenticated);
        assert!(ended.message().contains("refresh"), "{ended:?}");
    }

    #[tokio::test]
    async fn items_flow_while_the_token_holds() {
        let items = futures::stream::iter([Ok(1), Ok(2)]);
        let got: Vec<_> = until_revoked(
            caller(None),
            Revocations::memory(),
            Duration::from_secs(1),
            items,
        )
        .collect()
        .await;
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|r| r.is_ok()));
    }
}

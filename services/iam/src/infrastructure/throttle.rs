//! Failed-login counting with temporary lockout: in memory (embedded mode, one process) and in
//! Redis (microservices mode, shared by every IAM replica).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use crm_core::clock::{Clock, SystemClock};
use crm_core::redis_retry::again;
use crm_core::{Error, Result};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::domain::ports::LoginThrottle;

/// Milliseconds since the epoch.
type Millis = i64;

struct Counter {
    failures: u32,
    window_ends: Millis,
    locked_until: Option<Millis>,
}

/// The in-process throttle, on a clock (the system's, or a test's that moves when told).
pub struct MemoryThrottle {
    counters: Mutex<HashMap<String, Counter>>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryThrottle {
    fn default() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }
}

impl MemoryThrottle {
    /// An empty throttle on the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty throttle on `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        MemoryThrottle {
            counters: Mutex::default(),
            clock,
        }
    }
}

fn millis(d: Duration) -> Millis {
    d.as_millis() as Millis
}

#[async_trait]
impl LoginThrottle for MemoryThrottle {
    async fn locked_for(&self, key: &str) -> Result<Option<Duration>> {
        let now = self.clock.now_millis();
        let counters = self.counters.lock().expect("throttle lock");
        Ok(counters
            .get(key)
            .and_then(|c| c.locked_until)
            .filter(|until| *until > now)
            .map(|until| Duration::from_millis((until - now) as u64)))
    }

    async fn record_failure(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        lockout: Duration,
    ) -> Result<Option<Duration>> {
        let now = self.clock.now_millis();
        let mut counters = self.counters.lock().expect("throttle lock");
        if counters.len() > 100_000 {
            // Forget what no longer matters, so an attacker cycling keys cannot grow the map.
            counters.retain(|_, c| c.window_ends > now || c.locked_until.is_some_and(|u| u > now));
        }
        let counter = counters.entry(key.to_owned()).or_insert(Counter {
            failures: 0,
            window_ends: now + millis(window),
            locked_until: None,
        });
        if counter.window_ends <= now {
            counter.failures = 0;
            counter.window_ends = now + millis(window);
        }
        counter.failures += 1;
        if counter.failures >= limit {
            counter.failures = 0;
            counter.locked_until = Some(now + millis(lockout));
            return Ok(Some(lockout));
        }
        Ok(None)
    }

    async fn reset(&self, key: &str) -> Result<()> {
        self.counters.lock().expect("throttle lock").remove(key);
        Ok(())
    }
}

/// The Redis throttle: `<prefix>fail:<key>` counts failures in a window, `<prefix>lock:<key>`
/// exists while locked out. The prefix (`iam.throttle_key_prefix`) keeps deployments that share
/// a Redis apart.
#[derive(Clone)]
pub struct RedisThrottle {
    redis: ConnectionManager,
    prefix: String,
}

impl RedisThrottle {
    /// Connects to `url`; every key starts with `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<RedisThrottle> {
        let redis = crm_core::redis_retry::connect(url).await?;
        Ok(RedisThrottle {
            redis,
            prefix: prefix.to_owned(),
        })
    }
}

fn unavailable(e: redis::RedisError) -> Error {
    Error::unavailable(
        "the login throttle (Redis) is unavailable; retry shortly",
        e,
    )
}

#[async_trait]
impl LoginThrottle for RedisThrottle {
    async fn locked_for(&self, key: &str) -> Result<Option<Duration>> {
        let lock = format!("{}lock:{key}", self.prefix);
        let ttl: i64 = again(|| {
            let mut redis = self.redis.clone();
            let lock = lock.clone();
            async move { redis.pttl(lock).await }
        })
        .await
        .map_err(unavailable)?;
        Ok((ttl > 0).then(|| Duration::from_millis(ttl as u64)))
    }

    async fn record_failure(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        lockout: Duration,
    ) -> Result<Option<Duration>> {
        let fail = format!("{}fail:{key}", self.prefix);
        let count = redis::pipe()
            .atomic()
            .incr(&fail, 1)
            .cmd("PEXPIRE")
            .arg(&fail)
            .arg(window.as_millis() as u64)
            .arg("NX")
            .ignore()
            .clone();
        // Sent again only when the connection had dropped: a failure counted twice errs on the
        // careful side.
        let (failures,): (u32,) = again(|| {
            let mut redis = self.redis.clone();
            let count = &count;
            async move { count.query_async(&mut redis).await }
        })
        .await
        .map_err(unavailable)?;
        if failures < limit {
            return Ok(None);
        }
        let lock = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(format!("{}lock:{key}", self.prefix))
            .arg(1)
            .arg("PX")
            .arg(lockout.as_millis() as u64)
            .ignore()
            .del(&fail)
            .ignore()
            .clone();
        let _: () = again(|| {
            let mut redis = self.redis.clone();
            let lock = &lock;
            async move { lock.query_async(&mut redis).await }
        })
        .await
        .map_err(unavailable)?;
        Ok(Some(lockout))
    }

    async fn reset(&self, key: &str) -> Result<()> {
        let fail = format!("{}fail:{key}", self.prefix);
        let _: () = again(|| {
            let mut redis = self.redis.clone();
            let fail = fail.clone();
            async move { redis.del(fail).await }
        })
        .await
        .map_err(unavailable)?;
        Ok(())
    }
}

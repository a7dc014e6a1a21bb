//! Redis as every CRM process uses it: a connection that fails fast while Redis is out of reach,
//! and one more try for a command whose connection had dropped.
//!
//! `redis::aio::ConnectionManager`'s defaults make a command issued while Redis is down wait
//! through six reconnection attempts (100 ms doubling, 6 s and more), and the next command
//! start another six: callers hang for as long as Redis is out, past a gRPC caller's deadline.
//! [`connect`] makes the manager try once more and give up within a second, so a caller gets
//! `UNAVAILABLE` with a retry delay at once and the first command after Redis is back succeeds.
//!
//! `redis::aio::ConnectionManager` reconnects when a command finds its connection gone (Redis
//! restarted, a failover, an idle connection cut), but that first command fails: without this,
//! every process answers one caller `UNAVAILABLE` per connection after each Redis restart.
//! The command runs again once, on the connection the manager is making; every caller here
//! sends commands that are safe to repeat (reads, marks that keep the later value, counters
//! where a rare double count errs on the careful side).

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How the CRM's Redis connections reconnect: one attempt more after the first, 50 ms apart at
/// most 200 ms, each attempt given 500 ms to connect; a command given 500 ms to be answered.
fn config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(200))
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(Duration::from_millis(500)))
}

/// A connection to the Redis at `url` that reconnects by itself (see the module's note); fails
/// when Redis cannot be reached now.
pub async fn connect(url: &str) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(url)?;
    Ok(ConnectionManager::new_with_config(client, config()).await?)
}

/// Runs `call`, and once more when it failed because its connection dropped.
pub async fn again<T, F, Fut>(mut call: F) -> redis::RedisResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = redis::RedisResult<T>>,
{
    match call().await {
        Err(e) if e.is_connection_dropped() || e.is_io_error() => call().await,
        other => other,
    }
}

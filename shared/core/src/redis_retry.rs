//! One more try for a Redis command whose connection had dropped.
//!
//! `redis::aio::ConnectionManager` reconnects when a command finds its connection gone (Redis
//! restarted, a failover, an idle connection cut), but that first command fails: without this,
//! every process answers one caller `UNAVAILABLE` per connection after each Redis restart.
//! The command runs again once, on the connection the manager is making; every caller here
//! sends commands that are safe to repeat (reads, marks that keep the later value, counters
//! where a rare double count errs on the careful side).

use std::future::Future;

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

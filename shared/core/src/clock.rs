//! The time, as a port: use cases ask a [`Clock`] instead of the system, so tests set the time
//! and move it on (a lockout that expires, a key that ages) without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Milliseconds since the Unix epoch, from somewhere.
pub trait Clock: Send + Sync + 'static {
    /// Now, in milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// A clock that moves only when told: for tests.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock reading `millis`.
    pub fn at(millis: i64) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(millis)))
    }

    /// Moves the clock on by `by`.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_share_the_time() {
        let clock = ManualClock::at(1_000);
        let shared = clock.clone();
        assert_eq!(clock.now_millis(), 1_000);
        shared.advance(Duration::from_secs(2));
        assert_eq!(clock.now_millis(), 3_000);
        assert!(SystemClock.now_millis() > 1_700_000_000_000);
    }
}

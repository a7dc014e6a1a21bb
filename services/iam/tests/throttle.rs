//! The LoginThrottle contract, run against the in-memory throttle always and Redis when
//! `REDIS_URL` is set (set but unreachable fails).

use std::sync::Arc;
use std::time::Duration;

use crm_core::clock::ManualClock;
use crm_iam::domain::ports::LoginThrottle;
use crm_iam::infrastructure::throttle::{MemoryThrottle, RedisThrottle};

const WINDOW: Duration = Duration::from_secs(60);
const LOCKOUT: Duration = Duration::from_secs(120);

fn key(name: &str) -> String {
    // Unique per run: Redis keeps keys between runs and tests run in parallel.
    format!("test:{name}:{}", uuid::Uuid::now_v7())
}

async fn locks_out_at_the_limit_and_not_before(throttle: &dyn LoginThrottle) {
    let k = key("limit");
    for attempt in 1..3 {
        assert_eq!(
            throttle
                .record_failure(&k, 3, WINDOW, LOCKOUT)
                .await
                .unwrap(),
            None,
            "attempt {attempt}"
        );
        assert_eq!(throttle.locked_for(&k).await.unwrap(), None);
    }
    assert_eq!(
        throttle
            .record_failure(&k, 3, WINDOW, LOCKOUT)
            .await
            .unwrap(),
        Some(LOCKOUT)
    );
    let left = throttle.locked_for(&k).await.unwrap().expect("locked");
    assert!(
        left <= LOCKOUT && left > LOCKOUT - Duration::from_secs(30),
        "{left:?}"
    );
    assert_eq!(
        throttle.locked_for(&key("other")).await.unwrap(),
        None,
        "keys are independent"
    );
}

async fn a_success_forgets_earlier_failures(throttle: &dyn LoginThrottle) {
    let k = key("reset");
    throttle
        .record_failure(&k, 3, WINDOW, LOCKOUT)
        .await
        .unwrap();
    throttle
        .record_failure(&k, 3, WINDOW, LOCKOUT)
        .await
        .unwrap();
    throttle.reset(&k).await.unwrap();
    assert_eq!(
        throttle
            .record_failure(&k, 3, WINDOW, LOCKOUT)
            .await
            .unwrap(),
        None,
        "counting starts again"
    );
    assert_eq!(
        throttle
            .record_failure(&k, 3, WINDOW, LOCKOUT)
            .await
            .unwrap(),
        None
    );
}

/// `pass` lets `by` go by: the memory throttle's clock is moved on; Redis expires its keys in
/// its own real time, so there the test waits.
async fn failures_outside_the_window_do_not_count<F, Fut>(throttle: &dyn LoginThrottle, pass: F)
where
    F: Fn(Duration) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let k = key("window");
    let short = Duration::from_millis(200);
    throttle
        .record_failure(&k, 2, short, LOCKOUT)
        .await
        .unwrap();
    pass(short + Duration::from_millis(100)).await;
    assert_eq!(
        throttle
            .record_failure(&k, 2, short, LOCKOUT)
            .await
            .unwrap(),
        None
    );
}

fn memory_on_a_manual_clock() -> (MemoryThrottle, ManualClock) {
    let clock = ManualClock::at(1_764_000_000_000);
    (MemoryThrottle::with_clock(Arc::new(clock.clone())), clock)
}

async fn redis() -> RedisThrottle {
    let url = crm_core::testing::backend("REDIS_URL");
    RedisThrottle::connect(&url, "crm:test:login:")
        .await
        .expect("REDIS_URL is set but Redis is unreachable")
}

#[tokio::test]
async fn memory_locks_out_at_the_limit_and_not_before() {
    locks_out_at_the_limit_and_not_before(&MemoryThrottle::new()).await;
}

#[tokio::test]
async fn memory_a_success_forgets_earlier_failures() {
    a_success_forgets_earlier_failures(&MemoryThrottle::new()).await;
}

#[tokio::test]
async fn memory_failures_outside_the_window_do_not_count() {
    let (throttle, clock) = memory_on_a_manual_clock();
    failures_outside_the_window_do_not_count(&throttle, |by| {
        clock.advance(by);
        std::future::ready(())
    })
    .await;
}

#[tokio::test]
async fn memory_a_lockout_ends_when_its_time_is_up() {
    let (throttle, clock) = memory_on_a_manual_clock();
    let k = key("ends");
    throttle
        .record_failure(&k, 1, WINDOW, LOCKOUT)
        .await
        .unwrap();
    clock.advance(LOCKOUT - Duration::from_secs(1));
    assert_eq!(
        throttle.locked_for(&k).await.unwrap(),
        Some(Duration::from_secs(1))
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(throttle.locked_for(&k).await.unwrap(), None);
}

#[tokio::test]
#[ignore = "needs REDIS_URL (Redis): run with --include-ignored"]
async fn redis_locks_out_at_the_limit_and_not_before() {
    locks_out_at_the_limit_and_not_before(&redis().await).await;
}

#[tokio::test]
#[ignore = "needs REDIS_URL (Redis): run with --include-ignored"]
async fn redis_a_success_forgets_earlier_failures() {
    a_success_forgets_earlier_failures(&redis().await).await;
}

#[tokio::test]
#[ignore = "needs REDIS_URL (Redis): run with --include-ignored"]
async fn redis_failures_outside_the_window_do_not_count() {
    failures_outside_the_window_do_not_count(&redis().await, tokio::time::sleep).await;
}

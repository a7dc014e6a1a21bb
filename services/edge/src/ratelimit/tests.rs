use super::*;

fn config(tenant: u32, subject: u32, prefix: &str) -> RateLimitConfig {
    RateLimitConfig {
        tenant_per_minute: tenant,
        subject_per_minute: subject,
        tenants: [(format!("{prefix}big"), 10)].into(),
    }
}

async fn run_out(limiter: &Limiter, tenant: &str, subject: &str) -> (u32, Decision) {
    let mut allowed = 0;
    loop {
        let decision = limiter.check(tenant, subject).await.unwrap().unwrap();
        if !decision.allowed {
            return (allowed, decision);
        }
        allowed += 1;
        assert!(allowed < 1000, "never refused");
    }
}

async fn quotas(limiter: Limiter, prefix: &str) {
    // A caller gets its own quota (3), then waits about 20 s for the next call.
    let first = limiter
        .check(&format!("{prefix}a"), "u1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.allowed, first.limit, first.remaining), (true, 3, 2));
    let (allowed, refused) = run_out(&limiter, &format!("{prefix}a"), "u1").await;
    assert_eq!(allowed, 2);
    assert_eq!(refused.remaining, 0);
    assert!(
        refused.retry_after > Duration::from_secs(15)
            && refused.retry_after <= Duration::from_secs(20),
        "{refused:?}"
    );
    // Another caller of the tenant has its own; the tenant's (5) runs out across them.
    let (allowed, refused) = run_out(&limiter, &format!("{prefix}a"), "u2").await;
    assert_eq!(allowed, 2, "5 for the tenant, 3 used by u1");
    assert_eq!(refused.limit, 5);
    // Another tenant is untouched; a tenant with its own quota has it.
    let other = limiter
        .check(&format!("{prefix}b"), "u1")
        .await
        .unwrap()
        .unwrap();
    assert!(other.allowed);
    let big = limiter
        .check(&format!("{prefix}big"), "u9")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(big.limit, 3, "the caller's 3 is smaller than big's 10");
}

#[tokio::test]
async fn in_memory_a_caller_and_a_tenant_each_have_a_quota() {
    quotas(Limiter::memory(&config(5, 3, "")), "").await;
    let unlimited = Limiter::memory(&config(0, 0, ""));
    assert_eq!(unlimited.check("t", "u").await.unwrap(), None);
}

#[tokio::test]
#[ignore = "needs REDIS_URL: run with --include-ignored"]
async fn in_redis_replicas_share_the_quotas() {
    let url = std::env::var("REDIS_URL").expect("REDIS_URL");
    let prefix = format!("{}-", uuid::Uuid::now_v7());
    let limiter = Limiter::redis(&config(5, 3, &prefix), &url).await.unwrap();
    quotas(limiter, &prefix).await;
    // A second process's limiter sees the same counts.
    let replica = Limiter::redis(&config(5, 3, &prefix), &url).await.unwrap();
    let shared = replica
        .check(&format!("{prefix}a"), "u1")
        .await
        .unwrap()
        .unwrap();
    assert!(!shared.allowed);
}

#[tokio::test]
#[ignore = "needs REDIS_URL: run with --include-ignored"]
async fn in_redis_a_fast_caller_takes_its_calls_in_leases_and_never_more_than_its_quota() {
    let url = std::env::var("REDIS_URL").expect("REDIS_URL");
    let prefix = format!("{}-", uuid::Uuid::now_v7());
    // 600 a minute for the caller: leases of up to 10 calls.
    let limiter = Limiter::redis(&config(6000, 600, &prefix), &url)
        .await
        .unwrap();
    let (allowed, refused) = run_out(&limiter, &format!("{prefix}a"), "u1").await;
    assert!(
        (595..=600).contains(&allowed),
        "the quota, less at most half a lease: {allowed}"
    );
    assert_eq!(refused.limit, 600);
    let trips = limiter.redis_trips();
    assert!(
        trips * 5 < u64::from(allowed),
        "{trips} round trips for {allowed} calls"
    );
    // A second replica, calling the same caller, finds the quota spent.
    let replica = Limiter::redis(&config(6000, 600, &prefix), &url)
        .await
        .unwrap();
    let shared = replica
        .check(&format!("{prefix}a"), "u1")
        .await
        .unwrap()
        .unwrap();
    assert!(!shared.allowed);
    // A slow caller is counted one call at a time (no lease outlives a second unspent).
    let slow = Limiter::redis(&config(6000, 600, &prefix), &url)
        .await
        .unwrap();
    for _ in 0..3 {
        let d = slow
            .check(&format!("{prefix}a"), "u2")
            .await
            .unwrap()
            .unwrap();
        assert!(d.allowed);
        tokio::time::sleep(LEASE_FOR + Duration::from_millis(50)).await;
    }
    assert_eq!(slow.redis_trips(), 3);

    // 64 calls at once of one caller wait for one refill instead of each going to Redis.
    let busy = Limiter::redis(&config(1_000_000, 1_000_000, &prefix), &url)
        .await
        .unwrap();
    let calls = futures::future::join_all((0..64).map(|_| {
        let busy = busy.clone();
        let tenant = format!("{prefix}c");
        async move {
            for _ in 0..20 {
                assert!(busy.check(&tenant, "u3").await.unwrap().unwrap().allowed);
            }
        }
    }));
    calls.await;
    assert!(
        busy.redis_trips() * 8 < 64 * 20,
        "{} round trips for 1,280 calls",
        busy.redis_trips()
    );
}

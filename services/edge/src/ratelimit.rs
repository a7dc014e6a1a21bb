//! Quotas of authenticated calls per tenant and per caller (GCRA). In memory with `governor`
//! in one process, or in Redis with one atomic script when `redis.url` is set, so replicas
//! share the quotas. Every answer to an authenticated call carries `ratelimit-limit`,
//! `ratelimit-remaining` and `ratelimit-reset` (IETF draft; gRPC metadata or HTTP headers);
//! over quota it is `RESOURCE_EXHAUSTED` with `RetryInfo` (REST: 429 with `Retry-After`).
//! Calls without a caller (health, reflection, the JWKS, sign-in) are not counted.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crm_core::config::RateLimitConfig;
use crm_core::context::RequestContext;
use futures::future::BoxFuture;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use http::{HeaderMap, HeaderValue, Request, Response};
use tower::{Layer, Service};

/// What a check decided, for the most constrained of the caller's quotas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the call may go on.
    pub allowed: bool,
    /// The quota's size: calls that may come at once.
    pub limit: u32,
    /// Calls left now.
    pub remaining: u32,
    /// Until the quota is whole again.
    pub reset: Duration,
    /// When refused: until the next call may come.
    pub retry_after: Duration,
}

impl Decision {
    /// The `ratelimit-*` headers.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let seconds = |d: Duration| d.as_millis().div_ceil(1000).to_string();
        for (name, value, changing) in [
            ("ratelimit-limit", self.limit.to_string(), false),
            ("ratelimit-remaining", self.remaining.to_string(), true),
            ("ratelimit-reset", seconds(self.reset), true),
        ] {
            let mut value = HeaderValue::from_str(&value).expect("digits");
            // A value that changes with every answer is sent as a literal HTTP/2 leaves out of
            // its header table (HPACK "never indexed"), so it does not push out the entries that
            // repeat (content type, grpc-status) and make every later answer longer.
            value.set_sensitive(changing);
            headers.insert(name, value);
        }
        headers
    }
}

type Keyed =
    RateLimiter<String, DashMapStateStore<String>, DefaultClock, StateInformationMiddleware>;

fn keyed(per_minute: u32) -> Option<Keyed> {
    let n = NonZeroU32::new(per_minute)?;
    Some(RateLimiter::dashmap(Quota::per_minute(n)).with_middleware::<StateInformationMiddleware>())
}

/// The quotas in this process's memory.
struct Memory {
    clock: DefaultClock,
    tenants: Option<Keyed>,
    /// Tenants with their own quota: a limiter per quota.
    own: HashMap<u32, Option<Keyed>>,
    subjects: Option<Keyed>,
}

impl Memory {
    fn one(&self, limiter: &Keyed, key: &str, per_minute: u32) -> Decision {
        match limiter.check_key(&key.to_owned()) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                let quota = state.quota();
                Decision {
                    allowed: true,
                    limit: per_minute,
                    remaining,
                    reset: quota.replenish_interval() * per_minute.saturating_sub(remaining),
                    retry_after: Duration::ZERO,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Decision {
                    allowed: false,
                    limit: per_minute,
                    remaining: 0,
                    reset: wait
                        + not_until.quota().replenish_interval() * per_minute.saturating_sub(1),
                    retry_after: wait,
                }
            }
        }
    }
}

/// The Redis script: GCRA over every key given, all or nothing. `ARGV` holds each key's
/// emission interval and burst (ms, calls), then how many calls to take at once (a lease: see
/// [`Leases`]); when they are not all there, one is taken. The answer is {allowed, limit,
/// remaining, reset ms, retry ms, taken} of the most constrained key.
const SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want = tonumber(ARGV[#ARGV])
local function take(n)
  local answer = nil
  local tats = {}
  for i = 1, #KEYS do
    local emission = tonumber(ARGV[2 * i - 1])
    local burst = tonumber(ARGV[2 * i])
    local tat = tonumber(redis.call('GET', KEYS[i]) or now)
    if tat < now then tat = now end
    local new_tat = tat + emission * n
    local allow_at = new_tat - emission * burst
    if now < allow_at then
      return nil, {0, burst, 0, math.ceil(tat - now), math.ceil(tat + emission - emission * burst - now), 0}
    end
    tats[i] = new_tat
    local remaining = math.floor((emission * burst - (new_tat - now)) / emission)
    if answer == nil or remaining < answer[3] then
      answer = {1, burst, remaining, math.ceil(new_tat - now), 0, n}
    end
  end
  return tats, answer
end
local tats, answer = take(want)
if tats == nil and want > 1 then
  tats, answer = take(1)
end
if tats == nil then
  return answer
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], tats[i], 'PX', math.ceil(tats[i] - now) + 1000)
end
return answer or {1, 0, 0, 0, 0, want}
"#;

/// How long calls taken from Redis ahead of time may be spent by this process.
const LEASE_FOR: Duration = Duration::from_secs(1);
/// The most calls taken from Redis at once.
const MAX_LEASE: u32 = 1024;
/// Leases kept before the expired ones are swept.
const SWEEP_AT: usize = 10_000;

/// Calls a process took from Redis ahead of time for a caller, spent locally: a caller calling
/// fast costs Redis one round trip per lease, not per call. A lease doubles while the previous
/// one was spent within [`LEASE_FOR`] (up to [`MAX_LEASE`], and at most a second of the smaller
/// quota), and falls back to one call otherwise, so a caller calling slowly is counted exactly.
/// One call at a time refills a caller's lease; the others wait for it rather than each going to
/// Redis. Nobody gets more than the quota (the calls are taken from it in Redis); a lease not
/// spent in time is lost, so a burst that stops can cost its caller up to half a lease.
#[derive(Default)]
struct Leases {
    held: std::sync::Mutex<HashMap<String, Arc<Caller>>>,
}

/// One caller's lease, and the turn to refill it.
#[derive(Default)]
struct Caller {
    lease: std::sync::Mutex<Option<Lease>>,
    refill: tokio::sync::Mutex<()>,
}

struct Lease {
    left: u32,
    size: u32,
    until: std::time::Instant,
    decision: Decision,
}

impl Caller {
    /// A call spent from a lease still running, or how many calls to take from Redis.
    fn spend(&self, cap: u32) -> Result<Decision, u32> {
        let now = std::time::Instant::now();
        match self.lease.lock().expect("lease lock").as_mut() {
            Some(lease) if now < lease.until && lease.left > 0 => {
                lease.left -= 1;
                let mut decision = lease.decision;
                decision.remaining = decision.remaining.saturating_add(lease.left);
                Ok(decision)
            }
            // Spent in time: take twice as many.
            Some(lease) if now < lease.until => Err((lease.size * 2).clamp(1, cap)),
            _ => Err(1),
        }
    }

    /// Keeps what Redis gave (`taken` calls, one of them spent now).
    fn keep(&self, taken: u32, decision: Decision) {
        *self.lease.lock().expect("lease lock") = Some(Lease {
            left: taken.saturating_sub(1),
            size: taken.max(1),
            until: std::time::Instant::now() + LEASE_FOR,
            decision,
        });
    }

    fn forget(&self) {
        *self.lease.lock().expect("lease lock") = None;
    }
}

impl Leases {
    /// The caller `key`'s lease.
    fn of(&self, key: &str) -> Arc<Caller> {
        let mut held = self.held.lock().expect("leases lock");
        if held.len() >= SWEEP_AT {
            let now = std::time::Instant::now();
            held.retain(|_, caller| {
                Arc::strong_count(caller) > 1
                    || caller
                        .lease
                        .lock()
                        .expect("lease lock")
                        .as_ref()
                        .is_some_and(|l| now < l.until)
            });
        }
        held.entry(key.to_owned()).or_default().clone()
    }
}

/// The quotas in Redis.
struct Shared {
    redis: redis::aio::ConnectionManager,
    script: redis::Script,
    leases: Leases,
    /// Round trips to Redis (for tests and the bench).
    trips: std::sync::atomic::AtomicU64,
}

/// Where the quotas are kept.
enum Store {
    Memory(Box<Memory>),
    Redis(Shared),
}

/// Checks calls against the tenant's and the caller's quotas.
#[derive(Clone)]
pub struct Limiter {
    config: Arc<RateLimitConfig>,
    store: Arc<Store>,
}

impl Limiter {
    /// Quotas in this process's memory.
    pub fn memory(config: &RateLimitConfig) -> Limiter {
        let mut own = HashMap::new();
        for per_minute in config.tenants.values() {
            own.entry(*per_minute).or_insert_with(|| keyed(*per_minute));
        }
        Limiter {
            config: Arc::new(config.clone()),
            store: Arc::new(Store::Memory(Box::new(Memory {
                clock: DefaultClock::default(),
                tenants: keyed(config.tenant_per_minute),
                own,
                subjects: keyed(config.subject_per_minute),
            }))),
        }
    }

    /// Quotas in the Redis at `url`, shared by every process that uses it.
    pub async fn redis(config: &RateLimitConfig, url: &str) -> anyhow::Result<Limiter> {
        let redis = crm_core::redis_retry::connect(url).await?;
        Ok(Limiter {
            config: Arc::new(config.clone()),
            store: Arc::new(Store::Redis(Shared {
                redis,
                script: redis::Script::new(SCRIPT),
                leases: Leases::default(),
                trips: std::sync::atomic::AtomicU64::new(0),
            })),
        })
    }

    fn tenant_quota(&self, tenant: &str) -> u32 {
        self.config
            .tenants
            .get(tenant)
            .copied()
            .unwrap_or(self.config.tenant_per_minute)
    }

    /// Counts a call of `subject` (a user, an API key, a service) of `tenant`; `None` when
    /// neither has a quota.
    pub async fn check(&self, tenant: &str, subject: &str) -> anyhow::Result<Option<Decision>> {
        let tenant_quota = self.tenant_quota(tenant);
        let subject_quota = self.config.subject_per_minute;
        match self.store.as_ref() {
            Store::Memory(memory) => {
                let tenants = if self.config.tenants.contains_key(tenant) {
                    memory.own.get(&tenant_quota).and_then(Option::as_ref)
                } else {
                    memory.tenants.as_ref()
                };
                let mut decisions = Vec::new();
                // The caller's quota first: a caller over theirs does not use the tenant's.
                if let Some(subjects) = &memory.subjects {
                    let key = format!("{tenant}/{subject}");
                    decisions.push(memory.one(subjects, &key, subject_quota));
                }
                if decisions.iter().all(|d| d.allowed)
                    && let Some(tenants) = tenants
                {
                    decisions.push(memory.one(tenants, tenant, tenant_quota));
                }
                Ok(decisions
                    .into_iter()
                    .min_by_key(|d| (d.allowed, d.remaining)))
            }
            Store::Redis(shared) => {
                let quotas: Vec<u32> = [tenant_quota, subject_quota]
                    .into_iter()
                    .filter(|q| *q > 0)
                    .collect();
                let Some(smallest) = quotas.iter().min().copied() else {
                    return Ok(None);
                };
                let cap = (smallest / 60).clamp(1, MAX_LEASE);
                let caller = shared.leases.of(&format!("{tenant}/{subject}"));
                if let Ok(decision) = caller.spend(cap) {
                    return Ok(Some(decision));
                }
                // One refill at a time; whoever waited may find it done.
                let _turn = caller.refill.lock().await;
                let want = match caller.spend(cap) {
                    Ok(decision) => return Ok(Some(decision)),
                    Err(want) => want,
                };
                let mut invocation = shared.script.prepare_invoke();
                for (key, per_minute) in [
                    (format!("crm:ratelimit:tenant:{tenant}"), tenant_quota),
                    (
                        format!("crm:ratelimit:subject:{tenant}/{subject}"),
                        subject_quota,
                    ),
                ] {
                    if per_minute == 0 {
                        continue;
                    }
                    invocation
                        .key(key)
                        .arg(60_000.0 / f64::from(per_minute))
                        .arg(per_minute);
                }
                invocation.arg(want);
                shared
                    .trips
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (allowed, limit, remaining, reset, retry, taken): (
                    i64,
                    i64,
                    i64,
                    i64,
                    i64,
                    i64,
                ) = crm_core::redis_retry::again(|| {
                    let mut redis = shared.redis.clone();
                    let invocation = &invocation;
                    async move { invocation.invoke_async(&mut redis).await }
                })
                .await?;
                let millis = |ms: i64| Duration::from_millis(ms.max(0) as u64);
                let decision = Decision {
                    allowed: allowed == 1,
                    limit: limit as u32,
                    remaining: remaining.max(0) as u32,
                    reset: millis(reset),
                    retry_after: millis(retry),
                };
                if decision.allowed {
                    caller.keep(taken.max(1) as u32, decision);
                    let mut spent = decision;
                    spent.remaining = spent.remaining.saturating_add(taken.max(1) as u32 - 1);
                    Ok(Some(spent))
                } else {
                    caller.forget();
                    Ok(Some(decision))
                }
            }
        }
    }

    /// Round trips made to Redis so far (0 in memory).
    pub fn redis_trips(&self) -> u64 {
        match self.store.as_ref() {
            Store::Redis(shared) => shared.trips.load(std::sync::atomic::Ordering::Relaxed),
            Store::Memory(_) => 0,
        }
    }
}

/// Counts every call with a caller against the quotas (inside the auth layer, which names the
/// caller).
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: Limiter,
}

impl RateLimitLayer {
    /// A layer checking `limiter`.
    pub fn new(limiter: Limiter) -> RateLimitLayer {
        RateLimitLayer { limiter }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

/// See [`RateLimitLayer`].
#[derive(Clone)]
pub struct RateLimitService<S> {
    inner: S,
    limiter: Limiter,
}

impl<S, ReqBody> Service<Request<ReqBody>> for RateLimitService<S>
where
    S: Service<Request<ReqBody>, Response = Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let caller = request
            .extensions()
            .get::<RequestContext>()
            .and_then(|c| c.principal.as_ref())
            .map(|p| (p.tenant_id.to_string(), p.user_id.to_string()));
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let Some((tenant, subject)) = caller else {
            return Box::pin(inner.call(request));
        };
        let limiter = self.limiter.clone();
        Box::pin(async move {
            let decision = match limiter.check(&tenant, &subject).await {
                Ok(decision) => decision,
                Err(e) => {
                    // The quota store is down: calls go on uncounted rather than all failing.
                    tracing::warn!(error = %e, "rate limits cannot be checked; the call is let through");
                    None
                }
            };
            let Some(decision) = decision else {
                return inner.call(request).await;
            };
            if !decision.allowed {
                let seconds = decision.retry_after.as_millis().div_ceil(1000).max(1);
                let error = crm_core::Error::resource_exhausted(
                    format!(
                        "over the quota of {} calls a minute; try again in {seconds} s",
                        decision.limit
                    ),
                    decision.retry_after.max(Duration::from_millis(1)),
                );
                let mut response = tonic::Status::from(error).into_http::<tonic::body::Body>();
                response.headers_mut().extend(decision.headers());
                return Ok(response);
            }
            let mut response = inner.call(request).await?;
            response.headers_mut().extend(decision.headers());
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests;

//! The processes of one context the gateway balances over: each with its standing in rotation
//! (ejected after a refusal, for a doubling while), kept current by resolving the host.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use tonic::transport::Channel;

use super::*;

/// How long a process that refused a connection (or failed its health check) first stays out
/// of rotation; doubled on each ejection in a row, up to [`EJECT_AT_MOST`].
pub(super) const EJECT_FOR: Duration = Duration::from_secs(1);
/// The longest a process stays out of rotation before a call probes it again.
pub(super) const EJECT_AT_MOST: Duration = Duration::from_secs(16);
/// One process of a context, with its standing in rotation.
pub(super) struct Replica {
    pub(super) url: String,
    pub(super) channel: Channel,
    /// Until when it is out of rotation, in ms after the pool's epoch (0: in rotation).
    pub(super) ejected_until: AtomicU64,
    /// Ejections in a row, which double the time out.
    pub(super) ejections: AtomicU32,
}

impl Replica {
    pub(super) fn new(url: String, channel: Channel) -> Arc<Replica> {
        Arc::new(Replica {
            url,
            channel,
            ejected_until: AtomicU64::new(0),
            ejections: AtomicU32::new(0),
        })
    }
}

/// Channels to one context's processes, taken in turn; a process that refuses connections or
/// fails its health check is left out of the turn (ejected) until it is probed back in.
pub(super) struct Pool {
    pub(super) context: &'static str,
    pub(super) epoch: Instant,
    pub(super) replicas: RwLock<Arc<Vec<Arc<Replica>>>>,
    pub(super) next: AtomicUsize,
}

impl Pool {
    pub(super) fn new(context: &'static str, replicas: Vec<Arc<Replica>>) -> Arc<Pool> {
        Arc::new(Pool {
            context,
            epoch: Instant::now(),
            replicas: RwLock::new(Arc::new(replicas)),
            next: AtomicUsize::new(0),
        })
    }

    pub(super) fn replicas(&self) -> Arc<Vec<Arc<Replica>>> {
        self.replicas.read().expect("pool lock").clone()
    }

    pub(super) fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The next process in turn that is in rotation and not in `tried`; when every untried one
    /// is ejected, the one whose time out ends first (a call then probes it: better than
    /// refusing while some process may answer).
    pub(super) fn pick(&self, tried: &[Arc<Replica>]) -> Option<Arc<Replica>> {
        let replicas = self.replicas();
        let n = replicas.len();
        if n == 0 {
            return None;
        }
        let now = self.now_ms();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let untried = (0..n)
            .map(|k| &replicas[(start + k) % n])
            .filter(|r| !tried.iter().any(|t| Arc::ptr_eq(t, r)));
        let mut fallback: Option<&Arc<Replica>> = None;
        for replica in untried {
            let until = replica.ejected_until.load(Ordering::Relaxed);
            if until <= now {
                return Some(replica.clone());
            }
            if fallback.is_none_or(|f| until < f.ejected_until.load(Ordering::Relaxed)) {
                fallback = Some(replica);
            }
        }
        fallback.cloned()
    }

    /// Takes `replica` out of rotation: for [`EJECT_FOR`], doubled for each ejection in a row.
    pub(super) fn eject(&self, replica: &Replica, why: &str) {
        let row = replica.ejections.fetch_add(1, Ordering::Relaxed);
        let out = EJECT_FOR.saturating_mul(1 << row.min(8)).min(EJECT_AT_MOST);
        let until = self.now_ms() + u64::try_from(out.as_millis()).unwrap_or(u64::MAX);
        let was = replica.ejected_until.swap(until, Ordering::Relaxed);
        if was <= self.now_ms() && row == 0 {
            tracing::warn!(context = self.context, replica = %replica.url, why, "upstream process out of rotation");
        }
    }

    /// Puts `replica` back in rotation (it answered).
    pub(super) fn readmit(&self, replica: &Replica) {
        if replica.ejections.swap(0, Ordering::Relaxed) > 0 {
            replica.ejected_until.store(0, Ordering::Relaxed);
            tracing::info!(context = self.context, replica = %replica.url, "upstream process back in rotation");
        }
    }

    /// Keeps the processes of addresses still given, dials the new ones, drops the gone.
    pub(super) fn update(&self, addresses: &[SocketAddr]) {
        let current = self.replicas();
        let keys: Vec<String> = addresses.iter().map(|a| format!("http://{a}")).collect();
        if keys.len() == current.len() && keys.iter().all(|k| current.iter().any(|r| r.url == *k)) {
            return;
        }
        let next: Vec<Arc<Replica>> = keys
            .into_iter()
            .filter_map(|key| match current.iter().find(|r| r.url == key) {
                Some(kept) => Some(kept.clone()),
                None => lazy(&key).ok().map(|channel| Replica::new(key, channel)),
            })
            .collect();
        tracing::info!(addresses = ?next.iter().map(|r| r.url.as_str()).collect::<Vec<_>>(), "upstream addresses changed");
        *self.replicas.write().expect("pool lock") = Arc::new(next);
    }
}

/// Resolves `host` every [`RESOLVE_EVERY`] while its pool is in use.
pub(super) async fn resolve(pool: Weak<Pool>, context: &'static str, host: String, port: u16) {
    let mut tick = tokio::time::interval(RESOLVE_EVERY);
    loop {
        tick.tick().await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(found) => {
                let mut addresses: Vec<SocketAddr> = found.collect();
                addresses.sort();
                addresses.dedup();
                pool.update(&addresses);
            }
            // Keep what was known: a DNS hiccup must not empty the pool.
            Err(e) => {
                tracing::warn!(context, %host, error = %e, "cannot resolve the upstream; keeping its last addresses")
            }
        }
    }
}

//! Circuit breakers as operators see them: each context names its breakers (`Started::breakers`),
//! and the launcher shows their state on `/metrics` (`crm_circuit_breaker_state`) and in health
//! (service `breaker:<name>`: `NOT_SERVING` while open). A [`BreakerWatch`] is the `failsafe`
//! instrument that keeps the state.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// Where a breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BreakerState {
    /// Calls pass.
    #[default]
    Closed,
    /// One call is let through to probe.
    HalfOpen,
    /// Calls are refused without trying.
    Open,
}

impl BreakerState {
    /// Every state, in order.
    pub const ALL: [BreakerState; 3] = [
        BreakerState::Closed,
        BreakerState::HalfOpen,
        BreakerState::Open,
    ];

    /// Its name, for metrics, health and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::HalfOpen => "half_open",
            BreakerState::Open => "open",
        }
    }
}

/// A breaker's state, kept by `failsafe` through [`failsafe::Instrument`] and read by anyone
/// holding a clone.
#[derive(Clone, Debug, Default)]
pub struct BreakerWatch(Arc<AtomicU8>);

impl BreakerWatch {
    /// Where the breaker stands now.
    pub fn state(&self) -> BreakerState {
        match self.0.load(Ordering::Relaxed) {
            0 => BreakerState::Closed,
            1 => BreakerState::HalfOpen,
            _ => BreakerState::Open,
        }
    }

    fn set(&self, state: BreakerState) {
        let value = match state {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        };
        self.0.store(value, Ordering::Relaxed);
    }
}

impl failsafe::Instrument for BreakerWatch {
    fn on_call_rejected(&self) {}
    fn on_open(&self) {
        self.set(BreakerState::Open);
    }
    fn on_half_open(&self) {
        self.set(BreakerState::HalfOpen);
    }
    fn on_closed(&self) {
        self.set(BreakerState::Closed);
    }
}

/// A named breaker of a context (`notification.email`, `sales.customer`).
#[derive(Clone, Debug)]
pub struct NamedBreaker {
    /// Its name: `<context>.<what it guards>`.
    pub name: String,
    /// Its state.
    pub watch: BreakerWatch,
}

impl NamedBreaker {
    /// The health service name that reports it.
    pub fn health_name(&self) -> String {
        format!("breaker:{}", self.name)
    }
}

//! What every Kilang CRM service shares: the error kind and its gRPC mapping, the request context
//! and the layer that authenticates calls, typed configuration, telemetry, storage helpers, and
//! the composition of gRPC services into one server.

pub mod api;
pub mod auth;
pub mod authz;
pub mod breaker;
pub mod client;
pub mod clock;
pub mod config;
pub mod context;
pub mod deletion;
pub mod error;
pub mod grpc;
pub mod idempotency;
pub mod ids;
pub mod layer;
pub mod metrics;
pub mod permission_words;
pub mod redis_retry;
pub mod revocation;
pub mod service_auth;
pub mod storage;
pub mod supervise;
pub mod telemetry;
pub mod testing;
pub mod text;
pub mod upstream;

pub use config::Config;
pub use context::{Principal, RequestContext, TenantId, UserId};
pub use error::{Error, ErrorKind, Result};

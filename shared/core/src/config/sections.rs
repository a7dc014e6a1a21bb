//! The shared sections of the configuration (log, telemetry, auth, database, Redis, Kafka,
//! events, rate limits, the edge, TLS, CORS), each with its defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::values::*;

/// Logging.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `pretty` or `json` (`--log-format`, `CRM_LOG__FORMAT`).
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `info,crm_iam=debug` (`CRM_LOG__LEVEL`).
    pub level: String,
}

/// Tracing export.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// OTLP/HTTP collector, e.g. `http://127.0.0.1:4318` (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    /// Unset: no export.
    pub otlp_endpoint: Option<String>,
}

/// Access-token verification.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The `iss` tokens must carry.
    pub issuer: String,
    /// The `aud` tokens must carry.
    pub audience: String,
    /// A JWK Set file with the public keys that verify access tokens. Unset: protected
    /// methods refuse every call until the IAM service's keys are available.
    pub jwks_file: Option<PathBuf>,
}

/// PostgreSQL.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host:5432/db` (`DATABASE_URL`). Each context uses its own
    /// schema in it.
    pub url: Option<Secret>,
    /// Pool size per context.
    pub max_connections: u32,
    /// The role every transaction switches to (`SET LOCAL ROLE`) so row-level security applies
    /// even when the login role owns the tables; empty to stay as the login role.
    pub app_role: String,
}

/// A service reached by URL.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlConfig {
    /// Its URL.
    pub url: Option<Secret>,
}

/// Kafka.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, e.g. `127.0.0.1:9092` (`KAFKA_BROKERS`). Unset: the embedded bus.
    pub brokers: Option<String>,
    /// Partitions of topics created at startup.
    pub partitions: i32,
    /// Replication factor of topics created at startup.
    pub replication_factor: i32,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: None,
            partitions: 3,
            replication_factor: 1,
        }
    }
}

/// The event backbone.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// How often idle relays and consumers look for new events, in milliseconds.
    pub poll_millis: u64,
    /// How long published events stay in an outbox, in hours.
    pub retention_hours: u64,
    /// Attempts before a consumer parks an event in its dead letters.
    pub max_attempts: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            poll_millis: 50,
            retention_hours: 7 * 24,
            max_attempts: 5,
        }
    }
}

/// Quotas of authenticated calls, enforced at the edge (GCRA: a full minute's quota may come at
/// once, then it refills evenly). In memory per process, or in Redis when `redis.url` is set,
/// so the replicas of a deployment share them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Calls a minute per tenant, all its callers together (0: no limit).
    pub tenant_per_minute: u32,
    /// Calls a minute per caller: a user, an API key or a service (0: no limit).
    pub subject_per_minute: u32,
    /// Tenants with a quota of their own, by tenant id: calls a minute.
    pub tenants: BTreeMap<String, u32>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            tenant_per_minute: 6000,
            subject_per_minute: 1200,
            tenants: BTreeMap::new(),
        }
    }
}

/// The edge's view of the other processes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeConfig {
    /// The address of each context the edge calls that does not run in its process, by target
    /// name: `customer = "http://customer:50051"`.
    pub upstreams: BTreeMap<String, String>,
}

/// TLS on the served port: both files, or neither.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, PEM, leaf first.
    pub cert_file: Option<PathBuf>,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
}

/// CORS for browsers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins other than the edge's own allowed to call from a browser, e.g.
    /// `https://crm.kilang.example`; `*` allows any. Empty (the default): same origin only, as
    /// the console needs nothing more.
    pub allowed_origins: Vec<String>,
}

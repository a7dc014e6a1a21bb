//! The process configuration: one typed struct, read once at startup from defaults < file
//! (`--config`) < environment (`CRM_...`, plus the conventional `DATABASE_URL`, `REDIS_URL`,
//! `KAFKA_BROKERS`, `MONGODB_URL`, `OTEL_EXPORTER_OTLP_ENDPOINT`) < command-line flags, then
//! validated. Errors name the key, where its value came from, and what would be accepted.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The parts of the CRM one process can run. `all` is the named set of every other one
/// (Loki's "target" pattern).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Every target in one process.
    All,
    /// Identity and access.
    Iam,
    /// Customers and contacts.
    Customer,
    /// Leads, opportunities, pipelines, deals.
    Sales,
    /// Notifications and templates.
    Notification,
    /// The entry point for browsers and REST clients (grpc-web, CORS).
    Edge,
}

impl Target {
    /// Every target but `all`.
    pub const MODULES: [Target; 5] = [
        Target::Iam,
        Target::Customer,
        Target::Sales,
        Target::Notification,
        Target::Edge,
    ];

    /// The name used on the command line and in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Target::All => "all",
            Target::Iam => "iam",
            Target::Customer => "customer",
            Target::Sales => "sales",
            Target::Notification => "notification",
            Target::Edge => "edge",
        }
    }

    /// Parses a target name.
    pub fn parse(name: &str) -> Option<Target> {
        [Target::All]
            .into_iter()
            .chain(Target::MODULES)
            .find(|t| t.name() == name.trim())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The modules `targets` stand for, `all` expanded, each once, in a fixed order.
pub fn expand_targets(targets: &[Target]) -> Vec<Target> {
    Target::MODULES
        .into_iter()
        .filter(|m| targets.iter().any(|t| t == m || *t == Target::All))
        .collect()
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A secret value (a URL with a password, a key). Debug and Serialize never show it whole:
/// URLs keep everything but the password, anything else is replaced.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that needs it (a connect call).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value with its secret part hidden.
    pub fn redacted(&self) -> String {
        let value = &self.0;
        let Some(scheme_end) = value.find("://") else {
            return "<redacted>".into();
        };
        let rest = &value[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => {
                let userinfo = &rest[..at];
                let user = userinfo.split(':').next().unwrap_or("");
                let masked = if userinfo.contains(':') {
                    format!("{user}:****")
                } else {
                    user.to_owned()
                };
                format!("{}{}{}", &value[..scheme_end + 3], masked, &rest[at..])
            }
            None => value.clone(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

/// The whole configuration of one process: the keys every process shares, typed here, and each
/// context's own section (e.g. `[iam]`), which the context declares with a [`Section`] and reads
/// with [`Config::section`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// What this process runs (`--target`, `CRM_TARGET`); `all` by default.
    #[serde(deserialize_with = "targets_from_list_or_string")]
    pub target: Vec<Target>,
    /// Where gRPC, grpc-web, health and reflection listen (`--listen`, `CRM_LISTEN`): an
    /// address and port, or `localhost:PORT`.
    #[serde(deserialize_with = "listen_address")]
    pub listen: SocketAddr,
    /// Where embedded SQLite files and generated keys live (`--data-dir`, `CRM_DATA_DIR`).
    pub data_dir: PathBuf,
    /// How long in-flight calls may take to finish after SIGTERM, in seconds.
    pub shutdown_grace_seconds: u64,
    /// Proxies in front of this process whose `X-Forwarded-For` names the client (addresses or
    /// networks, e.g. `["10.0.0.0/8"]`): the edge before a context, a load balancer before the
    /// edge. Empty (the default): the header is ignored and the connection's peer is the client.
    pub trusted_proxies: Vec<String>,
    /// Logging.
    pub log: LogConfig,
    /// Tracing export.
    pub telemetry: TelemetryConfig,
    /// Access-token verification.
    pub auth: AuthConfig,
    /// PostgreSQL (microservices mode). Unset: embedded SQLite under `data_dir`.
    pub database: DatabaseConfig,
    /// Redis (tokens, rate limits, cache). Unset: in memory.
    pub redis: UrlConfig,
    /// Kafka (events). Unset: the embedded in-process bus.
    pub kafka: KafkaConfig,
    /// MongoDB (customer documents). Unset: SQLite.
    pub mongodb: UrlConfig,
    /// Cross-origin requests to the edge (grpc-web from browsers).
    pub cors: CorsConfig,
    /// Quotas of calls per tenant and per caller, at the edge.
    pub rate_limit: RateLimitConfig,
    /// TLS on the served port. Unset: plain TCP (behind a terminating proxy, or on a laptop).
    pub tls: TlsConfig,
    /// Where the edge finds the contexts that do not run in its process.
    pub edge: EdgeConfig,
    /// The event backbone.
    pub events: EventsConfig,
    /// The contexts' own sections, by name, as given (see [`Section`]). Keys no context declares
    /// are refused at load.
    #[serde(flatten)]
    pub sections: BTreeMap<String, figment::value::Value>,
}

/// A context's own section of the configuration (`[iam]`, `CRM_IAM__*`), declared by the
/// context crate in its `crm_events::bounded::BoundedContext`. The launcher passes every
/// context's section to [`Config::load`], which fills in their defaults (so `crm config` shows
/// every key) and reports their problems with everyone else's.
pub struct Section {
    /// The key, e.g. `iam`.
    pub name: &'static str,
    /// Every key with its default value.
    pub defaults: fn() -> figment::value::Value,
    /// Problems with the section's values, one line each naming its key (`iam.lockout_seconds`).
    pub check: fn(&Config) -> Vec<String>,
}

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

impl Default for Config {
    fn default() -> Self {
        Self {
            target: vec![Target::All],
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            data_dir: PathBuf::from("./data"),
            shutdown_grace_seconds: 30,
            trusted_proxies: Vec::new(),
            log: LogConfig {
                format: LogFormat::Pretty,
                level: "info".into(),
            },
            telemetry: TelemetryConfig::default(),
            auth: AuthConfig {
                issuer: "kilang-crm".into(),
                audience: "kilang-crm".into(),
                jwks_file: None,
            },
            database: DatabaseConfig {
                url: None,
                max_connections: 10,
                app_role: "crm_app".into(),
            },
            redis: UrlConfig::default(),
            kafka: KafkaConfig::default(),
            mongodb: UrlConfig::default(),
            cors: CorsConfig {
                allowed_origins: Vec::new(),
            },
            rate_limit: RateLimitConfig::default(),
            tls: TlsConfig::default(),
            edge: EdgeConfig::default(),
            events: EventsConfig::default(),
            sections: BTreeMap::new(),
        }
    }
}

/// Values given on the command line; only those present override.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    /// `--target`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Vec<Target>>,
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--log-format`.
    #[serde(skip_serializing_if = "Option::is_none", rename = "log")]
    pub log: Option<LogOverrides>,
}

/// `--log-format`.
#[derive(Clone, Debug, Serialize)]
pub struct LogOverrides {
    /// The format.
    pub format: LogFormat,
}

/// A configuration that cannot be used, with every problem found.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    /// One line per problem, each naming its key.
    pub problems: Vec<String>,
}

/// The conventional variable names the ecosystem uses, mapped onto keys.
const CONVENTIONAL_ENV: [(&str, &str); 5] = [
    ("DATABASE_URL", "database.url"),
    ("REDIS_URL", "redis.url"),
    ("KAFKA_BROKERS", "kafka.brokers"),
    ("MONGODB_URL", "mongodb.url"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "telemetry.otlp_endpoint"),
];

impl Config {
    /// Reads the configuration from the process environment, `file` and `overrides`, with the
    /// contexts' `sections`.
    pub fn load(
        file: Option<&Path>,
        overrides: &Overrides,
        sections: &[&Section],
    ) -> Result<Config, ConfigError> {
        if let Some(file) = file
            && let Err(e) = std::fs::metadata(file)
        {
            return Err(ConfigError {
                problems: vec![format!(
                    "`--config {}`: cannot read the configuration file: {}; check the path (it is relative to {})",
                    file.display(),
                    io_reason(&e),
                    std::env::current_dir()
                        .map(|d| d.display().to_string())
                        .unwrap_or_else(|_| "the working directory".into())
                )],
            });
        }
        Self::from_figment(Self::figment(file, overrides, sections), sections)
    }

    /// The layered sources, for tests that set their own environment with `figment::Jail`.
    pub fn figment(file: Option<&Path>, overrides: &Overrides, sections: &[&Section]) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        for section in sections {
            figment = figment.merge(Serialized::default(section.name, (section.defaults)()));
        }
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let conventional = Env::raw().filter_map(|key| {
            CONVENTIONAL_ENV
                .iter()
                .find(|(var, _)| key.as_str().eq_ignore_ascii_case(var))
                .map(|(_, path)| (*path).into())
        });
        figment
            .merge(conventional)
            .merge(Env::prefixed("CRM_").split("__"))
            .merge(Serialized::globals(overrides))
    }

    /// The configuration `figment` holds, checked, with the contexts' `sections`.
    pub fn from_figment(figment: Figment, sections: &[&Section]) -> Result<Config, ConfigError> {
        let config: Config = figment.extract().map_err(|err| ConfigError {
            problems: err.into_iter().map(describe_figment_error).collect(),
        })?;
        let mut problems = config
            .validate()
            .err()
            .map(|e| e.problems)
            .unwrap_or_default();
        for name in config.sections.keys() {
            if !sections.iter().any(|s| s.name == name) {
                problems.push(format!(
                    "`{name}`: unknown key; the keys at the top level are {} (see `crm config`)",
                    top_level_keys(sections).join(", ")
                ));
            }
        }
        for section in sections {
            problems.extend((section.check)(&config));
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError { problems })
        }
    }

    /// A context's section: its values over `T`'s defaults (`T` is `#[serde(default)]`).
    pub fn section<T: serde::de::DeserializeOwned + Default>(
        &self,
        name: &str,
    ) -> Result<T, ConfigError> {
        match self.sections.get(name) {
            None => Ok(T::default()),
            Some(value) => value.deserialize().map_err(|err| ConfigError {
                problems: err
                    .into_iter()
                    .map(|mut e| {
                        e.path.insert(0, name.to_owned());
                        // The section's values no longer say where they came from; the
                        // environment, which overrides the file, is the one place to look.
                        let upper: Vec<String> = e.path.iter().map(|p| p.to_uppercase()).collect();
                        let var = format!("CRM_{}", upper.join("__"));
                        let line = describe_figment_error(e);
                        if std::env::var_os(&var).is_some() {
                            line.replacen(
                                "`: ",
                                &format!("` (from environment variable {var}): "),
                                1,
                            )
                        } else {
                            line
                        }
                    })
                    .collect(),
            }),
        }
    }

    /// Sets a context's section (tests and tools that build a configuration in code).
    pub fn set_section<T: Serialize>(&mut self, name: &str, value: &T) {
        let value = figment::value::Value::serialize(value).expect("a section serialises");
        self.sections.insert(name.to_owned(), value);
    }

    /// Checks what types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.target.is_empty() {
            problems.push(
                "`target`: name at least one of all, iam, customer, sales, notification, edge"
                    .to_owned(),
            );
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            problems.push(format!(
                "`log.level`: {e}; use a tracing filter such as `info` or `info,crm_iam=debug`"
            ));
        }
        if let Some(url) = &self.database.url
            && !(url.expose().starts_with("postgres://")
                || url.expose().starts_with("postgresql://"))
        {
            problems.push(format!(
                "`database.url` ({}): must be a postgres:// URL; leave it unset for embedded SQLite",
                url.redacted()
            ));
        }
        if !self
            .database
            .app_role
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            problems.push(
                "`database.app_role`: must be a plain role name (letters, digits, _)".to_owned(),
            );
        }
        if self.database.max_connections == 0 {
            problems.push("`database.max_connections`: must be at least 1".to_owned());
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            problems.push(
                "`tls.cert_file` and `tls.key_file`: set both (TLS on the served port) or neither"
                    .to_owned(),
            );
        }
        self.backend_problems(&mut problems);
        if let Err(problem) = crate::client::TrustedProxies::parse(&self.trusted_proxies) {
            problems.push(problem);
        }
        if self.auth.issuer.is_empty() || self.auth.audience.is_empty() {
            problems.push("`auth.issuer` and `auth.audience`: must not be empty".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }

    /// Problems with the URLs of Redis, MongoDB, Kafka and the OTLP collector.
    fn backend_problems(&self, problems: &mut Vec<String>) {
        if let Some(url) = &self.redis.url
            && !(url.expose().starts_with("redis://") || url.expose().starts_with("rediss://"))
        {
            problems.push(format!(
                "`redis.url` ({}): must be a redis:// or rediss:// URL",
                url.redacted()
            ));
        }
        if let Some(url) = &self.mongodb.url
            && !(url.expose().starts_with("mongodb://")
                || url.expose().starts_with("mongodb+srv://"))
        {
            problems.push(format!(
                "`mongodb.url` ({}): must be a mongodb:// URL",
                url.redacted()
            ));
        }
        if self
            .kafka
            .brokers
            .as_deref()
            .is_some_and(|b| b.trim().is_empty())
        {
            problems
                .push("`kafka.brokers`: must list host:port pairs, e.g. 127.0.0.1:9092".to_owned());
        }
        if let Some(endpoint) = &self.telemetry.otlp_endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            problems.push(format!(
                "`telemetry.otlp_endpoint` ({endpoint}): must be an http(s):// URL"
            ));
        }
    }

    /// The modules this process runs (`all` expanded).
    pub fn modules(&self) -> Vec<Target> {
        expand_targets(&self.target)
    }

    /// The configuration as TOML, secrets redacted: what `crm config` prints.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self)
            .unwrap_or_else(|e| format!("# cannot render configuration: {e}"))
    }
}

/// Every key with its environment variable and default, as a Markdown table: the reference
/// `crm config --reference` prints and docs/configuration.md carries (a test keeps the two the same).
pub fn reference(sections: &[&Section]) -> String {
    let mut root = serde_json::to_value(Config::default()).unwrap_or_default();
    for section in sections {
        root[section.name] = serde_json::to_value((section.defaults)()).unwrap_or_default();
    }
    let mut rows = Vec::new();
    flatten(&root, "", &mut rows);
    let mut out = String::from("| key | environment | default |\n|---|---|---|\n");
    for (key, default) in rows {
        let env = CONVENTIONAL_ENV
            .iter()
            .find(|(_, path)| *path == key)
            .map(|(var, _)| format!("`{var}`, "))
            .unwrap_or_default();
        let crm = format!(
            "CRM_{}",
            key.replace(".<name>", "__<NAME>")
                .replace('.', "__")
                .to_uppercase()
        );
        out.push_str(&format!("| `{key}` | {env}`{crm}` | {default} |\n"));
    }
    out
}

fn flatten(value: &serde_json::Value, prefix: &str, rows: &mut Vec<(String, String)>) {
    let serde_json::Value::Object(map) = value else {
        return;
    };
    for (key, value) in map {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            serde_json::Value::Object(inner) if inner.is_empty() => {
                rows.push((format!("{path}.<name>"), "none".to_owned()))
            }
            serde_json::Value::Object(_) => flatten(value, &path, rows),
            serde_json::Value::Null => rows.push((path, "unset".to_owned())),
            serde_json::Value::String(text) => rows.push((path, format!("`{text}`"))),
            other => rows.push((path, format!("`{other}`"))),
        }
    }
}

/// The keys at the top level: the shared ones and the contexts' sections.
fn top_level_keys(sections: &[&Section]) -> Vec<String> {
    let mut keys: Vec<String> = match figment::value::Value::serialize(Config::default()) {
        Ok(figment::value::Value::Dict(_, dict)) => dict.into_keys().collect(),
        _ => Vec::new(),
    };
    keys.extend(sections.iter().map(|s| s.name.to_owned()));
    keys.sort();
    keys
}

/// An IO error's reason without the `(os error N)` suffix.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// `--listen` / `listen`: `IP:PORT`, or a host name (e.g. `localhost`) that resolves to one
/// (IPv4 first).
pub fn parse_listen(raw: &str) -> Result<SocketAddr, String> {
    const EXPECTED: &str =
        "expected host:port, e.g. 127.0.0.1:50051, localhost:50051 or 0.0.0.0:50051";
    if let Ok(addr) = raw.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let Some((host, port)) = raw.rsplit_once(':') else {
        return Err(format!("{raw:?} has no port; {EXPECTED}"));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!("{raw:?} is not host:port; {EXPECTED}"));
    }
    use std::net::ToSocketAddrs;
    let addrs: Vec<SocketAddr> = raw
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host:?}: {e}; {EXPECTED}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{host:?} resolves to no address; {EXPECTED}"))
}

fn listen_address<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let raw = String::deserialize(d)?;
    parse_listen(raw.trim()).map_err(serde::de::Error::custom)
}

fn describe_figment_error(err: figment::Error) -> String {
    let dotted = err.path.join(".");
    let origin = match &err.metadata {
        Some(md) if md.name.contains("CRM_") => {
            let var: Vec<String> = err.path.iter().map(|p| p.to_uppercase()).collect();
            format!(" (from environment variable CRM_{})", var.join("__"))
        }
        Some(md) if md.name.contains("environment") => CONVENTIONAL_ENV
            .iter()
            .find(|(_, path)| *path == dotted)
            .map(|(var, _)| format!(" (from environment variable {var})"))
            .unwrap_or_default(),
        Some(md) => match &md.source {
            Some(source) => format!(" (from {source})"),
            None => format!(" (from {})", md.name),
        },
        None => String::new(),
    };
    let key = if dotted.is_empty() {
        "(top level)".to_owned()
    } else {
        format!("`{dotted}`")
    };
    if let figment::error::Kind::UnknownField(found, expected) = &err.kind {
        // The path ends with the unknown key itself; its parent is where it was written.
        let parent = match err.path.split_last() {
            Some((last, parent)) if last == found => parent.join("."),
            _ => dotted.clone(),
        };
        let (found_path, place) = if parent.is_empty() {
            (found.clone(), "at the top level".to_owned())
        } else {
            (format!("{parent}.{found}"), format!("in `{parent}`"))
        };
        return format!(
            "`{found_path}`{origin}: unknown key; the keys {place} are {} (see `crm config`)",
            expected.join(", ")
        );
    }
    let hint = match err.path.last().map(String::as_str) {
        Some("listen") => "",
        Some("target") => {
            "; expected a comma-separated list of all, iam, customer, sales, notification, edge"
        }
        Some("format") => "; expected pretty or json",
        _ => "",
    };
    format!("{key}{origin}: {}{hint}", err.kind)
}

fn targets_from_list_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Target>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    let names = match ListOrString::deserialize(d)? {
        ListOrString::List(names) => names,
        ListOrString::String(s) => s
            .split(',')
            .map(str::to_owned)
            .filter(|s| !s.trim().is_empty())
            .collect(),
    };
    names
        .iter()
        .map(|name| {
            Target::parse(name).ok_or_else(|| {
                serde::de::Error::custom(format!("unknown target `{}`", name.trim()))
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment's own large error
mod tests {
    use figment::Jail;

    use super::*;

    /// A context's section, as a context crate declares one.
    #[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct WidgetConfig {
        size: u32,
        label: String,
    }

    static WIDGET: Section = Section {
        name: "widget",
        defaults: || {
            figment::value::Value::serialize(WidgetConfig {
                size: 3,
                label: "canting".into(),
            })
            .unwrap()
        },
        check: |config| match config.section::<WidgetConfig>("widget") {
            Err(e) => e.problems,
            Ok(w) if w.size == 0 => vec!["`widget.size`: must be at least 1".into()],
            Ok(_) => Vec::new(),
        },
    };

    #[test]
    fn a_context_section_has_its_defaults_and_its_own_checks() {
        let config = load_in(|_| Ok(()), None, Overrides::default()).unwrap();
        assert_eq!(
            config.section::<WidgetConfig>("widget").unwrap(),
            WidgetConfig {
                size: 3,
                label: "canting".into()
            }
        );
        assert!(config.to_redacted_toml().contains("[widget]"));

        let config = load_in(
            |jail| {
                jail.set_env("CRM_WIDGET__SIZE", "7");
                Ok(())
            },
            None,
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.section::<WidgetConfig>("widget").unwrap().size, 7);
        assert_eq!(
            config.section::<WidgetConfig>("widget").unwrap().label,
            "canting",
            "keys not given keep their defaults"
        );

        let err = load_in(
            |_| Ok(()),
            Some("[widget]\nsize = 0\n"),
            Overrides::default(),
        )
        .unwrap_err();
        assert_eq!(err.problems, ["`widget.size`: must be at least 1"]);
    }

    #[test]
    fn keys_no_context_declares_are_refused_by_name() {
        let err = load_in(
            |_| Ok(()),
            Some("colour = \"red\"\n[widget]\nsizee = 4\n"),
            Overrides::default(),
        )
        .unwrap_err();
        assert_eq!(err.problems.len(), 2, "{:?}", err.problems);
        assert!(
            err.problems[0].starts_with("`colour`: unknown key; the keys at the top level are ")
                && err.problems[0].contains("widget"),
            "{:?}",
            err.problems
        );
        assert!(
            err.problems[1].starts_with("`widget.sizee`")
                && err.problems[1].contains("unknown key"),
            "{:?}",
            err.problems
        );
    }

    fn load_in(
        jail_setup: impl FnOnce(&mut Jail) -> figment::Result<()>,
        file: Option<&str>,
        overrides: Overrides,
    ) -> Result<Config, ConfigError> {
        let mut outcome = None;
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail_setup(jail)?;
            let path = file.map(|text| {
                jail.create_file("crm.toml", text).unwrap();
                PathBuf::from("crm.toml")
            });
            outcome = Some(Config::from_figment(
                Config::figment(path.as_deref(), &overrides, &[&WIDGET]),
                &[&WIDGET],
            ));
            Ok(())
        });
        outcome.unwrap()
    }

    #[test]
    fn defaults_run_everything_embedded_on_the_documented_port() {
        let config = load_in(|_| Ok(()), None, Overrides::default()).unwrap();
        assert_eq!(config.listen, "127.0.0.1:50051".parse().unwrap());
        assert_eq!(config.modules(), Target::MODULES);
        assert!(config.database.url.is_none());
        assert_eq!(config.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn file_then_environment_then_flags_take_precedence() {
        let file = "listen = \"127.0.0.1:6000\"\ndata_dir = \"/srv/crm\"\ntarget = [\"iam\"]\n";
        let env = |jail: &mut Jail| {
            jail.set_env("CRM_LISTEN", "127.0.0.1:7000");
            jail.set_env("CRM_LOG__FORMAT", "json");
            Ok(())
        };
        let config = load_in(env, Some(file), Overrides::default()).unwrap();
        assert_eq!(
            config.listen,
            "127.0.0.1:7000".parse().unwrap(),
            "environment beats file"
        );
        assert_eq!(
            config.data_dir,
            PathBuf::from("/srv/crm"),
            "file beats defaults"
        );
        assert_eq!(config.target, [Target::Iam]);
        assert_eq!(config.log.format, LogFormat::Json);

        let flags = Overrides {
            listen: Some("127.0.0.1:8000".parse().unwrap()),
            ..Default::default()
        };
        let env = |jail: &mut Jail| {
            jail.set_env("CRM_LISTEN", "127.0.0.1:7000");
            Ok(())
        };
        let config = load_in(env, Some(file), flags).unwrap();
        assert_eq!(
            config.listen,
            "127.0.0.1:8000".parse().unwrap(),
            "flags beat environment"
        );
    }

    #[test]
    fn targets_come_as_a_comma_separated_list() {
        let env = |jail: &mut Jail| {
            jail.set_env("CRM_TARGET", "iam,sales");
            Ok(())
        };
        let config = load_in(env, None, Overrides::default()).unwrap();
        assert_eq!(config.modules(), [Target::Iam, Target::Sales]);
    }

    #[test]
    fn conventional_variables_fill_their_keys() {
        let env = |jail: &mut Jail| {
            jail.set_env("DATABASE_URL", "postgres://crm:s3cret@db:5432/crm");
            jail.set_env("KAFKA_BROKERS", "127.0.0.1:9092");
            Ok(())
        };
        let config = load_in(env, None, Overrides::default()).unwrap();
        assert_eq!(
            config.database.url.as_ref().unwrap().expose(),
            "postgres://crm:s3cret@db:5432/crm"
        );
        assert_eq!(config.kafka.brokers.as_deref(), Some("127.0.0.1:9092"));
    }

    #[test]
    fn a_bad_value_names_its_key_and_its_environment_variable() {
        let env = |jail: &mut Jail| {
            jail.set_env("CRM_LISTEN", "localhost-ish");
            Ok(())
        };
        let err = load_in(env, None, Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`listen`"), "{err}");
        assert!(err.contains("CRM_LISTEN"), "{err}");
        assert!(
            err.contains("127.0.0.1:50051"),
            "the hint shows a valid value: {err}"
        );
    }

    #[test]
    fn an_unknown_target_or_key_is_refused() {
        let env = |jail: &mut Jail| {
            jail.set_env("CRM_TARGET", "iam,billing");
            Ok(())
        };
        let err = load_in(env, None, Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown target `billing`"), "{err}");

        let err = load_in(
            |_| Ok(()),
            Some("lisen = \"127.0.0.1:1\"\n"),
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn validation_names_the_key() {
        let env = |jail: &mut Jail| {
            jail.set_env("DATABASE_URL", "mysql://root@localhost/crm");
            jail.set_env("CRM_LOG__LEVEL", "info,[");
            Ok(())
        };
        let err = load_in(env, None, Overrides::default()).unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
        assert!(
            err.problems.iter().any(|p| p.starts_with("`database.url`")),
            "{err}"
        );
        assert!(
            err.problems.iter().any(|p| p.starts_with("`log.level`")),
            "{err}"
        );
    }

    #[test]
    fn secrets_are_redacted_when_printed() {
        let secret = Secret::new("postgres://crm:s3cret@db:5432/crm?sslmode=require");
        assert_eq!(
            secret.redacted(),
            "postgres://crm:****@db:5432/crm?sslmode=require"
        );
        assert_eq!(
            format!("{secret:?}"),
            "postgres://crm:****@db:5432/crm?sslmode=require"
        );
        assert_eq!(Secret::new("plain-token").redacted(), "<redacted>");
        let config = Config {
            database: DatabaseConfig {
                url: Some(secret),
                max_connections: 5,
                app_role: String::new(),
            },
            ..Config::default()
        };
        let printed = config.to_redacted_toml();
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}

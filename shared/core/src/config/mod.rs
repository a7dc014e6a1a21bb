//! The process configuration: one typed struct, read once at startup from defaults < file
//! (`--config`) < environment (`CRM_...`, plus the conventional `DATABASE_URL`, `REDIS_URL`,
//! `KAFKA_BROKERS`, `MONGODB_URL`, `OTEL_EXPORTER_OTLP_ENDPOINT`) < command-line flags, then
//! validated. Errors name the key, where its value came from, and what would be accepted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod reference;
mod sections;
mod values;

pub use reference::reference;
use reference::top_level_keys;
pub use sections::*;
pub use values::*;
use values::{listen_address, targets_from_list_or_string};

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

impl Default for Config {
    fn default() -> Self {
        Self {
            target: vec![Target::ALL],
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
    /// Reads the configuration from the process environment, `file` and `overrides`, checked
    /// against the contexts of `schema`.
    pub fn load(
        file: Option<&Path>,
        overrides: &Overrides,
        schema: Schema<'_>,
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
        Self::from_figment(Self::figment(file, overrides, schema), schema)
    }

    /// The layered sources, for tests that set their own environment with `figment::Jail`.
    pub fn figment(file: Option<&Path>, overrides: &Overrides, schema: Schema<'_>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        for section in schema.sections {
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

    /// The configuration `figment` holds, checked against the contexts of `schema`.
    pub fn from_figment(figment: Figment, schema: Schema<'_>) -> Result<Config, ConfigError> {
        let sections = schema.sections;
        let config: Config = figment.extract().map_err(|err| ConfigError {
            problems: err.into_iter().map(describe_figment_error).collect(),
        })?;
        let mut problems = schema.check_targets(&config.target);
        problems.extend(
            config
                .validate()
                .err()
                .map(|e| e.problems)
                .unwrap_or_default(),
        );
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

    /// Whether `key` of a context's section holds a value (unset and none are not).
    pub fn section_has(&self, name: &str, key: &str) -> bool {
        match self.sections.get(name) {
            Some(figment::value::Value::Dict(_, dict)) => dict
                .get(key)
                .is_some_and(|v| !matches!(v, figment::value::Value::Empty(..))),
            _ => false,
        }
    }

    /// Sets `key` of a context's section to `value`, as written (a secret stays whole): how the
    /// launcher wires the contexts of one process to each other.
    pub fn set_section_key(
        &mut self,
        name: &str,
        key: &str,
        value: impl Into<figment::value::Value>,
    ) {
        let section = self
            .sections
            .entry(name.to_owned())
            .or_insert_with(|| figment::value::Value::from(figment::value::Dict::new()));
        if !matches!(section, figment::value::Value::Dict(..)) {
            *section = figment::value::Value::from(figment::value::Dict::new());
        }
        if let figment::value::Value::Dict(_, dict) = section {
            dict.insert(key.to_owned(), value.into());
        }
    }

    /// Checks what types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
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

    /// Whether this process runs the context or part called `name` (`all` runs every one).
    pub fn runs(&self, name: &str) -> bool {
        self.target.iter().any(|t| t.is_all() || t.name() == name)
    }

    /// The configuration as TOML, secrets redacted: what `crm config` prints.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self)
            .unwrap_or_else(|e| format!("# cannot render configuration: {e}"))
    }
}

/// An IO error's reason without the `(os error N)` suffix.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
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
        Some("target") => "; expected a comma-separated list of targets, e.g. all or iam,customer",
        Some("format") => "; expected pretty or json",
        _ => "",
    };
    format!("{key}{origin}: {}{hint}", err.kind)
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment's own large error
mod tests;

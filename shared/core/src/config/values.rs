//! The values configuration is made of: targets, the log format, secrets, listen addresses.

use std::fmt;
use std::net::SocketAddr;

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

pub(super) fn listen_address<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let raw = String::deserialize(d)?;
    parse_listen(raw.trim()).map_err(serde::de::Error::custom)
}

pub(super) fn targets_from_list_or_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<Target>, D::Error> {
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

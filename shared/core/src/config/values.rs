//! The values configuration is made of: targets, the log format, secrets, listen addresses.

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Section;

/// A part of the CRM one process can run: `all`, `edge`, or a bounded context by its name
/// (`iam`). The contexts' names are not listed here: the launcher's list of contexts is the one
/// place they are, and [`Config::load`](super::Config::load) checks the targets against the
/// [`Schema`](super::Schema) it is given. `all` is the named set of every other one (Loki's
/// "target" pattern).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Target(Cow<'static, str>);

impl Target {
    /// Every target in one process.
    pub const ALL: Target = Target(Cow::Borrowed("all"));
    /// The entry point for browsers and REST clients (grpc-web, CORS, quotas, forwarding).
    pub const EDGE: Target = Target(Cow::Borrowed("edge"));

    /// The target of the context called `name`.
    pub const fn named(name: &'static str) -> Target {
        Target(Cow::Borrowed(name))
    }

    /// A target as written on the command line or in configuration (trimmed, lower case); it
    /// is checked against the contexts when the configuration loads.
    pub fn parse(raw: &str) -> Target {
        Target(Cow::Owned(raw.trim().to_ascii_lowercase()))
    }

    /// The name used on the command line and in configuration.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// Whether this is `all`.
    pub fn is_all(&self) -> bool {
        self.name() == "all"
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a configuration is checked against: the contexts a binary runs (their names are the
/// targets besides `all` and `edge`) and their own sections. The launcher builds it from its
/// list of contexts.
#[derive(Clone, Copy)]
pub struct Schema<'a> {
    /// The contexts' names, in the order `all` starts them.
    pub contexts: &'a [&'a str],
    /// Their sections.
    pub sections: &'a [&'a Section],
}

impl Schema<'_> {
    /// Every target a process can be given, `all` first.
    pub fn targets(&self) -> Vec<&str> {
        let mut names = vec![Target::ALL.name()];
        names.extend(self.contexts.iter().copied());
        names.push(Target::EDGE.name());
        names
    }

    pub(super) fn check_targets(&self, targets: &[Target]) -> Vec<String> {
        let known = self.targets();
        if targets.is_empty() {
            return vec![format!(
                "`target`: name at least one of {}",
                known.join(", ")
            )];
        }
        targets
            .iter()
            .filter(|t| !known.contains(&t.name()))
            .map(|t| {
                format!(
                    "`target`: unknown target `{t}`; the targets are {}",
                    known.join(", ")
                )
            })
            .collect()
    }
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
    Ok(names.iter().map(|name| Target::parse(name)).collect())
}

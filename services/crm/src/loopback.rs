//! One process, several contexts: those that call each other (sales → customer, sales → IAM for
//! its service tokens, customer → IAM for who may own a customer) do it through this process's
//! own listener, with the same gRPC client, auth layer and checks as between processes. Nothing
//! needs configuring: each context declares its calls (`BoundedContext::calls`) and the key of
//! its service secret, and the launcher points the endpoints at the bound address and gets the
//! caller a secret for this process from the context that issues them (IAM, which keeps only
//! its hash, never written anywhere). What the configuration sets is kept.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crm_core::Config;
use crm_events::bounded::BoundedContext;

/// Points the calls between the contexts of `running` at `addr` (this process) where the
/// configuration does not say otherwise, and gives each that needs one a service secret.
pub(crate) fn wire(
    config: &mut Config,
    running: &[&'static BoundedContext],
    addr: SocketAddr,
) -> anyhow::Result<()> {
    let own = format!("http://{}", reachable(addr));
    let runs = |name: &str| running.iter().any(|c| c.name == name);
    let issuer = running.iter().find_map(|c| c.provides.service_secrets);
    for caller in running {
        for call in caller.calls.iter().filter(|call| runs(call.context)) {
            if !config.section_has(caller.name, call.endpoint) {
                config.set_section_key(caller.name, call.endpoint, own.clone());
            }
        }
        if let (Some(key), Some(issue)) = (caller.service_secret, issuer)
            && !config.section_has(caller.name, key)
            && let Some(secret) = issue(config, caller.name)?
        {
            config.set_section_key(caller.name, key, secret.expose().to_owned());
        }
    }
    Ok(())
}

/// The address a client of this process dials: the loopback one when it listens on every
/// interface.
pub(crate) fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_interface_is_dialled_on_loopback() {
        let any: SocketAddr = "0.0.0.0:50051".parse().unwrap();
        assert_eq!(reachable(any).to_string(), "127.0.0.1:50051");
        let one: SocketAddr = "10.0.0.5:7000".parse().unwrap();
        assert_eq!(reachable(one), one);
    }
}

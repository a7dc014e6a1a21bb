//! One process, several contexts: those that call each other (sales → customer, sales → IAM for
//! its service tokens, customer → IAM for who may own a customer) do it through this process's own listener, with the same gRPC client,
//! auth layer and checks as between processes. Nothing needs configuring: the endpoints point
//! at the bound address, and sales gets a service secret made for this process, whose hash IAM
//! accepts (never written anywhere). What the configuration sets is kept.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crm_core::Config;
use crm_core::config::{Secret, Target};
use crm_customer::config::CustomerConfig;
use crm_iam::config::IamConfig;
use crm_iam::domain::service_account::{hash_secret, new_secret};
use crm_sales::config::SalesConfig;

/// Points the callers among `config`'s targets at `addr` (this process) where they call a
/// target that runs here and nothing else is configured.
pub(crate) fn wire(config: &mut Config, addr: SocketAddr) -> anyhow::Result<()> {
    let modules = config.modules();
    let own = format!("http://{}", reachable(addr));
    if modules.contains(&Target::Customer) && modules.contains(&Target::Iam) {
        let mut customer = CustomerConfig::of(config)?;
        if customer.iam_endpoint.is_none() {
            customer.iam_endpoint = Some(own.clone());
            customer.set(config);
        }
    }
    if !modules.contains(&Target::Sales) {
        return Ok(());
    }
    let mut sales = SalesConfig::of(config)?;
    if sales.customer_endpoint.is_none() && modules.contains(&Target::Customer) {
        sales.customer_endpoint = Some(own.clone());
    }
    if modules.contains(&Target::Iam) {
        if sales.iam_endpoint.is_none() {
            sales.iam_endpoint = Some(own);
        }
        let mut iam = IamConfig::of(config)?;
        if sales.service_secret.is_none() && !iam.service_accounts.contains_key("sales") {
            let secret = new_secret()
                .map_err(|e| anyhow::anyhow!("no randomness for sales' service secret: {e}"))?;
            iam.service_accounts
                .insert("sales".into(), hash_secret(&secret));
            iam.set(config);
            sales.service_secret = Some(Secret::new(secret));
        }
    }
    sales.set(config);
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

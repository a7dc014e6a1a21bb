//! Who is calling, as an address: the connection's peer, or, when that peer is a proxy the
//! operator trusts (`trusted_proxies`), the address the proxies recorded in `X-Forwarded-For`.
//! Every protocol (gRPC, grpc-web, REST) resolves it the same way, and the edge's gateway tells
//! the context behind it what it resolved, so the per-address limits and the audit see one
//! address however the call came in.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::{Extensions, HeaderMap};
use ipnet::IpNet;
use tonic::transport::server::TcpConnectInfo;

/// The header proxies record the addresses they forwarded for, leftmost first.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// The proxies whose `X-Forwarded-For` is believed. Empty (the default): the header is ignored
/// and the connection's peer is the client, so nobody can pick their own address.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<Vec<IpNet>>);

impl TrustedProxies {
    /// Reads `trusted_proxies`: addresses (`10.0.0.7`) and networks (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        let mut nets = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.as_ref().trim();
            let net = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "`trusted_proxies`: {entry:?} is neither an address nor a network; write e.g. \"10.0.0.7\" or \"10.0.0.0/8\""
                    )
                })?;
            nets.push(net);
        }
        Ok(TrustedProxies(Arc::new(nets)))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client's address: the peer, unless the peer is trusted; then, walking
    /// `X-Forwarded-For` from the right, the first hop that is not a trusted proxy (or the last
    /// readable one, when every hop is trusted or one cannot be read).
    pub fn client_address(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let mut client = peer?.to_canonical();
        if !self.trusts(client) {
            return Some(client);
        }
        let hops: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.into_iter().rev() {
            let Some(address) = hop_address(hop.trim()) else {
                break;
            };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        Some(client)
    }
}

/// One `X-Forwarded-For` entry: an address, or an address with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`), as some proxies write it.
fn hop_address(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|a| a.to_canonical())
}

/// The address at the other end of the connection a request came in on.
pub fn peer(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .map(|a| a.ip().to_canonical())
}

/// The headers of a request forwarded to another process (the edge's gateway): its
/// `X-Forwarded-For` becomes the one address this process resolved (see
/// [`TrustedProxies::client_address`]), so what the next process believes from this one is
/// only what this one vouches for, never a hop the client wrote itself.
pub fn forward_for(extensions: &Extensions, headers: &mut HeaderMap) {
    headers.remove(FORWARDED_FOR);
    let resolved = extensions
        .get::<crate::context::RequestContext>()
        .and_then(|c| c.client_address)
        .or_else(|| peer(extensions));
    if let Some(address) = resolved {
        headers.insert(
            FORWARDED_FOR,
            http::HeaderValue::from_str(&address.to_string()).expect("an address is header-safe"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(FORWARDED_FOR, v.parse().unwrap());
        }
        map
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_address(ip("203.0.113.9"), &headers(&["198.51.100.1"])),
            ip("203.0.113.9")
        );
        let edge = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        assert_eq!(
            edge.client_address(ip("203.0.113.9"), &headers(&["198.51.100.1"])),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_chain_is_walked_from_the_right_to_the_first_stranger() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7"]).unwrap();
        // The client put a lie on the left; the proxies appended what they saw.
        let sent = headers(&["1.1.1.1, 203.0.113.9", "192.0.2.7"]);
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &sent),
            ip("203.0.113.9")
        );
        // Every hop trusted: the leftmost is the client.
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &headers(&["10.9.9.9, 192.0.2.7"])),
            ip("10.9.9.9")
        );
        // No header: the proxy itself called.
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &HeaderMap::new()),
            ip("10.1.2.3")
        );
        // An unreadable hop stops the walk at the last hop a trusted proxy vouched for.
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &headers(&["203.0.113.9, junk, 192.0.2.7"])),
            ip("192.0.2.7")
        );
        // Ports and IPv4 mapped into IPv6 are the same address.
        assert_eq!(
            proxies.client_address(ip("::ffff:10.1.2.3"), &headers(&["203.0.113.9:4711"])),
            ip("203.0.113.9")
        );
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &headers(&["[2001:db8::1]:443"])),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn entries_that_are_not_addresses_are_refused_by_name() {
        let err = TrustedProxies::parse(&["10.0.0.0/8", "edge"]).unwrap_err();
        assert!(err.contains("\"edge\""), "{err}");
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
    }
}

//! Who is asking: the client's IP address, for the rate limits.
//!
//! It is the socket's peer address, unless `TRUSTED_PROXY_HOPS` says that many proxies in front of
//! the app append to `X-Forwarded-For`: then it is the entry that many places from the right, the
//! one the nearest trusted proxy saw. Entries further left are written by the client and would let
//! a script pick its own address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use crate::server::state::AppState;

/// The client's address, left in each request's extensions by [`remember`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Middleware: works out the client address once per request.
pub async fn remember(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if let Some(ip) = client_ip(peer, request.headers(), state.settings.trusted_proxy_hops) {
        request.extensions_mut().insert(ClientIp(ip));
    }
    next.run(request).await
}

/// The client address from the peer and the `X-Forwarded-For` headers, trusting `hops` proxies.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, hops: usize) -> Option<IpAddr> {
    if hops == 0 {
        return peer;
    }
    // Several headers are one list, in order (RFC 9110 §5.3).
    let hops_seen: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    match hops_seen.len().checked_sub(hops) {
        // A proxy may write `1.2.3.4:5678` or `[2001:db8::1]:443`; the port is not the client.
        Some(i) => parse_hop(hops_seen[i]).or(peer),
        // Fewer entries than trusted proxies: the request did not come through them all.
        None => peer,
    }
}

fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", v.parse().expect("header value"));
        }
        map
    }

    const PEER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let forged = headers(&["203.0.113.9"]);
        assert_eq!(client_ip(PEER, &forged, 0), PEER);
    }

    #[test]
    fn the_entry_written_by_the_nearest_trusted_proxy_is_the_client() {
        // The client wrote the first entry itself; the one trusted proxy appended the second.
        let h = headers(&["6.6.6.6, 203.0.113.9"]);
        assert_eq!(
            client_ip(PEER, &h, 1),
            Some("203.0.113.9".parse().expect("ip"))
        );
        let two = headers(&["6.6.6.6", "203.0.113.9, 10.0.0.1"]);
        assert_eq!(
            client_ip(PEER, &two, 2),
            Some("203.0.113.9".parse().expect("ip"))
        );
        let with_port = headers(&["[2001:db8::1]:443"]);
        assert_eq!(
            client_ip(PEER, &with_port, 1),
            Some("2001:db8::1".parse().expect("ip"))
        );
    }

    #[test]
    fn too_few_or_unreadable_entries_fall_back_to_the_peer() {
        assert_eq!(client_ip(PEER, &headers(&[]), 1), PEER);
        assert_eq!(client_ip(PEER, &headers(&["203.0.113.9"]), 2), PEER);
        assert_eq!(client_ip(PEER, &headers(&["not an address"]), 1), PEER);
    }
}

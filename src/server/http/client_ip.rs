//! Who is asking: the client's IP address, for the rate limits.
//!
//! It is the socket's peer address, unless that peer is one of the `TRUSTED_PROXIES`: then it is
//! the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy, looking no further
//! than `TRUSTED_PROXY_HOPS` places from the right (the one the outermost proxy saw). Entries
//! further left are written by the client and would let a script pick its own address, and so would
//! the whole header from a client that reaches the app directly, which is why the header is read
//! only from a peer inside the trusted ranges.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

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
    let settings = &state.settings;
    if let Some(ip) = client_ip(
        peer,
        request.headers(),
        &settings.trusted_proxies,
        settings.trusted_proxy_hops,
    ) {
        request.extensions_mut().insert(ClientIp(ip));
    }
    next.run(request).await
}

/// The client address from the peer and the `X-Forwarded-For` headers: the peer itself, unless
/// it is inside one of `trusted` (the proxies' ranges), then the entry `hops` from the right.
pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[IpNet],
    hops: usize,
) -> Option<IpAddr> {
    // A dual-stack socket reports an IPv4 peer as `::ffff:a.b.c.d`; the ranges name it as IPv4.
    let peer = peer.map(|ip| ip.to_canonical());
    let from_a_proxy = peer.is_some_and(|ip| trusted.iter().any(|net| net.contains(&ip)));
    if hops == 0 || !from_a_proxy {
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
    // From the right: each of the last `hops` entries was written by one of the proxies, the
    // nearest first. The first that is not itself a trusted proxy is where the request entered
    // the chain: the client (a client that reached an inner proxy directly is caught there, and
    // cannot pass off an entry it wrote itself further left). All of them trusted: the entry
    // `hops` from the right, written by the outermost proxy.
    for (k, hop) in hops_seen.iter().rev().take(hops).enumerate() {
        // A proxy may write `1.2.3.4:5678` or `[2001:db8::1]:443`; the port is not the client.
        let Some(ip) = parse_hop(hop) else {
            return peer;
        };
        if k + 1 == hops || !trusted.iter().any(|net| net.contains(&ip)) {
            return Some(ip);
        }
    }
    // Fewer entries than trusted proxies: the request did not come through them all.
    peer
}

fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::settings::parse_ranges;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", v.parse().expect("header value"));
        }
        map
    }

    fn ip(literal: &str) -> Option<IpAddr> {
        Some(literal.parse().expect("an address"))
    }

    const PEER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

    fn proxies() -> Vec<IpNet> {
        parse_ranges("10.0.0.0/8, 2001:db8:ffff::/48").expect("valid ranges")
    }

    #[test]
    fn without_trusted_hops_the_header_is_ignored() {
        let forged = headers(&["203.0.113.9"]);
        assert_eq!(client_ip(PEER, &forged, &proxies(), 0), PEER);
    }

    #[test]
    fn the_entry_written_by_the_nearest_trusted_proxy_is_the_client() {
        // The client wrote the first entry itself; the one trusted proxy appended the second.
        let h = headers(&["6.6.6.6, 203.0.113.9"]);
        assert_eq!(client_ip(PEER, &h, &proxies(), 1), ip("203.0.113.9"));
        let two = headers(&["6.6.6.6", "203.0.113.9, 10.0.0.1"]);
        assert_eq!(client_ip(PEER, &two, &proxies(), 2), ip("203.0.113.9"));
        let with_port = headers(&["[2001:db8::1]:443"]);
        assert_eq!(
            client_ip(PEER, &with_port, &proxies(), 1),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn a_client_that_reaches_an_inner_proxy_directly_is_that_proxys_entry() {
        // Two proxies; the client skipped the outer one and wrote an entry of its own, which the
        // inner proxy followed with the client's real address.
        let skipped = headers(&["6.6.6.6, 203.0.113.50"]);
        assert_eq!(client_ip(PEER, &skipped, &proxies(), 2), ip("203.0.113.50"));
        // Through both, the outer proxy's entry (inside the ranges) is passed over.
        let both = headers(&["6.6.6.6, 203.0.113.9, 10.0.0.1"]);
        assert_eq!(client_ip(PEER, &both, &proxies(), 2), ip("203.0.113.9"));
    }

    #[test]
    fn too_few_or_unreadable_entries_fall_back_to_the_peer() {
        let trusted = proxies();
        assert_eq!(client_ip(PEER, &headers(&[]), &trusted, 1), PEER);
        assert_eq!(
            client_ip(PEER, &headers(&["10.0.0.7"]), &trusted, 2),
            PEER,
            "only proxies, fewer than the hops"
        );
        assert_eq!(
            client_ip(PEER, &headers(&["not an address"]), &trusted, 1),
            PEER
        );
    }

    #[test]
    fn a_peer_outside_the_trusted_ranges_is_the_client_whatever_the_header_says() {
        let forged = headers(&["203.0.113.9"]);
        for outside in ["192.0.2.1", "11.0.0.1", "2001:db8:fffe::1", "::1"] {
            assert_eq!(
                client_ip(ip(outside), &forged, &proxies(), 1),
                ip(outside),
                "{outside}"
            );
        }
        assert_eq!(
            client_ip(ip("2001:db8:ffff:1::7"), &forged, &proxies(), 1),
            ip("203.0.113.9"),
            "inside the IPv6 range"
        );
        assert_eq!(client_ip(PEER, &forged, &[], 1), PEER, "no range at all");
        assert_eq!(client_ip(None, &forged, &proxies(), 1), None, "no peer");
    }

    #[test]
    fn an_ipv4_mapped_peer_is_matched_as_ipv4() {
        let forged = headers(&["203.0.113.9"]);
        assert_eq!(
            client_ip(ip("::ffff:10.1.2.3"), &forged, &proxies(), 1),
            ip("203.0.113.9")
        );
        // Outside the ranges, the peer is the client, in its IPv4 form.
        assert_eq!(
            client_ip(ip("::ffff:192.0.2.1"), &forged, &proxies(), 1),
            ip("192.0.2.1")
        );
        let mapped_entry = headers(&["::ffff:203.0.113.9"]);
        assert_eq!(
            client_ip(PEER, &mapped_entry, &proxies(), 1),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn ranges_are_cidrs_or_bare_addresses_of_either_family() {
        let ranges = parse_ranges(" 10.0.0.0/8 ,192.0.2.7, 2001:db8::/32,::1,").expect("valid");
        let as_text: Vec<String> = ranges.iter().map(ToString::to_string).collect();
        assert_eq!(
            as_text,
            ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "::1/128"]
        );
        assert!(ranges[1].contains(&"192.0.2.7".parse::<IpAddr>().expect("literal")));
        assert!(!ranges[1].contains(&"192.0.2.8".parse::<IpAddr>().expect("literal")));
        assert_eq!(parse_ranges("").expect("empty"), Vec::<IpNet>::new());
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "proxy.internal",
            "2001:db8::/129",
            "10.0.0.1-10.0.0.9",
        ] {
            let problem = parse_ranges(&format!("10.0.0.0/8,{bad}")).expect_err(bad);
            assert!(problem.contains(bad), "{problem}");
        }
    }
}

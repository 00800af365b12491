//! Tunnels as an endpoint knows them (peer and traffic selectors) and traffic selector
//! narrowing (RFC 7296 §2.9): a responder answers with the intersection of what the
//! initiator proposed and what its own policy allows, and refuses with TS_UNACCEPTABLE when
//! nothing is left.

use std::net::IpAddr;

use crate::ikev2::payload::TrafficSelector;

pub use crate::ikev2::payload::Selectors;

/// One tunnel's policy at this endpoint: whom it talks to and which traffic it protects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunnelConfig {
    /// Scenario index of the tunnel.
    pub tunnel: u32,
    /// The peer's address.
    pub peer: IpAddr,
    /// Traffic on our side (strongSwan's `local_ts`).
    pub local_ts: Selectors,
    /// Traffic on the peer's side (`remote_ts`).
    pub remote_ts: Selectors,
}

impl TunnelConfig {
    /// Host-to-host: all traffic between our address and the peer's (strongSwan's default
    /// `dynamic` selectors).
    pub fn host_to_host(tunnel: u32, ours: IpAddr, peer: IpAddr) -> Self {
        TunnelConfig {
            tunnel,
            peer,
            local_ts: smallvec::smallvec![TrafficSelector::host(ours)],
            remote_ts: smallvec::smallvec![TrafficSelector::host(peer)],
        }
    }
}

fn intersect(a: &TrafficSelector, b: &TrafficSelector) -> Option<TrafficSelector> {
    if a.start.is_ipv4() != b.start.is_ipv4() {
        return None;
    }
    let ip_protocol = match (a.ip_protocol, b.ip_protocol) {
        (0, p) | (p, 0) => p,
        (p, q) if p == q => p,
        _ => return None,
    };
    let start_port = a.start_port.max(b.start_port);
    let end_port = a.end_port.min(b.end_port);
    let start = a.start.max(b.start);
    let end = a.end.min(b.end);
    (start_port <= end_port && start <= end).then_some(TrafficSelector {
        ip_protocol,
        start_port,
        end_port,
        start,
        end,
    })
}

/// The part of `proposed` that `allowed` permits, selector by selector, without duplicates.
pub fn narrow(proposed: &[TrafficSelector], allowed: &[TrafficSelector]) -> Selectors {
    let mut out = Selectors::new();
    for p in proposed {
        for a in allowed {
            if let Some(ts) = intersect(p, a)
                && !out.contains(&ts)
            {
                out.push(ts);
            }
        }
    }
    out
}

/// Whether every selector of `inner` lies within one of `outer` (the initiator's check that
/// the responder only narrowed).
pub fn within(inner: &[TrafficSelector], outer: &[TrafficSelector]) -> bool {
    !inner.is_empty()
        && inner
            .iter()
            .all(|i| outer.iter().any(|o| intersect(i, o).as_ref() == Some(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(a: &str, b: &str) -> TrafficSelector {
        TrafficSelector {
            ip_protocol: 0,
            start_port: 0,
            end_port: 65535,
            start: a.parse().unwrap(),
            end: b.parse().unwrap(),
        }
    }

    #[test]
    fn a_subnet_is_narrowed_to_the_responders_policy() {
        let proposed = [range("10.1.0.0", "10.1.255.255")];
        let allowed = [
            range("10.1.2.0", "10.1.2.255"),
            range("10.9.0.0", "10.9.0.255"),
        ];
        assert_eq!(
            narrow(&proposed, &allowed).to_vec(),
            vec![range("10.1.2.0", "10.1.2.255")]
        );
        assert!(within(&narrow(&proposed, &allowed), &proposed));
    }

    #[test]
    fn disjoint_selectors_and_families_leave_nothing() {
        let v4 = [range("10.1.0.0", "10.1.0.255")];
        assert!(narrow(&v4, &[range("10.2.0.0", "10.2.0.255")]).is_empty());
        assert!(narrow(&v4, &[range("::", "::ffff")]).is_empty());
        assert!(!within(&[range("10.0.0.0", "10.3.0.0")], &v4));
    }

    #[test]
    fn protocol_and_ports_intersect() {
        let mut tcp = range("10.1.0.1", "10.1.0.1");
        tcp.ip_protocol = 6;
        tcp.start_port = 80;
        tcp.end_port = 443;
        let mut any = range("10.1.0.0", "10.1.0.255");
        any.start_port = 100;
        let n = narrow(&[tcp.clone()], &[any]);
        assert_eq!(n.len(), 1);
        assert_eq!(
            (n[0].ip_protocol, n[0].start_port, n[0].end_port),
            (6, 100, 443)
        );
        let mut udp = tcp.clone();
        udp.ip_protocol = 17;
        assert!(narrow(&[tcp], &[udp]).is_empty());
    }
}

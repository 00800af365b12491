//! Where a packet goes through a static network, found without changing the network: a
//! runner that simulates parts of the network's peers on threads of their own reads it
//! from all of them at once.
//!
//! A network is static when no packet's fate can depend on another packet or on a random
//! draw: every node is plain (no middlebox), every link is a fixed delay with no hooks, and
//! nothing is captured. Then the path and the arrival time of a packet are a function of
//! the packet, its first node and its departure time, and they are those that
//! [`Network::send`] and [`Network::handle`] give it; only the links' counters and the
//! packet ids, which that path does not touch, differ.

use super::{Network, NodeId};
use crate::packet::Packet;
use crate::time::SimTime;

impl Network {
    /// Whether the network is static (see the module doc): then
    /// [`Network::static_delivery`] tells where and when every packet arrives.
    pub fn is_static(&self) -> bool {
        self.capture.is_none()
            && self.link_hooks.is_empty()
            && self.nodes.iter().all(|n| n.plain)
            && self.links.iter().all(|l| l.is_fixed_delay())
    }

    /// The node that takes delivery of `packet`, sent from `from` at `now`, and when; `None`
    /// if it is dropped on the way (no route, no receiver, TTL, or a link's MTU). The packet
    /// comes out as it arrives (TTL, fragments). Only for a static network
    /// ([`Network::is_static`]); on another the answer may be wrong.
    pub fn static_delivery(
        &self,
        from: NodeId,
        now: SimTime,
        packet: &mut Packet,
    ) -> Option<(NodeId, SimTime)> {
        let (mut node, mut at, mut first) = (from, now, true);
        loop {
            let n = &self.nodes[node.0 as usize];
            // As `handle` does at each node the packet reaches.
            if !first {
                if n.addrs.contains(&packet.dst) {
                    return Some((node, at));
                }
                if !n.forwarding || packet.ttl <= 1 {
                    return None;
                }
                packet.ttl -= 1;
            }
            first = false;
            // As `forward` and `Link::transmit` do.
            let link = &self.links[self.route(node, packet.dst)?.0 as usize];
            let mtu = link.mtu() as usize;
            if packet.src.is_ipv4() || !n.forwarding {
                let _ = packet.fragment_for(mtu);
            }
            if packet.largest_fragment() > mtu {
                return None;
            }
            at += link.fixed_delay()?;
            node = link.to;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::link::LinkParams;
    use crate::queue::{Due, Scheduler};
    use crate::rng::RngStreams;
    use crate::time::Duration;
    use crate::trace::{Trace, TraceLevel};
    use crate::{NetEvent, Network};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// a - r1 - r2 - b, with different delays, plus a dead end (r2 has no route to 9.9.9.9
    /// beyond r1's default) and a small-MTU link towards c.
    fn net(mtu_to_c: u32) -> (Network, [NodeId; 5]) {
        let mut n = Network::new();
        let streams = RngStreams::new(1);
        let a = n.add_node("a", vec![ip("10.0.0.1")], false).unwrap();
        let r1 = n.add_node("r1", vec![], true).unwrap();
        let r2 = n.add_node("r2", vec![], true).unwrap();
        let b = n.add_node("b", vec![ip("10.0.1.1")], false).unwrap();
        let c = n.add_node("c", vec![ip("10.0.2.1")], false).unwrap();
        let p = |ms: u64, mtu: u32| LinkParams {
            delay: Duration::from_millis(ms),
            mtu,
            ..LinkParams::default()
        };
        let mut link = |x, y, ms, mtu| {
            let name = format!("{x:?}->{y:?}");
            n.add_link(name, x, y, p(ms, mtu), &streams).unwrap()
        };
        let a_r1 = link(a, r1, 1, 1500);
        let r1_r2 = link(r1, r2, 20, 1500);
        let r2_b = link(r2, b, 3, 1500);
        let r2_c = link(r2, c, 5, mtu_to_c);
        let r1_a = link(r1, a, 1, 1500);
        let r2_r1 = link(r2, r1, 20, 1500);
        n.add_route(a, ip("0.0.0.0"), 0, a_r1).unwrap();
        n.add_route(r1, ip("10.0.0.1"), 32, r1_a).unwrap();
        n.add_route(r1, ip("0.0.0.0"), 0, r1_r2).unwrap();
        n.add_route(r2, ip("10.0.1.1"), 32, r2_b).unwrap();
        n.add_route(r2, ip("10.0.2.1"), 32, r2_c).unwrap();
        n.add_route(r2, ip("10.0.0.0"), 8, r2_r1).unwrap();
        (n, [a, r1, r2, b, c])
    }

    /// Where `send` and `handle` take the packet: (node, time) of its delivery, if any.
    fn by_events(
        n: &mut Network,
        from: NodeId,
        at: SimTime,
        p: Packet,
    ) -> Option<(NodeId, SimTime)> {
        let mut sched: Scheduler<NetEvent> = Scheduler::new();
        let mut trace = Trace::new(TraceLevel::Off);
        sched.schedule_at(
            at,
            NetEvent::Arrive {
                link: crate::LinkId(u32::MAX),
                packet: p,
            },
        );
        let Some((_, Due::Event(NetEvent::Arrive { packet, .. }))) = sched.pop_due() else {
            unreachable!()
        };
        n.send(&mut sched, &mut trace, from, packet);
        while let Some((t, Due::Event(e))) = sched.pop_due() {
            if let Some(d) = n.handle(&mut sched, &mut trace, e) {
                return Some((d.node, t));
            }
        }
        None
    }

    #[test]
    fn a_static_path_ends_where_and_when_the_events_end() {
        let at = SimTime::ZERO + Duration::from_millis(7);
        for (mtu_to_c, hop_by_hop) in [(1500, false), (1500, true), (200, false)] {
            let (mut n, [a, _, _, b, c]) = net(mtu_to_c);
            n.set_hop_by_hop(hop_by_hop);
            assert!(n.is_static());
            let cases = [
                (a, "10.0.1.1", 64, 100),
                (a, "10.0.2.1", 64, 100),
                (a, "10.0.2.1", 64, 1000),
                (b, "10.0.0.1", 64, 100),
                (a, "10.0.1.1", 2, 100),
                (a, "10.0.1.1", 3, 100),
                (a, "10.9.9.9", 64, 100),
                (c, "10.0.1.1", 64, 100),
            ];
            for (from, dst, ttl, len) in cases {
                let src = n.node(from).addrs[0];
                let mut p = Packet::udp(src, 500, ip(dst), 500, vec![0; len]);
                p.ttl = ttl;
                let mut q = p.clone();
                let want = by_events(&mut n, from, at, p);
                assert_eq!(
                    n.static_delivery(from, at, &mut q),
                    want,
                    "{dst} ttl {ttl} len {len}"
                );
            }
        }
        // One answer worked out by hand: 1 + 20 + 3 ms.
        let (n, [a, _, _, b, _]) = net(1500);
        let mut p = Packet::udp(ip("10.0.0.1"), 500, ip("10.0.1.1"), 500, vec![0; 100]);
        assert_eq!(
            n.static_delivery(a, at, &mut p),
            Some((b, at + Duration::from_millis(24)))
        );
        // With TTL 2 it dies at the second router; without a host route it loops until then.
        for (ttl, dst) in [(2, "10.0.1.1"), (64, "10.9.9.9")] {
            let mut p = Packet::udp(ip("10.0.0.1"), 500, ip(dst), 500, vec![0; 100]);
            p.ttl = ttl;
            assert_eq!(n.static_delivery(a, at, &mut p), None, "{dst}");
        }
    }

    #[test]
    fn a_lossy_link_makes_a_network_not_static() {
        let (mut n, [a, _, _, b, _]) = net(1500);
        let lossy = LinkParams {
            loss: crate::LossModel::Bernoulli { p: 0.1 },
            ..LinkParams::default()
        };
        n.add_link("lossy", a, b, lossy, &RngStreams::new(1))
            .unwrap();
        assert!(!n.is_static());
    }
}

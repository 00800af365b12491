//! A NAT (RFC 4787 terms): endpoint-independent mapping of inside UDP endpoints (and ESP by
//! address) to ports of one public address, allocated in order from 1024, each forgotten
//! after `idle_timeout` without a packet in either direction. Packets from outside to a port
//! without a live mapping are dropped, and the trace says so.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::middlebox::{Direction, HookCtx, Middlebox, Verdict};
use crate::network::LinkId;
use crate::packet::{Packet, Transport};
use crate::time::{Duration, SimTime};
use crate::trace::DropReason;

#[derive(Clone, Copy, Debug)]
struct Mapping {
    inside: (IpAddr, u16),
    port: u16,
    last: SimTime,
}

/// A NAT on the node where the inside link arrives.
#[derive(Debug)]
pub struct Nat {
    name: String,
    public: IpAddr,
    /// Links from the inside, sorted (one for a home router, one per subscriber for a
    /// carrier-grade NAT).
    inside: Vec<LinkId>,
    idle_timeout: Duration,
    next_port: u16,
    by_inside: BTreeMap<(IpAddr, u16), usize>,
    by_port: BTreeMap<u16, usize>,
    maps: Vec<Mapping>,
}

impl Nat {
    /// A NAT translating packets that arrive over any of the `inside` links to `public`.
    pub fn new(
        name: impl Into<String>,
        public: IpAddr,
        mut inside: Vec<LinkId>,
        idle_timeout: Duration,
    ) -> Self {
        inside.sort();
        Nat {
            name: name.into(),
            public,
            inside,
            idle_timeout,
            next_port: 1024,
            by_inside: BTreeMap::new(),
            by_port: BTreeMap::new(),
            maps: Vec::new(),
        }
    }

    fn alive(&self, k: usize, now: SimTime) -> bool {
        now.saturating_since(self.maps[k].last) <= self.idle_timeout
    }

    /// The public port of `inside`, making a mapping when it has none; `None` when every
    /// port is taken by a live mapping.
    fn outbound(&mut self, now: SimTime, inside: (IpAddr, u16)) -> Option<u16> {
        if let Some(&k) = self.by_inside.get(&inside)
            && self.alive(k, now)
        {
            self.maps[k].last = now;
            return Some(self.maps[k].port);
        }
        // A new mapping (the old one, if any, timed out): the next port no live mapping
        // holds, wrapping from 65535 to 1024.
        let mut port = None;
        for _ in 1024..=u16::MAX {
            let p = self.next_port;
            self.next_port = self.next_port.checked_add(1).unwrap_or(1024);
            match self.by_port.get(&p) {
                Some(&k) if self.alive(k, now) => continue,
                _ => {
                    port = Some(p);
                    break;
                }
            }
        }
        let port = port?;
        let k = match self.by_port.get(&port) {
            // Reuse the slot of the expired mapping on this port.
            Some(&k) => {
                let old = self.maps[k].inside;
                if self.by_inside.get(&old) == Some(&k) {
                    self.by_inside.remove(&old);
                }
                self.maps[k] = Mapping {
                    inside,
                    port,
                    last: now,
                };
                k
            }
            None => {
                self.maps.push(Mapping {
                    inside,
                    port,
                    last: now,
                });
                self.maps.len() - 1
            }
        };
        self.by_inside.insert(inside, k);
        self.by_port.insert(port, k);
        Some(port)
    }

    fn inbound(&mut self, now: SimTime, port: u16) -> Option<(IpAddr, u16)> {
        let &k = self.by_port.get(&port)?;
        if !self.alive(k, now) || self.by_inside.get(&self.maps[k].inside) != Some(&k) {
            return None;
        }
        self.maps[k].last = now;
        Some(self.maps[k].inside)
    }
}

impl Middlebox for Nat {
    fn name(&self) -> &str {
        &self.name
    }

    fn process(&mut self, ctx: &HookCtx, packet: &mut Packet) -> Verdict {
        if ctx.direction != Direction::Ingress {
            return Verdict::Pass;
        }
        let drop = |by: &str, why: String| {
            Verdict::Drop(DropReason::Middlebox {
                by: by.to_string(),
                why,
            })
        };
        if self.inside.binary_search(&ctx.link).is_ok() {
            let port = match &packet.transport {
                Transport::Udp { src_port, .. } => *src_port,
                // ESP without UDP has no port: map by address (port 0).
                _ => 0,
            };
            let Some(public_port) = self.outbound(ctx.now, (packet.src, port)) else {
                return drop(&self.name, "no free port".into());
            };
            if let Transport::Udp { src_port, .. } = &mut packet.transport {
                *src_port = public_port;
            }
            packet.src = self.public;
            Verdict::Pass
        } else if packet.dst == self.public {
            match &mut packet.transport {
                Transport::Udp { dst_port, .. } => match self.inbound(ctx.now, *dst_port) {
                    Some((ip, port)) => {
                        *dst_port = port;
                        packet.dst = ip;
                        Verdict::Pass
                    }
                    None => drop(
                        &self.name,
                        format!("no mapping for {}:{}", self.public, dst_port),
                    ),
                },
                _ => match self
                    .by_inside
                    .iter()
                    .find(|(k, _)| k.1 == 0)
                    .map(|(k, &m)| (k.0, m))
                    .filter(|(_, m)| self.alive(*m, ctx.now))
                {
                    Some((ip, _)) => {
                        packet.dst = ip;
                        Verdict::Pass
                    }
                    None => drop(&self.name, "no mapping for ESP".into()),
                },
            }
        } else {
            Verdict::Pass
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(now_s: u64, link: u32) -> HookCtx {
        HookCtx {
            now: SimTime::ZERO + Duration::from_secs(now_s),
            node: None,
            link: LinkId(link),
            direction: Direction::Ingress,
        }
    }

    fn out(nat: &mut Nat, now_s: u64, link: u32, src: &str) -> Option<u16> {
        let mut p = Packet::udp(
            src.parse().unwrap(),
            500,
            "203.0.113.1".parse().unwrap(),
            500,
            vec![],
        );
        match nat.process(&ctx(now_s, link), &mut p) {
            Verdict::Pass => match p.transport {
                Transport::Udp { src_port, .. } => Some(src_port),
                _ => None,
            },
            _ => None,
        }
    }

    #[test]
    fn inside_hosts_on_several_links_get_distinct_ports_and_expired_ports_are_reused() {
        let public: IpAddr = "198.51.100.1".parse().unwrap();
        let mut nat = Nat::new(
            "cgn",
            public,
            vec![LinkId(7), LinkId(3)],
            Duration::from_secs(30),
        );
        assert_eq!(out(&mut nat, 0, 3, "100.64.0.1"), Some(1024));
        assert_eq!(out(&mut nat, 1, 7, "100.64.0.2"), Some(1025));
        // The same inside endpoint keeps its port while the mapping lives.
        assert_eq!(out(&mut nat, 20, 3, "100.64.0.1"), Some(1024));
        // A packet from outside to the second mapping reaches the second host.
        let mut back = Packet::udp("203.0.113.1".parse().unwrap(), 500, public, 1025, vec![]);
        assert_eq!(nat.process(&ctx(21, 9), &mut back), Verdict::Pass);
        assert_eq!(back.dst, "100.64.0.2".parse::<IpAddr>().unwrap());
        // Not from an inside link: not translated.
        let mut p = Packet::udp(
            "192.0.2.9".parse().unwrap(),
            500,
            "203.0.113.1".parse().unwrap(),
            500,
            vec![],
        );
        assert_eq!(nat.process(&ctx(22, 9), &mut p), Verdict::Pass);
        assert_eq!(p.src, "192.0.2.9".parse::<IpAddr>().unwrap());
        // At the top of the range allocation wraps to 1024 and skips ports whose mappings
        // are alive: at 45 s, 1024 (last used at 20 s) and 1025 (21 s) still live.
        nat.next_port = u16::MAX;
        assert_eq!(out(&mut nat, 40, 3, "100.64.0.3"), Some(u16::MAX));
        assert_eq!(out(&mut nat, 45, 3, "100.64.0.4"), Some(1026));
        assert_eq!(out(&mut nat, 60, 3, "100.64.0.5"), Some(1027));
        // At 60 s the mapping on 1024 has expired: its port is reused.
        nat.next_port = 1024;
        assert_eq!(out(&mut nat, 60, 3, "100.64.0.6"), Some(1024));
        // The old owner of 1024 lost its mapping: a packet to it now reaches the new owner.
        let mut back = Packet::udp("203.0.113.1".parse().unwrap(), 500, public, 1024, vec![]);
        assert_eq!(nat.process(&ctx(61, 9), &mut back), Verdict::Pass);
        assert_eq!(back.dst, "100.64.0.6".parse::<IpAddr>().unwrap());
    }
}

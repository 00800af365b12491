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
    inside: LinkId,
    idle_timeout: Duration,
    next_port: u16,
    by_inside: BTreeMap<(IpAddr, u16), usize>,
    by_port: BTreeMap<u16, usize>,
    maps: Vec<Mapping>,
}

impl Nat {
    /// A NAT translating packets that arrive over `inside` to `public`.
    pub fn new(
        name: impl Into<String>,
        public: IpAddr,
        inside: LinkId,
        idle_timeout: Duration,
    ) -> Self {
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

    fn outbound(&mut self, now: SimTime, inside: (IpAddr, u16)) -> u16 {
        if let Some(&k) = self.by_inside.get(&inside)
            && self.alive(k, now)
        {
            self.maps[k].last = now;
            return self.maps[k].port;
        }
        // A new mapping (the old one, if any, timed out): a new port.
        let port = self.next_port;
        self.next_port = self.next_port.checked_add(1).unwrap_or(1024);
        self.maps.push(Mapping {
            inside,
            port,
            last: now,
        });
        let k = self.maps.len() - 1;
        self.by_inside.insert(inside, k);
        self.by_port.insert(port, k);
        port
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
        let name = self.name.clone();
        let drop = |why: String| Verdict::Drop(DropReason::Middlebox { by: name, why });
        if ctx.link == self.inside {
            match &mut packet.transport {
                Transport::Udp { src_port, .. } => {
                    let port = self.outbound(ctx.now, (packet.src, *src_port));
                    *src_port = port;
                }
                // ESP without UDP has no port: map by address (port 0).
                _ => {
                    self.outbound(ctx.now, (packet.src, 0));
                }
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
                    None => drop(format!("no mapping for {}:{}", self.public, dst_port)),
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
                    None => drop("no mapping for ESP".into()),
                },
            }
        } else {
            Verdict::Pass
        }
    }
}

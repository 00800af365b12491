//! The network: nodes with addresses and routes, one-way links between them, middlebox
//! hooks, and the optional capture of every packet that enters a link.
//!
//! The network does not run anything itself: [`Network::send`] decides a packet's fate on
//! its first link and schedules a [`NetEvent`] in the runner's [`Scheduler`];
//! [`Network::handle`] takes that event back when it is due and either delivers the packet,
//! forwards it over the next link, or drops it. Every drop is traced with its reason.
//! Hops through plain routers over fixed-delay links are taken without an event of their
//! own, and traced at their own time (a 10^5-tunnel hub-and-spoke run crosses four links
//! per message).

use std::io;
use std::net::IpAddr;

use smallvec::SmallVec;

use crate::dense_map::DenseMap;
use crate::link::{Link, LinkParams, LinkStats, TxOutcome};
use crate::middlebox::{Direction, HookCtx, Middlebox, Verdict};
use crate::output::AtomicFile;
use crate::packet::Packet;
use crate::pcap::PcapSink;
use crate::queue::Scheduler;
use crate::rng::RngStreams;
use crate::time::SimTime;
use crate::trace::{DropReason, DropSite, PacketInfo, Trace, TraceEvent, TraceNames};

mod static_path;

/// Index of a node in its [`Network`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// Index of a link in its [`Network`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u32);

/// The network's own event: a packet reaches the far end of a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetEvent {
    /// `packet` has crossed `link`.
    Arrive {
        /// The link crossed.
        link: LinkId,
        /// The packet.
        packet: Packet,
    },
}

/// A packet that reached the node owning its destination address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The receiving node.
    pub node: NodeId,
    /// The link it arrived on.
    pub link: LinkId,
    /// The packet, as rewritten by any middleboxes on the way.
    pub packet: Packet,
}

/// An address prefix routed over a link.
#[derive(Clone, Copy, Debug)]
struct PrefixRoute {
    prefix: IpAddr,
    len: u8,
    link: LinkId,
}

/// A node's host routes: a few inline (a site's ISP router has one, to its gateway), else a
/// table (the core's, one per site).
#[derive(Debug, Default)]
struct HostRoutes {
    few: SmallVec<[(IpAddr, LinkId); 1]>,
    many: Option<Box<ManyRoutes>>,
}

/// Many host routes: IPv4 addresses by their number in a [`DenseMap`] (a generated topology
/// numbers its sites one after another, so the core's route for each message is one read of
/// a vector), other addresses hashed.
#[derive(Debug, Default)]
struct ManyRoutes {
    v4: DenseMap<Option<LinkId>>,
    other: fnv::FnvHashMap<IpAddr, LinkId>,
}

impl ManyRoutes {
    fn insert(&mut self, dst: IpAddr, link: LinkId) {
        match dst {
            IpAddr::V4(a) => *self.v4.entry(u32::from(a)) = Some(link),
            IpAddr::V6(_) => {
                self.other.insert(dst, link);
            }
        }
    }

    #[inline]
    fn get(&self, dst: IpAddr) -> Option<LinkId> {
        match dst {
            IpAddr::V4(a) => self.v4.get(u32::from(a)).copied().flatten(),
            IpAddr::V6(_) => self.other.get(&dst).copied(),
        }
    }
}

impl HostRoutes {
    const FEW: usize = 8;

    fn insert(&mut self, dst: IpAddr, link: LinkId) {
        if let Some(m) = &mut self.many {
            m.insert(dst, link);
        } else if let Some(r) = self.few.iter_mut().find(|r| r.0 == dst) {
            r.1 = link;
        } else if self.few.len() < Self::FEW {
            self.few.push((dst, link));
        } else {
            let mut m = ManyRoutes::default();
            for (d, l) in self.few.drain(..) {
                m.insert(d, l);
            }
            m.insert(dst, link);
            self.many = Some(Box::new(m));
        }
    }

    #[inline]
    fn get(&self, dst: IpAddr) -> Option<LinkId> {
        match &self.many {
            Some(m) => m.get(dst),
            None => self.few.iter().find(|r| r.0 == dst).map(|r| r.1),
        }
    }
}

/// A node: a host, gateway, router, ISP box or NAT.
// What a packet passing through a router reads (flags, addresses, routes) comes first, in
// two cache lines from the start of one: a 10^5-site network has 2 * 10^5 such nodes, and
// a message passes through two of them that are likely out of cache.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct Node {
    /// Whether the node forwards packets not addressed to it (routers, NATs, ISPs).
    pub forwarding: bool,
    /// Whether the node has no middlebox (so a packet passing through sees none).
    plain: bool,
    /// Addresses the node accepts packets for (inline when one).
    pub addrs: SmallVec<[IpAddr; 1]>,
    host_routes: HostRoutes,
    prefix_routes: SmallVec<[PrefixRoute; 1]>,
    /// Unique name.
    pub name: String,
    out_links: Vec<LinkId>,
    middleboxes: Vec<Box<dyn Middlebox>>,
}

/// Why the network could not be built as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// A node or link name is used twice.
    #[error("duplicate name \"{0}\"")]
    DuplicateName(String),
    /// A node id does not exist.
    #[error("unknown node id {0}")]
    UnknownNode(u32),
    /// A link id does not exist, or does not leave the given node.
    #[error("link {link} does not leave node {node}")]
    BadRouteLink {
        /// The node.
        node: String,
        /// The link.
        link: String,
    },
    /// A prefix length is out of range for the address family.
    #[error("prefix length {0} is too long")]
    BadPrefix(u8),
}

/// Nodes, links and the optional capture of one run.
#[derive(Debug, Default)]
pub struct Network {
    nodes: Vec<Node>,
    links: Vec<Link>,
    next_packet_id: u64,
    capture: Option<Capture>,
    /// Middleboxes of the links that have any, by link (looked up, never iterated).
    link_hooks: fnv::FnvHashMap<LinkId, Vec<Box<dyn Middlebox>>>,
    /// Node and link names in use, so building 10^5-node networks stays linear. Only
    /// looked up, never iterated, so hashing order cannot leak into any output.
    node_names: std::collections::HashMap<String, NodeId, fnv::FnvBuildHasher>,
    link_names: std::collections::HashSet<String, fnv::FnvBuildHasher>,
    /// Whether hops that cannot depend on anything else are taken without an event
    /// (`express_hop`); on unless [`Network::set_hop_by_hop`] turned it off.
    hop_by_hop: bool,
}

struct Capture {
    sink: PcapSink<AtomicFile>,
    error: Option<io::Error>,
    /// Links captured; all when `None`.
    links: Option<Vec<LinkId>>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Capture({} packets)", self.sink.packets())
    }
}

fn prefix_matches(prefix: IpAddr, len: u8, addr: IpAddr) -> bool {
    match (prefix, addr) {
        (IpAddr::V4(p), IpAddr::V4(a)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(p) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(p), IpAddr::V6(a)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(p) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

impl Network {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes room for this many more nodes and links (a large generated topology).
    pub fn reserve(&mut self, nodes: usize, links: usize) {
        self.nodes.reserve(nodes);
        self.node_names.reserve(nodes);
        self.links.reserve(links);
        self.link_names.reserve(links);
    }

    /// Adds a node that accepts packets for `addrs`.
    pub fn add_node(
        &mut self,
        name: impl Into<String>,
        addrs: Vec<IpAddr>,
        forwarding: bool,
    ) -> Result<NodeId, NetworkError> {
        let name = name.into();
        if self.node_names.contains_key(&name) {
            return Err(NetworkError::DuplicateName(name));
        }
        let id = NodeId(self.nodes.len() as u32);
        self.node_names.insert(name.clone(), id);
        self.nodes.push(Node {
            name,
            addrs: addrs.into_iter().collect(),
            forwarding,
            plain: true,
            host_routes: HostRoutes::default(),
            prefix_routes: SmallVec::new(),
            out_links: Vec::new(),
            middleboxes: Vec::new(),
        });
        Ok(id)
    }

    /// Adds a one-way link from `from` to `to`. Its random streams are named after `name`,
    /// so adding a link never changes another link's random numbers.
    pub fn add_link(
        &mut self,
        name: impl Into<String>,
        from: NodeId,
        to: NodeId,
        params: LinkParams,
        streams: &RngStreams,
    ) -> Result<LinkId, NetworkError> {
        let name = name.into();
        for n in [from, to] {
            if n.0 as usize >= self.nodes.len() {
                return Err(NetworkError::UnknownNode(n.0));
            }
        }
        if !self.link_names.insert(name.clone()) {
            return Err(NetworkError::DuplicateName(name));
        }
        let id = LinkId(self.links.len() as u32);
        self.links.push(Link::new(name, from, to, params, streams));
        self.nodes[from.0 as usize].out_links.push(id);
        Ok(id)
    }

    /// Routes packets for `prefix/len` leaving `node` over `link` (longest prefix wins;
    /// `len` 0 is the default route; a full-length prefix is a host route).
    pub fn add_route(
        &mut self,
        node: NodeId,
        prefix: IpAddr,
        len: u8,
        link: LinkId,
    ) -> Result<(), NetworkError> {
        let max = if prefix.is_ipv4() { 32 } else { 128 };
        if len > max {
            return Err(NetworkError::BadPrefix(len));
        }
        let n = self
            .nodes
            .get(node.0 as usize)
            .ok_or(NetworkError::UnknownNode(node.0))?;
        match self.links.get(link.0 as usize) {
            Some(l) if l.from == node => {}
            _ => {
                return Err(NetworkError::BadRouteLink {
                    node: n.name.clone(),
                    link: format!("#{}", link.0),
                });
            }
        }
        let n = &mut self.nodes[node.0 as usize];
        if len == max {
            n.host_routes.insert(prefix, link);
        } else {
            n.prefix_routes.push(PrefixRoute { prefix, len, link });
            n.prefix_routes.sort_by_key(|r| std::cmp::Reverse(r.len));
        }
        Ok(())
    }

    /// Attaches a middlebox to a node: it sees every packet arriving at and leaving it.
    pub fn add_node_middlebox(&mut self, node: NodeId, mb: Box<dyn Middlebox>) {
        let n = &mut self.nodes[node.0 as usize];
        n.middleboxes.push(mb);
        n.plain = false;
    }

    /// Attaches a middlebox to a link: it sees every packet entering the link.
    pub fn add_link_middlebox(&mut self, link: LinkId, mb: Box<dyn Middlebox>) {
        self.link_hooks.entry(link).or_default().push(mb);
    }

    /// Starts capturing every packet accepted onto any link into the pcap file at `path`
    /// (time-stamped with the time the node hands it to the link).
    pub fn capture_to(&mut self, path: impl AsRef<std::path::Path>) -> io::Result<()> {
        self.capture = Some(Capture {
            sink: PcapSink::create(path)?,
            error: None,
            links: None,
        });
        Ok(())
    }

    /// Restricts the capture to packets entering `links` (e.g. only what leaves the
    /// gateways, as tcpdump on them would see it, instead of every hop).
    pub fn capture_only(&mut self, links: Vec<LinkId>) {
        if let Some(c) = &mut self.capture {
            c.links = Some(links);
        }
    }

    /// Takes every hop as an event of its own when `on` (off by default: hops through plain
    /// routers over fixed-delay links are taken when the packet is sent, which gives the
    /// same deliveries with fewer events). For comparing the two.
    pub fn set_hop_by_hop(&mut self, on: bool) {
        self.hop_by_hop = on;
    }

    /// Ids of the links leaving `node`.
    pub fn links_from(&self, node: NodeId) -> Vec<LinkId> {
        self.nodes[node.0 as usize].out_links.clone()
    }

    /// Completes the capture file, if any; reports the first write error of the run.
    pub fn finish_capture(&mut self) -> io::Result<u64> {
        match self.capture.take() {
            None => Ok(0),
            Some(Capture { error: Some(e), .. }) => Err(e),
            Some(Capture { sink, .. }) => {
                let n = sink.packets();
                sink.finish()?;
                Ok(n)
            }
        }
    }

    /// The node with id `id`.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }

    /// Starts loading the hot line of link `id` (see [`crate::cache_hint`]).
    #[inline]
    pub fn prefetch_link(&self, id: LinkId) {
        if let Some(l) = self.links.get(id.0 as usize) {
            crate::prefetch_first_line(l);
        }
    }

    /// The link with id `id`.
    pub fn link(&self, id: LinkId) -> &Link {
        &self.links[id.0 as usize]
    }

    /// Finds a node by name.
    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.node_names.get(name).copied()
    }

    /// Counters of every link, by id. A packet carried on without an event of its own
    /// (see `express_hop`) is counted on its later links when it is sent, so packets still
    /// in flight when a run stops may be counted on links they had not reached yet.
    pub fn link_stats(&self) -> impl Iterator<Item = (LinkId, &str, LinkStats)> {
        self.links
            .iter()
            .enumerate()
            .map(|(i, l)| (LinkId(i as u32), l.name.as_str(), l.stats))
    }

    /// Node and link names for printing trace records.
    pub fn names(&self) -> TraceNames {
        TraceNames {
            nodes: self.nodes.iter().map(|n| n.name.clone()).collect(),
            links: self.links.iter().map(|l| l.name.clone()).collect(),
        }
    }

    fn route(&self, node: NodeId, dst: IpAddr) -> Option<LinkId> {
        let n = &self.nodes[node.0 as usize];
        if let Some(l) = n.host_routes.get(dst) {
            return Some(l);
        }
        n.prefix_routes
            .iter()
            .find(|r| prefix_matches(r.prefix, r.len, dst))
            .map(|r| r.link)
    }

    /// Sends `packet` from `node`: gives it a run-unique id, routes it and offers it to the
    /// first link, and returns the id. The outcome is traced; arrivals are scheduled in `sched`.
    pub fn send<E: From<NetEvent>>(
        &mut self,
        sched: &mut Scheduler<E>,
        trace: &mut Trace,
        node: NodeId,
        mut packet: Packet,
    ) -> u64 {
        self.next_packet_id += 1;
        packet.id = self.next_packet_id;
        self.forward(sched, trace, node, packet);
        self.next_packet_id
    }

    /// Handles a due network event: the packet arrives at the link's far node, passes its
    /// ingress middleboxes, and is delivered there or forwarded on.
    pub fn handle<E: From<NetEvent>>(
        &mut self,
        sched: &mut Scheduler<E>,
        trace: &mut Trace,
        event: NetEvent,
    ) -> Option<Delivery> {
        let NetEvent::Arrive { link, mut packet } = event;
        let now = sched.now();
        let node = self.links[link.0 as usize].to;
        let ctx = HookCtx {
            now,
            node: Some(node),
            link,
            direction: Direction::Ingress,
        };
        let n = &mut self.nodes[node.0 as usize];
        if let Err(reason) = run_hooks(&mut n.middleboxes, &ctx, &mut packet) {
            drop_packet(trace, now, DropSite::Node(node), reason, &packet);
            return None;
        }
        if n.addrs.contains(&packet.dst) {
            trace.emit(now, || TraceEvent::PacketDelivered {
                node,
                packet: PacketInfo::from(&packet),
            });
            return Some(Delivery { node, link, packet });
        }
        if !n.forwarding {
            drop_packet(
                trace,
                now,
                DropSite::Node(node),
                DropReason::NoReceiver,
                &packet,
            );
            return None;
        }
        if packet.ttl <= 1 {
            drop_packet(
                trace,
                now,
                DropSite::Node(node),
                DropReason::TtlExceeded,
                &packet,
            );
            return None;
        }
        packet.ttl -= 1;
        self.forward(sched, trace, node, packet);
        None
    }

    /// Routes `packet` out of `node` and offers it to the chosen link.
    fn forward<E: From<NetEvent>>(
        &mut self,
        sched: &mut Scheduler<E>,
        trace: &mut Trace,
        node: NodeId,
        mut packet: Packet,
    ) {
        let now = sched.now();
        let Some(link) = self.route(node, packet.dst) else {
            drop_packet(
                trace,
                now,
                DropSite::Node(node),
                DropReason::NoRoute,
                &packet,
            );
            return;
        };
        let egress = HookCtx {
            now,
            node: Some(node),
            link,
            direction: Direction::Egress,
        };
        if let Err(reason) = run_hooks(
            &mut self.nodes[node.0 as usize].middleboxes,
            &egress,
            &mut packet,
        ) {
            drop_packet(trace, now, DropSite::Node(node), reason, &packet);
            return;
        }
        // IPv4 is fragmented to fit the link (by the sender, or by a router before a
        // smaller link); an IPv6 router cannot, and the link drops the packet as too big.
        let mtu = self.links[link.0 as usize].mtu() as usize;
        let origin = !self.nodes[node.0 as usize].forwarding;
        if packet.src.is_ipv4() || origin {
            let _ = packet.fragment_for(mtu);
        }
        let on_link = HookCtx {
            node: None,
            ..egress
        };
        if let Some(hooks) = self.link_hooks.get_mut(&link)
            && let Err(reason) = run_hooks(hooks, &on_link, &mut packet)
        {
            drop_packet(trace, now, DropSite::Link(link), reason, &packet);
            return;
        }
        match self.links[link.0 as usize].transmit(now, &packet) {
            TxOutcome::Dropped(reason) => {
                if reason != DropReason::QueueFull
                    && !matches!(reason, DropReason::ExceedsMtu { .. })
                {
                    // It was on the wire before it was lost: a capture at the sender sees it.
                    self.capture(now, link, &packet);
                }
                drop_packet(trace, now, DropSite::Link(link), reason, &packet);
            }
            TxOutcome::Deliver { at, duplicate_at } => {
                self.capture(now, link, &packet);
                trace.emit(now, || TraceEvent::PacketSent {
                    link,
                    packet: PacketInfo::from(&packet),
                });
                if let Some(dup) = duplicate_at {
                    sched.schedule_at(
                        dup,
                        NetEvent::Arrive {
                            link,
                            packet: packet.clone(),
                        }
                        .into(),
                    );
                }
                let (mut link, mut at) = (link, at);
                if duplicate_at.is_none() && !self.hop_by_hop {
                    while let Some(next) = self.express_hop(trace, link, at, &mut packet) {
                        (link, at) = next;
                    }
                }
                sched.schedule_at(at, NetEvent::Arrive { link, packet }.into());
            }
        }
    }

    /// Carries `packet`, due at the far end of `link` at `at`, straight on over the next
    /// link when that hop cannot depend on anything else that happens meanwhile: the node
    /// forwards it with no middlebox to consult, and the next link is a fixed delay (no
    /// queue, loss, jitter or duplication) with no hooks and no capture. Then the hop needs
    /// no event of its own; it returns the next link and the arrival at its far end.
    /// Outcomes are those of the hop-by-hop path, except that events due at the very same
    /// nanosecond may be taken in another order (the arrival is scheduled earlier), and link
    /// counters count a packet once it is committed to the link. The hop is traced at its
    /// own time (the trace keeps its records in time order), so tracing changes nothing.
    fn express_hop(
        &mut self,
        trace: &mut Trace,
        link: LinkId,
        at: SimTime,
        packet: &mut Packet,
    ) -> Option<(LinkId, SimTime)> {
        let node = self.links[link.0 as usize].to;
        let n = &self.nodes[node.0 as usize];
        if !n.forwarding || !n.plain || packet.ttl <= 1 || n.addrs.contains(&packet.dst) {
            return None;
        }
        let next = self.route(node, packet.dst)?;
        let l = &self.links[next.0 as usize];
        if !l.is_fixed_delay() || self.link_hooks.contains_key(&next) || self.captures(next) {
            return None;
        }
        let mtu = l.mtu() as usize;
        // As `forward` does at a router: IPv4 is fragmented to fit (the same again if the
        // hop-by-hop path takes over), IPv6 is not.
        if packet.src.is_ipv4() {
            let _ = packet.fragment_for(mtu);
        }
        if packet.largest_fragment() > mtu {
            // The link drops it; the hop-by-hop path traces and counts that.
            return None;
        }
        packet.ttl -= 1;
        match self.links[next.0 as usize].transmit(at, packet) {
            TxOutcome::Deliver {
                at: arrive,
                duplicate_at: None,
            } => {
                trace.emit(at, || TraceEvent::PacketSent {
                    link: next,
                    packet: PacketInfo::from(&*packet),
                });
                Some((next, arrive))
            }
            other => unreachable!("a fixed-delay link delivers once: {other:?}"),
        }
    }

    fn capture(&mut self, now: SimTime, link: LinkId, packet: &Packet) {
        if self.captures(link)
            && let Some(c) = &mut self.capture
            && c.error.is_none()
            && let Err(e) = c.sink.write(now, packet)
        {
            c.error = Some(e);
        }
    }

    /// Whether packets entering `link` go into the capture.
    fn captures(&self, link: LinkId) -> bool {
        self.capture
            .as_ref()
            .is_some_and(|c| c.links.as_ref().is_none_or(|only| only.contains(&link)))
    }
}

fn run_hooks(
    hooks: &mut [Box<dyn Middlebox>],
    ctx: &HookCtx,
    packet: &mut Packet,
) -> Result<(), DropReason> {
    for mb in hooks {
        if let Verdict::Drop(reason) = mb.process(ctx, packet) {
            return Err(reason);
        }
    }
    Ok(())
}

fn drop_packet(trace: &mut Trace, now: SimTime, site: DropSite, reason: DropReason, p: &Packet) {
    trace.emit(now, || TraceEvent::PacketDropped {
        site,
        reason,
        packet: PacketInfo::from(p),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(n))
    }

    /// Host routes past the inline few, as a hub-and-spoke core gets them (the hub's address
    /// first, then the sites' in order), with IPv6 beside them and an overwrite.
    #[test]
    fn many_host_routes_are_found_wherever_they_are_kept() {
        let mut r = HostRoutes::default();
        let (hub, base) = (v4(0xcb00_7101), 0x0a00_0001);
        r.insert(hub, LinkId(1));
        for k in 0..300u32 {
            r.insert(v4(base + k), LinkId(100 + k));
        }
        let six: IpAddr = "2001:db8::1".parse().unwrap();
        r.insert(six, LinkId(7_001));
        r.insert(v4(base + 5), LinkId(5_005));
        for k in 0..300u32 {
            let want = if k == 5 { 5_005 } else { 100 + k };
            assert_eq!(r.get(v4(base + k)), Some(LinkId(want)), "{k}");
        }
        assert_eq!(r.get(hub), Some(LinkId(1)));
        assert_eq!(r.get(six), Some(LinkId(7_001)));
        assert_eq!(r.get(v4(base - 1)), None);
        assert_eq!(r.get(v4(base + 300)), None);
        assert_eq!(r.get("2001:db8::2".parse().unwrap()), None);
    }
}

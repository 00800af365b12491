//! The trace: typed records of what happened in a run, in order.
//!
//! Text (`trace.log`), CSV and charts are views of these records. Every record also feeds a
//! run fingerprint, an FNV-1a hash over the ordered records (OMNeT++'s fingerprints), so a
//! regression test can pin a whole run in one number. With [`TraceLevel::Off`] nothing is
//! built or hashed: callers pass a closure that is never called.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::net::IpAddr;

use fnv::FnvHasher;

use crate::network::{LinkId, NodeId};
use crate::packet::{Packet, Transport};
use crate::time::SimTime;

/// How much a run records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum TraceLevel {
    /// Nothing: the fastest setting, for large sweeps.
    Off,
    /// Only the fingerprint hash; no records are kept.
    #[default]
    Fingerprint,
    /// Every record is kept (for `trace.log`, ladders and tests) and hashed.
    Full,
}

/// The addressing of a packet, without its payload: what a trace line needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketInfo {
    /// The packet's run-unique id.
    pub id: u64,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Ports or ESP.
    pub transport: Transport,
    /// Size at the IP layer.
    pub wire_len: u32,
    /// IPv4 fragments it travels in (1: whole).
    pub fragments: u16,
}

// Whole packets hash as before fragments were modelled, so fingerprints of runs without
// fragmentation did not change.
impl std::hash::Hash for PacketInfo {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.id.hash(h);
        self.src.hash(h);
        self.dst.hash(h);
        self.transport.hash(h);
        self.wire_len.hash(h);
        if self.fragments > 1 {
            self.fragments.hash(h);
        }
    }
}

impl From<&Packet> for PacketInfo {
    fn from(p: &Packet) -> Self {
        PacketInfo {
            id: p.id,
            src: p.src,
            dst: p.dst,
            transport: p.transport,
            wire_len: p.wire_len() as u32,
            fragments: p.fragments,
        }
    }
}

impl fmt::Display for PacketInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.transport {
            Transport::Udp { src_port, dst_port } => write!(
                f,
                "#{} {}:{} -> {}:{} UDP {}B",
                self.id, self.src, src_port, self.dst, dst_port, self.wire_len
            ),
            Transport::Esp => write!(
                f,
                "#{} {} -> {} ESP {}B",
                self.id, self.src, self.dst, self.wire_len
            ),
            Transport::Other(p) => write!(
                f,
                "#{} {} -> {} proto {} {}B",
                self.id, self.src, self.dst, p, self.wire_len
            ),
        }?;
        if self.fragments > 1 {
            write!(f, " in {} fragments", self.fragments)?;
        }
        Ok(())
    }
}

/// Why a packet was dropped. Every drop in the network has one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Independent (Bernoulli) loss on a link.
    RandomLoss,
    /// Loss in a Gilbert-Elliott burst (or its good state).
    BurstLoss,
    /// The link's transmit queue was full (drop-tail).
    QueueFull,
    /// Larger than the link's MTU.
    ExceedsMtu {
        /// The link's MTU in bytes.
        mtu: u32,
    },
    /// The node has no route to the destination.
    NoRoute,
    /// TTL / hop limit reached zero.
    TtlExceeded,
    /// A middlebox rule dropped it.
    Filtered {
        /// The middlebox's name.
        by: String,
        /// What matched, e.g. `udp/500 inbound`.
        rule: String,
    },
    /// Dropped by a middlebox for another reason (e.g. a NAT without a mapping).
    Middlebox {
        /// The middlebox's name.
        by: String,
        /// Why.
        why: String,
    },
    /// Arrived at a node that has no receiver for it.
    NoReceiver,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::RandomLoss => f.write_str("random loss"),
            DropReason::BurstLoss => f.write_str("burst loss"),
            DropReason::QueueFull => f.write_str("queue full"),
            DropReason::ExceedsMtu { mtu } => write!(f, "exceeds MTU {mtu}"),
            DropReason::NoRoute => f.write_str("no route"),
            DropReason::TtlExceeded => f.write_str("TTL exceeded"),
            DropReason::Filtered { by, rule } => write!(f, "filtered by {by} ({rule})"),
            DropReason::Middlebox { by, why } => write!(f, "dropped by {by}: {why}"),
            DropReason::NoReceiver => f.write_str("no receiver"),
        }
    }
}

/// Where a drop happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropSite {
    /// On a link (loss, queue, MTU, a link middlebox).
    Link(LinkId),
    /// At a node (routing, TTL, a node middlebox).
    Node(NodeId),
}

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TraceEvent {
    /// A packet was accepted onto a link.
    PacketSent {
        /// The link.
        link: LinkId,
        /// The packet.
        packet: PacketInfo,
    },
    /// A packet reached the node that owns its destination address.
    PacketDelivered {
        /// The receiving node.
        node: NodeId,
        /// The packet.
        packet: PacketInfo,
    },
    /// A packet was dropped.
    PacketDropped {
        /// Where.
        site: DropSite,
        /// Why.
        reason: DropReason,
        /// The packet.
        packet: PacketInfo,
    },
    /// A timer fired at a node (retransmission, rekey, DPD, ...).
    Timer {
        /// The node.
        node: NodeId,
        /// What the timer was for.
        name: String,
    },
    /// A protocol entity changed state (an SA, an exchange).
    StateChange {
        /// The node.
        node: NodeId,
        /// Which entity, e.g. `IKE_SA #1 1abc874e..`.
        entity: String,
        /// Old state name.
        from: String,
        /// New state name.
        to: String,
    },
    /// Anything else worth a line, with a category such as `sa`, `exchange`, `dpd`.
    Note {
        /// The node, if the note belongs to one.
        node: Option<NodeId>,
        /// A short category.
        category: String,
        /// The text.
        text: String,
    },
}

/// A trace event with its time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TraceRecord {
    /// When it happened.
    pub time: SimTime,
    /// What happened.
    pub event: TraceEvent,
}

/// Node and link names, so that records holding ids can be printed for people.
#[derive(Clone, Debug, Default)]
pub struct TraceNames {
    /// Node names, indexed by [`NodeId`].
    pub nodes: Vec<String>,
    /// Link names, indexed by [`LinkId`].
    pub links: Vec<String>,
}

impl TraceNames {
    fn node(&self, n: NodeId) -> &str {
        self.nodes.get(n.0 as usize).map_or("?", String::as_str)
    }
    fn link(&self, l: LinkId) -> &str {
        self.links.get(l.0 as usize).map_or("?", String::as_str)
    }

    /// One human-readable line for a record (no newline).
    pub fn line(&self, r: &TraceRecord) -> String {
        let t = r.time;
        match &r.event {
            TraceEvent::PacketSent { link, packet } => {
                format!("{t} {:<10} send    {packet}", self.link(*link))
            }
            TraceEvent::PacketDelivered { node, packet } => {
                format!("{t} {:<10} recv    {packet}", self.node(*node))
            }
            TraceEvent::PacketDropped {
                site,
                reason,
                packet,
            } => {
                let at = match site {
                    DropSite::Link(l) => self.link(*l),
                    DropSite::Node(n) => self.node(*n),
                };
                format!("{t} {at:<10} DROP    {packet}: {reason}")
            }
            TraceEvent::Timer { node, name } => {
                format!("{t} {:<10} timer   {name}", self.node(*node))
            }
            TraceEvent::StateChange {
                node,
                entity,
                from,
                to,
            } => format!(
                "{t} {:<10} state   {entity}: {from} -> {to}",
                self.node(*node)
            ),
            TraceEvent::Note {
                node,
                category,
                text,
            } => {
                let who = node.map_or("-", |n| self.node(n));
                format!("{t} {who:<10} {category:<7} {text}")
            }
        }
    }
}

/// The trace of one run.
pub struct Trace {
    level: TraceLevel,
    records: Vec<TraceRecord>,
    hasher: FnvHasher,
    count: u64,
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Trace({:?}, {} records)", self.level, self.count)
    }
}

impl Trace {
    /// An empty trace at `level`.
    pub fn new(level: TraceLevel) -> Self {
        Trace {
            level,
            records: Vec::new(),
            hasher: FnvHasher::default(),
            count: 0,
        }
    }

    /// The level the trace was created with.
    pub fn level(&self) -> TraceLevel {
        self.level
    }

    /// Whether records are being built at all; callers with expensive records check this.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.level != TraceLevel::Off
    }

    /// Records the event built by `make` at `time`; `make` is not called when tracing is off.
    #[inline]
    pub fn emit(&mut self, time: SimTime, make: impl FnOnce() -> TraceEvent) {
        if self.level == TraceLevel::Off {
            return;
        }
        self.push(TraceRecord {
            time,
            event: make(),
        });
    }

    fn push(&mut self, record: TraceRecord) {
        record.hash(&mut self.hasher);
        self.count += 1;
        if self.level == TraceLevel::Full {
            // A hop taken without an event of its own is recorded ahead of its time; it
            // goes after every record not later than it (few are: it is milliseconds ahead).
            let at = self
                .records
                .iter()
                .rposition(|r| r.time <= record.time)
                .map_or(0, |i| i + 1);
            self.records.insert(at, record);
        }
    }

    /// The records kept, in time order (records of the same time in the order emitted;
    /// empty unless the level is [`TraceLevel::Full`]).
    pub fn records(&self) -> &[TraceRecord] {
        &self.records
    }

    /// How many records were emitted (kept or only hashed).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The run fingerprint: FNV-1a over every record in order, as 16 hex digits. Equal
    /// inputs and binary give equal fingerprints; any change in what happened, or when,
    /// changes it. Zero records give the FNV offset basis.
    pub fn fingerprint(&self) -> String {
        format!("{:016x}", self.hasher.finish())
    }

    /// Writes every kept record as one text line.
    pub fn write_text(&self, names: &TraceNames, mut w: impl Write) -> io::Result<()> {
        for r in &self.records {
            writeln!(w, "{}", names.line(r))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(text: &str) -> TraceEvent {
        TraceEvent::Note {
            node: None,
            category: "test".into(),
            text: text.into(),
        }
    }

    #[test]
    fn fingerprint_depends_on_content_order_and_time() {
        let run = |items: &[(u64, &str)]| {
            let mut t = Trace::new(TraceLevel::Fingerprint);
            for (time, s) in items {
                t.emit(SimTime(*time), || note(s));
            }
            t.fingerprint()
        };
        let base = run(&[(1, "a"), (2, "b")]);
        assert_eq!(base, run(&[(1, "a"), (2, "b")]));
        assert_ne!(base, run(&[(1, "b"), (2, "a")]));
        assert_ne!(base, run(&[(1, "a"), (3, "b")]));
        assert_ne!(base, run(&[(1, "a"), (2, "c")]));
    }

    #[test]
    fn off_builds_nothing_and_full_keeps_records() {
        let mut off = Trace::new(TraceLevel::Off);
        off.emit(SimTime(1), || panic!("must not be built when off"));
        assert_eq!(off.count(), 0);
        let mut full = Trace::new(TraceLevel::Full);
        full.emit(SimTime(1), || note("x"));
        assert_eq!(full.records().len(), 1);
        let mut fp = Trace::new(TraceLevel::Fingerprint);
        fp.emit(SimTime(1), || note("x"));
        assert!(fp.records().is_empty());
        assert_eq!(fp.fingerprint(), full.fingerprint());
    }
}

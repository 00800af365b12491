//! Middleboxes: code that sees every packet passing a node or entering a link, and may
//! rewrite or drop it (ISP filters, NATs). [`PacketFilter`] is the simple filter: drop by
//! protocol, port and direction, the way an ISP blocks UDP 500/4500 or ESP.

use serde::{Deserialize, Serialize};

use crate::network::{LinkId, NodeId};
use crate::packet::{Packet, Transport};
use crate::time::SimTime;
use crate::trace::DropReason;

/// Which way a packet is going relative to the node whose hook sees it. A hook on a link
/// sees packets as they leave the link's sending node: [`Direction::Egress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// Arriving at the node over `link`.
    Ingress,
    /// Leaving the node over `link`.
    Egress,
}

/// Where a middlebox is looking at a packet.
#[derive(Clone, Copy, Debug)]
pub struct HookCtx {
    /// The current virtual time.
    pub now: SimTime,
    /// The node, for node hooks; `None` for link hooks.
    pub node: Option<NodeId>,
    /// The link the packet arrived on (ingress) or leaves on (egress).
    pub link: LinkId,
    /// Ingress or egress.
    pub direction: Direction,
}

/// What a middlebox decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let the (possibly rewritten) packet continue.
    Pass,
    /// Drop it, for this reason.
    Drop(DropReason),
}

/// Something that sees packets on a node or link.
pub trait Middlebox: std::fmt::Debug + Send + Sync {
    /// A name for traces and drop reasons.
    fn name(&self) -> &str;
    /// Looks at (and may rewrite) one packet.
    fn process(&mut self, ctx: &HookCtx, packet: &mut Packet) -> Verdict;
}

/// What a filter rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PacketMatch {
    /// Every packet.
    Any,
    /// UDP with this source or destination port; any UDP when `None`.
    Udp(Option<u16>),
    /// ESP directly over IP (protocol 50); UDP-encapsulated ESP is UDP/4500.
    Esp,
    /// Any packet of this IP protocol number.
    Protocol(u8),
    /// IP fragments (a packet split because it did not fit a link's MTU); many ISPs and
    /// firewalls drop them, which breaks IKE messages larger than the path MTU.
    Fragments,
}

impl PacketMatch {
    /// Whether `p` matches.
    pub fn matches(&self, p: &Packet) -> bool {
        match *self {
            PacketMatch::Any => true,
            PacketMatch::Udp(port) => match p.transport {
                Transport::Udp { src_port, dst_port } => {
                    port.is_none_or(|x| x == src_port || x == dst_port)
                }
                _ => false,
            },
            PacketMatch::Esp => p.transport == Transport::Esp,
            PacketMatch::Protocol(n) => p.transport.protocol() == n,
            PacketMatch::Fragments => p.fragments > 1,
        }
    }

    fn describe(&self) -> String {
        match self {
            PacketMatch::Any => "any".into(),
            PacketMatch::Udp(None) => "udp".into(),
            PacketMatch::Udp(Some(p)) => format!("udp/{p}"),
            PacketMatch::Esp => "esp".into(),
            PacketMatch::Protocol(n) => format!("proto/{n}"),
            PacketMatch::Fragments => "fragments".into(),
        }
    }
}

/// Which way a packet goes relative to the site an ISP filter sits in front of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Toward {
    /// From the Internet to the site's gateway.
    Site,
    /// From the site's gateway out to the Internet.
    Internet,
}

/// One drop rule of a [`PacketFilter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterRule {
    /// What to drop.
    pub what: PacketMatch,
    /// Only in this direction; both when `None`.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Only packets going this way relative to the site (one-way blocking); both when `None`.
    #[serde(default)]
    pub toward: Option<Toward>,
}

/// Drops packets matching any of its rules; passes the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketFilter {
    name: String,
    rules: Vec<FilterRule>,
    /// Packets dropped per rule, in rule order.
    pub drops: Vec<u64>,
    /// The link from the protected site into this node (for `toward` rules).
    inside: Option<LinkId>,
}

impl PacketFilter {
    /// A filter called `name` with `rules`.
    pub fn new(name: impl Into<String>, rules: Vec<FilterRule>) -> Self {
        let drops = vec![0; rules.len()];
        PacketFilter {
            name: name.into(),
            rules,
            drops,
            inside: None,
        }
    }

    /// The same filter, told which link comes from the site it protects.
    pub fn with_inside(mut self, link: LinkId) -> Self {
        self.inside = Some(link);
        self
    }
}

impl Middlebox for PacketFilter {
    fn name(&self) -> &str {
        &self.name
    }

    fn process(&mut self, ctx: &HookCtx, packet: &mut Packet) -> Verdict {
        // Seen at ingress: over the inside link it leaves the site, over any other it heads
        // for the site.
        let going = (ctx.direction == Direction::Ingress).then(|| {
            if Some(ctx.link) == self.inside {
                Toward::Internet
            } else {
                Toward::Site
            }
        });
        for (i, rule) in self.rules.iter().enumerate() {
            let way = rule.toward.is_none_or(|t| going == Some(t));
            if way && rule.direction.is_none_or(|d| d == ctx.direction) && rule.what.matches(packet)
            {
                self.drops[i] += 1;
                let dir = match (rule.direction, rule.toward) {
                    (_, Some(Toward::Site)) => " toward the site",
                    (_, Some(Toward::Internet)) => " from the site",
                    (None, None) => "",
                    (Some(Direction::Ingress), None) => " ingress",
                    (Some(Direction::Egress), None) => " egress",
                };
                return Verdict::Drop(DropReason::Filtered {
                    by: self.name.clone(),
                    rule: format!("{}{dir}", rule.what.describe()),
                });
            }
        }
        Verdict::Pass
    }
}

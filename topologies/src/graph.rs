//! A network described as a directed graph (petgraph): nodes with addresses and roles,
//! one-way links with the link model's parameters, middleboxes per node. Routing is computed
//! on the graph (fewest hops, ties broken by link order so it is deterministic) and the
//! whole thing is instantiated into a `sim_core::Network`.

use std::collections::VecDeque;
use std::net::IpAddr;

use petgraph::Direction;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use sim_core::link::LinkParams;
use sim_core::middlebox::{FilterRule, PacketFilter};
use sim_core::network::NetworkError;
use sim_core::{LinkId, Network, NodeId, RngStreams};

/// What a node is for; routers and ISPs forward, hosts and gateways do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// An IKE peer (VPN gateway or client).
    Gateway,
    /// A router inside a provider's network (where ISP filters sit).
    Isp,
    /// A plain router.
    Router,
    /// A host that only sends and receives.
    Host,
}

impl Role {
    /// Whether nodes of this role forward packets not addressed to them.
    pub fn forwards(self) -> bool {
        matches!(self, Role::Isp | Role::Router)
    }
}

/// A node of the graph.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// Unique name (also the name of its random streams and in traces).
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Addresses it owns.
    pub addrs: Vec<IpAddr>,
    /// Drop rules of a filter on this node (an ISP blocking traffic).
    pub filter: Vec<FilterRule>,
    /// The edge from the site this node's filter protects (for one-way rules).
    pub inside_edge: Option<usize>,
}

/// A topology: nodes and one-way links.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    /// The graph; edge weights are link parameters.
    pub graph: DiGraph<NodeSpec, LinkParams>,
    /// Routes given by the shape that built the graph. When `None`, routes are computed
    /// for every pair of nodes (fine for hand-written graphs; a generated shape with 10^5
    /// sites knows its default routes and needs only O(N) of them).
    pub routes: Option<Vec<RouteSpec>>,
}

/// A route a shape installs: packets for `prefix/len` leaving `node` take `edge`
/// (`len` 0 is the default route).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// The node the route belongs to.
    pub node: NodeIndex,
    /// The destination prefix.
    pub prefix: IpAddr,
    /// Its length in bits.
    pub len: u8,
    /// The link to take.
    pub edge: EdgeIndex,
}

/// Why a topology could not be built or instantiated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// A name was used twice, or a route was refused by the network.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// No node has this name.
    #[error("no node named \"{0}\"")]
    UnknownNode(String),
}

impl Topology {
    /// An empty topology.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node.
    pub fn node(&mut self, name: &str, role: Role, addrs: Vec<IpAddr>) -> NodeIndex {
        self.graph.add_node(NodeSpec {
            name: name.to_string(),
            role,
            addrs,
            filter: Vec::new(),
            inside_edge: None,
        })
    }

    /// Adds a pair of one-way links between `a` and `b`; returns (a->b, b->a).
    pub fn duplex(
        &mut self,
        a: NodeIndex,
        b: NodeIndex,
        ab: LinkParams,
        ba: LinkParams,
    ) -> (EdgeIndex, EdgeIndex) {
        (self.graph.add_edge(a, b, ab), self.graph.add_edge(b, a, ba))
    }

    /// Adds a route (see [`RouteSpec`]); the topology then uses only the routes its shape
    /// gave.
    pub fn route(&mut self, node: NodeIndex, prefix: IpAddr, len: u8, edge: EdgeIndex) {
        self.routes.get_or_insert_with(Vec::new).push(RouteSpec {
            node,
            prefix,
            len,
            edge,
        });
    }

    /// A default route (0.0.0.0/0 and ::/0) from `node` over `edge`.
    pub fn default_route(&mut self, node: NodeIndex, edge: EdgeIndex) {
        self.route(node, IpAddr::from([0u8; 4]), 0, edge);
        self.route(node, IpAddr::from([0u16; 8]), 0, edge);
    }

    /// The node called `name`.
    pub fn find(&self, name: &str) -> Result<NodeIndex, TopologyError> {
        self.graph
            .node_indices()
            .find(|&i| self.graph[i].name == name)
            .ok_or_else(|| TopologyError::UnknownNode(name.to_string()))
    }

    /// For every (node, destination node) pair, the first link on a fewest-hops path.
    /// Breadth-first from each destination over incoming links; among equal paths the link
    /// added first wins.
    pub fn next_hops(&self) -> Vec<Vec<Option<EdgeIndex>>> {
        let n = self.graph.node_count();
        let mut table = vec![vec![None; n]; n];
        for dst in self.graph.node_indices() {
            let mut dist = vec![usize::MAX; n];
            dist[dst.index()] = 0;
            let mut queue = VecDeque::from([dst]);
            while let Some(v) = queue.pop_front() {
                let mut incoming: Vec<_> =
                    self.graph.edges_directed(v, Direction::Incoming).collect();
                incoming.sort_by_key(|e| e.id());
                for e in incoming {
                    let u = e.source();
                    // Only forwarding nodes carry traffic for others.
                    if v != dst && !self.graph[v].role.forwards() {
                        continue;
                    }
                    if dist[u.index()] == usize::MAX {
                        dist[u.index()] = dist[v.index()] + 1;
                        table[u.index()][dst.index()] = Some(e.id());
                        queue.push_back(u);
                    }
                }
            }
        }
        table
    }

    /// Builds the simulated network: nodes in graph order, links named `from->to`, host
    /// routes for every address a node can reach, and a filter on every node that has rules.
    pub fn instantiate(&self, streams: &RngStreams) -> Result<Built, TopologyError> {
        let mut net = Network::new();
        net.reserve(self.graph.node_count(), self.graph.edge_count());
        let mut nodes = Vec::with_capacity(self.graph.node_count());
        for i in self.graph.node_indices() {
            let s = &self.graph[i];
            nodes.push(net.add_node(&s.name, s.addrs.clone(), s.role.forwards())?);
        }
        let mut links = Vec::with_capacity(self.graph.edge_count());
        for e in self.graph.edge_references() {
            let name = format!(
                "{}->{}",
                self.graph[e.source()].name,
                self.graph[e.target()].name
            );
            links.push(net.add_link(
                name,
                nodes[e.source().index()],
                nodes[e.target().index()],
                e.weight().clone(),
                streams,
            )?);
        }
        for i in self.graph.node_indices() {
            let s = &self.graph[i];
            if !s.filter.is_empty() {
                let mut f = PacketFilter::new(format!("{}-filter", s.name), s.filter.clone());
                if let Some(e) = s.inside_edge {
                    f = f.with_inside(links[e]);
                }
                net.add_node_middlebox(nodes[i.index()], Box::new(f));
            }
        }
        if let Some(routes) = &self.routes {
            for r in routes {
                net.add_route(
                    nodes[r.node.index()],
                    r.prefix,
                    r.len,
                    links[r.edge.index()],
                )?;
            }
        } else {
            for (u, row) in self.next_hops().iter().enumerate() {
                for (d, hop) in row.iter().enumerate() {
                    let Some(edge) = hop else { continue };
                    for addr in &self.graph[NodeIndex::new(d)].addrs {
                        let len = if addr.is_ipv4() { 32 } else { 128 };
                        net.add_route(nodes[u], *addr, len, links[edge.index()])?;
                    }
                }
            }
        }
        Ok(Built { net, nodes, links })
    }
}

/// A topology turned into a network, with the ids of its nodes and links by graph index.
#[derive(Debug)]
pub struct Built {
    /// The network.
    pub net: Network,
    /// `nodes[i]` is the network id of graph node `i`.
    pub nodes: Vec<NodeId>,
    /// `links[e]` is the network id of graph edge `e`.
    pub links: Vec<LinkId>,
}

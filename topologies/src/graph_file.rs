//! Hand-written topologies (a RON file or inline in a scenario): nodes with roles,
//! addresses and ISP filter rules, and duplex links between them. Routes are the fewest-hop
//! paths of [`Topology::next_hops`]; an IKE peer of the scenario runs on the node of the
//! same name.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use sim_core::link::LinkParams;
use sim_core::middlebox::FilterRule;

use crate::graph::{Role, Topology, TopologyError};

/// A topology as written in a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSpec {
    /// The nodes.
    pub nodes: Vec<GraphNode>,
    /// Duplex links.
    pub links: Vec<GraphLink>,
}

/// A node of a [`GraphSpec`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphNode {
    /// Unique name; an IKE peer with this name runs here.
    pub name: String,
    /// What it is (`Gateway`, `Isp`, `Router`, `Host`); routers and ISPs forward.
    #[serde(default = "default_role")]
    pub role: Role,
    /// Addresses it owns (a peer's address is added to its node when missing).
    #[serde(default)]
    pub addrs: Vec<IpAddr>,
    /// Drop rules of a filter on this node.
    #[serde(default)]
    pub filter: Vec<FilterRule>,
    /// For `toward` rules: the neighbour on the protected site's side.
    #[serde(default)]
    pub inside: Option<String>,
}

fn default_role() -> Role {
    Role::Router
}

/// A duplex link of a [`GraphSpec`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphLink {
    /// One end.
    pub a: String,
    /// The other end.
    pub b: String,
    /// From `a` to `b`.
    #[serde(default)]
    pub params: LinkParams,
    /// From `b` to `a`; the same as `params` when left out.
    #[serde(default)]
    pub back: Option<LinkParams>,
}

impl GraphSpec {
    /// Builds the topology; `peers` maps peer names to their addresses, which are added to
    /// their nodes when the file did not list them.
    pub fn build(&self, peers: &BTreeMap<String, IpAddr>) -> Result<Topology, TopologyError> {
        let mut t = Topology::new();
        let mut index = BTreeMap::new();
        for n in &self.nodes {
            let mut addrs = n.addrs.clone();
            if let Some(a) = peers.get(&n.name)
                && !addrs.contains(a)
            {
                addrs.push(*a);
            }
            let i = t.node(&n.name, n.role, addrs);
            t.graph[i].filter = n.filter.clone();
            if index.insert(n.name.clone(), i).is_some() {
                return Err(TopologyError::Network(
                    sim_core::network::NetworkError::DuplicateName(n.name.clone()),
                ));
            }
        }
        if let Some(p) = peers.keys().find(|p| !index.contains_key(*p)) {
            return Err(TopologyError::UnknownNode(p.clone()));
        }
        let find = |name: &str| {
            index
                .get(name)
                .copied()
                .ok_or_else(|| TopologyError::UnknownNode(name.to_string()))
        };
        for l in &self.links {
            let (a, b) = (find(&l.a)?, find(&l.b)?);
            let back = l.back.clone().unwrap_or_else(|| l.params.clone());
            t.duplex(a, b, l.params.clone(), back);
        }
        for n in &self.nodes {
            if let Some(inside) = &n.inside {
                let (me, nb) = (find(&n.name)?, find(inside)?);
                let e = t.graph.find_edge(nb, me).ok_or_else(|| {
                    TopologyError::UnknownNode(format!("{inside} (linked to {})", n.name))
                })?;
                t.graph[me].inside_edge = Some(e.index());
            }
        }
        Ok(t)
    }
}

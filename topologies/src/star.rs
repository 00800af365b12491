//! Sites around an Internet core: each site is `gateway — isp — core`, so any two sites
//! talk over two WAN links (theirs and the other's). Hub-and-spoke (a concentrator and N
//! branches) and full mesh (N sites, a tunnel between every pair) are both this network;
//! they differ in their tunnels, which the scenario decides, and in which site carries the
//! concentrator's link parameters.
//!
//! Routes are given, not computed: a gateway has a default route to its ISP, an ISP a host
//! route to its gateway and a default route to the core, and the core one host route per
//! site. That is O(N) routes and builds 10^5 sites in well under a second.

use std::net::IpAddr;

use petgraph::graph::{EdgeIndex, NodeIndex};
use sim_core::link::LinkParams;

use crate::graph::{Role, Topology};
use crate::two_site::{Site, access_link};

/// One site on the star and the two directions of its WAN link.
#[derive(Clone, Debug)]
pub struct StarSite {
    /// The gateway, its address, its ISP's filter and NAT address.
    pub site: Site,
    /// ISP to core (the site's upload direction).
    pub up: LinkParams,
    /// Core to ISP.
    pub down: LinkParams,
}

/// Where a site ended up in the graph, for attaching middleboxes and captures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    /// The gateway node.
    pub gateway: NodeIndex,
    /// Its ISP router (where its filter and NAT sit).
    pub isp: NodeIndex,
    /// The access link from the gateway into the ISP router (a NAT's inside).
    pub access_up: EdgeIndex,
}

/// A built shape: the topology and where each site is, in the order given.
#[derive(Clone, Debug)]
pub struct Shaped {
    /// The network.
    pub topology: Topology,
    /// One entry per site, in input order.
    pub sites: Vec<Placed>,
}

/// Adds one site (`gateway — isp-<gateway>`) to `t` and connects its ISP to `upstream`
/// with the given WAN parameters; installs the site's routes and the upstream's route to
/// the site's addresses.
pub(crate) fn attach_site(
    t: &mut Topology,
    upstream: NodeIndex,
    s: &StarSite,
) -> (Placed, EdgeIndex) {
    let gw = t.node(&s.site.name, Role::Gateway, vec![s.site.addr]);
    let isp = t.node(
        &format!("isp-{}", s.site.name),
        Role::Isp,
        s.site.nat_public.into_iter().collect(),
    );
    t.graph[isp].filter = s.site.isp_filter.clone();
    let (access_up, access_down) = t.duplex(gw, isp, access_link(), access_link());
    t.graph[isp].inside_edge = Some(access_up.index());
    let (wan_up, wan_down) = t.duplex(isp, upstream, s.up.clone(), s.down.clone());
    t.default_route(gw, access_up);
    t.route(isp, s.site.addr, host_len(s.site.addr), access_down);
    t.default_route(isp, wan_up);
    for a in std::iter::once(s.site.addr).chain(s.site.nat_public) {
        t.route(upstream, a, host_len(a), wan_down);
    }
    (
        Placed {
            gateway: gw,
            isp,
            access_up,
        },
        wan_down,
    )
}

/// The prefix length of a host route for `a`.
pub(crate) fn host_len(a: IpAddr) -> u8 {
    if a.is_ipv4() { 32 } else { 128 }
}

/// Builds the star: a core router called `core` and every site attached to it.
pub fn star(sites: &[StarSite]) -> Shaped {
    let mut t = Topology::new();
    t.graph.reserve_nodes(2 * sites.len() + 1);
    t.graph.reserve_edges(4 * sites.len());
    t.routes = Some(Vec::with_capacity(6 * sites.len()));
    let core = t.node("core", Role::Router, Vec::new());
    let placed = sites
        .iter()
        .map(|s| attach_site(&mut t, core, s).0)
        .collect();
    Shaped {
        topology: t,
        sites: placed,
    }
}

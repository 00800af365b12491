//! Two sites across the Internet: `gw-a — isp-a — isp-b — gw-b`. The WAN between the two
//! ISPs carries the path's delay, jitter and loss; the access links are fast and clean. An
//! ISP's filter sees every packet to and from its customer, as a real provider's does.

use std::net::IpAddr;

use sim_core::Duration;
use sim_core::link::LinkParams;
use sim_core::middlebox::FilterRule;

use crate::graph::{Role, Topology};

/// One site: the gateway's name and address, and what its ISP blocks.
#[derive(Clone, Debug)]
pub struct Site {
    /// The gateway's node name.
    pub name: String,
    /// Its address.
    pub addr: IpAddr,
    /// Rules of its ISP's filter (directions are seen from the ISP router).
    pub isp_filter: Vec<FilterRule>,
    /// The public address of a NAT at its ISP router, if the site is behind one (the runner
    /// attaches the NAT; the router owns the address so routes lead there).
    pub nat_public: Option<IpAddr>,
}

/// The access link between a gateway and its ISP: 100 µs, lossless, unlimited rate.
pub fn access_link() -> LinkParams {
    LinkParams {
        delay: Duration::from_micros(100),
        ..LinkParams::default()
    }
}

/// Builds the two-site topology; `wan_ab` and `wan_ba` are the two directions of the path
/// between the ISPs.
pub fn two_site(a: &Site, b: &Site, wan_ab: LinkParams, wan_ba: LinkParams) -> Topology {
    let mut t = Topology::new();
    let ga = t.node(&a.name, Role::Gateway, vec![a.addr]);
    let ia = t.node(
        &format!("isp-{}", a.name),
        Role::Isp,
        a.nat_public.into_iter().collect(),
    );
    let ib = t.node(
        &format!("isp-{}", b.name),
        Role::Isp,
        b.nat_public.into_iter().collect(),
    );
    let gb = t.node(&b.name, Role::Gateway, vec![b.addr]);
    t.graph[ia].filter = a.isp_filter.clone();
    t.graph[ib].filter = b.isp_filter.clone();
    t.duplex(ga, ia, access_link(), access_link());
    t.duplex(ia, ib, wan_ab, wan_ba);
    t.duplex(ib, gb, access_link(), access_link());
    // Edges in order: 0 gw-a->isp-a, 1 back, 2 isp-a->isp-b, 3 back, 4 isp-b->gw-b, 5 back.
    t.graph[ia].inside_edge = Some(0);
    t.graph[ib].inside_edge = Some(5);
    t
}

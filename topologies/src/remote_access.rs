//! Remote access: many clients, each on its own last-mile link, behind one carrier-grade
//! NAT (`client — cgn — core`), and the VPN gateway as an ordinary site on the core
//! (`gateway — isp — core`). The CGN router owns the public address; the runner puts the NAT
//! on it with every client link as its inside.

use petgraph::graph::{EdgeIndex, NodeIndex};
use sim_core::link::LinkParams;
use std::net::IpAddr;

use crate::graph::{Role, Topology};
use crate::star::{Placed, StarSite, attach_site, host_len};

/// One remote-access client.
#[derive(Clone, Debug)]
pub struct Client {
    /// Node name.
    pub name: String,
    /// Its (private) address.
    pub addr: IpAddr,
}

/// The built network and where things are.
#[derive(Clone, Debug)]
pub struct RemoteAccess {
    /// The network.
    pub topology: Topology,
    /// The gateway's site.
    pub gateway: Placed,
    /// The client nodes, in input order.
    pub clients: Vec<NodeIndex>,
    /// The CGN router.
    pub cgn: NodeIndex,
    /// The links from the clients into the CGN (the NAT's inside), in input order.
    pub cgn_inside: Vec<EdgeIndex>,
}

/// Builds the remote-access network. `up`/`down` are each client's last mile (client to
/// CGN and back); the CGN's link to the core is clean (1 ms).
pub fn remote_access(
    gateway: &StarSite,
    cgn_public: IpAddr,
    clients: &[Client],
    up: &LinkParams,
    down: &LinkParams,
) -> RemoteAccess {
    let mut t = Topology::new();
    let core = t.node("core", Role::Router, Vec::new());
    let (gw, _) = attach_site(&mut t, core, gateway);
    let cgn = t.node("cgn", Role::Isp, vec![cgn_public]);
    let backbone = LinkParams {
        delay: sim_core::Duration::from_millis(1),
        ..LinkParams::default()
    };
    let (cgn_up, cgn_down) = t.duplex(cgn, core, backbone.clone(), backbone);
    t.default_route(cgn, cgn_up);
    t.route(core, cgn_public, host_len(cgn_public), cgn_down);
    let mut nodes = Vec::with_capacity(clients.len());
    let mut inside = Vec::with_capacity(clients.len());
    for c in clients {
        let n = t.node(&c.name, Role::Gateway, vec![c.addr]);
        let (cu, cd) = t.duplex(n, cgn, up.clone(), down.clone());
        t.default_route(n, cu);
        t.route(cgn, c.addr, host_len(c.addr), cd);
        nodes.push(n);
        inside.push(cu);
    }
    RemoteAccess {
        topology: t,
        gateway: gw,
        clients: nodes,
        cgn,
        cgn_inside: inside,
    }
}

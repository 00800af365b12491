//! From a scenario's `network` to a simulated network: the shape's topology, each peer's
//! node, the NATs on their routers, and names for the addresses messages go to.

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::{Result, bail};
use sim_core::link::LinkParams;
use sim_core::nat::Nat;
use sim_core::{Duration, NodeId, RngStreams};
use topologies::{Built, Client, Placed, Site, StarSite, remote_access, star, two_site};

use crate::scenario::Scenario;
use crate::scenario::model::{NatSpec, Shape};

/// The network of a run and where the peers are on it.
pub struct BuiltNet {
    /// The network and its ids.
    pub built: Built,
    /// The node of each peer, in the order of the scenario's peer names.
    pub peer_nodes: Vec<NodeId>,
    /// Who an address belongs to, for messages.csv: peers, and the public address of a NAT
    /// in front of one peer; a carrier-grade NAT is `cgn`.
    pub addr_names: BTreeMap<IpAddr, String>,
}

fn site(s: &Scenario, n: &str) -> Site {
    Site {
        name: n.to_string(),
        addr: s.peers[n].address,
        isp_filter: s.network.filters.get(n).cloned().unwrap_or_default(),
        nat_public: s.network.nat.get(n).map(|x| x.public),
    }
}

/// The link of a hub or a remote-access gateway to the core when the scenario gives none:
/// 1 ms, lossless (a data centre's upstream).
fn datacentre_link() -> LinkParams {
    LinkParams {
        delay: Duration::from_millis(1),
        ..LinkParams::default()
    }
}

fn nat_box(name: &str, spec: &NatSpec, inside: Vec<sim_core::LinkId>) -> Box<Nat> {
    Box::new(Nat::new(
        format!("nat-{name}"),
        spec.public,
        inside,
        spec.idle_timeout,
    ))
}

/// Builds the network of (expanded) scenario `s`.
pub fn build(s: &Scenario, streams: &RngStreams) -> Result<BuiltNet> {
    let names: Vec<&String> = s.peers.keys().collect();
    let forward = s.network.forward.clone();
    let reverse = s.network.reverse.clone().unwrap_or_else(|| forward.clone());
    let mut addr_names: BTreeMap<IpAddr, String> = s
        .peers
        .iter()
        .map(|(n, p)| (p.address, n.clone()))
        .collect();
    for (n, nat) in &s.network.nat {
        addr_names.insert(nat.public, n.clone());
    }
    let star_site = |n: &str, up: LinkParams, down: LinkParams| StarSite {
        site: site(s, n),
        up,
        down,
    };
    let (built, graph_of_peer): (Built, Vec<usize>) = match &s.network.shape {
        Shape::TwoSite => {
            let topo = two_site(&site(s, names[0]), &site(s, names[1]), forward, reverse);
            let mut built = topo.instantiate(streams)?;
            // two_site's order: nodes gw-a, isp-a, isp-b, gw-b; edges 0 gw-a->isp-a and
            // 5 gw-b->isp-b are the access links into the ISPs.
            let placed = [
                (
                    names[0].clone(),
                    Placed {
                        gateway: 0.into(),
                        isp: 1.into(),
                        access_up: 0.into(),
                    },
                ),
                (
                    names[1].clone(),
                    Placed {
                        gateway: 3.into(),
                        isp: 2.into(),
                        access_up: 5.into(),
                    },
                ),
            ];
            attach_nats(s, &mut built, &placed);
            (built, vec![0, 3])
        }
        Shape::HubAndSpoke { hub, hub_link, .. } => {
            let hl = hub_link.clone().unwrap_or_else(datacentre_link);
            let order: Vec<&String> = std::iter::once(hub)
                .chain(names.iter().copied().filter(|n| *n != hub))
                .collect();
            let sites: Vec<StarSite> = order
                .iter()
                .map(|n| {
                    if *n == hub {
                        star_site(n, hl.clone(), hl.clone())
                    } else {
                        star_site(n, forward.clone(), reverse.clone())
                    }
                })
                .collect();
            place_star(s, &order, &sites, streams)?
        }
        Shape::FullMesh { .. } => {
            let sites: Vec<StarSite> = names
                .iter()
                .map(|n| star_site(n, forward.clone(), reverse.clone()))
                .collect();
            place_star(s, &names, &sites, streams)?
        }
        Shape::RemoteAccess {
            gateway,
            cgn,
            gateway_link,
            ..
        } => {
            let gl = gateway_link.clone().unwrap_or_else(datacentre_link);
            let gw = star_site(gateway, gl.clone(), gl);
            let clients: Vec<Client> = names
                .iter()
                .filter(|n| **n != gateway)
                .map(|n| Client {
                    name: (*n).clone(),
                    addr: s.peers[*n].address,
                })
                .collect();
            let ra = remote_access(&gw, cgn.public, &clients, &forward, &reverse);
            let mut built = ra.topology.instantiate(streams)?;
            attach_nats(s, &mut built, &[(gateway.clone(), ra.gateway)]);
            let inside = ra
                .cgn_inside
                .iter()
                .map(|e| built.links[e.index()])
                .collect();
            built
                .net
                .add_node_middlebox(built.nodes[ra.cgn.index()], nat_box("cgn", cgn, inside));
            addr_names.insert(cgn.public, "cgn".into());
            let mut clients_iter = ra.clients.iter();
            let nodes = names
                .iter()
                .map(|n| {
                    if *n == gateway {
                        ra.gateway.gateway.index()
                    } else {
                        clients_iter.next().expect("one per client").index()
                    }
                })
                .collect();
            (built, nodes)
        }
        Shape::Graph(g) => {
            let addrs = s
                .peers
                .iter()
                .map(|(n, p)| (n.clone(), p.address))
                .collect();
            let topo = g.build(&addrs)?;
            let built = topo.instantiate(streams)?;
            let nodes = names
                .iter()
                .map(|n| topo.find(n).map(|i| i.index()))
                .collect::<Result<Vec<_>, _>>()?;
            (built, nodes)
        }
        Shape::File(f) => bail!(
            "the topology file {f} is read when the scenario is loaded (load_scenario); \
             this scenario was built another way"
        ),
    };
    let peer_nodes = graph_of_peer.iter().map(|&i| built.nodes[i]).collect();
    Ok(BuiltNet {
        built,
        peer_nodes,
        addr_names,
    })
}

/// Puts the NAT a scenario asks for in front of each placed site, on its ISP router.
fn attach_nats(s: &Scenario, built: &mut Built, placed: &[(String, Placed)]) {
    for (n, p) in placed {
        if let Some(nat) = s.network.nat.get(n) {
            let inside = vec![built.links[p.access_up.index()]];
            built
                .net
                .add_node_middlebox(built.nodes[p.isp.index()], nat_box(n, nat, inside));
        }
    }
}

/// Builds a star with the sites in `order` and returns each peer's graph node in the
/// scenario's name order.
fn place_star(
    s: &Scenario,
    order: &[&String],
    sites: &[StarSite],
    streams: &RngStreams,
) -> Result<(Built, Vec<usize>)> {
    let shaped = star(sites);
    let mut built = shaped.topology.instantiate(streams)?;
    let placed: Vec<(String, Placed)> = order
        .iter()
        .map(|n| (*n).clone())
        .zip(shaped.sites.iter().copied())
        .collect();
    attach_nats(s, &mut built, &placed);
    let by_name: BTreeMap<&str, usize> = placed
        .iter()
        .map(|(n, p)| (n.as_str(), p.gateway.index()))
        .collect();
    let nodes = s.peers.keys().map(|n| by_name[n.as_str()]).collect();
    Ok((built, nodes))
}

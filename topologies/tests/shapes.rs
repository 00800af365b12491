//! The built-in shapes route end to end with the delays they promise, a carrier-grade NAT
//! rewrites every client to its public address, hand-written graphs route on fewest hops,
//! and a large star has exactly the nodes, links and O(N) routes it should.

use std::net::IpAddr;

use sim_core::link::LinkParams;
use sim_core::nat::Nat;
use sim_core::{Duration, NetEvent, Packet, RngStreams, Scheduler, SimTime, Trace, TraceLevel};
use topologies::{Built, Client, GraphSpec, Site, StarSite, remote_access, star};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> LinkParams {
    LinkParams {
        delay: Duration::from_millis(n),
        ..LinkParams::default()
    }
}

fn star_site(name: &str, addr: &str, wan_ms: u64) -> StarSite {
    StarSite {
        site: Site {
            name: name.into(),
            addr: ip(addr),
            isp_filter: vec![],
            nat_public: None,
        },
        up: ms(wan_ms),
        down: ms(wan_ms),
    }
}

/// Sends `pkt` from `from` and runs the network dry: (arrival time, node name, packet).
fn deliver(built: &mut Built, from: usize, pkt: Packet) -> Vec<(SimTime, String, Packet)> {
    let mut sched: Scheduler<NetEvent> = Scheduler::new();
    let mut trace = Trace::new(TraceLevel::Full);
    let node = built.nodes[from];
    built.net.send(&mut sched, &mut trace, node, pkt);
    let mut got = Vec::new();
    while let Some((t, e)) = sched.pop() {
        if let Some(d) = built.net.handle(&mut sched, &mut trace, e) {
            got.push((t, built.net.node(d.node).name.clone(), d.packet));
        }
    }
    got
}

#[test]
fn hub_and_spoke_branches_reach_the_hub_and_each_other_through_the_core() {
    let sites = [
        star_site("hub", "203.0.113.1", 1),
        star_site("branch-1", "198.18.0.1", 20),
        star_site("branch-2", "198.18.0.2", 30),
    ];
    let shaped = star(&sites);
    // core + (gateway, isp) per site; two links each way per site.
    assert_eq!(shaped.topology.graph.node_count(), 7);
    assert_eq!(shaped.topology.graph.edge_count(), 12);
    let mut built = shaped.topology.instantiate(&RngStreams::new(1)).unwrap();
    let b1 = shaped.sites[1].gateway.index();
    let got = deliver(
        &mut built,
        b1,
        Packet::udp(ip("198.18.0.1"), 500, ip("203.0.113.1"), 500, vec![0; 50]),
    );
    // 0.1 ms access + 20 ms branch WAN + 1 ms hub WAN + 0.1 ms access.
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0, got[0].1.as_str()), (SimTime(21_200_000), "hub"));
    let got = deliver(
        &mut built,
        b1,
        Packet::udp(ip("198.18.0.1"), 500, ip("198.18.0.2"), 500, vec![0; 50]),
    );
    assert_eq!(
        (got[0].0, got[0].1.as_str()),
        (SimTime(50_200_000), "branch-2")
    );
}

#[test]
fn a_star_of_ten_thousand_sites_has_linear_size_and_routes() {
    let n = 10_000u32;
    let sites: Vec<StarSite> = (0..n)
        .map(|k| {
            let a = u32::from(std::net::Ipv4Addr::new(198, 18, 0, 1)) + k;
            star_site(
                &format!("branch-{k:05}"),
                &IpAddr::from(a.to_be_bytes()).to_string(),
                20,
            )
        })
        .collect();
    let shaped = star(&sites);
    let t = &shaped.topology;
    assert_eq!(t.graph.node_count(), 2 * n as usize + 1);
    assert_eq!(t.graph.edge_count(), 4 * n as usize);
    // Per site: 2 defaults at the gateway, 1 host + 2 defaults at the ISP, 1 at the core.
    assert_eq!(t.routes.as_ref().unwrap().len(), 6 * n as usize);
    let mut built = t.instantiate(&RngStreams::new(1)).unwrap();
    let last = shaped.sites[n as usize - 1].gateway.index();
    let got = deliver(
        &mut built,
        last,
        Packet::udp(ip("198.18.39.16"), 500, ip("198.18.0.1"), 500, vec![0; 50]),
    );
    assert_eq!(got[0].1, "branch-00000");
}

#[test]
fn remote_access_clients_share_the_cgn_address_on_distinct_ports() {
    let gw = star_site("vpn-gw", "203.0.113.10", 1);
    let clients: Vec<Client> = (0..3)
        .map(|k| Client {
            name: format!("client-{k}"),
            addr: ip(&format!("100.64.0.{}", 10 + k)),
        })
        .collect();
    let ra = remote_access(&gw, ip("198.51.100.1"), &clients, &ms(30), &ms(30));
    let mut built = ra.topology.instantiate(&RngStreams::new(1)).unwrap();
    let inside = ra
        .cgn_inside
        .iter()
        .map(|e| built.links[e.index()])
        .collect();
    built.net.add_node_middlebox(
        built.nodes[ra.cgn.index()],
        Box::new(Nat::new(
            "cgn",
            ip("198.51.100.1"),
            inside,
            Duration::from_secs(30),
        )),
    );
    let mut ports = Vec::new();
    for (k, c) in ra.clients.iter().enumerate() {
        let src = ip(&format!("100.64.0.{}", 10 + k));
        let got = deliver(
            &mut built,
            c.index(),
            Packet::udp(src, 500, ip("203.0.113.10"), 500, vec![0; 50]),
        );
        assert_eq!(got.len(), 1);
        let (t, node, p) = &got[0];
        assert_eq!(node, "vpn-gw");
        // 30 ms last mile + 1 ms CGN uplink + 1 ms gateway WAN + 0.1 ms access.
        assert_eq!(*t, SimTime(32_100_000));
        assert_eq!(p.src, ip("198.51.100.1"));
        let sim_core::Transport::Udp { src_port, .. } = p.transport else {
            panic!("UDP expected")
        };
        ports.push(src_port);
    }
    assert_eq!(ports, [1024, 1025, 1026]);
    // The gateway's answer to the second client's port reaches that client only.
    let gw_node = ra.gateway.gateway.index();
    let got = deliver(
        &mut built,
        gw_node,
        Packet::udp(
            ip("203.0.113.10"),
            500,
            ip("198.51.100.1"),
            1025,
            vec![0; 50],
        ),
    );
    assert_eq!(got[0].1, "client-1");
    assert_eq!(got[0].2.dst, ip("100.64.0.11"));
}

#[test]
fn a_hand_written_graph_routes_on_the_fewest_hops() {
    let src = r#"(
        nodes: [
            (name: "a", role: Gateway, addrs: ["192.0.2.1"]),
            (name: "b", role: Gateway),
            (name: "r1"), (name: "r2"), (name: "r3"),
        ],
        links: [
            (a: "a", b: "r1", params: (delay: "1ms")),
            (a: "r1", b: "r2", params: (delay: "1ms")),
            (a: "r2", b: "b", params: (delay: "1ms")),
            (a: "r1", b: "r3", params: (delay: "50ms")),
            (a: "r3", b: "r2", params: (delay: "1ms")),
        ],
    )"#;
    let spec: GraphSpec = ron::from_str(src).unwrap();
    let peers = [("b".to_string(), ip("192.0.2.2"))].into_iter().collect();
    let topo = spec.build(&peers).unwrap();
    let mut built = topo.instantiate(&RngStreams::new(1)).unwrap();
    let got = deliver(
        &mut built,
        0,
        Packet::udp(ip("192.0.2.1"), 500, ip("192.0.2.2"), 500, vec![0; 50]),
    );
    // a -> r1 -> r2 -> b (3 hops, 3 ms), not through r3.
    assert_eq!((got[0].0, got[0].1.as_str()), (SimTime(3_000_000), "b"));
    // A link to a node the file does not have is an error naming it.
    let bad: GraphSpec =
        ron::from_str(r#"(nodes: [(name: "a")], links: [(a: "a", b: "nowhere")])"#).unwrap();
    let e = bad.build(&Default::default()).unwrap_err();
    assert!(e.to_string().contains("nowhere"), "{e}");
}

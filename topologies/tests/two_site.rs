//! The two-site topology routes end to end, charges the WAN's delay, and its ISP filters
//! drop what they name.

use sim_core::middlebox::{Direction, FilterRule, PacketMatch};
use sim_core::trace::{DropReason, TraceEvent};
use sim_core::{
    Duration, LinkParams, NetEvent, Packet, RngStreams, Scheduler, SimTime, Trace, TraceLevel,
};
use topologies::{Site, two_site};

fn site(name: &str, addr: &str, filter: Vec<FilterRule>) -> Site {
    Site {
        nat_public: None,
        name: name.into(),
        addr: addr.parse().unwrap(),
        isp_filter: filter,
    }
}

fn wan() -> LinkParams {
    LinkParams {
        delay: Duration::from_millis(20),
        ..LinkParams::default()
    }
}

/// Sends one packet from gw-a to gw-b and one back; returns arrival times and the trace.
fn exchange(filter_a: Vec<FilterRule>) -> (Vec<(SimTime, String)>, Trace) {
    let topo = two_site(
        &site("gw-a", "10.99.0.1", filter_a),
        &site("gw-b", "10.99.0.2", vec![]),
        wan(),
        wan(),
    );
    let mut built = topo.instantiate(&RngStreams::new(1)).unwrap();
    let mut sched: Scheduler<NetEvent> = Scheduler::new();
    let mut trace = Trace::new(TraceLevel::Full);
    let (a, b) = (built.nodes[0], built.nodes[3]);
    let ip = |s: &str| s.parse().unwrap();
    built.net.send(
        &mut sched,
        &mut trace,
        a,
        Packet::udp(ip("10.99.0.1"), 500, ip("10.99.0.2"), 500, vec![0; 100]),
    );
    built.net.send(
        &mut sched,
        &mut trace,
        b,
        Packet::udp(ip("10.99.0.2"), 4500, ip("10.99.0.1"), 4500, vec![0; 100]),
    );
    let mut got = Vec::new();
    while let Some((t, e)) = sched.pop() {
        if let Some(d) = built.net.handle(&mut sched, &mut trace, e) {
            got.push((t, built.net.node(d.node).name.clone()));
        }
    }
    (got, trace)
}

#[test]
fn packets_cross_both_isps_with_the_wan_delay() {
    let (got, _) = exchange(vec![]);
    // 100 us access + 20 ms WAN + 100 us access.
    let expected = SimTime(20_200_000);
    assert_eq!(
        got,
        vec![
            (expected, "gw-b".to_string()),
            (expected, "gw-a".to_string())
        ]
    );
}

#[test]
fn an_isp_filter_blocks_only_what_it_names_in_its_direction() {
    // isp-gw-a drops UDP 4500 arriving from the WAN towards its customer (ingress at the
    // ISP router from the WAN link); UDP 500 still passes.
    let rule = FilterRule {
        what: PacketMatch::Udp(Some(4500)),
        direction: Some(Direction::Egress),
        toward: None,
    };
    let (got, trace) = exchange(vec![rule]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, "gw-b");
    let drops: Vec<_> = trace
        .records()
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::PacketDropped { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        drops,
        vec![DropReason::Filtered {
            by: "isp-gw-a-filter".into(),
            rule: "udp/4500 egress".into()
        }]
    );
}

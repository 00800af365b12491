//! Hops through plain routers over fixed-delay links are taken without an event of their
//! own: the deliveries, their times and the trace are those of the hop-by-hop path.

use std::net::IpAddr;

use sim_core::link::{LinkParams, LossModel};
use sim_core::middlebox::{Direction, FilterRule, PacketFilter, PacketMatch};
use sim_core::trace::TraceEvent;
use sim_core::{
    Delivery, Dist, Duration, LinkId, NetEvent, Network, NodeId, Packet, RngStreams, Scheduler,
    SimTime, Trace, TraceLevel,
};

enum Ev {
    Net(NetEvent),
    Send(NodeId, Packet),
}

impl From<NetEvent> for Ev {
    fn from(e: NetEvent) -> Self {
        Ev::Net(e)
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> LinkParams {
    LinkParams {
        delay: Duration::from_millis(n),
        ..Default::default()
    }
}

/// A (10.0.0.1) - R1 - R2 - B (10.1.0.2), both ways, with A-R1, R1-R2 and R2-B links of
/// 5, 2 and 3 ms; `first` and `middle` change the first two, `edge_mtu` is R2-B's MTU.
struct Chain {
    net: Network,
    a: NodeId,
    r1: NodeId,
    b: NodeId,
    links: Vec<LinkId>,
}

fn chain(first: LinkParams, middle: LinkParams, edge_mtu: u32) -> Chain {
    let streams = RngStreams::new(7);
    let mut net = Network::new();
    let a = net.add_node("A", vec![ip("10.0.0.1")], false).unwrap();
    let r1 = net.add_node("R1", vec![], true).unwrap();
    let r2 = net.add_node("R2", vec![], true).unwrap();
    let b = net.add_node("B", vec![ip("10.1.0.2")], false).unwrap();
    let mut link =
        |name: &str, from, to, p: LinkParams| net.add_link(name, from, to, p, &streams).unwrap();
    let links = vec![
        link("A->R1", a, r1, first.clone()),
        link("R1->R2", r1, r2, middle.clone()),
        link(
            "R2->B",
            r2,
            b,
            LinkParams {
                mtu: edge_mtu,
                ..ms(3)
            },
        ),
        link(
            "B->R2",
            b,
            r2,
            LinkParams {
                mtu: edge_mtu,
                ..ms(3)
            },
        ),
        link("R2->R1", r2, r1, middle),
        link("R1->A", r1, a, first),
    ];
    let (to_b, to_a) = (ip("10.1.0.2"), ip("10.0.0.1"));
    for (node, link, dst) in [
        (a, links[0], ip("0.0.0.0")),
        (r1, links[1], to_b),
        (r2, links[2], to_b),
        (b, links[3], ip("0.0.0.0")),
        (r2, links[4], to_a),
        (r1, links[5], to_a),
    ] {
        let len = if dst == ip("0.0.0.0") { 0 } else { 32 };
        net.add_route(node, dst, len, link).unwrap();
    }
    Chain {
        net,
        a,
        r1,
        b,
        links,
    }
}

/// Sends `sends` from A, B echoes each packet once; returns the deliveries, the trace and
/// the events the engine took.
fn run(
    c: &mut Chain,
    sends: Vec<(SimTime, Packet)>,
    level: TraceLevel,
) -> (Vec<(SimTime, Delivery)>, Trace, u64) {
    let mut sched: Scheduler<Ev> = Scheduler::new();
    let mut trace = Trace::new(level);
    for (t, p) in sends {
        sched.schedule_at(t, Ev::Send(c.a, p));
    }
    let mut got = Vec::new();
    while let Some((t, ev)) = sched.pop() {
        match ev {
            Ev::Send(from, p) => {
                c.net.send(&mut sched, &mut trace, from, p);
            }
            Ev::Net(e) => {
                if let Some(d) = c.net.handle(&mut sched, &mut trace, e) {
                    if d.node == c.b {
                        let mut back = d.packet.clone();
                        std::mem::swap(&mut back.src, &mut back.dst);
                        back.ttl = 64;
                        sched.schedule_at(t, Ev::Send(c.b, back));
                    }
                    got.push((t, d));
                }
            }
        }
    }
    (got, trace, sched.processed())
}

fn datagram(k: u8) -> Packet {
    Packet::udp(ip("10.0.0.1"), 500, ip("10.1.0.2"), 500, vec![k; 100])
}

#[test]
fn a_packet_through_plain_routers_takes_one_event_and_every_hop_is_traced_in_time_order() {
    let mut c = chain(ms(5), ms(2), 1500);
    let (got, trace, events) = run(&mut c, vec![(SimTime::ZERO, datagram(1))], TraceLevel::Full);
    assert_eq!(got.len(), 2, "there and back");
    assert_eq!(got[0].0, SimTime(10_000_000), "5 + 2 + 3 ms");
    assert_eq!(got[0].1.link, c.links[2]);
    assert_eq!(got[0].1.packet.ttl, 62, "two routers");
    assert_eq!(got[1].0, SimTime(20_000_000));
    assert_eq!(got[1].1.node, c.a);
    // Send, arrival at B, echo, arrival at A: no event at R1 or R2.
    assert_eq!(events, 4);
    let sent: Vec<(u64, LinkId)> = trace
        .records()
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::PacketSent { link, .. } => Some((r.time.0 / 1_000_000, *link)),
            _ => None,
        })
        .collect();
    let l = &c.links;
    assert_eq!(
        sent,
        vec![
            (0, l[0]),
            (5, l[1]),
            (7, l[2]),
            (10, l[3]),
            (13, l[4]),
            (15, l[5])
        ]
    );
    let times: Vec<SimTime> = trace.records().iter().map(|r| r.time).collect();
    assert!(times.is_sorted(), "records in time order: {times:?}");
    // R2 fragments for a smaller MTU on the way, still without an event of its own.
    let mut c = chain(ms(5), ms(2), 576);
    let mut big = datagram(2);
    big.payload.resize(1000, 2);
    let (got, _, events) = run(&mut c, vec![(SimTime::ZERO, big)], TraceLevel::Off);
    assert_eq!(got[0].1.packet.fragments, 2);
    assert_eq!(events, 4);
}

#[test]
fn a_middlebox_or_an_impaired_link_stops_the_express() {
    // A filter at R1 that matches nothing still has to see the packet when it arrives.
    let mut c = chain(ms(5), ms(2), 1500);
    c.net.add_node_middlebox(
        c.r1,
        Box::new(PacketFilter::new(
            "isp",
            vec![FilterRule {
                what: PacketMatch::Udp(Some(4500)),
                direction: Some(Direction::Ingress),
                toward: None,
            }],
        )),
    );
    let (got, _, events) = run(&mut c, vec![(SimTime::ZERO, datagram(1))], TraceLevel::Off);
    assert_eq!(got[0].0, SimTime(10_000_000));
    assert_eq!(events, 6, "an arrival at R1 each way");
    // A lossy link (even one that never loses) draws a number per packet: its own event.
    let lossy = LinkParams {
        loss: LossModel::Bernoulli { p: 0.0 },
        ..ms(2)
    };
    let mut c = chain(ms(5), lossy, 1500);
    let (got, _, events) = run(&mut c, vec![(SimTime::ZERO, datagram(1))], TraceLevel::Off);
    assert_eq!(got[1].0, SimTime(20_000_000));
    assert_eq!(events, 6);
}

#[test]
fn express_and_hop_by_hop_give_the_same_deliveries_and_trace() {
    // Jitter and loss on A-R1: every packet has an event at R1 and A. From R1 on, A's
    // packets go express, and R2 fragments them for the small MTU of R2-B on the way.
    let first = LinkParams {
        jitter: Some(Dist::Uniform {
            low: Duration::ZERO,
            high: Duration::from_millis(4),
        }),
        loss: LossModel::Bernoulli { p: 0.2 },
        ..ms(5)
    };
    let sends = || -> Vec<(SimTime, Packet)> {
        (0..200u8)
            .map(|k| {
                let mut p = datagram(k);
                p.payload.resize(50 + usize::from(k) * 5, k);
                (SimTime(u64::from(k) * 700_000), p)
            })
            .collect()
    };
    let outcome = |hop_by_hop: bool| {
        let mut c = chain(first.clone(), ms(2), 576);
        c.net.set_hop_by_hop(hop_by_hop);
        let (got, trace, events) = run(&mut c, sends(), TraceLevel::Full);
        let got: Vec<String> = got.iter().map(|d| format!("{d:?}")).collect();
        let mut records: Vec<String> = trace.records().iter().map(|r| format!("{r:?}")).collect();
        records.sort();
        (got, records, events)
    };
    let (express, hop) = (outcome(false), outcome(true));
    assert!(
        express.0.len() > 100,
        "most packets arrive: {}",
        express.0.len()
    );
    assert_eq!(express.0, hop.0, "same deliveries, times and packets");
    assert_eq!(express.1, hop.1, "same trace records");
    assert!(
        express.2 < hop.2,
        "fewer events: {} vs {}",
        express.2,
        hop.2
    );
    assert!(
        express.0.iter().any(|d| d.contains("fragments: 2")),
        "some packets crossed fragmented"
    );
}

//! Behaviour of links, routing, middleboxes, the trace and captures, driven through the
//! public API the way a runner drives them.

use std::net::IpAddr;
use std::path::PathBuf;

use sim_core::link::{LinkParams, LossModel};
use sim_core::middlebox::{Direction, FilterRule, PacketFilter, PacketMatch};
use sim_core::trace::{DropReason, TraceEvent};
use sim_core::{
    Delivery, Dist, Duration, LinkId, NetEvent, Network, NodeId, Packet, RngStreams, Scheduler,
    SimTime, Trace, TraceLevel,
};

/// The test runner's event type: the network's events plus "send packet k now".
#[derive(Debug)]
enum Ev {
    Net(NetEvent),
    Send { from: NodeId, packet: Packet },
}

impl From<NetEvent> for Ev {
    fn from(e: NetEvent) -> Self {
        Ev::Net(e)
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Two hosts A (10.0.0.1) and B (10.0.0.2) joined by a link each way.
struct Pair {
    net: Network,
    a: NodeId,
    b: NodeId,
    ab: LinkId,
}

fn pair(params: LinkParams, seed: u64) -> Pair {
    let streams = RngStreams::new(seed);
    let mut net = Network::new();
    let a = net.add_node("A", vec![ip("10.0.0.1")], false).unwrap();
    let b = net.add_node("B", vec![ip("10.0.0.2")], false).unwrap();
    let ab = net.add_link("A->B", a, b, params, &streams).unwrap();
    let ba = net
        .add_link("B->A", b, a, LinkParams::default(), &streams)
        .unwrap();
    net.add_route(a, ip("0.0.0.0"), 0, ab).unwrap();
    net.add_route(b, ip("0.0.0.0"), 0, ba).unwrap();
    Pair { net, a, b, ab }
}

/// A numbered UDP datagram of `wire_len` bytes at the IP layer.
fn datagram(seq: u32, wire_len: usize) -> Packet {
    let mut payload = vec![0u8; wire_len - 28];
    payload[..4].copy_from_slice(&seq.to_be_bytes());
    Packet::udp(ip("10.0.0.1"), 500, ip("10.0.0.2"), 500, payload)
}

fn seq_of(p: &Packet) -> u32 {
    u32::from_be_bytes(p.payload[..4].try_into().unwrap())
}

/// Sends `sends` (time, packet) from A and runs to completion; returns deliveries with
/// their times, and the trace.
fn run(
    net: &mut Network,
    from: NodeId,
    sends: Vec<(SimTime, Packet)>,
    level: TraceLevel,
) -> (Vec<(SimTime, Delivery)>, Trace) {
    run_with_echo(net, from, sends, level, None)
}

/// As [`run`]; when `echo` names a node, that node answers every packet it receives with a
/// copy sent back to the source, so what happens depends on the links' randomness.
fn run_with_echo(
    net: &mut Network,
    from: NodeId,
    sends: Vec<(SimTime, Packet)>,
    level: TraceLevel,
    echo: Option<NodeId>,
) -> (Vec<(SimTime, Delivery)>, Trace) {
    let mut sched: Scheduler<Ev> = Scheduler::new();
    let mut trace = Trace::new(level);
    for (t, packet) in sends {
        sched.schedule_at(t, Ev::Send { from, packet });
    }
    let mut out = Vec::new();
    while let Some((t, ev)) = sched.pop() {
        match ev {
            Ev::Send { from, packet } => {
                net.send(&mut sched, &mut trace, from, packet);
            }
            Ev::Net(e) => {
                if let Some(d) = net.handle(&mut sched, &mut trace, e) {
                    if Some(d.node) == echo {
                        let mut back = d.packet.clone();
                        std::mem::swap(&mut back.src, &mut back.dst);
                        back.ttl = 64;
                        net.send(&mut sched, &mut trace, d.node, back);
                    }
                    out.push((t, d));
                }
            }
        }
    }
    (out, trace)
}

fn every_ms(n: u32, wire_len: usize) -> Vec<(SimTime, Packet)> {
    (0..n)
        .map(|i| (SimTime(u64::from(i) * 1_000_000), datagram(i, wire_len)))
        .collect()
}

fn drop_reasons(trace: &Trace) -> Vec<DropReason> {
    trace
        .records()
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::PacketDropped { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn constant_delay_is_exact() {
    let mut p = pair(
        LinkParams {
            delay: Duration::from_millis(25),
            ..Default::default()
        },
        1,
    );
    let (got, _) = run(&mut p.net, p.a, every_ms(5, 100), TraceLevel::Off);
    assert_eq!(got.len(), 5);
    for (t, d) in &got {
        let sent = SimTime(u64::from(seq_of(&d.packet)) * 1_000_000);
        assert_eq!(*t - sent, Duration::from_millis(25));
        assert_eq!(d.node, p.b);
    }
}

#[test]
fn bernoulli_loss_rate_is_within_a_binomial_bound() {
    let p_loss = 0.1;
    let n = 20_000u32;
    let mut p = pair(
        LinkParams {
            loss: LossModel::Bernoulli { p: p_loss },
            ..Default::default()
        },
        7,
    );
    let (got, _) = run(&mut p.net, p.a, every_ms(n, 100), TraceLevel::Off);
    let lost = f64::from(n) - got.len() as f64;
    let mean = f64::from(n) * p_loss;
    let sd = (f64::from(n) * p_loss * (1.0 - p_loss)).sqrt();
    assert!(
        (lost - mean).abs() < 4.0 * sd,
        "lost {lost}, expected {mean} ± {sd}"
    );
    assert_eq!(p.net.link(p.ab).stats.lost as f64, lost);
}

#[test]
fn gilbert_elliott_bursts_have_the_configured_mean_length() {
    let (p_gb, p_bg) = (0.01, 0.25);
    let n = 200_000u32;
    let mut p = pair(
        LinkParams {
            loss: LossModel::GilbertElliott {
                p_good_to_bad: p_gb,
                p_bad_to_good: p_bg,
                loss_good: 0.0,
                loss_bad: 1.0,
            },
            ..Default::default()
        },
        11,
    );
    let (got, _) = run(&mut p.net, p.a, every_ms(n, 100), TraceLevel::Off);
    let mut arrived = vec![false; n as usize];
    for (_, d) in &got {
        arrived[seq_of(&d.packet) as usize] = true;
    }
    let mut bursts = Vec::new();
    let mut run_len = 0u32;
    for a in arrived {
        if a {
            if run_len > 0 {
                bursts.push(run_len);
            }
            run_len = 0;
        } else {
            run_len += 1;
        }
    }
    let mean_burst = bursts.iter().map(|&b| f64::from(b)).sum::<f64>() / bursts.len() as f64;
    assert!(
        (mean_burst - 1.0 / p_bg).abs() < 0.05 * (1.0 / p_bg),
        "mean burst {mean_burst} over {} bursts, expected {}",
        bursts.len(),
        1.0 / p_bg
    );
    let loss_rate = 1.0 - got.len() as f64 / f64::from(n);
    let expected = p_gb / (p_gb + p_bg);
    assert!(
        (loss_rate - expected).abs() < 0.1 * expected,
        "loss {loss_rate}"
    );
}

#[test]
fn serialization_delay_is_size_over_bandwidth() {
    let mut p = pair(
        LinkParams {
            delay: Duration::from_millis(10),
            bandwidth_bps: Some(1_000_000),
            ..Default::default()
        },
        1,
    );
    // Two 1000-byte packets at t=0: 8 ms each on a 1 Mb/s link, back to back.
    let sends = vec![
        (SimTime::ZERO, datagram(0, 1000)),
        (SimTime::ZERO, datagram(1, 1000)),
    ];
    let (got, _) = run(&mut p.net, p.a, sends, TraceLevel::Off);
    let times: Vec<u64> = got.iter().map(|(t, _)| t.as_nanos()).collect();
    assert_eq!(times, vec![18_000_000, 26_000_000]);
}

#[test]
fn a_full_queue_drops_tail_with_the_queue_full_reason() {
    let mut p = pair(
        LinkParams {
            bandwidth_bps: Some(1_000_000),
            queue_packets: 3,
            ..Default::default()
        },
        1,
    );
    let sends = (0..10)
        .map(|i| (SimTime::ZERO, datagram(i, 1000)))
        .collect();
    let (got, trace) = run(&mut p.net, p.a, sends, TraceLevel::Full);
    // One on the wire, three waiting; the other six are dropped.
    let seqs: Vec<u32> = got.iter().map(|(_, d)| seq_of(&d.packet)).collect();
    assert_eq!(seqs, vec![0, 1, 2, 3]);
    assert_eq!(drop_reasons(&trace), vec![DropReason::QueueFull; 6]);
    assert_eq!(p.net.link(p.ab).stats.queue_drops, 6);
}

#[test]
fn the_queue_drains_at_the_link_rate() {
    let mut p = pair(
        LinkParams {
            bandwidth_bps: Some(1_000_000),
            queue_packets: 1,
            ..Default::default()
        },
        1,
    );
    // 8 ms per packet; one packet every 5 ms overloads the link by 60 %.
    let sends = (0..100)
        .map(|i| (SimTime(u64::from(i) * 5_000_000), datagram(i, 1000)))
        .collect();
    let (got, trace) = run(&mut p.net, p.a, sends, TraceLevel::Full);
    let drops = drop_reasons(&trace).len();
    assert_eq!(got.len() + drops, 100);
    // Over 500 ms about 500/8 = 62 packets fit.
    assert!((60..=66).contains(&got.len()), "{} delivered", got.len());
}

#[test]
fn duplication_delivers_twice() {
    let mut p = pair(
        LinkParams {
            duplicate: 1.0,
            ..Default::default()
        },
        3,
    );
    let (got, _) = run(&mut p.net, p.a, every_ms(10, 100), TraceLevel::Off);
    assert_eq!(got.len(), 20);
    assert_eq!(p.net.link(p.ab).stats.duplicated, 10);
}

#[test]
fn ipv4_over_the_mtu_is_fragmented() {
    let mut p = pair(
        LinkParams {
            mtu: 576,
            ..Default::default()
        },
        3,
    );
    // (IPv6 is never fragmented on the way: see the packet module's tests.)
    let sends = vec![
        (SimTime::ZERO, datagram(0, 576)),
        (SimTime::ZERO, datagram(1, 577)),
    ];
    let (got, trace) = run(&mut p.net, p.a, sends, TraceLevel::Full);
    let frags: Vec<u16> = got.iter().map(|(_, d)| d.packet.fragments).collect();
    assert_eq!(frags, [1, 2]);
    assert!(drop_reasons(&trace).is_empty());
}

#[test]
fn jitter_reorders_and_no_jitter_keeps_order() {
    let order = |jitter: Option<Dist<Duration>>| {
        let mut p = pair(
            LinkParams {
                jitter,
                ..Default::default()
            },
            5,
        );
        let (got, _) = run(&mut p.net, p.a, every_ms(200, 100), TraceLevel::Off);
        got.iter()
            .map(|(_, d)| seq_of(&d.packet))
            .collect::<Vec<_>>()
    };
    let steady = order(None);
    assert!(steady.windows(2).all(|w| w[0] < w[1]));
    let jittered = order(Some(Dist::Uniform {
        low: Duration::ZERO,
        high: Duration::from_millis(10),
    }));
    assert_eq!(jittered.len(), 200);
    assert!(jittered.windows(2).any(|w| w[0] > w[1]), "no reordering");
}

#[test]
fn adding_a_link_does_not_change_another_links_random_numbers() {
    let lossy = LinkParams {
        loss: LossModel::Bernoulli { p: 0.3 },
        jitter: Some(Dist::Exponential {
            mean: Duration::from_millis(5),
        }),
        ..Default::default()
    };
    let survivors = |extra_first: bool| {
        let streams = RngStreams::new(99);
        let mut net = Network::new();
        if extra_first {
            let c = net.add_node("C", vec![ip("10.9.0.1")], false).unwrap();
            let d = net.add_node("D", vec![ip("10.9.0.2")], false).unwrap();
            net.add_link("C->D", c, d, lossy.clone(), &streams).unwrap();
        }
        let a = net.add_node("A", vec![ip("10.0.0.1")], false).unwrap();
        let b = net.add_node("B", vec![ip("10.0.0.2")], false).unwrap();
        let ab = net.add_link("A->B", a, b, lossy.clone(), &streams).unwrap();
        net.add_route(a, ip("10.0.0.2"), 32, ab).unwrap();
        let (got, _) = run(&mut net, a, every_ms(500, 100), TraceLevel::Off);
        got.iter()
            .map(|(t, d)| (t.as_nanos(), seq_of(&d.packet)))
            .collect::<Vec<_>>()
    };
    let alone = survivors(false);
    assert!(alone.len() < 450, "the link is lossy");
    assert_eq!(alone, survivors(true));
}

#[test]
fn routers_forward_by_longest_prefix_and_drop_without_a_route() {
    let streams = RngStreams::new(1);
    let mut net = Network::new();
    let a = net.add_node("A", vec![ip("10.0.0.1")], false).unwrap();
    let r = net.add_node("R", vec![ip("10.0.0.254")], true).unwrap();
    let b = net.add_node("B", vec![ip("10.1.0.2")], false).unwrap();
    let params = LinkParams {
        delay: Duration::from_millis(5),
        ..Default::default()
    };
    let ar = net
        .add_link("A->R", a, r, params.clone(), &streams)
        .unwrap();
    let rb = net
        .add_link("R->B", r, b, params.clone(), &streams)
        .unwrap();
    let ra = net.add_link("R->A", r, a, params, &streams).unwrap();
    net.add_route(a, ip("0.0.0.0"), 0, ar).unwrap();
    net.add_route(r, ip("10.0.0.0"), 8, ra).unwrap();
    net.add_route(r, ip("10.1.0.0"), 16, rb).unwrap();
    let to_b = Packet::udp(ip("10.0.0.1"), 500, ip("10.1.0.2"), 500, vec![0; 8]);
    let nowhere = Packet::udp(ip("10.0.0.1"), 500, ip("192.0.2.1"), 500, vec![0; 8]);
    let sends = vec![(SimTime::ZERO, to_b), (SimTime::ZERO, nowhere)];
    let (got, trace) = run(&mut net, a, sends, TraceLevel::Full);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.node, b);
    assert_eq!(got[0].0, SimTime(10_000_000), "two 5 ms hops");
    assert_eq!(got[0].1.packet.ttl, 63);
    assert_eq!(drop_reasons(&trace), vec![DropReason::NoRoute]);
}

#[test]
fn a_filter_drops_what_its_rules_name_and_passes_the_rest() {
    let mut p = pair(LinkParams::default(), 1);
    p.net.add_node_middlebox(
        p.a,
        Box::new(PacketFilter::new(
            "isp",
            vec![FilterRule {
                what: PacketMatch::Udp(Some(4500)),
                direction: Some(Direction::Egress),
                toward: None,
            }],
        )),
    );
    let ike = Packet::udp(ip("10.0.0.1"), 500, ip("10.0.0.2"), 500, vec![0; 40]);
    let natt = Packet::udp(ip("10.0.0.1"), 4500, ip("10.0.0.2"), 4500, vec![0; 40]);
    let esp = Packet::esp(ip("10.0.0.1"), ip("10.0.0.2"), vec![0; 40]);
    let sends = vec![
        (SimTime::ZERO, ike),
        (SimTime::ZERO, natt),
        (SimTime::ZERO, esp),
    ];
    let (got, trace) = run(&mut p.net, p.a, sends, TraceLevel::Full);
    assert_eq!(got.len(), 2);
    assert_eq!(
        drop_reasons(&trace),
        vec![DropReason::Filtered {
            by: "isp".into(),
            rule: "udp/4500 egress".into()
        }]
    );
}

/// A busy little network with every impairment, captured to `dir/capture.pcap`.
fn impaired_run(seed: u64, dir: &std::path::Path) -> (String, Vec<u8>, usize) {
    let params = LinkParams {
        delay: Duration::from_millis(20),
        jitter: Some(Dist::Normal {
            mean: Duration::from_millis(2),
            std_dev: Duration::from_millis(3),
        }),
        loss: LossModel::GilbertElliott {
            p_good_to_bad: 0.05,
            p_bad_to_good: 0.5,
            loss_good: 0.01,
            loss_bad: 0.8,
        },
        bandwidth_bps: Some(2_000_000),
        queue_packets: 5,
        duplicate: 0.02,
        mtu: 1400,
    };
    let mut p = pair(params, seed);
    let path = dir.join("capture.pcap");
    p.net.capture_to(&path).unwrap();
    let sends = (0..300)
        .map(|i| {
            let len = 100 + (i as usize * 37) % 1200;
            (SimTime(u64::from(i) * 2_000_000), datagram(i, len))
        })
        .collect();
    let (got, trace) = run_with_echo(&mut p.net, p.a, sends, TraceLevel::Full, Some(p.b));
    let captured = p.net.finish_capture().unwrap();
    assert!(captured > 0);
    (
        trace.fingerprint(),
        std::fs::read(&path).unwrap(),
        got.len(),
    )
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ikesim-simcore-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn same_seed_gives_the_same_fingerprint_and_pcap_bytes() {
    let (d1, d2, d3) = (temp_dir("s1"), temp_dir("s2"), temp_dir("s3"));
    let (fp1, pcap1, n1) = impaired_run(2024, &d1);
    let (fp2, pcap2, n2) = impaired_run(2024, &d2);
    let (fp3, pcap3, _) = impaired_run(2025, &d3);
    assert_eq!(fp1, fp2);
    assert!(pcap1 == pcap2, "same seed, different pcap bytes");
    assert_eq!(n1, n2);
    assert_ne!(fp1, fp3, "a different seed must change the run");
    assert!(pcap1 != pcap3, "a different seed must change the capture");
    for d in [d1, d2, d3] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn our_pcap_decodes_in_tshark() {
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("tshark not installed: skipping");
        return;
    }
    let dir = temp_dir("tshark");
    let (_, pcap, _) = impaired_run(1, &dir);
    assert_eq!(
        pcap[..4],
        0xa1b23c4du32.to_le_bytes(),
        "little-endian nanosecond pcap magic"
    );
    let out = std::process::Command::new("tshark")
        .args(["-r"])
        .arg(dir.join("capture.pcap"))
        .args([
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "udp.srcport",
            "-e",
            "ip.checksum.status",
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-e",
            "udp.checksum.status",
            "-e",
            "_ws.malformed",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 100, "{} packets", lines.len());
    for l in &lines {
        let f: Vec<&str> = l.split('\t').collect();
        assert!(f[0].starts_with("1767225"), "epoch 2026-01-01: {l}");
        assert_eq!(f[1], "500", "{l}");
        assert_eq!(f.len(), 5, "{l}");
        assert_eq!(f[2], "1", "IPv4 checksum Good (1 in Wireshark's enum): {l}");
        assert_eq!(f[3], "1", "UDP checksum Good: {l}");
        assert_eq!(f.get(4).copied().unwrap_or(""), "", "malformed: {l}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn captures_read_back_to_the_same_datagrams() {
    let dir = temp_dir("readback");
    let (_, pcap, _) = impaired_run(3, &dir);
    let c = sim_core::pcap_read::read_capture(&pcap[..]).unwrap();
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
    assert_eq!(c.skipped, 0);
    assert!(c.datagrams.len() > 100);
    let first = &c.datagrams[0];
    assert_eq!(first.frame, 1);
    assert_eq!(first.src, ip("10.0.0.1"));
    assert_eq!(
        first.transport,
        sim_core::Transport::Udp {
            src_port: 500,
            dst_port: 500
        }
    );
    assert_eq!(
        &first.payload[..4],
        &0u32.to_be_bytes(),
        "sequence number 0"
    );
    assert_eq!(
        first.timestamp_ns,
        u128::from(sim_core::pcap::PCAP_EPOCH_UNIX_SECS) * 1_000_000_000
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn real_strongswan_ethernet_captures_read_to_ike_datagrams() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/strongswan");
    for (case, expected) in [
        ("ikev2-rekey", 42),
        ("ikev1-main-rekey", 0),
        ("ikev1-aggressive", 0),
    ] {
        let bytes = std::fs::read(format!("{root}/{case}/capture.pcap")).unwrap();
        let c = sim_core::pcap_read::read_capture(&bytes[..]).unwrap();
        assert!(c.malformed.is_empty(), "{case}: {:?}", c.malformed);
        assert!(!c.datagrams.is_empty(), "{case}");
        for d in &c.datagrams {
            assert_eq!(
                d.transport,
                sim_core::Transport::Udp {
                    src_port: 500,
                    dst_port: 500
                },
                "{case}"
            );
        }
        if expected > 0 {
            assert_eq!(
                c.datagrams.len(),
                expected,
                "{case}: dump.json lists {expected} packets"
            );
            // Frame 1 is IKE_SA_INIT from A: its IKE length field is 462 (dump.txt).
            let first = &c.datagrams[0];
            assert_eq!(first.src, ip("10.99.0.1"));
            assert_eq!(first.payload.len(), 462);
            assert_eq!(
                u32::from_be_bytes(first.payload[24..28].try_into().unwrap()),
                462
            );
        }
    }
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(sim_core::pcap_read::read_capture(&b"not a pcap at all"[..]).is_err());
    // A valid header followed by a frame whose IPv4 header is cut short.
    let mut sink = sim_core::pcap::PcapSink::new(Vec::new()).unwrap();
    sink.write(SimTime::ZERO, &datagram(0, 100)).unwrap();
    let mut bytes = sink.into_inner();
    let n = bytes.len();
    bytes.truncate(n - 90);
    // Patch the record's captured length so the file stays well-formed as pcap.
    let rec = 24;
    bytes[rec + 8..rec + 12].copy_from_slice(&10u32.to_le_bytes());
    let c = sim_core::pcap_read::read_capture(&bytes[..]).unwrap();
    assert_eq!(c.malformed.len(), 1, "{:?}", c.malformed);
}

#[test]
fn a_packet_bigger_than_the_mtu_travels_in_fragments_that_tshark_reassembles() {
    let dir = temp_dir("frag");
    let streams = RngStreams::new(1);
    let mut net = Network::new();
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    let a = net.add_node("a", vec![ip("10.0.0.1")], false).unwrap();
    let b = net.add_node("b", vec![ip("10.0.0.2")], false).unwrap();
    let small = LinkParams {
        mtu: 576,
        ..LinkParams::default()
    };
    let ab = net.add_link("a->b", a, b, small, &streams).unwrap();
    net.add_route(a, ip("10.0.0.2"), 32, ab).unwrap();
    net.capture_to(dir.join("capture.pcap")).unwrap();
    let mut sched: Scheduler<NetEvent> = Scheduler::new();
    let mut trace = Trace::new(TraceLevel::Full);
    let payload: Vec<u8> = (0..1200u32).map(|x| x as u8).collect();
    net.send(
        &mut sched,
        &mut trace,
        a,
        // Port 9 (discard): not a protocol tshark would parse the test bytes as.
        Packet::udp(ip("10.0.0.1"), 9, ip("10.0.0.2"), 9, payload.clone()),
    );
    let mut got = Vec::new();
    while let Some((_, e)) = sched.pop() {
        if let Some(d) = net.handle(&mut sched, &mut trace, e) {
            got.push(d.packet);
        }
    }
    assert_eq!(got.len(), 1, "delivered whole");
    assert_eq!(got[0].payload, payload);
    assert_eq!(got[0].fragments, 3);
    assert_eq!(
        net.finish_capture().unwrap(),
        3,
        "one pcap record per fragment"
    );
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok()
    {
        let out = std::process::Command::new("tshark")
            .arg("-r")
            .arg(dir.join("capture.pcap"))
            .args([
                "-T",
                "fields",
                "-e",
                "ip.flags.mf",
                "-e",
                "ip.frag_offset",
                "-e",
                "udp.length",
                "-e",
                "_ws.malformed",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(rows.len(), 3, "{text}");
        // The last fragment completes the datagram, which tshark reassembles to UDP.
        assert_eq!(rows[2][2], "1208", "{text}");
        assert!(
            rows.iter().all(|r| r.get(3).is_none_or(|m| m.is_empty())),
            "{text}"
        );
        assert_eq!(rows[0][0], "1");
        assert_eq!(rows[2][0], "0");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

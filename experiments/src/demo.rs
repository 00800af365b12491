//! `ikesim demo`: a small simulation on the engine alone, showing what a run records.
//!
//! Host A sends a burst of IKE-sized UDP datagrams to port 500 of host B over a lossy,
//! jittery path with a slow access link; B answers each one. The trace shows every send,
//! delivery and drop with its reason; the capture opens in Wireshark.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result};
use sim_core::link::LinkParams;
use sim_core::output::{AtomicFile, write_atomic};
use sim_core::trace::TraceEvent;
use sim_core::{
    Dist, Duration, LossModel, NetEvent, Network, Packet, RngStreams, Scheduler, SimTime, Trace,
    TraceLevel,
};

enum Ev {
    Net(NetEvent),
    Send(u32),
}

impl From<NetEvent> for Ev {
    fn from(e: NetEvent) -> Self {
        Ev::Net(e)
    }
}

/// What the demo prints at the end.
pub struct DemoSummary {
    /// Trace fingerprint.
    pub fingerprint: String,
    /// Requests sent by A.
    pub sent: u32,
    /// Answers A received.
    pub answered: u32,
    /// Drops by reason, in first-seen order.
    pub drops: Vec<(String, u32)>,
}

/// Runs the demo with `seed`, writing `trace.log` and `capture.pcap` into `out`.
pub fn run_demo(seed: u64, out: &Path) -> Result<DemoSummary> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let a_ip: IpAddr = "192.0.2.1".parse()?;
    let b_ip: IpAddr = "198.51.100.1".parse()?;
    let streams = RngStreams::new(seed);
    let mut net = Network::new();
    let a = net.add_node("A", vec![a_ip], false)?;
    let b = net.add_node("B", vec![b_ip], false)?;
    let wan = LinkParams {
        delay: Duration::from_millis(40),
        jitter: Some(Dist::Uniform {
            low: Duration::ZERO,
            high: Duration::from_millis(15),
        }),
        loss: LossModel::Bernoulli { p: 0.1 },
        bandwidth_bps: Some(1_000_000),
        queue_packets: 4,
        ..LinkParams::default()
    };
    let ab = net.add_link("A->B", a, b, wan.clone(), &streams)?;
    let ba = net.add_link("B->A", b, a, wan, &streams)?;
    net.add_route(a, b_ip, 32, ab)?;
    net.add_route(b, a_ip, 32, ba)?;
    net.capture_to(out.join("capture.pcap"))?;

    let mut sched: Scheduler<Ev> = Scheduler::new();
    let mut trace = Trace::new(TraceLevel::Full);
    let sent = 12u32;
    for i in 0..sent {
        // Two bursts of six: the second overflows the 4-packet queue of the 1 Mb/s link.
        let t = if i < 6 { i as u64 * 50 } else { 1000 };
        sched.schedule_at(SimTime(t * 1_000_000), Ev::Send(i));
    }
    let mut answered = 0;
    while let Some((_, ev)) = sched.pop() {
        match ev {
            Ev::Send(i) => {
                let mut payload = vec![0u8; 462];
                payload[..4].copy_from_slice(&i.to_be_bytes());
                net.send(
                    &mut sched,
                    &mut trace,
                    a,
                    Packet::udp(a_ip, 500, b_ip, 500, payload),
                );
            }
            Ev::Net(e) => {
                if let Some(d) = net.handle(&mut sched, &mut trace, e) {
                    if d.node == b {
                        let reply = Packet::udp(b_ip, 500, a_ip, 500, d.packet.payload.clone());
                        net.send(&mut sched, &mut trace, b, reply);
                    } else if d.node == a {
                        answered += 1;
                    }
                }
            }
        }
    }
    net.finish_capture()?;
    let mut log = AtomicFile::create(out.join("trace.log"))?;
    trace.write_text(&net.names(), &mut log)?;
    log.flush()?;
    log.commit()?;
    let mut drops: Vec<(String, u32)> = Vec::new();
    for r in trace.records() {
        if let TraceEvent::PacketDropped { reason, .. } = &r.event {
            let k = reason.to_string();
            match drops.iter_mut().find(|(r, _)| *r == k) {
                Some((_, n)) => *n += 1,
                None => drops.push((k, 1)),
            }
        }
    }
    let summary = DemoSummary {
        fingerprint: trace.fingerprint(),
        sent,
        answered,
        drops,
    };
    write_atomic(
        out.join("summary.json"),
        serde_json::to_string_pretty(&serde_json::json!({
            "seed": seed,
            "fingerprint": summary.fingerprint,
            "sent": summary.sent,
            "answered": summary.answered,
            "events": sched.processed(),
            "drops": summary.drops.iter().map(|(r, n)| serde_json::json!({"reason": r, "count": n})).collect::<Vec<_>>(),
        }))?
        .as_bytes(),
    )?;
    Ok(summary)
}

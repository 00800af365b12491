//! Runs a scenario: builds the network, puts an IKE endpoint on each peer's node, drives
//! them with the engine, and writes the outputs. Each peer has one engine timer (its
//! endpoints' earliest wake-up), moved in place when that changes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use ike_model::ikev1::endpoint::Endpoint1;
use ike_model::ikev2::endpoint::{Endpoint, EndpointConfig, NATT_PORT, TunnelConfig};
use serde_json::json;
use sim_core::output::{AtomicFile, write_atomic};
use sim_core::trace::{TraceEvent, TraceLevel};
use sim_core::{Due, NetEvent, NodeId, Packet, RngStreams, Scheduler, SimTime, Trace, Transport};

mod end_state;
mod parallel;

pub use parallel::{AUTO_MIN_TUNNELS, Engine};

use crate::describe::{describe, describe_message, is_ikev1};
use crate::metrics::{Metrics, MetricsThread, Spread, TunnelInfo, secs};
use crate::peer_config::{config_v1, endpoint_config};
use crate::scenario::Scenario;
use crate::scenario::model::{Action, IkeVersion as ScenarioVersion};
use crate::scenario::selectors::parse_ts;
use ike_model::ikev2::payload::TrafficSelector;

enum Ev {
    Net(NetEvent),
    /// A core of the peer's CPU may have become free: take the next queued datagram.
    CpuFree {
        peer: usize,
    },
    /// Datagrams whose CPU work has ended leave now.
    Release {
        peer: usize,
        out: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    },
    Start {
        tunnel: usize,
    },
    Action {
        index: usize,
    },
    Traffic {
        tunnel: usize,
        dir: u8,
    },
    /// The peer's timer fired (never scheduled: made from the engine's timer).
    Wake {
        peer: usize,
    },
}

impl From<NetEvent> for Ev {
    fn from(e: NetEvent) -> Self {
        Ev::Net(e)
    }
}

/// One peer in the run.
struct Peer {
    name: String,
    node: NodeId,
    ep: Endpoint,
    /// The IKEv1 endpoint, only in runs with an IKEv1 tunnel (it is 0.8 KB of state a
    /// 10^5-branch IKEv2 run does not need).
    v1: Option<Box<Endpoint1>>,
    cpu: Option<crate::cpu::Cpu>,
}

impl Peer {
    /// Its endpoints' timers, due at `now`.
    fn handle_timeout(&mut self, now: SimTime) {
        self.ep.handle_timeout(now);
        if let Some(v1) = &mut self.v1 {
            v1.handle_timeout(now);
        }
    }

    /// Moves what its endpoints want to send into `out`: (source, destination, bytes).
    fn take_transmits(&mut self, out: &mut Vec<(SocketAddr, SocketAddr, Vec<u8>)>) {
        while let Some(tx) = self.ep.poll_transmit() {
            out.push((tx.src, tx.dst, tx.payload));
        }
        while let Some(tx) = self.v1.as_mut().and_then(|v1| v1.poll_transmit()) {
            out.push(tx);
        }
    }

    /// Moves what its endpoints report into `events`, in the order reported.
    fn take_events(&mut self, events: &mut Vec<(SimTime, ike_model::events::Event)>) {
        while let Some(e) = self.ep.poll_event() {
            events.push(e);
        }
        while let Some(e) = self.v1.as_mut().and_then(|v1| v1.poll_event()) {
            events.push(e);
        }
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        match (
            self.ep.poll_timeout(),
            self.v1.as_ref().and_then(|v| v.poll_timeout()),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// `cfg` behind an `Arc`: the one in `last` when the two differ only in address (the
/// endpoint keeps its own), else a new one, which becomes `last`.
fn share(last: &mut Option<Arc<EndpointConfig>>, mut cfg: EndpointConfig) -> Arc<EndpointConfig> {
    if let Some(prev) = last {
        let addr = std::mem::replace(&mut cfg.addr, prev.addr);
        if cfg == **prev {
            return prev.clone();
        }
        cfg.addr = addr;
    }
    last.insert(Arc::new(cfg)).clone()
}

/// What a finished run reports to the terminal.
pub struct RunReport {
    /// The summary written to `summary.json`.
    pub summary: serde_json::Value,
    /// Events the engine handled.
    pub events: u64,
    /// Whether the events were taken on two threads ([`Engine`]).
    pub parallel: bool,
}

/// Runs `s` with `seed` and writes its outputs into `out` ([`Engine::Auto`]).
pub fn run(s: &Scenario, seed: u64, out: &Path) -> Result<RunReport> {
    run_with(s, seed, out, Engine::Auto)
}

/// Runs `s` with `seed`, its events taken as `engine` says, and writes its outputs into
/// `out`.
pub fn run_with(s: &Scenario, seed: u64, out: &Path, engine: Engine) -> Result<RunReport> {
    for (name, p) in &s.peers {
        if let Some(file) = p.cpu.as_ref().and_then(|c| c.costs_file.as_ref()) {
            anyhow::bail!(
                "peers.{name}.cpu.costs_file \"{file}\" is read when the scenario is loaded \
                 from its file (load_scenario), relative to it"
            );
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let streams = RngStreams::new(seed);
    let expanded =
        crate::scenario::expand::expand(s).map_err(|(f, m)| anyhow::anyhow!("{f}: {m}"))?;
    let s = &expanded;
    let names: Vec<String> = s.peers.keys().cloned().collect();
    let crate::netbuild::BuiltNet {
        mut built,
        peer_nodes: gateways,
        addr_names,
    } = crate::netbuild::build(s, &streams)?;
    // Every peer of a run with an IKEv1 tunnel has an IKEv1 endpoint (any of them may be
    // sent an IKEv1 message); in an IKEv2-only run nobody sends one.
    let any_v1 = s
        .tunnels
        .iter()
        .any(|t| t.version != ScenarioVersion::IKEv2);
    // Modeled crypto replaces the cipher and ICV of IKE messages and ESP packets too, unless
    // a capture will be decrypted.
    let protection = if s.crypto == crate::scenario::model::CryptoMode::Modeled && !s.outputs.pcap {
        ike_model::ikev2::protect::Protection::Modeled
    } else {
        ike_model::ikev2::protect::Protection::Real
    };
    // The end of a CHILD_SA's 5 s inbound linger is seen only in sa_events.csv, the trace,
    // by ESP arriving on it, and (as a zero-cost piece of work) by a CPU model; without all
    // of these it takes no wake-up of its own (`Endpoint::set_linger_wakeups`).
    let linger_unseen = !s.outputs.sa_events
        && s.outputs.trace_level == TraceLevel::Off
        && s.tunnels.iter().all(|t| t.traffic.is_none());
    let mut peers: Vec<Peer> = Vec::with_capacity(names.len());
    // Peers whose settings differ only in their address (the branches of a large shape,
    // adjacent in name order) share one copy.
    let mut shared: Option<Arc<EndpointConfig>> = None;
    for (i, n) in names.iter().enumerate() {
        let cfg = endpoint_config(s, n)?;
        let addr = cfg.addr;
        let settings = share(&mut shared, cfg);
        let mut ep = Endpoint::sharing(settings, addr, streams.stream(&format!("endpoint/{n}")));
        ep.set_key_log(s.outputs.pcap);
        ep.set_protection(protection);
        ep.set_state_events(s.outputs.trace_level != TraceLevel::Off);
        ep.set_linger_wakeups(!linger_unseen || s.peers[n].cpu.is_some());
        ep.set_screening_on_arrival(s.peers[n].cpu.is_some());
        // Checked for every peer, as before, so a bad IKEv1 setting is reported alike.
        let cfg_v1 = config_v1(s, n)?;
        let v1 = any_v1.then(|| {
            let mut v1 = Box::new(Endpoint1::new(
                cfg_v1,
                streams.stream(&format!("endpoint-v1/{n}")),
            ));
            v1.set_key_log(s.outputs.pcap);
            v1.set_protection(protection);
            v1.set_screening_on_arrival(s.peers[n].cpu.is_some());
            v1
        });
        peers.push(Peer {
            name: n.clone(),
            node: gateways[i],
            ep,
            v1,
            cpu: s.peers[n]
                .cpu
                .as_ref()
                .map(|c| crate::cpu::Cpu::new(c, SimTime::ZERO + s.duration)),
        });
    }
    let index_of: BTreeMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let peer_index = |name: &str| index_of[name];
    // The peer on each network node, for deliveries.
    let mut peer_on_node: Vec<Option<usize>> = vec![None; built.nodes.len()];
    for (i, n) in gateways.iter().enumerate() {
        peer_on_node[n.0 as usize] = Some(i);
    }
    // When each tunnel starts: its `start`, plus a uniform draw over `start_spread`.
    let mut start_rng = streams.stream("tunnel-start");
    let starts: Vec<SimTime> = s
        .tunnels
        .iter()
        .map(|spec| {
            let spread = spec.start_spread.map_or(0, |d| d.as_nanos());
            let jitter = if spread > 0 {
                rand::RngExt::random_range(&mut start_rng, 0..=spread)
            } else {
                0
            };
            SimTime::ZERO + spec.start + sim_core::Duration::from_nanos(jitter)
        })
        .collect();
    let mut tunnels = Vec::new();
    for (t, spec) in s.tunnels.iter().enumerate() {
        let (ia, ra) = (
            s.peers[&spec.initiator].address,
            s.peers[&spec.responder].address,
        );
        let ts = |list: &Option<Vec<String>>, addr| -> Result<Vec<TrafficSelector>> {
            match list {
                None => Ok(vec![TrafficSelector::host(addr)]),
                Some(v) => v
                    .iter()
                    .map(|x| parse_ts(x).map_err(anyhow::Error::msg))
                    .collect(),
            }
        };
        let (its, rts) = (ts(&spec.initiator_ts, ia)?, ts(&spec.responder_ts, ra)?);
        let at_initiator = TunnelConfig {
            tunnel: t as u32,
            peer: ra,
            local_ts: its.iter().cloned().collect(),
            remote_ts: rts.iter().cloned().collect(),
        };
        let at_responder = TunnelConfig {
            tunnel: t as u32,
            peer: ia,
            local_ts: rts.into(),
            remote_ts: its.into(),
        };
        let (pi, pr) = (peer_index(&spec.initiator), peer_index(&spec.responder));
        if spec.version == ScenarioVersion::IKEv2 {
            peers[pi].ep.add_tunnel(at_initiator);
            peers[pr].ep.add_tunnel(at_responder);
        } else {
            for (p, t) in [(pi, at_initiator), (pr, at_responder)] {
                if let Some(v1) = &mut peers[p].v1 {
                    v1.add_tunnel(t);
                }
            }
        }
        tunnels.push(TunnelInfo {
            initiator: spec.initiator.clone(),
            responder: spec.responder.clone(),
            start: starts[t],
        });
    }
    if s.outputs.pcap {
        built.net.capture_to(out.join("capture.pcap"))?;
        let egress = gateways
            .iter()
            .flat_map(|g| built.net.links_from(*g))
            .collect();
        built.net.capture_only(egress);
    }
    let initiators: Vec<usize> = s.tunnels.iter().map(|t| peer_index(&t.initiator)).collect();
    let end = SimTime::ZERO + s.duration;
    let mut trace = Trace::new(s.outputs.trace_level);
    // ESP is protected as IKE is; Wireshark's `esp_sa` table is kept only for a capture.
    let mut dataplane = crate::dataplane::DataPlane::new(protection, s.outputs.pcap);
    let mut commands_refused = 0u64;
    let mut messages = crate::messages::MessageLog::default();
    let recorded = Metrics::writing_to(tunnels, out, s.outputs.sa_events)?;
    let split = parallel::plan(engine, s, &built.net, &peers).map_err(anyhow::Error::msg)?;
    let parallel = split.is_some();
    let (mut metrics, events_processed, travelling) = if let Some(plan) = split {
        let shared = parallel::Shared {
            s,
            net: &built.net,
            peer_on_node: &peer_on_node,
            starts: &starts,
            initiators: &initiators,
            end,
        };
        let (m, n) = parallel::run(&plan, &shared, &mut peers, recorded, names.clone().into())?;
        (m, n, BTreeSet::new())
    } else {
        // Recorded on a thread of its own (the second core), in the order reported.
        let mut metrics = MetricsThread::spawn(recorded, names.clone().into())?;
        let mut sched: Scheduler<Ev> = Scheduler::new();
        for (t, at) in starts.iter().enumerate() {
            sched.schedule_at(*at, Ev::Start { tunnel: t });
        }
        for (k, a) in s.actions.iter().enumerate() {
            sched.schedule_at(SimTime::ZERO + a.at, Ev::Action { index: k });
        }
        let mut flow_rngs: BTreeMap<(u32, u8), sim_core::SimRng> = BTreeMap::new();
        for (t, spec) in s.tunnels.iter().enumerate() {
            if let Some(tr) = &spec.traffic {
                let at = tr.start.map_or(starts[t], |x| SimTime::ZERO + x);
                for dir in 0..2u8 {
                    flow_rngs.insert(
                        (t as u32, dir),
                        streams.stream(&format!("traffic/{t}/{dir}")),
                    );
                    sched.schedule_at(at, Ev::Traffic { tunnel: t, dir });
                }
            }
        }
        // On/off sources: (on now?, end of the current period) per flow.
        let mut on_off: BTreeMap<(usize, u8), (bool, SimTime)> = BTreeMap::new();
        let any_cpu = peers.iter().any(|p| p.cpu.is_some());
        // What a touched peer sends and reports, drained every event (buffers reused, not
        // allocated per event).
        let mut out_buf: Vec<(SocketAddr, SocketAddr, Vec<u8>)> = Vec::new();
        let mut evs_buf = Vec::new();
        while let Some(t) = sched.peek_time() {
            if t > end {
                break;
            }
            let (now, ev) = match sched.pop_due().expect("peeked") {
                (now, Due::Event(ev)) => (now, ev),
                (now, Due::Timer(peer)) => (
                    now,
                    Ev::Wake {
                        peer: peer as usize,
                    },
                ),
            };
            // The state the next event will touch starts loading while this one runs.
            match sched.peek_next() {
                Some(Due::Timer(o)) => {
                    if let Some(p) = peers.get(o as usize) {
                        sim_core::prefetch(p);
                    }
                }
                Some(Due::Event(Ev::Net(NetEvent::Arrive { link, .. }))) => {
                    built.net.prefetch_link(*link);
                }
                _ => {}
            }
            // What the work of this event costs is counted from here (CPU model).
            let dh_before = if any_cpu {
                ike_model::crypto::dh::dh_ops()
            } else {
                Vec::new()
            };
            let mut bytes_in = 0u64;
            // Work done by the receiver on arrival, not by a core (see `screen_ike`).
            let mut screened_out = false;
            let touched = match ev {
                Ev::CpuFree { peer } => {
                    let next = match &mut peers[peer].cpu {
                        Some(c) if c.idle_core(now) => c.queue.pop_front(),
                        _ => None,
                    };
                    match next {
                        Some(d) => {
                            bytes_in = d.packet.payload.len() as u64;
                            handle_ike(&mut peers[peer], now, &d.packet);
                            Some(peer)
                        }
                        None => None,
                    }
                }
                Ev::Release { peer, mut out } => {
                    let p = &peers[peer];
                    send_ike(
                        &mut built.net,
                        &mut sched,
                        &mut trace,
                        s.outputs.messages.then_some(&mut messages),
                        &addr_names,
                        (p.node, &p.name),
                        now,
                        &mut out,
                    );
                    None
                }
                Ev::Start { tunnel } => {
                    let i = initiators[tunnel];
                    start_tunnel(&mut peers[i], s, tunnel, now);
                    Some(i)
                }
                Ev::Action { index } => {
                    let a = &s.actions[index];
                    let spec = &s.tunnels[a.tunnel];
                    let who = a.peer.as_deref().unwrap_or(&spec.initiator);
                    let i = peer_index(who);
                    let tunnel = a.tunnel as u32;
                    let r: std::result::Result<(), String> =
                        if spec.version == ScenarioVersion::IKEv2 {
                            let ep = &mut peers[i].ep;
                            match a.action {
                                Action::CreateChild => ep.create_child(now, tunnel),
                                Action::RekeyChild => ep.rekey_child(now, tunnel),
                                Action::DeleteChild => ep.delete_child(now, tunnel),
                                Action::DeleteIke => ep.delete_ike(now, tunnel),
                                Action::RekeyIke => ep.rekey_ike(now, tunnel),
                            }
                            .map_err(|e| e.to_string())
                        } else {
                            let done = peers[i].v1.as_mut().is_some_and(|v1| match a.action {
                                Action::CreateChild => v1.quick_mode(now, tunnel, None),
                                Action::RekeyChild => v1.rekey_child(now, tunnel),
                                Action::DeleteChild => v1.delete_child(now, tunnel),
                                Action::DeleteIke => v1.delete_ike(now, tunnel),
                                // An ISAKMP "rekey" is a re-authentication, not modelled yet.
                                Action::RekeyIke => false,
                            });
                            if done {
                                Ok(())
                            } else {
                                Err(format!(
                                    "tunnel {tunnel} has no ISAKMP SA or IPsec SA here for that"
                                ))
                            }
                        };
                    let node = peers[i].node;
                    trace.emit(now, || TraceEvent::Note {
                        node: Some(node),
                        category: "command".into(),
                        text: match &r {
                            Ok(()) => format!("{:?} on tunnel {tunnel}", a.action),
                            Err(e) => format!("{:?} refused: {e}", a.action),
                        },
                    });
                    if r.is_err() {
                        commands_refused += 1;
                    }
                    Some(i)
                }
                Ev::Traffic { tunnel, dir } => {
                    let spec = &s.tunnels[tunnel];
                    let tr = spec.traffic.as_ref().expect("scheduled for traffic");
                    if let Some(oo) = &tr.on_off {
                        // Walk the on/off periods up to now; while off, wake at the next on.
                        let rng = flow_rngs
                            .get_mut(&(tunnel as u32, dir))
                            .expect("flow stream");
                        let st = on_off.entry((tunnel, dir)).or_insert((
                            true,
                            now + crate::dataplane::period(oo.on, oo.exponential, rng),
                        ));
                        while st.1 <= now {
                            st.0 = !st.0;
                            let mean = if st.0 { oo.on } else { oo.off };
                            st.1 += crate::dataplane::period(mean, oo.exponential, rng);
                        }
                        if !st.0 {
                            sched.schedule_at(st.1, Ev::Traffic { tunnel, dir });
                            continue;
                        }
                    }
                    let (from, to) = if dir == 0 {
                        (&spec.initiator, &spec.responder)
                    } else {
                        (&spec.responder, &spec.initiator)
                    };
                    let (si, src, dst) =
                        (peer_index(from), s.peers[from].address, s.peers[to].address);
                    let t = tunnel as u32;
                    let outbound = if spec.version == ScenarioVersion::IKEv2 {
                        peers[si].ep.esp_outbound(t)
                    } else {
                        peers[si].v1.as_ref().and_then(|v1| v1.esp_outbound(t))
                    };
                    let rng = flow_rngs.get_mut(&(t, dir)).expect("flow stream");
                    // Behind a NAT the SA knows where the peer really is (address and port).
                    let to_addr = outbound
                        .as_ref()
                        .and_then(|o| o.3)
                        .unwrap_or(SocketAddr::new(dst, NATT_PORT));
                    let outbound = outbound.map(|(spi, k, encap, _)| (spi, k, encap));
                    if let Some(esp) = dataplane.offer(
                        now,
                        (t, dir),
                        outbound,
                        (src, dst),
                        to_addr.ip(),
                        tr.bytes,
                        rng,
                    ) {
                        let pkt = if esp.encap {
                            Packet::udp(src, NATT_PORT, to_addr.ip(), to_addr.port(), esp.bytes)
                        } else {
                            Packet::esp(src, to_addr.ip(), esp.bytes)
                        };
                        let id = built.net.send(&mut sched, &mut trace, peers[si].node, pkt);
                        dataplane.sent_as((t, dir), id);
                        if spec.version == ScenarioVersion::IKEv2 {
                            peers[si].ep.esp_sent(now, t);
                        } else if let Some(v1) = &mut peers[si].v1 {
                            v1.esp_sent(now, t);
                        }
                    }
                    let gap = crate::dataplane::next_gap(tr.rate_pps, tr.poisson, rng);
                    sched.schedule_at(now + gap, Ev::Traffic { tunnel, dir });
                    None
                }
                Ev::Wake { peer } => {
                    peers[peer].handle_timeout(now);
                    Some(peer)
                }
                Ev::Net(e) => built.net.handle(&mut sched, &mut trace, e).and_then(|d| {
                    let i = peer_on_node[d.node.0 as usize]?;
                    let esp = match d.packet.transport {
                        Transport::Esp => Some(&d.packet.payload[..]),
                        Transport::Udp { dst_port, .. }
                            if dst_port == NATT_PORT
                                && d.packet.payload.len() > 4
                                && d.packet.payload[..4] != [0, 0, 0, 0] =>
                        {
                            Some(&d.packet.payload[..])
                        }
                        _ => None,
                    };
                    if let Some(bytes) = esp {
                        let spi = crate::dataplane::DataPlane::spi(bytes);
                        let keys = spi.and_then(|spi| {
                            peers[i]
                                .ep
                                .esp_inbound(spi)
                                .or_else(|| peers[i].v1.as_ref()?.esp_inbound(spi))
                                .map(|(_, k)| k)
                        });
                        if dataplane.receive(d.packet.id, bytes, keys)
                            && let Some(spi) = spi
                        {
                            peers[i].ep.esp_received(now, spi);
                        }
                        return None;
                    }
                    if s.outputs.messages {
                        messages.received(d.packet.id, now);
                    }
                    if !screen_ike(&mut peers[i], now, &d.packet) {
                        screened_out = true;
                        return Some(i);
                    }
                    let node = peers[i].node;
                    if let Some(cpu) = &mut peers[i].cpu
                        && !cpu.idle_core(now)
                    {
                        // Every core is busy: the datagram waits (or is dropped, queue full).
                        if !cpu.enqueue(d) {
                            trace.emit(now, || TraceEvent::Note {
                                node: Some(node),
                                category: "cpu".into(),
                                text: "IKE datagram dropped: CPU queue full".into(),
                            });
                        }
                        return None;
                    }
                    bytes_in = d.packet.payload.len() as u64;
                    handle_ike(&mut peers[i], now, &d.packet);
                    Some(i)
                }),
            };
            if let Some(i) = touched {
                let p = &mut peers[i];
                let out = &mut out_buf;
                p.take_transmits(out);
                // With a CPU model the answers leave when the work is done.
                if let Some(cpu) = &mut p.cpu
                    && !screened_out
                {
                    let delta: Vec<u64> = ike_model::crypto::dh::dh_ops()
                        .iter()
                        .zip(&dh_before)
                        .map(|(a, b)| a.1 - b.1)
                        .collect();
                    let bytes = bytes_in + out.iter().map(|o| o.2.len() as u64).sum::<u64>();
                    let msgs = u64::from(bytes_in > 0) + out.len() as u64;
                    let cost = cpu.cost(msgs, bytes, &delta);
                    let done = cpu.charge(now, cost);
                    sched.schedule_at(done, Ev::CpuFree { peer: i });
                    if done > now && !out.is_empty() {
                        sched.schedule_at(
                            done,
                            Ev::Release {
                                peer: i,
                                out: std::mem::take(out),
                            },
                        );
                    }
                }
                send_ike(
                    &mut built.net,
                    &mut sched,
                    &mut trace,
                    s.outputs.messages.then_some(&mut messages),
                    &addr_names,
                    (p.node, &p.name),
                    now,
                    out,
                );
                let evs = &mut evs_buf;
                p.take_events(evs);
                for (at, e) in evs.drain(..) {
                    trace.emit(at, || TraceEvent::Note {
                        node: Some(p.node),
                        category: "ike".into(),
                        text: describe(&e),
                    });
                    metrics.record(at, i as u32, e);
                }
                sched.set_timer(i as u32, p.poll_timeout());
            }
        }
        let metrics = metrics.finish()?;
        // ESP packets still scheduled to arrive are in flight; the others were lost.
        let events_processed = sched.processed();
        let mut travelling = BTreeSet::new();
        while let Some((_, ev)) = sched.pop() {
            if let Ev::Net(NetEvent::Arrive { packet, .. }) = ev {
                travelling.insert(packet.id);
            }
        }
        (metrics, events_processed, travelling)
    };
    dataplane.settle(&travelling);
    // The SAD of every peer at the end, as `swanctl --list-sas` would show it.
    if trace.level() != TraceLevel::Off {
        end_state::dump_sads(&peers, &mut trace, end);
    }
    let captured = built.net.finish_capture()?;
    if s.outputs.pcap {
        let v2 = decryption_table(peers.iter().flat_map(|p| &p.ep.key_log));
        write_atomic(out.join("ikev2_decryption_table"), v2.as_bytes())?;
        let v1 = decryption_table(
            peers
                .iter()
                .flat_map(|p| p.v1.iter().flat_map(|v| &v.key_log)),
        );
        write_atomic(out.join("ikev1_decryption_table"), v1.as_bytes())?;
    }
    metrics.finish_csvs()?;
    write_atomic(
        out.join("timeline.csv"),
        metrics.timeline_csv(end).as_bytes(),
    )?;
    if s.outputs.messages {
        messages.write(out)?;
    }
    dataplane.write_csv(out)?;
    if s.outputs.pcap {
        dataplane.write_esp_sa(out)?;
    }
    if s.outputs.trace {
        let mut f = AtomicFile::create(out.join("trace.log"))?;
        trace.write_text(&built.net.names(), &mut f)?;
        f.flush()?;
        f.commit()?;
    }
    // CPU utilisation per minute of the peers that have a CPU model.
    let mut cpu_json = serde_json::Map::new();
    if peers.iter().any(|p| p.cpu.is_some()) {
        let mut csv = String::from("minute_s,peer,utilisation\n");
        for p in &peers {
            if let Some(c) = &p.cpu {
                for (t, u) in c.per_minute() {
                    csv.push_str(&format!("{t},{},{u:.6}\n", p.name));
                }
                cpu_json.insert(p.name.clone(), c.summary());
            }
        }
        write_atomic(out.join("cpu.csv"), csv.as_bytes())?;
    }
    write_atomic(out.join("outages.csv"), metrics.outages_csv(end).as_bytes())?;
    // What the summary needs from the peers, then the peers and the network go before the
    // summary is built (a run of 10^5 tunnels should not hold both at its peak).
    let dropped_total: u64 = peers
        .iter()
        .map(|p| {
            p.ep.dropped_total() + p.v1.as_ref().map_or(0, |v| v.dropped.values().sum::<u64>())
        })
        .sum();
    let dups = end_state::duplicates(&peers, s.tunnels.len());
    drop(peers);
    drop(built);
    let est = metrics.establishment_times();
    let summary = json!({
        "scenario": s.name,
        "seed": seed,
        "fingerprint": trace.fingerprint(),
        "sim_time_s": secs(s.duration.as_nanos()),
        "events": events_processed,
        "tunnels": s.tunnels.len(),
        "tunnels_established": est.len(),
        "establishment_time": Spread::of(est.iter().map(|(_, d)| *d).collect()),
        "exchanges": metrics.exchanges_by_type(),
        "latency_by_exchange": metrics.latency_by_exchange(),
        "exchange_ends": metrics.exchange_ends(),
        "retransmissions": metrics.retransmissions(),
        "packets_captured": captured,
        "datagrams_dropped_by_endpoints": dropped_total,
        "dropped_by_reason": metrics.dropped_by_reason(),
        "commands_refused": commands_refused,
        "traffic": dataplane.summary(end),
        "duplicate_sas_at_end": dups,
    });
    let mut summary = summary;
    // Moved in, not copied (json! would serialise a Value into a new one).
    summary["rekeying"] = metrics.rekey_summary(end);
    if !cpu_json.is_empty() {
        summary["cpu"] = serde_json::Value::Object(cpu_json);
    }
    write_atomic(
        out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    if s.outputs.plots {
        crate::plot::plot_dir(out, &["svg", "png"])?;
    }
    Ok(RunReport {
        summary,
        events: events_processed,
        parallel,
    })
}

/// A Wireshark decryption table: the key-log lines of every peer, each once (both ends of
/// an SA log the same line), in first-seen order.
fn decryption_table<'a>(lines: impl Iterator<Item = &'a String>) -> String {
    let mut seen = BTreeSet::new();
    let mut table = String::new();
    for line in lines {
        if seen.insert(line) {
            table.push_str(line);
            table.push('\n');
        }
    }
    table
}

/// At a peer with a CPU, strongSwan's receiver thread screens IKE_SA_INIT and first Main or
/// Aggressive Mode messages as they arrive, before it queues a job: a COOKIE answer leaves
/// at once, and the half-open and job-load limits see the queue as it is now
/// ([`Endpoint::screen_datagram`], [`Endpoint1::screen_datagram`]). Whether the datagram
/// goes on to a core (at a peer without a CPU it always does).
fn screen_ike(p: &mut Peer, now: SimTime, packet: &Packet) -> bool {
    let (Some(cpu), Some((from, to, v1))) = (&p.cpu, ike_datagram(packet)) else {
        return true;
    };
    let queued = cpu.queue.len();
    if v1 {
        p.v1.as_mut()
            .is_none_or(|v1| v1.screen_datagram(now, from, to, &packet.payload, queued))
    } else {
        p.ep.screen_datagram(now, from, to, &packet.payload, queued)
    }
}

/// An IKE datagram's (source, destination, whether it is IKEv1: on 500, or on 4500 behind
/// the non-ESP marker); `None` if it is not UDP.
fn ike_datagram(packet: &Packet) -> Option<(SocketAddr, SocketAddr, bool)> {
    let Transport::Udp { src_port, dst_port } = packet.transport else {
        return None;
    };
    let v1 = if dst_port == NATT_PORT {
        packet.payload.starts_with(&[0, 0, 0, 0]) && is_ikev1(&packet.payload[4..])
    } else {
        is_ikev1(&packet.payload)
    };
    Some((
        SocketAddr::new(packet.src, src_port),
        SocketAddr::new(packet.dst, dst_port),
        v1,
    ))
}

/// Starts tunnel `tunnel` of `s` at its initiator `p`.
fn start_tunnel(p: &mut Peer, s: &Scenario, tunnel: usize, now: SimTime) {
    let spec = &s.tunnels[tunnel];
    let dst = s.peers[&spec.responder].address;
    match spec.version {
        ScenarioVersion::IKEv2 => p.ep.start_tunnel(now, tunnel as u32, dst),
        v => {
            if let Some(v1) = &mut p.v1 {
                v1.start_tunnel(
                    now,
                    tunnel as u32,
                    dst,
                    v == ScenarioVersion::IKEv1Aggressive,
                );
            }
        }
    }
}

/// Hands an IKE datagram that reached `p` to the right endpoint.
fn handle_ike(p: &mut Peer, now: SimTime, packet: &Packet) {
    if let Some((from, to, v1)) = ike_datagram(packet) {
        if v1 {
            if let Some(v1) = &mut p.v1 {
                v1.handle_datagram(now, from, to, &packet.payload);
            }
        } else {
            p.ep.handle_datagram(now, from, to, &packet.payload);
        }
    }
}

/// Puts a peer's IKE datagrams on the network (and in the trace and messages.csv).
#[allow(clippy::too_many_arguments)]
fn send_ike(
    net: &mut sim_core::Network,
    sched: &mut Scheduler<Ev>,
    trace: &mut Trace,
    mut messages: Option<&mut crate::messages::MessageLog>,
    addr_names: &BTreeMap<std::net::IpAddr, String>,
    (node, name): (NodeId, &str),
    now: SimTime,
    out: &mut Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
) {
    for (src, dst, payload) in out.drain(..) {
        trace.emit(now, || TraceEvent::Note {
            node: Some(node),
            category: "ike".into(),
            text: describe_message(src.port(), &payload),
        });
        let pkt = Packet::udp(src.ip(), src.port(), dst.ip(), dst.port(), payload);
        let logged = messages.as_ref().map(|_| pkt.payload.clone());
        let id = net.send(sched, trace, node, pkt);
        if let (Some(m), Some(payload)) = (messages.as_deref_mut(), logged) {
            let to = addr_names.get(&dst.ip()).map_or("?", String::as_str);
            m.sent(id, now, name, to, src.port(), &payload);
        }
    }
}

//! A run on two threads: the concentrator (the peer in the most tunnels) is simulated by
//! a thread of its own, every other peer by the calling thread, and each records the run's metrics while it waits for
//! the other ([`MergedRecorder`]). At 10^5 branches the two halves of the work are equal.
//!
//! It is conservative parallel simulation with lookahead (Chandy-Misra-Bryant, with the
//! clocks in shared memory instead of null messages): a datagram takes at least the
//! *lookahead* to get from a peer of one part to a peer of the other, so a part may take
//! every event due before the other part's clock plus the lookahead. Each part publishes
//! its clock, a time before which it will send nothing, and passes its datagrams for the
//! other part over a wait-free ring (rtrb) before it publishes a later clock.
//!
//! Outputs depend only on the scenario and the seed, never on how the threads ran: each
//! part takes its events in (time, timers first, then events in the order they were
//! scheduled) order as the sequential loop does, the datagrams of the other part at an
//! instant after its own and in the order the other part sent them, and the recorder
//! merges the parts' reports by time. They are those of the sequential loop unless two
//! things happen at the same nanosecond in both parts.
//!
//! Only a run where nothing is shared but the datagrams can be split: the network is
//! static (fixed-delay links, no middlebox, no capture: [`Network::static_delivery`]), and
//! there is no CPU model, traffic, command, trace or messages.csv ([`plan`] says which
//! stands in the way). Link counters are not kept, and a datagram lost on its way (no
//! route, TTL) counts no event.

use std::cmp::{Ordering as Order, Reverse};
use std::collections::BinaryHeap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};

use sim_core::trace::TraceLevel;
use sim_core::{Due, Duration, Network, NodeId, Packet, Scheduler, SimTime};

use super::{Peer, handle_ike};
use crate::metrics::{MergedRecorder, Metrics, PartRecorder};
use crate::scenario::Scenario;

/// Tunnels from which [`Engine::Auto`] splits a run that can be split. The events of a
/// smaller run are sparser than the lookahead, and the parts wait for each other: the IKEv2
/// bench of 10^4 tunnels took as long either way (3.5-4.1 s), on twice the CPU time.
pub const AUTO_MIN_TUNNELS: usize = 20_000;

/// Datagrams in flight from one part to the other before the sender waits (a few MB).
const RING: usize = 1 << 16;

/// How a run's events are taken: on one thread, or split in two parts ([`plan`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// In two parts when the run can be split, has a concentrator (a peer in at least half
    /// of the tunnels) and at least [`AUTO_MIN_TUNNELS`] tunnels, and the machine has two
    /// cores; else on one thread.
    #[default]
    Auto,
    /// On one thread.
    Sequential,
    /// In two parts; an error if the run cannot be split.
    Parallel,
}

/// How a run is split.
pub(super) struct Plan {
    /// The concentrator's index: part 0 is it, part 1 every other peer.
    hub: usize,
    /// The least time a datagram takes from a peer of one part to a peer of the other.
    lookahead: Duration,
}

impl Plan {
    /// The part that simulates peer `i`.
    fn part_of(&self, i: usize) -> usize {
        usize::from(i != self.hub)
    }
}

/// Whether `engine` splits the run of `s` over `peers`, and how; or why it cannot when it
/// must ([`Engine::Parallel`]).
pub(super) fn plan(
    engine: Engine,
    s: &Scenario,
    net: &Network,
    peers: &[Peer],
) -> Result<Option<Plan>, String> {
    if engine == Engine::Sequential {
        return Ok(None);
    }
    let why_not = || -> Result<Plan, &'static str> {
        if s.outputs.pcap || s.outputs.messages || s.outputs.trace_level != TraceLevel::Off {
            return Err("it writes a capture, messages.csv or a trace");
        }
        if s.peers.values().any(|p| p.cpu.is_some()) {
            return Err("a peer has a CPU model");
        }
        if s.tunnels.iter().any(|t| t.traffic.is_some()) {
            return Err("a tunnel carries traffic");
        }
        if !s.actions.is_empty() {
            return Err("it has commands (actions)");
        }
        if !net.is_static() {
            return Err(
                "its network is not static (a link with loss, jitter, bandwidth or \
                 duplication, or a middlebox)",
            );
        }
        // The concentrator: the peer in the most tunnels (the first such, in name order).
        let index: std::collections::BTreeMap<&str, usize> = peers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        let mut ends = vec![0usize; peers.len()];
        for t in &s.tunnels {
            for name in [&t.initiator, &t.responder] {
                if let Some(&i) = index.get(name.as_str()) {
                    ends[i] += 1;
                }
            }
        }
        let hub = (0..peers.len())
            .rev()
            .max_by_key(|&i| ends[i])
            .ok_or("it has no peers")?;
        if peers.len() < 2 {
            return Err("it has one peer");
        }
        // A part waiting for the other spins: on one core it would wait for the scheduler.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        if engine == Engine::Auto
            && (s.tunnels.len() < AUTO_MIN_TUNNELS || 2 * ends[hub] < s.tunnels.len() || cores < 2)
        {
            return Err("small, without a concentrator, or on one core");
        }
        let lookahead = lookahead(net, peers, hub).ok_or(
            "a datagram can get from the concentrator to another peer, or back, in no time",
        )?;
        Ok(Plan { hub, lookahead })
    };
    match (why_not(), engine) {
        (Ok(p), _) => Ok(Some(p)),
        (Err(_), Engine::Auto) => Ok(None),
        (Err(why), _) => Err(format!("this run cannot be split in two parts: {why}")),
    }
}

/// The least time a datagram takes between peer `hub` and any other peer, either way; `None`
/// if that is zero. Datagrams go only to peers' addresses (the network is static: no NAT).
fn lookahead(net: &Network, peers: &[Peer], hub: usize) -> Option<Duration> {
    let hub_node = peers[hub].node;
    let mut least: Option<Duration> = None;
    let mut probe = |from: NodeId, to: IpAddr| {
        let src = net.node(from).addrs.first().copied().unwrap_or(to);
        let mut p = Packet::udp(src, 500, to, 500, Vec::new());
        if let Some((_, at)) = net.static_delivery(from, SimTime::ZERO, &mut p) {
            let d = at - SimTime::ZERO;
            least = Some(least.map_or(d, |l| l.min(d)));
        }
    };
    for (i, p) in peers.iter().enumerate() {
        if i == hub {
            continue;
        }
        for &a in &net.node(p.node).addrs {
            probe(hub_node, a);
        }
        for &a in &net.node(hub_node).addrs {
            probe(p.node, a);
        }
    }
    least.filter(|d| *d > Duration::ZERO)
}

/// What a part's scheduler holds besides its peers' timers.
enum PartEv {
    /// Tunnel `tunnel` starts (its initiator is in this part).
    Start { tunnel: usize },
    /// A datagram reaches `node`.
    Deliver { node: NodeId, packet: Packet },
}

/// A datagram from the other part: due at `at`, the `seq`-th it sent.
struct Incoming {
    at: SimTime,
    seq: u64,
    node: NodeId,
    packet: Packet,
}

impl PartialEq for Incoming {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Incoming {}
impl PartialOrd for Incoming {
    fn partial_cmp(&self, o: &Self) -> Option<Order> {
        Some(self.cmp(o))
    }
}
impl Ord for Incoming {
    fn cmp(&self, o: &Self) -> Order {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// What both parts read: the run's fixed facts.
pub(super) struct Shared<'a> {
    /// The scenario (its tunnels' peers and addresses).
    pub s: &'a Scenario,
    /// The network, read only.
    pub net: &'a Network,
    /// The peer on each node.
    pub peer_on_node: &'a [Option<usize>],
    /// When each tunnel starts.
    pub starts: &'a [SimTime],
    /// The index of each tunnel's initiator.
    pub initiators: &'a [usize],
    /// Events after this are not taken.
    pub end: SimTime,
}

/// Runs the events of `peers` split as `plan` says; returns the metrics and the number
/// of events taken.
pub(super) fn run(
    plan: &Plan,
    sh: &Shared,
    peers: &mut [Peer],
    metrics: Metrics,
    names: std::sync::Arc<[String]>,
) -> anyhow::Result<(Metrics, u64)> {
    let (merged, [rec_0, rec_1]) = MergedRecorder::new(metrics, names);
    let clocks = [AtomicU64::new(0), AtomicU64::new(0)];
    let (to_1, from_0) = rtrb::RingBuffer::new(RING);
    let (to_0, from_1) = rtrb::RingBuffer::new(RING);
    // Each part holds its own peers, by index.
    let mut owned: [Vec<Option<&mut Peer>>; 2] = [Vec::new(), Vec::new()];
    for (i, p) in peers.iter_mut().enumerate() {
        let k = plan.part_of(i);
        owned[k].push(Some(p));
        owned[1 - k].push(None);
    }
    let [own_0, own_1] = owned;
    let parts = [
        Part::new(0, own_0, plan, sh, (to_1, from_1), rec_0),
        Part::new(1, own_1, plan, sh, (to_0, from_0), rec_1),
    ];
    // The branches' part runs on this thread, which allocated their state: what they free
    // is reused here, not left to a thread that will not allocate again.
    let [mut hub, mut rest] = parts;
    let events = std::thread::scope(|scope| {
        let (clocks, merged) = (&clocks, &merged);
        let other = std::thread::Builder::new()
            .name("part-0".into())
            .spawn_scoped(scope, move || hub.run(plan, sh, clocks, merged))?;
        let here = rest.run(plan, sh, clocks, merged);
        let there = other
            .join()
            .map_err(|_| anyhow::anyhow!("a simulating thread panicked"))?;
        anyhow::Ok(here + there)
    })?;
    // Its recorder hands over its last events when it goes.
    drop(rest);
    Ok((merged.finish(), events))
}

/// One part: its peers, its events and its end of the two channels.
struct Part<'a> {
    me: usize,
    peers: Vec<Option<&'a mut Peer>>,
    sched: Scheduler<PartEv>,
    /// Datagrams from the other part not yet due, earliest first.
    inbox: BinaryHeap<Reverse<Incoming>>,
    to_other: rtrb::Producer<Incoming>,
    from_other: rtrb::Consumer<Incoming>,
    sent: u64,
    recorder: PartRecorder,
}

impl<'a> Part<'a> {
    fn new(
        me: usize,
        peers: Vec<Option<&'a mut Peer>>,
        plan: &Plan,
        sh: &Shared,
        (to_other, from_other): (rtrb::Producer<Incoming>, rtrb::Consumer<Incoming>),
        recorder: PartRecorder,
    ) -> Self {
        let mut sched = Scheduler::new();
        for (t, at) in sh.starts.iter().enumerate() {
            if plan.part_of(sh.initiators[t]) == me {
                sched.schedule_at(*at, PartEv::Start { tunnel: t });
            }
        }
        Part {
            me,
            peers,
            sched,
            inbox: BinaryHeap::new(),
            to_other,
            from_other,
            sent: 0,
            recorder,
        }
    }

    /// Takes this part's events up to the end; returns how many.
    fn run(
        &mut self,
        plan: &Plan,
        sh: &Shared,
        clocks: &[AtomicU64; 2],
        merged: &MergedRecorder,
    ) -> u64 {
        let (mine, other) = (&clocks[self.me], &clocks[1 - self.me]);
        // However this part ends, even by a panic, the other must not wait for it.
        let _done = Done(mine);
        let look = plan.lookahead.as_nanos();
        // Events before `bound` are safe: the other part sends nothing that arrives before.
        let mut bound = SimTime::ZERO;
        let mut published = 0u64;
        let mut waits = 0u32;
        let lone = std::thread::available_parallelism().map_or(1, usize::from) < 2;
        let mut out: Vec<(SocketAddr, SocketAddr, Vec<u8>)> = Vec::new();
        let mut events = Vec::new();
        loop {
            let local = self.sched.peek_time().unwrap_or(SimTime::MAX);
            let mut next = local.min(self.next_incoming());
            if next >= bound {
                // The other part's clock first, then what it sent before it.
                let theirs = other.load(Ordering::Acquire);
                self.take_incoming();
                bound = SimTime(theirs.saturating_add(look));
                next = local.min(self.next_incoming());
            }
            // Nothing this part sends from now on leaves before this. (Stored only when it
            // moves: the other part reads the line, and each store takes it back.)
            let clock = next.min(bound).0;
            if clock != published {
                mine.store(clock, Ordering::Release);
                published = clock;
            }
            if next > sh.end && bound > sh.end {
                mine.store(u64::MAX, Ordering::Release);
                break;
            }
            if next >= bound || next > sh.end {
                // Waiting time is recording time.
                if waits.is_multiple_of(64) {
                    merged.record_some(32);
                }
                wait(&mut waits, lone);
                continue;
            }
            waits = 0;
            let (now, due) = if self.inbox.peek().is_some_and(|m| m.0.at < local) {
                // Straight from the inbox: it goes first.
                let Reverse(m) = self.inbox.pop().expect("peeked");
                self.sched.take_outside(m.at);
                let (node, packet) = (m.node, m.packet);
                (m.at, Due::Event(PartEv::Deliver { node, packet }))
            } else {
                // The other part's datagrams due now go after this part's own events of now.
                while self.inbox.peek().is_some_and(|m| m.0.at <= local) {
                    let Reverse(m) = self.inbox.pop().expect("peeked");
                    let (node, packet) = (m.node, m.packet);
                    self.sched
                        .schedule_at(m.at, PartEv::Deliver { node, packet });
                }
                self.sched.pop_due().expect("an event is due")
            };
            let touched = match due {
                Due::Timer(i) => {
                    self.peer(i as usize).handle_timeout(now);
                    Some(i as usize)
                }
                Due::Event(PartEv::Start { tunnel }) => {
                    let i = sh.initiators[tunnel];
                    super::start_tunnel(self.peer(i), sh.s, tunnel, now);
                    Some(i)
                }
                Due::Event(PartEv::Deliver { node, packet }) => sh.peer_on_node[node.0 as usize]
                    .inspect(|&i| {
                        handle_ike(self.peer(i), now, &packet);
                    }),
            };
            let Some(i) = touched else { continue };
            let p = self.peers[i].as_deref_mut().expect("a peer of this part");
            p.take_transmits(&mut out);
            p.take_events(&mut events);
            let (node, due) = (p.node, p.poll_timeout());
            for (at, e) in events.drain(..) {
                self.recorder.record(at, i as u32, e);
            }
            self.sched.set_timer(i as u32, due);
            for (src, dst, payload) in out.drain(..) {
                let mut packet = Packet::udp(src.ip(), src.port(), dst.ip(), dst.port(), payload);
                let Some((to, at)) = sh.net.static_delivery(node, now, &mut packet) else {
                    continue;
                };
                let theirs =
                    sh.peer_on_node[to.0 as usize].is_some_and(|j| plan.part_of(j) != self.me);
                if theirs {
                    self.sent += 1;
                    let mut m = Incoming {
                        at,
                        seq: self.sent,
                        node: to,
                        packet,
                    };
                    // Full: the other part takes its datagrams whenever it has caught up
                    // with this part's clock, which has not moved since; meanwhile this part
                    // takes its own (so two full rings cannot wait for each other). If the
                    // other part has finished, this arrives after the end: nobody needs it.
                    let mut waits = 0u32;
                    while let Err(rtrb::PushError::Full(back)) = self.to_other.push(m) {
                        if other.load(Ordering::Acquire) == u64::MAX {
                            break;
                        }
                        self.take_incoming();
                        m = back;
                        wait(&mut waits, lone);
                    }
                } else {
                    self.sched
                        .schedule_at(at, PartEv::Deliver { node: to, packet });
                }
            }
        }
        self.sched.processed()
    }

    /// When the earliest datagram from the other part in hand is due.
    fn next_incoming(&self) -> SimTime {
        self.inbox.peek().map_or(SimTime::MAX, |m| m.0.at)
    }

    /// Takes into the inbox what the other part has sent so far.
    fn take_incoming(&mut self) {
        while let Ok(m) = self.from_other.pop() {
            self.inbox.push(Reverse(m));
        }
    }

    fn peer(&mut self, i: usize) -> &mut Peer {
        self.peers[i].as_deref_mut().expect("a peer of this part")
    }
}

/// Publishes the end of a part's clock when the part stops taking events.
struct Done<'a>(&'a AtomicU64);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.store(u64::MAX, Ordering::Release);
    }
}

/// Waits a little for the other part: spins (it is usually microseconds away), and now and
/// then gives the core away, in case the other part is waiting for one; on one core
/// (`lone`) every time.
fn wait(waits: &mut u32, lone: bool) {
    // On one core the other part runs only when this one lets it.
    if lone || *waits % 4096 == 4095 {
        std::thread::yield_now();
    } else {
        // A few pauses between reads of the other part's clock, whose line it writes.
        for _ in 0..8 {
            std::hint::spin_loop();
        }
    }
    *waits = waits.wrapping_add(1);
}

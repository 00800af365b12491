//! A gateway's CPU for IKE: cores, a queue of datagrams waiting for one, and the cost of the
//! work (per message, per KiB encrypted, per Diffie-Hellman operation by group). The runner
//! handles a datagram when a core is free, charges what the endpoint did (the DH operations
//! counted by `ike_model::crypto::dh::dh_ops`) and releases the answers when the work ends.
//! Utilisation over time goes to `cpu.csv` and summary.json. `ikesim calibrate` measures
//! the cost table on the current machine.

use std::collections::VecDeque;
use std::time::Instant;

use ike_model::crypto::{DhGroup, DhPrivate};
use serde_json::json;
use sim_core::{Delivery, Duration, SimTime};

use crate::metrics::secs;
use crate::scenario::model::{CostTable, CpuSpec};

/// The name a cost table uses for a group.
pub fn group_name(g: DhGroup) -> String {
    format!("modp{}", g.bits())
}

/// One gateway's CPU during a run.
#[derive(Debug)]
pub struct Cpu {
    /// When each core is next free.
    cores: Vec<SimTime>,
    /// Datagrams waiting for a core, oldest first.
    pub queue: VecDeque<Delivery>,
    max_queue: usize,
    message: Duration,
    per_kib: Duration,
    /// Cost of one DH operation per group, in `DhGroup::ALL` order.
    dh: Vec<Duration>,
    /// Where the run ends: work counts up to here (in the total and per minute).
    end: SimTime,
    /// The work done, as it is charged: nothing is kept per item (a day at a concentrator
    /// has close to a million), only these sums.
    work: WorkSums,
    /// Datagrams dropped because the queue was full.
    pub dropped: u64,
    /// The longest the queue got.
    pub max_queued: usize,
}

/// Sums over the work items of a run.
#[derive(Debug, Default)]
struct WorkSums {
    /// Items charged.
    items: u64,
    /// Busy core-seconds before the end, summed item by item in the order charged.
    busy_s: f64,
    /// Busy core-nanoseconds per minute before the end.
    per_minute_ns: Vec<u64>,
    /// Busy core-nanoseconds per second (including work that runs past the end).
    per_second_ns: std::collections::BTreeMap<u64, u64>,
}

const MINUTE_NS: u64 = 60_000_000_000;
const SECOND_NS: u64 = 1_000_000_000;

/// Adds `[t, b)` (nanoseconds) to `bins` of `width` ns, split at their boundaries.
fn add_split(mut t: u64, b: u64, width: u64, mut add: impl FnMut(u64, u64)) {
    while t < b {
        let k = t / width;
        let next = ((k + 1) * width).min(b);
        add(k, next - t);
        t = next;
    }
}

impl Cpu {
    /// A CPU as `spec` describes it, in a run that ends at `end`.
    pub fn new(spec: &CpuSpec, end: SimTime) -> Self {
        let c: &CostTable = &spec.costs;
        Cpu {
            cores: vec![SimTime::ZERO; spec.cores.max(1) as usize],
            queue: VecDeque::new(),
            max_queue: spec.queue as usize,
            message: c.message,
            per_kib: c.per_kib,
            dh: DhGroup::ALL
                .iter()
                .map(|g| c.dh.get(&group_name(*g)).copied().unwrap_or_default())
                .collect(),
            end,
            work: WorkSums::default(),
            dropped: 0,
            max_queued: 0,
        }
    }

    /// Whether a core is free at `now`.
    pub fn idle_core(&self, now: SimTime) -> bool {
        self.cores.iter().any(|&t| t <= now)
    }

    /// Queues a datagram that found every core busy; false (dropped) when the queue is full.
    pub fn enqueue(&mut self, d: Delivery) -> bool {
        if self.queue.len() >= self.max_queue {
            self.dropped += 1;
            return false;
        }
        self.queue.push_back(d);
        self.max_queued = self.max_queued.max(self.queue.len());
        true
    }

    /// The cost of work that handled `messages` IKE messages of `bytes` in all and did the
    /// DH operations `dh_delta` (per group, in `DhGroup::ALL` order).
    pub fn cost(&self, messages: u64, bytes: u64, dh_delta: &[u64]) -> Duration {
        let mut ns = self.message.as_nanos() * messages + self.per_kib.as_nanos() * bytes / 1024;
        for (n, c) in dh_delta.iter().zip(&self.dh) {
            ns += n * c.as_nanos();
        }
        Duration::from_nanos(ns)
    }

    /// Puts `cost` of work on the core free soonest (from `now`); returns when it ends.
    pub fn charge(&mut self, now: SimTime, cost: Duration) -> SimTime {
        let (k, _) = self
            .cores
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| **t)
            .expect("at least one core");
        let start = self.cores[k].max(now);
        let end = start + cost;
        self.cores[k] = end;
        if cost > Duration::ZERO {
            self.count(start, end);
        }
        end
    }

    /// Adds the work item `[a, b)` to the sums.
    fn count(&mut self, a: SimTime, b: SimTime) {
        let w = &mut self.work;
        w.items += 1;
        let (a, b) = (a.as_nanos(), b.as_nanos());
        add_split(a, b, SECOND_NS, |k, ns| {
            *w.per_second_ns.entry(k).or_default() += ns;
        });
        let before_end = b.min(self.end.as_nanos());
        if before_end > a {
            w.busy_s += Duration::from_nanos(before_end - a).as_secs_f64();
            add_split(a, before_end, MINUTE_NS, |k, ns| {
                let k = k as usize;
                if w.per_minute_ns.len() <= k {
                    w.per_minute_ns.resize(k + 1, 0);
                }
                w.per_minute_ns[k] += ns;
            });
        }
    }

    /// Utilisation (0..1 of all cores) per minute up to the end: (minute start, share).
    /// Counted as the work is charged, split at minute boundaries.
    pub fn per_minute(&self) -> Vec<(f64, f64)> {
        let end_ns = self.end.as_nanos();
        let cores = self.cores.len() as f64;
        (0..end_ns.div_ceil(MINUTE_NS))
            .map(|m| {
                let ns = self
                    .work
                    .per_minute_ns
                    .get(m as usize)
                    .copied()
                    .unwrap_or(0);
                let start = m * MINUTE_NS;
                let span = ((start + MINUTE_NS).min(end_ns) - start) as f64 / 1e9;
                (
                    secs(start).parse().unwrap_or(0.0),
                    ns as f64 / 1e9 / (span * cores),
                )
            })
            .collect()
    }

    /// The busiest second: the share of all cores' time spent working in it.
    fn peak_second(&self) -> f64 {
        let cores = self.cores.len() as f64;
        self.work
            .per_second_ns
            .values()
            .map(|&ns| ns as f64 / 1e9 / cores)
            .fold(0.0, f64::max)
    }

    /// The summary.json entry of this CPU.
    pub fn summary(&self) -> serde_json::Value {
        let busy = self.work.busy_s;
        let span = self
            .end
            .saturating_since(SimTime::ZERO)
            .as_secs_f64()
            .max(1e-9);
        let peak = self.per_minute().iter().map(|x| x.1).fold(0.0, f64::max);
        json!({
            "cores": self.cores.len(),
            "busy_core_s": busy,
            "utilisation": busy / (span * self.cores.len() as f64),
            "peak_minute_utilisation": peak,
            "peak_second_utilisation": self.peak_second(),
            "max_queued": self.max_queued,
            "dropped_queue_full": self.dropped,
            "work_items": self.work.items,
        })
    }
}

/// Measures a cost table on this machine in Real mode: each DH group's key generation and
/// shared secret (full-length exponents, as strongSwan uses), AES-128-CBC + HMAC-SHA1 per KiB,
/// and a message's handling approximated by protecting and checking a 300-byte message twice.
pub fn calibrate() -> CostTable {
    let mut rng = sim_core::RngStreams::new(1).stream("calibrate");
    let time = |f: &mut dyn FnMut()| -> Duration {
        let t0 = Instant::now();
        let mut n = 0u64;
        while n < 3 || t0.elapsed().as_secs_f64() < 0.3 {
            f();
            n += 1;
        }
        Duration::from_nanos((t0.elapsed().as_nanos() / u128::from(n)) as u64)
    };
    let mut dh = std::collections::BTreeMap::new();
    for g in DhGroup::ALL {
        let peer = DhPrivate::generate(g, None, &mut rng);
        let per_pair = time(&mut || {
            let d = DhPrivate::generate(g, None, &mut rng);
            let _ = d.shared_secret(peer.public());
        });
        dh.insert(group_name(g), Duration::from_nanos(per_pair.as_nanos() / 2));
    }
    let keys = ike_model::esp::EspKeys {
        encr: ike_model::crypto::EncrAlg::AesCbc { key_bits: 128 },
        encr_key: ike_model::esp::KeyBytes::from_slice(&[7; 16]),
        integ: ike_model::crypto::IntegAlg::HmacSha1_96,
        integ_key: ike_model::esp::KeyBytes::from_slice(&[9; 20]),
    };
    let iv = [1u8; 16];
    let kib = vec![0u8; 1024];
    let per_kib = time(&mut || {
        let p = ike_model::esp::seal(&keys, 1, 1, &iv, 4, &kib).expect("seals");
        let _ = ike_model::esp::open(&keys, &p);
    });
    let msg = vec![0u8; 300];
    let message = time(&mut || {
        for _ in 0..2 {
            let p = ike_model::esp::seal(&keys, 1, 1, &iv, 4, &msg).expect("seals");
            let _ = ike_model::esp::open(&keys, &p);
        }
    });
    CostTable {
        message,
        per_kib,
        dh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(cores: u32, end: SimTime) -> Cpu {
        Cpu::new(
            &CpuSpec {
                cores,
                queue: 2,
                costs: CostTable::default(),
                costs_file: None,
            },
            end,
        )
    }

    fn at(ms: u64) -> SimTime {
        SimTime::ZERO + Duration::from_millis(ms)
    }

    #[test]
    fn utilisation_per_minute_splits_work_at_minute_boundaries_and_stops_at_the_end() {
        // The run ends at 170 s.
        let mut c = cpu(2, at(170_000));
        // 30 s of work from 45 s: 15 s in the first minute, 15 s in the second.
        c.charge(at(45_000), Duration::from_secs(30));
        // From 150 s to 210 s, past the end: 20 s count, in the third minute.
        c.charge(at(150_000), Duration::from_secs(60));
        let m = c.per_minute();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0], (0.0, 15.0 / 120.0));
        assert_eq!(m[1], (60.0, 15.0 / 120.0));
        // The last minute is 50 s long: 20 core-s of 100.
        assert_eq!(m[2], (120.0, 20.0 / 100.0));
        let s = c.summary();
        assert_eq!(s["busy_core_s"], 50.0, "30 s, and 20 s before the end");
        assert_eq!(s["utilisation"], 50.0 / 340.0);
        assert_eq!(s["peak_minute_utilisation"], 0.2);
        assert_eq!(s["work_items"], 2);
        // Every second from 150 s on has one core busy, the ones past the end too.
        assert_eq!(s["peak_second_utilisation"], 0.5);
    }

    #[test]
    fn work_goes_to_the_core_free_soonest_and_the_queue_is_bounded() {
        let mut c = cpu(2, at(60_000));
        let d = Duration::from_millis(10);
        assert_eq!(c.charge(at(0), d), at(10));
        assert!(c.idle_core(at(0)), "the second core is still free");
        assert_eq!(c.charge(at(0), d), at(10));
        assert!(!c.idle_core(at(5)));
        // Both busy until 10 ms: the next item starts then.
        assert_eq!(c.charge(at(5), d), at(20));
        assert!(c.idle_core(at(10)));
        // 30 core-ms of work, all in the first second of 2 cores.
        assert!((c.summary()["busy_core_s"].as_f64().unwrap() - 0.030).abs() < 1e-12);
        assert!((c.peak_second() - 0.015).abs() < 1e-12);
        // Work of no cost is not an item.
        c.charge(at(30), Duration::ZERO);
        assert_eq!(c.summary()["work_items"], 3);
        let p = sim_core::Packet::udp(
            "10.0.0.1".parse().unwrap(),
            500,
            "10.0.0.2".parse().unwrap(),
            500,
            vec![],
        );
        let d = |link| Delivery {
            node: sim_core::NodeId(0),
            link: sim_core::LinkId(link),
            packet: p.clone(),
        };
        assert!(c.enqueue(d(0)) && c.enqueue(d(1)));
        assert!(
            !c.enqueue(d(2)),
            "a third datagram does not fit a queue of 2"
        );
        assert_eq!((c.dropped, c.max_queued), (1, 2));
    }

    #[test]
    fn cost_adds_messages_bytes_and_dh_operations() {
        let c = cpu(1, at(1));
        // modp1024 is the second group of DhGroup::ALL (after modp768).
        assert_eq!(DhGroup::ALL[1], DhGroup::Modp1024);
        let cost = c.cost(2, 2048, &[0, 3, 0, 0, 0]);
        let us = crate::scenario::model::DEFAULT_COSTS_US;
        let want = 2 * us.0 + 2 * us.1 + 3 * us.2[1].1;
        assert_eq!(cost, Duration::from_micros(want));
    }
}

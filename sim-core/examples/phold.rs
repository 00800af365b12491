//! PHOLD, the standard discrete-event benchmark (Fujimoto 1990), on the ikesim engine and, in
//! the same process, on a bare `BinaryHeap` loop doing the same work.
//!
//! N logical processes start with M events each; handling an event schedules one new event
//! at now + lookahead + Exp(mean) for a uniformly random LP. Both loops draw from identically
//! seeded generators, so they handle exactly the same events; the ratio of their rates is the
//! engine's overhead over the cheapest possible queue.
//!
//! ```text
//! cargo run --release -p sim-core --example phold -- --lps 1000 --events-per-lp 1 --end 2000
//! ```
//! The last line printed is one JSON object.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use clap::Parser;
use rand::RngExt;
use rand_distr::{Distribution, Exp};
use sim_core::{Duration, RngStreams, Scheduler, SimRng, SimTime};

#[derive(Parser, Debug)]
#[command(about = "PHOLD benchmark of the ikesim event queue against a bare BinaryHeap")]
struct Args {
    /// Logical processes.
    #[arg(long, default_value_t = 1000)]
    lps: u32,
    /// Initial events per logical process.
    #[arg(long, default_value_t = 1)]
    events_per_lp: u32,
    /// Simulated end time, in seconds.
    #[arg(long, default_value_t = 2000.0)]
    end: f64,
    /// Fixed part of every delay (lookahead), in seconds.
    #[arg(long, default_value_t = 0.1)]
    lookahead: f64,
    /// Mean of the exponential part of every delay, in seconds.
    #[arg(long, default_value_t = 1.0)]
    mean: f64,
    /// Repetitions of each loop; the medians are reported.
    #[arg(long, default_value_t = 3)]
    reps: u32,
    /// Master seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

struct Workload {
    lps: u32,
    events_per_lp: u32,
    end: SimTime,
    lookahead: Duration,
    exp: Exp<f64>,
}

impl Workload {
    fn delay(&self, rng: &mut SimRng) -> Duration {
        self.lookahead + Duration::from_secs_f64(self.exp.sample(rng))
    }
}

/// The engine: `sim_core::Scheduler`, payload = destination LP.
fn run_engine(w: &Workload, rng: &mut SimRng) -> u64 {
    let n = (w.lps * w.events_per_lp) as usize;
    let mut q: Scheduler<u32> = Scheduler::with_capacity(n);
    for lp in 0..w.lps {
        for _ in 0..w.events_per_lp {
            let d = w.delay(rng);
            q.schedule_at(SimTime::ZERO + d, lp);
        }
    }
    let mut handled = 0u64;
    while let Some((t, _lp)) = q.pop() {
        if t > w.end {
            break;
        }
        handled += 1;
        let d = w.delay(rng);
        let dest = rng.random_range(0..w.lps);
        q.schedule_at(t + d, dest);
    }
    handled
}

/// The baseline: a bare binary heap of (time, sequence, LP), the least any engine must do.
fn run_baseline(w: &Workload, rng: &mut SimRng) -> u64 {
    let n = (w.lps * w.events_per_lp) as usize;
    let mut q: BinaryHeap<Reverse<(u64, u64, u32)>> = BinaryHeap::with_capacity(n);
    let mut seq = 0u64;
    for lp in 0..w.lps {
        for _ in 0..w.events_per_lp {
            let d = w.delay(rng);
            q.push(Reverse((d.as_nanos(), seq, lp)));
            seq += 1;
        }
    }
    let mut handled = 0u64;
    while let Some(Reverse((t, _, _lp))) = q.pop() {
        if t > w.end.as_nanos() {
            break;
        }
        handled += 1;
        let d = w.delay(rng);
        let dest = rng.random_range(0..w.lps);
        q.push(Reverse((t + d.as_nanos(), seq, dest)));
        seq += 1;
    }
    handled
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn main() {
    let a = Args::parse();
    let w = Workload {
        lps: a.lps.max(1),
        events_per_lp: a.events_per_lp.max(1),
        end: SimTime::ZERO + Duration::from_secs_f64(a.end),
        lookahead: Duration::from_secs_f64(a.lookahead),
        exp: Exp::new(1.0 / a.mean).expect("mean must be > 0"),
    };
    let streams = RngStreams::new(a.seed);
    let (mut engine_rates, mut base_rates) = (Vec::new(), Vec::new());
    let mut events = 0;
    for rep in 0..a.reps.max(1) {
        // Alternate the order so neither loop always runs on a warmer machine.
        let order = if rep % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for engine in order {
            let mut rng = streams.stream("phold");
            let start = Instant::now();
            let n = if engine {
                run_engine(&w, &mut rng)
            } else {
                run_baseline(&w, &mut rng)
            };
            let rate = n as f64 / start.elapsed().as_secs_f64();
            if events != 0 {
                assert_eq!(events, n, "engine and baseline must handle the same events");
            }
            events = n;
            let who = if engine { "engine  " } else { "baseline" };
            eprintln!("rep {rep} {who}: {n} events, {rate:.3e} events/s");
            if engine {
                engine_rates.push(rate);
            } else {
                base_rates.push(rate);
            }
        }
    }
    let (e, b) = (median(engine_rates), median(base_rates));
    println!(
        "{}",
        serde_json::json!({
            "lps": w.lps,
            "events_per_lp": w.events_per_lp,
            "end_s": a.end,
            "events": events,
            "reps": a.reps.max(1),
            "engine_events_per_s": e.round(),
            "baseline_events_per_s": b.round(),
            "ratio": (e / b * 1000.0).round() / 1000.0,
        })
    );
}

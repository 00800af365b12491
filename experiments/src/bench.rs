//! `ikesim bench`: the protocol-scale benchmark of the capacity issue. A concentrator and N
//! branches (hub-and-spoke), one IKEv2 tunnel per branch with strongSwan's default lifetimes
//! and jitter (IKE SA rekey ~4 h, CHILD_SA ~1 h), Modeled crypto, no traffic, trace off;
//! the branches come up over the first 10 minutes; sa_events.csv off (timeline.csv has the
//! SA counts). Reports wall time, events, peak memory and memory per tunnel as one JSON
//! line.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

/// What one benchmark run measured (the JSON line `ikesim bench` prints last).
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    /// `IKEv2`, or `IKEv1` (Main Mode + Quick Mode) with `--ikev1`.
    pub ike: &'static str,
    /// `parallel` if the run was split over two threads (`runner::Engine`), else
    /// `sequential`.
    pub engine: &'static str,
    /// Tunnels (branches).
    pub tunnels: u64,
    /// Simulated hours.
    pub sim_hours: f64,
    /// Engine events processed.
    pub events: u64,
    /// Tunnels up at the end.
    pub tunnels_established: u64,
    /// Wall-clock seconds of the run (building the network included).
    pub wall_s: f64,
    /// Peak resident memory of the process so far (VmHWM), bytes.
    pub peak_rss_bytes: u64,
    /// Peak resident memory above the process's before the run, per tunnel.
    pub bytes_per_tunnel: f64,
    /// Events per wall-clock second.
    pub events_per_s: f64,
    /// Tunnel-hours simulated per wall-clock second.
    pub tunnel_hours_per_s: f64,
}

/// The benchmark scenario for `tunnels` branches and `hours` hours (IKEv1 Main Mode tunnels
/// with `ikev1`, else IKEv2).
pub fn scenario_text(tunnels: u64, hours: f64, ikev1: bool) -> String {
    format!(
        r#"Scenario(
    name: "bench",
    description: "hub-and-spoke scale benchmark",
    duration: "{secs}s",
    crypto: Modeled,
    network: (
        shape: HubAndSpoke(hub: "hub", branch: "branch", branches: {tunnels}),
        forward: (delay: "20ms"),
    ),
    peers: {{
        "hub": (address: "203.0.113.1"),
        "branch": (address: "10.0.0.1", mobike: false),
    }},
    tunnels: [(initiator: "branch", responder: "hub", start_spread: "10m"{version})],
    outputs: (trace: false, trace_level: Off, messages: false, sa_events: false),
)"#,
        secs = (hours * 3600.0).round() as u64,
        version = if ikev1 { ", version: IKEv1Main" } else { "" },
    )
}

/// A line of `/proc/self/status` in bytes (`VmHWM`: peak resident set, `VmRSS`: now); 0
/// where unknown.
fn status_bytes(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// The process's peak resident set size (Linux `VmHWM`), bytes; 0 where unknown.
pub fn peak_rss_bytes() -> u64 {
    status_bytes("VmHWM:")
}

/// Runs the benchmark once, writing the run's outputs into `out`.
pub fn run_bench(
    tunnels: u64,
    hours: f64,
    ikev1: bool,
    engine: crate::runner::Engine,
    seed: u64,
    out: &Path,
) -> Result<BenchResult> {
    // The scenario text would name its own fields in the error; the user typed these flags.
    anyhow::ensure!(tunnels >= 1, "--tunnels must be at least 1");
    anyhow::ensure!(
        hours.is_finite() && (hours * 3600.0).round() >= 1.0,
        "--hours must be at least one simulated second (1/3600 h); got {hours}"
    );
    // Reset the peak to the current size (Linux: `5` to clear_refs), so each run of several
    // measures its own peak.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_bytes("VmRSS:");
    let s = crate::scenario::parse_scenario("bench.ron", &scenario_text(tunnels, hours, ikev1))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let t0 = Instant::now();
    let r = crate::runner::run_with(&s, seed, out, engine)?;
    let wall_s = t0.elapsed().as_secs_f64();
    let peak = peak_rss_bytes();
    Ok(BenchResult {
        ike: if ikev1 { "IKEv1" } else { "IKEv2" },
        engine: if r.parallel { "parallel" } else { "sequential" },
        tunnels,
        sim_hours: hours,
        events: r.events,
        tunnels_established: r.summary["tunnels_established"].as_u64().unwrap_or(0),
        wall_s,
        peak_rss_bytes: peak,
        bytes_per_tunnel: peak.saturating_sub(before) as f64 / tunnels.max(1) as f64,
        events_per_s: r.events as f64 / wall_s.max(1e-9),
        tunnel_hours_per_s: tunnels as f64 * hours / wall_s.max(1e-9),
    })
}

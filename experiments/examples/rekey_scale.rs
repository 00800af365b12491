//! Protocol-scale benchmark: N IKEv2 tunnels between two strongSwan-like gateways, CHILD_SA
//! rekey every ~60 s and IKE SA rekey every ~10 min (real crypto), for H simulated hours.
//! Prints tunnels x simulated hours per wall-clock second and peak memory per tunnel, for N
//! and for a baseline of N/10 tunnels run in the same process (medians of `--runs`).
//!
//! cargo run --release -p experiments --example rekey_scale -- --tunnels 200 --hours 1 --runs 3

use std::time::Instant;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn scenario(tunnels: u64, hours: u64) -> String {
    let life = r#"child_lifetime: StrongSwan(rekey_time: "60s", rand_time: "6s", hard: LifeTime("90s")),
            ike_lifetime: StrongSwan(rekey_time: "600s", rand_time: "60s", hard: OverTime("60s"), ike: true),
            mobike: false"#;
    let mut t = String::new();
    for k in 0..tunnels {
        let (hi, lo) = (k / 250, k % 250);
        t.push_str(&format!(
            "(initiator: \"a\", responder: \"b\", start: \"{}ms\", initiator_ts: [\"10.{hi}.{lo}.0/24\"], responder_ts: [\"172.{}.{lo}.0/24\"]),\n",
            k * 7,
            16 + hi
        ));
    }
    format!(
        r#"Scenario(
    duration: "{hours}h",
    network: (forward: (delay: "10ms")),
    peers: {{
        "a": (address: "10.99.0.1", {life}),
        "b": (address: "10.99.0.2", {life}),
    }},
    tunnels: [{t}],
    outputs: (trace: false),
)"#
    )
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// (tunnel-hours per second, events per second, established tunnels)
fn measure(tunnels: u64, hours: u64, seed: u64) -> (f64, f64, u64) {
    let s = experiments::scenario::parse_scenario("bench.ron", &scenario(tunnels, hours))
        .expect("generated scenario loads");
    let out = std::env::temp_dir().join(format!("ikesim-bench-{}", std::process::id()));
    let t0 = Instant::now();
    let r = experiments::runner::run(&s, seed, &out).expect("run");
    let wall = t0.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&out);
    let est = r.summary["tunnels_established"].as_u64().unwrap_or(0);
    ((tunnels * hours) as f64 / wall, r.events as f64 / wall, est)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n = arg("--tunnels", 200);
    let hours = arg("--hours", 1);
    let runs = arg("--runs", 3).max(1);
    let base_n = (n / 10).max(1);
    let rss0 = peak_rss_kib();
    let (mut big, mut small, mut ev) = (Vec::new(), Vec::new(), Vec::new());
    let mut established = 0;
    for r in 0..runs {
        let (b, _, _) = measure(base_n, hours, 100 + r);
        small.push(b);
        let (th, eps, est) = measure(n, hours, 100 + r);
        big.push(th);
        ev.push(eps);
        established = est;
    }
    let rss = peak_rss_kib().saturating_sub(rss0);
    let (big, small, ev) = (median(big), median(small), median(ev));
    println!(
        "{n} tunnels x {hours} h: {big:.1} tunnel-hours/s (baseline {base_n} tunnels: {small:.1}; ratio {:.2}), {:.0} events/s, peak memory {:.1} KiB/tunnel, {established}/{n} established",
        big / small,
        ev,
        rss as f64 / n as f64
    );
    println!(
        "{{\"tunnels\":{n},\"hours\":{hours},\"tunnel_hours_per_s\":{big:.2},\"baseline_tunnels\":{base_n},\"baseline_tunnel_hours_per_s\":{small:.2},\"ratio\":{:.3},\"events_per_s\":{:.0},\"peak_kib_per_tunnel\":{:.2}}}",
        big / small,
        ev,
        rss as f64 / n as f64
    );
}

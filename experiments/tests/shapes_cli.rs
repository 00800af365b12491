//! The network shapes as a user runs them: a hub with 20 branches (one behind an ISP that
//! blocks ESP), a full mesh, 40 remote-access clients behind one carrier-grade NAT, and a
//! hand-written topology file; template expansion and its errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use experiments::scenario::{load_scenario, parse_scenario};

fn run(name: &str, tag: &str) -> (PathBuf, serde_json::Value) {
    let out =
        std::env::temp_dir().join(format!("ikesim-shape-{name}-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let scenario = format!("{}/scenarios/{name}.ron", env!("CARGO_MANIFEST_DIR"));
    let o = Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(["run", &scenario, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (out, s)
}

/// traffic.csv as (tunnel, direction, offered, delivered).
fn traffic(out: &Path) -> Vec<(u32, String, u64, u64)> {
    std::fs::read_to_string(out.join("traffic.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().unwrap(),
                f[1].to_string(),
                f[2].parse().unwrap(),
                f[5].parse().unwrap(),
            )
        })
        .collect()
}

fn csv_rows(out: &Path, file: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(out.join(file))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

#[test]
fn a_hub_with_twenty_branches_carries_every_branch_but_the_blocked_one() {
    let (out, s) = run("hub-and-spoke", "a");
    assert_eq!(s["tunnels"], 20);
    assert_eq!(s["tunnels_established"], 20);
    // Tunnels are numbered in branch order; exchanges.csv names each branch.
    let ex = csv_rows(&out, "exchanges.csv");
    let auth_initiators: std::collections::BTreeSet<String> = ex
        .iter()
        .filter(|r| r[2] == "IKE_AUTH")
        .map(|r| format!("{}:{}", r[0], r[4]))
        .collect();
    assert!(
        auth_initiators.contains("0:branch-01"),
        "{auth_initiators:?}"
    );
    assert!(
        auth_initiators.contains("19:branch-20"),
        "{auth_initiators:?}"
    );
    // The branches start spread over 10 s, not all at once.
    let starts: Vec<f64> = ex
        .iter()
        .filter(|r| r[2] == "IKE_SA_INIT")
        .map(|r| r[6].parse().unwrap())
        .collect();
    let (lo, hi) = starts
        .iter()
        .fold((f64::MAX, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
    assert!(hi - lo > 5.0 && hi <= 10.0, "{lo}..{hi}");
    for (t, dir, offered, delivered) in traffic(&out) {
        assert!(offered > 1500, "{t} {dir}");
        if t == 6 {
            // branch-07's ISP blocks ESP: up, but nothing delivered either way.
            assert_eq!(delivered, 0, "{t} {dir}");
        } else {
            // 0.5 % loss per WAN link, two WAN links on the way.
            assert!(
                delivered as f64 > 0.97 * offered as f64,
                "{t} {dir}: {delivered}/{offered}"
            );
        }
    }
    // Equal seeds, equal files.
    let (again, _) = run("hub-and-spoke", "b");
    for f in [
        "summary.json",
        "exchanges.csv",
        "sa_events.csv",
        "traffic.csv",
        "trace.log",
    ] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f}"
        );
    }
    std::fs::remove_dir_all(out).unwrap();
    std::fs::remove_dir_all(again).unwrap();
}

#[test]
fn a_full_mesh_of_six_sites_has_a_tunnel_for_every_pair() {
    let (out, s) = run("full-mesh", "a");
    assert_eq!(s["tunnels"], 15);
    assert_eq!(s["tunnels_established"], 15);
    let pairs: std::collections::BTreeSet<(String, String)> = csv_rows(&out, "exchanges.csv")
        .iter()
        .filter(|r| r[2] == "IKE_AUTH")
        .map(|r| (r[4].clone(), r[5].clone()))
        .collect();
    assert_eq!(pairs.len(), 15);
    assert!(pairs.contains(&("site-1".to_string(), "site-2".to_string())));
    assert!(pairs.contains(&("site-5".to_string(), "site-6".to_string())));
    assert!(
        pairs.iter().all(|(i, r)| i < r),
        "the lower-numbered site initiates"
    );
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn forty_clients_behind_one_cgn_each_get_their_own_port_and_tunnel() {
    let (out, s) = run("remote-access", "a");
    assert_eq!(s["tunnels_established"], 40);
    // Every client's IKE leaves the CGN from 198.51.100.1 on a port of its own.
    let trace = std::fs::read_to_string(out.join("trace.log")).unwrap();
    let mut ports = std::collections::BTreeSet::new();
    for l in trace
        .lines()
        .filter(|l| l.contains("cgn->core") && l.contains("-> 203.0.113.10:4500"))
    {
        let src = l
            .split_whitespace()
            .find(|w| w.starts_with("198.51.100.1:"))
            .unwrap();
        ports.insert(src.to_string());
    }
    assert_eq!(ports.len(), 40, "one public UDP 4500 mapping per client");
    // Keepalives (1-byte UDP) keep the 30 s mappings alive: traffic flows to the end.
    assert!(trace.contains("UDP 29B"), "NAT-T keepalives were sent");
    assert!(!trace.contains("no mapping"), "no mapping expired");
    for (t, dir, offered, delivered) in traffic(&out) {
        assert!(offered > 50, "{t} {dir}");
        assert!(
            delivered as f64 >= 0.9 * offered as f64,
            "{t} {dir}: {delivered}/{offered}"
        );
    }
    // The gateway's CHILD_SA rekeys reach the clients through the NAT.
    assert!(
        s["exchanges"]["CREATE_CHILD_SA"]["success"]
            .as_u64()
            .unwrap()
            >= 120
    );
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn a_topology_file_is_read_beside_the_scenario_and_its_filter_applies() {
    let (out, s) = run("graph-file", "a");
    assert_eq!(s["tunnels_established"], 0);
    assert_eq!(s["exchanges"]["IKE_SA_INIT"]["success"], 1);
    assert_eq!(s["exchanges"]["IKE_AUTH"]["timeout"], 1);
    let trace = std::fs::read_to_string(out.join("trace.log")).unwrap();
    assert!(trace.contains("filtered by isp-2-filter (udp/4500 toward the site)"));
    // The branch gives up on IKE_AUTH after strongSwan's schedule (165.06 s after sending
    // it: five retransmissions 4 s x 1.8^n apart, then 4 x 1.8^5 s of waiting).
    let auth = csv_rows(&out, "exchanges.csv")
        .into_iter()
        .find(|r| r[2] == "IKE_AUTH")
        .unwrap();
    let (start, end): (f64, f64) = (auth[6].parse().unwrap(), auth[7].parse().unwrap());
    assert!((end - start - 165.06).abs() < 1e-6, "{start} -> {end}");
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn templates_expand_and_their_mistakes_are_named() {
    let base = |shape: &str, peers: &str, tunnels: &str, extra: &str| {
        format!(
            "Scenario(duration: \"1m\", network: (shape: {shape}{extra}), peers: {{{peers}}}, tunnels: [{tunnels}])"
        )
    };
    let good = base(
        "HubAndSpoke(hub: \"hub\", branch: \"br\", branches: 3)",
        "\"hub\": (address: \"203.0.113.1\"), \"br\": (address: \"198.18.0.254\")",
        "(initiator: \"br\", responder: \"hub\")",
        ", nat: { \"br\": (public: \"192.0.2.10\") }",
    );
    let s = parse_scenario("good.ron", &good).unwrap();
    let e = experiments::scenario::expand::expand(&s).unwrap();
    let names: Vec<&String> = e.peers.keys().collect();
    assert_eq!(names, ["br-1", "br-2", "br-3", "hub"]);
    assert_eq!(e.peers["br-3"].address.to_string(), "198.18.1.0");
    assert_eq!(e.network.nat["br-2"].public.to_string(), "192.0.2.11");
    assert_eq!(e.tunnels.len(), 3);
    assert_eq!(e.tunnels[2].initiator, "br-3");

    let missing = base(
        "HubAndSpoke(hub: \"hub\", branch: \"branch\", branches: 3)",
        "\"hub\": (address: \"203.0.113.1\"), \"br\": (address: \"198.18.0.1\")",
        "(initiator: \"br\", responder: \"hub\")",
        "",
    );
    let err = parse_scenario("bad.ron", &missing).unwrap_err().to_string();
    assert!(err.contains("template peer \"branch\""), "{err}");

    let overflow = base(
        "FullMesh(site: \"s\", sites: 3)",
        "\"s\": (address: \"255.255.255.254\")",
        "(initiator: \"s\", responder: \"s\")",
        "",
    );
    let err = parse_scenario("bad.ron", &overflow)
        .unwrap_err()
        .to_string();
    assert!(err.contains("past the end of the address space"), "{err}");

    let bad_filter = base(
        "HubAndSpoke(hub: \"hub\", branch: \"br\", branches: 3)",
        "\"hub\": (address: \"203.0.113.1\"), \"br\": (address: \"198.18.0.1\")",
        "(initiator: \"br\", responder: \"hub\")",
        ", filters: { \"br-4\": [(what: Esp)] }",
    );
    let err = parse_scenario("bad.ron", &bad_filter)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("network.filters.br-4") && err.contains("\"br-3\""),
        "{err}"
    );
}

#[test]
fn a_bad_topology_file_is_named_with_its_line() {
    let dir = std::env::temp_dir().join(format!("ikesim-topo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("net.ron"),
        "(\n  nodes: [(name: \"a\", role: Gateway)],\n  links: [(a: \"a\", b: \"b\", delay: \"1ms\")],\n)\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("s.ron"),
        r#"Scenario(duration: "1m", network: (shape: File("net.ron")),
            peers: {"a": (address: "192.0.2.1"), "b": (address: "192.0.2.2")},
            tunnels: [(initiator: "a", responder: "b")])"#,
    )
    .unwrap();
    let err = load_scenario(&dir.join("s.ron")).unwrap_err();
    assert!(err.file.ends_with("net.ron"), "{err}");
    assert_eq!(err.line, 3, "{err}");
    assert!(err.to_string().contains("delay"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn in_a_reboot_storm_the_cookie_threshold_costs_one_round_trip() {
    let path = format!("{}/scenarios/reboot-storm.ron", env!("CARGO_MANIFEST_DIR"));
    let storm = |threshold: u32| {
        let mut s = load_scenario(Path::new(&path)).unwrap();
        if let experiments::scenario::model::Shape::HubAndSpoke { branches, .. } =
            &mut s.network.shape
        {
            *branches = 120;
        }
        s.tunnels[0].start_spread = Some(sim_core::Duration::from_millis(100));
        s.peers.get_mut("hub").unwrap().cookie_threshold = Some(threshold);
        // The network and the cookie alone: no CPU cost.
        s.peers.get_mut("hub").unwrap().cpu = None;
        let out =
            std::env::temp_dir().join(format!("ikesim-storm-{threshold}-{}", std::process::id()));
        let r = experiments::runner::run(&s, 1, &out).unwrap();
        std::fs::remove_dir_all(out).unwrap();
        r.summary
    };
    let (with, without) = (storm(30), storm(1_000_000));
    for s in [&with, &without] {
        assert_eq!(s["tunnels_established"], 120);
    }
    // 1200 branches a second, each half-open for a round trip (62.4 ms): about 75 at once,
    // past the threshold of 30, so most branches are sent a COOKIE.
    let cookies = with["exchanges"]["IKE_SA_INIT"]["refused:COOKIE"]
        .as_u64()
        .unwrap();
    assert!(cookies > 60, "{cookies}");
    assert!(
        without["exchanges"]["IKE_SA_INIT"]
            .get("refused:COOKIE")
            .is_none()
    );
    // Four one-way trips (4 x 31.2 ms) without; a COOKIE adds a round trip.
    let median = |s: &serde_json::Value| s["establishment_time"]["median_s"].as_f64().unwrap();
    assert!(
        (median(&without) - 0.1248).abs() < 1e-9,
        "{}",
        median(&without)
    );
    assert!((median(&with) - 0.1872).abs() < 1e-9, "{}", median(&with));
}

/// `ikesim bench` with `args` into a fresh folder named for `tag`: (the folder, what the
/// command did).
fn bench_command(tag: &str, args: &[&str]) -> (PathBuf, std::process::Output) {
    let out = std::env::temp_dir().join(format!("ikesim-bench-{tag}-{}", std::process::id()));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .arg("bench")
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    (out, o)
}

/// Runs `ikesim bench` with `args` into a fresh folder named for `tag`: (the folder, the
/// JSON of its last line, its summary.json).
fn bench(tag: &str, args: &[&str]) -> (PathBuf, serde_json::Value, serde_json::Value) {
    let (out, o) = bench_command(tag, args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let j = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let summary =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (out, j, summary)
}

#[test]
fn the_scale_benchmark_runs_and_its_numbers_hang_together() {
    let (out, j, summary) = bench("v2", &["--tunnels", "20", "--hours", "2"]);
    assert_eq!(j["tunnels"], 20);
    assert_eq!(j["sim_hours"], 2.0);
    assert_eq!(j["tunnels_established"], 20);
    // Two hours of strongSwan defaults: setup plus about two CHILD_SA rekeys per tunnel.
    // Each message is at least one event (its arrival; the hops between go without one),
    // and each tunnel's start is one.
    let events = j["events"].as_u64().unwrap();
    let exchanges = std::fs::read_to_string(out.join("exchanges.csv"))
        .unwrap()
        .lines()
        .count() as u64
        - 1;
    assert!(exchanges >= 20 * 4, "{exchanges}");
    assert!(
        (2 * exchanges + 20..20 * 2000).contains(&events),
        "{events}"
    );
    let per_tunnel = j["bytes_per_tunnel"].as_f64().unwrap();
    assert!((0.0..10e6).contains(&per_tunnel), "{per_tunnel}");
    assert!(j["peak_rss_bytes"].as_u64().unwrap() > 0);
    let (wall, eps) = (
        j["wall_s"].as_f64().unwrap(),
        j["events_per_s"].as_f64().unwrap(),
    );
    assert!(
        (eps * wall - events as f64).abs() < 1.0,
        "events_per_s is events / wall_s"
    );
    // Modeled crypto and no messages.csv in the benchmark's run.
    assert_eq!(summary["scenario"], "bench");
    assert!(!out.join("messages.csv").exists());
    assert_eq!(j["ike"], "IKEv2");
    // Below 20,000 tunnels `auto` takes the events on one thread.
    assert_eq!(j["engine"], "sequential");
    std::fs::remove_dir_all(out).unwrap();
}

/// Flags that would make an empty benchmark are refused with the flag's name, not with
/// an error about the scenario text the benchmark builds from them.
#[test]
fn the_scale_benchmark_refuses_an_empty_run_by_its_flags() {
    for (args, flag) in [
        (["--tunnels", "0", "--hours", "1"], "--tunnels"),
        (["--tunnels", "5", "--hours", "0.0001"], "--hours"),
    ] {
        let (out, o) = bench_command("empty", &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?}");
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(!err.contains("bench.ron"), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?}: no run, no folder");
    }
}

#[test]
fn the_scale_benchmark_runs_ikev1_tunnels_too() {
    let (out, j, summary) = bench("v1", &["--ikev1", "--tunnels", "10", "--hours", "2"]);
    assert_eq!(j["ike"], "IKEv1");
    assert_eq!(j["tunnels_established"], 10);
    // Main Mode and Quick Mode per branch, then about hourly Quick Mode rekeys.
    assert_eq!(summary["exchanges"]["MAIN_MODE"]["success"], 10);
    assert!(
        summary["rekeying"]["rekeys"]["rekey-child"]["success"]
            .as_u64()
            .unwrap()
            >= 10
    );
    std::fs::remove_dir_all(out).unwrap();
}

/// A hub of 300 IKEv1 branches re-authenticates each ISAKMP SA after about 2 h 51 min, so
/// by 4 h most old SAs have died at a SAD large enough to drop its dead in batches; the
/// debug build's index checks run after every call, and no dead SA may be seen at the end.
#[test]
fn a_large_ikev1_sad_drops_its_dead_in_batches_unseen() {
    let (out, _, summary) = bench("v1-300", &["--ikev1", "--tunnels", "300", "--hours", "4"]);
    assert_eq!(summary["tunnels_established"], 300);
    let main_mode = summary["exchanges"]["MAIN_MODE"]["success"]
        .as_u64()
        .unwrap();
    assert!(
        (500..=600).contains(&main_mode),
        "300 setups and most of 300 re-authentications, got {main_mode}"
    );
    // Only the re-authentications still overlapping at the end, not the dead ones.
    let dup = summary["duplicate_sas_at_end"]["ike"].as_u64().unwrap();
    assert!(dup < 10, "{dup} duplicate ISAKMP SAs at the end");
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn validate_counts_the_peers_and_tunnels_a_template_stands_for() {
    let scenario = format!("{}/scenarios/hub-and-spoke.ron", env!("CARGO_MANIFEST_DIR"));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(["validate", &scenario])
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("ok: hub-and-spoke, 21 peers, 20 tunnels"),
        "{text}"
    );
}

/// Runs scenario `text` with `ikesim run` into a fresh folder named for `tag`, beside
/// `files` (name, contents) it may refer to.
fn run_text(text: &str, tag: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ikesim-text-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, contents) in files {
        std::fs::write(dir.join(name), contents).unwrap();
    }
    let file = dir.join("scenario.ron");
    std::fs::write(&file, text).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(["run", file.to_str().unwrap(), "--out"])
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    dir.join("out")
}

/// A topology where two gateways' first messages reach the hub at the same nanosecond over
/// paths of different shape: `a`'s last hop (30 ms) is longer than `b`'s (5 ms). Taken
/// without events of their own, both arrivals are scheduled when sent (`b`'s first); taken
/// hop by hop, when they reach the last router (`a`'s first). The hub answers them in that
/// order, drawing its SPIs from one stream, so which SA gets which SPI shows the order.
const TIE_TOPOLOGY: &str = r#"(
    nodes: [
        (name: "hub", role: Gateway),
        (name: "a", role: Gateway),
        (name: "b", role: Gateway),
        (name: "r1"),
        (name: "r2"),
    ],
    links: [
        (a: "a", b: "r1", params: (delay: "5ms")),
        (a: "r1", b: "hub", params: (delay: "30ms")),
        (a: "b", b: "r2", params: (delay: "40ms")),
        (a: "r2", b: "hub", params: (delay: "5ms")),
    ],
)"#;

/// The scenario on [`TIE_TOPOLOGY`]: `b` starts at 0, `a` at 10 ms, both IKE_SA_INITs
/// arrive at 45 ms.
fn tie_scenario(outputs: &str) -> String {
    format!(
        r#"Scenario(
    name: "tie",
    description: "two IKE_SA_INITs reach the hub at the same nanosecond",
    duration: "5s",
    network: (shape: File("tie-topology.ron")),
    peers: {{
        "hub": (address: "192.0.2.1"),
        "a": (address: "198.51.100.1"),
        "b": (address: "203.0.113.1"),
    }},
    tunnels: [
        (initiator: "a", responder: "hub", start: "10ms"),
        (initiator: "b", responder: "hub", start: "0s"),
    ],
    outputs: ({outputs}, sa_events: true),
)"#
    )
}

#[test]
fn tracing_changes_no_result_and_the_trace_stays_in_time_order() {
    // The bench's hub and branches: fixed-delay links through plain routers, so most hops
    // are taken without an event of their own (and traced at their own time).
    let base = experiments::bench::scenario_text(200, 6.0, false);
    let quiet = "outputs: (trace: false, trace_level: Off, messages: false, sa_events: false)";
    assert!(base.contains(quiet));
    let with = |o: &str| base.replace(quiet, o);
    let off = run_text(
        &with("outputs: (trace: false, trace_level: Off, sa_events: true)"),
        "trace-off",
        &[],
    );
    let on = run_text(
        &with("outputs: (trace: true, trace_level: Full, sa_events: true)"),
        "trace-on",
        &[],
    );
    for f in [
        "exchanges.csv",
        "sa_events.csv",
        "timeline.csv",
        "outages.csv",
    ] {
        assert_eq!(
            std::fs::read(off.join(f)).unwrap(),
            std::fs::read(on.join(f)).unwrap(),
            "{f}"
        );
    }
    let trace = std::fs::read_to_string(on.join("trace.log")).unwrap();
    let times: Vec<f64> = trace
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "trace.log in time order"
    );
    // Every hop is in the trace, the core's too.
    assert!(
        trace.contains("core->isp-hub send"),
        "hops past the first are traced"
    );
    // A same-nanosecond tie that express hops decide: with the trace on, the hops must be
    // taken as with it off, or the hub hands out its SPIs in the other order.
    let files = [("tie-topology.ron", TIE_TOPOLOGY)];
    let tie_off = run_text(
        &tie_scenario("trace: false, trace_level: Off"),
        "tie-off",
        &files,
    );
    let tie_on = run_text(
        &tie_scenario("trace: true, trace_level: Full"),
        "tie-on",
        &files,
    );
    let tie_trace = std::fs::read_to_string(tie_on.join("trace.log")).unwrap();
    assert_eq!(
        tie_trace.matches("0.045000000 hub        recv").count(),
        2,
        "both IKE_SA_INITs arrive at 45 ms"
    );
    for f in ["sa_events.csv", "exchanges.csv"] {
        assert_eq!(
            std::fs::read(tie_off.join(f)).unwrap(),
            std::fs::read(tie_on.join(f)).unwrap(),
            "{f} of the tie"
        );
    }
    for d in [off, on, tie_off, tie_on] {
        std::fs::remove_dir_all(d.parent().unwrap()).unwrap();
    }
}

/// The end of a rekeyed CHILD_SA's 5 s inbound linger is an event of its own only when the
/// run shows it (here: in sa_events.csv). Without, the same bench run takes one event fewer
/// per linger and gives the same results.
#[test]
fn unseen_linger_ends_take_no_events_and_change_no_result() {
    let base = experiments::bench::scenario_text(200, 12.0, false);
    let quiet = "outputs: (trace: false, trace_level: Off, messages: false, sa_events: false)";
    assert!(base.contains(quiet));
    let shown = base.replace(
        quiet,
        "outputs: (trace: false, trace_level: Off, messages: false, sa_events: true)",
    );
    let unseen = run_text(&base, "linger-unseen", &[]);
    let seen = run_text(&shown, "linger-seen", &[]);
    for f in ["exchanges.csv", "timeline.csv", "outages.csv"] {
        assert_eq!(
            std::fs::read(unseen.join(f)).unwrap(),
            std::fs::read(seen.join(f)).unwrap(),
            "{f}"
        );
    }
    let summary = |d: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap()).unwrap()
    };
    let (mut a, mut b) = (summary(&unseen), summary(&seen));
    let events = |s: &mut serde_json::Value| s.as_object_mut().unwrap().remove("events");
    let (fewer, more) = (events(&mut a).unwrap(), events(&mut b).unwrap());
    assert_eq!(a, b, "summary.json but for the event count");
    let lingers = std::fs::read_to_string(seen.join("sa_events.csv"))
        .unwrap()
        .matches(",inbound-removed,")
        .count() as u64;
    let saved = more.as_u64().unwrap() - fewer.as_u64().unwrap();
    // One wake-up per linger, but for those that fell due with other work of their peer.
    assert!(lingers > 1000, "{lingers}");
    assert!(
        saved <= lingers && saved * 10 >= lingers * 9,
        "{saved} of {lingers}"
    );
    for d in [unseen, seen] {
        std::fs::remove_dir_all(d.parent().unwrap()).unwrap();
    }
}

//! The bundled capacity scenario (a concentrator's day), shrunk to 40 branches and 3 hours
//! so it runs in a test: timeline.csv holds one row per minute whose rekey counts add up to
//! summary.json's, the hub (the responder) holds one IKE SA per branch, and the CPU files
//! are written while sa_events.csv, turned off, is not. Also: per-address half-open limits
//! behind a carrier-grade NAT, and an IKEv1 concentrator whose IPsec SAs do not multiply.
//! The bundled traffic scenario, shrunk likewise, loses no packet to its rekeys.

mod common;

use std::path::Path;

use experiments::scenario::parse_scenario;

/// The bundled scenario `name` with each (text, replacement) applied; every text must be
/// there, so a scenario edited out from under a test fails it instead of running unshrunk.
fn bundled_with(name: &str, changes: &[(&str, &str)]) -> String {
    let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut src = std::fs::read_to_string(&path).unwrap();
    for (from, to) in changes {
        assert!(src.contains(from), "{name} has no {from}");
        src = src.replace(from, to);
    }
    src
}

#[test]
fn a_small_concentrator_day_has_a_consistent_timeline() {
    let small = bundled_with(
        "concentrator-day.ron",
        &[
            ("branches: 10000", "branches: 40"),
            ("duration: \"24h\"", "duration: \"3h\""),
        ],
    );
    parse_scenario("concentrator-day.ron", &small).unwrap();
    let (dir, summary) = common::run_text(&small, "capacity");
    let out = dir.join("out");
    assert_eq!(summary["tunnels_established"], 40);
    let timeline = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    let rows: Vec<Vec<i64>> = timeline
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|f| f.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 180, "one row per minute of 3 hours");
    let sum = |c: usize| rows.iter().map(|r| r[c]).sum::<i64>();
    let rekeys = &summary["rekeying"]["rekeys"];
    assert_eq!(
        sum(2),
        rekeys["rekey-child"]["success"].as_i64().unwrap(),
        "CHILD_SA rekeys"
    );
    assert!(sum(2) >= 80, "40 tunnels rekey their CHILD_SA about hourly");
    let exchanges: u64 = summary["exchanges"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|m| m.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(sum(1) as u64, exchanges, "every exchange in some minute");
    // An hour in, every branch is up: one IKE SA at each end, one CHILD_SA (or two for
    // the few seconds of a rekey).
    for r in &rows[60..] {
        assert_eq!((r[4], r[5]), (40, 40), "IKE SAs at {} s", r[0]);
        assert!(
            (40..=44).contains(&r[6]) && (40..=44).contains(&r[7]),
            "{r:?}"
        );
    }
    assert!(Path::new(&out.join("cpu.csv")).exists());
    assert!(summary["cpu"]["hub"].is_object());
    assert!(!out.join("sa_events.csv").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs the remote-access scenario (40 clients behind one carrier-grade NAT address) with
/// every client logging on within 100 ms, and the gateway's half-open limits as given.
fn cgn_logon(limits: &str, tag: &str) -> serde_json::Value {
    let gw = "address: \"203.0.113.10\",";
    let changed = bundled_with(
        "remote-access.ron",
        &[
            ("start_spread: \"60s\"", "start_spread: \"100ms\""),
            (gw, &format!("{gw} {limits}")),
        ],
    );
    let (dir, s) = common::run_text(&changed, &format!("cgn-{tag}"));
    std::fs::remove_dir_all(&dir).unwrap();
    s
}

/// strongSwan's per-address limits bite when many clients share a NAT's address: COOKIEs
/// from the third half-open SA on, and from the fifth IKE_SA_INIT is dropped until some
/// finish. The blocked clients retransmit in step (same schedule, starts within 100 ms), so
/// each round lets a few in; a client whose retransmissions all land in a full round gives
/// up after 165 s.
#[test]
fn per_address_half_open_limits_slow_clients_behind_one_nat() {
    let free = cgn_logon("", "free");
    let limited = cgn_logon("cookie_threshold_ip: 3, block_threshold: 5,", "limited");
    let blocked = "per-IP half-open limit (block_threshold)";
    assert_eq!(free["tunnels_established"], 40);
    let up = limited["tunnels_established"].as_u64().unwrap();
    assert!((30..=40).contains(&up), "{up}");
    let gave_up = limited["exchanges"]["IKE_SA_INIT"]["timeout"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(up + gave_up, 40, "every client is up or gave up");
    assert!(
        free["dropped_by_reason"][blocked].is_null(),
        "{}",
        free["dropped_by_reason"]
    );
    let drops = limited["dropped_by_reason"][blocked].as_u64().unwrap_or(0);
    assert!(drops > 0, "{}", limited["dropped_by_reason"]);
    let init = |s: &serde_json::Value| {
        s["exchanges"]["IKE_SA_INIT"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum::<u64>()
    };
    let retrans = |s: &serde_json::Value| s["retransmissions"].as_u64().unwrap();
    assert!(
        retrans(&limited) > retrans(&free),
        "dropped requests are retransmitted"
    );
    assert!(init(&limited) >= init(&free));
    let max = |s: &serde_json::Value| s["establishment_time"]["max_s"].as_f64().unwrap();
    assert!(
        max(&limited) > max(&free) + 1.0,
        "the last client waits for retransmissions: {} vs {}",
        max(&limited),
        max(&free)
    );
    // A global limit of 10 half-open SAs drops too, with its own reason.
    let global = cgn_logon("half_open_limit: 10,", "global");
    assert!(global["tunnels_established"].as_u64().unwrap() >= 30);
    assert!(
        global["dropped_by_reason"]["half-open limit (init_limit_half_open)"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{}",
        global["dropped_by_reason"]
    );
}

/// An IKEv1 concentrator (Cisco/Juniper-style networks still run IKEv1): 40 branches for
/// 10 hours with strongSwan's default lifetimes at both ends. Each tunnel's IPsec SA is
/// rekeyed about hourly by whichever end comes first; the other end takes that Quick Mode
/// as the rekey (before, both ends rekeyed every SA and the SAs doubled each hour). Debug
/// builds also check the IKEv1 SAD index after every call.
#[test]
fn an_ikev1_concentrator_rekeys_each_ipsec_sa_once_per_lifetime() {
    let scenario = r#"Scenario(
    name: "ikev1-hub",
    description: "IKEv1 hub and spoke",
    duration: "10h",
    crypto: Modeled,
    network: (
        shape: HubAndSpoke(hub: "hub", branch: "branch", branches: 40),
        forward: (delay: "20ms"),
    ),
    peers: {
        "hub": (address: "203.0.113.1"),
        "branch": (address: "10.0.0.1", mobike: false),
    },
    tunnels: [(initiator: "branch", responder: "hub", start_spread: "10m", version: IKEv1Main)],
    outputs: (trace: false, trace_level: Off, messages: false, sa_events: false),
)"#;
    parse_scenario("ikev1-hub.ron", scenario).unwrap();
    let (dir, summary) = common::run_text(scenario, "ikev1-hub");
    let out = dir.join("out");
    assert_eq!(summary["tunnels_established"], 40);
    let rekeys = summary["rekeying"]["rekeys"]["rekey-child"]["success"]
        .as_u64()
        .unwrap();
    assert!(
        (360..=440).contains(&rekeys),
        "about one Quick Mode rekey per tunnel and hour, got {rekeys}"
    );
    assert!(summary["duplicate_sas_at_end"]["child"].as_u64().unwrap() <= 2);
    let timeline = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    for l in timeline.lines().skip(61) {
        let r: Vec<i64> = l.split(',').map(|f| f.parse().unwrap()).collect();
        // One IPsec SA per tunnel, two while the old one waits for its hard lifetime.
        assert!(
            (40..=80).contains(&r[6]) && (40..=80).contains(&r[7]),
            "IPsec SAs at {} s: {r:?}",
            r[0]
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The bundled concentrator with traffic, shrunk to 4 branches for 4 minutes with CHILD_SAs
/// rekeyed every minute: every ESP packet (Modeled: stand-in ICVs) is delivered or still in
/// flight at the end, across the rekeys.
#[test]
fn the_traffic_concentrator_loses_no_packet_to_its_rekeys() {
    assert!(bundled_with("concentrator-traffic.ron", &[]).contains("crypto: Modeled"));
    let small = bundled_with(
        "concentrator-traffic.ron",
        &[
            ("branches: 200", "branches: 4"),
            ("duration: \"30m\"", "duration: \"4m\""),
            ("rekey_time: \"10m\"", "rekey_time: \"60s\""),
            ("rand_time: \"1m\"", "rand_time: \"5s\""),
            ("LifeTime(\"11m\")", "LifeTime(\"90s\")"),
        ],
    );
    let (_dir, summary) = common::run_text(&small, "traffic-concentrator");
    assert_eq!(summary["tunnels_established"], 4);
    let rekeys = summary["rekeying"]["rekeys"]["rekey-child"]["success"]
        .as_u64()
        .unwrap();
    assert!(rekeys >= 8, "{rekeys} CHILD_SA rekeys under traffic");
    let flows = summary["traffic"].as_object().unwrap();
    assert_eq!(flows.len(), 8, "two directions of four tunnels");
    for (name, f) in flows {
        let c = &f["counters"];
        let n = |k: &str| c[k].as_u64().unwrap();
        assert!(n("offered") > 1700, "{name}: {c}");
        assert_eq!(
            n("delivered") + f["in_flight_at_end"].as_u64().unwrap(),
            n("offered"),
            "{name}: {c}"
        );
        assert_eq!(
            (n("bad_icv"), n("unknown_spi"), n("no_sa")),
            (0, 0, 0),
            "{name}"
        );
    }
}

/// The bundled reboot storm with 1,500 branches and one core, and the hub's peer settings
/// extended by `extra`: its summary.json.
fn storm(extra: &str, tag: &str) -> serde_json::Value {
    let changed = bundled_with(
        "reboot-storm.ron",
        &[
            ("branches: 500", "branches: 1500"),
            ("cpu: (cores: 2)", &format!("cpu: (cores: 1){extra}")),
        ],
    );
    let (dir, s) = common::run_text(&changed, &format!("storm-{tag}"));
    std::fs::remove_dir_all(&dir).unwrap();
    s
}

/// strongSwan's `init_limit_job_load`: the receiver drops IKE_SA_INIT while more jobs than
/// the limit wait for a worker. On one core the storm's queue fills to its 1,000 datagrams
/// and overflows; with a limit of 50 it stays near 50, the branches it admits are served
/// sooner, and those it drops wait for their retransmissions. Everyone gets in.
#[test]
fn a_job_load_limit_keeps_the_queue_short_in_a_storm() {
    let reason = "job load limit (init_limit_job_load)";
    let free = storm("", "free");
    let limited = storm(", job_load_limit: 50", "limited");
    for s in [&free, &limited] {
        assert_eq!(s["tunnels_established"], 1500);
    }
    assert!(free["dropped_by_reason"][reason].is_null());
    let drops = limited["dropped_by_reason"][reason].as_u64().unwrap_or(0);
    assert!(drops > 100, "{}", limited["dropped_by_reason"]);
    let cpu = |s: &serde_json::Value, k: &str| s["cpu"]["hub"][k].as_u64().unwrap();
    assert_eq!(cpu(&free, "max_queued"), 1000, "the queue fills");
    assert!(cpu(&free, "dropped_queue_full") > 0);
    // Only IKE_SA_INIT is held back: IKE_AUTH of admitted branches may still queue.
    let q = cpu(&limited, "max_queued");
    assert!((50..100).contains(&q), "{q}");
    assert_eq!(cpu(&limited, "dropped_queue_full"), 0);
    let est = |s: &serde_json::Value, k: &str| s["establishment_time"][k].as_f64().unwrap();
    assert!(est(&limited, "median_s") < est(&free, "median_s"));
    assert!(est(&limited, "max_s") > est(&free, "max_s"));
    let retrans = |s: &serde_json::Value| s["retransmissions"].as_u64().unwrap();
    assert!(retrans(&limited) > retrans(&free) + drops / 2);
}

/// The storm of IKEv1 branches (Main Mode): strongSwan screens a first Main Mode message by
/// the same limits as IKE_SA_INIT (there is no COOKIE in IKEv1). With the job-load limit the
/// queue stays short and every dropped Main Mode 1 is sent again, and counted: an exchange
/// reports the retransmissions of all its messages.
#[test]
fn an_ikev1_storm_meets_the_same_receiver_limits() {
    let run = |extra: &str, tag: &str| {
        let changed = bundled_with(
            "reboot-storm.ron",
            &[
                ("branches: 500", "branches: 1500"),
                ("cpu: (cores: 2)", &format!("cpu: (cores: 1){extra}")),
                (
                    "start_spread: \"1s\")",
                    "start_spread: \"1s\", version: IKEv1Main)",
                ),
            ],
        );
        let (dir, s) = common::run_text(&changed, &format!("storm-v1-{tag}"));
        std::fs::remove_dir_all(&dir).unwrap();
        s
    };
    let reason = "job load limit (init_limit_job_load)";
    let free = run("", "free");
    let limited = run(", job_load_limit: 50", "limited");
    for s in [&free, &limited] {
        assert_eq!(s["tunnels_established"], 1500);
        assert_eq!(s["exchanges"]["MAIN_MODE"]["success"], 1500);
    }
    assert!(free["dropped_by_reason"][reason].is_null());
    let drops = limited["dropped_by_reason"][reason].as_u64().unwrap_or(0);
    assert!(drops > 100, "{}", limited["dropped_by_reason"]);
    let cpu = |s: &serde_json::Value, k: &str| s["cpu"]["hub"][k].as_u64().unwrap();
    assert_eq!(cpu(&free, "max_queued"), 1000);
    assert!(cpu(&limited, "max_queued") < 300);
    assert_eq!(cpu(&limited, "dropped_queue_full"), 0);
    assert!(limited["retransmissions"].as_u64().unwrap() >= drops);
}

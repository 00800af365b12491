//! The ESP data plane as a user runs it: CHILD_SA rekeys under traffic lose nothing on a
//! lossless path; an ISP blocking ESP lets the tunnel come up but delivers nothing; forced
//! UDP encapsulation gets through; tshark decrypts our ESP with the esp_sa table we write
//! and finds every ICV correct.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(name: &str) -> (PathBuf, serde_json::Value) {
    common::run_bundled(name, &format!("esp-{name}"))
}

/// traffic.csv rows: direction and [offered, no_sa, sent, delivered, lost, unknown_spi,
/// bad_icv, in_flight].
fn traffic(out: &Path) -> Vec<(String, Vec<u64>)> {
    std::fs::read_to_string(out.join("traffic.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[1].to_string(),
                f[2..].iter().map(|x| x.parse().unwrap()).collect(),
            )
        })
        .collect()
}

#[test]
fn child_sa_rekeys_under_traffic_lose_no_packet() {
    let (out, s) = run("rekey-under-traffic");
    let sa = std::fs::read_to_string(out.join("sa_events.csv")).unwrap();
    assert!(
        sa.matches(",rekeyed,").count() >= 2,
        "the CHILD_SA was rekeyed: {sa}"
    );
    for (dir, c) in traffic(&out) {
        let (offered, delivered, in_flight) = (c[0], c[3], c[7]);
        assert!(offered > 2900, "{dir}");
        assert_eq!(
            delivered + in_flight,
            offered,
            "{dir}: every packet delivered"
        );
        assert_eq!((c[1], c[4], c[5], c[6]), (0, 0, 0, 0), "{dir}");
    }
    for v in s["traffic"].as_object().unwrap().values() {
        assert_eq!(v["outages"], 0);
        assert_eq!(v["undelivered"], 0);
    }
    if Command::new("tshark").arg("-v").output().is_ok() {
        let count = |filter: &str| {
            let o = Command::new("tshark")
                .env("WIRESHARK_CONFIG_DIR", &out)
                .args(["-r"])
                .arg(out.join("capture.pcap"))
                .args(["-Y", filter])
                .output()
                .unwrap();
            String::from_utf8_lossy(&o.stdout).lines().count()
        };
        let esp = count("esp");
        assert!(esp > 5000);
        assert_eq!(
            count("esp.icv_good == 1"),
            esp,
            "every ESP ICV verifies in Wireshark"
        );
        assert_eq!(
            count("udp.port == 4500"),
            0,
            "ESP over IP: no NAT, no encapsulation"
        );
        assert_eq!(count("_ws.malformed"), 0);
    }
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn blocked_esp_leaves_the_tunnel_up_and_delivers_nothing() {
    let (out, s) = run("block-esp");
    assert_eq!(s["tunnels_established"], 1);
    for (dir, c) in traffic(&out) {
        assert_eq!(c[3], 0, "{dir}: nothing delivered");
        assert_eq!(
            c[4] + c[7],
            c[2],
            "{dir}: everything sent was lost in the network"
        );
    }
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn forced_encapsulation_gets_through_an_esp_block() {
    let (out, _) = run("block-esp-encap");
    for (dir, c) in traffic(&out) {
        assert_eq!(c[3] + c[7], c[0], "{dir}: everything delivered in UDP 4500");
    }
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn behind_a_nat_keepalives_keep_the_tunnel_working_across_rekeys() {
    let (out, s) = run("nat-keepalive");
    let rekeys = s["exchanges"]["CREATE_CHILD_SA"]["success"]
        .as_u64()
        .unwrap();
    assert!(rekeys >= 4, "{rekeys} rekeys through the NAT");
    for (dir, c) in traffic(&out) {
        assert_eq!(
            c[3] + c[7],
            c[0],
            "{dir}: ESP in UDP 4500 through the NAT, all delivered"
        );
    }
    let trace = std::fs::read_to_string(out.join("trace.log")).unwrap();
    assert!(!trace.contains("no mapping"));
    // gw-b sees gw-a at the NAT's public address and mapped port.
    assert!(
        trace.contains("<-> 198.51.100.7:"),
        "{}",
        &trace[trace.len() - 600..]
    );
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn without_keepalives_the_nat_mapping_expires_and_the_trace_says_why() {
    let (out, s) = run("nat-no-keepalive");
    assert_eq!(s["exchanges"]["CREATE_CHILD_SA"]["timeout"], 1);
    let trace = std::fs::read_to_string(out.join("trace.log")).unwrap();
    assert!(trace.contains("dropped by nat-gw-a: no mapping for 198.51.100.7:"));
    // gw-b gave up its IKE SA; gw-a, which never heard of it, still holds its own.
    let sad: Vec<&str> = trace.lines().filter(|l| l.contains(" sad ")).collect();
    assert_eq!(sad.len(), 1, "{sad:?}");
    assert!(sad[0].contains("gw-a"));
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn the_blocking_matrix_has_one_row_per_field_problem() {
    let out = std::env::temp_dir().join(format!("ikesim-matrix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(["matrix", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("matrix.csv")).unwrap();
    let row = |name: &str| -> Vec<String> {
        csv.lines()
            .find(|l| l.starts_with(&format!("{name},")))
            .unwrap()
            .split(',')
            .map(String::from)
            .collect()
    };
    // scenario, tunnel_up, delivered i->r, delivered r->i, gave up at.
    assert_eq!(
        row("block-500")[1..5],
        ["false", "0/1991", "0/1991", "165.060000000"]
    );
    assert_eq!(row("block-500-one-way")[4], "165.060000000");
    assert_eq!(row("block-4500")[1], "false");
    assert_eq!(row("block-4500")[4], "165.100400000");
    assert_eq!(row("block-esp")[1..4], ["true", "0/291", "0/291"]);
    assert_eq!(row("block-esp-one-way")[2..4], ["0/291", "290/291"]);
    assert_eq!(row("block-esp-encap")[2..4], ["290/291", "290/291"]);
    assert_eq!(
        row("block-fragments")[1..5],
        ["false", "0/996", "0/996", "165.060000000"]
    );
    assert_eq!(row("nat-keepalive")[4], "-");
    assert_ne!(row("nat-no-keepalive")[4], "-");
    // The chart of experiment 4 is drawn beside the table.
    for chart in ["matrix.svg", "matrix.png"] {
        assert!(
            std::fs::metadata(out.join(chart)).unwrap().len() > 1000,
            "{chart}"
        );
    }
    std::fs::remove_dir_all(out).unwrap();
}

/// Liveness checks gw-b starts in a run of `name` with `dpd: "5s"` added to gw-b.
fn liveness_checks(name: &str) -> usize {
    let path = format!("{}/scenarios/{name}.ron", env!("CARGO_MANIFEST_DIR"));
    let mut s = experiments::scenario::load_scenario(std::path::Path::new(&path)).unwrap();
    s.peers.get_mut("gw-b").unwrap().dpd = Some(sim_core::Duration::from_secs(5));
    let out = std::env::temp_dir().join(format!("ikesim-dpd-{name}-{}", std::process::id()));
    experiments::runner::run(&s, 1, &out).unwrap();
    let ex = std::fs::read_to_string(out.join("exchanges.csv")).unwrap();
    std::fs::remove_dir_all(out).unwrap();
    ex.lines().filter(|l| l.contains(",dpd,gw-b,")).count()
}

#[test]
fn esp_counts_as_liveness_only_behind_a_nat() {
    // Behind a NAT, gw-a's ESP (1 pps over 300 s) tells gw-b it is alive: no DPD probe.
    let nat = liveness_checks("nat-keepalive");
    // ESP blocked, no NAT: DPD does not notice, and probes every 5 s of IKE silence
    // (30 s run); the answers come back over IKE, so the tunnel stays "up".
    let blocked = liveness_checks("block-esp");
    assert_eq!(nat, 0);
    assert!(blocked >= 4, "{blocked}");
}

#[test]
fn an_isp_dropping_ip_fragments_stops_a_large_ike_sa_init() {
    let (out, s) = run("block-fragments");
    assert_eq!(s["tunnels_established"], 0);
    assert_eq!(s["exchanges"]["IKE_SA_INIT"]["timeout"], 1);
    let trace = std::fs::read_to_string(out.join("trace.log")).unwrap();
    assert!(trace.contains("UDP 618B in 2 fragments: filtered by isp-gw-b-filter (fragments)"));
    std::fs::remove_dir_all(out).unwrap();
    // Without the filter the two fragments are reassembled and the tunnel comes up.
    let path = format!(
        "{}/scenarios/block-fragments.ron",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut sc = experiments::scenario::load_scenario(Path::new(&path)).unwrap();
    sc.network.filters.clear();
    let out = std::env::temp_dir().join(format!("ikesim-frag-ok-{}", std::process::id()));
    let r = experiments::runner::run(&sc, 1, &out).unwrap();
    assert_eq!(r.summary["tunnels_established"], 1);
    let trace = std::fs::read_to_string(out.join("trace.log")).unwrap();
    assert!(trace.contains(
        "isp-gw-a->isp-gw-b send    #1 10.99.0.1:500 -> 10.99.0.2:500 UDP 618B in 2 fragments"
    ));
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn per_sa_counters_show_each_rekeyed_sa_and_on_off_sources_pause() {
    // Its own folder: another test of this binary runs the same scenario at the same time.
    let path = format!(
        "{}/scenarios/rekey-under-traffic.ron",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut sc = experiments::scenario::load_scenario(Path::new(&path)).unwrap();
    let out = std::env::temp_dir().join(format!("ikesim-per-sa-{}", std::process::id()));
    experiments::runner::run(&sc, 1, &out).unwrap();
    let rows: Vec<Vec<String>> = std::fs::read_to_string(out.join("esp_sas.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    // Two rekeys: three SAs each way, one after the other.
    for dir in ["i->r", "r->i"] {
        let sas: Vec<&Vec<String>> = rows.iter().filter(|r| r[2] == dir).collect();
        assert_eq!(sas.len(), 3, "{dir}");
        let encrypted: u64 = sas.iter().map(|r| r[3].parse::<u64>().unwrap()).sum();
        assert_eq!(encrypted, 2981, "{dir}: every packet sent on some SA");
        for w in sas.windows(2) {
            let (end, next): (f64, f64) = (w[0][9].parse().unwrap(), w[1][8].parse().unwrap());
            assert!(
                end < next,
                "{dir}: the old SA stops carrying before the new one starts"
            );
        }
        // Nothing refused, nothing lost: only the last packet is still in flight.
        let not_decrypted: u64 = sas.iter().map(|r| r[7].parse::<u64>().unwrap()).sum();
        assert_eq!(not_decrypted, 1);
        assert!(sas.iter().all(|r| r[5] == "0" && r[6] == "0"));
    }
    std::fs::remove_dir_all(out).unwrap();
    // The same tunnel with an on/off source: 10 s on, 20 s off from 1 s.
    sc.tunnels[0].traffic.as_mut().unwrap().on_off = Some(experiments::scenario::model::OnOff {
        on: sim_core::Duration::from_secs(10),
        off: sim_core::Duration::from_secs(20),
        exponential: false,
    });
    let out = std::env::temp_dir().join(format!("ikesim-onoff-{}", std::process::id()));
    experiments::runner::run(&sc, 1, &out).unwrap();
    for (dir, c) in traffic(&out) {
        // On during [1,11), [31,41), [61,71), [91,101), [121,131): 5 x 200 packets.
        assert_eq!(c[0], 1000, "{dir}");
    }
    std::fs::remove_dir_all(out).unwrap();
}

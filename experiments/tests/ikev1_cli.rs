//! IKEv1 tunnels as a user runs them: the reference's Main Mode + Quick Mode (9 messages)
//! and Aggressive Mode + Quick Mode (6) at strongSwan's sizes, Quick Mode rekeys with the old
//! SA deleted at its hard lifetime, Cisco-style state names in the trace, duplicate IPsec SAs
//! after simultaneous Quick Modes counted in summary.json, and tshark decrypting our capture
//! with the ikev1_decryption_table we write.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(name: &str, tag: &str) -> (PathBuf, serde_json::Value) {
    common::run_bundled(name, &format!("v1-{tag}"))
}

/// (exchange, bytes) of every message, from messages.csv.
fn messages(out: &Path) -> Vec<(String, usize)> {
    std::fs::read_to_string(out.join("messages.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[3].to_string(), f[6].parse().unwrap())
        })
        .collect()
}

/// (HASH payloads tshark shows, malformed?) when tshark is installed.
fn tshark(out: &Path) -> Option<(usize, bool)> {
    Command::new("tshark").arg("-v").output().ok()?;
    let o = Command::new("tshark")
        .env("WIRESHARK_CONFIG_DIR", out)
        .arg("-r")
        .arg(out.join("capture.pcap"))
        .arg("-V")
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&o.stdout);
    Some((
        t.matches("Payload: Hash (8)").count(),
        t.contains("Malformed"),
    ))
}

#[test]
fn main_mode_quick_mode_and_rekeys_match_the_reference() {
    let (out, s) = run("ikev1-main", "main");
    let m = messages(&out);
    let sizes: Vec<usize> = m.iter().map(|x| x.1).collect();
    assert_eq!(&sizes[..9], &[180, 160, 372, 372, 108, 76, 172, 172, 60]);
    // Rekeys are Quick Modes of 172/172/60; IPsec deletes one-way Informationals of 76; the
    // re-authentication a Main Mode without INITIAL-CONTACT (MM5 76 bytes) and the old
    // ISAKMP SA's delete 92 bytes, as in the reference capture.
    let mm: Vec<usize> = m[9..]
        .iter()
        .filter(|x| x.0 == "MAIN_MODE")
        .map(|x| x.1)
        .collect();
    assert_eq!(mm, vec![180, 160, 372, 372, 76, 76]);
    for (ex, len) in &m[9..] {
        match ex.as_str() {
            "QUICK_MODE" => assert!([172, 60].contains(len)),
            "INFORMATIONAL_V1" => assert!([76, 92].contains(len)),
            "MAIN_MODE" => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!(
        m.iter()
            .filter(|x| x.0 == "INFORMATIONAL_V1" && x.1 == 92)
            .count(),
        1
    );
    assert_eq!(s["tunnels_established"], 1);
    assert_eq!(s["exchanges"]["MAIN_MODE"]["success"], 2);
    let trace = std::fs::read_to_string(out.join("trace.log")).unwrap();
    for st in [
        "IKE_I_MM1",
        "IKE_I_MM6",
        "IKE_P1_COMPLETE",
        "IKE_R_MM2",
        "IKE_R_MM6",
        "IKE_QM_I_QM1",
        "IKE_QM_R_QM2",
        "IKE_QM_PHASE2_COMPLETE",
        "QM_IDLE",
    ] {
        assert!(trace.contains(&format!("state {st}")), "{st}");
    }
    if let Some((hashes, malformed)) = tshark(&out) {
        assert!(!malformed);
        // Every encrypted message decrypted: MM5 and MM6 of both Main Modes, the Quick
        // Modes and the deletes.
        let encrypted = m.iter().filter(|x| x.0 != "MAIN_MODE").count() + 4;
        assert_eq!(hashes, encrypted);
    }
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn aggressive_mode_takes_three_messages_of_the_reference_sizes() {
    let (out, s) = run("ikev1-aggressive", "aggr");
    let sizes: Vec<usize> = messages(&out).iter().map(|x| x.1).collect();
    assert_eq!(sizes, vec![488, 540, 108, 172, 172, 60]);
    assert_eq!(s["exchanges"]["AGGRESSIVE_MODE"]["success"], 1);
    if let Some((hashes, malformed)) = tshark(&out) {
        assert!(!malformed);
        assert_eq!(
            hashes, 5,
            "HASH_R in the clear, HASH_I and the Quick Mode hashes decrypted"
        );
    }
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn simultaneous_quick_modes_leave_duplicates_that_the_summary_counts() {
    let (out, s) = run("ikev1-simultaneous-qm", "simul");
    assert_eq!(s["exchanges"]["QUICK_MODE"]["success"], 3);
    assert_eq!(
        s["duplicate_sas_at_end"]["child"], 2,
        "one extra IPsec SA at each peer"
    );
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn ikev1_runs_are_byte_identical_for_equal_seeds() {
    let (a, _) = run("ikev1-main", "det-a");
    let (b, _) = run("ikev1-main", "det-b");
    for f in [
        "summary.json",
        "exchanges.csv",
        "sa_events.csv",
        "messages.csv",
        "trace.log",
        "capture.pcap",
        "ikev1_decryption_table",
    ] {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    std::fs::remove_dir_all(a).unwrap();
    std::fs::remove_dir_all(b).unwrap();
}

#[test]
fn a_cisco_like_initiator_retransmits_every_10s_and_gives_up_at_60s() {
    let dir = std::env::temp_dir().join(format!("ikesim-v1-cisco-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("s.ron");
    std::fs::write(
        &scenario,
        r#"Scenario(
        duration: "2m",
        network: (forward: (delay: "5ms"), filters: { "b": [(what: Udp(Some(500)))] }),
        peers: { "a": (address: "192.0.2.1", preset: Cisco), "b": (address: "192.0.2.2") },
        tunnels: [(initiator: "a", responder: "b", version: IKEv1Main)],
    )"#,
    )
    .unwrap();
    let out = dir.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sent: Vec<String> = std::fs::read_to_string(out.join("messages.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    assert_eq!(
        sent,
        ["0", "10", "20", "30", "40", "50"].map(|s| format!("{s}.000000000"))
    );
    let ex = std::fs::read_to_string(out.join("exchanges.csv")).unwrap();
    let row: Vec<&str> = ex.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(
        (row[2], row[7], row[9], row[10]),
        ("MAIN_MODE", "60.000000000", "5", "timeout")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ikev1_through_a_nat_floats_to_4500_and_encapsulates_esp() {
    let (out, s) = run("ikev1-nat", "nat");
    assert_eq!(s["tunnels_established"], 1);
    // Main Mode 1-4 on 500; from Main Mode 5 on, everything on 4500 (RFC 3947 §4), with
    // the same IKE sizes as without a NAT (the non-ESP marker is not part of the message).
    let rows: Vec<Vec<String>> = std::fs::read_to_string(out.join("messages.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    let ports: Vec<&str> = rows.iter().map(|r| r[7].as_str()).collect();
    assert_eq!(&ports[..4], ["500"; 4]);
    assert!(ports[4..].iter().all(|p| *p == "4500"), "{ports:?}");
    let sizes: Vec<usize> = rows[..9].iter().map(|r| r[6].parse().unwrap()).collect();
    assert_eq!(sizes, [180, 160, 372, 372, 108, 76, 172, 172, 60]);
    // gw-b's Quick Mode rekeys reach gw-a through the NAT: the keepalives hold the mapping.
    assert!(s["exchanges"]["QUICK_MODE"]["success"].as_u64().unwrap() >= 5);
    let trace = std::fs::read_to_string(out.join("trace.log")).unwrap();
    // Keepalives every 20 s of silence until the traffic starts at 100 s, none after:
    // gw-a's ESP (1 pps) refreshes the mapping and postpones them.
    let keepalives: Vec<f64> = trace
        .lines()
        .filter(|l| {
            l.contains("gw-a->isp-gw-a") && l.contains("10.99.0.1:4500 -> 10.99.0.2:4500 UDP 29B")
        })
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(keepalives.len() >= 3, "{keepalives:?}");
    assert!(keepalives.iter().all(|t| *t < 100.0), "{keepalives:?}");
    assert!(!trace.contains("no mapping"));
    // ESP only ever travels in UDP.
    assert!(!trace.contains(" ESP "), "no plain ESP");
    let traffic = std::fs::read_to_string(out.join("traffic.csv")).unwrap();
    for l in traffic.lines().skip(1) {
        let f: Vec<u64> = l.split(',').skip(2).map(|x| x.parse().unwrap()).collect();
        assert_eq!(f[3] + f[7], f[0], "every packet delivered: {l}");
    }
    // tshark reads the marker, decrypts IKE and ESP, and finds every ICV correct.
    if Command::new("tshark").arg("-v").output().is_ok() {
        let o = Command::new("tshark")
            .env("WIRESHARK_CONFIG_DIR", &out)
            .arg("-r")
            .arg(out.join("capture.pcap"))
            .arg("-V")
            .output()
            .unwrap();
        let t = String::from_utf8_lossy(&o.stdout);
        assert!(!t.contains("Malformed"));
        assert!(t.contains("Encapsulation Mode: UDP-Encapsulated-Tunnel (3)"));
        assert!(t.matches("Payload: Hash (8)").count() >= 9);
        let esp = t.matches("ESP SPI:").count();
        assert!(esp > 350);
        assert_eq!(
            t.matches("<HMAC-SHA-1-96 [RFC2404]> [correct]").count(),
            esp
        );
    }
    std::fs::remove_dir_all(out).unwrap();
}

//! The rekey scenarios as a user runs them: the reference document's CHILD_SA rekey at
//! ~88 s, forced simultaneous rekeys over 300 ms, equal lifetimes without jitter, and the
//! PFS-mismatch outage cycle in sa_events.csv and summary.json; captures tshark verifies.

use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ikesim-rekey-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run(name: &str, out: &Path) -> serde_json::Value {
    let scenario = format!("{}/scenarios/{name}.ron", env!("CARGO_MANIFEST_DIR"));
    let o = Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(["run", &scenario, "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

fn rows(out: &Path, file: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(out.join(file))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

/// (ICVs `[correct]`, packets, anything malformed or incorrect), when tshark is here.
fn tshark(out: &Path) -> Option<(usize, usize, bool)> {
    Command::new("tshark").arg("-v").output().ok()?;
    let o = Command::new("tshark")
        .env("WIRESHARK_CONFIG_DIR", out)
        .arg("-r")
        .arg(out.join("capture.pcap"))
        .arg("-V")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    Some((
        text.matches("[correct]").count(),
        text.matches("\nFrame ").count() + usize::from(text.starts_with("Frame ")),
        text.contains("Malformed") || text.contains("incorrect"),
    ))
}

#[test]
fn child_sas_are_rekeyed_every_85_to_90_s_with_the_reference_sizes() {
    let out = tmp("88s");
    let s = run("child-rekey-88s", &out);
    let rekeys: Vec<f64> = rows(&out, "exchanges.csv")
        .iter()
        .filter(|r| r[3] == "rekey-child" && r[10] == "success")
        .map(|r| r[6].parse().unwrap())
        .collect();
    assert!(rekeys.len() >= 9, "{rekeys:?}");
    // Each peer rekeys the SA it installed 85-90 s later (whole seconds of jitter), so the
    // survivors follow each other at most 90 s apart.
    for w in rekeys.windows(2) {
        let gap = w[1] - w[0];
        assert!(gap <= 90.1, "{rekeys:?}");
    }
    assert!((84.9..=90.1).contains(&rekeys[0]), "{rekeys:?}");
    assert_eq!(s["duplicate_sas_at_end"]["child"], 0);
    assert_eq!(s["rekeying"]["no_usable_child_sa_s"], 0.0);
    if let Some((correct, packets, bad)) = tshark(&out) {
        assert!(!bad);
        assert_eq!(
            correct + 2,
            packets,
            "every packet after IKE_SA_INIT verifies"
        );
    }
    // The sizes of a rekey and its DELETE: 220/204 and 76/76, as strongSwan's.
    let cap = experiments::inspect::inspect(
        &out.join("capture.pcap"),
        &experiments::inspect::load_keys(&out).unwrap(),
    )
    .unwrap();
    let rekey = cap
        .iter()
        .position(|p| p.payloads.first().is_some_and(|x| x.starts_with("SK/192")))
        .unwrap();
    let lens: Vec<usize> = cap[rekey..rekey + 4].iter().map(|p| p.length).collect();
    assert_eq!(lens, vec![220, 204, 76, 76]);
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn forced_simultaneous_rekeys_are_resolved_by_the_nonce_rule() {
    let out = tmp("simul");
    let s = run("simultaneous-rekey", &out);
    let r = &s["rekeying"];
    assert_eq!(
        r["collisions"]["child"]["nonce rule: deleted our redundant SA"],
        1
    );
    assert_eq!(
        r["collisions"]["ike"]["nonce rule: deleted our redundant SA"],
        1
    );
    assert_eq!(r["extra_exchanges_from_collisions"], 4);
    assert_eq!(r["rekeys"]["rekey-child"]["success"], 2);
    assert_eq!(r["rekeys"]["rekey-ike"]["success"], 2);
    assert_eq!(
        s["duplicate_sas_at_end"],
        serde_json::json!({"ike": 0, "child": 0})
    );
    assert_eq!(r["no_usable_child_sa_s"], 0.0);
    // Both rekey requests crossed on the 300 ms path: each side answered the other's.
    let ex = rows(&out, "exchanges.csv");
    let child: Vec<(&str, &str)> = ex
        .iter()
        .filter(|r| r[3] == "rekey-child")
        .map(|r| (r[4].as_str(), r[8].as_str()))
        .collect();
    assert_eq!(child.len(), 2);
    assert!(
        child.iter().all(|(_, lat)| *lat == "0.600400000"),
        "{child:?}"
    );
    if let Some((correct, packets, bad)) = tshark(&out) {
        assert!(!bad);
        assert_eq!(
            correct + 2,
            packets,
            "three IKE SAs' keys decrypt everything"
        );
    }
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn equal_lifetimes_without_jitter_collide_and_still_settle() {
    let out = tmp("equal");
    let s = run("equal-lifetimes", &out);
    let r = &s["rekeying"];
    let child: u64 = r["collisions"]["child"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(child >= 10, "zero jitter makes collisions common: {r}");
    // sa_events.csv accounts for every SA: at the end each peer has one IKE SA and one
    // CHILD_SA that were installed and never deleted or expired.
    let sa = rows(&out, "sa_events.csv");
    for node in ["gw-a", "gw-b"] {
        for kind in ["ike", "child"] {
            let mut live = std::collections::BTreeSet::new();
            for r in sa.iter().filter(|r| r[1] == node && r[3] == kind) {
                match r[5].as_str() {
                    "installed" => assert!(live.insert(r[4].clone()), "{r:?}"),
                    "deleted" | "expired" => assert!(live.remove(&r[4]), "{r:?}"),
                    _ => {}
                }
            }
            assert_eq!(live.len(), 1, "{node} {kind}: {live:?}");
        }
    }
    assert_eq!(
        s["duplicate_sas_at_end"],
        serde_json::json!({"ike": 0, "child": 0})
    );
    assert_eq!(r["no_usable_child_sa_s"], 0.0);
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn a_pfs_mismatch_stops_traffic_every_lifetime_until_a_new_ike_sa() {
    let out = tmp("pfs");
    let s = run("pfs-mismatch", &out);
    let r = &s["rekeying"];
    assert_eq!(
        r["failed_rekeys_by_reason"]["refused:NO_PROPOSAL_CHOSEN"],
        5
    );
    assert_eq!(r["outages_by_tunnel"][0]["count"], 4);
    let sa = rows(&out, "sa_events.csv");
    let expiries: Vec<&str> = sa
        .iter()
        .filter(|r| r[1] == "srx" && r[3] == "child" && r[5] == "expired")
        .map(|r| r[0].as_str())
        .collect();
    assert_eq!(
        expiries,
        vec![
            "300.040800000",
            "600.081600000",
            "900.122400000",
            "1200.163200000"
        ]
    );
    // Each outage lasts until the new IKE SA's IKE_AUTH installs a CHILD_SA: two round trips.
    assert_eq!(r["outages_by_tunnel"][0]["longest_s"], 0.0408);
    let ike_sas: std::collections::BTreeSet<&str> = sa
        .iter()
        .filter(|r| r[3] == "ike")
        .map(|r| r[4].as_str())
        .collect();
    assert_eq!(ike_sas.len(), 5, "a new IKE SA every lifetime");
    if let Some((correct, packets, bad)) = tshark(&out) {
        assert!(!bad);
        assert_eq!(correct + 10, packets);
    }
    std::fs::remove_dir_all(out).unwrap();
}

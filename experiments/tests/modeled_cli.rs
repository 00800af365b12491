//! Modeled crypto (DESIGN.md's second mode) sends the same messages, of the same sizes, at
//! the same times as Real crypto for the same scenario and seed: only the Diffie-Hellman
//! values (and so the keys) differ.

use std::path::Path;

use experiments::scenario::load_scenario;
use experiments::scenario::model::CryptoMode;

fn outputs(name: &str, crypto: CryptoMode) -> std::path::PathBuf {
    outputs_with(name, crypto, true)
}

fn outputs_with(name: &str, crypto: CryptoMode, pcap: bool) -> std::path::PathBuf {
    let path = format!("{}/scenarios/{name}.ron", env!("CARGO_MANIFEST_DIR"));
    let mut s = load_scenario(Path::new(&path)).unwrap();
    s.crypto = crypto;
    s.outputs.pcap = pcap;
    let out = std::env::temp_dir().join(format!(
        "ikesim-mode-{name}-{crypto:?}-{pcap}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&out);
    experiments::runner::run(&s, 7, &out).unwrap();
    out
}

#[test]
fn modeled_and_real_runs_exchange_the_same_messages() {
    for name in [
        "simultaneous-rekey",
        "ikev1-main",
        "pfs-mismatch",
        "rekey-under-traffic",
        "cookie",
    ] {
        let (real, modeled) = (
            outputs(name, CryptoMode::Real),
            outputs(name, CryptoMode::Modeled),
        );
        for f in [
            "exchanges.csv",
            "messages.csv",
            "sa_events.csv",
            "traffic.csv",
            "trace.log",
        ] {
            assert_eq!(
                std::fs::read_to_string(real.join(f)).unwrap(),
                std::fs::read_to_string(modeled.join(f)).unwrap(),
                "{name}: {f}"
            );
        }
        // The keys differ (different DH values), so the decryption tables do.
        let table = if name.starts_with("ikev1") {
            "ikev1_decryption_table"
        } else {
            "ikev2_decryption_table"
        };
        assert_ne!(
            std::fs::read(real.join(table)).unwrap(),
            std::fs::read(modeled.join(table)).unwrap(),
            "{name}"
        );
        // The keys are still consistent: Wireshark decrypts and verifies Modeled captures
        // exactly as many ICVs as Real ones.
        if std::process::Command::new("tshark")
            .arg("-v")
            .output()
            .is_ok()
        {
            let verified = |dir: &Path| {
                let o = std::process::Command::new("tshark")
                    .env("WIRESHARK_CONFIG_DIR", dir)
                    .arg("-r")
                    .arg(dir.join("capture.pcap"))
                    .arg("-V")
                    .output()
                    .unwrap();
                let t = String::from_utf8_lossy(&o.stdout).into_owned();
                assert!(
                    !t.contains("Malformed") && !t.contains("incorrect"),
                    "{name}"
                );
                t.matches("[correct]").count()
            };
            assert_eq!(verified(&real), verified(&modeled), "{name}");
        }
        std::fs::remove_dir_all(real).unwrap();
        std::fs::remove_dir_all(modeled).unwrap();
    }
}

/// Without a capture, Modeled crypto also replaces AES-CBC and HMAC (IKEv2, ESP) and the
/// PRF, hash and AES-CBC of IKEv1 by stand-ins of the same lengths: still the same
/// messages, sizes and times as Real crypto.
#[test]
fn modeled_runs_without_a_capture_still_match_real_ones() {
    for name in [
        "simultaneous-rekey",
        "pfs-mismatch",
        "rekey-under-traffic",
        "ikev1-main",
        "ikev1-nat",
    ] {
        let (real, modeled) = (
            outputs_with(name, CryptoMode::Real, false),
            outputs_with(name, CryptoMode::Modeled, false),
        );
        for f in [
            "exchanges.csv",
            "messages.csv",
            "sa_events.csv",
            "traffic.csv",
            "trace.log",
        ] {
            let a = std::fs::read_to_string(real.join(f)).unwrap();
            if f != "traffic.csv" {
                assert!(a.lines().count() > 1, "{name}: {f} has rows");
            }
            assert_eq!(
                a,
                std::fs::read_to_string(modeled.join(f)).unwrap(),
                "{name}: {f}"
            );
        }
        // The ESP packets were modeled too, and every one was accepted (a stand-in ICV that
        // did not verify would count as bad_icv; one not made would not be delivered).
        let traffic = |dir: &Path| {
            let s: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                    .unwrap();
            s["traffic"].clone()
        };
        assert_eq!(traffic(&real), traffic(&modeled), "{name}");
        if name == "rekey-under-traffic" {
            for dir in ["0 i->r", "0 r->i"] {
                let c = &traffic(&modeled)[dir]["counters"];
                assert!(c["delivered"].as_u64().unwrap() > 2900, "{c}");
                assert_eq!(c["bad_icv"], 0, "{c}");
            }
        }
        std::fs::remove_dir_all(real).unwrap();
        std::fs::remove_dir_all(modeled).unwrap();
    }
}

/// A storm of `branches` branches within 200 ms at a hub with `cores` cores.
fn storm(
    branches: u32,
    cores: u32,
    crypto: CryptoMode,
    tag: &str,
) -> (std::path::PathBuf, serde_json::Value) {
    let path = format!("{}/scenarios/reboot-storm.ron", env!("CARGO_MANIFEST_DIR"));
    let mut s = load_scenario(Path::new(&path)).unwrap();
    if let experiments::scenario::model::Shape::HubAndSpoke { branches: b, .. } =
        &mut s.network.shape
    {
        *b = branches;
    }
    s.tunnels[0].start_spread = Some(sim_core::Duration::from_millis(200));
    s.peers.get_mut("hub").unwrap().cookie_threshold = None;
    s.peers.get_mut("hub").unwrap().cpu.as_mut().unwrap().cores = cores;
    s.crypto = crypto;
    let out = std::env::temp_dir().join(format!("ikesim-cpu-{tag}-{}", std::process::id()));
    let r = experiments::runner::run(&s, 3, &out).unwrap();
    (out, r.summary)
}

#[test]
fn a_busy_cpu_delays_answers_and_more_cores_remove_the_wait() {
    let (o1, one) = storm(400, 1, CryptoMode::Modeled, "one");
    let (o8, eight) = storm(400, 8, CryptoMode::Modeled, "eight");
    for s in [&one, &eight] {
        assert_eq!(s["tunnels_established"], 400);
        // Two MODP-1024 operations per tunnel at the hub (its key and the shared secret),
        // 677 us each, plus 3 us per message and per KiB: about 0.55 core-seconds.
        let busy = s["cpu"]["hub"]["busy_core_s"].as_f64().unwrap();
        assert!((0.54..0.58).contains(&busy), "{busy}");
    }
    // 400 branches in 200 ms need 0.54 s of one core: the queue builds and the median
    // branch waits; eight cores keep up.
    assert!(one["cpu"]["hub"]["max_queued"].as_u64().unwrap() > 50);
    assert!(
        one["cpu"]["hub"]["peak_second_utilisation"]
            .as_f64()
            .unwrap()
            > 0.5
    );
    let median = |s: &serde_json::Value| s["establishment_time"]["median_s"].as_f64().unwrap();
    assert!(median(&one) > 0.2, "{}", median(&one));
    assert!(median(&eight) < 0.13, "{}", median(&eight));
    std::fs::remove_dir_all(o1).unwrap();
    std::fs::remove_dir_all(o8).unwrap();
}

#[test]
fn the_cpu_model_charges_real_and_modeled_runs_alike() {
    let (real, r) = storm(40, 1, CryptoMode::Real, "real");
    let (modeled, m) = storm(40, 1, CryptoMode::Modeled, "modeled");
    assert_eq!(r["cpu"], m["cpu"]);
    for f in ["exchanges.csv", "sa_events.csv", "cpu.csv"] {
        assert_eq!(
            std::fs::read_to_string(real.join(f)).unwrap(),
            std::fs::read_to_string(modeled.join(f)).unwrap(),
            "{f}"
        );
    }
    std::fs::remove_dir_all(real).unwrap();
    std::fs::remove_dir_all(modeled).unwrap();
}

#[test]
fn calibrate_writes_a_cost_table_a_scenario_accepts() {
    let out = std::env::temp_dir().join(format!("ikesim-costs-{}.ron", std::process::id()));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(["calibrate", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let table: experiments::scenario::model::CostTable = ron::from_str(&text).unwrap();
    assert_eq!(table.dh.len(), 5, "{text}");
    assert!(table.dh.values().all(|d| *d > sim_core::Duration::ZERO));
    // Bigger groups cost more.
    assert!(table.dh["modp3072"] > table.dh["modp1024"], "{text}");
    // The same text works inside a scenario.
    let scenario = format!(
        "Scenario(duration: \"1m\", peers: {{\"a\": (address: \"10.0.0.1\", cpu: (cores: 2, costs: {text})), \"b\": (address: \"10.0.0.2\")}}, tunnels: [(initiator: \"a\", responder: \"b\")])"
    );
    experiments::scenario::parse_scenario("s.ron", &scenario).unwrap();
    // Or named from the scenario, relative to the scenario file's folder.
    let dir = std::env::temp_dir().join(format!("ikesim-costs-dir-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("tables")).unwrap();
    std::fs::copy(&out, dir.join("tables/here.ron")).unwrap();
    let named = |file: &str, inline: &str| {
        format!(
            "Scenario(duration: \"1m\", peers: {{\"a\": (address: \"10.0.0.1\", cpu: (cores: 2, costs_file: \"{file}\"{inline})), \"b\": (address: \"10.0.0.2\")}}, tunnels: [(initiator: \"a\", responder: \"b\")])"
        )
    };
    std::fs::write(dir.join("s.ron"), named("tables/here.ron", "")).unwrap();
    let s = experiments::scenario::load_scenario(&dir.join("s.ron")).unwrap();
    let cpu = s.peers["a"].cpu.as_ref().unwrap();
    assert_eq!(cpu.costs, table);
    assert_eq!(cpu.costs_file, None, "resolved");
    // A missing file and a table given twice are clear errors.
    std::fs::write(dir.join("bad.ron"), named("tables/nowhere.ron", "")).unwrap();
    let e = experiments::scenario::load_scenario(&dir.join("bad.ron"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nowhere.ron") && e.contains("costs_file"), "{e}");
    std::fs::write(
        dir.join("both.ron"),
        named("tables/here.ron", ", costs: (message: \"1ms\")"),
    )
    .unwrap();
    let e = experiments::scenario::load_scenario(&dir.join("both.ron"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not both"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_file(out).unwrap();
}

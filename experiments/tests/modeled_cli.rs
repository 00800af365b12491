//! Modeled crypto (DESIGN.md's second mode) sends the same messages, of the same sizes, at
//! the same times as Real crypto for the same scenario and seed: only the Diffie-Hellman
//! values (and so the keys) differ.

use std::path::Path;

use experiments::scenario::load_scenario;
use experiments::scenario::model::CryptoMode;

fn outputs(name: &str, crypto: CryptoMode) -> std::path::PathBuf {
    let path = format!("{}/scenarios/{name}.ron", env!("CARGO_MANIFEST_DIR"));
    let mut s = load_scenario(Path::new(&path)).unwrap();
    s.crypto = crypto;
    s.outputs.pcap = true;
    let out = std::env::temp_dir().join(format!(
        "ikesim-mode-{name}-{crypto:?}-{}",
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

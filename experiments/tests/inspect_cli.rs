//! `ikesim inspect` on the real strongSwan capture reads what Wireshark read: for every frame
//! the same exchange, message ID, flags, length and decrypted payload list as dump.txt.

use std::process::Command;

fn root() -> String {
    format!("{}/../testdata/strongswan", env!("CARGO_MANIFEST_DIR"))
}

fn ikesim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn inspect_reads_the_reference_capture_as_wireshark_did() {
    let case = format!("{}/ikev2-rekey", root());
    let o = ikesim(&[
        "inspect",
        &format!("{case}/capture.pcap"),
        "--keys",
        &format!("{case}/wireshark-profile"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ours = String::from_utf8(o.stdout).unwrap();
    let dump = std::fs::read_to_string(format!("{case}/dump.txt")).unwrap();
    let theirs: Vec<&str> = dump
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    let ours: Vec<&str> = ours.lines().collect();
    assert_eq!(ours.len(), theirs.len());
    assert_eq!(ours.len(), 42);
    for (a, b) in ours.iter().zip(&theirs) {
        // dump.txt: frame t dt dir ver exchange msgid flags ike_len udp_len [dec] spi | payloads
        let t: Vec<&str> = b.split_whitespace().collect();
        let a_fields: Vec<&str> = a.split_whitespace().collect();
        assert_eq!(a_fields[0], t[0], "frame number");
        assert_eq!(a_fields[5], t[4], "frame {}: version", t[0]);
        assert_eq!(a_fields[6], t[5], "frame {}: exchange", t[0]);
        assert_eq!(a_fields[7], t[6], "frame {}: message ID", t[0]);
        assert_eq!(a_fields[8], t[7], "frame {}: flags", t[0]);
        assert_eq!(a_fields[9], format!("{}B", t[8]), "frame {}: length", t[0]);
        let (_, their_payloads) = b.split_once(" | ").unwrap();
        let (_, our_payloads) = a.split_once(" | ").unwrap();
        assert_eq!(our_payloads.trim(), their_payloads.trim(), "frame {}", t[0]);
        if b.contains("dec/[correct]") {
            assert!(a.contains("[ICV correct]"), "frame {}: {a}", t[0]);
        }
    }
}

#[test]
fn inspect_json_without_keys_lists_only_the_sk_payload() {
    let case = format!("{}/ikev2-rekey", root());
    let o = ikesim(&["inspect", &format!("{case}/capture.pcap"), "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = &v.as_array().unwrap()[2];
    assert_eq!(p["exchange"], "IKE_AUTH");
    assert_eq!(p["decrypted"], false);
    assert_eq!(p["payloads"], serde_json::json!(["SK/224"]));
}

#[test]
fn inspect_reads_ikev1_captures_without_errors() {
    let case = format!("{}/ikev1-main-rekey", root());
    let o = ikesim(&["inspect", &format!("{case}/capture.pcap")]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.lines().count() > 5);
    assert!(
        text.lines().all(|l| l.contains(" v1 ISAKMP exchange ")),
        "{text}"
    );
}

#[test]
fn a_bad_key_file_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("ikesim-badkeys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ikev2_decryption_table"), "not,a,valid,line\n").unwrap();
    let case = format!("{}/ikev2-rekey", root());
    let o = ikesim(&[
        "inspect",
        &format!("{case}/capture.pcap"),
        "--keys",
        dir.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("ikev2_decryption_table:1"), "{err}");
    assert!(err.contains("8 comma-separated fields"), "{err}");
    assert!(!err.contains("panicked"));
    std::fs::remove_dir_all(dir).unwrap();
}

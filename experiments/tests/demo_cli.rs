//! The `ikesim` binary, run as a user runs it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn out_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ikesim-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn demo(seed: u64, out: &Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(["demo", "--seed", &seed.to_string(), "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    ["trace.log", "capture.pcap", "summary.json"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap()))
        .collect()
}

#[test]
fn demo_outputs_are_byte_identical_for_equal_seeds_and_differ_otherwise() {
    let (a, b, c) = (out_dir("a"), out_dir("b"), out_dir("c"));
    let stdout = demo(7, &a);
    demo(7, &b);
    demo(8, &c);
    assert!(stdout.contains("A sent 12 requests"), "{stdout}");
    assert!(
        stdout.contains("queue full"),
        "the burst overflows the queue: {stdout}"
    );
    let (fa, fb, fc) = (files(&a), files(&b), files(&c));
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(x == y, "{name} differs between equal seeds");
    }
    for ((name, x), (_, z)) in fa.iter().zip(&fc) {
        assert!(x != z, "{name} is the same for different seeds");
    }
    assert!(
        !a.join("trace.log.tmp").exists(),
        "no temporary files are left"
    );
    for d in [a, b, c] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn unknown_verbs_fail_with_usage_not_a_panic() {
    let o = Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .arg("frobnicate")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Usage"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

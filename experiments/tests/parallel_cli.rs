//! The parallel engine (`--engine parallel`: the concentrator on one thread, the branches on
//! another) writes what the sequential one writes, byte for byte, for IKEv2 and IKEv1
//! hub-and-spoke runs; and a run it cannot split is refused with the reason.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file of a run's output folder, by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// `ikesim bench` with `args` and `--engine engine`: (its folder, the JSON it printed).
fn bench(tag: &str, engine: &str, args: &[&str]) -> (PathBuf, serde_json::Value) {
    let out = common::out_dir(&format!("parallel-{tag}-{engine}"));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .arg("bench")
        .args(args)
        .args(["--engine", engine, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    (
        out,
        serde_json::from_str(stdout.lines().last().unwrap()).unwrap(),
    )
}

#[test]
fn the_parallel_engine_writes_what_the_sequential_one_does() {
    for (tag, args) in [
        ("v2", &["--tunnels", "200", "--hours", "2"][..]),
        ("v1", &["--ikev1", "--tunnels", "60", "--hours", "2"][..]),
    ] {
        let (seq_dir, seq) = bench(tag, "sequential", args);
        let (par_dir, par) = bench(tag, "parallel", args);
        assert_eq!(seq["engine"], "sequential");
        assert_eq!(par["engine"], "parallel");
        assert_eq!(par["events"], seq["events"], "{tag}");
        let tunnels = seq["tunnels"].as_u64().unwrap();
        assert_eq!(par["tunnels_established"], tunnels, "{tag}");
        let (a, b) = (files(&seq_dir), files(&par_dir));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{tag}"
        );
        // Enough happened on both sides for the order of the merge to matter.
        let exchanges = String::from_utf8_lossy(&a["exchanges.csv"]).lines().count();
        assert!(exchanges as u64 > 3 * tunnels, "{tag}: {exchanges}");
        for (name, bytes) in &a {
            assert!(bytes == &b[name], "{tag}: {name} differs");
        }
        for d in [seq_dir, par_dir] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }
}

/// The bundled `scale-day.ron`, shrunk to 300 branches and 2 hours, is split when asked and
/// writes what one thread writes; `auto` keeps it on one thread at that size.
#[test]
fn the_bundled_scale_day_splits_and_writes_what_one_thread_writes() {
    let path = format!("{}/scenarios/scale-day.ron", env!("CARGO_MANIFEST_DIR"));
    let mut src = std::fs::read_to_string(path).unwrap();
    for (from, to) in [("branches: 100000", "branches: 300"), ("\"24h\"", "\"2h\"")] {
        assert!(src.contains(from), "scale-day.ron has no {from}");
        src = src.replace(from, to);
    }
    let dir = common::out_dir("parallel-scale-day");
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("scale-day-small.ron");
    std::fs::write(&scenario, src).unwrap();
    let mut outs = Vec::new();
    for engine in ["sequential", "parallel", "auto"] {
        let out = dir.join(engine);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_ikesim"))
            .arg("run")
            .arg(&scenario)
            .args(["--engine", engine, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let said = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(
            said.contains("on two threads"),
            engine == "parallel",
            "{engine}: {said}"
        );
        outs.push(files(&out));
    }
    let summary: serde_json::Value = serde_json::from_slice(&outs[0]["summary.json"]).unwrap();
    assert_eq!(summary["tunnels_established"], 300);
    assert!(outs[1] == outs[0], "parallel differs from sequential");
    assert!(outs[2] == outs[0], "auto differs from sequential");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_run_that_cannot_be_split_is_refused_with_the_reason() {
    let out = common::out_dir("parallel-refused");
    let scenario = format!("{}/scenarios/reboot-storm.ron", env!("CARGO_MANIFEST_DIR"));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(["run", &scenario, "--engine", "parallel", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("cannot be split"), "{err}");
    assert!(err.contains("a trace"), "{err}");
    let _ = std::fs::remove_dir_all(out);
}

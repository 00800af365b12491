//! `ikesim sweep` and `ikesim merge`: the tables do not depend on the number of threads or
//! on sharding, an interrupted sweep resumes without rerunning jobs, and shards of another
//! sweep are refused.

use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ikesim-sweep-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const BASE: &str = r#"Scenario(
    duration: "3m",
    network: (forward: (delay: "10ms")),
    peers: {
        "a": (address: "10.99.0.1", mobike: false,
              child_lifetime: StrongSwan(rekey_time: "30s", rand_time: "0s", hard: LifeTime("45s"))),
        "b": (address: "10.99.0.2", mobike: false,
              child_lifetime: StrongSwan(rekey_time: "30s", rand_time: "0s", hard: LifeTime("45s"))),
    },
    tunnels: [(initiator: "a", responder: "b")],
)"#;

fn sweep_file(dir: &Path, seeds: u32) -> PathBuf {
    std::fs::write(dir.join("base.ron"), BASE).unwrap();
    let sweep = format!(
        r#"Sweep(
    name: "t",
    base: "base.ron",
    parameters: [
        (name: "delay", paths: ["network.forward.delay"], values: ["10ms", "80ms"]),
        (paths: ["peers.a.child_lifetime.rand_time", "peers.b.child_lifetime.rand_time"], values: ["0s", "3s"]),
    ],
    seeds: {seeds},
    metrics: ["rekeying.collisions.child", "rekeying.rekeys", "events"],
)"#
    );
    let p = dir.join("sweep.ron");
    std::fs::write(&p, sweep).unwrap();
    p
}

fn ikesim(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn tables(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    (
        std::fs::read(dir.join("results.csv")).unwrap(),
        std::fs::read(dir.join("aggregate.csv")).unwrap(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn threads_and_shards_give_byte_identical_tables_and_a_rerun_resumes() {
    let dir = tmp("main");
    let sweep = sweep_file(&dir, 3);
    let one = dir.join("one");
    let two = dir.join("two");
    ikesim(&["sweep", s(&sweep), "--out", s(&one), "--jobs", "1"]);
    ikesim(&["sweep", s(&sweep), "--out", s(&two), "--jobs", "2"]);
    let t1 = tables(&one);
    assert!(t1 == tables(&two), "1 and 2 threads differ");
    let results = String::from_utf8(t1.0.clone()).unwrap();
    assert_eq!(results.lines().count(), 1 + 12, "2 x 2 points x 3 seeds");
    // Seeds are common to all points (common random numbers) and differ between replicates.
    let seeds: Vec<&str> = results
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(5).unwrap())
        .collect();
    assert_eq!(seeds[0], seeds[3]);
    assert_ne!(seeds[0], seeds[1]);
    let agg = String::from_utf8(t1.1.clone()).unwrap();
    assert_eq!(agg.lines().count(), 1 + 4);
    assert!(
        agg.lines().nth(1).unwrap().starts_with("0,10ms,0s,3,"),
        "{agg}"
    );

    let shards: Vec<PathBuf> = (1..=4).map(|k| dir.join(format!("shard{k}"))).collect();
    for (k, d) in shards.iter().enumerate() {
        let out = ikesim(&[
            "sweep",
            s(&sweep),
            "--out",
            s(d),
            "--shard",
            &format!("{}/4", k + 1),
        ]);
        assert!(out.contains("shard done"), "{out}");
    }
    let merged = dir.join("merged");
    let mut args = vec!["merge"];
    args.extend(shards.iter().map(|p| s(p)));
    args.extend(["--out", s(&merged)]);
    ikesim(&args);
    assert!(tables(&merged) == t1, "4 merged shards differ from one run");

    // A second run finds every job done and writes the same tables.
    let again = ikesim(&["sweep", s(&sweep), "--out", s(&one)]);
    assert!(again.contains("0 run, 12 already done"), "{again}");
    assert!(tables(&one) == t1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn shards_of_different_sweeps_are_not_merged_and_missing_jobs_are_named() {
    let dir = tmp("refuse");
    let a = sweep_file(&dir, 1);
    let out_a = dir.join("a");
    ikesim(&["sweep", s(&a), "--out", s(&out_a), "--shard", "1/2"]);
    let other = tmp("refuse-other");
    let b = sweep_file(&other, 2);
    let out_b = dir.join("b");
    ikesim(&["sweep", s(&b), "--out", s(&out_b), "--shard", "2/2"]);
    let o = Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(["merge", s(&out_a), s(&out_b), "--out", s(&dir.join("m"))])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("another sweep"));
    // One shard alone lacks the other half's jobs.
    let o = Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(["merge", s(&out_a), "--out", s(&dir.join("m"))])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no results"));
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(other).unwrap();
}

#[test]
fn a_sweep_path_that_names_no_field_is_a_clear_error() {
    let dir = tmp("badpath");
    std::fs::write(dir.join("base.ron"), BASE).unwrap();
    std::fs::write(
        dir.join("s.ron"),
        r#"Sweep(base: "base.ron", parameters: [(paths: ["network.forward.colour"], values: [1])], seeds: 1, metrics: [])"#,
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(["sweep", s(&dir.join("s.ron")), "--out", s(&dir.join("o"))])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("network.forward.colour") && e.contains("no field `colour`"),
        "{e}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

//! `ikesim plot` and `ikesim ladder`: a run's charts and a sweep's charts are written as SVG
//! and PNG, the ladder lists every IKE message with lost ones marked, and the bundled sweep
//! files expand into valid jobs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ikesim-plot-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ikesim(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn bundled(rel: &str) -> String {
    format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_runs_charts_and_ladder() {
    let out = tmp("run");
    // 20 % loss: some messages are lost and retransmitted.
    ikesim(&[
        "run",
        &bundled("scenarios/lossy-setup.ron"),
        "--out",
        s(&out),
    ]);
    let files = ikesim(&["plot", s(&out)]);
    for f in ["latency_cdf", "ladder", "sa_timeline", "activity"] {
        for ext in ["svg", "png"] {
            let p = out.join("plots").join(format!("{f}.{ext}"));
            assert!(files.contains(s(&p)), "{files}");
            let bytes = std::fs::read(&p).unwrap();
            if ext == "png" {
                assert_eq!(&bytes[1..4], b"PNG");
            } else {
                let text = String::from_utf8(bytes).unwrap();
                assert!(text.contains("<svg") && text.contains("</svg>"));
            }
        }
    }
    let svg = std::fs::read_to_string(out.join("plots/ladder.svg")).unwrap();
    assert!(
        svg.contains("IKE_SA_INIT #0 request 462 B"),
        "labels are text in the SVG"
    );
    let messages = std::fs::read_to_string(out.join("messages.csv")).unwrap();
    let lost = messages
        .lines()
        .skip(1)
        .filter(|l| l.ends_with(','))
        .count();
    let ladder = ikesim(&["ladder", s(&out)]);
    assert_eq!(
        ladder.lines().count(),
        messages.lines().count(),
        "one line per message"
    );
    assert_eq!(ladder.matches("(lost)").count(), lost);
    assert!(lost > 0, "the lossy scenario loses something");
    let window = ikesim(&["ladder", s(&out), "--from", "0", "--to", "0.001"]);
    assert_eq!(window.lines().count(), 2, "{window}");
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn a_sweeps_charts_have_one_series_per_value_of_the_other_axes() {
    let dir = tmp("sweep");
    std::fs::write(
        dir.join("s.ron"),
        format!(
            r#"Sweep(base: "{}", parameters: [
                (name: "delay", paths: ["network.forward.delay"], values: ["10ms", "50ms"]),
                (name: "window", paths: ["peers.gw-a.window", "peers.gw-b.window"], values: [1, 5]),
            ], seeds: 2, metrics: ["exchange_ends.CREATE_CHILD_SA create-child.last_s"], plots: true)"#,
            bundled("scenarios/many-children.ron")
        ),
    )
    .unwrap();
    ikesim(&["sweep", s(&dir.join("s.ron")), "--out", s(&dir.join("o"))]);
    let svg = std::fs::read_to_string(dir.join("o/plots/sweep_0.svg")).unwrap();
    assert!(svg.contains("window = 1") && svg.contains("window = 5"));
    assert!(dir.join("o/plots/sweep_0.png").exists());
    // With window 5 the ten CHILD_SAs are done sooner than with window 1.
    let agg = std::fs::read_to_string(dir.join("o/aggregate.csv")).unwrap();
    let last: Vec<f64> = agg
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
        .collect();
    assert!(last[1] < last[0] && last[3] < last[2], "{agg}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_bundled_sweeps_expand_into_valid_jobs() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sweeps");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let sweep = experiments::sweep::load_sweep(&p).unwrap();
        let base = experiments::scenario::load_scenario(&p.parent().unwrap().join(&sweep.base))
            .unwrap_or_else(|e| panic!("{e}"));
        let jobs = experiments::sweep::jobs::expand(&sweep, &base)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let points: usize = sweep.parameters.iter().map(|a| a.values.len()).product();
        assert_eq!(jobs.len(), points * sweep.seeds as usize);
        n += 1;
    }
    assert!(n >= 3);
}

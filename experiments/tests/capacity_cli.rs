//! The bundled capacity scenario (a concentrator's day), shrunk to 40 branches and 3 hours
//! so it runs in a test: timeline.csv holds one row per minute whose rekey counts add up to
//! summary.json's, the hub (the responder) holds one IKE SA per branch, and the CPU files
//! are written while sa_events.csv, turned off, is not.

use std::path::Path;
use std::process::Command;

use experiments::scenario::parse_scenario;

#[test]
fn a_small_concentrator_day_has_a_consistent_timeline() {
    let path = format!(
        "{}/scenarios/concentrator-day.ron",
        env!("CARGO_MANIFEST_DIR")
    );
    let src = std::fs::read_to_string(&path).unwrap();
    assert!(src.contains("branches: 10000") && src.contains("duration: \"24h\""));
    let small = src
        .replace("branches: 10000", "branches: 40")
        .replace("duration: \"24h\"", "duration: \"3h\"");
    parse_scenario("concentrator-day.ron", &small).unwrap();
    let dir = std::env::temp_dir().join(format!("ikesim-capacity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("small.ron");
    std::fs::write(&file, small).unwrap();
    let out = dir.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .args(["run"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["tunnels_established"], 40);
    let timeline = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    let rows: Vec<Vec<i64>> = timeline
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|f| f.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 180, "one row per minute of 3 hours");
    let sum = |c: usize| rows.iter().map(|r| r[c]).sum::<i64>();
    let rekeys = &summary["rekeying"]["rekeys"];
    assert_eq!(
        sum(2),
        rekeys["rekey-child"]["success"].as_i64().unwrap(),
        "CHILD_SA rekeys"
    );
    assert!(sum(2) >= 80, "40 tunnels rekey their CHILD_SA about hourly");
    let exchanges: u64 = summary["exchanges"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|m| m.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(sum(1) as u64, exchanges, "every exchange in some minute");
    // An hour in, every branch is up: one IKE SA at each end, one CHILD_SA (or two for
    // the few seconds of a rekey).
    for r in &rows[60..] {
        assert_eq!((r[4], r[5]), (40, 40), "IKE SAs at {} s", r[0]);
        assert!(
            (40..=44).contains(&r[6]) && (40..=44).contains(&r[7]),
            "{r:?}"
        );
    }
    assert!(Path::new(&out.join("cpu.csv")).exists());
    assert!(summary["cpu"]["hub"].is_object());
    assert!(!out.join("sa_events.csv").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

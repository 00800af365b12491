//! What the CLI tests share: running `ikesim run` on a bundled scenario or on scenario text
//! and reading the summary.json it writes. (Each test binary uses some of these.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh folder under the system's temp dir, named for the test and the process.
pub fn out_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ikesim-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The summary.json of the run in `out`.
pub fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// Runs the scenario file `scenario` into `out`, asserts it succeeded, returns its summary.
pub fn run_file(scenario: &Path, out: &Path) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_ikesim"))
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    summary(out)
}

/// Runs the bundled scenario `experiments/scenarios/<name>.ron`; returns the output folder
/// and the summary.
pub fn run_bundled(name: &str, tag: &str) -> (PathBuf, serde_json::Value) {
    let out = out_dir(tag);
    let scenario = format!("{}/scenarios/{name}.ron", env!("CARGO_MANIFEST_DIR"));
    let s = run_file(Path::new(&scenario), &out);
    (out, s)
}

/// Writes `text` as a scenario file into a fresh folder and runs it into `<folder>/out`;
/// returns the folder (remove it when done) and the summary.
pub fn run_text(text: &str, tag: &str) -> (PathBuf, serde_json::Value) {
    let dir = out_dir(tag);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("scenario.ron");
    std::fs::write(&file, text).unwrap();
    let s = run_file(&file, &dir.join("out"));
    (dir, s)
}

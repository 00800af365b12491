//! `ikesim matrix`: the ISP blocking matrix — every bundled blocking and NAT scenario run,
//! one row each: did the tunnel come up, how much traffic got through each way, and when
//! (if ever) a peer gave up. The field's most common support question, answered at a glance.

use std::path::Path;

use anyhow::{Context, Result};

/// The bundled scenarios of the matrix, in the order of the table.
pub const BLOCKING: [&str; 10] = [
    "quickstart",
    "block-500",
    "block-500-one-way",
    "block-4500",
    "block-esp",
    "block-esp-one-way",
    "block-esp-encap",
    "block-fragments",
    "nat-keepalive",
    "nat-no-keepalive",
];

/// One row of the matrix.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    /// Scenario name.
    pub scenario: String,
    /// Whether a CHILD_SA was installed at both ends.
    pub tunnel_up: bool,
    /// Delivered / offered packets from the initiator, or "-" without traffic.
    pub delivered_i_to_r: String,
    /// The same from the responder.
    pub delivered_r_to_i: String,
    /// When the first exchange timed out (a peer gave up), seconds.
    pub gave_up_at_s: String,
    /// The scenario's description.
    pub what: String,
}

fn delivered(summary: &serde_json::Value, key: &str) -> String {
    let c = &summary["traffic"][key]["counters"];
    match (c["delivered"].as_u64(), c["offered"].as_u64()) {
        (Some(d), Some(o)) => format!("{d}/{o}"),
        _ => "-".into(),
    }
}

/// Runs the matrix's scenarios from `scenarios` into `out/<name>/` and returns the rows
/// (also written to `out/matrix.csv`).
pub fn run_matrix(scenarios: &Path, out: &Path) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for name in BLOCKING {
        let path = scenarios.join(format!("{name}.ron"));
        let s = crate::scenario::load_scenario(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let dir = out.join(name);
        let r = crate::runner::run(&s, s.seed, &dir).with_context(|| format!("running {name}"))?;
        let ex = std::fs::read_to_string(dir.join("exchanges.csv"))?;
        let gave_up = ex
            .lines()
            .skip(1)
            .find(|l| l.ends_with(",timeout"))
            .and_then(|l| l.split(',').nth(7).map(String::from))
            .unwrap_or_else(|| "-".into());
        rows.push(Row {
            scenario: name.to_string(),
            tunnel_up: r.summary["tunnels_established"].as_u64().unwrap_or(0) > 0,
            delivered_i_to_r: delivered(&r.summary, "0 i->r"),
            delivered_r_to_i: delivered(&r.summary, "0 r->i"),
            gave_up_at_s: gave_up,
            what: s.description.clone(),
        });
    }
    let mut csv =
        String::from("scenario,tunnel_up,delivered_i_to_r,delivered_r_to_i,gave_up_at_s,what\n");
    for r in &rows {
        csv.push_str(&format!(
            "{},{},{},{},{},\"{}\"\n",
            r.scenario,
            r.tunnel_up,
            r.delivered_i_to_r,
            r.delivered_r_to_i,
            r.gave_up_at_s,
            r.what.replace('"', "'")
        ));
    }
    sim_core::output::write_atomic(out.join("matrix.csv"), csv.as_bytes())?;
    let frac = |s: &str| -> Option<f64> {
        let (d, o) = s.split_once('/')?;
        let (d, o): (f64, f64) = (d.parse().ok()?, o.parse().ok()?);
        (o > 0.0).then(|| d / o)
    };
    let chart: Vec<plots::MatrixRow> = rows
        .iter()
        .map(|r| plots::MatrixRow {
            name: r.scenario.clone(),
            status: status(r),
            i_to_r: frac(&r.delivered_i_to_r),
            r_to_i: frac(&r.delivered_r_to_i),
        })
        .collect();
    for ext in ["svg", "png"] {
        plots::blocking_matrix(
            &out.join(format!("matrix.{ext}")),
            "ISP blocking matrix: traffic delivered each way",
            &chart,
        )?;
    }
    Ok(rows)
}

/// The rows as a text table for the terminal.
pub fn render(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<20} {:<9} {:<14} {:<14} {:<12} {}\n",
        "scenario", "tunnel", "delivered i>r", "delivered r>i", "gave up at", "what"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<20} {:<9} {:<14} {:<14} {:<12} {}\n",
            r.scenario,
            if r.tunnel_up { "up" } else { "never up" },
            r.delivered_i_to_r,
            r.delivered_r_to_i,
            if r.gave_up_at_s == "-" {
                "-".to_string()
            } else {
                format!(
                    "{} s",
                    r.gave_up_at_s.trim_end_matches('0').trim_end_matches('.')
                )
            },
            r.what
        ));
    }
    s
}

/// The chart's words for what happened to a row's tunnel.
fn status(r: &Row) -> String {
    let gave_up: Option<f64> = r.gave_up_at_s.parse().ok();
    let traffic = r.delivered_i_to_r != "-" || r.delivered_r_to_i != "-";
    match (r.tunnel_up, gave_up) {
        (false, Some(t)) => format!("never up\ngave up {t:.0} s"),
        (false, None) => "never up".into(),
        (true, Some(t)) => format!("up, then\nlost {t:.0} s"),
        (true, None) if !traffic => "up\n(no traffic)".into(),
        (true, None) => "up".into(),
    }
}

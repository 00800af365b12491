//! `ikesim plot DIR`: the charts of a run (exchange-latency CDFs, the ladder of its first
//! IKE messages, the SA timeline) or of a sweep (each metric against the first swept
//! parameter with its 95 % CI), into `DIR/plots/` as SVG and PNG. Also `ikesim ladder`, the
//! ladder as text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plots::{LadderMessage, SaBar, SweepPoint};

fn read_csv(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let head: Vec<String> = r.headers()?.iter().map(String::from).collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        rows.push(rec?.iter().map(String::from).collect());
    }
    Ok((head, rows))
}

fn col(head: &[String], name: &str) -> Result<usize> {
    head.iter()
        .position(|h| h == name)
        .with_context(|| format!("no column `{name}`"))
}

/// A parameter value as a number: durations in seconds, plain numbers as they are.
fn as_number(v: &str) -> Option<f64> {
    v.parse::<f64>().ok().or_else(|| {
        v.parse::<sim_core::Duration>()
            .ok()
            .map(|d| d.as_secs_f64())
    })
}

/// The IKE messages of a run, with the peers in order of appearance.
pub fn messages(dir: &Path) -> Result<(Vec<String>, Vec<LadderMessage>)> {
    let (h, rows) = read_csv(&dir.join("messages.csv"))?;
    let [sent, from, to, ex, id, kind, bytes, recv] = [
        "sent_s",
        "from",
        "to",
        "exchange",
        "message_id",
        "kind",
        "bytes",
        "received_s",
    ]
    .map(|c| col(&h, c));
    let (sent, from, to, ex, id, kind, bytes, recv) =
        (sent?, from?, to?, ex?, id?, kind?, bytes?, recv?);
    let mut peers: Vec<String> = Vec::new();
    let idx = |name: &str, peers: &mut Vec<String>| {
        peers.iter().position(|p| p == name).unwrap_or_else(|| {
            peers.push(name.to_string());
            peers.len() - 1
        })
    };
    let mut msgs = Vec::new();
    for r in rows {
        let f = idx(&r[from], &mut peers);
        let t = idx(&r[to], &mut peers);
        msgs.push(LadderMessage {
            sent: r[sent].parse().unwrap_or(0.0),
            received: r[recv].parse().ok(),
            from: f,
            to: t,
            label: format!("{} #{} {} {} B", r[ex], r[id], r[kind], r[bytes]),
        });
    }
    Ok((peers, msgs))
}

/// The messages sent within [from, to] seconds.
pub fn window(msgs: Vec<LadderMessage>, from: Option<f64>, to: Option<f64>) -> Vec<LadderMessage> {
    msgs.into_iter()
        .filter(|m| from.is_none_or(|f| m.sent >= f) && to.is_none_or(|t| m.sent <= t))
        .collect()
}

fn run_charts(dir: &Path, out: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let mut made = Vec::new();
    let (h, rows) = read_csv(&dir.join("exchanges.csv"))?;
    let (v, x, o, l) = (
        col(&h, "ike_version")?,
        col(&h, "exchange")?,
        col(&h, "outcome")?,
        col(&h, "latency_s")?,
    );
    let mut series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r[o] == "success") {
        series
            .entry(format!("{} {}", r[v], r[x]))
            .or_default()
            .push(r[l].parse().unwrap_or(0.0));
    }
    let series: Vec<(String, Vec<f64>)> = series.into_iter().collect();
    if !series.is_empty() {
        let p = out.join(format!("latency_cdf.{ext}"));
        plots::latency_cdf(&p, "Exchange latency (successful exchanges)", &series)?;
        made.push(p);
    }
    if dir.join("messages.csv").exists() {
        let (peers, msgs) = messages(dir)?;
        let total = msgs.len();
        let first: Vec<LadderMessage> = msgs.into_iter().take(40).collect();
        if !first.is_empty() {
            let p = out.join(format!("ladder.{ext}"));
            let title = format!("IKE messages 1-{} of {total}", first.len());
            plots::ladder(&p, &title, &peers, &first)?;
            made.push(p);
        }
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json"))?)?;
    let end: f64 = summary["sim_time_s"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    // Exchanges per minute (at most 100 bins, averaged) and SAs alive over time, from
    // timeline.csv (written by every run, whatever its size).
    let (th, trows) = read_csv(&dir.join("timeline.csv"))?;
    let [tm, tx, ii, ir, ci, cr] = [
        "minute_s",
        "exchanges",
        "ike_sas_initiators",
        "ike_sas_responders",
        "child_sas_initiators",
        "child_sas_responders",
    ]
    .map(|c| col(&th, c));
    let (tm, tx, ii, ir, ci, cr) = (tm?, tx?, ii?, ir?, ci?, cr?);
    let num = |r: &Vec<String>, c: usize| r[c].parse::<f64>().unwrap_or(0.0);
    let per_bin = (trows.len() as f64 / 100.0).ceil().max(1.0) as usize;
    let rate: Vec<(f64, f64)> = trows
        .chunks(per_bin)
        .map(|c| {
            let n: f64 = c.iter().map(|r| num(r, tx)).sum();
            (num(&c[0], tm), n / c.len() as f64)
        })
        .collect();
    let counts: Vec<(f64, f64, f64)> = trows
        .iter()
        .map(|r| {
            (
                num(r, tm) + 60.0,
                num(r, ci) + num(r, cr),
                num(r, ii) + num(r, ir),
            )
        })
        .collect();
    let p = out.join(format!("activity.{ext}"));
    plots::activity(
        &p,
        "Exchanges per minute and SAs alive (all nodes)",
        end,
        &rate,
        &counts,
    )?;
    made.push(p);
    // The SA Gantt chart needs sa_events.csv, and is readable only for a few thousand SAs.
    let mut bars: Vec<SaBar> = Vec::new();
    let sa_path = dir.join("sa_events.csv");
    if sa_path.exists() && std::fs::metadata(&sa_path)?.len() < 4_000_000 {
        let (h, rows) = read_csv(&dir.join("sa_events.csv"))?;
        let [t, node, tun, kind, spi, ev] =
            ["time_s", "node", "tunnel", "sa_kind", "spi", "event"].map(|c| col(&h, c));
        let (t, node, tun, kind, spi, ev) = (t?, node?, tun?, kind?, spi?, ev?);
        let mut open: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
        for r in &rows {
            let key = (
                r[node].clone(),
                r[tun].clone(),
                r[kind].clone(),
                r[spi].clone(),
            );
            let time: f64 = r[t].parse().unwrap_or(0.0);
            match r[ev].as_str() {
                "installed" => {
                    open.insert(key, bars.len());
                    bars.push(SaBar {
                        row: format!("{} t{} {}", r[node], r[tun], r[kind]),
                        ike: r[kind] == "ike",
                        start: time,
                        end,
                        expired: false,
                    });
                }
                "deleted" | "expired" => {
                    if let Some(k) = open.remove(&key) {
                        bars[k].end = time;
                        bars[k].expired = r[ev] == "expired";
                    }
                }
                _ => {}
            }
        }
    }
    if !bars.is_empty() {
        let p = out.join(format!("sa_timeline.{ext}"));
        plots::sa_timeline(
            &p,
            "SA timeline (orange: IKE SA, blue: CHILD_SA, red: expiry)",
            end,
            &bars,
        )?;
        made.push(p);
    }
    Ok(made)
}

fn sweep_charts(dir: &Path, out: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json"))?)?;
    let sweep: crate::sweep::Sweep = serde_json::from_value(manifest["sweep"].clone())?;
    let (h, rows) = read_csv(&dir.join("aggregate.csv"))?;
    let axes: Vec<String> = sweep.parameters.iter().map(|a| a.column()).collect();
    let first = col(&h, &axes[0])?;
    let others: Vec<usize> = axes[1..]
        .iter()
        .map(|a| col(&h, a))
        .collect::<Result<_>>()?;
    let mut made = Vec::new();
    for (m, metric) in sweep.metrics.iter().enumerate() {
        let (mean, ci) = (
            col(&h, &format!("{metric}_mean"))?,
            col(&h, &format!("{metric}_ci95"))?,
        );
        let mut groups: BTreeMap<Vec<String>, Vec<SweepPoint>> = BTreeMap::new();
        for r in &rows {
            let Some(x) = as_number(&r[first]) else {
                continue;
            };
            let key: Vec<String> = others.iter().map(|&c| r[c].clone()).collect();
            groups.entry(key).or_default().push(SweepPoint {
                x,
                mean: r[mean].parse().unwrap_or(0.0),
                ci: r[ci].parse().unwrap_or(0.0),
            });
        }
        let series: Vec<(String, Vec<SweepPoint>)> = groups
            .into_iter()
            .map(|(key, mut pts)| {
                pts.sort_by(|a, b| a.x.total_cmp(&b.x));
                let name: Vec<String> = axes[1..]
                    .iter()
                    .zip(&key)
                    .map(|(a, v)| format!("{a} = {v}"))
                    .collect();
                (name.join(", "), pts)
            })
            .collect();
        let durations = rows
            .iter()
            .all(|r| r[first].parse::<f64>().is_err() && as_number(&r[first]).is_some());
        let xlabel = if durations {
            format!("{} (s)", axes[0])
        } else {
            axes[0].clone()
        };
        let p = out.join(format!("sweep_{m}.{ext}"));
        let title = format!("{metric} (mean, 95 % CI, {} seeds)", sweep.seeds);
        plots::metric_vs_parameter(&p, &title, (&xlabel, metric), &series)?;
        made.push(p);
    }
    Ok(made)
}

/// Draws the charts of the run or sweep in `dir` into `dir/plots/`, in each of `formats`
/// (`svg`, `png`); returns the files written.
pub fn plot_dir(dir: &Path, formats: &[&str]) -> Result<Vec<PathBuf>> {
    let out = dir.join("plots");
    std::fs::create_dir_all(&out)?;
    let mut made = Vec::new();
    for ext in formats {
        if dir.join("aggregate.csv").exists() && dir.join("sweep.json").exists() {
            made.extend(sweep_charts(dir, &out, ext)?);
        } else if dir.join("exchanges.csv").exists() {
            made.extend(run_charts(dir, &out, ext)?);
        } else {
            anyhow::bail!(
                "{}: neither a run (exchanges.csv) nor a sweep (aggregate.csv, sweep.json)",
                dir.display()
            );
        }
    }
    Ok(made)
}

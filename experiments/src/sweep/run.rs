//! Running a sweep: the jobs of this shard that have no results yet, in parallel (rayon),
//! each into `jobs/<key>/` (written to a temporary folder and renamed, so an interrupted
//! sweep resumes cleanly), with a progress bar on the terminal; then the tables. Merging
//! shards re-derives the job list from the manifests and refuses shards of other sweeps.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::{Value, json};

use super::jobs::{Job, expand, sweep_hash};
use super::model::{Sweep, load_sweep};
use super::table::write_tables;
use crate::scenario::Scenario;

/// What a sweep run did.
#[derive(Debug)]
pub struct SweepReport {
    /// Jobs in the whole sweep.
    pub total: usize,
    /// Jobs of this shard.
    pub selected: usize,
    /// Jobs run now.
    pub ran: usize,
    /// Jobs whose results were already there.
    pub reused: usize,
    /// Whether the tables were written (not for a shard).
    pub tables: bool,
}

fn job_dir(out: &Path, key: &str) -> PathBuf {
    out.join("jobs").join(key)
}

fn read_summary(dir: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).ok()?).ok()
}

fn run_job(j: &Job, out: &Path) -> Result<()> {
    let tmp = out.join("jobs").join(format!(".tmp-{}", j.key));
    let _ = std::fs::remove_dir_all(&tmp);
    // The jobs already share the cores.
    crate::runner::run_with(&j.scenario, j.seed, &tmp, crate::runner::Engine::Sequential)
        .with_context(|| format!("job {} ({})", j.index, j.key))?;
    std::fs::rename(&tmp, job_dir(out, &j.key))
        .with_context(|| format!("storing job {}", j.index))?;
    Ok(())
}

fn manifest(sweep: &Sweep, base: &Scenario, jobs: &[Job], shard: Option<(usize, usize)>) -> Value {
    json!({
        "sweep": sweep,
        "base": base,
        "sweep_hash": sweep_hash(jobs),
        "jobs": jobs.len(),
        "shard": shard.map(|(k, n)| format!("{k}/{n}")),
    })
}

/// Runs the sweep in `sweep_path` (shard `K/N` if given) into `out` with `threads` workers.
pub fn run_sweep(
    sweep_path: &Path,
    out: &Path,
    threads: usize,
    shard: Option<(usize, usize)>,
) -> Result<SweepReport> {
    let sweep = load_sweep(sweep_path)?;
    let base_path = sweep_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(&sweep.base);
    let base = crate::scenario::load_scenario(&base_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let jobs =
        expand(&sweep, &base).map_err(|e| anyhow::anyhow!("{}: {e}", sweep_path.display()))?;
    if let Some((k, n)) = shard
        && (n == 0 || k == 0 || k > n)
    {
        bail!("--shard {k}/{n}: K must be between 1 and N");
    }
    std::fs::create_dir_all(out.join("jobs"))
        .with_context(|| format!("creating {}", out.display()))?;
    let m = manifest(&sweep, &base, &jobs, shard);
    sim_core::output::write_atomic(
        out.join("sweep.json"),
        serde_json::to_string_pretty(&m)?.as_bytes(),
    )?;
    let selected: Vec<&Job> = jobs
        .iter()
        .filter(|j| shard.is_none_or(|(k, n)| j.index % n == k - 1))
        .collect();
    let todo: Vec<&Job> = selected
        .iter()
        .copied()
        .filter(|j| read_summary(&job_dir(out, &j.key)).is_none())
        .collect();
    let bar = ProgressBar::new(todo.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} jobs, {elapsed} elapsed, ETA {eta}")
            .expect("valid template"),
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()?;
    pool.install(|| {
        todo.par_iter().try_for_each(|j| {
            let r = run_job(j, out);
            bar.inc(1);
            r
        })
    })?;
    bar.finish_and_clear();
    let tables = shard.is_none();
    if tables {
        write_tables(&sweep, &jobs, out, |j| read_summary(&job_dir(out, &j.key)))?;
        if sweep.plots {
            crate::plot::plot_dir(out, &["svg", "png"])?;
        }
    }
    Ok(SweepReport {
        total: jobs.len(),
        selected: selected.len(),
        ran: todo.len(),
        reused: selected.len() - todo.len(),
        tables,
    })
}

/// Joins the shards in `dirs` into the tables of the whole sweep in `out`.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<usize> {
    let Some(first) = dirs.first() else {
        bail!("name at least one shard folder");
    };
    let read = |d: &Path| -> Result<Value> {
        let p = d.join("sweep.json");
        let text = std::fs::read_to_string(&p)
            .with_context(|| format!("{}: not a sweep folder", p.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}", p.display()))
    };
    let m0 = read(first)?;
    for d in &dirs[1..] {
        let m = read(d)?;
        if m["sweep_hash"] != m0["sweep_hash"] {
            bail!(
                "{} belongs to another sweep ({} vs {} in {})",
                d.display(),
                m["sweep_hash"],
                m0["sweep_hash"],
                first.display()
            );
        }
    }
    let sweep: Sweep = serde_json::from_value(m0["sweep"].clone())?;
    let base: Scenario = serde_json::from_value(m0["base"].clone())?;
    let jobs = expand(&sweep, &base).map_err(anyhow::Error::msg)?;
    if Value::String(sweep_hash(&jobs)) != m0["sweep_hash"] {
        bail!(
            "{}: the manifest does not match its job list",
            first.display()
        );
    }
    std::fs::create_dir_all(out)?;
    write_tables(&sweep, &jobs, out, |j| {
        dirs.iter().find_map(|d| read_summary(&job_dir(d, &j.key)))
    })?;
    let merged = manifest(&sweep, &base, &jobs, None);
    sim_core::output::write_atomic(
        out.join("sweep.json"),
        serde_json::to_string_pretty(&merged)?.as_bytes(),
    )?;
    if sweep.plots {
        crate::plot::plot_dir(out, &["svg", "png"])?;
    }
    Ok(jobs.len())
}

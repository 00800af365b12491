//! What a sweep file says: a base scenario, the parameters to vary (each an axis of values
//! applied to one or more scenario fields by path), how many seeds per point, and which
//! summary.json figures to tabulate.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A sweep (the root of a sweep `.ron` file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// A short name, used in outputs.
    #[serde(default)]
    pub name: String,
    /// What the sweep asks.
    #[serde(default)]
    pub description: String,
    /// The base scenario, relative to the sweep file.
    pub base: PathBuf,
    /// The axes; the jobs are every combination of their values.
    pub parameters: Vec<Axis>,
    /// Seeds per parameter point.
    pub seeds: u32,
    /// summary.json figures to tabulate, as dotted paths (`rekeying.extra_exchanges_from_collisions`);
    /// a path naming an object tabulates the sum of its numbers.
    pub metrics: Vec<String>,
    /// Draw the charts (each metric against the first parameter) when the sweep is done.
    #[serde(default)]
    pub plots: bool,
}

/// One swept parameter: the values, each written into every field of `paths`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// A name for the column (the first path when left out).
    #[serde(default)]
    pub name: Option<String>,
    /// Scenario fields by dotted path (`peers.gw-a.child_lifetime.rand_time`).
    pub paths: Vec<String>,
    /// The values, written as in a scenario file.
    pub values: Vec<ron::Value>,
}

impl Axis {
    /// The column name.
    pub fn column(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.paths.first().cloned().unwrap_or_default())
    }
}

/// Reads a sweep file; the error names the file, line and what was wrong.
pub fn load_sweep(path: &Path) -> anyhow::Result<Sweep> {
    let src = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let sweep: Sweep = ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(&src)
        .map_err(|e| {
            anyhow::anyhow!(
                "{}:{}:{}: {}",
                path.display(),
                e.span.start.line,
                e.span.start.col,
                e.code
            )
        })?;
    if sweep.seeds == 0 {
        anyhow::bail!("{}: seeds must be at least 1", path.display());
    }
    for (k, a) in sweep.parameters.iter().enumerate() {
        if a.paths.is_empty() || a.values.is_empty() {
            anyhow::bail!(
                "{}: parameters[{k}] needs at least one path and one value",
                path.display()
            );
        }
    }
    Ok(sweep)
}

//! A sweep's jobs: every combination of the axes' values times the seeds, each a complete
//! scenario. A job's seed depends only on the base scenario and its replicate number (so
//! every parameter point sees the same seeds: common random numbers), and its key is a hash
//! of its whole content, so results can be found again whoever ran them.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::model::Sweep;
use crate::scenario::Scenario;

/// One run of a sweep.
#[derive(Clone, Debug)]
pub struct Job {
    /// Position in the sweep's job list.
    pub index: usize,
    /// Parameter point (index into the cartesian product, first axis slowest).
    pub point: usize,
    /// Replicate number at that point (0..seeds).
    pub replicate: u32,
    /// The value of each axis, as written in the sweep file.
    pub values: Vec<String>,
    /// The seed the run uses.
    pub seed: u64,
    /// The scenario to run.
    pub scenario: Scenario,
    /// Hash of the job's content (scenario and seed), hex.
    pub key: String,
}

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// Writes `new` at `path` inside `v`. An externally tagged enum (`{"StrongSwan": {...}}`)
/// is looked through, so paths read as the scenario file does.
fn set_path(v: &mut Value, path: &[&str], new: Value, full: &str) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        *v = new;
        return Ok(());
    };
    match v {
        Value::Object(m) => {
            if m.contains_key(*first) {
                return set_path(m.get_mut(*first).expect("present"), rest, new, full);
            }
            if m.len() == 1 {
                let (k, child) = m.iter_mut().next().expect("one entry");
                if k.starts_with(|c: char| c.is_ascii_uppercase()) {
                    return set_path(child, path, new, full);
                }
            }
            let known: Vec<&String> = m.keys().collect();
            Err(format!(
                "`{full}`: no field `{first}` here; known: {known:?}"
            ))
        }
        Value::Array(a) => {
            let i: usize = first
                .parse()
                .map_err(|_| format!("`{full}`: `{first}` must be a list index"))?;
            let len = a.len();
            let slot = a
                .get_mut(i)
                .ok_or_else(|| format!("`{full}`: index {i} but the list has {len}"))?;
            set_path(slot, rest, new, full)
        }
        Value::Null => Err(format!(
            "`{full}`: `{first}` is not set in the base scenario; set it there first"
        )),
        _ => Err(format!("`{full}`: `{first}` is inside a plain value")),
    }
}

/// Expands `sweep` over `base` into its jobs, checking each like the scenario loader does.
pub fn expand(sweep: &Sweep, base: &Scenario) -> Result<Vec<Job>, String> {
    let base_json = serde_json::to_value(base).map_err(|e| e.to_string())?;
    let base_bytes = base_json.to_string();
    let sizes: Vec<usize> = sweep.parameters.iter().map(|a| a.values.len()).collect();
    let points: usize = sizes.iter().product();
    let mut jobs = Vec::new();
    for point in 0..points {
        // Mixed-radix digits, first axis slowest.
        let mut rem = point;
        let mut choice = vec![0; sizes.len()];
        for k in (0..sizes.len()).rev() {
            choice[k] = rem % sizes[k];
            rem /= sizes[k];
        }
        let mut v = base_json.clone();
        let mut values = Vec::new();
        for (axis, &c) in sweep.parameters.iter().zip(&choice) {
            let raw = &axis.values[c];
            let json = serde_json::to_value(raw).map_err(|e| e.to_string())?;
            values.push(match &json {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            for p in &axis.paths {
                let parts: Vec<&str> = p.split('.').collect();
                set_path(&mut v, &parts, json.clone(), p)?;
            }
        }
        let mut scenario: Scenario =
            serde_json::from_value(v).map_err(|e| format!("point {point} ({values:?}): {e}"))?;
        crate::scenario::load::validate(&scenario)
            .map_err(|e| format!("point {point} ({values:?}): {e}"))?;
        scenario.outputs.trace = false;
        scenario.outputs.pcap = false;
        for replicate in 0..sweep.seeds {
            let s = sha(&[
                b"ikesim-sweep-seed",
                base_bytes.as_bytes(),
                &replicate.to_be_bytes(),
            ]);
            let seed = u64::from_be_bytes(s[..8].try_into().expect("8 bytes"));
            scenario.seed = seed;
            let content = serde_json::to_string(&scenario).map_err(|e| e.to_string())?;
            let key = hex::encode(&sha(&[b"ikesim-sweep-job", content.as_bytes()])[..10]);
            jobs.push(Job {
                index: jobs.len(),
                point,
                replicate,
                values: values.clone(),
                seed,
                scenario: scenario.clone(),
                key,
            });
        }
    }
    Ok(jobs)
}

/// A hash of the whole job list: shards of the same sweep share it.
pub fn sweep_hash(jobs: &[Job]) -> String {
    let keys: Vec<&[u8]> = jobs.iter().map(|j| j.key.as_bytes()).collect();
    hex::encode(&sha(&keys)[..10])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_look_through_enum_tags_and_refuse_unknown_fields() {
        let mut v =
            json!({"peers": {"a": {"child_lifetime": {"StrongSwan": {"rand_time": "0s"}}}}});
        set_path(
            &mut v,
            &["peers", "a", "child_lifetime", "rand_time"],
            json!("5s"),
            "x",
        )
        .unwrap();
        assert_eq!(
            v["peers"]["a"]["child_lifetime"]["StrongSwan"]["rand_time"],
            "5s"
        );
        let e = set_path(&mut v, &["peers", "b"], json!(1), "peers.b").unwrap_err();
        assert!(e.contains("known"), "{e}");
        let mut n = json!({"dpd": null});
        assert!(
            set_path(&mut n, &["dpd", "x"], json!(1), "dpd.x")
                .unwrap_err()
                .contains("not set")
        );
    }
}

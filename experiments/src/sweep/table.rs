//! The tables of a sweep: `results.csv` (one row per job: its parameters, seed and the
//! chosen summary figures) and `aggregate.csv` (per parameter point: the number of seeds,
//! and for each figure the mean and the half-width of its 95 % confidence interval, Student
//! t). Both are functions of the job list and the jobs' summaries only, so shards merged in
//! any order give the same bytes.

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use super::jobs::Job;
use super::model::Sweep;

/// The figure at a dotted path of a summary: a number, the sum of the numbers inside an
/// object, 0 for a key missing from an object that exists (a counter that never counted),
/// or `None` when the top-level figure is absent.
pub fn metric(summary: &Value, path: &str) -> Option<f64> {
    fn sum(v: &Value) -> f64 {
        match v {
            Value::Number(n) => n.as_f64().unwrap_or(0.0),
            Value::Object(m) => m.values().map(sum).sum(),
            Value::Array(a) => a.iter().map(sum).sum(),
            _ => 0.0,
        }
    }
    let mut v = summary;
    for (depth, part) in path.split('.').enumerate() {
        let next = match (v, part.parse::<usize>()) {
            (Value::Array(a), Ok(i)) => a.get(i),
            _ => v.get(part),
        };
        v = match next {
            Some(x) => x,
            // Counters by kind leave out the kinds that never happened: zero, not missing.
            None if depth > 0 && v.is_object() => return Some(0.0),
            None => return None,
        };
    }
    match v {
        Value::Null => None,
        Value::String(s) => s.parse().ok(),
        other => Some(sum(other)),
    }
}

/// Two-sided 95 % Student t quantile for `df` degrees of freedom.
fn t95(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        31..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

/// Mean and 95 % CI half-width.
pub fn mean_ci(xs: &[f64]) -> (f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, t95(n - 1) * (var / n as f64).sqrt())
}

fn fmt(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        // Rounded so that summation order cannot show in the last digits.
        format!("{:.6}", x)
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes `results.csv` and `aggregate.csv` into `out`, each whole. `summary(job)` finds a
/// job's summary; a job without one is an error naming it.
pub fn write_tables(
    sweep: &Sweep,
    jobs: &[Job],
    out: &Path,
    summary: impl Fn(&Job) -> Option<Value>,
) -> anyhow::Result<()> {
    let axes: Vec<String> = sweep.parameters.iter().map(|a| a.column()).collect();
    let mut rows = String::new();
    let head: Vec<String> = ["job", "point", "replicate"]
        .iter()
        .map(|s| s.to_string())
        .chain(axes.iter().cloned())
        .chain(["seed".to_string(), "key".to_string()])
        .chain(sweep.metrics.iter().cloned())
        .map(|s| csv_field(&s))
        .collect();
    rows.push_str(&head.join(","));
    rows.push('\n');
    let mut per_point: Vec<Vec<Vec<f64>>> = Vec::new();
    for j in jobs {
        let s = summary(j).ok_or_else(|| {
            anyhow::anyhow!("job {} ({}) has no results; run its shard", j.index, j.key)
        })?;
        if per_point.len() <= j.point {
            per_point.resize(j.point + 1, vec![Vec::new(); sweep.metrics.len()]);
        }
        let mut cells = vec![
            j.index.to_string(),
            j.point.to_string(),
            j.replicate.to_string(),
        ];
        cells.extend(j.values.iter().map(|v| csv_field(v)));
        cells.push(j.seed.to_string());
        cells.push(j.key.clone());
        for (m, name) in sweep.metrics.iter().enumerate() {
            let v = metric(&s, name);
            if let Some(x) = v {
                per_point[j.point][m].push(x);
            }
            cells.push(v.map(fmt).unwrap_or_default());
        }
        rows.push_str(&cells.join(","));
        rows.push('\n');
    }
    sim_core::output::write_atomic(out.join("results.csv"), rows.as_bytes())?;

    let mut agg = String::new();
    let mut head: Vec<String> = vec!["point".into()];
    head.extend(axes.iter().cloned());
    head.push("n".into());
    for m in &sweep.metrics {
        head.push(format!("{m}_mean"));
        head.push(format!("{m}_ci95"));
    }
    agg.push_str(
        &head
            .iter()
            .map(|h| csv_field(h))
            .collect::<Vec<_>>()
            .join(","),
    );
    agg.push('\n');
    for (point, metrics) in per_point.iter().enumerate() {
        let Some(first) = jobs.iter().find(|j| j.point == point) else {
            continue;
        };
        let n = jobs.iter().filter(|j| j.point == point).count();
        let mut cells = vec![point.to_string()];
        cells.extend(first.values.iter().map(|v| csv_field(v)));
        cells.push(n.to_string());
        for xs in metrics {
            let (mean, ci) = mean_ci(xs);
            cells.push(fmt(mean));
            cells.push(fmt(ci));
        }
        agg.push_str(&cells.join(","));
        agg.push('\n');
    }
    let mut f = sim_core::output::AtomicFile::create(out.join("aggregate.csv"))?;
    f.write_all(agg.as_bytes())?;
    f.flush()?;
    f.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_ci_match_a_hand_computation() {
        let (m, ci) = mean_ci(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        // sd = 1.29099, se = 0.645497, t(3) = 3.182.
        assert!((ci - 3.182 * 0.645_497).abs() < 1e-5, "{ci}");
        assert_eq!(mean_ci(&[7.0]), (7.0, 0.0));
    }

    #[test]
    fn metrics_are_numbers_or_sums_of_objects() {
        let s = serde_json::json!({"a": {"b": 3, "c": {"x": 1, "y": 2.5}}, "t": "1.5"});
        assert_eq!(metric(&s, "a.b"), Some(3.0));
        assert_eq!(metric(&s, "a.c"), Some(3.5));
        assert_eq!(metric(&s, "t"), Some(1.5));
        assert_eq!(metric(&s, "a.z"), Some(0.0));
        assert_eq!(metric(&s, "zz.y"), None);
        let o = serde_json::json!({"o": [{"count": 4}, {"count": 7}]});
        assert_eq!(metric(&o, "o.1.count"), Some(7.0));
    }
}

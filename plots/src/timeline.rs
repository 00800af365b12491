//! A per-tunnel SA timeline (Gantt chart): one row per peer, tunnel and SA kind, a bar per
//! SA from installation to deletion or expiry; SAs that overlap (rekeys, collisions) are
//! stacked in lanes so the overlap shows.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::PlotError;
use crate::render::{DrawResult, render};

/// One SA's life.
#[derive(Clone, Debug, PartialEq)]
pub struct SaBar {
    /// The row (`gw-a t0 child`).
    pub row: String,
    /// Whether this is an IKE SA (else a CHILD_SA).
    pub ike: bool,
    /// Installed (s).
    pub start: f64,
    /// Deleted or expired (s), or the end of the run.
    pub end: f64,
    /// Whether it ended by expiry rather than a delete.
    pub expired: bool,
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    end: f64,
    bars: &[SaBar],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let mut rows: Vec<String> = Vec::new();
    for b in bars {
        if !rows.contains(&b.row) {
            rows.push(b.row.clone());
        }
    }
    let nrows = rows.len() as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(150)
        .build_cartesian_2d(0.0..end.max(1e-9), 0.0..nrows)?;
    let names = rows.clone();
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_labels(rows.len() * 2 + 1)
        .y_label_formatter(&move |y| {
            let k = (*y - 0.5).round();
            if (*y - 0.5 - k).abs() < 1e-6 && k >= 0.0 && (k as usize) < names.len() {
                names[names.len() - 1 - k as usize].clone()
            } else {
                String::new()
            }
        })
        .label_style(("sans-serif", 13))
        .disable_y_mesh()
        .draw()?;
    for (r, row) in rows.iter().enumerate() {
        let base = nrows - 1.0 - r as f64;
        let mut lanes: Vec<f64> = Vec::new();
        let mut placed = Vec::new();
        for b in bars.iter().filter(|b| &b.row == row) {
            let lane = match lanes.iter().position(|e| *e <= b.start) {
                Some(l) => l,
                None => {
                    lanes.push(0.0);
                    lanes.len() - 1
                }
            };
            lanes[lane] = b.end;
            placed.push((lane, b));
        }
        let h = 0.8 / lanes.len().max(1) as f64;
        for (lane, b) in placed {
            let y0 = base + 0.1 + lane as f64 * h;
            let color = if b.ike {
                RGBColor(230, 140, 30)
            } else {
                RGBColor(40, 110, 200)
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(b.start, y0), (b.end, y0 + h * 0.9)],
                color.mix(0.75).filled(),
            )))?;
            if b.expired {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(b.end, y0), (b.end, y0 + h * 0.9)],
                    RED.stroke_width(3),
                )))?;
            }
        }
    }
    Ok(())
}

/// Draws `bars` over a run of `end` seconds into `path`.
pub fn sa_timeline(path: &Path, title: &str, end: f64, bars: &[SaBar]) -> Result<(), PlotError> {
    if bars.is_empty() {
        return Err(PlotError::Empty("no SAs".into()));
    }
    let rows = {
        let mut r: Vec<&str> = bars.iter().map(|b| b.row.as_str()).collect();
        r.sort_unstable();
        r.dedup();
        r.len()
    };
    render!(
        path,
        (1000, (120 + 60 * rows) as u32),
        draw,
        title,
        end,
        bars
    )
}

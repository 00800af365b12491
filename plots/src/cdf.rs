//! Exchange-latency CDFs: one step curve per series (exchange type, IKE version).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::PlotError;
use crate::render::{DrawResult, render};

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    series: &[(String, Vec<f64>)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-6);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..max * 1.05, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("latency (s)")
        .y_desc("fraction of exchanges")
        .label_style(("sans-serif", 14))
        .draw()?;
    for (k, (name, values)) in series.iter().enumerate() {
        let mut v = values.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        let mut pts = vec![(0.0, 0.0)];
        for (i, x) in v.iter().enumerate() {
            pts.push((*x, i as f64 / n));
            pts.push((*x, (i + 1) as f64 / n));
        }
        let color = Palette99::pick(k).to_rgba();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(format!("{name} (n = {})", v.len()))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    Ok(())
}

/// Draws the CDF of each named series of latencies (seconds) into `path`.
pub fn latency_cdf(
    path: &Path,
    title: &str,
    series: &[(String, Vec<f64>)],
) -> Result<(), PlotError> {
    if series.iter().all(|(_, v)| v.is_empty()) {
        return Err(PlotError::Empty("no exchanges".into()));
    }
    render!(path, (900, 560), draw, title, series)
}

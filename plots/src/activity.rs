//! Activity over time, as a capacity planner reads it: exchanges completed per minute
//! (top) and the number of SAs installed across all nodes (bottom, step curve).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::PlotError;
use crate::render::{DrawResult, render};

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    end: f64,
    rate: &[(f64, f64)],
    sas: &[(f64, f64, f64)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(300);
    let rmax = rate.iter().map(|r| r.1).fold(0.0f64, f64::max).max(1.0);
    let mut c = ChartBuilder::on(&top)
        .caption(title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end.max(1e-9), 0.0..rmax * 1.1)?;
    c.configure_mesh()
        .y_desc("exchanges / min")
        .label_style(("sans-serif", 13))
        .draw()?;
    let width = rate.get(1).map_or(end, |r| r.0) - rate.first().map_or(0.0, |r| r.0);
    c.draw_series(rate.iter().map(|(t, v)| {
        Rectangle::new([(*t, 0.0), (*t + width * 0.9, *v)], BLUE.mix(0.6).filled())
    }))?;
    let smax = sas
        .iter()
        .map(|s| s.1.max(s.2))
        .fold(0.0f64, f64::max)
        .max(1.0);
    let mut c = ChartBuilder::on(&bottom)
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end.max(1e-9), 0.0..smax * 1.15)?;
    c.configure_mesh()
        .x_desc("time (s)")
        .y_desc("SAs installed")
        .label_style(("sans-serif", 13))
        .draw()?;
    for (k, name) in [(1usize, "CHILD_SAs"), (2, "IKE SAs")] {
        let color = if k == 1 {
            RGBColor(40, 110, 200)
        } else {
            RGBColor(230, 140, 30)
        };
        let mut pts = Vec::new();
        let mut last = 0.0;
        for s in sas {
            let v = if k == 1 { s.1 } else { s.2 };
            pts.push((s.0, last));
            pts.push((s.0, v));
            last = v;
        }
        pts.push((end, last));
        c.draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

/// Draws exchange completions per minute (`rate`: bin start, count per minute) and SA counts
/// over time (`sas`: time, CHILD_SAs, IKE SAs after that time) for a run of `end` seconds.
pub fn activity(
    path: &Path,
    title: &str,
    end: f64,
    rate: &[(f64, f64)],
    sas: &[(f64, f64, f64)],
) -> Result<(), PlotError> {
    if rate.is_empty() && sas.is_empty() {
        return Err(PlotError::Empty("no exchanges and no SAs".into()));
    }
    render!(path, (1000, 620), draw, title, end, rate, sas)
}

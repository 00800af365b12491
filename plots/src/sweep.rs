//! A metric against a swept parameter: the mean at each point with its 95 % confidence
//! band.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::PlotError;
use crate::render::{DrawResult, render};

/// One parameter point of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    /// The parameter's value (seconds for durations).
    pub x: f64,
    /// Mean of the metric over the seeds.
    pub mean: f64,
    /// Half-width of its 95 % confidence interval.
    pub ci: f64,
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    labels: (&str, &str),
    series: &[(String, Vec<SweepPoint>)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let all = || series.iter().flat_map(|(_, p)| p.iter());
    let (x0, x1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.x), b.max(p.x))
    });
    let y1 = all().map(|p| p.mean + p.ci).fold(0.0f64, f64::max);
    let pad = ((x1 - x0) * 0.05).max(1e-9);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0 - pad..x1 + pad, 0.0..(y1 * 1.1).max(1e-9))?;
    chart
        .configure_mesh()
        .x_desc(labels.0)
        .y_desc(labels.1)
        .label_style(("sans-serif", 14))
        .draw()?;
    for (k, (name, points)) in series.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        let band: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (p.x, p.mean + p.ci))
            .chain(points.iter().rev().map(|p| (p.x, (p.mean - p.ci).max(0.0))))
            .collect();
        chart.draw_series(std::iter::once(Polygon::new(
            band,
            color.mix(0.15).filled(),
        )))?;
        let line = chart.draw_series(LineSeries::new(
            points.iter().map(|p| (p.x, p.mean)),
            color.stroke_width(2),
        ))?;
        if !name.is_empty() {
            line.label(name.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        }
        chart.draw_series(
            points
                .iter()
                .map(|p| Circle::new((p.x, p.mean), 4, color.filled())),
        )?;
        chart.draw_series(points.iter().map(|p| {
            PathElement::new(
                vec![(p.x, (p.mean - p.ci).max(0.0)), (p.x, p.mean + p.ci)],
                color.stroke_width(1),
            )
        }))?;
    }
    if series.iter().any(|(n, _)| !n.is_empty()) {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    Ok(())
}

/// Draws each named series of points (sorted by x) as mean with a 95 % CI band; `labels`
/// are the axis titles.
pub fn metric_vs_parameter(
    path: &Path,
    title: &str,
    labels: (&str, &str),
    series: &[(String, Vec<SweepPoint>)],
) -> Result<(), PlotError> {
    if series.iter().all(|(_, p)| p.is_empty()) {
        return Err(PlotError::Empty("no sweep points".into()));
    }
    render!(path, (900, 560), draw, title, labels, series)
}

//! The ISP blocking matrix as a chart: for each scenario, the fraction of offered packets
//! delivered in each direction (two bars), and whether the tunnel came up at all.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::PlotError;
use crate::render::{DrawResult, render};

/// One scenario of the matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixRow {
    /// Scenario name.
    pub name: String,
    /// What happened to the tunnel, printed above its bars; `\n` separates lines.
    pub status: String,
    /// Delivered fraction initiator to responder (`None` without traffic).
    pub i_to_r: Option<f64>,
    /// Delivered fraction responder to initiator.
    pub r_to_i: Option<f64>,
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    rows: &[MatrixRow],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let n = rows.len();
    let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(90)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..n as f64, 0.0..1.45)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&move |x| {
            let k = (*x - 0.5).round();
            if (*x - 0.5 - k).abs() < 1e-6 && k >= 0.0 && (k as usize) < names.len() {
                names[k as usize].clone()
            } else {
                String::new()
            }
        })
        .x_label_style(
            ("sans-serif", 12)
                .into_font()
                .transform(FontTransform::Rotate90),
        )
        .y_desc("fraction of offered packets delivered")
        .label_style(("sans-serif", 13))
        .draw()?;
    let a = RGBColor(40, 110, 200);
    let b = RGBColor(230, 140, 30);
    for (k, r) in rows.iter().enumerate() {
        let x = k as f64;
        for (off, v, c) in [(0.15, r.i_to_r, a), (0.5, r.r_to_i, b)] {
            if let Some(v) = v {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x + off, 0.0), (x + off + 0.33, v.max(0.005))],
                    c.filled(),
                )))?;
            }
        }
        for (line, text) in r.status.split('\n').enumerate() {
            chart.draw_series(std::iter::once(Text::new(
                text.to_string(),
                (x + 0.08, 1.13 - 0.05 * line as f64),
                ("sans-serif", 12).into_font(),
            )))?;
        }
    }
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, 2.0), (0.0, 2.0)],
            a.filled(),
        )))?
        .label("initiator -> responder")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], a.filled()));
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, 2.0), (0.0, 2.0)],
            b.filled(),
        )))?
        .label("responder -> initiator")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], b.filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    Ok(())
}

/// Draws the blocking matrix into `path`.
pub fn blocking_matrix(path: &Path, title: &str, rows: &[MatrixRow]) -> Result<(), PlotError> {
    if rows.is_empty() {
        return Err(PlotError::Empty("no scenarios".into()));
    }
    render!(path, (1000, 600), draw, title, rows)
}

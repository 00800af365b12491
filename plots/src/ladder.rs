//! Ladder (sequence) diagrams of the IKE messages of a run, like Wireshark's flow graph:
//! peers across, one row per message in the order sent, an arrow from sender to receiver
//! labelled with the exchange, message ID and size, and lost messages ending in a cross.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::PlotError;
use crate::render::{DrawResult, render};

/// One IKE message on the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct LadderMessage {
    /// When it was sent (s).
    pub sent: f64,
    /// When it arrived (s); `None` when lost.
    pub received: Option<f64>,
    /// Sender's column.
    pub from: usize,
    /// Receiver's column.
    pub to: usize,
    /// What it was (`IKE_AUTH #1 request 252 B`).
    pub label: String,
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    peers: &[String],
    msgs: &[LadderMessage],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(50);
    top.titled(title, ("sans-serif", 22))?;
    let n = msgs.len() as f64;
    let cols = peers.len().max(2) as f64;
    let (w, h) = bottom.dim_in_pixel();
    let left = 110.0;
    let x_of = |c: usize| left + (w as f64 - left - 60.0) * (c as f64 + 0.5) / cols;
    let y_of = |row: f64| 30.0 + row * (h as f64 - 40.0) / (n + 1.0);
    let font = ("sans-serif", 14).into_font();
    for (c, name) in peers.iter().enumerate() {
        let x = x_of(c) as i32;
        bottom.draw(&Text::new(name.clone(), (x - 20, 5), font.clone()))?;
        bottom.draw(&PathElement::new(
            vec![(x, 25), (x, h as i32 - 5)],
            BLACK.stroke_width(2),
        ))?;
    }
    for (k, m) in msgs.iter().enumerate() {
        let y0 = y_of(k as f64) as i32;
        let y1 = y_of(k as f64 + 0.7) as i32;
        let (x0, x1) = (x_of(m.from) as i32, x_of(m.to) as i32);
        bottom.draw(&Text::new(
            format!("{:.4}", m.sent),
            (5, y0 - 6),
            ("sans-serif", 12).into_font(),
        ))?;
        let color = if m.received.is_some() { BLUE } else { RED };
        let end = if m.received.is_some() {
            (x1, y1)
        } else {
            ((x0 + x1) / 2, (y0 + y1) / 2)
        };
        bottom.draw(&PathElement::new(
            vec![(x0, y0), end],
            color.stroke_width(2),
        ))?;
        if m.received.is_some() {
            let dir = if x1 > x0 { -1 } else { 1 };
            bottom.draw(&Polygon::new(
                vec![(x1, y1), (x1 + dir * 10, y1 - 6), (x1 + dir * 10, y1 + 4)],
                color.filled(),
            ))?;
        } else {
            let (cx, cy) = end;
            for (a, b) in [((-6, -6), (6, 6)), ((-6, 6), (6, -6))] {
                bottom.draw(&PathElement::new(
                    vec![(cx + a.0, cy + a.1), (cx + b.0, cy + b.1)],
                    RED.stroke_width(3),
                ))?;
            }
        }
        let label = if m.received.is_some() {
            m.label.clone()
        } else {
            format!("{} (lost)", m.label)
        };
        // Centred on the arrow, just above its middle.
        let lx = x0.min(x1) + (x0 - x1).abs() / 2 - 3 * label.len() as i32;
        let ly = (y0 + y1) / 2 - 17;
        bottom.draw(&Text::new(label, (lx, ly), ("sans-serif", 12).into_font()))?;
    }
    Ok(())
}

/// Draws the ladder of `msgs` between `peers` into `path`.
pub fn ladder(
    path: &Path,
    title: &str,
    peers: &[String],
    msgs: &[LadderMessage],
) -> Result<(), PlotError> {
    if msgs.is_empty() {
        return Err(PlotError::Empty("no IKE messages in the window".into()));
    }
    let height = (120 + 40 * msgs.len()).min(20_000) as u32;
    render!(path, (900, height), draw, title, peers, msgs)
}

/// The ladder as text for a terminal: one line per message.
pub fn ladder_text(peers: &[String], msgs: &[LadderMessage]) -> String {
    const COL: usize = 46;
    let cols = peers.len().max(2);
    let mut out = format!("{:>12}  ", "time_s");
    for p in peers {
        out.push_str(&format!("{p:<width$}", width = COL));
    }
    out = out.trim_end().to_string();
    out.push('\n');
    for m in msgs {
        let (a, b) = (m.from.min(m.to), m.from.max(m.to));
        let span = (b - a) * COL;
        let mut line: Vec<char> = vec![' '; cols * COL + 1];
        for c in 0..cols {
            line[c * COL] = '|';
        }
        let text = format!(" {} ", m.label);
        let inner = span.saturating_sub(1);
        let mut arrow: Vec<char> = vec!['-'; inner];
        let start = inner.saturating_sub(text.chars().count()) / 2;
        for (i, ch) in text.chars().enumerate() {
            if start + i < inner {
                arrow[start + i] = ch;
            }
        }
        let label_end = (start + text.chars().count()).min(inner);
        if m.received.is_none() {
            // Lost: the arrow stops just past its label, crossed out, on the sender's side.
            if m.to > m.from {
                for (i, slot) in arrow.iter_mut().enumerate().skip(label_end) {
                    *slot = if i == label_end { 'X' } else { ' ' };
                }
            } else {
                let cut = start.saturating_sub(1);
                for (i, slot) in arrow.iter_mut().enumerate().take(cut + 1) {
                    *slot = if i == cut { 'X' } else { ' ' };
                }
            }
        } else if m.to > m.from {
            arrow[inner - 1] = '>';
        } else {
            arrow[0] = '<';
        }
        for (i, ch) in arrow.into_iter().enumerate() {
            line[a * COL + 1 + i] = ch;
        }
        let s: String = line.into_iter().collect();
        out.push_str(&format!("{:>12.6}  {}", m.sent, s.trim_end()));
        if m.received.is_none() {
            out.push_str("  (lost)");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_ladder_points_the_arrows_and_marks_losses() {
        let peers = vec!["gw-a".to_string(), "gw-b".to_string()];
        let m = |from, to, received: Option<f64>| LadderMessage {
            sent: 1.5,
            received,
            from,
            to,
            label: "IKE_AUTH #1".into(),
        };
        let t = ladder_text(
            &peers,
            &[m(0, 1, Some(1.6)), m(1, 0, Some(1.7)), m(0, 1, None)],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[1].contains("IKE_AUTH #1") && lines[1].trim_end().ends_with(">|"),
            "{t}"
        );
        assert!(lines[2].contains("|<"), "{t}");
        assert!(
            lines[3].contains('X') && lines[3].ends_with("(lost)"),
            "{t}"
        );
    }
}

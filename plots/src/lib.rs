//! Charts of run and sweep results, as SVG or PNG (by the file's extension), drawn with
//! plotters and a bundled DejaVu Sans so PNGs look the same on every machine:
//! exchange-latency CDFs, a metric against a swept parameter with its 95 % CI band, a
//! ladder (sequence) diagram of the IKE messages, a per-tunnel SA timeline, and exchange
//! rate and SA counts over time.

mod activity;
mod cdf;
mod ladder;
mod matrix;
mod render;
mod sweep;
mod timeline;

pub use activity::activity;
pub use cdf::latency_cdf;
pub use ladder::{LadderMessage, ladder, ladder_text};
pub use matrix::{MatrixRow, blocking_matrix};
pub use sweep::{SweepPoint, metric_vs_parameter};
pub use timeline::{SaBar, sa_timeline};

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Nothing to draw.
    #[error("no data to plot: {0}")]
    Empty(String),
    /// The drawing backend failed (file not writable, ...).
    #[error("drawing {path}: {message}")]
    Draw {
        /// The output file.
        path: String,
        /// The backend's message.
        message: String,
    },
}

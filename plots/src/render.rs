//! One place that picks the backend from the file extension and makes sure the bundled font
//! is registered before any text is drawn.

use std::path::Path;
use std::sync::Once;

use plotters::style::FontStyle;

use crate::PlotError;

static FONT: Once = Once::new();

/// Registers DejaVu Sans as "sans-serif" (once per process).
pub(crate) fn fonts() {
    FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .unwrap_or_else(|_| panic!("the bundled font is a valid TrueType file"));
    });
}

pub(crate) fn draw_error(path: &Path, e: impl std::fmt::Display) -> PlotError {
    PlotError::Draw {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Draws with `$f(&root)` on an SVG or PNG of `$size`, by `$path`'s extension.
macro_rules! render {
    ($path:expr, $size:expr, $f:ident, $($arg:expr),*) => {{
        crate::render::fonts();
        let path: &std::path::Path = $path;
        let png = path.extension().is_some_and(|e| e == "png");
        if png {
            let root = plotters::prelude::BitMapBackend::new(path, $size).into_drawing_area();
            $f(&root, $($arg),*).map_err(|e| crate::render::draw_error(path, e))?;
            root.present().map_err(|e| crate::render::draw_error(path, e))?;
        } else {
            let root = plotters::prelude::SVGBackend::new(path, $size).into_drawing_area();
            $f(&root, $($arg),*).map_err(|e| crate::render::draw_error(path, e))?;
            root.present().map_err(|e| crate::render::draw_error(path, e))?;
        }
        Ok(())
    }};
}
pub(crate) use render;

/// The error type of the chart functions: any backend error as text.
pub(crate) type DrawResult = Result<(), Box<dyn std::error::Error>>;

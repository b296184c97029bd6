//! The plots, each drawn once through plotters' backend trait and written twice: a PNG for
//! design reviews and an SVG for the web.
//!
//! The PNG must render on a bare machine (CI, a container) with no system fonts and no graphics
//! libraries, so the text is drawn with DejaVu Sans embedded in the binary (the `dejavu` crate)
//! through plotters' pure-Rust `ab_glyph` renderer, never font-kit/fontconfig.
//!
//! A plot reads a figure of the summary through its [`crate::report::catalogue`] entry
//! ([`catalogue::Figure::plotted`]: a size in MiB), as the tables do.
//!
//! - [`timeline`]: `rss-timeline`, RssAnon over time, one line per variant, phases shaded, and
//!   under it a panel per series the scenario declares.
//! - [`explained`]: `rss-explained`, RssAnon over time split into in use, free held and the
//!   rest by the probe's readings, a panel per variant.
//! - [`bars`]: `rss-summary`, before / peak / after-drain per variant.
//! - [`cost`]: `cost`, after-drain RSS against each cost (with `[cost]`: ratios to the
//!   reference), or against the memory run's throughput, p99 and server CPU.
//! - [`sweep`]: `sweep`, VSZ, RSS and arena heaps against the swept value (numeric sweeps).

pub mod bars;
pub mod cost;
pub mod explained;
pub mod sweep;
pub mod timeline;

use std::sync::OnceLock;

use plotters::chart::MeshStyle;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::catalogue::{self, A};
use super::summary::{FigureSet, VariantSummary};
use super::{Exporter, Output, ReportError};

/// Large enough to read when pasted into a review at full width.
pub const WIDTH: u32 = 1600;
pub const HEIGHT: u32 = 900;
/// The family every text style names; registered with the embedded DejaVu Sans.
pub const FONT: &str = "sans-serif";
/// Width of the legend column at the right of the timeline and the bars.
pub const LEGEND_WIDTH: u32 = 360;
/// The grid lines of every chart.
pub const GRID: RGBColor = RGBColor(200, 200, 200);
/// What the eye should go to: A, the memory limit and budget, what could not be plotted.
pub const RED: RGBColor = RGBColor(178, 24, 43);
/// The y axis of the plots of after-drain RssAnon against a cost.
pub const A_AXIS: &str = "RssAnon after drain (MiB)";

/// A chart with numbers on both axes: every chart here.
pub type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Registers the embedded fonts once per process.
fn ensure_fonts() -> Result<(), String> {
    static FONTS: OnceLock<Result<(), String>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the embedded DejaVu Sans does not parse".to_string())?;
            register_font(FONT, FontStyle::Bold, dejavu::sans::bold())
                .map_err(|_| "the embedded DejaVu Sans Bold does not parse".to_string())
        })
        .clone()
}

/// A plot, drawn the same way on any backend (on white: [`png_svg`] fills it first).
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static;
}

/// Which files a plot is drawn as: both in the report directory; the SVG alone for
/// `report.html`, which inlines it (and need not pay for a second PNG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Files {
    PngAndSvg,
    SvgOnly,
}

/// Every plot of a report, in the order they are written, drawn as `files`.
pub fn plots(files: Files) -> Vec<Box<dyn Exporter>> {
    vec![
        Box::new(timeline::Timeline(files)),
        Box::new(explained::Explained(files)),
        Box::new(bars::SummaryBars(files)),
        Box::new(cost::Cost(files)),
        Box::new(sweep::Sweep(files)),
    ]
}

/// `fig` drawn as `stem.png` and `stem.svg`, or `stem.svg` alone.
pub fn png_svg(fig: &impl Figure, stem: &str, files: Files) -> Result<Vec<Output>, ReportError> {
    let (png, svg) = (format!("{stem}.png"), format!("{stem}.svg"));
    let plot_err = |path: &str, e: String| ReportError::Plot {
        path: path.to_string(),
        message: e,
    };
    ensure_fonts().map_err(|e| plot_err(&png, e))?;
    let mut outputs = Vec::new();
    if files == Files::PngAndSvg {
        let png_bytes = png_bytes(fig).map_err(|e| plot_err(&png, format!("{e:#}")))?;
        outputs.push(Output::new(png, png_bytes));
    }
    let mut svg_text = String::new();
    draw_on(fig, SVGBackend::with_string(&mut svg_text, fig.size()))
        .map_err(|e| plot_err(&svg, format!("{e:#}")))?;
    outputs.push(Output::new(svg, svg_text));
    Ok(outputs)
}

/// `fig` drawn on white on `backend`.
fn draw_on<DB: DrawingBackend>(fig: &impl Figure, backend: DB) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let root = backend.into_drawing_area();
    root.fill(&WHITE)?;
    fig.draw(&root)?;
    root.present()?;
    Ok(())
}

/// `fig` drawn on an RGB buffer and encoded as PNG with the encoder and settings plotters
/// uses when it writes a `.png` file itself, so the bytes are the same.
fn png_bytes(fig: &impl Figure) -> anyhow::Result<Vec<u8>> {
    use image::ImageEncoder as _;
    let (w, h) = fig.size();
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    draw_on(fig, BitMapBackend::with_buffer(&mut rgb, (w, h)))?;
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png).write_image(
        &rgb,
        w,
        h,
        image::ColorType::Rgb8,
    )?;
    Ok(png)
}

/// A distinct colour per variant, by its position in the summary (Tableau 10: tells apart on
/// screen and in print).
pub fn variant_color(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
    ];
    PALETTE[i % PALETTE.len()]
}

/// The chart's mesh as every plot draws it: no light lines, a faint grid, tick labels of
/// `label` px and axis titles of `desc` px, y ticks written by [`axis_label`].
pub fn mesh<'a, 'b, DB: DrawingBackend>(
    chart: &'b mut Chart<'a, DB>,
    label: u32,
    desc: u32,
) -> MeshStyle<'a, 'b, RangedCoordf64, RangedCoordf64, DB> {
    let mut mesh = chart.configure_mesh();
    mesh.label_style(text_style(label))
        .axis_desc_style(text_style(desc))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(GRID.mix(0.6))
        .y_label_formatter(&|v| axis_label(*v));
    mesh
}

/// One panel of a figure against another: its title, its axis and the figure it plots.
pub struct Panel {
    pub title: &'static str,
    pub axis: &'static str,
    pub figure: &'static catalogue::Figure,
}

impl Panel {
    /// The panel's figure of a run or of the medians, when it is a number a plot can place.
    pub fn of(&self, f: &FigureSet) -> Option<f64> {
        self.figure
            .plotted(f)
            .filter(|x| x.is_finite() && *x >= 0.0)
    }
}

/// The figures of a variant's ok runs.
pub fn ok_runs(v: &VariantSummary) -> impl Iterator<Item = &FigureSet> {
    v.run_figures
        .iter()
        .filter(|r| r.status.is_ok())
        .map(|r| &r.figures)
}

/// The lowest and highest A (MiB) over a variant's ok runs, when it has two or more: the
/// noise of the gate figure, drawn as a whisker.
pub fn a_range(v: &VariantSummary) -> Option<(f64, f64)> {
    let a: Vec<f64> = ok_runs(v).filter_map(|f| A.plotted(f)).collect();
    (a.len() > 1).then(|| {
        (
            a.iter().copied().fold(f64::INFINITY, f64::min),
            a.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    })
}

/// A number of MiB as a label: whole MiB from 10 up, one decimal below.
pub fn mib_label(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A tick label: whole numbers without decimals, others with one.
pub fn axis_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

pub fn text_style(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

pub fn bold_style(size: u32) -> TextStyle<'static> {
    (FONT, size)
        .into_font()
        .style(FontStyle::Bold)
        .color(&BLACK)
}

/// How a legend entry shows its series.
pub enum Swatch {
    /// A variant's line.
    Line(RGBColor),
    Block(RGBColor),
}

pub struct LegendEntry {
    pub swatch: Swatch,
    pub label: String,
    /// A second, smaller line under the label.
    pub detail: Option<String>,
}

impl LegendEntry {
    /// The `i`th variant's line, in its colour.
    pub fn variant(i: usize, label: String, detail: String) -> LegendEntry {
        LegendEntry {
            swatch: Swatch::Line(variant_color(i)),
            label,
            detail: Some(detail),
        }
    }
}

/// A legend in its own column, so it never hides data.
pub fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    entries: &[LegendEntry],
    notes: &[String],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let x = 12;
    let mut y = 70;
    area.draw(&Text::new(title.to_string(), (x, y), bold_style(22)))?;
    y += 42;
    for e in entries {
        match e.swatch {
            Swatch::Line(color) => {
                area.draw(&PathElement::new(
                    vec![(x, y + 11), (x + 40, y + 11)],
                    color.mix(1.0).stroke_width(4),
                ))?;
            }
            Swatch::Block(color) => {
                area.draw(&Rectangle::new(
                    [(x + 6, y + 1), (x + 34, y + 21)],
                    color.filled(),
                ))?;
            }
        }
        area.draw(&Text::new(e.label.clone(), (x + 52, y), text_style(20)))?;
        y += 28;
        if let Some(d) = &e.detail {
            area.draw(&Text::new(
                d.clone(),
                (x + 52, y),
                text_style(16).color(&RGBColor(80, 80, 80)),
            ))?;
            y += 24;
        }
        y += 10;
    }
    y += 10;
    for n in notes {
        area.draw(&Text::new(
            n.clone(),
            (x, y),
            text_style(16).color(&RGBColor(80, 80, 80)),
        ))?;
        y += 22;
    }
    Ok(())
}

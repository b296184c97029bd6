//! `rss-explained`: RssAnon over time split by the allocator's own figures, one panel per
//! variant (its median run): the app's data (in use), the free memory the allocator keeps (free
//! held) and the rest (what the allocator does not account for: pages given back lazily,
//! stacks, another heap, or, for an allocator with no free figure, everything not in use).
//! Drawn only when the records carry the probe's readings.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{axis_label, mesh, text_style, variant_color, Figure, WIDTH};
use crate::probe::explain::explain;
use crate::record::RunRecord;
use crate::report::summary::{load_start, phase};
use crate::report::{Exporter, Output, ReportError, ReportInput};
use crate::table::in_mib;

pub struct Explained(pub super::Files);

impl Exporter for Explained {
    fn export(&self, input: &ReportInput<'_>) -> Result<Vec<Output>, ReportError> {
        let panels = panels(input);
        if panels.is_empty() {
            return Ok(Vec::new());
        }
        let fig = ExplainedFigure {
            scenario: &input.summary.scenario.name,
            panels,
        };
        super::png_svg(&fig, "rss-explained", self.0)
    }
}

/// Height of one row of panels.
const ROW_HEIGHT: u32 = 420;
/// Room for the figure's title and key.
const HEADER: u32 = 90;

/// One probe reading next to the RssAnon sample taken at the same tick, in MiB, at seconds
/// since the load started.
struct Point {
    t: f64,
    rss: f64,
    in_use: Option<f64>,
    free_held: Option<f64>,
}

struct VariantPanel {
    name: String,
    colour: usize,
    points: Vec<Point>,
    /// From the start of `before` to the last reading.
    x: Range<f64>,
}

/// A panel for each variant whose median run (or first run, without an ok one) has readings.
fn panels(input: &ReportInput<'_>) -> Vec<VariantPanel> {
    input
        .summary
        .variants
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let mut runs = input
                .records
                .iter()
                .filter(|r| r.header.variant.name == v.name);
            let run = match v.median_run_index {
                Some(m) => runs.find(|r| r.header.run_index == m),
                None => runs.find(|r| !r.probe_readings.is_empty()),
            }?;
            let points = points(run)?;
            let t0 = load_start(run)?;
            let start = phase(run, "before").map_or(points[0].t, |b| b.start - t0);
            let end = points.last().map_or(start + 1.0, |p| p.t);
            Some(VariantPanel {
                name: v.name.clone(),
                colour: i,
                points,
                x: (start + 1e-6).floor()..end.ceil().max(start + 1.0),
            })
        })
        .collect()
}

/// The run's readings with their RssAnon; `None` without readings.
fn points(r: &RunRecord) -> Option<Vec<Point>> {
    let t0 = load_start(r)?;
    let points: Vec<Point> = r
        .probe_readings
        .iter()
        .filter_map(|tick| {
            // The sampler reads the pages at the tick of a sample: the same `t`.
            let i = r.samples.partition_point(|s| s.t < tick.t);
            let s = r.samples.get(i).or_else(|| r.samples.last())?;
            let e = explain(&tick.pages);
            Some(Point {
                t: tick.t - t0,
                rss: in_mib(s.rss_anon),
                in_use: e.in_use.map(in_mib),
                free_held: e.free_held.map(in_mib),
            })
        })
        .collect();
    (!points.is_empty()).then_some(points)
}

struct ExplainedFigure<'a> {
    scenario: &'a str,
    panels: Vec<VariantPanel>,
}

impl ExplainedFigure<'_> {
    fn grid(&self) -> (usize, usize) {
        let cols = if self.panels.len() > 1 { 2 } else { 1 };
        (self.panels.len().div_ceil(cols), cols)
    }
}

impl Figure for ExplainedFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEADER + ROW_HEIGHT * self.grid().0 as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (header, body) = root.split_vertically(HEADER);
        header.draw(&Text::new(
            format!("RssAnon by the allocator's own figures — {}", self.scenario),
            (20, 12),
            text_style(30),
        ))?;
        header.draw(&Text::new(
            "dark: in use (the app's data) · middle: free held by the allocator · light: the rest of RssAnon \
             (no middle band: the allocator does not tell its free memory)",
            (20, 54),
            text_style(18),
        ))?;
        let areas = body.split_evenly(self.grid());
        for (p, area) in self.panels.iter().zip(areas.iter()) {
            panel(area, p)?;
        }
        Ok(())
    }
}

/// A band of a panel: its top at each reading, and how strong its colour is.
type Layer = (fn(&Point) -> Option<f64>, f64);

/// One variant: RssAnon as a light area, in use plus free held over it, in use darkest.
fn panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &VariantPanel) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let top = p.points.iter().map(|q| q.rss).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(&p.name, text_style(22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d(p.x.clone(), 0.0..top)?;
    mesh(&mut chart, 16, 18)
        .y_desc("MiB")
        .x_desc("seconds since the load started")
        .x_label_formatter(&|v| axis_label(*v))
        .draw()?;
    let c = variant_color(p.colour);
    let stack = |f: fn(&Point) -> Option<f64>| -> Vec<(f64, f64)> {
        p.points.iter().filter_map(|q| Some((q.t, f(q)?))).collect()
    };
    let layers: [Layer; 3] = [
        (|q| Some(q.rss), 0.2),
        (|q| Some(q.in_use? + q.free_held?), 0.5),
        (|q| q.in_use, 0.95),
    ];
    for (f, shade) in layers {
        let points = stack(f);
        if points.is_empty() {
            continue;
        }
        chart.draw_series(AreaSeries::new(points, 0.0, c.mix(shade).filled()))?;
    }
    Ok(())
}

//! `rss-timeline`: RssAnon (MiB) over seconds since the load started, one colour per variant.
//! The median run of each variant is bold, its other runs faint, so run-to-run noise is seen
//! next to the figure the table reports. Phases are shaded from the median run of the first
//! variant (every variant runs the same phase plan). A scenario's memory limit is a dashed line,
//! and a run killed at it (`oom`) ends in a cross. Under the RSS panel, on the same time axis,
//! one panel per series the scenario declares (`[report] series`, read from `/stats`).

use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    axis_label, draw_legend, mesh, mib_label, png_svg, text_style, variant_color, Chart, Figure,
    LegendEntry, HEIGHT, LEGEND_WIDTH, RED, WIDTH,
};
use crate::record::{RunRecord, RunStatus};
use crate::report::catalogue::A;
use crate::report::series;
use crate::report::summary::{load_start, phase};
use crate::report::{Exporter, Output, ReportError, ReportInput};
use crate::scenario::{SeriesKind, SeriesSpec};
use crate::table::in_mib;

pub struct Timeline(pub super::Files);

impl Exporter for Timeline {
    fn export(&self, input: &ReportInput<'_>) -> Result<Vec<Output>, ReportError> {
        let fig = TimelineFigure {
            input,
            series: input.summary.scenario.series.clone(),
        };
        png_svg(&fig, "rss-timeline", self.0)
    }
}

/// The shaded phases and their tints.
const BANDS: [(&str, RGBColor); 5] = [
    ("before", RGBColor(225, 232, 240)),
    ("during", RGBColor(253, 226, 200)),
    ("drain", RGBColor(222, 240, 222)),
    ("nudge", RGBColor(236, 226, 246)),
    ("release", RGBColor(214, 240, 244)),
];

/// Height of each declared series' panel, added under the RSS panel.
const SERIES_PANEL_HEIGHT: u32 = 300;

struct RunLine {
    variant: usize,
    bold: bool,
    /// Killed at the memory limit (or by the kernel): the line ends with a cross.
    oom: bool,
    points: Vec<(f64, f64)>,
}

/// A shaded phase, in load-relative seconds.
struct Band {
    name: &'static str,
    tint: RGBColor,
    span: Range<f64>,
}

/// One panel of the figure: its lines and axes.
struct Panel<'p> {
    caption: String,
    caption_size: u32,
    y_desc: String,
    y: Range<f64>,
    lines: &'p [RunLine],
    /// The x axis description and the phase names go on the first and last panels only.
    x_desc: bool,
    band_labels: bool,
    /// Crosses where oom runs were killed: on the RSS panel, whose samples end at the kill
    /// (a series' last `/stats` reading may be a second before it).
    kill_marks: bool,
}

struct TimelineFigure<'a> {
    input: &'a ReportInput<'a>,
    series: Vec<SeriesSpec>,
}

impl TimelineFigure<'_> {
    fn runs_of<'r>(&'r self, name: &'r str) -> impl Iterator<Item = &'r RunRecord> + 'r {
        self.input
            .records
            .iter()
            .filter(move |r| r.header.variant.name == name)
    }

    /// Every run as a line in load-relative seconds, its values from `values` (raw seconds
    /// since the run started); the median run of a variant is bold (or, when none was ok, its
    /// first run with samples).
    fn lines(&self, values: impl Fn(&RunRecord) -> Vec<(f64, f64)>) -> Vec<RunLine> {
        let mut out = Vec::new();
        for (vi, v) in self.input.summary.variants.iter().enumerate() {
            let fallback = self
                .runs_of(&v.name)
                .find(|r| !r.samples.is_empty())
                .map(|r| r.header.run_index);
            let bold_index = v.median_run_index.or(fallback);
            for r in self.runs_of(&v.name) {
                let Some(t0) = load_start(r) else { continue };
                out.push(RunLine {
                    variant: vi,
                    bold: Some(r.header.run_index) == bold_index,
                    oom: r.status == RunStatus::Oom,
                    points: values(r).into_iter().map(|(t, y)| (t - t0, y)).collect(),
                });
            }
        }
        out
    }

    /// The run whose phases are shaded: the median run of the first variant that has one (a
    /// run killed midway has only the phases it reached).
    fn band_source(&self) -> Option<&RunRecord> {
        self.input
            .summary
            .variants
            .iter()
            .find_map(|v| {
                self.runs_of(&v.name)
                    .find(|r| Some(r.header.run_index) == v.median_run_index)
            })
            .or_else(|| self.input.records.iter().find(|r| load_start(r).is_some()))
    }

    fn bands(&self, x: &Range<f64>) -> Vec<Band> {
        let Some(src) = self.band_source() else {
            return Vec::new();
        };
        let t0 = load_start(src).unwrap_or(0.0);
        // Every mark, in order: with `[phases] cycles` each cycle's `during` and `drain`.
        src.phases
            .iter()
            .filter_map(|m| {
                let &(name, tint) = BANDS.iter().find(|(n, _)| *n == m.name)?;
                let (a, b) = ((m.start - t0).max(x.start), (m.end - t0).min(x.end));
                (b > a).then_some(Band {
                    name,
                    tint,
                    span: a..b,
                })
            })
            .collect()
    }

    /// Draws one panel: bands, mesh, phase names, lines (faint runs first, so the bold medians
    /// sit on top) and crosses where oom runs were killed.
    fn panel<'a, DB: DrawingBackend>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
        x: &Range<f64>,
        bands: &[Band],
        p: &Panel<'_>,
    ) -> anyhow::Result<Chart<'a, DB>>
    where
        DB::ErrorType: 'static,
    {
        let mut chart = ChartBuilder::on(area)
            .caption(&p.caption, text_style(p.caption_size))
            .margin(20)
            .x_label_area_size(if p.x_desc { 70 } else { 40 })
            .y_label_area_size(100)
            .build_cartesian_2d(x.clone(), p.y.clone())?;

        // Bands under the grid, their names over it.
        for b in bands {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(b.span.start, p.y.start), (b.span.end, p.y.end)],
                b.tint.filled(),
            )))?;
        }
        let mut mesh = mesh(&mut chart, 18, 22);
        mesh.y_desc(p.y_desc.as_str())
            .x_label_formatter(&|v| axis_label(*v));
        if p.x_desc {
            mesh.x_desc("seconds since the load started (s)");
        }
        mesh.draw()?;
        if p.band_labels {
            for b in bands {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((b.span.start, p.y.end))
                        + Text::new(
                            b.name.to_string(),
                            (8, 8),
                            text_style(20).color(&RGBColor(60, 60, 60)),
                        ),
                ))?;
            }
        }

        for bold in [false, true] {
            for l in p.lines.iter().filter(|l| l.bold == bold) {
                let c = variant_color(l.variant);
                let style = if bold {
                    c.stroke_width(3)
                } else {
                    c.mix(0.35).stroke_width(1)
                };
                chart.draw_series(LineSeries::new(l.points.iter().copied(), style))?;
            }
        }
        for l in p.lines.iter().filter(|l| l.oom && p.kill_marks) {
            let Some(&end) = l.points.last() else {
                continue;
            };
            let c = variant_color(l.variant);
            chart.draw_series(std::iter::once(Cross::new(end, 9, c.stroke_width(3))))?;
        }
        Ok(chart)
    }
}

/// The y range of a panel: from zero (or below, for a rate that fell) to above the top.
fn y_range(lines: &[RunLine], floor_top: f64) -> Range<f64> {
    let values = || lines.iter().flat_map(|l| l.points.iter()).map(|p| p.1);
    let top = values().fold(floor_top, f64::max);
    let bottom = values().fold(0.0, f64::min);
    bottom * 1.12..top * 1.12
}

impl Figure for TimelineFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (
            WIDTH,
            HEIGHT + SERIES_PANEL_HEIGHT * self.series.len() as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (plot_area, legend_area) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let (rss_area, series_area) = plot_area.split_vertically(HEIGHT);
        let series_areas = if self.series.is_empty() {
            Vec::new()
        } else {
            series_area.split_evenly((self.series.len(), 1))
        };
        let s = self.input.summary;
        let mut lines = self.lines(|r| {
            r.samples
                .iter()
                .map(|s| (s.t, in_mib(s.rss_anon)))
                .collect()
        });

        // From the start of `before`: startup and warmup are not measured figures.
        let x_min = self
            .input
            .records
            .iter()
            .filter_map(|r| Some(phase(r, "before")?.start - load_start(r)?))
            .fold(f64::INFINITY, f64::min);
        let x_min = if x_min.is_finite() {
            // Phase marks are float seconds: -3.0000001 is -3.
            (x_min + 1e-6).floor()
        } else {
            lines
                .iter()
                .flat_map(|l| l.points.first())
                .map(|p| p.0)
                .fold(0.0, f64::min)
                .floor()
        };
        for l in &mut lines {
            l.points.retain(|p| p.0 >= x_min);
        }
        let x_max = lines
            .iter()
            .flat_map(|l| l.points.last())
            .map(|p| p.0)
            .fold(x_min + 1.0, f64::max)
            .ceil();
        let x = x_min..x_max;
        let bands = self.bands(&x);
        let limit = s.scenario.memory_limit_bytes.map(in_mib);

        let rss = Panel {
            caption: format!("RssAnon over time — {}", s.scenario.name),
            caption_size: 30,
            y_desc: "RssAnon (MiB)".into(),
            y: 0.0..y_range(&lines, limit.unwrap_or(1.0).max(1.0)).end,
            lines: &lines,
            x_desc: self.series.is_empty(),
            band_labels: true,
            kill_marks: true,
        };
        let mut chart = self.panel(&rss_area, &x, &bands, &rss)?;
        if let Some(limit) = limit {
            // The harness compares VmRSS with the limit; RssAnon, drawn here, is most of it.
            chart.draw_series(DashedLineSeries::new(
                [(x.start, limit), (x.end, limit)],
                14,
                8,
                RED.stroke_width(2),
            ))?;
            chart.draw_series(std::iter::once(
                EmptyElement::at((x.start, limit))
                    + Text::new(
                        format!("memory limit {} MiB (VmRSS)", mib_label(limit)),
                        (8, -26),
                        text_style(18).color(&RED),
                    ),
            ))?;
        }

        for (k, (spec, area)) in self.series.iter().zip(&series_areas).enumerate() {
            let mut lines = self.lines(|r| {
                series::points(r, spec)
                    .into_iter()
                    .map(|(t, v)| (t, series::display_value(spec, v)))
                    .collect()
            });
            for l in &mut lines {
                l.points.retain(|p| x.contains(&p.0) || p.0 == x.end);
            }
            let panel = Panel {
                caption: match spec.kind {
                    SeriesKind::Gauge => format!("{} — {}", spec.label, spec.stat),
                    SeriesKind::Rate => {
                        format!("{} — increase per second of {}", spec.label, spec.stat)
                    }
                },
                caption_size: 22,
                y_desc: series::labelled(spec),
                y: y_range(&lines, 1.0),
                lines: &lines,
                x_desc: k + 1 == self.series.len(),
                band_labels: false,
                kill_marks: false,
            };
            self.panel(area, &x, &bands, &panel)?;
        }

        let entries: Vec<LegendEntry> = s
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let detail = match A.plotted(&v.medians) {
                    Some(a) if v.runs_ok > 0 => {
                        let r = v
                            .medians
                            .retention
                            .map(|r| format!(" · R {r:.2}"))
                            .unwrap_or_default();
                        format!(
                            "A {} MiB{r} · {}/{} runs ok",
                            mib_label(a),
                            v.runs_ok,
                            v.runs
                        )
                    }
                    _ => format!("{} · {}/{} runs ok", v.status, v.runs_ok, v.runs),
                };
                LegendEntry::variant(i, v.name.clone(), detail)
            })
            .collect();
        let mut notes = vec![
            "bold: the median run (by RSS after drain)".to_string(),
            "faint: the other runs".to_string(),
        ];
        if let Some(src) = self.band_source() {
            notes.push("bands: the phases of the median run".to_string());
            notes.push(format!("  of {}", src.header.variant.name));
        }
        if limit.is_some() {
            notes.push("dashed: the memory limit".to_string());
        }
        if lines.iter().any(|l| l.oom) {
            notes.push("×: killed at the limit (oom)".to_string());
        }
        draw_legend(&legend_area, "variants", &entries, &notes)?;
        Ok(())
    }
}

//! `rss-timeline`: RssAnon (MiB) over seconds since the load started, one colour per variant.
//! The median run of each variant is bold, its other runs faint, so run-to-run noise is seen
//! next to the figure the table reports. Phases are shaded from the median run of the first
//! variant (every variant runs the same phase plan).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    axis_label, draw_legend, mib, mib_label, text_style, variant_color, write_png_svg, Figure,
    LegendEntry, Swatch, LEGEND_WIDTH, WIDTH,
};
use crate::record::RunRecord;
use crate::report::summary::{load_start, phase};
use crate::report::{Exporter, ReportError, ReportInput};

pub struct Timeline;

impl Exporter for Timeline {
    fn files(&self) -> Vec<&'static str> {
        vec!["rss-timeline.png", "rss-timeline.svg"]
    }

    fn export(&self, input: &ReportInput<'_>, dir: &Path) -> Result<(), ReportError> {
        write_png_svg(&TimelineFigure { input }, dir, "rss-timeline")
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

struct RunLine {
    variant: usize,
    bold: bool,
    points: Vec<(f64, f64)>,
}

struct TimelineFigure<'a> {
    input: &'a ReportInput<'a>,
}

impl TimelineFigure<'_> {
    fn runs_of<'r>(&'r self, name: &'r str) -> impl Iterator<Item = &'r RunRecord> + 'r {
        self.input
            .records
            .iter()
            .filter(move |r| r.variant.name == name)
    }

    /// Every run as a line in load-relative seconds; the median run of a variant is bold (or,
    /// when none was ok, its first run with samples).
    fn lines(&self) -> Vec<RunLine> {
        let mut out = Vec::new();
        for (vi, v) in self.input.summary.variants.iter().enumerate() {
            let fallback = self
                .runs_of(&v.name)
                .find(|r| !r.samples.is_empty())
                .map(|r| r.run_index);
            let bold_index = v.median_run_index.or(fallback);
            for r in self.runs_of(&v.name) {
                let Some(t0) = load_start(r) else { continue };
                out.push(RunLine {
                    variant: vi,
                    bold: Some(r.run_index) == bold_index,
                    points: r
                        .samples
                        .iter()
                        .map(|s| (s.t - t0, mib(s.rss_anon)))
                        .collect(),
                });
            }
        }
        out
    }

    /// The run whose phases are shaded: the median run of the first variant.
    fn band_source(&self) -> Option<&RunRecord> {
        let v = self.input.summary.variants.first()?;
        self.runs_of(&v.name)
            .find(|r| Some(r.run_index) == v.median_run_index)
            .or_else(|| self.input.records.iter().find(|r| load_start(r).is_some()))
    }
}

impl Figure for TimelineFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let (plot_area, legend_area) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let s = self.input.summary;
        let mut lines = self.lines();

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
        let y_top = lines
            .iter()
            .flat_map(|l| l.points.iter())
            .map(|p| p.1)
            .fold(1.0, f64::max);
        let y_max = y_top * 1.12;

        let title = format!("RssAnon over time — {}", s.scenario.name);
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(title, text_style(30))
            .margin(20)
            .x_label_area_size(70)
            .y_label_area_size(100)
            .build_cartesian_2d(x_min..x_max, 0.0..y_max)?;

        // Bands under the grid, their names over it.
        let mut band_labels = Vec::new();
        if let Some(src) = self.band_source() {
            let t0 = load_start(src).unwrap_or(0.0);
            for (name, tint) in BANDS {
                let Some(m) = phase(src, name) else { continue };
                let (a, b) = ((m.start - t0).max(x_min), (m.end - t0).min(x_max));
                if b <= a {
                    continue;
                }
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(a, 0.0), (b, y_max)],
                    tint.filled(),
                )))?;
                band_labels.push((name, a));
            }
        }

        chart
            .configure_mesh()
            .x_desc("seconds since the load started (s)")
            .y_desc("RssAnon (MiB)")
            .label_style(text_style(18))
            .axis_desc_style(text_style(22))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(RGBColor(200, 200, 200).mix(0.6))
            .x_label_formatter(&|v| axis_label(*v))
            .y_label_formatter(&|v| axis_label(*v))
            .draw()?;
        for (name, a) in band_labels {
            chart.draw_series(std::iter::once(
                EmptyElement::at((a, y_max))
                    + Text::new(
                        name.to_string(),
                        (8, 8),
                        text_style(20).color(&RGBColor(60, 60, 60)),
                    ),
            ))?;
        }

        // Faint runs first, so the bold medians sit on top.
        for bold in [false, true] {
            for l in lines.iter().filter(|l| l.bold == bold) {
                let c = variant_color(l.variant);
                let style = if bold {
                    c.stroke_width(3)
                } else {
                    c.mix(0.35).stroke_width(1)
                };
                chart.draw_series(LineSeries::new(l.points.iter().copied(), style))?;
            }
        }

        let entries: Vec<LegendEntry> = s
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let detail = match v.medians.rss_after_drain_bytes {
                    Some(a) if v.runs_ok > 0 => {
                        let r = v
                            .medians
                            .retention
                            .map(|r| format!(" · R {r:.2}"))
                            .unwrap_or_default();
                        format!(
                            "A {} MiB{r} · {}/{} runs ok",
                            mib_label(mib(a)),
                            v.runs_ok,
                            v.runs
                        )
                    }
                    _ => format!("{} · {}/{} runs ok", v.status, v.runs_ok, v.runs),
                };
                LegendEntry {
                    swatch: Swatch::Line {
                        color: variant_color(i),
                        width: 4,
                        alpha: 1.0,
                    },
                    label: v.name.clone(),
                    detail: Some(detail),
                }
            })
            .collect();
        let mut notes = vec![
            "bold: the median run (by RSS after drain)".to_string(),
            "faint: the other runs".to_string(),
        ];
        if let Some(v) = s.variants.first() {
            notes.push(format!("bands: phases of {}'s median run", v.name));
        }
        draw_legend(&legend_area, "variants", &entries, &notes)?;
        Ok(())
    }
}

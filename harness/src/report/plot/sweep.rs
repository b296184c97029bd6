//! `sweep`: when the variants are points of a numeric sweep (every variant run once per value
//! of one `[server]` field), what the sweep is for: VSZ at its peak, the RssAnon peak and the
//! glibc arena heaps at their peak against the swept value, one line per base variant. Incident
//! 002's figure: each new thread arena adds 64 MiB of VSZ up to 8 × cores on `glibc`, while
//! `glibc-arena2` stays flat. Not drawn for a sweep of words (`buffered`, `streaming`): the bars
//! and tables show each point as its own variant.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    axis_label, draw_legend, mesh, png_svg, text_style, variant_color, Figure, LegendEntry, Panel,
    GRID, LEGEND_WIDTH, WIDTH,
};
use crate::report::catalogue::{ARENA_HEAPS_PEAK, P, VSZ_PEAK};
use crate::report::summary::VariantSummary;
use crate::report::{Exporter, Output, ReportError, ReportInput};

pub struct Sweep(pub super::Files);

impl Exporter for Sweep {
    /// Written only when the records form a numeric sweep of at least two values.
    fn export(&self, input: &ReportInput<'_>) -> Result<Vec<Output>, ReportError> {
        match SweepFigure::of(input) {
            Some(fig) => png_svg(&fig, "sweep", self.0),
            None => Ok(vec![]),
        }
    }
}

/// A figure of the variant on y of each panel, against the swept value.
const PANELS: [Panel; 3] = [
    Panel {
        title: "VSZ at its peak",
        axis: "highest VmSize during the load (MiB)",
        figure: &VSZ_PEAK,
    },
    Panel {
        title: "RSS at its peak",
        axis: "highest RssAnon during the load (MiB)",
        figure: &P,
    },
    Panel {
        title: "glibc arena heaps at their peak",
        axis: "arena heaps (64 MiB of VSZ each)",
        figure: &ARENA_HEAPS_PEAK,
    },
];

/// A point as drawn: x (transformed), y, and whether it is a median over ok runs (solid).
type Point = (f64, f64, bool);

/// A base variant's points, by swept value.
struct Line<'a> {
    base: &'a str,
    points: Vec<(f64, &'a VariantSummary)>,
}

struct SweepFigure<'a> {
    input: &'a ReportInput<'a>,
    field: String,
    values: Vec<f64>,
    /// The tick under each value: the value, or the point's own label when the scenario gave
    /// one (`unbounded`, `limit-48`).
    ticks: Vec<String>,
    /// log2 x when the values span a factor of 8 or more (2, 8, 32, 128 threads).
    log2: bool,
    lines: Vec<Line<'a>>,
}

impl<'a> SweepFigure<'a> {
    /// The figure, when the summary holds a numeric sweep with two values or more.
    fn of(input: &'a ReportInput<'a>) -> Option<Self> {
        let sweep = input.summary.scenario.sweep.as_ref()?;
        let mut values = sweep.numeric_values()?;
        values.sort_by(f64::total_cmp);
        values.dedup();
        let (lo, hi) = (values[0], values[values.len() - 1]);
        let mut lines: Vec<Line> = Vec::new();
        for v in &input.summary.variants {
            let Some(x) = v.sweep.as_ref().and_then(|p| p.value.as_f64()) else {
                continue;
            };
            match lines.iter_mut().find(|l| l.base == v.base_variant) {
                Some(l) => l.points.push((x, v)),
                None => lines.push(Line {
                    base: &v.base_variant,
                    points: vec![(x, v)],
                }),
            }
        }
        for l in &mut lines {
            l.points.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        let ticks = values
            .iter()
            .map(|&x| {
                let label = lines
                    .iter()
                    .flat_map(|l| &l.points)
                    .find(|p| p.0 == x)
                    .and_then(|p| p.1.sweep.as_ref())
                    .filter(|p| {
                        let value = p.value.to_string();
                        p.label != value && p.label != format!("{}={value}", p.name)
                    })
                    .map(|p| p.label.clone());
                label.unwrap_or_else(|| axis_label(x))
            })
            .collect();
        Some(SweepFigure {
            input,
            field: sweep.field.clone(),
            log2: lo > 0.0 && hi / lo >= 8.0,
            values,
            ticks,
            lines,
        })
    }

    fn x(&self, v: f64) -> f64 {
        if self.log2 {
            v.log2()
        } else {
            v
        }
    }

    /// A point's figure: the median over its ok runs, or, for a point with none (an `oom`
    /// point), the median over its runs as measured until they ended, drawn hollow.
    fn y_of(p: &Panel, v: &VariantSummary) -> Option<(f64, bool)> {
        if v.runs_ok > 0 {
            return p.of(&v.medians).map(|y| (y, true));
        }
        let mut ys: Vec<f64> = v
            .run_figures
            .iter()
            .filter_map(|r| p.of(&r.figures))
            .collect();
        ys.sort_by(f64::total_cmp);
        ys.get(ys.len().saturating_sub(1) / 2).map(|&y| (y, false))
    }

    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        p: &Panel,
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let xs: Vec<f64> = self.values.iter().map(|&v| self.x(v)).collect();
        let (x0, x1) = (xs[0], xs[xs.len() - 1]);
        let pad = (x1 - x0) * 0.12;
        let series: Vec<(usize, Vec<Point>)> = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let pts = l
                    .points
                    .iter()
                    .filter_map(|&(x, v)| {
                        let (y, solid) = Self::y_of(p, v)?;
                        Some((self.x(x), y, solid))
                    })
                    .collect();
                (i, pts)
            })
            .collect();
        let top = series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.1))
            .fold(1.0, f64::max);
        let y_max = top * 1.15;

        let mut chart = ChartBuilder::on(area)
            .caption(p.title, text_style(24))
            .margin(20)
            .margin_right(30)
            .x_label_area_size(80)
            .y_label_area_size(90)
            .build_cartesian_2d((x0 - pad)..(x1 + pad), 0.0..y_max)?;
        // The x ticks are the swept values themselves, drawn below.
        let x_desc = if self.log2 {
            format!("{} (log2 scale)", self.field)
        } else {
            self.field.clone()
        };
        mesh(&mut chart, 18, 20)
            .disable_x_mesh()
            .x_labels(0)
            .x_desc(x_desc)
            .y_desc(p.axis)
            .draw()?;
        let grid = GRID.mix(0.6);
        chart.draw_series(
            xs.iter()
                .map(|&x| PathElement::new(vec![(x, 0.0), (x, y_max)], grid)),
        )?;
        let (ox, oy) = area.get_base_pixel();
        let tick_style = text_style(18).pos(Pos::new(HPos::Center, VPos::Top));
        for (&x, tick) in xs.iter().zip(&self.ticks) {
            let (px, py) = chart.backend_coord(&(x, 0.0));
            area.draw(&PathElement::new(
                vec![(px - ox, py - oy), (px - ox, py - oy + 6)],
                BLACK,
            ))?;
            area.draw(&Text::new(
                tick.clone(),
                (px - ox, py - oy + 10),
                tick_style.clone(),
            ))?;
        }

        // Earlier lines wider, so a line that coincides with a later one still shows round it.
        let n = series.len();
        for (i, pts) in &series {
            let c = variant_color(*i);
            let wider = 2 * (n - 1 - *i).min(3) as u32;
            chart.draw_series(LineSeries::new(
                pts.iter().map(|&(x, y, _)| (x, y)),
                c.stroke_width(3 + wider),
            ))?;
            chart.draw_series(pts.iter().map(|&(x, y, solid)| {
                let style = if solid { c.filled() } else { c.stroke_width(2) };
                Circle::new((x, y), 7 + wider as i32, style)
            }))?;
        }
        Ok(())
    }
}

impl Figure for SweepFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (plot_area, legend_area) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let title = format!(
            "VSZ, RSS and glibc arena heaps against {} — {}",
            self.field, self.input.summary.scenario.name
        );
        let body = plot_area
            .margin(12, 0, 0, 0)
            .titled(&title, text_style(28))?;
        for (area, panel) in body.split_evenly((1, PANELS.len())).iter().zip(&PANELS) {
            self.panel(area, panel)?;
        }

        let entries: Vec<LegendEntry> = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let arenas: Vec<String> = l
                    .points
                    .iter()
                    .map(|(_, v)| {
                        Self::y_of(&PANELS[2], v)
                            .map(|(n, _)| axis_label(n))
                            .unwrap_or_else(|| "–".into())
                    })
                    .collect();
                let detail = format!("arena heaps {}", arenas.join(" → "));
                LegendEntry::variant(i, l.base.to_string(), detail)
            })
            .collect();
        let mut notes = vec![
            "points: medians over the ok runs".to_string(),
            "of each sweep point".to_string(),
        ];
        let hollow = self
            .lines
            .iter()
            .flat_map(|l| &l.points)
            .any(|(_, v)| v.runs_ok == 0);
        if hollow {
            notes.push("hollow: no ok run; as measured".to_string());
            notes.push("  until the run ended (oom, failed)".to_string());
        }
        draw_legend(&legend_area, "variants", &entries, &notes)?;
        Ok(())
    }
}

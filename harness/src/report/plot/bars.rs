//! `rss-summary`: per variant, grouped bars of RssAnon before the load, at its peak and after
//! the drain (medians over ok runs), with the after-drain spread across runs as a whisker:
//! the gate figure and its noise in one look.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    a_range, draw_legend, mesh, mib_label, png_svg, text_style, Figure, LegendEntry, Swatch,
    LEGEND_WIDTH, RED, WIDTH,
};
use crate::record::RunStatus;
use crate::report::catalogue::{self, A, B, P};
use crate::report::{Exporter, Output, ReportError, ReportInput};

pub struct SummaryBars(pub super::Files);

impl Exporter for SummaryBars {
    fn export(&self, input: &ReportInput<'_>) -> Result<Vec<Output>, ReportError> {
        png_svg(&BarsFigure { input }, "rss-summary", self.0)
    }
}

/// The three figures, each its legend and colour: the eye goes to the dark after-drain bar.
const METRICS: [(&catalogue::Figure, &str, RGBColor); 3] = [
    (&B, "before", RGBColor(170, 170, 170)),
    (&P, "peak", RGBColor(244, 165, 130)),
    (&A, "after drain", RED),
];
const BAR_WIDTH: f64 = 0.24;

struct BarsFigure<'a> {
    input: &'a ReportInput<'a>,
}

impl Figure for BarsFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (plot_area, legend_area) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let s = self.input.summary;
        let n = s.variants.len().max(1);
        let values: Vec<[Option<f64>; 3]> = s
            .variants
            .iter()
            .map(|v| METRICS.map(|(f, ..)| f.plotted(&v.medians)))
            .collect();
        let spread: Vec<Option<(f64, f64)>> = s.variants.iter().map(a_range).collect();
        let top = values
            .iter()
            .flat_map(|v| v.iter().flatten())
            .copied()
            .chain(spread.iter().flatten().map(|s| s.1))
            .fold(1.0, f64::max);
        let y_max = top * 1.15;

        // A variant with failed runs says so under its bars.
        let names: Vec<String> = s
            .variants
            .iter()
            .map(|v| {
                if v.runs_ok == v.runs {
                    v.name.clone()
                } else {
                    format!("{} ({}/{} ok)", v.name, v.runs_ok, v.runs)
                }
            })
            .collect();
        let label = |x: &f64| -> String {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(
                format!(
                    "RssAnon before, at peak and after drain — {}",
                    s.scenario.name
                ),
                text_style(30),
            )
            .margin(20)
            .x_label_area_size(70)
            .y_label_area_size(100)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..y_max)?;
        mesh(&mut chart, 20, 22)
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&label)
            .y_desc("RssAnon (MiB)")
            .x_desc("variant (medians over ok runs)")
            .draw()?;

        let value_style = text_style(16).pos(Pos::new(HPos::Center, VPos::Bottom));
        for (i, (vals, v)) in values.iter().zip(&s.variants).enumerate() {
            let c = i as f64;
            if v.runs_ok == 0 {
                chart.draw_series(std::iter::once(Text::new(
                    if v.status == RunStatus::Skipped {
                        "skipped: not run here".to_string()
                    } else {
                        format!("{}: no ok run", v.status)
                    },
                    (c, y_max * 0.04),
                    text_style(20)
                        .color(&RED)
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                )))?;
                continue;
            }
            for (k, (val, (.., color))) in vals.iter().zip(METRICS).enumerate() {
                let Some(val) = *val else { continue };
                let x = c + (k as f64 - 1.0) * (BAR_WIDTH + 0.02);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x - BAR_WIDTH / 2.0, 0.0), (x + BAR_WIDTH / 2.0, val)],
                    color.filled(),
                )))?;
                // The after-drain label sits above its whisker, not on it.
                let label_y = match (k, spread[i]) {
                    (2, Some((_, hi))) => hi.max(val),
                    _ => val,
                };
                chart.draw_series(std::iter::once(
                    EmptyElement::at((x, label_y))
                        + Text::new(mib_label(val), (0, -4), value_style.clone()),
                ))?;
            }
            if let Some((lo, hi)) = spread[i] {
                let x = c + BAR_WIDTH + 0.02;
                let w = BAR_WIDTH / 4.0;
                let st = BLACK.stroke_width(2);
                chart.draw_series([
                    PathElement::new(vec![(x, lo), (x, hi)], st),
                    PathElement::new(vec![(x - w, lo), (x + w, lo)], st),
                    PathElement::new(vec![(x - w, hi), (x + w, hi)], st),
                ])?;
            }
        }

        let entries: Vec<LegendEntry> = METRICS
            .iter()
            .map(|(f, name, color)| LegendEntry {
                swatch: Swatch::Block(*color),
                label: format!("{name} ({})", f.title),
                detail: None,
            })
            .collect();
        let notes = vec![
            "bars: medians over the ok runs (MiB)".to_string(),
            "whisker: lowest–highest A of the ok runs".to_string(),
            "B, A: median RssAnon over the last".to_string(),
            "  second of `before` / `drain`".to_string(),
            "P: highest RssAnon during the load".to_string(),
        ];
        draw_legend(&legend_area, "RssAnon", &entries, &notes)?;
        Ok(())
    }
}

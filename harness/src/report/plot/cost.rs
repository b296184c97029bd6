//! `cost`: what each fix costs. With `[cost]` ([`price`]): after-drain RSS against each cost
//! of the capacity server as a ratio to the reference's. Without: after-drain RSS against the
//! memory run's throughput, against p99, and against server CPU per 1,000 responses (the price
//! that shows when the egress caps throughput): one labelled point per variant (its medians)
//! and a faint dot per ok run. Down and right is better on the first panel, down and left on
//! the others.

mod price;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    axis_label, mesh, ok_runs, png_svg, text_style, variant_color, Figure, Panel, A_AXIS, RED,
};
use crate::report::catalogue::{A, P99, SERVER_CPU_PER_1000, THROUGHPUT};
use crate::report::{Exporter, Output, ReportError, ReportInput};

pub struct Cost(pub super::Files);

impl Exporter for Cost {
    fn export(&self, input: &ReportInput<'_>) -> Result<Vec<Output>, ReportError> {
        match &input.summary.cost {
            Some(cost) => png_svg(&price::PriceFigure { input, cost }, "cost", self.0),
            None => png_svg(&CostFigure { input }, "cost", self.0),
        }
    }
}

struct CostFigure<'a> {
    input: &'a ReportInput<'a>,
}

/// A load figure on x of each panel.
const PANELS: [Panel; 3] = [
    Panel {
        title: "after-drain RSS vs throughput",
        axis: "throughput (ok responses/s)",
        figure: &THROUGHPUT,
    },
    Panel {
        title: "after-drain RSS vs p99 latency",
        axis: "p99 latency (ms, from the intended send time)",
        figure: &P99,
    },
    // When the egress limit caps throughput, the price of a fix shows in the server's CPU.
    Panel {
        title: "after-drain RSS vs server CPU",
        axis: "server CPU s per 1,000 ok responses",
        figure: &SERVER_CPU_PER_1000,
    },
];

/// A pixel rectangle: left, top, right, bottom.
pub(super) type Rect = (i32, i32, i32, i32);

fn overlaps(a: Rect, b: Rect) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

impl CostFigure<'_> {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        p: &Panel,
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let vs = &self.input.summary.variants;
        let points: Vec<(usize, f64, f64)> = vs
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((i, p.of(&v.medians)?, A.plotted(&v.medians)?)))
            .collect();
        let runs: Vec<(usize, f64, f64)> = vs
            .iter()
            .enumerate()
            .flat_map(|(i, v)| ok_runs(v).filter_map(move |f| Some((i, p.of(f)?, A.plotted(f)?))))
            .collect();
        let x_top = runs.iter().chain(&points).map(|p| p.1).fold(0.0, f64::max);
        let y_top = runs.iter().chain(&points).map(|p| p.2).fold(1.0, f64::max);
        let x_max = if x_top > 0.0 { x_top * 1.25 } else { 1.0 };
        let y_max = y_top * 1.2;

        let mut chart = ChartBuilder::on(area)
            .caption(p.title, text_style(24))
            .margin(20)
            .margin_right(30)
            .x_label_area_size(70)
            .y_label_area_size(100)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
        mesh(&mut chart, 18, 20)
            .x_desc(p.axis)
            .y_desc(A_AXIS)
            .x_label_formatter(&|v| axis_label(*v))
            .draw()?;

        chart.draw_series(
            runs.iter()
                .map(|&(i, x, y)| Circle::new((x, y), 4, variant_color(i).mix(0.45).filled())),
        )?;
        chart.draw_series(
            points
                .iter()
                .map(|&(i, x, y)| Circle::new((x, y), 9, variant_color(i).filled())),
        )?;

        let pixel = |x: f64, y: f64| chart.backend_coord(&(x, y));
        let labels: Vec<Label> = points
            .iter()
            .map(|&(i, x, y)| Label {
                name: vs[i].name.clone(),
                color: variant_color(i),
                at: pixel(x, y),
            })
            .collect();
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        place_labels(area, &labels, Vec::new(), (xs, ys))?;

        // Said in the headroom at the top of the panel, above every point.
        let missing: Vec<&str> = vs
            .iter()
            .filter(|v| p.of(&v.medians).is_none() || A.plotted(&v.medians).is_none())
            .map(|v| v.name.as_str())
            .collect();
        if !missing.is_empty() {
            let note = format!(
                "not plotted (no ok run with this figure): {}",
                missing.join(", ")
            );
            chart.draw_series(std::iter::once(
                EmptyElement::at((0.0, y_max))
                    + Text::new(note, (10, 8), text_style(16).color(&RED)),
            ))?;
        }
        Ok(())
    }
}

/// A point's label: its variant's name and colour, and the point in pixels of the drawing.
pub(super) struct Label {
    pub name: String,
    pub color: RGBColor,
    pub at: (i32, i32),
}

/// Labels beside their points, placed from the topmost point down so that close points keep
/// their labels in the same order; a label pushed away from its point gets a leader line.
/// Labels avoid every point, every label already placed and `obstacles` (pixel rectangles of
/// the drawing), and stay inside `plot` (the plotting area's pixel ranges).
pub(super) fn place_labels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: &[Label],
    obstacles: Vec<Rect>,
    plot: (std::ops::Range<i32>, std::ops::Range<i32>),
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let mut obstacles: Vec<Rect> = labels
        .iter()
        .map(|l| {
            let (px, py) = l.at;
            (px - 11, py - 11, px + 11, py + 11)
        })
        .chain(obstacles)
        .collect();
    let mut order: Vec<&Label> = labels.iter().collect();
    order.sort_by_key(|l| l.at.1);
    let (ox, oy) = area.get_base_pixel();
    let (xs, ys) = plot;
    for l in order {
        let name = &l.name;
        let color = l.color;
        let style = text_style(19).color(&color);
        let (w, h) = area.estimate_text_size(name, &style)?;
        let (w, h) = (w as i32, h as i32);
        let (px, py) = l.at;
        let fits = |r: Rect| {
            r.0 >= xs.start
                && r.2 <= xs.end
                && r.1 >= ys.start
                && r.3 <= ys.end
                && !obstacles.iter().any(|q| overlaps(r, *q))
        };
        // Right of the point, then left; nearest to the point's height first, down before up.
        let shifts = (0..80).map(|k| k * 3).chain((1..80).map(|k| -k * 3));
        let mut best: Option<(i32, Rect)> = None;
        for left in [false, true] {
            let x0 = if left { px - 16 - w } else { px + 16 };
            let found = shifts
                .clone()
                .map(|dy| (dy, (x0, py - h / 2 + dy, x0 + w, py - h / 2 + dy + h)))
                .find(|&(_, r)| fits(r));
            if let Some((dy, r)) = found {
                if best.is_none_or(|b| dy.abs() < b.0.abs()) {
                    best = Some((dy, r));
                }
            }
        }
        let (dy, rect) = best.unwrap_or((0, (px + 16, py - h / 2, px + 16 + w, py + h / 2)));
        if dy.abs() > h / 2 {
            let (from, to) = if rect.0 > px {
                ((px + 10, py), (rect.0 - 3, (rect.1 + rect.3) / 2))
            } else {
                ((px - 10, py), (rect.2 + 3, (rect.1 + rect.3) / 2))
            };
            area.draw(&PathElement::new(
                vec![(from.0 - ox, from.1 - oy), (to.0 - ox, to.1 - oy)],
                color.stroke_width(1),
            ))?;
        }
        obstacles.push(rect);
        area.draw(&Text::new(name.clone(), (rect.0 - ox, rect.1 - oy), style))?;
    }
    Ok(())
}

impl Figure for CostFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let title = format!(
            "The cost of each variant — {} (medians; faint dots: single runs)",
            self.input.summary.scenario.name
        );
        let body = root.margin(12, 0, 0, 0).titled(&title, text_style(28))?;
        let panels = body.split_evenly((1, PANELS.len()));
        for (area, panel) in panels.iter().zip(PANELS.iter()) {
            self.panel(area, panel)?;
        }
        Ok(())
    }
}

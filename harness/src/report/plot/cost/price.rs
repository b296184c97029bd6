//! `cost` with `[cost]`: the price of each fix. One panel per cost of the capacity server —
//! capacity, p99 at the fixed rate and server CPU per 1,000 responses as ratios to the
//! reference's (per round), minor page faults per response — against after-drain RssAnon.
//! Each variant is a labelled point at its medians, with a horizontal bar for the min–max of
//! its per-round ratio (of the figure over its runs, for an absolute figure) and a vertical
//! one for the min–max of its after-drain RssAnon over its ok runs; filled when it meets the
//! memory budget, hollow when not. The x axes are logarithmic: 0.5× and 2× are as far from 1.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{place_labels, Label, Rect};
use crate::report::catalogue::{self, A, CAPACITY, COST_CPU_PER_1000, COST_P99, FAULTS};
use crate::report::plot::{a_range, mesh, text_style, variant_color, Figure, A_AXIS, GRID, WIDTH};
use crate::report::summary::{CostInfo, Spread, VariantCost, VariantSummary, FAULTS_FOR_A_RATIO};
use crate::report::ReportInput;
use crate::table::{in_mib, ratio as figure};

pub(crate) struct PriceFigure<'a> {
    pub input: &'a ReportInput<'a>,
    pub cost: &'a CostInfo,
}

/// One panel: which cost goes on x, and whether it is a ratio to the reference's.
struct Panel {
    title: String,
    x_desc: String,
    ratio: bool,
    figure: &'static catalogue::Figure,
}

impl Panel {
    /// A cost as a ratio to the reference's, per round; the axis says which side is better.
    fn ratio(figure: &'static catalogue::Figure, title: String, x: &str, reference: &str) -> Panel {
        Panel {
            title,
            x_desc: format!(
                "{x} ÷ {reference}'s, per round ({} is better)",
                figure.better.side()
            ),
            ratio: true,
            figure,
        }
    }

    /// The panel's figure of a variant: its ratio's spread over the rounds, or its own over
    /// the runs.
    fn pick<'a>(&self, c: &'a VariantCost) -> Option<&'a Spread> {
        self.figure.spread(if self.ratio {
            &c.ratio_to_reference
        } else {
            &c.figures
        })
    }
}

const FAULTS_TITLE: &str = "minor page faults per response";
const GREY: RGBColor = RGBColor(90, 90, 90);

impl PriceFigure<'_> {
    fn panels(&self) -> Vec<Panel> {
        let r = &self.cost.reference;
        let rate = self
            .cost
            .latency_rate
            .map(|x| format!(" at {x:.0}/s"))
            .unwrap_or_default();
        let ref_faults = self.input.summary.reference_faults();
        let faults = if ref_faults.is_some_and(|f| f >= FAULTS_FOR_A_RATIO) {
            Panel::ratio(&FAULTS, FAULTS_TITLE.into(), "faults per response", r)
        } else {
            Panel {
                title: FAULTS_TITLE.into(),
                x_desc: format!(
                    "faults per response, absolute: {r}'s is {} ({} is better)",
                    ref_faults.map_or_else(|| "not measured".into(), figure),
                    FAULTS.better.side()
                ),
                ratio: false,
                figure: &FAULTS,
            }
        };
        vec![
            Panel::ratio(&CAPACITY, "capacity (closed loop)".into(), "capacity", r),
            Panel::ratio(&COST_P99, format!("p99 latency{rate}"), "p99", r),
            Panel::ratio(
                &COST_CPU_PER_1000,
                format!("server CPU per 1,000 responses{rate}"),
                "server CPU",
                r,
            ),
            faults,
        ]
    }

    /// Whether the variant meets the memory budget (every variant does without one).
    fn within_budget(&self, v: &VariantSummary) -> bool {
        !self
            .cost
            .recommendation
            .over_budget
            .iter()
            .any(|o| o.name == v.name)
    }

    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        p: &Panel,
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let vs = &self.input.summary.variants;
        struct Point {
            i: usize,
            x: Spread,
            y: f64,
            y_range: Option<(f64, f64)>,
            within: bool,
        }
        let points: Vec<Point> = vs
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let x = p.pick(v.cost.as_ref()?)?.clone();
                Some(Point {
                    i,
                    x,
                    y: A.plotted(&v.medians)?,
                    y_range: a_range(v),
                    within: self.within_budget(v),
                })
            })
            .collect();

        // The x range in log10: every bar, and 1 on a ratio panel; nothing at or below zero
        // (a figure of 0 sits at the left edge).
        let positive: Vec<f64> = points
            .iter()
            .flat_map(|p| [p.x.min, p.x.max])
            .chain(p.ratio.then_some(1.0))
            .filter(|v| *v > 0.0)
            .collect();
        let lo = positive.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = positive.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() {
            (lo.log10(), hi.log10())
        } else {
            (-1.0, 1.0)
        };
        let pad = ((hi - lo) * 0.1).max(0.06);
        let (x0, x1) = (lo - pad, hi + pad);
        let lx = |v: f64| if v > 0.0 { v.log10().max(x0) } else { x0 };

        let budget = self.cost.budget.max_after_drain_bytes.map(in_mib);
        let y_top = points
            .iter()
            .map(|p| p.y_range.map_or(p.y, |r| r.1))
            .chain(budget)
            .fold(1.0, f64::max);
        let y_max = y_top * 1.18;

        let mut chart = ChartBuilder::on(area)
            .caption(&p.title, text_style(24))
            .margin(16)
            .margin_right(30)
            .x_label_area_size(74)
            .y_label_area_size(90)
            .build_cartesian_2d(x0..x1, 0.0..y_max)?;
        mesh(&mut chart, 18, 19)
            .disable_x_mesh()
            .x_labels(0)
            .x_desc(p.x_desc.as_str())
            .y_desc(A_AXIS)
            .draw()?;

        // The x ticks, drawn here: a log axis with labels a person reads (0.5, 1, 2).
        let (ox, oy) = area.get_base_pixel();
        for t in log_ticks(x0, x1) {
            chart.draw_series(LineSeries::new(
                [(t.log10(), 0.0), (t.log10(), y_max)],
                GRID.mix(0.6),
            ))?;
            let (px, py) = chart.backend_coord(&(t.log10(), 0.0));
            area.draw(&Text::new(
                tick_label(t),
                (px - ox, py - oy + 8),
                text_style(18).pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
        if p.ratio {
            chart.draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (0.0, y_max)],
                8,
                5,
                GREY.stroke_width(2),
            ))?;
            let (px, py) = chart.backend_coord(&(0.0, y_max));
            area.draw(&Text::new(
                format!("= {}", self.cost.reference),
                (px - ox + 5, py - oy + 4),
                text_style(16).color(&GREY),
            ))?;
        }
        if let Some(b) = budget {
            chart.draw_series(DashedLineSeries::new(
                [(x0, b), (x1, b)],
                8,
                5,
                RED.mix(0.7).stroke_width(2),
            ))?;
        }

        // The bars, then the points over them.
        let px = |x: f64, y: f64| chart.backend_coord(&(x, y));
        let mut bars: Vec<Rect> = Vec::new();
        for pt in &points {
            let color = variant_color(pt.i);
            let style = color.mix(0.8).stroke_width(2);
            let (a, b) = (px(lx(pt.x.min), pt.y), px(lx(pt.x.max), pt.y));
            if b.0 - a.0 > 2 {
                bars.push(bar(area, (a, b), true, style)?);
            }
            if let Some((y_lo, y_hi)) = pt.y_range {
                let (t, u) = (px(lx(pt.x.median), y_hi), px(lx(pt.x.median), y_lo));
                if u.1 - t.1 > 2 {
                    bars.push(bar(area, (t, u), false, style)?);
                }
            }
        }
        for pt in &points {
            let color = variant_color(pt.i);
            let (x, y) = px(lx(pt.x.median), pt.y);
            let at = (x - ox, y - oy);
            if pt.within {
                area.draw(&Circle::new(at, 9, color.filled()))?;
            } else {
                area.draw(&Circle::new(at, 8, WHITE.filled()))?;
                area.draw(&Circle::new(at, 8, color.stroke_width(3)))?;
            }
        }
        let labels: Vec<Label> = points
            .iter()
            .map(|pt| Label {
                name: vs[pt.i].name.clone(),
                color: variant_color(pt.i),
                at: px(lx(pt.x.median), pt.y),
            })
            .collect();
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        place_labels(area, &labels, bars, (xs, ys))?;

        // Said in the headroom at the top of the panel, above every point.
        let missing: Vec<&str> = vs
            .iter()
            .filter(|v| !points.iter().any(|pt| vs[pt.i].name == v.name))
            .map(|v| v.name.as_str())
            .collect();
        if !missing.is_empty() {
            let note = format!("not plotted (no figure): {}", missing.join(", "));
            let (px0, py0) = chart.backend_coord(&(x0, y_max));
            area.draw(&Text::new(
                note,
                (px0 - ox + 10, py0 - oy + 24),
                text_style(16).color(&RED),
            ))?;
        }
        Ok(())
    }
}

/// A min–max bar from `a` to `b` (pixels of the drawing: left to right when `across`, else
/// top to bottom) with a cap at each end; the pixel rectangle it covers, for the labels to
/// avoid.
fn bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (a, b): ((i32, i32), (i32, i32)),
    across: bool,
    style: ShapeStyle,
) -> anyhow::Result<Rect>
where
    DB::ErrorType: 'static,
{
    let cap = |(x, y): (i32, i32)| {
        if across {
            vec![(x, y - 6), (x, y + 6)]
        } else {
            vec![(x - 6, y), (x + 6, y)]
        }
    };
    let (ox, oy) = area.get_base_pixel();
    for seg in [vec![a, b], cap(a), cap(b)] {
        let seg: Vec<_> = seg.into_iter().map(|(x, y)| (x - ox, y - oy)).collect();
        area.draw(&PathElement::new(seg, style))?;
    }
    Ok(if across {
        (a.0, a.1 - 6, b.0, b.1 + 6)
    } else {
        (a.0 - 6, a.1, a.0 + 6, b.1)
    })
}

/// Ticks of a log axis over `lo..hi` (log10): the first of powers of ten, 1-2-5 and finer
/// steps that gives at least four.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    const STEPS: [&[f64]; 4] = [
        &[1.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0],
        &[
            1.0, 1.1, 1.2, 1.3, 1.5, 1.7, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0,
        ],
    ];
    let mut ticks = Vec::new();
    for steps in STEPS {
        ticks = (lo.floor() as i32 - 1..=hi.ceil() as i32)
            .flat_map(|k| steps.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|t| (lo..=hi).contains(&t.log10()))
            .collect();
        if ticks.len() >= 4 {
            break;
        }
    }
    ticks
}

/// A tick as a person writes it: `0.5`, `1`, `1.5`, `200`, `0.002`.
fn tick_label(t: f64) -> String {
    let decimals = (2 - t.log10().floor() as i32).clamp(0, 4) as usize;
    let s = format!("{t:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

impl Figure for PriceFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, 1300)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let title = format!(
            "The price of each fix — {}: after-drain RssAnon against each cost",
            self.input.summary.scenario.name
        );
        let body = root.margin(12, 0, 0, 0).titled(&title, text_style(28))?;
        let budget = match (
            self.cost.budget.max_retention,
            self.cost.budget.max_after_drain_bytes,
        ) {
            (None, None) => "No memory budget stated".to_string(),
            (r, a) => {
                let mut parts = Vec::new();
                if let Some(r) = r {
                    parts.push(format!("retention ≤ {r:.2}"));
                }
                if let Some(a) = a {
                    parts.push(format!("after drain ≤ {:.0} MiB (dashed red)", in_mib(a)));
                }
                format!("Hollow: over the memory budget ({})", parts.join(", "))
            }
        };
        let one_round = self.input.summary.variants.iter().all(|v| {
            v.cost
                .as_ref()
                .and_then(|c| c.ratio_to_reference.capacity_rps.as_ref())
                .is_none_or(|x| x.n < 2)
        });
        let bars = if one_round {
            "One round: no spread to draw"
        } else {
            "Bars: min–max of the per-round ratio (across), of after-drain over the runs (up)"
        };
        let sub = format!("Points: medians. {bars}. {budget}. Log x axes.");
        body.draw(&Text::new(
            sub,
            ((WIDTH / 2) as i32, 4),
            text_style(18)
                .color(&GREY)
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        let grid = body.margin(34, 0, 0, 0);
        let panels = grid.split_evenly((2, 2));
        for (area, panel) in panels.iter().zip(self.panels().iter()) {
            self.panel(area, panel)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_read_well_over_narrow_and_wide_ranges() {
        let labels = |t: Vec<f64>| t.into_iter().map(tick_label).collect::<Vec<_>>();
        assert_eq!(
            labels(log_ticks(0.5f64.log10(), 2.5f64.log10())),
            ["0.5", "0.7", "1", "1.5", "2"]
        );
        assert_eq!(
            labels(log_ticks(-3.0, 2.5)),
            ["0.001", "0.01", "0.1", "1", "10", "100"]
        );
        let t = log_ticks(0.9f64.log10(), 1.3f64.log10());
        assert!(t.len() >= 4 && t.contains(&1.0), "{t:?}");
        assert_eq!(tick_label(0.5), "0.5");
        assert_eq!(tick_label(1.0), "1");
        assert_eq!(tick_label(1.5), "1.5");
        assert_eq!(tick_label(200.0), "200");
        assert_eq!(tick_label(0.002), "0.002");
    }
}

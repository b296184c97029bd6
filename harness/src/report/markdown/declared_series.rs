//! `## Declared series`: what each series the scenario declares is, and each variant's peak.

use super::Page;
use std::fmt::Write as _;

use super::status;
use crate::report::series;
use crate::report::summary::{FigureSet, Summary, VariantSummary};
use crate::scenario::SeriesSpec;
use crate::table::{markdown, Cell, Column, Table};

/// A variant's peak of a declared series: the median over its ok runs, or for a variant with
/// none the highest of its runs as measured (said so).
fn series_peak(v: &VariantSummary, label: &str) -> Option<(f64, bool)> {
    let of = |f: &FigureSet| {
        f.series_peaks
            .iter()
            .find(|p| p.label == label)
            .and_then(|p| p.peak)
    };
    if v.runs_ok > 0 {
        return of(&v.medians).map(|p| (p, true));
    }
    v.run_figures
        .iter()
        .filter_map(|r| of(&r.figures))
        .reduce(f64::max)
        .map(|p| (p, false))
}

/// The series the scenario declares: what each is, and each variant's peak. The curves are in
/// the timeline, under RssAnon.
pub(super) fn series_table(s: &Summary, out: &mut Page) {
    let specs = &s.scenario.series;
    if specs.is_empty() {
        return;
    }
    out.push_str("## Declared series\n\n");
    for spec in specs {
        let _ = writeln!(
            out,
            "- **{}**: {}; drawn under RssAnon in the timeline.",
            markdown::escape(&spec.label),
            series::describe(spec)
        );
    }
    out.push('\n');
    out.table(&table(s, specs));
    out.push_str(
        "\nPeak: the highest value over the run (a rate: the highest increase per second between two \
         consecutive `/stats` readings), median over the ok runs; for a variant without an ok run, the highest \
         of its runs until they ended.\n\n",
    );
}

/// Each variant's peak of each series.
fn table(s: &Summary, specs: &[SeriesSpec]) -> Table {
    let peaks = specs.iter().map(|spec| {
        Column::right(format!(
            "peak {}",
            markdown::escape(&series::labelled(spec))
        ))
    });
    let mut t = Table::new(
        [Column::left("variant"), Column::left("status")]
            .into_iter()
            .chain(peaks),
    );
    for v in &s.variants {
        let mut row = vec![Cell::text(&v.name), status(&v.status)];
        row.extend(specs.iter().map(|spec| peak_cell(v, spec)));
        t.row(row);
    }
    t
}

/// The median peak, or for a variant without an ok run the highest of its runs, said so.
fn peak_cell(v: &VariantSummary, spec: &SeriesSpec) -> Cell {
    match series_peak(v, &spec.label) {
        Some((p, true)) => Cell::text(short(series::display_value(spec, p))),
        Some((p, false)) => Cell::text(format!(
            "{} ({} run)",
            short(series::display_value(spec, p)),
            v.status
        )),
        None => Cell::missing(),
    }
}

/// A series value: whole numbers without decimals, one decimal below 100, none above.
fn short(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

//! `## Declared series`: what each series the scenario declares is, and each variant's peak.

use std::fmt::Write as _;

use crate::report::format::{cell, status, MARKDOWN};
use crate::report::series;
use crate::report::summary::{FigureSet, Summary, VariantSummary};

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
pub(super) fn series_table(s: &Summary, out: &mut String) {
    let specs = &s.scenario.series;
    if specs.is_empty() {
        return;
    }
    out.push_str("## Declared series\n\n");
    for spec in specs {
        let _ = writeln!(
            out,
            "- **{}**: {}; drawn under RssAnon in the timeline.",
            cell(&spec.label),
            series::describe(spec)
        );
    }
    out.push_str("\n| variant | status |");
    for spec in specs {
        let _ = write!(out, " peak {} |", cell(&series::labelled(spec)));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"--:|".repeat(specs.len()));
    out.push('\n');
    for v in &s.variants {
        let _ = write!(out, "| {} | {} |", v.name, status(&v.status));
        for spec in specs {
            let c = match series_peak(v, &spec.label) {
                Some((p, true)) => short(series::display_value(spec, p)),
                Some((p, false)) => format!(
                    "{} ({} run)",
                    short(series::display_value(spec, p)),
                    v.status
                ),
                None => MARKDOWN.missing.into(),
            };
            let _ = write!(out, " {c} |");
        }
        out.push('\n');
    }
    out.push_str(
        "\nPeak: the highest value over the run (a rate: the highest increase per second between two \
         consecutive `/stats` readings), median over the ok runs; for a variant without an ok run, the highest \
         of its runs until they ended.\n\n",
    );
}

/// A series value: whole numbers without decimals, one decimal below 100, none above.
fn short(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

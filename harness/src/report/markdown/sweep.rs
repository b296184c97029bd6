//! `## Sweep`: VSZ, RSS and glibc arena heaps per base variant and point, and the sweep plot.

use std::fmt::Write as _;

use crate::report::format::{cell, italic_if, shown, status, MARKDOWN};
use crate::report::summary::{Summary, SweepAt};

/// The sweep, base variant × point: the figures it is for (VSZ and arena heaps, incident 002)
/// next to RSS, and the plot when the values are numbers.
pub(super) fn sweep_table(s: &Summary, out: &mut String) {
    let Some(sw) = &s.scenario.sweep else { return };
    let _ = writeln!(out, "## Sweep: `{}`\n", sw.field);
    let _ = writeln!(
        out,
        "| variant | {} | status | VSZ B (MiB) | VSZ P (MiB) | VSZ A (MiB) | RSS P (MiB) | RSS A (MiB) | arena heaps B | arena heaps P | arena heaps A |",
        sw.field
    );
    let numeric = sw.numeric_values().is_some();
    let _ = writeln!(
        out,
        "|---|{}|---|--:|--:|--:|--:|--:|--:|--:|--:|",
        if numeric { "--:" } else { "---" }
    );
    let mut as_measured = false;
    for v in &s.variants {
        let Some(p) = &v.sweep else { continue };
        // A point without an ok run (an oom point) shows its run as far as it went, in italics.
        let (m, measured) = v.figures_shown();
        as_measured |= measured;
        let it = |c| italic_if(measured, c);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            v.base_variant,
            cell(&point(p)),
            status(&v.status),
            it(MARKDOWN.mib(m.vsz_before_bytes)),
            it(MARKDOWN.mib(m.vsz_peak_bytes)),
            it(MARKDOWN.mib(m.vsz_after_drain_bytes)),
            it(MARKDOWN.mib(m.rss_peak_bytes)),
            it(MARKDOWN.mib(m.rss_after_drain_bytes)),
            it(MARKDOWN.count(m.arena_heaps_before)),
            it(MARKDOWN.count(m.arena_heaps_peak)),
            it(MARKDOWN.count(m.arena_heaps_after_drain)),
        );
    }
    let _ = writeln!(
        out,
        "\nEvery variant ran once per value of `{}` (the points are named `variant@{}=value` elsewhere); medians \
         over each point's ok runs. **VSZ** is VmSize: B over the last second of `before`, P its highest during \
         the load, A over the last second of `drain`. **arena heaps**: glibc thread-arena heaps in `smaps`, the \
         last count within `before`, the highest during the load, the last within `drain`; each reserves 64 MiB \
         of address space, so VSZ steps up 64 MiB per new arena while RSS need not move.{}\n",
        sw.field,
        sw.name,
        if as_measured {
            " *Italics*: a point without an ok run, as its run measured until it ended."
        } else {
            ""
        }
    );
    if sw.numeric_values().is_some() {
        let _ = writeln!(
            out,
            "![VSZ, RSS and glibc arena heaps against {}](sweep.png)\n\nVector version: [sweep.svg](sweep.svg).\n",
            sw.field
        );
    }
}

/// The point of a sweep: its value, and its label when that says more (`0 (unbounded)`).
fn point(p: &SweepAt) -> String {
    let value = shown(&p.value);
    if p.label == value || p.label == format!("{}={value}", p.name) {
        value
    } else {
        format!("{value} ({})", p.label)
    }
}

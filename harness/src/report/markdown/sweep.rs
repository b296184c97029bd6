//! `## Sweep`: VSZ, RSS and glibc arena heaps per base variant and point, and the sweep plot.

use super::Page;
use std::fmt::Write as _;

use super::{shown, status};
use crate::report::catalogue::{
    Figure, View, A, ARENA_HEAPS_AFTER_DRAIN, ARENA_HEAPS_BEFORE, ARENA_HEAPS_PEAK, P,
    VSZ_AFTER_DRAIN, VSZ_BEFORE, VSZ_PEAK,
};
use crate::report::summary::{Summary, SweepAt, SweepInfo};
use crate::table::{Cell, Column, Table};

/// The figures of the sweep (VSZ and arena heaps, incident 002) next to RSS, under the names
/// the sweep gives them where they differ from the catalogue's.
const FIGURES: [Figure; 8] = [
    VSZ_BEFORE,
    VSZ_PEAK,
    VSZ_AFTER_DRAIN.titled("VSZ A"),
    P.titled("RSS P"),
    A.titled("RSS A"),
    ARENA_HEAPS_BEFORE,
    ARENA_HEAPS_PEAK,
    ARENA_HEAPS_AFTER_DRAIN,
];

/// The sweep, base variant × point: the figures it is for (VSZ and arena heaps, incident 002)
/// next to RSS, and the plot when the values are numbers.
pub(super) fn sweep_table(s: &Summary, out: &mut Page) {
    let Some(sw) = &s.scenario.sweep else { return };
    let _ = writeln!(out, "## Sweep: `{}`\n", sw.field);
    let (t, as_measured) = table(s, sw);
    out.table(&t);
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

/// One row per point, and whether one shows a run as far as it went (no ok run: in italics).
fn table(s: &Summary, sw: &SweepInfo) -> (Table, bool) {
    let point_column = match sw.numeric_values() {
        Some(_) => Column::right(sw.field.as_str()),
        None => Column::left(sw.field.as_str()),
    };
    let figures = FIGURES.iter().map(|f| f.column(View::Results));
    let mut t = Table::new(
        [
            Column::left("variant"),
            point_column,
            Column::left("status"),
        ]
        .into_iter()
        .chain(figures),
    );
    let mut as_measured = false;
    for v in &s.variants {
        let Some(p) = &v.sweep else { continue };
        // A point without an ok run (an oom point) shows its run as far as it went, in italics.
        let (m, measured) = v.figures_shown();
        as_measured |= measured;
        let mut row = vec![
            Cell::text(&v.base_variant),
            Cell::text(point(p)),
            status(&v.status),
        ];
        row.extend(FIGURES.iter().map(|f| f.of(m).italic_if(measured)));
        t.row(row);
    }
    (t, as_measured)
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

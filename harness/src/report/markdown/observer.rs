//! Under the results: whether the harness asked the server anything while B and A were taken,
//! what an idle server keeps against what it keeps once traffic resumes (the nudge), and, with
//! cycles, leak or retention.

use super::Page;
use std::fmt::Write as _;

use crate::figures::cycles::Cycle;
use crate::report::catalogue::{View, A, AFTER_NUDGE};
use crate::report::summary::{Summary, VariantSummary};
use crate::table::{markdown, mib, Cell, Column, Table};

/// The observer's line: always there, because a reader must know whether A is an idle server's.
pub(super) fn observer_line(s: &Summary, out: &mut Page) {
    if s.scenario.observed.is_empty() {
        out.push_str(
            "**Unobserved:** nothing was asked of the server during `before` and `drain`, where B and A \
             are taken: memory was read from `/proc`, and the server's own figures under the load and once \
             A's window had closed (allocstorm's docs/measurements.md, section The observer).\n\n",
        );
    } else {
        let _ = writeln!(
            out,
            "**Observed:** the harness asked the server for its stats during {}. Allocators that give \
             memory back only when called (mimalloc; jemalloc without its background thread) may have \
             done so because they were asked: these B and A are not an idle server's, and the gate does \
             not compare them with unobserved ones (allocstorm's docs/measurements.md, section The observer).\n",
            s.scenario
                .observed
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        );
    }
}

/// A after an idle drain next to the figure after the nudge, for scenarios with a nudge.
pub(super) fn idle_then_nudged(s: &Summary, out: &mut Page) {
    if !s.variants.iter().any(|v| AFTER_NUDGE.has(&v.medians)) {
        return;
    }
    out.push_str("### Idle, then a trickle of traffic\n\n");
    out.table(&nudge_table(s));
    let nudge = s
        .scenario
        .phases_planned
        .as_ref()
        .map(|p| format!("{} s at {}/s", p.nudge.as_secs_f64(), p.nudge_rate))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\nA is what the server keeps while nothing calls it; the nudge ({nudge}, after A was taken) is \
         the first traffic after the quiet. Allocators that purge only on activity hold memory while idle \
         and give it back on the next requests; ones that keep it for good do neither. Medians over the \
         ok runs, RssAnon over the last second of each phase.\n"
    );
}

/// Per-cycle peaks and after-drain figures and the verdict, for scenarios with cycles.
pub(super) fn leak_or_retention(s: &Summary, out: &mut Page) {
    if !s.variants.iter().any(|v| !v.medians.cycles.is_empty()) {
        return;
    }
    out.push_str("### Leak or retention\n\n");
    out.table(&cycles_table(s));
    out.push_str(
        "\nThe load and the drain ran once per cycle. **plateau**: every cycle's peak within 1.1× the \
         first's and its A within a tenth of the first growth (P_1 − B) of the first A: the allocator \
         keeps what a burst needed and reuses it. **growth**: memory climbs from cycle to cycle, a leak or \
         a ratchet. Medians over the ok runs, cycle by cycle.\n\n",
    );
}

/// A, idle, next to the figure after the nudge and the difference.
fn nudge_table(s: &Summary) -> Table {
    let mut t = Table::new([
        Column::left("variant"),
        A.titled("A, idle").column(View::Results),
        AFTER_NUDGE.column(View::Results),
        Column::right("given back on activity (MiB)"),
    ]);
    for v in &s.variants {
        let m = &v.medians;
        t.row(vec![
            Cell::text(&v.name),
            A.of(m),
            AFTER_NUDGE.of(m),
            given_back(A.plotted(m), AFTER_NUDGE.plotted(m)),
        ]);
    }
    t
}

/// A less the figure after the nudge (MiB), rounded to 0.1 without a `-0.0` for a few pages
/// more.
fn given_back(a: Option<f64>, nudged: Option<f64>) -> Cell {
    let given = a
        .zip(nudged)
        .map(|(a, n)| ((a - n) * 10.0).round() / 10.0 + 0.0);
    Cell::fixed(given, 1)
}

/// Each variant's verdict and its peaks and after-drain figures cycle by cycle.
fn cycles_table(s: &Summary) -> Table {
    let mut t = Table::new([
        Column::left("variant"),
        Column::left("verdict"),
        Column::left("P per cycle (MiB)"),
        Column::left("A per cycle (MiB)"),
        Column::left("decided by"),
    ]);
    for v in &s.variants {
        let verdict = v.medians.cycle_verdict.as_ref();
        t.row(vec![
            Cell::text(&v.name),
            verdict.map_or_else(Cell::missing, |c| {
                Cell::text(c.verdict.as_str()).strong_if(true)
            }),
            per_cycle(v, |c| c.peak_bytes),
            per_cycle(v, |c| c.after_drain_bytes),
            Cell::text(verdict.map(|c| c.decided_by.clone()).unwrap_or_default()),
        ]);
    }
    t
}

/// `120.0 → 121.3 → 121.0`.
fn per_cycle(v: &VariantSummary, f: fn(&Cycle) -> Option<u64>) -> Cell {
    let list: Vec<String> = v
        .medians
        .cycles
        .iter()
        .map(|c| f(c).map_or_else(|| markdown::MISSING.to_string(), mib))
        .collect();
    Cell::text(list.join(" → "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::recommend::tests::{priced, priced_summary};
    use crate::scenario::MemoryBudget;

    /// A variant whose A is 5 MiB plus `retention` × 100 MiB, with this figure after the nudge.
    fn nudged(name: &str, retention: f64, after_nudge: u64) -> VariantSummary {
        let mut v = priced(name, &[retention], &[1.0], &[1.0]);
        v.medians.figures.rss_after_nudge_bytes = Some(after_nudge);
        v
    }

    /// What was given back is A less the figure after the nudge, to 0.1 MiB; a few pages more
    /// after the nudge is `0.0`, not `-0.0`.
    #[test]
    fn the_nudge_table_says_what_was_given_back() {
        let variants = vec![
            nudged("mimalloc", 0.64, 19 << 20),
            nudged("glibc", 0.25, (30 << 20) + 8192),
        ];
        let mut out = Page::markdown();
        idle_then_nudged(&priced_summary(variants, MemoryBudget::default()), &mut out);
        let out = out.into_parts().0;
        assert!(
            out.contains("| variant | A, idle (MiB) | after the nudge (MiB) | given back on activity (MiB) |"),
            "{out}"
        );
        assert!(out.contains("| mimalloc | 69.0 | 19.0 | 50.0 |"), "{out}");
        assert!(out.contains("| glibc | 30.0 | 30.0 | 0.0 |"), "{out}");
    }
}

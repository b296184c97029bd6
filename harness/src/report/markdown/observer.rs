//! Under the results: whether the harness asked the server anything while B and A were taken,
//! what an idle server keeps against what it keeps once traffic resumes (the nudge), and, with
//! cycles, leak or retention.

use std::fmt::Write as _;

use crate::report::format::MARKDOWN;
use crate::report::summary::Summary;

/// The observer's line: always there, because a reader must know whether A is an idle server's.
pub(super) fn observer_line(s: &Summary, out: &mut String) {
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
pub(super) fn idle_then_nudged(s: &Summary, out: &mut String) {
    if !s
        .variants
        .iter()
        .any(|v| v.medians.rss_after_nudge_bytes.is_some())
    {
        return;
    }
    out.push_str("### Idle, then a trickle of traffic\n\n");
    out.push_str(
        "| variant | A, idle (MiB) | after the nudge (MiB) | given back on activity (MiB) |\n",
    );
    out.push_str("|---|--:|--:|--:|\n");
    for v in &s.variants {
        let m = &v.medians;
        let back = match (m.rss_after_drain_bytes, m.rss_after_nudge_bytes) {
            (Some(a), Some(n)) => Some(a as f64 - n as f64),
            _ => None,
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            v.name,
            MARKDOWN.mib(m.rss_after_drain_bytes),
            MARKDOWN.mib(m.rss_after_nudge_bytes),
            // Rounded to 0.1 MiB, without a "-0.0" for a few pages more.
            back.map(|b| format!("{:.1}", (b / 1048576.0 * 10.0).round() / 10.0 + 0.0))
                .unwrap_or_else(|| MARKDOWN.missing.into()),
        );
    }
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
pub(super) fn leak_or_retention(s: &Summary, out: &mut String) {
    if !s.variants.iter().any(|v| !v.medians.cycles.is_empty()) {
        return;
    }
    out.push_str("### Leak or retention\n\n");
    out.push_str("| variant | verdict | P per cycle (MiB) | A per cycle (MiB) | decided by |\n");
    out.push_str("|---|---|---|---|---|\n");
    for v in &s.variants {
        let m = &v.medians;
        let list = |f: fn(&crate::figures::cycles::Cycle) -> Option<u64>| {
            m.cycles
                .iter()
                .map(|c| MARKDOWN.mib(f(c)))
                .collect::<Vec<_>>()
                .join(" → ")
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            v.name,
            m.cycle_verdict
                .as_ref()
                .map(|c| format!("**{}**", c.verdict.as_str()))
                .unwrap_or_else(|| MARKDOWN.missing.into()),
            list(|c| c.peak_bytes),
            list(|c| c.after_drain_bytes),
            m.cycle_verdict
                .as_ref()
                .map(|c| c.decided_by.clone())
                .unwrap_or_default(),
        );
    }
    out.push_str(
        "\nThe load and the drain ran once per cycle. **plateau**: every cycle's peak within 1.1× the \
         first's and its A within a tenth of the first growth (P_1 − B) of the first A: the allocator \
         keeps what a burst needed and reuses it. **growth**: memory climbs from cycle to cycle, a leak or \
         a ratchet. Medians over the ok runs, cycle by cycle.\n\n",
    );
}

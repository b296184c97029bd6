//! `## Results`: the figures table (medians over the ok runs), what its columns mean, and the
//! timeline and summary plots.

use std::fmt::Write as _;

use crate::figures::MIN_GROWTH_FOR_RETENTION;
use crate::report::format::{status, MARKDOWN};
use crate::report::summary::Summary;

/// The header of the figures table (tests and readers look for it).
pub const TABLE_HEADER: &str = "| variant | status | runs | B (MiB) | P (MiB) | A (MiB) | retention | t90 (s) | VSZ after drain (MiB) | req/s | p50 (ms) | p99 (ms) | CV of A |";

/// The figures table, its legend and the RSS plots.
pub(super) fn figures_table(s: &Summary, out: &mut String) {
    out.push_str("## Results\n\n");
    out.push_str(TABLE_HEADER);
    out.push('\n');
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for v in &s.variants {
        let m = &v.medians;
        let runs = if v.runs_ok == v.runs {
            v.runs.to_string()
        } else {
            format!("{} ({} ok)", v.runs, v.runs_ok)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | **{}** | {} | {} | {} | {} | {} | {} | {} |",
            v.name,
            status(&v.status),
            runs,
            MARKDOWN.mib(m.rss_before_bytes),
            MARKDOWN.mib(m.rss_peak_bytes),
            MARKDOWN.mib(m.rss_after_drain_bytes),
            MARKDOWN.num(m.retention, 2),
            MARKDOWN.t90(m),
            MARKDOWN.mib(m.vsz_after_drain_bytes),
            MARKDOWN.num(m.throughput_rps, 0),
            MARKDOWN.num(m.latency_ms.p50, 1),
            MARKDOWN.num(m.latency_ms.p99, 1),
            v.rss_after_drain_cv
                .map(|c| format!("{:.1}%", c * 100.0))
                .unwrap_or_else(|| MARKDOWN.missing.into()),
        );
    }
    let _ = writeln!(
        out,
        "\nMedians over the ok runs of RssAnon. **B**: median over the last second of `before`; **P**: highest \
         during the load; **A**: median over the last second of `drain`, the gate figure; **retention** \
         (A − B) / (P − B), blank when P − B < {} MiB; **t90**: seconds from the load stop until RssAnon is back \
         within 10% of the growth during the drain (`never` if it did not); **VSZ** after drain; **req/s** ok responses per second \
         and latency from the intended send time, during the load; **CV of A**: run-to-run coefficient of \
         variation (sample standard deviation / mean) of A, the noise a regression must exceed.\n",
        MIN_GROWTH_FOR_RETENTION >> 20
    );
    if s.scenario.series.is_empty() {
        out.push_str("![RssAnon over time, one line per variant](rss-timeline.png)\n\n");
    } else {
        out.push_str("![RssAnon over time and, under it, the series the scenario declares, one line per variant](rss-timeline.png)\n\n");
    }
    out.push_str("![RssAnon before, at peak and after drain per variant](rss-summary.png)\n\n");
    out.push_str("Vector versions: [rss-timeline.svg](rss-timeline.svg), [rss-summary.svg](rss-summary.svg).\n\n");
}

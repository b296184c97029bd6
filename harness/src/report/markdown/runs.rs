//! `## Runs`: every run's own figures, the median run marked.

use std::fmt::Write as _;

use crate::report::format::{cell, status, MARKDOWN};
use crate::report::summary::Summary;

/// One row per run, in each variant's run order.
pub(super) fn runs_table(s: &Summary, out: &mut String) {
    out.push_str("## Runs\n\n");
    out.push_str("| variant | run | status | started | B (MiB) | P (MiB) | A (MiB) | retention | t90 (s) | req/s | p99 (ms) | errors | retries | note |\n");
    out.push_str("|---|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
    for v in &s.variants {
        for r in &v.run_figures {
            let f = &r.figures;
            let mut note = r.failure.clone().unwrap_or_default();
            if Some(r.run_index) == v.median_run_index {
                note = if note.is_empty() {
                    "median run".into()
                } else {
                    format!("median run; {note}")
                };
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                v.name,
                r.run_index,
                status(&r.status),
                if r.started_at.is_empty() {
                    MARKDOWN.missing
                } else {
                    &r.started_at
                },
                MARKDOWN.mib(f.rss_before_bytes),
                MARKDOWN.mib(f.rss_peak_bytes),
                MARKDOWN.mib(f.rss_after_drain_bytes),
                MARKDOWN.num(f.retention, 2),
                MARKDOWN.t90(f),
                MARKDOWN.num(f.throughput_rps, 0),
                MARKDOWN.num(f.latency_ms.p99, 1),
                MARKDOWN.count(r.load_errors),
                MARKDOWN.count(r.load_retries),
                cell(&note),
            );
        }
    }
    out.push('\n');
}

//! `## Cost`: throughput, latency and server CPU per variant, and the cost plot.

use std::fmt::Write as _;

use crate::report::format::MARKDOWN;
use crate::report::summary::Summary;

/// The cost table and its plot.
pub(super) fn cost_table(s: &Summary, out: &mut String) {
    out.push_str("## Cost\n\n");
    out.push_str("| variant | req/s | p50 (ms) | p99 (ms) | server CPU (s) during load | server CPU s / 1000 responses |\n");
    out.push_str("|---|--:|--:|--:|--:|--:|\n");
    for v in &s.variants {
        let m = &v.medians;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            v.name,
            MARKDOWN.num(m.throughput_rps, 0),
            MARKDOWN.num(m.latency_ms.p50, 1),
            MARKDOWN.num(m.latency_ms.p99, 1),
            MARKDOWN.num(m.server_cpu_during_s, 2),
            MARKDOWN.num(m.server_cpu_s_per_1000_responses, 3),
        );
    }
    out.push_str("\n![After-drain RSS against throughput, p99 and server CPU](cost.png)\n\n");
    out.push_str("Vector version: [cost.svg](cost.svg).\n\n");
}

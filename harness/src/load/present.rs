//! The human side of `allocstorm load`: a short table at the end, a line per second while it
//! runs. Reads a [`LoadSummary`] / [`SecondReport`] and nothing else.

use std::fmt::Write;

use target_server::units::format_size;

use super::merge::{LoadSummary, SecondReport};
use super::stats::Percentiles;

fn rate(r: Option<f64>) -> String {
    match r {
        Some(r) => format!("open loop at {r}/s"),
        None => "closed loop (--rate max)".into(),
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn kinds(map: &std::collections::BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn latency_row(out: &mut String, name: &str, p: &Percentiles) {
    if p.count == 0 {
        let _ = writeln!(out, "  {name:<12} {:>9}", "-");
        return;
    }
    let _ = writeln!(
        out,
        "  {name:<12} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  ({} requests)",
        p.p50, p.p90, p.p99, p.p999, p.max, p.count
    );
}

/// The end-of-run table.
pub fn table(s: &LoadSummary) -> String {
    let c = &s.counts;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "target       {}  range {} ({})",
        s.target,
        s.range,
        format_size(s.range_bytes)
    );
    let _ = writeln!(
        out,
        "load         {}, {}, {} for {:.1} s; timeout {} s, {} retries",
        plural(s.processes as u64, "process", "processes"),
        plural(s.connections as u64, "connection", "connections"),
        rate(s.offered_rate),
        s.duration_s,
        s.timeout_s,
        s.max_retries
    );
    let _ = writeln!(
        out,
        "requests     {} started: {} ok, {} errors, {} abandoned; {} unsent, {} with no free connection",
        c.requests, c.ok, c.errors, c.abandoned, s.unsent, c.no_free_connection
    );
    let _ = writeln!(
        out,
        "attempts     {} ({} retries, {} timeouts), {} connections opened",
        c.attempts, c.retries, c.timeouts, c.connects
    );
    if !c.errors_by_kind.is_empty() {
        let _ = writeln!(out, "errors       {}", kinds(&c.errors_by_kind));
    }
    let _ = writeln!(
        out,
        "throughput   {:.1} req/s, {}/s ({} in all)",
        s.throughput_rps,
        format_size(s.bytes_per_s as u64),
        format_size(c.bytes)
    );
    let _ = writeln!(
        out,
        "latency ms   {:>9} {:>9} {:>9} {:>9} {:>9}",
        "p50", "p90", "p99", "p99.9", "max"
    );
    latency_row(&mut out, "from due", &s.latency_ms);
    latency_row(&mut out, "from send", &s.latency_uncorrected_ms);
    latency_row(&mut out, "failed", &s.error_latency_ms);
    let _ = writeln!(
        out,
        "client cpu   {:.2} s over {:.1} s",
        s.client_cpu_s, s.elapsed_s
    );
    out
}

/// One line per merged second.
pub fn progress_line(s: &SecondReport) -> String {
    let c = &s.counts;
    let mut line = format!(
        "{:>4}s  ok {:>7}  errors {:>5}  attempts {:>7}  p99 {:>8.2} ms",
        s.t, c.ok, c.errors, c.attempts, s.latency_ms.p99
    );
    if !c.attempt_errors_by_kind.is_empty() {
        let _ = write!(line, "  ({})", kinds(&c.attempt_errors_by_kind));
    }
    line
}

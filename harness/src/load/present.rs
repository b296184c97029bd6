//! The human side of `allocstorm load`: a short summary at the end with its latency table
//! (through [`crate::table::text`]), a line per second while it runs. Reads a [`LoadSummary`] / [`SecondReport`] and nothing else.

use std::fmt::Write;

use allocstorm_core::units::format_size;

use super::counts::Percentiles;
use super::merge::{LoadSummary, SecondReport};
use crate::table::{text, Cell, Column, Table};

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

/// Latency percentiles in ms, of the successful requests (from when they were due and from
/// their first send) and of the failed ones.
fn latency_table(s: &LoadSummary) -> Table {
    let mut t = Table::new([
        Column::left("latency ms"),
        Column::right("p50"),
        Column::right("p90"),
        Column::right("p99"),
        Column::right("p99.9"),
        Column::right("max"),
        Column::left(""),
    ]);
    t.row(latency_row("from due", &s.latency_ms));
    t.row(latency_row("from send", &s.latency_uncorrected_ms));
    t.row(latency_row("failed", &s.error_latency_ms));
    t
}

/// One row; no figures when no request of its kind was measured.
fn latency_row(name: &str, p: &Percentiles) -> Vec<Cell> {
    let measured = p.count > 0;
    let ms = |x: f64| Cell::fixed(measured.then_some(x), 2);
    let count = if measured {
        format!("({} requests)", p.count)
    } else {
        String::new()
    };
    vec![
        name.into(),
        ms(p.p50),
        ms(p.p90),
        ms(p.p99),
        ms(p.p999),
        ms(p.max),
        Cell::text(count),
    ]
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
    if let Some(steps) = offered_steps(&s.per_second, s.duration_s) {
        let _ = writeln!(out, "offered      {steps} (requests due per second)");
    }
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
    out.push_str(&text::render(&latency_table(s)));
    let _ = writeln!(
        out,
        "client cpu   {:.2} s over {:.1} s",
        s.client_cpu_s, s.elapsed_s
    );
    out
}

/// The offered rate's steps as seen in the whole seconds of the load window, e.g.
/// `0-3s 200, 4-5s 400, 6s 800`; `None` when it held steady (within one request a second, the
/// rounding of a fractional rate) or in closed loop.
fn offered_steps(per_second: &[SecondReport], duration_s: f64) -> Option<String> {
    let whole = duration_s.floor() as u64;
    // (first second, last second, offered in the first)
    let mut groups: Vec<(u64, u64, u64)> = Vec::new();
    for r in per_second.iter().filter(|r| r.t < whole) {
        let offered = r.offered?;
        match groups.last_mut() {
            Some(g) if g.1 + 1 == r.t && g.2.abs_diff(offered) <= 1 => g.1 = r.t,
            _ => groups.push((r.t, r.t, offered)),
        }
    }
    if groups.len() < 2 {
        return None;
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|&(a, b, n)| {
            if a == b {
                format!("{a}s {n}")
            } else {
                format!("{a}-{b}s {n}")
            }
        })
        .collect();
    Some(parts.join(", "))
}

/// One line per merged second.
pub fn progress_line(s: &SecondReport) -> String {
    let c = &s.counts;
    let mut line = format!("{:>4}s  ", s.t);
    if let Some(offered) = s.offered {
        let _ = write!(line, "offered {offered:>7}  ");
    }
    let _ = write!(
        line,
        "ok {:>7}  errors {:>5}  attempts {:>7}  p99 {:>8.2} ms",
        c.ok, c.errors, c.attempts, s.latency_ms.p99
    );
    if !c.attempt_errors_by_kind.is_empty() {
        let _ = write!(line, "  ({})", kinds(&c.attempt_errors_by_kind));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Counts;

    fn seconds(offered: &[Option<u64>]) -> Vec<SecondReport> {
        offered
            .iter()
            .enumerate()
            .map(|(t, &offered)| SecondReport {
                t: t as u64,
                offered,
                counts: Counts::default(),
                latency_ms: Percentiles::default(),
                latency_uncorrected_ms: Percentiles::default(),
                per_request: Vec::new(),
            })
            .collect()
    }

    fn percentiles(count: u64, p50: f64) -> Percentiles {
        Percentiles {
            count,
            p50,
            p90: p50 * 2.0,
            p99: p50 * 10.0,
            p999: p50 * 40.5,
            max: 1234.5,
        }
    }

    fn summary() -> LoadSummary {
        let mut counts = Counts {
            requests: 1200,
            attempts: 1260,
            retries: 60,
            ok: 1150,
            errors: 50,
            timeouts: 40,
            abandoned: 2,
            no_free_connection: 3,
            connects: 17,
            bytes: 3 << 30,
            ..Counts::default()
        };
        counts.errors_by_kind.insert("timeout".into(), 40);
        counts.errors_by_kind.insert("reset".into(), 10);
        LoadSummary {
            target: "127.0.0.1:8080".into(),
            range: "0-1048575".into(),
            range_bytes: 1 << 20,
            processes: 1,
            connections: 16,
            offered_rate: Some(200.0),
            timeout_s: 3.0,
            max_retries: 2,
            backoff_s: 0.1,
            counts,
            unsent: 4,
            intended: Some(1204),
            duration_s: 6.0,
            elapsed_s: 6.43,
            ended_s: Some(6.1),
            started: None,
            throughput_rps: 191.66,
            bytes_per_s: 191.66 * (1 << 20) as f64,
            latency_ms: percentiles(1150, 3.217),
            latency_uncorrected_ms: percentiles(1150, 2.5),
            error_latency_ms: percentiles(0, 0.0),
            latency_histogram_us: Vec::new(),
            client_cpu_s: 1.234,
            workers: Vec::new(),
            per_request: Vec::new(),
            per_second: seconds(&[
                Some(200),
                Some(200),
                Some(400),
                Some(400),
                Some(400),
                Some(200),
            ]),
        }
    }

    /// The end-of-run table as `allocstorm load` prints it, pinned to the byte.
    #[test]
    fn the_end_of_run_table() {
        assert_eq!(
            table(&summary()),
            "\
target       127.0.0.1:8080  range 0-1048575 (1.0 MiB)
load         1 process, 16 connections, open loop at 200/s for 6.0 s; timeout 3 s, 2 retries
offered      0-1s 200, 2-4s 400, 5s 200 (requests due per second)
requests     1200 started: 1150 ok, 50 errors, 2 abandoned; 4 unsent, 3 with no free connection
attempts     1260 (60 retries, 40 timeouts), 17 connections opened
errors       reset 10, timeout 40
throughput   191.7 req/s, 191.7 MiB/s (3.0 GiB in all)
latency ms   p50   p90    p99   p99.9      max
from due    3.22  6.43  32.17  130.29  1234.50  (1150 requests)
from send   2.50  5.00  25.00  101.25  1234.50  (1150 requests)
failed         -     -      -       -        -
client cpu   1.23 s over 6.4 s
"
        );
    }

    #[test]
    fn offered_steps_are_shown_only_when_the_rate_moved() {
        let burst = seconds(&[
            Some(200),
            Some(200),
            Some(400),
            Some(800),
            Some(800),
            Some(200),
            Some(0),
        ]);
        assert_eq!(
            offered_steps(&burst, 6.0).as_deref(),
            Some("0-1s 200, 2s 400, 3-4s 800, 5s 200")
        );
        // A fractional rate's rounding, the partial last second and the drain are not steps.
        let steady = seconds(&[Some(7), Some(8), Some(7), Some(3), Some(0)]);
        assert_eq!(offered_steps(&steady, 3.4), None);
        assert_eq!(offered_steps(&seconds(&[None, None]), 2.0), None);
        assert!(progress_line(&burst[2]).contains("offered     400"));
        assert!(!progress_line(&seconds(&[None])[0]).contains("offered"));
    }
}

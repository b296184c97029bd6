//! `report.md`: the scenario in a paragraph, the recommendation (with `[cost]`), the figures table, the runs that did not end ok,
//! the curve after the load, the sweep, the series the scenario declares, what the allocator held next to what the app
//! held, the cost, every run, the plots and the environment — ready to paste into a design
//! review. Reads the summary only: every number here is also in `summary.json`.
//!
//! One module a section, in the order of the page ([`markdown`]): `scenario` and `variants`,
//! the warnings, `recommend` (with `[cost]`), `results`, `curve`, `requests` (a request mix's entries), `observer` (observed or not, idle against nudged, leak or
//! retention), `not_ok`, `sweep`, `declared_series`, `explained` (the probe's parts of RssAnon; without it
//! `held_vs_live`), `container`, `huge_pages`, `mappings`, `cost`, `runs`, `environment`. Each table is a
//! [`crate::table::Table`] of typed
//! cells, rendered by [`crate::table::markdown::render`]; the figures of the results and runs
//! tables come from [`crate::report::catalogue`].

mod container;
mod cost;
mod curve;
mod declared_series;
mod environment;
mod explained;
mod held_vs_live;
mod huge_pages;
mod mappings;
mod not_ok;
mod observer;
mod recommend;
mod requests;
mod results;
mod runs;
mod scenario;
mod soak;
mod sweep;
mod variants;

use std::fmt::Write as _;

use super::summary::{Spread, Summary};
use super::{Exporter, Output, ReportError, ReportInput};
use crate::record::RunStatus;
use crate::table::{ratio, Cell};

pub use results::table_header;

pub struct ReportMarkdown;

impl Exporter for ReportMarkdown {
    fn export(&self, input: &ReportInput<'_>) -> Result<Vec<Output>, ReportError> {
        Ok(vec![Output::new("report.md", markdown(input.summary))])
    }
}

/// The whole `report.md`.
pub fn markdown(s: &Summary) -> String {
    let mut out = format!("# allocstorm report: {}\n\n", s.scenario.name);
    scenario::scenario_paragraph(s, &mut out);
    variants::variants_list(s, &mut out);
    if !s.warnings.is_empty() {
        out.push_str("> **Read with care:**\n");
        for w in &s.warnings {
            let _ = writeln!(out, "> - {}", w.to_string().replace('\n', " "));
        }
        out.push('\n');
    }
    recommend::recommendation(s, &mut out);
    results::figures_table(s, &mut out);
    curve::curve_table(s, &mut out);
    requests::requests_table(s, &mut out);
    observer::observer_line(s, &mut out);
    observer::idle_then_nudged(s, &mut out);
    observer::leak_or_retention(s, &mut out);
    soak::soak_section(s, &mut out);
    not_ok::not_ok_runs(s, &mut out);
    sweep::sweep_table(s, &mut out);
    declared_series::series_table(s, &mut out);
    explained::explained_table(s, &mut out);
    if !explained::has_probe(s) {
        held_vs_live::breakdown_table(s, &mut out);
    }
    container::container_table(s, &mut out);
    huge_pages::huge_pages_table(s, &mut out);
    mappings::mappings_table(s, &mut out);
    cost::cost_table(s, &mut out);
    runs::runs_table(s, &mut out);
    environment::environment(s, &mut out);
    out
}

/// A status: `ok`, or in bold what is not.
fn status(status: &RunStatus) -> Cell {
    Cell::text(status.as_str()).strong_if(!status.is_ok())
}

/// A JSON value as a person writes it: `8`, `buffered`.
fn shown(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The min–max of a spread: `0.60–0.66`.
fn min_max(s: &Spread) -> String {
    format!("{}–{}", ratio(s.min), ratio(s.max))
}

/// Seconds as a person writes them: `1.5`, `3`.
fn secs(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// The server's flags worth showing: without the listen address (always loopback:0) and the
/// seed (the scenario paragraph has it).
fn shown_flags(args: &[String]) -> Vec<&str> {
    let mut flags = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--listen" || a == "--seed" {
            it.next();
        } else {
            flags.push(a.as_str());
        }
    }
    flags
}

/// `2 client processes over 16 connections`.
fn clients(processes: usize, connections: usize) -> String {
    format!(
        "{processes} client process{} over {connections} connection{}",
        if processes == 1 { "" } else { "es" },
        if connections == 1 { "" } else { "s" }
    )
}

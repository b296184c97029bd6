//! `report.md`: the scenario in a paragraph, the recommendation (with `[cost]`), the figures table, the runs that did not end ok,
//! the curve after the load, the sweep, the series the scenario declares, what the allocator held next to what the app
//! held, the cost, every run, the plots and the environment — ready to paste into a design
//! review. Reads the summary only: every number here is also in `summary.json`.
//!
//! One module a section, in the order of the page ([`markdown`]): `scenario` and `variants`,
//! the warnings, `recommend` (with `[cost]`), `results`, `curve`, `requests` (a request mix's entries), `observer` (observed or not, idle against nudged, leak or
//! retention), `not_ok`, `sweep`, `declared_series`, `explained` (the probe's parts of RssAnon; without it
//! `held_vs_live`), `arenas` (glibc's arenas at A), `container`, `huge_pages`, `mappings`, `cost`, `runs`, `environment`. Each table is a
//! [`crate::table::Table`] of typed
//! cells, handed to the [`Page`], which writes it with [`crate::table::markdown::render`] (or,
//! for `report.html`, [`crate::table::html::render`]); the figures of the results and runs
//! tables come from [`crate::report::catalogue`].

mod arenas;
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
use std::ops::{Deref, DerefMut};

use super::summary::{Spread, Summary};
use super::{Exporter, Output, ReportError, ReportInput};
use crate::record::RunStatus;
use crate::table::{ratio, Cell, Table};

pub use results::table_header;

pub struct ReportMarkdown;

impl Exporter for ReportMarkdown {
    fn export(&self, input: &ReportInput<'_>) -> Result<Vec<Output>, ReportError> {
        Ok(vec![Output::new("report.md", markdown(input.summary))])
    }
}

/// The whole `report.md`.
pub fn markdown(s: &Summary) -> String {
    let mut page = Page::markdown();
    sections(s, &mut page);
    page.text
}

/// The page the sections write: Markdown text, and its tables either in Markdown or, for
/// `report.html`, kept aside as HTML with a placeholder line in the text where each goes. So
/// the sections are written once for both pages.
pub struct Page {
    text: String,
    html_tables: Option<Vec<String>>,
}

impl Page {
    /// A page whose tables are Markdown: `report.md`.
    pub fn markdown() -> Page {
        Page {
            text: String::new(),
            html_tables: None,
        }
    }

    /// A page whose tables are HTML, each behind [`Page::placeholder`].
    pub fn with_html_tables() -> Page {
        Page {
            text: String::new(),
            html_tables: Some(Vec::new()),
        }
    }

    /// The line that stands for the `n`th table of a page with HTML tables: an HTML comment,
    /// a block of its own in CommonMark.
    pub fn placeholder(n: usize) -> String {
        format!("<!-- allocstorm table {n} -->")
    }

    /// Writes `t` where the page stands.
    pub fn table(&mut self, t: &Table) {
        match &mut self.html_tables {
            None => self.text.push_str(&crate::table::markdown::render(t)),
            Some(tables) => {
                let _ = writeln!(self.text, "{}", Page::placeholder(tables.len()));
                tables.push(crate::table::html::render(t));
            }
        }
    }

    /// The text and the HTML tables its placeholders stand for.
    pub fn into_parts(self) -> (String, Vec<String>) {
        (self.text, self.html_tables.unwrap_or_default())
    }
}

impl Deref for Page {
    type Target = String;
    fn deref(&self) -> &String {
        &self.text
    }
}

impl DerefMut for Page {
    fn deref_mut(&mut self) -> &mut String {
        &mut self.text
    }
}

/// Every section, in the order of the page.
pub fn sections(s: &Summary, out: &mut Page) {
    let _ = write!(out, "# allocstorm report: {}\n\n", s.scenario.name);
    scenario::scenario_paragraph(s, out);
    variants::variants_list(s, out);
    if !s.warnings.is_empty() {
        out.push_str("> **Read with care:**\n");
        for w in &s.warnings {
            let _ = writeln!(out, "> - {}", w.to_string().replace('\n', " "));
        }
        out.push('\n');
    }
    recommend::recommendation(s, out);
    results::figures_table(s, out);
    curve::curve_table(s, out);
    requests::requests_table(s, out);
    observer::observer_line(s, out);
    observer::idle_then_nudged(s, out);
    observer::leak_or_retention(s, out);
    soak::soak_section(s, out);
    not_ok::not_ok_runs(s, out);
    sweep::sweep_table(s, out);
    declared_series::series_table(s, out);
    explained::explained_table(s, out);
    arenas::arenas_table(s, out);
    if !explained::has_probe(s) {
        held_vs_live::breakdown_table(s, out);
    }
    container::container_table(s, out);
    huge_pages::huge_pages_table(s, out);
    mappings::mappings_table(s, out);
    cost::cost_table(s, out);
    runs::runs_table(s, out);
    environment::environment(s, out);
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

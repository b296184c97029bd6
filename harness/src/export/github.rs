//! `github-benchmark` and `github-benchmark-bigger`: github-action-benchmark's
//! `customSmallerIsBetter` and `customBiggerIsBetter` lists. The action has one direction per
//! file, so each list holds the figures of its direction only: the memory, retention, t90 and
//! latency in the first, throughput, capacity and its ratio in the second.

use serde::Serialize;

use super::measures::{Benchmark, Measure};
use super::unit_symbol;
use crate::report::catalogue::Better;

/// One entry of the list, as the action reads it.
#[derive(Serialize)]
struct Entry {
    name: String,
    unit: &'static str,
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<String>,
    extra: String,
}

/// The entries of the figures that are better in the direction `better`.
pub fn render(benchmarks: &[Benchmark<'_>], better: Better) -> Vec<u8> {
    let entries: Vec<Entry> = benchmarks
        .iter()
        .flat_map(|b| {
            b.measures
                .iter()
                .filter(|m| m.better == better)
                .map(|m| entry(b, m))
        })
        .collect();
    let mut bytes = serde_json::to_vec_pretty(&entries).expect("JSON of numbers and strings");
    bytes.push(b'\n');
    bytes
}

fn entry(b: &Benchmark<'_>, m: &Measure) -> Entry {
    Entry {
        name: format!("{}/{}", b.name(), m.kebab()),
        unit: unit_symbol(m.unit),
        value: m.value,
        range: m.bounds.map(|(lo, hi)| format!("{lo} to {hi}")),
        extra: extra(m),
    }
}

/// What the value is: `A (after-drain RSS): median of 3 ok runs, range min to max`.
fn extra(m: &Measure) -> String {
    let of = if m.ratio {
        format!("{} / the [cost] reference's", m.figure.in_words())
    } else {
        m.figure.in_words().to_string()
    };
    let over = if m.ratio { "rounds" } else { "ok runs" };
    let spread = if m.bounds.is_some() {
        ", range min to max"
    } else {
        ""
    };
    format!("{of}: median of {} {over}{spread}", m.n)
}

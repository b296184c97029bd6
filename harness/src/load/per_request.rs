//! A request mix's figures by entry: the workers' per-entry seconds added up, one latency
//! histogram per entry merged bucket by bucket (as the run's own histogram is), and the
//! `per_request` lists of the merged seconds and of the summary.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::counts::{add_pairs, new_histogram, to_pairs, EntryCounts, HistPairs, Percentiles};
use super::mix::Mix;
use super::wire::EntrySecond;

/// One entry's part of a merged second.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct EntryReport {
    #[serde(flatten)]
    pub counts: EntryCounts,
    /// Its successful requests completed in the second, from their due time.
    pub latency_ms: Percentiles,
}

/// One entry over the whole run: what it was, what it did.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RequestSummary {
    pub method: String,
    pub path: String,
    /// The key distribution, as the scenario wrote it (`hot:0.9`).
    pub keys: String,
    pub weight: u32,
    #[serde(flatten)]
    pub counts: EntryCounts,
    /// Its successful requests, from their due time.
    pub latency_ms: Percentiles,
    /// The raw samples behind `latency_ms`, as `[value_us, count]` pairs.
    pub latency_histogram_us: HistPairs,
}

/// Per-entry counts and histograms being added up; empty without a mix.
#[derive(Default)]
pub struct EntryTotals(Vec<(EntryCounts, Histogram<u64>)>);

impl EntryTotals {
    /// Adds one worker second's entries, entry `i` to entry `i`.
    pub fn add(&mut self, entries: &[EntrySecond]) {
        if self.0.len() < entries.len() {
            self.0
                .resize_with(entries.len(), || (EntryCounts::default(), new_histogram()));
        }
        for ((c, h), e) in self.0.iter_mut().zip(entries) {
            c.add(&e.counts);
            add_pairs(h, &e.latency_us);
        }
    }

    /// A merged second's `per_request`.
    pub fn reports(&self) -> Vec<EntryReport> {
        self.0
            .iter()
            .map(|(c, h)| EntryReport {
                counts: c.clone(),
                latency_ms: Percentiles::of(h),
            })
            .collect()
    }

    /// The summary's `per_request`: every entry of the mix, with what it did (zeros for one
    /// that never came up).
    pub fn summaries(&self, mix: Option<&Mix>) -> Vec<RequestSummary> {
        let Some(mix) = mix else {
            return Vec::new();
        };
        let empty = (EntryCounts::default(), new_histogram());
        mix.entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let (c, h) = self.0.get(i).unwrap_or(&empty);
                RequestSummary {
                    method: e.method.name().to_string(),
                    path: e.path.clone(),
                    keys: e.keys.label(),
                    weight: e.weight,
                    counts: c.clone(),
                    latency_ms: Percentiles::of(h),
                    latency_histogram_us: to_pairs(h),
                }
            })
            .collect()
    }
}

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

/// What one entry of a mix is, as a record and a report show it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RequestShape {
    pub method: String,
    pub path: String,
    /// The key distribution, as the scenario wrote it (`hot:0.9`).
    pub keys: String,
    /// The key space `{key}` is drawn from: `0..key_space`.
    pub key_space: u64,
    pub weight: u32,
    /// The `Range` asked for, `A-B` inclusive; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<(u64, u64)>,
    /// Writes: the body sizes drawn from, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<(u64, u64)>,
}

impl RequestShape {
    /// Every entry of `mix`.
    pub fn of(mix: &Mix) -> Vec<RequestShape> {
        mix.entries
            .iter()
            .map(|e| RequestShape {
                method: e.method.name().to_string(),
                path: e.path.clone(),
                keys: e.keys.label(),
                key_space: mix.keys,
                weight: e.weight,
                range: e.range,
                body: e.body,
            })
            .collect()
    }
}

/// One entry over the whole run: what it was, what it did.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RequestSummary {
    #[serde(flatten)]
    pub shape: RequestShape,
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
        RequestShape::of(mix)
            .into_iter()
            .enumerate()
            .map(|(i, shape)| {
                let (c, h) = self.0.get(i).unwrap_or(&empty);
                RequestSummary {
                    shape,
                    counts: c.clone(),
                    latency_ms: Percentiles::of(h),
                    latency_histogram_us: to_pairs(h),
                }
            })
            .collect()
    }
}

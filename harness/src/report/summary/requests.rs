//! A request mix's entries in a variant's median run: what each entry was and what it did.

use serde::{Deserialize, Serialize};

use crate::load::counts::{EntryCounts, Percentiles};
use crate::load::per_request::RequestShape;
use crate::record::RunRecord;

/// One `[[load.request]]` entry of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryRow {
    #[serde(flatten)]
    pub shape: RequestShape,
    #[serde(flatten)]
    pub counts: EntryCounts,
    /// Its successful requests, from their due time.
    pub latency_ms: Percentiles,
}

/// The entries of `r`'s `during` load, in the mix's order; empty without a mix.
pub fn entry_rows(r: &RunRecord) -> Vec<EntryRow> {
    r.load
        .as_ref()
        .map(|l| {
            l.per_request
                .iter()
                .map(|e| EntryRow {
                    shape: e.shape.clone(),
                    counts: e.counts.clone(),
                    latency_ms: e.latency_ms.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

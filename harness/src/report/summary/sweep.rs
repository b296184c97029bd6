//! A sweep: the `[server]` field every variant ran once per value of, and where each variant
//! sits in it.

use serde::{Deserialize, Serialize};

use crate::record::RunRecord;

use super::order::variant_order;

/// A sweep as the records tell it: every variant ran once per value of one `[server]` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepInfo {
    /// The short name in the variants' names (`threads` in `glibc@threads=8`).
    pub name: String,
    /// The `[server]` key, e.g. `io_threads`.
    pub field: String,
    /// The values in the order they ran.
    pub values: Vec<serde_json::Value>,
}

impl SweepInfo {
    /// The values as numbers, when every one is a number and there are at least two distinct
    /// ones: a sweep that has an x axis (and so a plot).
    pub fn numeric_values(&self) -> Option<Vec<f64>> {
        let v: Vec<f64> = self
            .values
            .iter()
            .map(|v| v.as_f64().filter(|x| x.is_finite()))
            .collect::<Option<_>>()?;
        let distinct = v.iter().any(|x| *x != v[0]);
        distinct.then_some(v)
    }
}

/// Where a variant sits in the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepAt {
    pub name: String,
    pub field: String,
    pub value: serde_json::Value,
    /// The point's label, the part of the variant's name after `@`.
    pub label: String,
}

/// The sweep of the records: its field and its values, in the order the variants ran.
pub(super) fn sweep_info(records: &[RunRecord]) -> Option<SweepInfo> {
    let mut info: Option<SweepInfo> = None;
    for name in variant_order(records) {
        let Some(p) = records
            .iter()
            .find(|r| r.header.variant.name == name)
            .and_then(|r| r.header.variant.sweep.as_ref())
        else {
            continue;
        };
        let i = info.get_or_insert_with(|| SweepInfo {
            name: p.name.clone(),
            field: p.field.clone(),
            values: Vec::new(),
        });
        if !i.values.contains(&p.value) {
            i.values.push(p.value.clone());
        }
    }
    info
}

//! The order of the report: runs as they ran, variants as their first run started (a sweep's
//! points together).

use crate::record::RunRecord;

pub use crate::record::dir::run_order;

/// The records in run order.
pub fn in_run_order(records: &[RunRecord]) -> Vec<&RunRecord> {
    let mut v: Vec<&RunRecord> = records.iter().collect();
    v.sort_by(|a, b| run_order(a, b));
    v
}

/// Variant names in the order their first run started, except that the points of a sweep
/// stay together under their base variant (where its first point ran): runs interleave
/// variants, a table and a plot read better grouped.
pub fn variant_order(records: &[RunRecord]) -> Vec<String> {
    let mut names: Vec<(String, String)> = Vec::new();
    let mut bases: Vec<String> = Vec::new();
    for r in in_run_order(records) {
        if !names.iter().any(|(n, _)| n == &r.header.variant.name) {
            names.push((
                r.header.variant.name.clone(),
                r.header.variant.base_name().to_string(),
            ));
        }
        if !bases.iter().any(|b| b == r.header.variant.base_name()) {
            bases.push(r.header.variant.base_name().to_string());
        }
    }
    // Stable: within a base, still the order of the first run.
    names.sort_by_key(|(_, base)| bases.iter().position(|b| b == base));
    names.into_iter().map(|(n, _)| n).collect()
}

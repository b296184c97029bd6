//! The warnings of `summary.json`: what a reader must know before trusting the table — variants
//! not measured, runs rebuilt from the event stream of a killed harness, runs measured from
//! another scenario, with another `--quick` or in another environment than the first run (of
//! their shard: the shards of a comparison are different machines on purpose).

use crate::provenance::Environment;
use crate::record::{RunRecord, RunStatus};

use super::status::is_incomplete;

/// The warnings of the records, in run order.
pub(super) fn warnings(ordered: &[&RunRecord]) -> Vec<String> {
    let mut warnings = Vec::new();
    let first = ordered.first().copied();
    for r in ordered {
        let id = format!("{} #{}", r.header.variant.name, r.header.run_index);
        if r.status == RunStatus::Skipped {
            let w = format!(
                "incomplete comparison: `{}` was not measured (skipped): {}",
                r.header.variant.name,
                r.failure.as_deref().unwrap_or_default()
            );
            // Each shard records the variant it could not run.
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        if is_incomplete(r) {
            warnings.push(format!(
                "{id}: {}",
                r.failure.as_deref().unwrap_or_default()
            ));
        }
        if let Some(f) = first {
            if !r.header.scenario_hash.is_empty()
                && !f.header.scenario_hash.is_empty()
                && r.header.scenario_hash != f.header.scenario_hash
            {
                warnings.push(format!(
                    "{id}: measured from another version of the scenario (hash {} vs {})",
                    short(&r.header.scenario_hash),
                    short(&f.header.scenario_hash)
                ));
            } else if r.header.scenario != f.header.scenario {
                warnings.push(format!(
                    "{id}: from scenario {:?}, not {:?}",
                    r.header.scenario, f.header.scenario
                ));
            }
            if r.header.quick != f.header.quick {
                warnings.push(format!(
                    "{id}: quick={} where the first run has quick={}",
                    r.header.quick, f.header.quick
                ));
            }
            // A rebuilt record without its start event has no environment: nothing to compare.
            let shard_first = ordered
                .iter()
                .find(|s| s.header.shard == r.header.shard)
                .unwrap_or(&f);
            if r.header.environment != shard_first.header.environment
                && r.header.environment != Environment::default()
            {
                warnings.push(format!(
                    "{id}: measured in another environment than the first run{} ({})",
                    match r.header.shard {
                        Some(s) => format!(" of shard {s}"),
                        None => String::new(),
                    },
                    env_diff(&shard_first.header.environment, &r.header.environment)
                ));
            }
        }
    }
    warnings
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// The names of the environment fields that differ.
fn env_diff(a: &Environment, b: &Environment) -> String {
    let (a, b) = (
        serde_json::to_value(a).unwrap_or_default(),
        serde_json::to_value(b).unwrap_or_default(),
    );
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return String::new();
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

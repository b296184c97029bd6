//! The warnings of `summary.json`: what a reader must know before trusting the table — variants
//! not measured, runs rebuilt from the event stream of a killed harness, overloaded runs (whose
//! load left requests unsent), runs measured from
//! another scenario, with another `--quick` or in another environment than the first run (of
//! their shard: the shards of a comparison are different machines on purpose).

use crate::provenance::Environment;
use crate::record::{RunRecord, RunStatus};

use super::figures::{overloaded, requests};
use super::status::is_incomplete;
use super::worded::worded;
use crate::shard::Shard;

/// A run: its variant and index.
#[derive(Debug, Clone, PartialEq)]
pub struct RunId {
    pub variant: String,
    pub run_index: u32,
}

/// What a reader must know before trusting the table, with what it is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    /// A variant was skipped: it could not run here, and why (the record's words).
    NotMeasured { variant: String, why: String },
    /// A run rebuilt from the event stream of a killed harness: its `failure`.
    Rebuilt { run: RunId, failure: String },
    /// Measured from another version of the scenario file than the first run (sha256s).
    OtherScenarioVersion {
        run: RunId,
        hash: String,
        first: String,
    },
    OtherScenario {
        run: RunId,
        scenario: String,
        first: String,
    },
    OtherQuick {
        run: RunId,
        quick: bool,
        first: bool,
    },
    /// Measured in another environment than the first run (of its shard): the fields that
    /// differ.
    OtherEnvironment {
        run: RunId,
        shard: Option<Shard>,
        fields: Vec<String>,
    },
    /// Runs of a variant whose memory run's load left more than
    /// [`super::figures::OVERLOAD_UNSENT_SHARE`] of the requests it intended unsent: the server
    /// did not keep up, so they measured a smaller load. One warning per variant.
    Overloaded {
        variant: String,
        runs: Vec<OverloadedRun>,
    },
    /// Read back from `summary.json`: its words.
    Read(String),
}

worded!(Warning);

/// An overloaded run: the requests its load intended and those it left unsent.
#[derive(Debug, Clone, PartialEq)]
pub struct OverloadedRun {
    pub run_index: u32,
    pub intended: u64,
    pub unsent: u64,
}

/// The warnings of the records, in run order.
pub(super) fn warnings(ordered: &[&RunRecord]) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let first = ordered.first().copied();
    for r in ordered {
        let run = || RunId {
            variant: r.header.variant.name.clone(),
            run_index: r.header.run_index,
        };
        if r.status == RunStatus::Skipped {
            let w = Warning::NotMeasured {
                variant: r.header.variant.name.clone(),
                why: r.failure.clone().unwrap_or_default(),
            };
            // Each shard records the variant it could not run.
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        if is_incomplete(r) {
            warnings.push(Warning::Rebuilt {
                run: run(),
                failure: r.failure.clone().unwrap_or_default(),
            });
        }
        if let Some(f) = first {
            warnings.extend(against_first(r, f, run).into_iter().flatten());
            // A rebuilt record without its start event has no environment: nothing to compare.
            let shard_first = ordered
                .iter()
                .find(|s| s.header.shard == r.header.shard)
                .unwrap_or(&f);
            if r.header.environment != shard_first.header.environment
                && r.header.environment != Environment::default()
            {
                warnings.push(Warning::OtherEnvironment {
                    run: run(),
                    shard: r.header.shard,
                    fields: env_diff(&shard_first.header.environment, &r.header.environment),
                });
            }
        }
    }
    warnings.extend(overloaded_runs(ordered));
    warnings
}

/// One warning per variant with overloaded runs, in the order of their first.
fn overloaded_runs(ordered: &[&RunRecord]) -> Vec<Warning> {
    let mut out: Vec<Warning> = Vec::new();
    for r in ordered {
        let [Some(intended), _, Some(unsent)] = requests(r.load.as_ref()) else {
            continue;
        };
        if overloaded(Some(intended), Some(unsent)).is_none() {
            continue;
        }
        let run = OverloadedRun {
            run_index: r.header.run_index,
            intended,
            unsent,
        };
        let name = &r.header.variant.name;
        match out.iter_mut().find_map(|w| match w {
            Warning::Overloaded { variant, runs } if variant == name => Some(runs),
            _ => None,
        }) {
            Some(runs) => runs.push(run),
            None => out.push(Warning::Overloaded {
                variant: name.clone(),
                runs: vec![run],
            }),
        }
    }
    out
}

/// Where a run's scenario or `--quick` differs from the first run's.
fn against_first(r: &RunRecord, f: &RunRecord, run: impl Fn() -> RunId) -> [Option<Warning>; 2] {
    let (h, fh) = (&r.header, &f.header);
    let scenario = if !h.scenario_hash.is_empty()
        && !fh.scenario_hash.is_empty()
        && h.scenario_hash != fh.scenario_hash
    {
        Some(Warning::OtherScenarioVersion {
            run: run(),
            hash: h.scenario_hash.clone(),
            first: fh.scenario_hash.clone(),
        })
    } else {
        (h.scenario != fh.scenario).then(|| Warning::OtherScenario {
            run: run(),
            scenario: h.scenario.clone(),
            first: fh.scenario.clone(),
        })
    };
    let quick = (h.quick != fh.quick).then(|| Warning::OtherQuick {
        run: run(),
        quick: h.quick,
        first: fh.quick,
    });
    [scenario, quick]
}

/// The names of the environment fields that differ.
fn env_diff(a: &Environment, b: &Environment) -> Vec<String> {
    let (a, b) = (
        serde_json::to_value(a).unwrap_or_default(),
        serde_json::to_value(b).unwrap_or_default(),
    );
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Vec::new();
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

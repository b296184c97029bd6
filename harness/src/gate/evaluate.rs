//! The gate's result: every variant's comparison with its baseline and its budget checks,
//! and the overall status with its exit code. Pure data: measured figures in, [`GateReport`]
//! out; it knows nothing of how the verdict is shown (the words are made in `gate::render` and
//! `gate::words`).

use serde::Serialize;

use super::baseline::Baseline;
use super::measured::{Inconsistency, KeyDiff, Measured, RunFigure};
use crate::figures::curve::After;
use crate::record::RunStatus;
use crate::scenario::gate::{GateConfig, Thresholds};
use allocstorm_core::Exit;

use super::verdict::{self, BudgetCheck, Decision, Verdict};

/// The overall result, and the exit code that is the contract with CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Regression,
    /// The gate could not judge: bad input, or a variant without an ok run.
    Error,
    Inconclusive,
}

impl Status {
    /// Every status, in the order of their exit codes: the gate's contract, as `--help`
    /// ([`super::help`]) and docs/gate.md state it.
    pub const ALL: [Status; 4] = [
        Status::Pass,
        Status::Regression,
        Status::Error,
        Status::Inconclusive,
    ];

    /// `0` pass, `1` regression, `2` harness or input error, `3` inconclusive.
    pub fn exit(self) -> Exit {
        match self {
            Status::Pass => Exit::Ok,
            Status::Regression => Exit::Failed,
            Status::Error => Exit::Error,
            Status::Inconclusive => Exit::Incomplete,
        }
    }

    pub fn exit_code(self) -> u8 {
        self.exit().code()
    }

    /// What the status (and its exit code) means, in one line.
    pub fn meaning(self) -> &'static str {
        match self {
            Status::Pass => "pass: every variant within its budgets and within the limit of its baseline",
            Status::Regression => "regression: a variant over a budget, or worse than its baseline by more than all of the relative tolerance, the absolute floor and what the runs' spread can explain",
            Status::Error => "harness or input error: unreadable run directory, scenario or baseline; a baseline measured under another key (without --allow-env-mismatch); a variant with no ok run",
            Status::Inconclusive => "inconclusive: worse by more than the tolerance but within the runs' spread, or near the limit with a single run on one side",
        }
    }

    fn of(d: Decision) -> Status {
        match d {
            Decision::Pass => Status::Pass,
            Decision::Inconclusive => Status::Inconclusive,
            Decision::Regression => Status::Regression,
        }
    }

    /// Error before regression before inconclusive before pass: an error means some of the
    /// gate could not run at all, which a person must look at whatever else it found.
    fn rank(self) -> u8 {
        match self {
            Status::Pass => 0,
            Status::Inconclusive => 1,
            Status::Regression => 2,
            Status::Error => 3,
        }
    }

    pub fn worst(self, other: Status) -> Status {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// Which baseline was used, if any.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BaselineUse {
    /// No `--baseline`: budgets only.
    NotGiven,
    /// `--baseline DIR` holds no file for this scenario and host: budgets only.
    NotFound { looked_for: String },
    Used {
        path: String,
        created_at: String,
        git_revision: Option<String>,
        /// Key fields that differ, compared anyway under `--allow-env-mismatch`.
        mismatch: Vec<KeyDiff>,
    },
}

/// Something a reader should know that changes no verdict (worded in `gate::words`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Note {
    /// What merging the shards said: `shard::load` words its own notes.
    Shards { said: String },
    /// The directory's runs differ in their key, gated anyway under `--allow-env-mismatch`.
    MixedRuns { runs: Vec<Inconsistency> },
    /// The scenario file changed since the runs were measured: its current `[gate]` applies.
    ScenarioChanged { file: String },
    /// `--baseline DIR` holds none for this scenario and host: how to make one.
    NoBaselineIn { dir: String, run_dir: String },
    /// A variant of the baseline that this directory did not run.
    NotRun { variant: String },
    /// A variant with a budget that this directory did not run.
    BudgetNotRun { variant: String },
}

/// Why a variant could not be judged: none of its runs counts. Its runs, with their status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoOkRun {
    pub runs: Vec<RunFigure>,
    /// The figure the runs lacked.
    pub after: After,
}

/// A variant not run at all on this machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// The reason its `skipped` record gives, if any.
    pub reason: Option<String>,
}

/// Why a variant that ran has no comparison with a baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoComparison {
    /// No baseline for this scenario and host: budgets only.
    NoBaseline,
    /// The baseline has no runs of this variant.
    NotInBaseline,
}

/// One variant's checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantGate {
    pub name: String,
    /// All runs in the directory, and those that count (ok, with the gated figure).
    pub runs: usize,
    pub runs_counted: usize,
    /// The gated figure of the counted runs, both sides (A, or the point `[gate] after` chose).
    pub candidate_after_drain: Vec<u64>,
    pub baseline_after_drain: Vec<u64>,
    /// Why the variant could not be judged (no ok run).
    pub error: Option<NoOkRun>,
    /// Why the variant was not run at all on this machine (its `skipped` record's reason):
    /// nothing to judge, so the gate is inconclusive, not failed.
    pub skipped: Option<Skipped>,
    pub comparison: Option<Verdict>,
    /// Why there is no comparison: no baseline, or the baseline lacks this variant.
    pub no_comparison: Option<NoComparison>,
    /// The thresholds the comparison used (the section's, or the variant's own).
    pub thresholds: Thresholds,
    pub budgets: Vec<BudgetCheck>,
}

impl VariantGate {
    pub fn status(&self) -> Status {
        if self.error.is_some() {
            return Status::Error;
        }
        if self.skipped.is_some() {
            return Status::Inconclusive;
        }
        self.comparison
            .iter()
            .map(|v| v.decision)
            .chain(self.budgets.iter().map(|b| b.decision))
            .map(Status::of)
            .fold(Status::Pass, Status::worst)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateReport {
    pub scenario: String,
    pub quick: bool,
    pub run_dir: String,
    /// The scenario file whose `[gate]` applied.
    pub scenario_file: String,
    pub baseline: BaselineUse,
    pub thresholds: Thresholds,
    /// The figure compared (`[gate] after`).
    pub after: After,
    pub variants: Vec<VariantGate>,
    /// Things a reader should know that change no verdict.
    pub notes: Vec<Note>,
}

impl GateReport {
    pub fn status(&self) -> Status {
        self.variants
            .iter()
            .map(VariantGate::status)
            .fold(Status::Pass, Status::worst)
    }

    /// Compared across different keys (`--allow-env-mismatch`): the differing fields.
    pub fn mismatch(&self) -> &[KeyDiff] {
        match &self.baseline {
            BaselineUse::Used { mismatch, .. } => mismatch,
            _ => &[],
        }
    }
}

/// Judges every variant the directory ran: against the baseline's runs of the same variant,
/// if any, and against the scenario's budgets.
pub fn evaluate(
    candidate: &Measured,
    baseline: Option<&Baseline>,
    config: &GateConfig,
) -> (Vec<VariantGate>, Vec<Note>) {
    let mut notes = Vec::new();
    let mut out = Vec::new();
    let after = candidate.after;
    for v in &candidate.variants {
        let a = v.gated(after);
        let base = baseline.and_then(|b| b.variant(&v.name));
        let base_a = base.map(|b| b.gated(after)).unwrap_or_default();
        let mut g = VariantGate {
            name: v.name.clone(),
            runs: v.runs.len(),
            runs_counted: a.len(),
            candidate_after_drain: a.clone(),
            baseline_after_drain: base_a.clone(),
            error: None,
            skipped: None,
            comparison: None,
            no_comparison: None,
            thresholds: config.thresholds_for(&v.name),
            budgets: Vec::new(),
        };
        if a.is_empty() {
            match v.runs.iter().find(|r| r.status == RunStatus::Skipped) {
                Some(r) if v.runs.iter().all(|r| r.status == RunStatus::Skipped) => {
                    g.skipped = Some(Skipped {
                        reason: r.failure.clone(),
                    });
                }
                _ => {
                    g.error = Some(NoOkRun {
                        runs: v.runs.clone(),
                        after,
                    })
                }
            }
            out.push(g);
            continue;
        }
        match (baseline, base) {
            (None, _) => g.no_comparison = Some(NoComparison::NoBaseline),
            (Some(_), None) => g.no_comparison = Some(NoComparison::NotInBaseline),
            (Some(_), Some(_)) => g.comparison = verdict::verdict(&base_a, &a, &g.thresholds),
        }
        if let Some(limits) = config.limits_for(&v.name) {
            g.budgets = verdict::check_budgets(limits, &a, &v.shares(after));
            g.budgets.extend(verdict::check_cycle_verdict(
                limits,
                &v.cycle_verdicts(after),
            ));
            g.budgets
                .extend(verdict::check_growth(limits, &v.slopes(after)));
        }
        out.push(g);
    }
    if let Some(b) = baseline {
        for bv in &b.variants {
            if candidate.variant(&bv.name).is_none() {
                notes.push(Note::NotRun {
                    variant: bv.name.clone(),
                });
            }
        }
    }
    for name in config.variants.keys() {
        if config.limits_for(name).is_some() && candidate.variant(name).is_none() {
            notes.push(Note::BudgetNotRun {
                variant: name.clone(),
            });
        }
    }
    (out, notes)
}

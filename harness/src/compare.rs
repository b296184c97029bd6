//! `allocstorm compare`: every variant, N times, interleaved, one server at a time; then the
//! report.
//!
//! Runs are interleaved (v1 v2 … v1 v2 …) so that slow drift of the machine (page cache, THP
//! compaction, thermal) spreads over all variants instead of biasing the one that ran last.
//! With `--shard I/N` the comparison is one shard of a larger one ([`crate::shard`]): the same
//! interleaved comparison, with run numbers no other shard uses.

use crate::cost::measure::LatencyRate;
use crate::record::{RunRecord, RunStatus};
use crate::run::timings::Timings;
use crate::run::{run_variant, write_skipped, RunError, RunRequest, RunSettings};
use crate::scenario::{Case, Scenario, Variant};

/// How the comparison ended.
pub struct CompareOutcome {
    pub records: Vec<RunRecord>,
    pub interrupted: bool,
}

impl CompareOutcome {
    /// Variants that could not run here (`skipped` records): the comparison is incomplete.
    pub fn skipped(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .records
            .iter()
            .filter(|r| r.status == RunStatus::Skipped)
            .map(|r| r.header.variant.name.as_str())
            .collect();
        names.dedup();
        names
    }
}

/// Picks the variants named by `--variants a,b,…` (or `all`) from the scenario.
pub fn select_variants<'a>(
    scenario: &'a Scenario,
    spec: Option<&str>,
) -> Result<Vec<&'a Variant>, String> {
    match spec {
        None | Some("all") => Ok(scenario.variants.iter().collect()),
        Some(list) => {
            let mut out = Vec::new();
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let v = scenario.variant(name).ok_or_else(|| {
                    let names: Vec<&str> =
                        scenario.variants.iter().map(|v| v.name.as_str()).collect();
                    format!(
                        "--variants: unknown variant {name:?}: expected `all` or names from {}",
                        names.join(", ")
                    )
                })?;
                if out.iter().any(|o: &&Variant| o.name == v.name) {
                    return Err(format!("--variants: {name:?} is listed twice"));
                }
                out.push(v);
            }
            if out.is_empty() {
                return Err(format!(
                    "--variants {list:?}: expected `all` or a comma-separated list of names"
                ));
            }
            Ok(out)
        }
    }
}

/// The interleaved order of (run index, variant) over the run numbers `runs`: 1 a, 1 b, 2 a,
/// 2 b, …
pub fn schedule<T: Copy>(items: &[T], runs: std::ops::RangeInclusive<u32>) -> Vec<(u32, T)> {
    runs.flat_map(|n| items.iter().map(move |v| (n, *v)))
        .collect()
}

/// With `[cost]`, the reference variant moved to the front of each round: its capacity sets
/// the rate at which every variant's latency is measured.
fn reference_first<'v, C>(
    scenario: &Scenario,
    mut items: Vec<(&'v Variant, C)>,
) -> Vec<(&'v Variant, C)> {
    if let Some(spec) = &scenario.cost {
        if let Some(i) = items.iter().position(|(v, _)| v.name == spec.reference) {
            let r = items.remove(i);
            items.insert(0, r);
        }
    }
    items
}

/// Every (variant as run, case) of a scenario for the selected variants: one per variant when
/// there is no sweep, one per variant and sweep point otherwise (points of one variant next
/// to each other).
pub fn expand<'a>(scenario: &'a Scenario, variants: &[&Variant]) -> Vec<(Variant, &'a Case)> {
    variants
        .iter()
        .flat_map(|v| {
            scenario
                .cases
                .iter()
                .map(move |c| (scenario.case_variant(v, c), c))
        })
        .collect()
}

/// Every selected variant, `runs` times each, under the invocation's settings.
pub struct CompareRequest<'a> {
    pub settings: &'a RunSettings,
    pub scenario: &'a Scenario,
    pub variants: Vec<&'a Variant>,
    pub runs: u32,
}

/// Checks everything that can be checked before a server starts: the binaries of the variants
/// that can run here, and the output directory.
pub fn preflight(req: &CompareRequest) -> Result<(), RunError> {
    let bin_dir = &req.settings.bin_dir;
    for v in req.variants.iter().filter(|v| v.unavailable().is_none()) {
        if req.scenario.target.is_none() && !bin_dir.join(&v.binary).is_file() {
            return Err(RunError::MissingBinary {
                binary: v.binary.clone(),
                dir: bin_dir.display().to_string(),
            });
        }
    }
    let dir = &req.settings.dir;
    dir.check_writable()
        .map_err(|e| RunError::output(dir.path(), e))
}

pub async fn compare<'a>(req: CompareRequest<'a>) -> Result<CompareOutcome, RunError> {
    preflight(&req)?;
    let settings = req.settings;
    let expanded = expand(req.scenario, &req.variants);
    let items: Vec<(&Variant, &Case)> = expanded.iter().map(|(v, c)| (v, *c)).collect();
    let request = |variant, case: &'a Case, n, latency_rate| RunRequest {
        settings,
        scenario: req.scenario,
        variant,
        server: &case.server,
        run_index: n,
        latency_rate,
    };
    // A variant that cannot run here is recorded once as `skipped`, with why and the fix, and
    // every other variant runs: one missing library must not cost the whole comparison.
    let (runnable, unavailable): (Vec<_>, Vec<_>) = items
        .into_iter()
        .partition(|(v, _)| v.unavailable().is_none());
    let numbers = crate::shard::run_numbers(settings.shard, req.runs);
    let mut records = Vec::new();
    for (variant, case) in unavailable {
        let reason = variant.unavailable().unwrap_or_default();
        if settings.show_progress {
            eprintln!("── skipped {}: {reason}", variant.name);
        }
        records.push(write_skipped(
            &request(variant, case, *numbers.start(), None),
            reason,
        )?);
    }
    let runnable = reference_first(req.scenario, runnable);
    let order = schedule(&runnable, numbers);
    let total = order.len();
    // With [cost]: the latency phase's rate, set by the first capacity measured (the
    // reference's, which runs first in every round) and the same for every later run.
    let mut latency_rate = None;
    for (i, (n, (variant, case))) in order.into_iter().enumerate() {
        if settings.show_progress {
            eprintln!("── run {}/{total}: {} #{n}", i + 1, variant.name);
        }
        let run = request(variant, case, n, latency_rate.clone());
        let rec = run_variant(run, crate::run::ctrl_c()).await?;
        if let (None, Some(spec), Some(cap)) = (
            &latency_rate,
            &req.scenario.cost,
            rec.cost.as_ref().and_then(|c| c.figures.capacity_rps),
        ) {
            let whose = format!("{} #{n}", variant.name);
            latency_rate = Some(LatencyRate::of_capacity(spec, cap, &whose));
        }
        let stop = rec.interrupted();
        records.push(rec);
        if stop {
            return Ok(CompareOutcome {
                records,
                interrupted: true,
            });
        }
    }
    Ok(CompareOutcome {
        records,
        interrupted: false,
    })
}

/// The wall time of a comparison's parts, in seconds: set-up before the first run (the
/// scenario, the environment, the coordinator), the runs, the report, and all of it.
pub struct Spans {
    pub setup_s: f64,
    pub runs_s: f64,
    pub report_s: f64,
    pub total_s: f64,
}

/// The comparison's `timings.json`: each step summed over its runs' records, the set-up, the
/// time between the runs that no run's timings hold (skipped variants, writing each record
/// with its cost), and the report's writing (`report`: Markdown, HTML, plots, exports).
pub fn timings(records: &[RunRecord], spans: &Spans) -> Timings {
    let runs: Vec<&Timings> = records.iter().filter_map(|r| r.timings.as_ref()).collect();
    let mut t = Timings::default();
    t.add("comparison setup", spans.setup_s);
    runs.iter().for_each(|r| t.add_steps(r));
    let in_runs: f64 = runs.iter().map(|r| r.total_s).sum();
    t.add("between runs", (spans.runs_s - in_runs).max(0.0));
    t.add("report", spans.report_s);
    t.sealed(spans.total_s)
}

/// Writes `timings` as `timings.json` in `dir` and, unless `quiet`, prints where the time
/// went on stderr.
pub fn say_timings(dir: &std::path::Path, timings: &Timings, quiet: bool) -> Result<(), String> {
    let path = dir.join("timings.json");
    crate::record::write_json_atomic(&path, timings)
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    if !quiet {
        eprintln!("{}", timings.said(&path.display().to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::fixtures::variant as v;
    use crate::shard::Shard;

    #[test]
    fn a_comparisons_timings_sum_its_runs_and_add_what_no_run_holds() {
        let run = |n: u32, drain: f64| {
            let mut r = RunRecord::from_header(crate::record::fixtures::header("a", n));
            let mut t = Timings::default();
            t.add("drain", drain);
            t.add("server stop", 0.5);
            r.timings = Some(t.sealed(drain + 1.0));
            r
        };
        let skipped = RunRecord::from_header(crate::record::fixtures::header("b", 1));
        let spans = Spans {
            setup_s: 0.25,
            runs_s: 25.0,
            report_s: 2.0,
            total_s: 27.5,
        };
        let t = timings(&[run(1, 10.0), skipped, run(2, 12.0)], &spans);
        let steps: Vec<(&str, f64)> = t
            .steps
            .iter()
            .map(|s| (s.step.as_str(), s.seconds))
            .collect();
        // The runs' totals are 11 s and 13 s: 1 s of the 25 s the runs took was between them.
        assert_eq!(
            steps,
            [
                ("comparison setup", 0.25),
                ("drain", 22.0),
                ("server stop", 1.0),
                ("between runs", 1.0),
                ("report", 2.0)
            ]
        );
        assert_eq!((t.measured_s, t.overhead_s, t.total_s), (22.0, 5.5, 27.5));
    }

    #[test]
    fn runs_are_interleaved() {
        let (a, b, c) = (v("a"), v("b"), v("c"));
        let order: Vec<(u32, &str)> = schedule(&[&a, &b, &c], 1..=2)
            .into_iter()
            .map(|(n, v)| (n, v.name.as_str()))
            .collect();
        assert_eq!(
            order,
            [(1, "a"), (1, "b"), (1, "c"), (2, "a"), (2, "b"), (2, "c")]
        );
    }

    #[test]
    fn a_shard_is_a_whole_interleaved_comparison_with_run_numbers_of_its_own() {
        let (a, b) = (v("a"), v("b"));
        let shard = Shard::parse("2/2").unwrap();
        let order: Vec<(u32, &str)> =
            schedule(&[&a, &b], crate::shard::run_numbers(Some(shard), 2))
                .into_iter()
                .map(|(n, v)| (n, v.name.as_str()))
                .collect();
        assert_eq!(order, [(3, "a"), (3, "b"), (4, "a"), (4, "b")]);
    }
}

//! The words of the gate's notes, budget notes, inconsistencies and errors: the one place a
//! sentence is made of their figures, for the terminal and gate.md alike.
//!
//! As in `report::words`, they are `Display` impls: the gate's data types name no page. The
//! figures the gate is about are named as the catalogue names them ([`gated`],
//! [`budget_figure`]); this module and `render` read the catalogue, the verdict does not
//! (`report` reaches `gate::measured` through `shard`: an import there would close a circle).

use std::fmt::{self, Display, Formatter};

use super::evaluate::{NoOkRun, Note, Skipped};
use super::measured::{Inconsistency, KeyDiff, VariantRuns};
use super::verdict::{BudgetKind, BudgetNote};
use crate::figures::curve::After;
use crate::figures::MIN_GROWTH_FOR_RETENTION;
use crate::record::RunStatus;
use crate::report::catalogue::{self, Figure};
pub use crate::report::words::joined;

/// The figure the gate compares with its baseline: after-drain RSS (A) by default, or RssAnon
/// at the point of the curve after the load `[gate] after` names. The verdict takes a higher
/// candidate for worse, which holds while it is a figure where lower is better.
pub fn gated(after: After) -> &'static Figure {
    catalogue::at(after).0
}

/// `an after-drain figure`, `a figure 1s after the load`: what a run lacks to be counted.
pub fn a_figure_of(after: After) -> String {
    match after {
        After::Drain => "an after-drain figure".into(),
        a => format!("a figure {} after the load", a.name()),
    }
}

/// The figure a budget bounds at `after`; `None` for the cycle verdict, which is a verdict,
/// not a figure. Retention budgets bound the share of the growth held at that point.
pub fn budget_figure(k: BudgetKind, after: After) -> Option<&'static Figure> {
    let (bytes, share) = catalogue::at(after);
    match k {
        BudgetKind::MaxRetention | BudgetKind::MinRetention => Some(share),
        BudgetKind::MaxAfterDrain => Some(bytes),
        BudgetKind::CycleVerdict => None,
        BudgetKind::MaxGrowthPerHour => Some(&catalogue::SOAK_SLOPE),
    }
}

/// A budget as the gate's tables and findings name it: its scenario key, except
/// `max_after_drain` under `[gate] after = "1s"` (or 5s, 60s), which bounds RssAnon that long
/// after the load, not A, and is named so (`max_after_load_1s`): a reader of the verdict sees
/// which figure failed. The scenario's key stays `max_after_drain`.
pub fn budget_name(k: BudgetKind, after: After) -> String {
    match (k, after) {
        (BudgetKind::MaxAfterDrain, a) if a != After::Drain => {
            format!("max_after_load_{}", a.name())
        }
        _ => k.key().to_string(),
    }
}

/// How the baseline's key differs from this directory's, with `sep` between.
pub fn against_baseline(diffs: &[KeyDiff], sep: &str) -> String {
    diffs
        .iter()
        .map(|d| d.describe("the baseline", "this run"))
        .collect::<Vec<_>>()
        .join(sep)
}

/// Each variant without an ok run, with its runs' statuses: `glibc (oom, failed)`.
pub fn without_ok_run(variants: &[VariantRuns]) -> String {
    variants
        .iter()
        .map(|v| {
            let statuses: Vec<&str> = v.runs.iter().map(|r| r.status.as_str()).collect();
            format!("{} ({})", v.name, statuses.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Display for Note {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Note::Shards { said } => f.write_str(said),
            Note::MixedRuns { runs } => write!(
                f,
                "runs of this directory differ in their key: {}",
                joined(runs, "; ")
            ),
            Note::ScenarioChanged { file } => write!(
                f,
                "{file} changed since the runs were measured (its settings, not only [gate]): its current [gate] applies"
            ),
            Note::NoBaselineIn { dir, run_dir } => write!(
                f,
                "no baseline for this scenario and host in {dir}: make one with `allocstorm gate --run {run_dir} --update-baseline {dir}`"
            ),
            Note::NotRun { variant } => {
                write!(f, "{variant}: in the baseline but not run in this directory")
            }
            Note::BudgetNotRun { variant } => write!(
                f,
                "{variant}: has a budget in [gate.variants] but was not run: not checked"
            ),
        }
    }
}

impl Display for Inconsistency {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Inconsistency::Key { run, diff } => write!(
                f,
                "run {run}: {}",
                diff.describe("the first ok run", "this run")
            ),
            Inconsistency::Settings { run } => {
                write!(f, "run {run}: variant settings differ from its other runs")
            }
        }
    }
}

/// What a run lacks, after `no`: `after-drain figure`, `figure 60s after the load`.
fn figure_word(after: After) -> String {
    a_figure_of(after)
        .trim_start_matches("an ")
        .trim_start_matches("a ")
        .to_string()
}

impl Display for NoOkRun {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let runs: Vec<String> = self
            .runs
            .iter()
            .map(|r| match (&r.failure, r.status) {
                (_, RunStatus::Ok) => {
                    format!("#{} ok but no {}", r.run_index, figure_word(self.after))
                }
                (Some(why), s) => format!("#{} {s}: {why}", r.run_index),
                (None, s) => format!("#{} {s}", r.run_index),
            })
            .collect();
        write!(f, "no ok run to measure ({})", runs.join("; "))
    }
}

impl Display for Skipped {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason.as_deref().unwrap_or("skipped"))
    }
}

impl Display for BudgetNote {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let no_growth = || {
            format!(
                "{} not measured: the load grew RssAnon by less than {} MiB",
                catalogue::RETENTION.in_words(),
                MIN_GROWTH_FOR_RETENTION >> 20
            )
        };
        match self {
            BudgetNote::NothingToRetain => write!(f, "{}: nothing to retain", no_growth()),
            BudgetNote::NotExercised => write!(
                f,
                "{}: the load did not exercise the allocator",
                no_growth()
            ),
            BudgetNote::NoAfterDrain => write!(f, "{} not measured", catalogue::A.in_words()),
            BudgetNote::NoCycles => f.write_str(
                "no run has a cycle verdict: the scenario needs [phases] cycles of 2 or more",
            ),
            BudgetNote::Cycles { growth, plateau } => write!(
                f,
                "{growth} of {} runs growth, {plateau} plateau",
                growth + plateau
            ),
            BudgetNote::NoSoak => f.write_str(
                "no run has a slope: the scenario needs [phases] soak of 4 cycles or more",
            ),
            BudgetNote::Soak {
                above,
                straddle,
                below,
            } => write!(
                f,
                "of {} runs' 95% intervals, {above} above the budget, {straddle} across it, {below} below",
                above + straddle + below
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::catalogue::Better;

    /// The verdict calls a higher candidate worse: right only for a lower-is-better figure.
    #[test]
    fn the_gated_figure_is_lower_is_better() {
        for a in After::ALL {
            assert_eq!(gated(a).better, Better::Lower, "{a:?}");
        }
        assert_eq!(gated(After::Drain).in_words(), "after-drain RSS");
        assert_eq!(gated(After::OneSecond).in_words(), "RSS 1 s after the load");
        assert_eq!(
            budget_figure(BudgetKind::MaxRetention, After::FiveSeconds).map(Figure::in_words),
            Some("share of the growth held 5 s after the load")
        );
    }

    #[test]
    fn budget_notes_say_what_was_not_measured() {
        assert_eq!(
            BudgetNote::NothingToRetain.to_string(),
            "retention not measured: the load grew RssAnon by less than 4 MiB: nothing to retain"
        );
        assert_eq!(
            BudgetNote::NoAfterDrain.to_string(),
            "after-drain RSS not measured"
        );
        let split = BudgetNote::Cycles {
            growth: 2,
            plateau: 1,
        };
        assert_eq!(split.to_string(), "2 of 3 runs growth, 1 plateau");
    }

    #[test]
    fn a_variant_without_an_ok_run_lists_its_runs() {
        use super::super::measured::RunFigure;
        let run = |run_index, status, failure: Option<&str>| RunFigure {
            run_index,
            status,
            failure: failure.map(Into::into),
            rss_after_drain_bytes: None,
            retention: None,
            rss_after_load_bytes: None,
            retention_after_load: None,
            cycle_verdict: None,
            soak: None,
        };
        let mut e = NoOkRun {
            runs: vec![
                run(1, RunStatus::Oom, Some("killed")),
                run(2, RunStatus::Ok, None),
            ],
            after: After::Drain,
        };
        assert_eq!(
            e.to_string(),
            "no ok run to measure (#1 oom: killed; #2 ok but no after-drain figure)"
        );
        e.after = After::SixtySeconds;
        assert!(
            e.to_string()
                .ends_with("#2 ok but no figure 60s after the load)"),
            "{e}"
        );
        assert_eq!(Skipped { reason: None }.to_string(), "skipped");
    }
}

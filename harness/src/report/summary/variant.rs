//! One variant's summary, from its runs: its settings, its worst status, the median run, the
//! medians over its ok runs and the run-to-run spread, the memory breakdown and every run's
//! figures.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::figures::MIN_GROWTH_FOR_RETENTION;
use crate::record::{RunRecord, RunStatus};

use super::container::{container_view, ContainerView};
use super::cost::{variant_cost, VariantCost};
use super::explained::{explained_run, ExplainedRun};
use super::figures::{run_figure_set, FigureSet, RunFigures};
use super::held_vs_live::{memory_breakdown, MemoryBreakdown};
use super::medians::{coefficient_of_variation, medians};
use super::requests::{entry_rows, EntryRow};
use super::status::is_incomplete;
use super::sweep::SweepAt;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantSummary {
    pub name: String,
    /// The variant of `variants.toml` this is (itself, or the base of a sweep point).
    #[serde(default)]
    pub base_variant: String,
    /// Where it sits in the sweep; `null` when the scenario has none.
    #[serde(default)]
    pub sweep: Option<SweepAt>,
    pub binary: String,
    pub description: String,
    pub env: BTreeMap<String, String>,
    pub args: Vec<String>,
    /// The library preloaded into the server (`LD_PRELOAD`), if any: the allocator that served
    /// it, while `allocator` names the build's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preload: Option<String>,
    /// The allocator and its settings in effect, as the server reported them (median run, or
    /// the first run that reported them).
    pub allocator: Option<String>,
    pub allocator_settings: Option<serde_json::Value>,
    /// The worst status of its runs: `ok` only if every run was ok; `skipped` when it could
    /// not run on this machine (`failure` says why and what fixes it).
    pub status: RunStatus,
    /// Why its worst run did not end ok (for `oom`: when, and at what RSS); `null` when ok.
    #[serde(default)]
    pub failure: Option<String>,
    /// The memory limit its runs had (`[limits] memory`), if any.
    #[serde(default)]
    pub memory_limit_bytes: Option<u64>,
    pub runs: usize,
    pub runs_ok: usize,
    /// The ok run whose after-drain RSS is the median (the lower middle for an even count):
    /// the bold line of the timeline and the source of `memory_breakdown`.
    pub median_run_index: Option<u32>,
    /// Medians over the ok runs.
    #[serde(flatten)]
    pub medians: FigureSet,
    /// Coefficient of variation (sample standard deviation / mean) of `rss_after_drain_bytes`
    /// over the ok runs: the run-to-run noise. `null` with fewer than two ok runs.
    pub rss_after_drain_cv: Option<f64>,
    /// The lowest and the highest `rss_after_drain_bytes` of the ok runs: the range beside the
    /// median, which the CV hides when A scatters (an idle allocator that gives back by itself,
    /// at a moment of its own).
    #[serde(default)]
    pub rss_after_drain_min_bytes: Option<u64>,
    #[serde(default)]
    pub rss_after_drain_max_bytes: Option<u64>,
    /// From the median run; for a variant without an ok run, from its run that shows its
    /// status (an `oom` run until it was killed).
    pub memory_breakdown: MemoryBreakdown,
    /// Every byte of RssAnon at B, P and A by the allocator's own figures, from the probe (absent
    /// for records of versions without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explained: Option<ExplainedRun>,
    /// The memory cgroup its servers ran in, or why they had none; absent for records of
    /// versions that made none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerView>,
    /// The price of the variant (`[cost]`): each cost figure's median and spread over its ok
    /// runs, and its ratio to the reference's per round; absent when no run of it has cost data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<VariantCost>,
    /// A request mix: its entries in the median run (absent without a mix).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<EntryRow>,
    pub run_figures: Vec<RunFigures>,
}

impl VariantSummary {
    /// The medians over its ok runs or, for a variant without one, the figures of its run that
    /// shows its status (an `oom` run as far as it went), and whether it is the latter.
    pub fn figures_shown(&self) -> (&FigureSet, bool) {
        match self.run_figures.iter().find(|r| r.status == self.status) {
            Some(r) if self.runs_ok == 0 => (&r.figures, true),
            _ => (&self.medians, false),
        }
    }
}

impl VariantSummary {
    /// A's lowest and highest over the ok runs when they spread widely: apart by more than
    /// half the median and by 4 MiB or more. Then the median run is one draw of several
    /// outcomes (an idle mimalloc gave back by itself at a moment of its own: 21.5, 68.6,
    /// 128.1 and 288.3 MiB in four identical runs), and a budget is read on the worst run.
    pub fn after_drain_spreads_widely(&self) -> Option<(u64, u64)> {
        let (lo, hi) = (
            self.rss_after_drain_min_bytes?,
            self.rss_after_drain_max_bytes?,
        );
        let median = self.medians.rss_after_drain_bytes?;
        let range = hi.saturating_sub(lo);
        (self.runs_ok >= 2 && range >= MIN_GROWTH_FOR_RETENTION && 2 * range > median)
            .then_some((lo, hi))
    }
}

#[cfg(test)]
impl VariantSummary {
    /// For the tests of what renders a summary: `runs` runs of `name`, all ok with these
    /// medians, or, without them, none ok.
    pub(crate) fn for_test(
        name: &str,
        runs: usize,
        medians: Option<crate::figures::Figures>,
    ) -> VariantSummary {
        VariantSummary {
            name: name.into(),
            base_variant: name.into(),
            sweep: None,
            failure: None,
            memory_limit_bytes: None,
            binary: String::new(),
            description: String::new(),
            env: Default::default(),
            args: vec![],
            preload: None,
            allocator: None,
            allocator_settings: None,
            status: if medians.is_some() {
                RunStatus::Ok
            } else {
                RunStatus::Failed
            },
            runs,
            runs_ok: if medians.is_some() { runs } else { 0 },
            median_run_index: None,
            medians: FigureSet {
                figures: medians.unwrap_or_default(),
                ..Default::default()
            },
            rss_after_drain_cv: None,
            rss_after_drain_min_bytes: None,
            rss_after_drain_max_bytes: None,
            memory_breakdown: MemoryBreakdown::default(),
            explained: None,
            container: None,
            cost: None,
            requests: vec![],
            run_figures: vec![],
        }
    }
}

/// `reference`: the runs of the `[cost]` reference variant, whose figures each cost is a ratio
/// to.
pub(super) fn summarize_variant(
    name: &str,
    runs: &[&RunRecord],
    reference: &[&RunRecord],
) -> VariantSummary {
    let mut runs = runs.to_vec();
    runs.sort_by_key(|r| r.header.run_index);
    let sets: Vec<FigureSet> = runs.iter().map(|r| run_figure_set(r)).collect();
    let ok: Vec<usize> = (0..runs.len())
        .filter(|&i| runs[i].status == RunStatus::Ok)
        .collect();
    let ok_sets: Vec<&FigureSet> = ok.iter().map(|&i| &sets[i]).collect();
    let status = runs
        .iter()
        .map(|r| r.reported_status())
        .max()
        .unwrap_or(RunStatus::Failed);

    // The median run: the ok run at the middle of the after-drain order (lower middle).
    let mut by_a: Vec<usize> = ok
        .iter()
        .copied()
        .filter(|&i| sets[i].rss_after_drain_bytes.is_some())
        .collect();
    by_a.sort_by_key(|&i| (sets[i].rss_after_drain_bytes, runs[i].header.run_index));
    let median_run = (!by_a.is_empty()).then(|| by_a[(by_a.len() - 1) / 2]);

    let settings = median_run
        .map(|i| runs[i])
        .into_iter()
        .chain(runs.iter().copied())
        .find_map(|r| r.server_settings.as_ref());
    let a: Vec<f64> = ok_sets
        .iter()
        .filter_map(|s| s.rss_after_drain_bytes)
        .map(|v| v as f64)
        .collect();
    let first = runs[0];
    let worst = runs.iter().copied().find(|r| r.reported_status() == status);
    VariantSummary {
        name: name.to_string(),
        base_variant: first.header.variant.base_name().to_string(),
        sweep: first.header.variant.sweep.as_ref().map(|p| SweepAt {
            name: p.name.clone(),
            field: p.field.clone(),
            value: p.value.clone(),
            label: p.label.clone(),
        }),
        binary: first.header.variant.binary.clone(),
        description: first.header.variant.description.clone(),
        env: first.header.variant.env.clone(),
        args: first.header.variant.args.clone(),
        preload: first.header.variant.preload.clone(),
        allocator: settings
            .and_then(|s| s.get("allocator")?.as_str())
            .map(str::to_string),
        allocator_settings: settings
            .and_then(|s| s.get("allocator_settings"))
            .filter(|v| !v.is_null())
            .cloned(),
        status,
        failure: worst
            .filter(|_| !status.is_ok())
            .and_then(|r| r.failure.clone()),
        memory_limit_bytes: runs.iter().find_map(|r| r.header.memory_limit_bytes),
        // Runs measured: a skipped variant has a record that says so, and no run.
        runs: runs
            .iter()
            .filter(|r| r.status != RunStatus::Skipped)
            .count(),
        runs_ok: ok.len(),
        median_run_index: median_run.map(|i| runs[i].header.run_index),
        medians: medians(&ok_sets),
        rss_after_drain_cv: coefficient_of_variation(&a),
        rss_after_drain_min_bytes: ok_sets.iter().filter_map(|s| s.rss_after_drain_bytes).min(),
        rss_after_drain_max_bytes: ok_sets.iter().filter_map(|s| s.rss_after_drain_bytes).max(),
        // Without an ok run, the run that shows the status, as far as it went: an oom run's
        // peak is what the limit stopped, and who held it is the question.
        memory_breakdown: median_run
            .map(|i| runs[i])
            .or(worst)
            .map(memory_breakdown)
            .unwrap_or_default(),
        explained: median_run
            .map(|i| runs[i])
            .or(worst)
            .and_then(explained_run),
        container: container_view(&runs),
        cost: variant_cost(&runs, reference),
        requests: median_run.map(|i| entry_rows(runs[i])).unwrap_or_default(),
        run_figures: runs
            .iter()
            .zip(sets)
            .map(|(r, figures)| RunFigures {
                run_index: r.header.run_index,
                status: r.reported_status(),
                failure: r.failure.clone(),
                incomplete: is_incomplete(r),
                started_at: r.header.started_at.clone(),
                figures,
                load_errors: r.load.as_ref().map(|l| l.counts.errors),
                load_retries: r.load.as_ref().map(|l| l.counts.retries),
            })
            .collect(),
    }
}

//! The data of `summary.json`: per variant, the medians over its ok runs, the run-to-run spread
//! of the gate figure, what the allocator held next to what the app held, and every run's own
//! figures. Pure: records in, numbers out; every exporter reads this.
//!
//! - `scenario`: the scenario, its load and its target as the records tell them; `sweep`:
//!   the swept field and where each variant sits in it.
//! - `status`: whether a run was rebuilt; `order`: run and variant order;
//!   `phase`: a run's phases and its time zero.
//! - `figures`: one run's figure set; `medians`: their medians over the ok runs and the
//!   run-to-run spread.
//! - `variant`: one variant's summary, from its runs.
//! - `held_vs_live`: the allocator's figures next to the app's, at the peak and after the
//!   drain, from `/stats`; `explained`: every byte of RssAnon at B, P and A by the allocator's
//!   own figures, from the probe; `mappings`: the mapping breakdown (glibc arena heaps) at the same points.
//! - `requests`: a request mix's entries in each variant's median run.
//! - `container`: the memory cgroup each variant's servers ran in, or why none.
//! - `spread`: a median and its min–max; `cost`: the price of each variant (`[cost]`) and its
//!   ratio to the reference per round; `recommend`: which variants meet the memory budget, by
//!   price; `cost_info`: how the cost was measured, with the recommendation.
//! - `shards`: the shards of a comparison fanned out over machines, each with its host.
//! - `warnings`: what a reader must know before trusting the table.

mod container;
mod cost;
mod cost_info;
mod explained;
mod figures;
mod held_vs_live;
mod mappings;
mod medians;
mod order;
mod phase;
pub(crate) mod recommend;
mod recommend_memory;
mod requests;
mod scenario;
mod shards;
mod spread;
mod status;
mod sweep;
mod variant;
mod warnings;
mod worded;

use serde::{Deserialize, Serialize};

use crate::provenance::Environment;
use crate::record::RunRecord;

pub use container::{container_view, ContainerView};
pub use cost::{BelowRate, CostSpreads, RateUse, RunNote, VariantCost, FAULTS_FOR_A_RATIO};
pub use cost_info::CostInfo;
pub use explained::{ExplainedAt, ExplainedRun, ProcessArenas};
pub use figures::{
    run_figure_set, FigureSet, LatencyMs, RunFigures, SeriesPeak, OVERLOAD_UNSENT_SHARE,
};
pub use held_vs_live::{memory_breakdown, HeldVsLive, MemoryBreakdown};
pub use mappings::MappingsAt;
pub use medians::coefficient_of_variation;
pub use order::{in_run_order, run_order, variant_order};
pub use phase::{load_start, phase};
pub use recommend::{
    recommend, AfterNudge, Limited, Note, OverBudget, Priced, Recommendation, Unpriced, Why,
};
pub use scenario::{LoadSettings, ScenarioInfo, TargetInfo};
pub use shards::ShardInfo;
pub use spread::Spread;
pub use status::{is_incomplete, INCOMPLETE_PREFIX};
pub use sweep::{SweepAt, SweepInfo};
pub use variant::VariantSummary;
pub use warnings::{OverloadedRun, RunId, Warning};

/// Version of the `summary.json` layout; bumped when a key changes meaning or goes away.
pub const SUMMARY_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema_version: u32,
    pub scenario: ScenarioInfo,
    /// Where the first run was measured (the gate refuses to compare across environments).
    pub environment: Environment,
    /// The shards the runs were measured in (`compare --shard I/N`), one machine each; absent
    /// when the runs were not sharded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardInfo>,
    /// Variants in the order their first run started.
    pub variants: Vec<VariantSummary>,
    /// The price of each fix (`[cost]`): the reference, the memory budget, how the cost was
    /// measured and the recommendation; absent when no run measured its cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostInfo>,
    /// Things a reader must know before trusting the table: rebuilt runs, runs measured in a
    /// different environment or from a different scenario file.
    pub warnings: Vec<Warning>,
}

impl Summary {
    /// The reference variant's median minor page faults per response (`[cost]`): whether a
    /// ratio to it says anything ([`FAULTS_FOR_A_RATIO`]).
    pub fn reference_faults(&self) -> Option<f64> {
        let reference = &self.cost.as_ref()?.reference;
        let v = self.variants.iter().find(|v| &v.name == reference)?;
        Some(
            v.cost
                .as_ref()?
                .figures
                .minflt_per_response
                .as_ref()?
                .median,
        )
    }
}

#[cfg(test)]
impl Summary {
    /// A summary of these variants and nothing else: what the report's table tests render.
    pub(crate) fn of(variants: Vec<VariantSummary>) -> Summary {
        Summary {
            schema_version: 1,
            scenario: Default::default(),
            environment: Default::default(),
            shards: vec![],
            variants,
            cost: None,
            warnings: vec![],
        }
    }
}

/// The summary of a report directory's records (docs/measurements.md, "Outputs").
pub fn summarize(records: &[RunRecord]) -> Summary {
    let ordered = in_run_order(records);
    let names = variant_order(records);
    let mut cost = cost_info::cost_info(&ordered);
    let runs_of = |n: &str| -> Vec<&RunRecord> {
        ordered
            .iter()
            .copied()
            .filter(|r| r.header.variant.name == n)
            .collect()
    };
    let reference = cost
        .as_ref()
        .map(|c| runs_of(&c.reference))
        .unwrap_or_default();
    let variants: Vec<VariantSummary> = names
        .iter()
        .map(|n| variant::summarize_variant(n, &runs_of(n), &reference))
        .collect();
    if let Some(c) = &mut cost {
        c.recommendation = recommend(&variants, &c.budget).with_peaks(&variants, &c.reference);
    }
    let first = ordered.first().copied();
    Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        scenario: first
            .map(|f| scenario::scenario_info(f, records))
            .unwrap_or_default(),
        environment: first
            .map(|f| f.header.environment.clone())
            .unwrap_or_default(),
        shards: shards::shards(&ordered),
        variants,
        cost,
        warnings: warnings::warnings(&ordered),
    }
}

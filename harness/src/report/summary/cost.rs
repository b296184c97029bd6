//! The price of each fix (`[cost]`) in the summary, per variant: the median and spread of
//! every cost figure over its ok runs and its ratio to the reference variant, paired per
//! round. (For the scenario, how the cost was measured: `cost_info`.)
//!
//! Ratios are taken per round on purpose: run *n* of a variant against run *n* of the
//! reference, measured minutes apart in the same round. The machine drifts between rounds
//! (other work, thermal state); within a round both see much the same machine, so the ratio
//! of a pair cancels most of the drift that the ratio of two medians would keep.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cost::CostFigures;
use crate::record::{RunRecord, RunStatus};

use super::spread::Spread;
use super::worded::worded;

/// Below this many minor faults per response the reference faults next to never, and a ratio
/// to it says nothing: `report.md` and the plot show the figure itself.
pub const FAULTS_FOR_A_RATIO: f64 = 1.0;

/// One [`Spread`] per number of [`CostFigures`] (`null` where no run or round has it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CostSpreads {
    pub capacity_rps: Option<Spread>,
    pub latency_p50_ms: Option<Spread>,
    pub latency_p99_ms: Option<Spread>,
    pub server_cpu_s_per_1000: Option<Spread>,
    pub server_system_s_per_1000: Option<Spread>,
    pub minflt_per_response: Option<Spread>,
    pub capacity_server_cores: Option<Spread>,
    pub capacity_client_cores: Option<Spread>,
}

/// A figure of [`CostFigures`], as [`CostSpreads::build`] reads it.
type Pick = fn(&CostFigures) -> Option<f64>;

impl CostSpreads {
    /// Each figure's spread, from `spread_of(figure)`.
    fn build(spread_of: impl Fn(Pick) -> Option<Spread>) -> CostSpreads {
        CostSpreads {
            capacity_rps: spread_of(|f| f.capacity_rps),
            latency_p50_ms: spread_of(|f| f.latency_p50_ms),
            latency_p99_ms: spread_of(|f| f.latency_p99_ms),
            server_cpu_s_per_1000: spread_of(|f| f.server_cpu_s_per_1000),
            server_system_s_per_1000: spread_of(|f| f.server_system_s_per_1000),
            minflt_per_response: spread_of(|f| f.minflt_per_response),
            capacity_server_cores: spread_of(|f| f.capacity_server_cores),
            capacity_client_cores: spread_of(|f| f.capacity_client_cores),
        }
    }
}

/// A run and what is said of it: the record's own words (`String`), or data worded where it
/// is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunNote<W = String> {
    pub run_index: u32,
    pub why: W,
}

/// A run's capacity below the fixed rate it was then driven at (requests/s).
#[derive(Debug, Clone, PartialEq)]
pub enum BelowRate {
    Rates {
        capacity_rps: f64,
        rate_rps: f64,
    },
    /// Read back from `summary.json`: its words.
    Read(String),
}

worded!(BelowRate);

/// A fixed rate of the latency phase, where it came from, and how many runs used it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateUse {
    pub rate_rps: f64,
    pub basis: Option<String>,
    pub runs: usize,
}

/// One variant's cost (`variants[].cost`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantCost {
    /// The one line that applies the variant to a server of your own.
    pub apply_line: String,
    /// Runs that have a cost record (measured, or stopped and why).
    pub runs: usize,
    /// Median and min–max of each figure over the ok runs that have it.
    #[serde(flatten)]
    pub figures: CostSpreads,
    /// Each figure as a ratio to the reference's, per round (run `n` against its run `n`;
    /// rounds where either lacks the figure or did not end ok are left out): the median and
    /// min–max of those ratios, `n` the rounds.
    pub ratio_to_reference: CostSpreads,
    /// Ok runs whose capacity was the client's or the shared machine's, not the server's, and
    /// why: their `capacity_rps` is a lower bound of the server's.
    pub client_bound_runs: usize,
    pub client_bound: Vec<RunNote>,
    /// The fixed rates of its latency phases.
    pub latency_rates: Vec<RateUse>,
    /// Ok runs whose capacity was below the fixed rate they were then driven at: overloaded
    /// at that rate, their latency is a queue's, not the server's work.
    pub rate_above_capacity: Vec<RunNote<BelowRate>>,
    /// Runs whose cost measurement stopped short, and why (their memory figures stand).
    pub failures: Vec<RunNote>,
}

/// The distinct rates of the runs' latency phases, in the order first used.
pub(super) fn rate_uses<'a>(runs: impl Iterator<Item = &'a RunRecord>) -> Vec<RateUse> {
    let mut out: Vec<RateUse> = Vec::new();
    for c in runs.filter_map(|r| r.cost.as_ref()) {
        let Some(rate) = c.latency_rate else { continue };
        match out
            .iter_mut()
            .find(|u| u.rate_rps == rate && u.basis == c.latency_rate_basis)
        {
            Some(u) => u.runs += 1,
            None => out.push(RateUse {
                rate_rps: rate,
                basis: c.latency_rate_basis.clone(),
                runs: 1,
            }),
        }
    }
    out
}

/// The cost figures of a run that ended ok and measured its cost.
fn ok_figures(r: &RunRecord) -> Option<&CostFigures> {
    (r.status == RunStatus::Ok)
        .then_some(r.cost.as_ref())
        .flatten()
        .map(|c| &c.figures)
}

/// A variant's cost from its runs and the reference's runs; `None` when none of its runs has
/// a cost record.
pub(super) fn variant_cost(runs: &[&RunRecord], reference: &[&RunRecord]) -> Option<VariantCost> {
    let with_cost: Vec<&RunRecord> = runs.iter().copied().filter(|r| r.cost.is_some()).collect();
    let first = with_cost.first()?;
    let ok: Vec<(u32, &CostFigures)> = with_cost
        .iter()
        .filter_map(|r| Some((r.header.run_index, ok_figures(r)?)))
        .collect();
    let reference: BTreeMap<u32, &CostFigures> = reference
        .iter()
        .filter_map(|r| Some((r.header.run_index, ok_figures(r)?)))
        .collect();
    let figures = CostSpreads::build(|pick| {
        Spread::of(&ok.iter().filter_map(|(_, f)| pick(f)).collect::<Vec<_>>())
    });
    let ratio_to_reference = CostSpreads::build(|pick| {
        let ratios: Vec<f64> = ok
            .iter()
            .filter_map(|(i, f)| {
                let (v, r) = (pick(f)?, pick(reference.get(i)?)?);
                (r > 0.0).then(|| v / r)
            })
            .collect();
        Spread::of(&ratios)
    });
    let client_bound: Vec<RunNote> = ok
        .iter()
        .filter_map(|(i, f)| {
            Some(RunNote {
                run_index: *i,
                why: f.client_bound.clone()?,
            })
        })
        .collect();
    let rate_above_capacity = with_cost
        .iter()
        .filter(|r| r.status == RunStatus::Ok)
        .filter_map(|r| {
            let c = r.cost.as_ref()?;
            let (cap, rate) = (c.figures.capacity_rps?, c.latency_rate?);
            (cap < rate).then_some(RunNote {
                run_index: r.header.run_index,
                why: BelowRate::Rates {
                    capacity_rps: cap,
                    rate_rps: rate,
                },
            })
        })
        .collect();
    Some(VariantCost {
        rate_above_capacity,
        apply_line: first.header.variant.apply_line(),
        runs: with_cost.len(),
        figures,
        ratio_to_reference,
        client_bound_runs: client_bound.len(),
        client_bound,
        latency_rates: rate_uses(with_cost.iter().copied()),
        failures: with_cost
            .iter()
            .filter_map(|r| {
                Some(RunNote {
                    run_index: r.header.run_index,
                    why: r.cost.as_ref()?.failure.clone()?,
                })
            })
            .collect(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cost::CostRecord;
    use crate::record::RunHeader;

    /// A run's header with nothing in it but its variant and index: the report's tests' runs.
    pub(crate) fn header(variant: &str, run_index: u32) -> RunHeader {
        RunHeader {
            scenario: "s".into(),
            scenario_path: String::new(),
            scenario_hash: String::new(),
            scenario_description: String::new(),
            variant: crate::scenario::Variant {
                name: variant.into(),
                binary: "target-server-glibc".into(),
                description: String::new(),
                env: Default::default(),
                args: vec![],
                preload: None,
                package: None,
                apply: None,
                sweep: None,
            },
            run_index,
            seed: 1,
            quick: false,
            started_at: String::new(),
            server_command: vec![],
            phases_planned: crate::scenario::PhaseSpec {
                warmup: Default::default(),
                warmup_rate: 0.0,
                before: Default::default(),
                during: Default::default(),
                drain: Default::default(),
                nudge: Default::default(),
                nudge_rate: 0.0,
                release: Default::default(),
                cycles: 1,
            },
            sample_interval_s: 0.1,
            environment: Default::default(),
            memory_limit_bytes: None,
            report: Default::default(),
            target: None,
            stats_polled_in: None,
            server_cgroup: None,
            cost_spec: None,
            shard: None,
        }
    }

    fn run(variant: &str, index: u32, capacity: Option<f64>, p99: Option<f64>) -> RunRecord {
        let mut r = RunRecord::from_header(header(variant, index));
        r.status = RunStatus::Ok;
        let mut c = CostRecord::stopped("x");
        c.failure = None;
        c.latency_rate = Some(300.0);
        c.latency_rate_basis = Some("0.5 x the capacity of glibc #1 (600/s)".into());
        c.figures = CostFigures {
            capacity_rps: capacity,
            latency_p99_ms: p99,
            ..Default::default()
        };
        r.cost = Some(c);
        r
    }

    #[test]
    fn ratios_are_paired_by_round_and_unpaired_rounds_are_skipped() {
        // The machine got twice as fast in round 2: the medians' ratio would be 600/750 = 0.8,
        // the per-round ratios are 0.5 and 0.5.
        let reference = [
            run("glibc", 1, Some(500.0), Some(10.0)),
            run("glibc", 2, Some(1000.0), None),
            run("glibc", 3, None, Some(10.0)),
        ];
        let variant = [
            run("jemalloc", 1, Some(250.0), Some(20.0)),
            run("jemalloc", 2, Some(500.0), Some(40.0)),
            // Round 3: the reference has no capacity; round 4: no reference run at all.
            run("jemalloc", 3, Some(900.0), Some(5.0)),
            run("jemalloc", 4, Some(900.0), Some(5.0)),
        ];
        let refs: Vec<&RunRecord> = reference.iter().collect();
        let vs: Vec<&RunRecord> = variant.iter().collect();
        let c = variant_cost(&vs, &refs).unwrap();
        let cap = c.ratio_to_reference.capacity_rps.unwrap();
        assert_eq!((cap.median, cap.min, cap.max, cap.n), (0.5, 0.5, 0.5, 2));
        // p99: round 1 (2.0) and round 3 (0.5); round 2's reference lacks it.
        let p99 = c.ratio_to_reference.latency_p99_ms.unwrap();
        assert_eq!((p99.min, p99.max, p99.n), (0.5, 2.0, 2));
        // The figures themselves: over all four ok runs.
        let f = c.figures.capacity_rps.unwrap();
        assert_eq!((f.median, f.min, f.max, f.n), (700.0, 250.0, 900.0, 4));
        assert_eq!(c.ratio_to_reference.minflt_per_response, None);
        assert_eq!(c.latency_rates.len(), 1);
        assert_eq!(c.latency_rates[0].runs, 4);
        // Driven at 300/s: the run with a capacity of 250/s was overloaded.
        assert_eq!(c.rate_above_capacity.len(), 1);
        assert_eq!(
            c.rate_above_capacity[0].why,
            BelowRate::Rates {
                capacity_rps: 250.0,
                rate_rps: 300.0
            }
        );
    }

    #[test]
    fn runs_not_ok_are_left_out_and_failures_and_client_bound_runs_are_kept() {
        let reference = [
            run("glibc", 1, Some(500.0), None),
            run("glibc", 2, Some(500.0), None),
        ];
        let mut variant = [
            run("mimalloc", 1, Some(250.0), None),
            run("mimalloc", 2, Some(9999.0), None),
        ];
        variant[0].cost.as_mut().unwrap().figures.client_bound = Some("the client".into());
        variant[1].status = RunStatus::Failed;
        variant[1].cost.as_mut().unwrap().failure = Some("server died".into());
        let refs: Vec<&RunRecord> = reference.iter().collect();
        let vs: Vec<&RunRecord> = variant.iter().collect();
        let c = variant_cost(&vs, &refs).unwrap();
        assert_eq!(c.runs, 2);
        assert_eq!(c.figures.capacity_rps.as_ref().unwrap().n, 1);
        assert_eq!(c.ratio_to_reference.capacity_rps.unwrap().median, 0.5);
        assert_eq!(c.client_bound_runs, 1);
        assert_eq!(c.client_bound[0].run_index, 1);
        assert_eq!(c.failures.len(), 1);
        assert_eq!(c.failures[0].why, "server died");
        // Without any cost record: no cost.
        let plain = RunRecord::from_header(header("x", 1));
        assert_eq!(variant_cost(&[&plain], &refs), None);
    }
}

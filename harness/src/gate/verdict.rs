//! The decisions, pure: after-drain figures of the runs in, a verdict out. No files, no
//! clock; every rule of the gate is here and tested here.
//!
//! ## Against a baseline
//!
//! `change` = candidate median − baseline median of after-drain RSS (A). It is a regression
//! only when it is larger than the **limit**, the largest of:
//!
//! - the tolerance band: `max(rel_tolerance × baseline median, abs_floor)`;
//! - the noise band: `noise_k × SE`, where `SE = 1.2533 × σ × √(1/m + 1/n)` is the standard
//!   error of a difference of two medians of m and n runs (1.2533 = √(π/2): a median's
//!   standard error over a mean's, for normal scatter) and σ is the pooled run-to-run spread.
//!
//! σ per side: with 2 to 10 runs, the range divided by d2(n), the expected range of n normal
//! draws (the R̄/d2 estimator of quality control: with few runs it uses all of them, where the
//! MAD of three values is the smaller of two gaps); with more runs, 1.4826 × MAD, which one
//! stray run does not move. The two sides are pooled weighted by their degrees of freedom
//! (n − 1); a side of one run adds none. With one run on both sides σ is unknown.
//!
//! Doubt is said, not guessed:
//!
//! - `change ≤ 0`: pass (improvements pass).
//! - `change ≤ tolerance band`: pass. The change is not one we were asked to catch. When the
//!   noise band is wider than the tolerance band the gate says so (a change that large could
//!   not have been told from scatter), but that is not evidence of a regression.
//! - `change ≤ noise band` (so the noise band is the wider): inconclusive. The change is larger
//!   than the tolerance, and the runs' own scatter explains it; more runs shrink SE.
//! - one side has a single run (its spread is not measured) and `change ≤ 2 × limit`:
//!   inconclusive; only a change of more than twice the limit is called from a single run.
//! - otherwise: regression.
//!
//! ## Budgets
//!
//! The median over the ok runs against the scenario's `[gate.variants.NAME]`: above
//! `max_retention` or `max_after_drain`, or below `min_retention`, is a regression. Retention
//! is null when the load grew RssAnon by less than 4 MiB: `max_retention` then passes (nothing
//! grew, nothing retained), `min_retention` is inconclusive (the incident did not even start).
//!
//! `max_growth_per_hour`, with a soak: each run's slope of A after the first cycle has a 95%
//! interval. A run whose interval lies wholly above the budget is a regression (growth beyond
//! noise), wholly below a pass; one that straddles it is inconclusive (a longer soak narrows
//! it). The variant takes the decision of more than half of its runs; inconclusive otherwise.

use serde::Serialize;

use crate::figures::soak::Slope;
use crate::scenario::gate::{Limits, Thresholds};

/// √(π/2): the standard error of a median of normal draws over that of their mean.
const MEDIAN_SE_FACTOR: f64 = 1.253_314_137_315_500_3;
/// 1 / Φ⁻¹(3/4): makes the MAD estimate σ for normal scatter.
const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;
/// d2(n): expected range of n standard normal draws, n = 2..=10.
const D2: [f64; 9] = [
    1.128, 1.693, 2.059, 2.326, 2.534, 2.704, 2.847, 2.970, 3.078,
];

/// What the gate says about one check, worst last: the overall verdict is the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Pass,
    Inconclusive,
    Regression,
}

/// Why: each reads as the end of a sentence about the variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The candidate is no worse than the baseline.
    NoWorse,
    /// Worse, but within the tolerance band.
    WithinLimit,
    /// Worse by more than the tolerance band, but within the noise band.
    SpreadTooWide,
    /// A single run on one side and a change between one and two limits.
    SingleRunNearLimit,
    /// Worse by more than every part of the limit.
    BeyondLimit,
}

/// Which part of the limit is the largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Binding {
    /// `rel_tolerance` × the baseline median.
    Relative,
    /// `abs_floor`.
    Floor,
    /// `noise_k` × SE.
    Noise,
}

/// One side's runs, summarised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    pub n: usize,
    pub median: u64,
    pub min: u64,
    pub max: u64,
    /// σ, the run-to-run spread in bytes; `None` with one run.
    pub sigma: Option<f64>,
}

/// The comparison of one variant's after-drain RSS with its baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub decision: Decision,
    pub reason: Reason,
    pub baseline: Side,
    pub candidate: Side,
    /// Candidate median − baseline median, bytes.
    pub change_bytes: i64,
    /// `change_bytes` / baseline median; `None` when the baseline median is 0.
    pub change_rel: Option<f64>,
    /// `max(rel_tolerance × baseline median, abs_floor)`.
    pub tolerance_bytes: u64,
    /// `noise_k × SE`; `None` when neither side has two runs.
    pub noise_bytes: Option<u64>,
    /// `max(tolerance, noise)`: a change must exceed it to be a regression.
    pub limit_bytes: u64,
    pub binding: Binding,
    /// One side has a single run: regressions need more than `2 × limit_bytes`.
    pub single_run: bool,
}

impl Verdict {
    /// The runs scatter more than the tolerance: only a change beyond the noise band can be
    /// called. Worth saying even when the verdict is a pass.
    pub fn low_resolution(&self) -> bool {
        self.noise_bytes.is_some_and(|n| n > self.tolerance_bytes)
    }

    /// The change a regression must exceed: the limit, doubled when one side is a single run.
    pub fn call_threshold_bytes(&self) -> u64 {
        if self.single_run {
            self.limit_bytes.saturating_mul(2)
        } else {
            self.limit_bytes
        }
    }
}

pub use crate::figures::{median_f64, median_u64};

/// σ of one side's runs: range / d2(n) for 2..=10 runs, 1.4826 × MAD above; `None` for one.
pub fn sigma(values: &[u64]) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let (lo, hi) = values
        .iter()
        .fold((u64::MAX, 0), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if n <= 10 {
        return Some((hi - lo) as f64 / D2[n - 2]);
    }
    let m = median_u64(values)? as f64;
    let dev: Vec<f64> = values.iter().map(|&v| (v as f64 - m).abs()).collect();
    Some(MAD_TO_SIGMA * median_f64(&dev)?)
}

/// σ of both sides pooled by degrees of freedom; `None` when neither has two runs.
pub fn pooled_sigma(a: &[u64], b: &[u64]) -> Option<f64> {
    let parts: Vec<(f64, f64)> = [a, b]
        .iter()
        .filter_map(|v| sigma(v).map(|s| ((v.len() - 1) as f64, s)))
        .collect();
    let df: f64 = parts.iter().map(|(d, _)| d).sum();
    (df > 0.0).then(|| (parts.iter().map(|(d, s)| d * s * s).sum::<f64>() / df).sqrt())
}

fn side(values: &[u64]) -> Option<Side> {
    Some(Side {
        n: values.len(),
        median: median_u64(values)?,
        min: *values.iter().min()?,
        max: *values.iter().max()?,
        sigma: sigma(values),
    })
}

/// Compares a variant's after-drain RSS (bytes, one per ok run) with its baseline's. `None`
/// when either side has no runs: there is nothing to compare, which the caller reports.
pub fn verdict(baseline: &[u64], candidate: &[u64], t: &Thresholds) -> Option<Verdict> {
    let b = side(baseline)?;
    let c = side(candidate)?;
    let change = c.median as i128 - b.median as i128;
    let change_bytes = change.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    let rel_band = t.rel_tolerance * b.median as f64;
    let tolerance = rel_band.max(t.abs_floor_bytes as f64);
    let noise = pooled_sigma(baseline, candidate).map(|s| {
        let (m, n) = (b.n as f64, c.n as f64);
        t.noise_k * MEDIAN_SE_FACTOR * s * (1.0 / m + 1.0 / n).sqrt()
    });
    let noise_v = noise.unwrap_or(0.0);
    let limit = tolerance.max(noise_v);
    let binding = if noise_v > tolerance {
        Binding::Noise
    } else if rel_band > t.abs_floor_bytes as f64 {
        Binding::Relative
    } else {
        Binding::Floor
    };
    let single_run = b.n < 2 || c.n < 2;
    let d = change as f64;

    let (decision, reason) = if d <= 0.0 {
        (Decision::Pass, Reason::NoWorse)
    } else if d <= tolerance {
        (Decision::Pass, Reason::WithinLimit)
    } else if d <= noise_v {
        (Decision::Inconclusive, Reason::SpreadTooWide)
    } else if single_run && d <= 2.0 * limit {
        (Decision::Inconclusive, Reason::SingleRunNearLimit)
    } else {
        (Decision::Regression, Reason::BeyondLimit)
    };
    Some(Verdict {
        decision,
        reason,
        change_bytes,
        change_rel: (b.median > 0).then(|| d / b.median as f64),
        tolerance_bytes: tolerance.ceil() as u64,
        noise_bytes: noise.map(|x| x.ceil() as u64),
        limit_bytes: limit.ceil() as u64,
        binding,
        single_run,
        baseline: b,
        candidate: c,
    })
}

/// Which budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetKind {
    MaxRetention,
    MinRetention,
    MaxAfterDrain,
    CycleVerdict,
    MaxGrowthPerHour,
}

impl BudgetKind {
    /// The key as written in the scenario.
    pub fn key(self) -> &'static str {
        match self {
            BudgetKind::MaxRetention => "max_retention",
            BudgetKind::MinRetention => "min_retention",
            BudgetKind::MaxAfterDrain => "max_after_drain",
            BudgetKind::CycleVerdict => "cycle_verdict",
            BudgetKind::MaxGrowthPerHour => "max_growth_per_hour",
        }
    }
}

/// A budget figure: a retention, or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Figure {
    Retention(f64),
    Bytes(u64),
    Verdict(crate::figures::cycles::Verdict),
    /// A budget of growth per hour, in bytes.
    BytesPerHour(f64),
    /// A soak's slope with its 95% interval.
    Slope(Slope),
}

/// One budget checked against one variant's median.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetCheck {
    pub kind: BudgetKind,
    pub limit: Figure,
    /// The median over the ok runs; `None`: not measured.
    pub measured: Option<Figure>,
    pub decision: Decision,
    /// Why, when it is not plain: retention not measured, the runs' cycle verdicts.
    pub note: Option<BudgetNote>,
}

/// Why a budget check is not plain, with its figures (worded in `gate::words`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BudgetNote {
    /// No retention (the load grew RssAnon too little): nothing was retained.
    NothingToRetain,
    /// No retention: the load did not exercise the allocator the budget asks to retain.
    NotExercised,
    /// No run has an after-drain figure.
    NoAfterDrain,
    /// No run has a cycle verdict: the scenario has no cycles.
    NoCycles,
    /// How the runs' cycle verdicts split.
    Cycles { growth: usize, plateau: usize },
    /// No run has a slope: the scenario has no soak, or too few cycles.
    NoSoak,
    /// How the runs' slope intervals lie against the budget.
    Soak {
        above: usize,
        straddle: usize,
        below: usize,
    },
}

/// Checks `max_growth_per_hour` against the runs' slopes: each run's interval against the
/// budget, the variant the decision of more than half of them (the module's rules).
pub fn check_growth(limits: &Limits, slopes: &[Slope]) -> Option<BudgetCheck> {
    let max = limits.max_growth_per_hour_bytes? as f64;
    let of = |s: &Slope| {
        if s.low_bytes_per_hour > max {
            Decision::Regression
        } else if s.high_bytes_per_hour < max {
            Decision::Pass
        } else {
            Decision::Inconclusive
        }
    };
    let count = |d: Decision| slopes.iter().filter(|s| of(s) == d).count();
    let (above, below) = (count(Decision::Regression), count(Decision::Pass));
    let decision = [Decision::Regression, Decision::Pass]
        .into_iter()
        .find(|d| 2 * count(*d) > slopes.len())
        .unwrap_or(Decision::Inconclusive);
    let mut sorted = slopes.to_vec();
    sorted.sort_by(|a, b| a.bytes_per_hour.total_cmp(&b.bytes_per_hour));
    Some(BudgetCheck {
        kind: BudgetKind::MaxGrowthPerHour,
        limit: Figure::BytesPerHour(max),
        measured: sorted
            .get(sorted.len().saturating_sub(1) / 2)
            .copied()
            .map(Figure::Slope),
        decision,
        note: Some(if slopes.is_empty() {
            BudgetNote::NoSoak
        } else {
            BudgetNote::Soak {
                above,
                straddle: slopes.len() - above - below,
                below,
            }
        }),
    })
}

/// Checks the `cycle_verdict` budget against the runs' verdicts: the verdict of more than half
/// of them; inconclusive when they split evenly or none has one (a scenario without cycles).
pub fn check_cycle_verdict(
    limits: &Limits,
    verdicts: &[crate::figures::cycles::Verdict],
) -> Option<BudgetCheck> {
    use crate::figures::cycles::Verdict;
    let want = limits.cycle_verdict?;
    let growth = verdicts.iter().filter(|v| **v == Verdict::Growth).count();
    let plateau = verdicts.len() - growth;
    let majority = match growth.cmp(&plateau) {
        std::cmp::Ordering::Greater => Some(Verdict::Growth),
        std::cmp::Ordering::Less => Some(Verdict::Plateau),
        std::cmp::Ordering::Equal => None,
    };
    Some(BudgetCheck {
        kind: BudgetKind::CycleVerdict,
        limit: Figure::Verdict(want),
        measured: majority.map(Figure::Verdict),
        decision: match majority {
            Some(m) if m == want => Decision::Pass,
            Some(_) => Decision::Regression,
            None => Decision::Inconclusive,
        },
        note: Some(if verdicts.is_empty() {
            BudgetNote::NoCycles
        } else {
            BudgetNote::Cycles { growth, plateau }
        }),
    })
}

/// Checks a variant's budgets against the medians of its ok runs: `after_drain` has one value
/// per ok run, `retention` one per ok run where it is defined.
pub fn check_budgets(limits: &Limits, after_drain: &[u64], retention: &[f64]) -> Vec<BudgetCheck> {
    let mut out = Vec::new();
    let r = median_f64(retention);
    if let Some(max) = limits.max_retention {
        out.push(BudgetCheck {
            kind: BudgetKind::MaxRetention,
            limit: Figure::Retention(max),
            measured: r.map(Figure::Retention),
            decision: match r {
                Some(x) if x > max => Decision::Regression,
                _ => Decision::Pass,
            },
            note: r.is_none().then_some(BudgetNote::NothingToRetain),
        });
    }
    if let Some(min) = limits.min_retention {
        out.push(BudgetCheck {
            kind: BudgetKind::MinRetention,
            limit: Figure::Retention(min),
            measured: r.map(Figure::Retention),
            decision: match r {
                Some(x) if x < min => Decision::Regression,
                Some(_) => Decision::Pass,
                None => Decision::Inconclusive,
            },
            note: r.is_none().then_some(BudgetNote::NotExercised),
        });
    }
    if let Some(max) = limits.max_after_drain_bytes {
        let a = median_u64(after_drain);
        out.push(BudgetCheck {
            kind: BudgetKind::MaxAfterDrain,
            limit: Figure::Bytes(max),
            measured: a.map(Figure::Bytes),
            decision: match a {
                Some(x) if x > max => Decision::Regression,
                Some(_) => Decision::Pass,
                None => Decision::Inconclusive,
            },
            note: a.is_none().then_some(BudgetNote::NoAfterDrain),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn mib(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| (x * MIB as f64) as u64).collect()
    }

    fn t() -> Thresholds {
        Thresholds::default()
    }

    #[test]
    fn medians_follow_the_records_convention() {
        assert_eq!(median_u64(&[30, 10, 20]), Some(20));
        assert_eq!(median_u64(&[10, 21]), Some(15));
        assert_eq!(median_u64(&[]), None);
        assert_eq!(median_u64(&[u64::MAX, u64::MAX]), Some(u64::MAX));
        assert_eq!(median_f64(&[0.2, f64::NAN, 0.4]), Some(0.30000000000000004));
    }

    #[test]
    fn sigma_is_range_over_d2_for_few_runs_and_mad_for_many() {
        assert_eq!(sigma(&[5]), None);
        let s = sigma(&[100, 100 + 1128]).unwrap();
        assert!((s - 1000.0).abs() < 1e-9, "{s}");
        let s = sigma(&[0, 1693, 800]).unwrap();
        assert!((s - 1000.0).abs() < 1e-9, "{s}");
        // Eleven runs, one stray: the MAD ignores it where a range would not.
        let mut v: Vec<u64> = (0..10).map(|i| 1000 + i * 10).collect();
        v.push(1_000_000);
        let s = sigma(&v).unwrap();
        assert!(s < 100.0, "{s}");
    }

    #[test]
    fn pooled_sigma_weights_by_degrees_of_freedom() {
        // Three runs of σ 1000 and one run (no spread of its own): σ stays 1000.
        let a = [0, 1693, 800];
        assert!((pooled_sigma(&a, &[5]).unwrap() - 1000.0).abs() < 1e-9);
        assert_eq!(pooled_sigma(&[1], &[2]), None);
        let p = pooled_sigma(&[0, 1128], &[0, 3 * 1128]).unwrap();
        // σ 1000 and 3000, one degree of freedom each: √((1000² + 3000²) / 2).
        assert!((p - 5.0e6_f64.sqrt()).abs() < 1e-6, "{p}");
    }

    #[test]
    fn unchanged_runs_within_their_noise_pass() {
        let v = verdict(
            &mib(&[240.0, 244.0, 238.0]),
            &mib(&[243.0, 239.0, 245.0]),
            &t(),
        )
        .unwrap();
        assert_eq!(
            (v.decision, v.reason),
            (Decision::Pass, Reason::WithinLimit)
        );
        assert_eq!(v.binding, Binding::Relative);
        assert!(!v.single_run);
        assert!(v.noise_bytes.unwrap() < v.tolerance_bytes);
    }

    #[test]
    fn improvements_pass_whatever_the_spread() {
        let v = verdict(
            &mib(&[300.0, 100.0, 200.0]),
            &mib(&[10.0, 250.0, 150.0]),
            &t(),
        )
        .unwrap();
        assert_eq!((v.decision, v.reason), (Decision::Pass, Reason::NoWorse));
        assert!(v.change_bytes < 0);
    }

    #[test]
    fn a_doubling_beyond_every_band_is_a_regression() {
        let v = verdict(
            &mib(&[240.0, 244.0, 238.0]),
            &mib(&[480.0, 490.0, 475.0]),
            &t(),
        )
        .unwrap();
        assert_eq!(
            (v.decision, v.reason),
            (Decision::Regression, Reason::BeyondLimit)
        );
        assert!((v.change_rel.unwrap() - 1.0).abs() < 0.05);
    }

    #[test]
    fn small_variants_are_held_to_the_floor_not_the_percentage() {
        // +5 MiB on 12 MiB is +42%, but under the 8 MiB floor: RSS moves in such steps.
        let v = verdict(&mib(&[12.0, 12.5, 11.8]), &mib(&[17.0, 17.2, 16.9]), &t()).unwrap();
        assert_eq!((v.decision, v.binding), (Decision::Pass, Binding::Floor));
        let v = verdict(&mib(&[12.0, 12.5, 11.8]), &mib(&[30.0, 30.5, 29.8]), &t()).unwrap();
        assert_eq!(v.decision, Decision::Regression);
    }

    #[test]
    fn a_spread_wider_than_the_tolerance_is_inconclusive_not_a_guess() {
        // Runs scatter over 150 MiB; a +30 MiB change (above the 10% band) cannot be told.
        let v = verdict(
            &mib(&[200.0, 350.0, 260.0]),
            &mib(&[290.0, 180.0, 330.0]),
            &t(),
        )
        .unwrap();
        assert_eq!(
            (v.decision, v.reason),
            (Decision::Inconclusive, Reason::SpreadTooWide)
        );
        assert_eq!(v.binding, Binding::Noise);
        assert!(v.low_resolution());
        // A change inside the tolerance passes: it is not one the gate was asked to catch,
        // though the gate says how coarse it was.
        let v = verdict(
            &mib(&[200.0, 350.0, 260.0]),
            &mib(&[262.0, 180.0, 340.0]),
            &t(),
        )
        .unwrap();
        assert_eq!(
            (v.decision, v.reason),
            (Decision::Pass, Reason::WithinLimit)
        );
        assert!(v.low_resolution());
        // A change beyond the noise band is still called.
        let v = verdict(
            &mib(&[200.0, 350.0, 260.0]),
            &mib(&[900.0, 950.0, 1000.0]),
            &t(),
        )
        .unwrap();
        assert_eq!(v.decision, Decision::Regression);
    }

    /// glibc's after-drain RSS in two quick comparisons (3 runs each) of the same tree on the
    /// 2-core development machine: it sticks at ~190 or ~255 MiB, run by run.
    #[test]
    fn measured_glibc_scatter_on_an_unchanged_tree_is_no_regression() {
        let base = mib(&[255.2, 208.3, 192.7]);
        let cand = mib(&[183.2, 254.9, 255.0]);
        let v = verdict(&base, &cand, &t()).unwrap();
        assert_eq!(
            (v.decision, v.reason),
            (Decision::Inconclusive, Reason::SpreadTooWide)
        );
        // With the tolerance the scenario can give such a variant, it passes; a doubling
        // still fails.
        let loose = Thresholds {
            rel_tolerance: 0.5,
            ..t()
        };
        assert_eq!(
            verdict(&base, &cand, &loose).unwrap().decision,
            Decision::Pass
        );
        let doubled: Vec<u64> = cand.iter().map(|x| x * 2).collect();
        assert_eq!(
            verdict(&base, &doubled, &loose).unwrap().decision,
            Decision::Regression
        );
    }

    #[test]
    fn more_runs_shrink_the_noise_band() {
        let few = verdict(
            &mib(&[100.0, 110.0, 105.0]),
            &mib(&[100.0, 110.0, 105.0]),
            &t(),
        )
        .unwrap();
        let b: Vec<f64> = (0..10).map(|i| 100.0 + (i % 3) as f64 * 5.0).collect();
        let many = verdict(&mib(&b), &mib(&b), &t()).unwrap();
        assert!(many.noise_bytes.unwrap() < few.noise_bytes.unwrap());
    }

    #[test]
    fn single_runs_are_called_only_far_beyond_the_limit() {
        let t = t();
        // 200 MiB: limit 20 MiB. +25 MiB from one run each: near the limit, inconclusive.
        let v = verdict(&mib(&[200.0]), &mib(&[225.0]), &t).unwrap();
        assert_eq!(
            (v.decision, v.reason),
            (Decision::Inconclusive, Reason::SingleRunNearLimit)
        );
        assert!(v.single_run && v.noise_bytes.is_none());
        // +15 MiB: within the tolerance band.
        assert_eq!(
            verdict(&mib(&[200.0]), &mib(&[215.0]), &t)
                .unwrap()
                .decision,
            Decision::Pass
        );
        // Doubled: called.
        assert_eq!(
            verdict(&mib(&[200.0]), &mib(&[400.0]), &t)
                .unwrap()
                .decision,
            Decision::Regression
        );
        // Three baseline runs measure the spread; a single candidate run still needs 2x.
        let v = verdict(&mib(&[200.0, 201.0, 199.0]), &mib(&[225.0]), &t).unwrap();
        assert_eq!(v.decision, Decision::Inconclusive);
        assert_eq!(v.call_threshold_bytes(), 2 * v.limit_bytes);
    }

    #[test]
    fn thresholds_are_all_required() {
        let loose = Thresholds {
            rel_tolerance: 0.5,
            ..t()
        };
        let v = verdict(
            &mib(&[200.0, 201.0, 199.0]),
            &mib(&[290.0, 291.0, 289.0]),
            &loose,
        )
        .unwrap();
        assert_eq!(v.decision, Decision::Pass, "+45% under a 50% tolerance");
        let floor = Thresholds {
            abs_floor_bytes: 100 * MIB,
            ..t()
        };
        let v = verdict(
            &mib(&[200.0, 201.0, 199.0]),
            &mib(&[290.0, 291.0, 289.0]),
            &floor,
        )
        .unwrap();
        assert_eq!((v.decision, v.binding), (Decision::Pass, Binding::Floor));
        let no_noise = Thresholds {
            noise_k: 0.0,
            ..t()
        };
        let v = verdict(
            &mib(&[200.0, 350.0, 260.0]),
            &mib(&[400.0, 380.0, 420.0]),
            &no_noise,
        )
        .unwrap();
        assert_eq!(v.decision, Decision::Regression);
    }

    #[test]
    fn empty_sides_have_no_verdict() {
        assert!(verdict(&[], &[1], &t()).is_none());
        assert!(verdict(&[1], &[], &t()).is_none());
    }

    #[test]
    fn growth_per_hour_fails_above_passes_below_and_doubts_across_the_interval() {
        let limits = Limits {
            max_growth_per_hour_bytes: Some(5 * MIB),
            ..Limits::default()
        };
        let m = MIB as f64;
        let slope = |lo: f64, hi: f64| Slope {
            cycles: 6,
            bytes_per_hour: (lo + hi) / 2.0 * m,
            low_bytes_per_hour: lo * m,
            high_bytes_per_hour: hi * m,
        };
        let check = |s: &[Slope]| check_growth(&limits, s).unwrap();
        let leak = check(&[slope(6.0, 20.0)]);
        assert_eq!(leak.decision, Decision::Regression);
        assert_eq!(leak.measured, Some(Figure::Slope(slope(6.0, 20.0))));
        assert_eq!(check(&[slope(-3.0, 4.0)]).decision, Decision::Pass);
        let across = check(&[slope(1.0, 9.0)]);
        assert_eq!(across.decision, Decision::Inconclusive);
        assert_eq!(
            across.note,
            Some(BudgetNote::Soak {
                above: 0,
                straddle: 1,
                below: 0
            })
        );
        // Two runs above of three: the majority; one of each and one across: no majority.
        let runs = [slope(6.0, 8.0), slope(1.0, 2.0), slope(7.0, 9.0)];
        assert_eq!(check(&runs).decision, Decision::Regression);
        let split = [slope(6.0, 8.0), slope(1.0, 2.0), slope(1.0, 9.0)];
        assert_eq!(check(&split).decision, Decision::Inconclusive);
        assert_eq!(check(&[]).note, Some(BudgetNote::NoSoak));
        assert_eq!(check(&[]).decision, Decision::Inconclusive);
        assert!(check_growth(&Limits::default(), &runs).is_none());
    }

    #[test]
    fn the_cycle_verdict_budget_takes_the_majority_of_the_runs() {
        use crate::figures::cycles::Verdict::{Growth, Plateau};
        let limits = Limits {
            cycle_verdict: Some(Plateau),
            ..Default::default()
        };
        let check =
            |v: &[crate::figures::cycles::Verdict]| check_cycle_verdict(&limits, v).unwrap();
        assert_eq!(check(&[Plateau, Growth, Plateau]).decision, Decision::Pass);
        let bad = check(&[Growth, Growth, Plateau]);
        assert_eq!(bad.decision, Decision::Regression);
        assert_eq!(
            bad.note,
            Some(BudgetNote::Cycles {
                growth: 2,
                plateau: 1
            })
        );
        assert_eq!(check(&[Growth, Plateau]).decision, Decision::Inconclusive);
        assert_eq!(check(&[]).decision, Decision::Inconclusive);
        assert!(check_cycle_verdict(&Limits::default(), &[Growth]).is_none());
    }

    #[test]
    fn budgets_check_the_median() {
        let limits = Limits {
            max_retention: Some(0.2),
            min_retention: Some(0.05),
            max_after_drain_bytes: Some(64 * MIB),
            cycle_verdict: None,
            max_growth_per_hour_bytes: None,
        };
        let ok = check_budgets(&limits, &mib(&[30.0, 90.0, 40.0]), &[0.1, 0.9, 0.15]);
        assert!(ok.iter().all(|c| c.decision == Decision::Pass), "{ok:?}");
        let bad = check_budgets(&limits, &mib(&[70.0, 80.0, 40.0]), &[0.3, 0.9, 0.15]);
        let by = |k| bad.iter().find(|c| c.kind == k).unwrap().decision;
        assert_eq!(by(BudgetKind::MaxRetention), Decision::Regression);
        assert_eq!(by(BudgetKind::MaxAfterDrain), Decision::Regression);
        assert_eq!(by(BudgetKind::MinRetention), Decision::Pass);
        let gone = check_budgets(&limits, &mib(&[10.0]), &[0.01]);
        assert_eq!(
            gone.iter()
                .find(|c| c.kind == BudgetKind::MinRetention)
                .unwrap()
                .decision,
            Decision::Regression
        );
    }

    #[test]
    fn budgets_without_growth() {
        let limits = Limits {
            max_retention: Some(0.2),
            min_retention: Some(0.5),
            max_after_drain_bytes: None,
            cycle_verdict: None,
            max_growth_per_hour_bytes: None,
        };
        let c = check_budgets(&limits, &mib(&[10.0]), &[]);
        assert_eq!(c[0].decision, Decision::Pass);
        assert_eq!(c[1].decision, Decision::Inconclusive);
        assert_eq!(c[0].note, Some(BudgetNote::NothingToRetain));
        assert_eq!(c[1].note, Some(BudgetNote::NotExercised));
    }
}

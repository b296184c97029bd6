//! Leak or retention? With `[phases] cycles = N` a run repeats `during` + `drain` N times. An
//! allocator that retains what a burst needed keeps about the same peak and the same
//! after-drain memory from cycle to cycle: the memory is reused. A leak (or a ratchet, such as
//! per-thread arenas that keep their worst burst) grows with every cycle.
//!
//! The rule, per cycle k against the first: *plateau* when for every k
//! P_k ≤ 1.1·P_1 and A_k − A_1 ≤ 0.1·(P_1 − B); *growth* otherwise. A tenth of the first
//! cycle's growth is the allowance for A because RSS moves in page- and arena-sized steps from
//! run to run; a tenth more peak, because a peak depends on how requests happened to overlap.

use serde::{Deserialize, Serialize};

use super::{last_second_of, max_of, median_u64, PhaseMark};
use crate::sample::Sample;

/// P_k may be at most this times P_1.
pub const PEAK_RATIO_LIMIT: f64 = 1.1;
/// A_k − A_1 may be at most this times (P_1 − B).
pub const AFTER_DRAIN_ALLOWANCE: f64 = 0.1;

/// One cycle's figures: the highest RssAnon of its `during`, the median over the last second
/// of its `drain`, and when that drain ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Cycle {
    pub peak_bytes: Option<u64>,
    pub after_drain_bytes: Option<u64>,
    /// Seconds from the run's start to the end of this cycle's drain, the time a soak's slope
    /// is taken against; absent for a drain cut short (an interrupted run's last), whose A is
    /// not a drain's end, and in records written before soaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_s: Option<f64>,
}

/// A drain at least this share of the run's longest counts as complete: every drain is
/// planned the same length, and one cut short by an interrupt is far shorter.
const COMPLETE_DRAIN: f64 = 0.9;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The allocator retains; nothing grows from cycle to cycle.
    Plateau,
    /// Memory grows with every cycle: a leak, or a ratchet.
    Growth,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Plateau => "plateau",
            Verdict::Growth => "growth",
        }
    }
}

/// The verdict and the figures that decided it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleVerdict {
    pub verdict: Verdict,
    /// max over k of P_k / P_1.
    pub peak_ratio: f64,
    /// max over k of A_k − A_1, in bytes (negative: it only shrank).
    pub after_drain_growth_bytes: i64,
    /// 0.1·(P_1 − B): how much A may grow before it is growth.
    pub allowance_bytes: u64,
    /// In words: the cycle and the test that decided it.
    pub decided_by: String,
}

/// The cycles of a run: its k-th `during` paired with its k-th `drain`. Empty for a run of one
/// cycle (there is nothing to compare).
pub fn of_run(samples: &[Sample], marks: &[PhaseMark]) -> Vec<Cycle> {
    let rss = |s: &Sample| s.rss_anon;
    let during = marks.iter().filter(|m| m.name == "during");
    let drain = marks.iter().filter(|m| m.name == "drain");
    let longest = drain.clone().map(|r| r.end - r.start).fold(0.0, f64::max);
    let cycles: Vec<Cycle> = during
        .zip(drain)
        .map(|(d, r)| Cycle {
            peak_bytes: max_of(samples, d, rss),
            after_drain_bytes: last_second_of(samples, r, rss),
            end_s: (r.end - r.start >= COMPLETE_DRAIN * longest).then_some(r.end),
        })
        .collect();
    if cycles.len() < 2 {
        return Vec::new();
    }
    cycles
}

/// The median of each cycle's figures over several runs (cycle k over the runs that have it).
pub fn medians(runs: &[&[Cycle]]) -> Vec<Cycle> {
    let n = runs.iter().map(|c| c.len()).max().unwrap_or(0);
    (0..n)
        .map(|k| {
            let of = |f: fn(&Cycle) -> Option<u64>| {
                median_u64(
                    &runs
                        .iter()
                        .filter_map(|c| c.get(k).and_then(f))
                        .collect::<Vec<_>>(),
                )
            };
            let ends: Vec<f64> = runs
                .iter()
                .filter_map(|c| c.get(k).and_then(|c| c.end_s))
                .collect();
            Cycle {
                peak_bytes: of(|c| c.peak_bytes),
                after_drain_bytes: of(|c| c.after_drain_bytes),
                end_s: super::median_f64(&ends),
            }
        })
        .collect()
}

fn mib(b: f64) -> String {
    format!("{:.1} MiB", b / 1048576.0)
}

/// The verdict over `cycles` (none with fewer than two, or without B and the first cycle's
/// figures).
pub fn verdict(before: Option<u64>, cycles: &[Cycle]) -> Option<CycleVerdict> {
    let first = cycles.first()?;
    if cycles.len() < 2 {
        return None;
    }
    let (b, p1, a1) = (before?, first.peak_bytes?, first.after_drain_bytes?);
    let allowance = (AFTER_DRAIN_ALLOWANCE * p1.saturating_sub(b) as f64) as u64;
    let mut peak_ratio: f64 = 1.0;
    let mut growth: i64 = i64::MIN;
    let mut failed: Option<String> = None;
    for (i, c) in cycles.iter().enumerate().skip(1) {
        let k = i + 1;
        let (Some(pk), Some(ak)) = (c.peak_bytes, c.after_drain_bytes) else {
            continue;
        };
        let ratio = pk as f64 / p1.max(1) as f64;
        let grew = ak as i64 - a1 as i64;
        peak_ratio = peak_ratio.max(ratio);
        growth = growth.max(grew);
        if failed.is_none() {
            if ratio > PEAK_RATIO_LIMIT {
                failed = Some(format!(
                    "cycle {k}: P_{k} {} is {ratio:.2}·P_1 ({}), above {PEAK_RATIO_LIMIT}·P_1",
                    mib(pk as f64),
                    mib(p1 as f64)
                ));
            } else if grew > allowance as i64 {
                failed = Some(format!(
                    "cycle {k}: A_{k} − A_1 = +{} is above 0.1·(P_1 − B) = {}",
                    mib(grew as f64),
                    mib(allowance as f64)
                ));
            }
        }
    }
    if growth == i64::MIN {
        return None;
    }
    let (verdict, decided_by) = match failed {
        Some(why) => (Verdict::Growth, why),
        None => (
            Verdict::Plateau,
            format!(
                "every cycle: P_k at most {peak_ratio:.2}·P_1 (≤ {PEAK_RATIO_LIMIT}), A_k − A_1 at most {} (≤ 0.1·(P_1 − B) = {})",
                mib(growth as f64),
                mib(allowance as f64)
            ),
        ),
    };
    Some(CycleVerdict {
        verdict,
        peak_ratio,
        after_drain_growth_bytes: growth,
        allowance_bytes: allowance,
        decided_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn cycle(p: u64, a: u64) -> Cycle {
        Cycle {
            peak_bytes: Some(p * MIB),
            after_drain_bytes: Some(a * MIB),
            end_s: None,
        }
    }

    #[test]
    fn retention_that_reuses_its_memory_is_a_plateau() {
        // B 10, P_1 110: A may grow by 10 MiB; the peak by a tenth.
        let v = verdict(
            Some(10 * MIB),
            &[cycle(110, 90), cycle(115, 95), cycle(112, 99)],
        )
        .unwrap();
        assert_eq!(v.verdict, Verdict::Plateau, "{v:?}");
        assert_eq!(v.allowance_bytes, 10 * MIB);
        assert_eq!(v.after_drain_growth_bytes, 9 * MIB as i64);
        assert!((v.peak_ratio - 115.0 / 110.0).abs() < 1e-9);
    }

    #[test]
    fn after_drain_memory_that_climbs_is_growth() {
        let v = verdict(
            Some(10 * MIB),
            &[cycle(110, 90), cycle(112, 95), cycle(118, 120)],
        )
        .unwrap();
        assert_eq!(v.verdict, Verdict::Growth);
        assert_eq!(
            v.decided_by,
            "cycle 3: A_3 − A_1 = +30.0 MiB is above 0.1·(P_1 − B) = 10.0 MiB"
        );
    }

    #[test]
    fn a_peak_that_climbs_is_growth() {
        let v = verdict(Some(10 * MIB), &[cycle(110, 20), cycle(130, 20)]).unwrap();
        assert_eq!(v.verdict, Verdict::Growth);
        assert!(
            v.decided_by
                .starts_with("cycle 2: P_2 130.0 MiB is 1.18·P_1"),
            "{}",
            v.decided_by
        );
    }

    #[test]
    fn one_cycle_has_no_verdict() {
        assert_eq!(verdict(Some(MIB), &[cycle(110, 90)]), None);
        assert_eq!(of_run(&[], &[]), Vec::new());
    }

    #[test]
    fn cycles_pair_each_load_with_the_drain_after_it() {
        let mark = |name: &str, start: f64, end: f64| PhaseMark {
            name: name.into(),
            start,
            end,
        };
        // RssAnon in MiB = 10 + t during the k-th load; flat after.
        let samples: Vec<Sample> = (0..=80)
            .map(|i| {
                let t = i as f64 / 10.0;
                let rss = match t {
                    t if t < 2.0 => 20,
                    t if t < 4.0 => 50,
                    t if t < 6.0 => 60,
                    _ => 80,
                };
                Sample {
                    t,
                    rss_anon: rss * MIB,
                    ..Default::default()
                }
            })
            .collect();
        let marks = [
            mark("during", 0.0, 1.9),
            mark("drain", 2.0, 3.9),
            mark("during", 4.0, 5.9),
            mark("drain", 6.0, 8.0),
        ];
        let ended = |c: Cycle, end: f64| Cycle {
            end_s: Some(end),
            ..c
        };
        assert_eq!(
            of_run(&samples, &marks),
            [ended(cycle(20, 50), 3.9), ended(cycle(60, 80), 8.0)]
        );
        // A drain cut short (an interrupt) has no end to take a slope against.
        let mut cut = marks.clone();
        cut[3].end = 6.5;
        assert_eq!(of_run(&samples, &cut)[1].end_s, None);
        let m = medians(&[&[cycle(20, 50), cycle(60, 80)], &[cycle(30, 40)]]);
        assert_eq!(m, [cycle(25, 45), cycle(60, 80)]);
    }
}

//! The recommendation (`cost.recommendation`): which variants meet the scenario's memory
//! budget, ordered by price, and which do not and why. Pure: the variants' summaries and the
//! budget in, the data `report.md` renders out.
//!
//! A variant meets the budget when every stated limit holds on its medians over the ok runs:
//! `max_retention` on the median retention, `max_after_drain_bytes` on the median after-drain
//! RssAnon. Price is the capacity as a ratio to the reference's (highest first), the p99 at
//! the fixed rate as a ratio the tie-break. Whether the spread separates two variants is for
//! the reader to be told, not decided here by the order alone: [`Priced::not_separated_from`].

use serde::{Deserialize, Serialize};

use crate::figures::MIN_GROWTH_FOR_RETENTION;
use crate::scenario::MemoryBudget;

use super::cost::{BelowRate, RunNote};
use super::figures::FigureSet;
use super::spread::Spread;
use super::variant::VariantSummary;
use super::worded::worded;
use crate::record::RunStatus;

/// Which variants meet the budget, by price, and which do not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Whether the scenario states a memory budget; without one every variant is listed by
    /// price, as if within it.
    pub budget_stated: bool,
    /// The variants that meet the budget, cheapest first (highest capacity ratio; the lower
    /// p99 ratio on a tie; variants without a price last).
    pub within_budget: Vec<Priced>,
    /// The variants that do not, in the summary's order, each with why.
    pub over_budget: Vec<OverBudget>,
    /// The first of `within_budget` that has a price.
    pub cheapest: Option<String>,
}

/// A variant within the budget and its price, every ratio to the reference per round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Priced {
    pub name: String,
    /// The line that applies it (`null` when the variant has no cost record).
    pub apply_line: Option<String>,
    pub capacity_ratio: Option<Spread>,
    /// At the fixed rate.
    pub p99_ratio: Option<Spread>,
    pub server_cpu_ratio: Option<Spread>,
    /// Minor page faults per response at the fixed rate (absolute: the reference's is often
    /// near zero, which makes a ratio meaningless).
    pub minflt_per_response: Option<Spread>,
    /// Other variants within the budget whose capacity-ratio spread overlaps this one's: the
    /// spread does not separate them (only for ratios over two rounds or more).
    pub not_separated_from: Vec<String>,
    /// Why its capacity was the client's in some run: then it is a lower bound.
    pub client_bound: Vec<String>,
    /// Runs whose capacity was below the fixed rate: their latency is that of an overloaded
    /// server's queue. In `summary.json` each as its words, `run 2: capacity …`.
    #[serde(with = "super::worded::run_notes")]
    pub rate_above_capacity: Vec<RunNote<BelowRate>>,
    /// What the budget check noticed: a median within the limit with runs beyond it, a
    /// retention not defined for lack of growth.
    pub notes: Vec<Note>,
    /// RssAnon after the nudge, when it differs a lot from after the drain.
    pub after_nudge: Option<AfterNudge>,
    /// Why it has no price: no cost measurement, or none that ended with a capacity.
    pub unpriced: Option<Unpriced>,
    /// Its P (median) as a ratio to the reference's: what it costs at the peak.
    #[serde(default)]
    pub peak_ratio: Option<f64>,
    /// Whether its P is the highest of all the variants'.
    #[serde(default)]
    pub highest_peak: bool,
}

/// A variant over the budget, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverBudget {
    pub name: String,
    /// Each limit it breaks.
    pub why: Vec<Why>,
    /// RssAnon after the nudge, when it differs a lot from after the drain (a variant that
    /// gives memory back only when called again).
    pub after_nudge: Option<AfterNudge>,
    pub capacity_ratio: Option<Spread>,
}

/// A limit of the budget a variant breaks, with its figures. `summary.json` and `report.md`
/// show it in words (`report::words`).
#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    /// A budget is stated and no run of the variant ended ok: its worst status.
    NoOkRun {
        status: RunStatus,
    },
    /// The median retention over the limit; `runs`: their spread, over two runs or more.
    RetentionOverBudget {
        retention: f64,
        budget: f64,
        runs: Option<Spread>,
    },
    NoRetention,
    /// The median after-drain RssAnon over the limit; `runs`: their spread (bytes), over two
    /// runs or more.
    AfterDrainOverBudget {
        after_drain: u64,
        budget: u64,
        runs: Option<Spread>,
    },
    NoAfterDrain,
    /// A spread widely between runs, and its worst run breaks the limit (which the median may
    /// not): `run_index` and its figure; `runs`: the spread of that figure.
    WorstRunOverBudget {
        figure: Limited,
        run_index: u32,
        value: f64,
        budget: f64,
        runs: Option<Spread>,
    },
    /// Read back from `summary.json`: its words.
    Read(String),
}

/// What the budget check noticed of a variant within the budget.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// The median is within the limit, these runs (index, figure) of `runs` were not.
    RunsBeyond {
        figure: Limited,
        beyond: Vec<(u32, f64)>,
        runs: usize,
    },
    /// Retention is not defined: RssAnon grew less than `min_growth` bytes under load.
    RetentionUndefined { min_growth: u64 },
    /// A spread widely between its runs (lowest, highest, median; bytes): a budget was read on
    /// its worst run, and its median is one draw of several outcomes.
    WideSpread { min: u64, max: u64, median: u64 },
    /// Read back from `summary.json`: its words.
    Read(String),
}

/// A figure the budget limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Retention,
    /// After-drain RssAnon, bytes.
    AfterDrain,
}

/// RssAnon after the nudge next to after the drain, when they differ a lot; the retention
/// after the nudge where it is defined.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterNudge {
    Differs {
        after_nudge: u64,
        retention: Option<f64>,
        after_drain: u64,
    },
    /// Read back from `summary.json`: its words.
    Read(String),
}

/// Why a variant within the budget has no price.
#[derive(Debug, Clone, PartialEq)]
pub enum Unpriced {
    NoCostMeasurement,
    /// Its cost measurement stopped short: the first failure's words, as recorded.
    StoppedShort(String),
    /// No round where it and the reference both have a capacity.
    NoCommonRound,
    /// Read back from `summary.json`: its words.
    Read(String),
}

worded!(Why, Note, AfterNudge, Unpriced);

/// The recommendation for `variants` under `budget`.
pub fn recommend(variants: &[VariantSummary], budget: &MemoryBudget) -> Recommendation {
    let budget_stated = budget.max_retention.is_some() || budget.max_after_drain_bytes.is_some();
    let mut within: Vec<Priced> = Vec::new();
    let mut over: Vec<OverBudget> = Vec::new();
    for v in variants {
        let check = check_budget(v, budget);
        let cost = v.cost.as_ref();
        let ratio = cost.and_then(|c| c.ratio_to_reference.capacity_rps.clone());
        if !check.why.is_empty() {
            over.push(OverBudget {
                name: v.name.clone(),
                why: check.why,
                after_nudge: check.after_nudge,
                capacity_ratio: ratio,
            });
            continue;
        }
        within.push(Priced {
            name: v.name.clone(),
            apply_line: cost.map(|c| c.apply_line.clone()),
            unpriced: match (cost, &ratio) {
                (_, Some(_)) => None,
                (None, _) => Some(Unpriced::NoCostMeasurement),
                (Some(c), None) => Some(match c.failures.first() {
                    Some(f) => Unpriced::StoppedShort(f.why.clone()),
                    None => Unpriced::NoCommonRound,
                }),
            },
            capacity_ratio: ratio,
            p99_ratio: cost.and_then(|c| c.ratio_to_reference.latency_p99_ms.clone()),
            server_cpu_ratio: cost.and_then(|c| c.ratio_to_reference.server_cpu_s_per_1000.clone()),
            minflt_per_response: cost.and_then(|c| c.figures.minflt_per_response.clone()),
            not_separated_from: Vec::new(),
            client_bound: cost
                .map(|c| c.client_bound.iter().map(|n| n.why.clone()).collect())
                .unwrap_or_default(),
            rate_above_capacity: cost
                .map(|c| c.rate_above_capacity.clone())
                .unwrap_or_default(),
            notes: check.notes,
            after_nudge: check.after_nudge,
            peak_ratio: None,
            highest_peak: false,
        });
    }
    // Highest capacity ratio first; a missing one last; the lower p99 ratio on a tie. Stable:
    // the summary's order among equals.
    let key = |s: &Option<Spread>| s.as_ref().map(|s| s.median);
    within.sort_by(|a, b| {
        let highest = |x: &f64, y: &f64| y.total_cmp(x);
        present_first(key(&a.capacity_ratio), key(&b.capacity_ratio), highest)
            .then_with(|| present_first(key(&a.p99_ratio), key(&b.p99_ratio), f64::total_cmp))
    });
    let spreads: Vec<(String, Option<Spread>)> = within
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.capacity_ratio.clone().filter(|s| s.n >= 2),
            )
        })
        .collect();
    for p in &mut within {
        let Some(mine) = p.capacity_ratio.clone().filter(|s| s.n >= 2) else {
            continue;
        };
        p.not_separated_from = spreads
            .iter()
            .filter(|(n, s)| *n != p.name && s.as_ref().is_some_and(|s| s.overlaps(&mine)))
            .map(|(n, _)| n.clone())
            .collect();
    }
    Recommendation {
        budget_stated,
        cheapest: within
            .iter()
            .find(|p| p.capacity_ratio.is_some())
            .map(|p| p.name.clone()),
        within_budget: within,
        over_budget: over,
    }
}

/// Two figures in the order `order` gives them; a figure before a missing one.
fn present_first(
    a: Option<f64>,
    b: Option<f64>,
    order: fn(&f64, &f64) -> std::cmp::Ordering,
) -> std::cmp::Ordering {
    match (a, b) {
        (Some(x), Some(y)) => order(&x, &y),
        _ => a.is_none().cmp(&b.is_none()),
    }
}

/// What checking one variant against the budget found.
struct Check {
    why: Vec<Why>,
    notes: Vec<Note>,
    after_nudge: Option<AfterNudge>,
}

fn check_budget(v: &VariantSummary, budget: &MemoryBudget) -> Check {
    let mut c = Check {
        why: Vec::new(),
        notes: Vec::new(),
        after_nudge: None,
    };
    let m = &v.medians;
    let ok_runs: Vec<_> = v
        .run_figures
        .iter()
        .filter(|r| r.status.is_ok())
        .map(|r| (r.run_index, &r.figures))
        .collect();
    let stated = budget.max_retention.is_some() || budget.max_after_drain_bytes.is_some();
    if stated && v.runs_ok == 0 {
        c.why.push(Why::NoOkRun { status: v.status });
        return c;
    }
    let runs_of = |pick: fn(&FigureSet) -> Option<f64>| -> Vec<(u32, f64)> {
        ok_runs
            .iter()
            .filter_map(|(i, f)| Some((*i, pick(f)?)))
            .collect()
    };
    let wide = v.after_drain_spreads_widely();
    if let (Some((min, max)), Some(median)) = (wide, m.rss_after_drain_bytes) {
        c.notes.push(Note::WideSpread { min, max, median });
    }
    if let Some(limit) = budget.max_retention {
        let runs = runs_of(|f| f.retention);
        // A median over the limit says so itself; one within it is not the whole story.
        let within = m.retention.is_some_and(|r| r <= limit);
        if let Some(why) = worst_over(wide.is_some() && within, Limited::Retention, &runs, limit) {
            c.why.push(why);
        } else {
            c.check_median_retention(m, &runs, limit);
        }
    }
    if let Some(limit) = budget.max_after_drain_bytes {
        let runs = runs_of(|f| Some(f.rss_after_drain_bytes? as f64));
        let within = m.rss_after_drain_bytes.is_some_and(|a| a <= limit);
        if let Some(why) = worst_over(
            wide.is_some() && within,
            Limited::AfterDrain,
            &runs,
            limit as f64,
        ) {
            c.why.push(why);
        } else {
            c.check_median_after_drain(m, &runs, limit);
        }
    }
    c.after_nudge = after_nudge(v);
    c
}

impl Check {
    /// The median retention against `limit`.
    fn check_median_retention(&mut self, m: &FigureSet, runs: &[(u32, f64)], limit: f64) {
        let c = self;
        match m.retention {
            Some(r) if r > limit => c.why.push(Why::RetentionOverBudget {
                retention: r,
                budget: limit,
                runs: spread(runs),
            }),
            Some(_) => c.notes.extend(beyond(Limited::Retention, runs, limit)),
            None => match (m.rss_before_bytes, m.rss_peak_bytes) {
                (Some(b), Some(p)) if p.saturating_sub(b) < MIN_GROWTH_FOR_RETENTION => {
                    c.notes.push(Note::RetentionUndefined {
                        min_growth: MIN_GROWTH_FOR_RETENTION,
                    })
                }
                _ => c.why.push(Why::NoRetention),
            },
        }
    }

    /// The median after-drain RssAnon against `limit`.
    fn check_median_after_drain(&mut self, m: &FigureSet, runs: &[(u32, f64)], limit: u64) {
        let c = self;
        match m.rss_after_drain_bytes {
            Some(a) if a > limit => c.why.push(Why::AfterDrainOverBudget {
                after_drain: a,
                budget: limit,
                runs: spread(runs),
            }),
            Some(_) => c
                .notes
                .extend(beyond(Limited::AfterDrain, runs, limit as f64)),
            None => c.why.push(Why::NoAfterDrain),
        }
    }
}

/// With a wide spread of A, the worst run against `limit`: why it breaks it, if it does.
fn worst_over(wide: bool, figure: Limited, runs: &[(u32, f64)], limit: f64) -> Option<Why> {
    let &(run_index, value) = runs.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    (wide && value > limit).then(|| Why::WorstRunOverBudget {
        figure,
        run_index,
        value,
        budget: limit,
        runs: spread(runs),
    })
}

/// The spread of the runs' figures, over two runs or more.
pub(super) fn spread(runs: &[(u32, f64)]) -> Option<Spread> {
    Spread::of(&runs.iter().map(|x| x.1).collect::<Vec<_>>()).filter(|s| s.n >= 2)
}

/// A median within `limit` whose runs were not all: which were, and what they had.
fn beyond(figure: Limited, runs: &[(u32, f64)], limit: f64) -> Option<Note> {
    let beyond: Vec<(u32, f64)> = runs.iter().copied().filter(|(_, x)| *x > limit).collect();
    (!beyond.is_empty()).then_some(Note::RunsBeyond {
        figure,
        beyond,
        runs: runs.len(),
    })
}

/// RssAnon after the nudge, when it differs from after the drain by at least a tenth of the
/// growth under load (and 4 MiB): the allocator kept memory while idle and gave it back when a
/// trickle of requests called it again, or the other way round.
fn after_nudge(v: &VariantSummary) -> Option<AfterNudge> {
    let m = &v.medians;
    let (n, a) = (m.rss_after_nudge_bytes?, m.rss_after_drain_bytes?);
    let growth = match (m.rss_before_bytes, m.rss_peak_bytes) {
        (Some(b), Some(p)) => p.saturating_sub(b),
        _ => 0,
    };
    let differs = n.abs_diff(a);
    if differs < MIN_GROWTH_FOR_RETENTION || (differs as f64) < 0.1 * growth as f64 {
        return None;
    }
    let retention = match (m.rss_before_bytes, m.rss_peak_bytes) {
        (Some(b), Some(p)) if p.saturating_sub(b) >= MIN_GROWTH_FOR_RETENTION => {
            Some((n as f64 - b as f64) / (p - b) as f64)
        }
        _ => None,
    };
    Some(AfterNudge::Differs {
        after_nudge: n,
        retention,
        after_drain: a,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::figures::Figures;
    use crate::record::RunStatus;
    use crate::report::summary::cost::{CostSpreads, RunNote, VariantCost};
    use crate::report::summary::{FigureSet, RunFigures};

    const M: u64 = 1 << 20;

    fn spread(v: &[f64]) -> Option<Spread> {
        Spread::of(v)
    }

    /// A variant with these per-run retentions (B 5 MiB, P 105 MiB, A from the retention) and
    /// these per-round capacity and p99 ratios.
    pub(crate) fn priced(
        name: &str,
        retention: &[f64],
        capacity: &[f64],
        p99: &[f64],
    ) -> VariantSummary {
        let figures = |r: f64| Figures {
            rss_before_bytes: Some(5 * M),
            rss_peak_bytes: Some(105 * M),
            rss_after_drain_bytes: Some(5 * M + (r * 100.0 * M as f64) as u64),
            retention: Some(r),
            ..Default::default()
        };
        let runs: Vec<Figures> = retention.iter().map(|&r| figures(r)).collect();
        let mut v = VariantSummary::for_test(
            name,
            runs.len(),
            Some(Figures::medians(&runs.iter().collect::<Vec<_>>())),
        );
        v.run_figures = runs
            .into_iter()
            .enumerate()
            .map(|(i, f)| RunFigures {
                run_index: i as u32 + 1,
                status: RunStatus::Ok,
                failure: None,
                incomplete: false,
                started_at: String::new(),
                figures: FigureSet {
                    figures: f,
                    ..Default::default()
                },
                load_errors: None,
                load_retries: None,
            })
            .collect();
        v.cost = Some(VariantCost {
            apply_line: format!("apply {name}"),
            runs: retention.len(),
            figures: CostSpreads {
                minflt_per_response: spread(&[0.5]),
                ..Default::default()
            },
            ratio_to_reference: CostSpreads {
                capacity_rps: spread(capacity),
                latency_p99_ms: spread(p99),
                server_cpu_s_per_1000: spread(&[1.1]),
                ..Default::default()
            },
            client_bound_runs: 0,
            client_bound: vec![],
            latency_rates: vec![],
            rate_above_capacity: vec![],
            failures: vec![],
        });
        v
    }

    /// A summary of priced variants against `glibc`, with their recommendation under `budget`.
    pub(crate) fn priced_summary(
        variants: Vec<VariantSummary>,
        budget: MemoryBudget,
    ) -> crate::report::summary::Summary {
        let recommendation = recommend(&variants, &budget).with_peaks(&variants, "glibc");
        let cost = Some(crate::report::summary::CostInfo {
            reference: "glibc".into(),
            budget,
            latency_rate: Some(330.0),
            latency_rate_basis: Some("0.5 x the capacity of glibc #1 (659/s)".into()),
            latency_rates: vec![],
            processes: 2,
            connections: 16,
            warmup_s: 1.0,
            capacity_s: 5.0,
            latency_s: 5.0,
            latency_at: 0.5,
            nproc: Some(2),
            server_args: vec![],
            recommendation,
        });
        crate::report::summary::Summary {
            cost,
            ..crate::report::summary::Summary::of(variants)
        }
    }

    fn budget(retention: f64) -> MemoryBudget {
        MemoryBudget {
            max_retention: Some(retention),
            max_after_drain_bytes: None,
        }
    }

    /// The words `summary.json` and `report.md` show for these (`report::words`).
    fn said<T: std::fmt::Display>(v: &[T]) -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    }

    fn names(r: &Recommendation) -> Vec<&str> {
        r.within_budget.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn within_the_budget_ordered_by_capacity_ratio_then_p99() {
        let vs = [
            priced(
                "glibc",
                &[0.8, 0.85, 0.9],
                &[1.0, 1.0, 1.0],
                &[1.0, 1.0, 1.0],
            ),
            priced(
                "a",
                &[0.02, 0.03, 0.02],
                &[0.5, 0.52, 0.55],
                &[2.0, 2.0, 2.0],
            ),
            priced(
                "b",
                &[0.02, 0.03, 0.02],
                &[0.8, 0.82, 0.85],
                &[1.5, 1.5, 1.5],
            ),
            priced(
                "c",
                &[0.02, 0.03, 0.02],
                &[0.8, 0.82, 0.85],
                &[1.2, 1.2, 1.2],
            ),
        ];
        let r = recommend(&vs, &budget(0.1));
        assert!(r.budget_stated);
        assert_eq!(
            names(&r),
            ["c", "b", "a"],
            "b and c tie on capacity: c's p99 is lower"
        );
        assert_eq!(r.cheapest.as_deref(), Some("c"));
        assert_eq!(r.within_budget[0].apply_line.as_deref(), Some("apply c"));
        assert_eq!(r.over_budget.len(), 1);
        assert_eq!(r.over_budget[0].name, "glibc");
        assert_eq!(
            said(&r.over_budget[0].why),
            ["retention 0.85 > 0.10 (0.80–0.90 over 3 runs)"]
        );
        // b and c share their spread; a is apart from both.
        assert_eq!(r.within_budget[0].not_separated_from, ["b"]);
        assert_eq!(r.within_budget[1].not_separated_from, ["c"]);
        assert!(r.within_budget[2].not_separated_from.is_empty());
    }

    #[test]
    fn single_rounds_are_never_called_overlapping() {
        let vs = [
            priced("a", &[0.02], &[0.8], &[1.0]),
            priced("b", &[0.02], &[0.8], &[1.0]),
        ];
        let r = recommend(&vs, &budget(0.1));
        assert!(r
            .within_budget
            .iter()
            .all(|p| p.not_separated_from.is_empty()));
    }

    #[test]
    fn over_the_budget_says_why_and_after_the_nudge() {
        let mut mimalloc = priced("mimalloc", &[0.3, 0.98], &[1.1, 1.2], &[1.0, 1.0]);
        mimalloc.medians.figures.rss_after_nudge_bytes = Some(19 * M);
        let mut big = priced("big", &[0.05], &[0.9], &[1.0]);
        big.medians.figures.rss_after_drain_bytes = Some(300 * M);
        let b = MemoryBudget {
            max_retention: Some(0.1),
            max_after_drain_bytes: Some(64 * M),
        };
        let r = recommend(&[mimalloc, big], &b);
        assert!(r.within_budget.is_empty());
        assert_eq!(r.cheapest, None);
        let m = &r.over_budget[0];
        let why = said(&m.why);
        assert_eq!(why[0], "retention 0.64 > 0.10 (0.30–0.98 over 2 runs)");
        assert!(
            why[1].starts_with("after drain 69.0 MiB > 64.0 MiB"),
            "{why:?}"
        );
        let nudge = m.after_nudge.as_ref().unwrap().to_string();
        assert!(
            nudge.starts_with("after the nudge 19.0 MiB, retention 0.14"),
            "{nudge}"
        );
        assert_eq!(
            r.over_budget[1].why,
            [Why::AfterDrainOverBudget {
                after_drain: 300 * M,
                budget: 64 * M,
                runs: None
            }]
        );
        assert_eq!(
            said(&r.over_budget[1].why),
            ["after drain 300.0 MiB > 64.0 MiB"]
        );
        assert_eq!(r.over_budget[1].after_nudge, None);
    }

    #[test]
    fn a_median_within_with_a_run_beyond_is_noted() {
        let r = recommend(
            &[priced("a", &[0.02, 0.12, 0.05], &[0.9], &[1.0])],
            &budget(0.1),
        );
        assert_eq!(
            said(&r.within_budget[0].notes),
            ["within the budget on the median, not in 1 of 3 runs (run 2: retention 0.12)"]
        );
    }

    #[test]
    fn without_a_budget_every_variant_is_listed_by_price() {
        let mut failed = VariantSummary::for_test("failed", 1, None);
        failed.cost = None;
        let vs = [
            priced("glibc", &[0.8], &[1.0], &[1.0]),
            failed,
            priced("a", &[0.02], &[1.4], &[1.0]),
        ];
        let r = recommend(&vs, &MemoryBudget::default());
        assert!(!r.budget_stated);
        assert!(r.over_budget.is_empty());
        assert_eq!(names(&r), ["a", "glibc", "failed"]);
        assert_eq!(
            r.within_budget[2].unpriced,
            Some(Unpriced::NoCostMeasurement)
        );
        assert_eq!(r.cheapest.as_deref(), Some("a"));
    }

    #[test]
    fn client_bound_reasons_and_stopped_measurements_are_carried() {
        let mut a = priced("a", &[0.02], &[0.9], &[1.0]);
        let c = a.cost.as_mut().unwrap();
        c.client_bound = vec![RunNote {
            run_index: 1,
            why: "the client used 1.9 of the 2 cores".into(),
        }];
        let mut b = priced("b", &[0.02], &[0.9], &[1.0]);
        let c = b.cost.as_mut().unwrap();
        c.ratio_to_reference = CostSpreads::default();
        c.failures = vec![RunNote {
            run_index: 1,
            why: "server did not start".into(),
        }];
        let r = recommend(&[b, a], &budget(0.1));
        assert_eq!(names(&r), ["a", "b"]);
        assert_eq!(
            r.within_budget[0].client_bound,
            ["the client used 1.9 of the 2 cores"]
        );
        assert_eq!(
            said(r.within_budget[1].unpriced.as_slice()),
            ["its cost measurement stopped short: server did not start"]
        );
    }

    #[test]
    fn no_ok_run_is_over_a_stated_budget() {
        let r = recommend(&[VariantSummary::for_test("x", 2, None)], &budget(0.1));
        let why = &r.over_budget[0].why;
        assert_eq!(
            why,
            &[Why::NoOkRun {
                status: RunStatus::Failed
            }]
        );
        assert_eq!(said(why), ["no ok run (failed)"]);
    }
}

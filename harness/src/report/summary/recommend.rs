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

use super::spread::Spread;
use super::variant::VariantSummary;

const MIB: f64 = 1024.0 * 1024.0;

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
    /// server's queue.
    pub rate_above_capacity: Vec<String>,
    /// What the budget check noticed: a median within the limit with runs beyond it, a
    /// retention not defined for lack of growth.
    pub notes: Vec<String>,
    /// RssAnon after the nudge, when it differs a lot from after the drain.
    pub after_nudge: Option<String>,
    /// Why it has no price: no cost measurement, or none that ended with a capacity.
    pub unpriced: Option<String>,
}

/// A variant over the budget, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverBudget {
    pub name: String,
    /// Each limit it breaks: `retention 0.82 > 0.10`.
    pub why: Vec<String>,
    /// RssAnon after the nudge, when it differs a lot from after the drain (a variant that
    /// gives memory back only when called again).
    pub after_nudge: Option<String>,
    pub capacity_ratio: Option<Spread>,
}

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
                (None, _) => Some("no cost measurement".into()),
                (Some(c), None) => Some(match c.failures.first() {
                    Some(f) => format!("its cost measurement stopped short: {}", f.why),
                    None => "no round where it and the reference both have a capacity".into(),
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
                .map(|c| {
                    c.rate_above_capacity
                        .iter()
                        .map(|n| format!("run {}: {}", n.run_index, n.why))
                        .collect()
                })
                .unwrap_or_default(),
            notes: check.notes,
            after_nudge: check.after_nudge,
        });
    }
    // Highest capacity ratio first; a missing one last; the lower p99 ratio on a tie. Stable:
    // the summary's order among equals.
    let key = |s: &Option<Spread>| s.as_ref().map(|s| s.median);
    within.sort_by(|a, b| {
        let cap = match (key(&a.capacity_ratio), key(&b.capacity_ratio)) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        cap.then_with(|| match (key(&a.p99_ratio), key(&b.p99_ratio)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        })
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

/// What checking one variant against the budget found.
struct Check {
    why: Vec<String>,
    notes: Vec<String>,
    after_nudge: Option<String>,
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
        c.why.push(format!("no ok run ({})", v.status));
        return c;
    }
    if let Some(limit) = budget.max_retention {
        let runs: Vec<(u32, f64)> = ok_runs
            .iter()
            .filter_map(|(i, f)| Some((*i, f.retention?)))
            .collect();
        match m.retention {
            Some(r) if r > limit => c.why.push(format!(
                "retention {r:.2} > {limit:.2}{}",
                range(&runs.iter().map(|x| x.1).collect::<Vec<_>>(), |x| format!(
                    "{x:.2}"
                ))
            )),
            Some(_) => c
                .notes
                .extend(beyond(&runs, limit, |x| format!("retention {x:.2}"))),
            None => match (m.rss_before_bytes, m.rss_peak_bytes) {
                (Some(b), Some(p)) if p.saturating_sub(b) < MIN_GROWTH_FOR_RETENTION => {
                    c.notes.push(format!(
                        "retention not defined: RssAnon grew less than {} MiB under load",
                        MIN_GROWTH_FOR_RETENTION >> 20
                    ))
                }
                _ => c.why.push("no retention figure".into()),
            },
        }
    }
    if let Some(limit) = budget.max_after_drain_bytes {
        let runs: Vec<(u32, f64)> = ok_runs
            .iter()
            .filter_map(|(i, f)| Some((*i, f.rss_after_drain_bytes? as f64)))
            .collect();
        let l = limit as f64;
        match m.rss_after_drain_bytes {
            Some(a) if a > limit => c.why.push(format!(
                "after drain {:.1} MiB > {:.1} MiB{}",
                a as f64 / MIB,
                l / MIB,
                range(&runs.iter().map(|x| x.1).collect::<Vec<_>>(), |x| format!(
                    "{:.1}",
                    x / MIB
                ))
            )),
            Some(_) => c.notes.extend(beyond(&runs, l, |x| {
                format!("after drain {:.1} MiB", x / MIB)
            })),
            None => c.why.push("no after-drain figure".into()),
        }
    }
    c.after_nudge = after_nudge(v);
    c
}

/// ` (0.31–0.98 over 2 runs)`, or nothing for fewer than two runs.
fn range(values: &[f64], show: impl Fn(f64) -> String) -> String {
    match Spread::of(values) {
        Some(s) if s.n >= 2 => format!(" ({}–{} over {} runs)", show(s.min), show(s.max), s.n),
        _ => String::new(),
    }
}

/// A median within `limit` whose runs were not all: which were, and what they had.
fn beyond(runs: &[(u32, f64)], limit: f64, show: impl Fn(f64) -> String) -> Option<String> {
    let out: Vec<String> = runs
        .iter()
        .filter(|(_, x)| *x > limit)
        .map(|(i, x)| format!("run {i}: {}", show(*x)))
        .collect();
    (!out.is_empty()).then(|| {
        format!(
            "within the budget on the median, not in {} of {} runs ({})",
            out.len(),
            runs.len(),
            out.join(", ")
        )
    })
}

/// RssAnon after the nudge, when it differs from after the drain by at least a tenth of the
/// growth under load (and 4 MiB): the allocator kept memory while idle and gave it back when a
/// trickle of requests called it again, or the other way round.
fn after_nudge(v: &VariantSummary) -> Option<String> {
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
            format!(", retention {:.2}", (n as f64 - b as f64) / (p - b) as f64)
        }
        _ => String::new(),
    };
    Some(format!(
        "after the nudge {:.1} MiB{retention} (after the drain {:.1} MiB)",
        n as f64 / MIB,
        a as f64 / MIB
    ))
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

    fn budget(retention: f64) -> MemoryBudget {
        MemoryBudget {
            max_retention: Some(retention),
            max_after_drain_bytes: None,
        }
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
            r.over_budget[0].why,
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
        assert_eq!(m.why[0], "retention 0.64 > 0.10 (0.30–0.98 over 2 runs)");
        assert!(
            m.why[1].starts_with("after drain 69.0 MiB > 64.0 MiB"),
            "{:?}",
            m.why
        );
        let nudge = m.after_nudge.as_deref().unwrap();
        assert!(
            nudge.starts_with("after the nudge 19.0 MiB, retention 0.14"),
            "{nudge}"
        );
        assert_eq!(r.over_budget[1].why, ["after drain 300.0 MiB > 64.0 MiB"]);
        assert_eq!(r.over_budget[1].after_nudge, None);
    }

    #[test]
    fn a_median_within_with_a_run_beyond_is_noted() {
        let r = recommend(
            &[priced("a", &[0.02, 0.12, 0.05], &[0.9], &[1.0])],
            &budget(0.1),
        );
        assert_eq!(
            r.within_budget[0].notes,
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
            r.within_budget[2].unpriced.as_deref(),
            Some("no cost measurement")
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
            r.within_budget[1].unpriced.as_deref(),
            Some("its cost measurement stopped short: server did not start")
        );
    }

    #[test]
    fn no_ok_run_is_over_a_stated_budget() {
        let r = recommend(&[VariantSummary::for_test("x", 2, None)], &budget(0.1));
        assert_eq!(r.over_budget[0].why, ["no ok run (failed)"]);
    }
}

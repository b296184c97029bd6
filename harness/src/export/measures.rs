//! What every export carries, read from a summary through the catalogue: per variant, each
//! figure the catalogue marks exported, in its base unit, with the runs' spread.

use crate::record::RunStatus;
use crate::report::catalogue::{BaseUnit, Better, Figure, Read, Reading, Unit, CATALOGUE};
use crate::report::summary::{Spread, VariantSummary};
use crate::report::Summary;

/// One variant of a scenario: a benchmark, in the dashboards' words.
#[derive(Debug, Clone)]
pub struct Benchmark<'a> {
    pub scenario: &'a str,
    pub variant: &'a str,
    pub measures: Vec<Measure>,
}

impl Benchmark<'_> {
    /// Its name in every format: `hot-range/glibc`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.scenario, self.variant)
    }
}

/// One figure of a variant, as the exports write it.
#[derive(Clone)]
pub struct Measure {
    pub figure: &'static Figure,
    /// Its exported name: the catalogue's, or `<name>_ratio` for a ratio to the reference.
    pub name: String,
    pub unit: BaseUnit,
    pub better: Better,
    /// The median over the ok runs (or the rounds, for a ratio).
    pub value: f64,
    /// The lowest and highest of the ok runs (or rounds), when there are two or more.
    pub bounds: Option<(f64, f64)>,
    /// Runs (or rounds) the value is the median of.
    pub n: usize,
    /// A ratio to the `[cost]` reference's figure, not the figure itself.
    pub ratio: bool,
}

impl std::fmt::Debug for Measure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} = {} {:?} (n {})",
            self.name, self.value, self.bounds, self.n
        )
    }
}

impl Measure {
    /// Its name in kebab case, as Bencher spells a measure: `rss-after-drain`.
    pub fn kebab(&self) -> String {
        self.name.replace('_', "-")
    }
}

/// Every variant that has an ok run, in the summary's order, with its exported figures in the
/// catalogue's order; a variant without an ok run has nothing to carry and is left out.
pub fn benchmarks(summary: &Summary) -> Vec<Benchmark<'_>> {
    summary
        .variants
        .iter()
        .filter(|v| v.runs_ok > 0)
        .map(|v| Benchmark {
            scenario: &summary.scenario.name,
            variant: &v.name,
            measures: measures(v),
        })
        .filter(|b| !b.measures.is_empty())
        .collect()
}

/// The exported figures of `v` it has.
fn measures(v: &VariantSummary) -> Vec<Measure> {
    CATALOGUE
        .iter()
        .copied()
        .filter(|f| f.export.is_some())
        .flat_map(|f| match f.read {
            Read::Cost(read) => cost_measures(f, v, read),
            _ => run_measure(f, v).into_iter().collect(),
        })
        .collect()
}

/// A figure of the runs: the medians' value, bounded by the ok runs' own.
fn run_measure(f: &'static Figure, v: &VariantSummary) -> Option<Measure> {
    let export = f.export?;
    let value = in_base(f, f.reading_of_variant(v))?;
    let runs: Vec<f64> = v
        .run_figures
        .iter()
        .filter(|r| r.status == RunStatus::Ok)
        .filter_map(|r| in_base(f, f.of_set(&r.figures)?))
        .collect();
    Some(Measure {
        figure: f,
        name: export.name.to_string(),
        unit: export.unit,
        better: f.better,
        value,
        bounds: bounds(&runs),
        n: if runs.is_empty() {
            v.runs_ok
        } else {
            runs.len()
        },
        ratio: false,
    })
}

/// A `[cost]` figure over the ok runs and, where the variant is priced, its ratio to the
/// reference's over the rounds.
fn cost_measures(
    f: &'static Figure,
    v: &VariantSummary,
    read: fn(&crate::report::summary::CostSpreads) -> Option<&Spread>,
) -> Vec<Measure> {
    let (Some(export), Some(cost)) = (f.export, v.cost.as_ref()) else {
        return vec![];
    };
    let scale = scale(f);
    let figure = read(&cost.figures).map(|s| Measure {
        figure: f,
        name: export.name.to_string(),
        unit: export.unit,
        better: f.better,
        value: s.median * scale,
        bounds: (s.n >= 2).then_some((s.min * scale, s.max * scale)),
        n: s.n,
        ratio: false,
    });
    let ratio = read(&cost.ratio_to_reference).map(|s| Measure {
        figure: f,
        name: format!("{}_ratio", export.name),
        unit: BaseUnit::Ratio,
        better: f.better,
        value: s.median,
        bounds: (s.n >= 2).then_some((s.min, s.max)),
        n: s.n,
        ratio: true,
    });
    figure.into_iter().chain(ratio).collect()
}

/// The lowest and highest of two values or more.
fn bounds(values: &[f64]) -> Option<(f64, f64)> {
    let s = Spread::of(values)?;
    (s.n >= 2).then_some((s.min, s.max))
}

/// What a figure's number is multiplied by to be in its base unit: ms are written as seconds.
fn scale(f: &Figure) -> f64 {
    match f.unit {
        Unit::Millis => 1e-3,
        _ => 1.0,
    }
}

/// A reading in the figure's base unit; `None` for one that is no number (t90 `never`, a
/// range, missing).
fn in_base(f: &Figure, r: Reading) -> Option<f64> {
    match r {
        Reading::Bytes(b) => Some(b as f64),
        Reading::Number(x) => Some(x * scale(f)),
        Reading::Count(n) => Some(n as f64),
        Reading::Never | Reading::Range(..) | Reading::Missing => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::Figures;
    use crate::report::catalogue::{A, CAPACITY, P99, T90};
    use crate::report::summary::{CostSpreads, FigureSet, RunFigures, VariantCost};

    const M: u64 = 1 << 20;

    fn run(index: u32, status: RunStatus, a: u64, p99_ms: f64) -> RunFigures {
        RunFigures {
            run_index: index,
            status,
            failure: None,
            incomplete: false,
            started_at: String::new(),
            figures: FigureSet {
                figures: Figures {
                    rss_after_drain_bytes: Some(a),
                    ..Default::default()
                },
                latency_ms: crate::report::summary::LatencyMs {
                    p50: None,
                    p99: Some(p99_ms),
                },
                ..Default::default()
            },
            load_errors: None,
            load_retries: None,
        }
    }

    fn variant(runs: Vec<RunFigures>, median_a: u64) -> VariantSummary {
        let mut v = VariantSummary::for_test(
            "glibc",
            runs.len(),
            Some(Figures {
                rss_after_drain_bytes: Some(median_a),
                ..Default::default()
            }),
        );
        v.medians.latency_ms.p99 = Some(20.0);
        v.runs_ok = runs.iter().filter(|r| r.status == RunStatus::Ok).count();
        v.run_figures = runs;
        v
    }

    fn find<'a>(ms: &'a [Measure], name: &str) -> &'a Measure {
        ms.iter().find(|m| m.name == name).unwrap_or_else(|| {
            panic!(
                "no {name} in {:?}",
                ms.iter().map(|m| &m.name).collect::<Vec<_>>()
            )
        })
    }

    /// The bounds are the ok runs' lowest and highest: a failed run's figure is not one.
    #[test]
    fn bounds_are_the_ok_runs_min_and_max() {
        let v = variant(
            vec![
                run(1, RunStatus::Ok, 100 * M, 10.0),
                run(2, RunStatus::Failed, 900 * M, 900.0),
                run(3, RunStatus::Ok, 120 * M, 30.0),
                run(4, RunStatus::Ok, 110 * M, 20.0),
            ],
            110 * M,
        );
        let ms = measures(&v);
        let a = find(&ms, "rss_after_drain");
        assert_eq!(a.value, (110 * M) as f64);
        assert_eq!(a.bounds, Some(((100 * M) as f64, (120 * M) as f64)));
        assert_eq!((a.n, a.unit, a.figure.key), (3, BaseUnit::Bytes, A.key));
        // ms are written as seconds, bounds too.
        let p99 = find(&ms, "latency_p99");
        assert_eq!(p99.figure.key, P99.key);
        assert_eq!((p99.value, p99.unit), (0.02, BaseUnit::Seconds));
        assert_eq!(p99.bounds, Some((0.01, 0.03)));
    }

    #[test]
    fn one_ok_run_has_no_bounds() {
        let v = variant(
            vec![
                run(1, RunStatus::Ok, 100 * M, 10.0),
                run(2, RunStatus::Failed, 900 * M, 900.0),
            ],
            100 * M,
        );
        let a = find(&measures(&v), "rss_after_drain").clone();
        assert_eq!((a.value, a.bounds, a.n), ((100 * M) as f64, None, 1));
    }

    /// t90 `never` is no number: the figure is left out, not written as 0 or infinity.
    #[test]
    fn a_figure_without_a_number_is_left_out() {
        let mut v = variant(vec![run(1, RunStatus::Ok, 100 * M, 10.0)], 100 * M);
        v.medians.figures.rss_before_bytes = Some(M);
        v.medians.figures.rss_peak_bytes = Some(500 * M);
        assert_eq!(T90.reading_of_variant(&v), Reading::Never);
        let ms = measures(&v);
        assert!(ms.iter().all(|m| m.name != "t90"), "{ms:?}");
        assert!(ms.iter().any(|m| m.name == "rss_peak"));
    }

    /// Capacity and its ratio to the reference, each with its own spread: over runs, over
    /// rounds.
    #[test]
    fn a_priced_variant_carries_capacity_and_its_ratio() {
        let mut v = variant(vec![run(1, RunStatus::Ok, 100 * M, 10.0)], 100 * M);
        let spread = |median, min, max, n| Spread {
            median,
            min,
            max,
            n,
        };
        v.cost = Some(VariantCost {
            apply_line: String::new(),
            runs: 3,
            figures: CostSpreads {
                capacity_rps: Some(spread(900.0, 800.0, 950.0, 3)),
                ..Default::default()
            },
            ratio_to_reference: CostSpreads {
                capacity_rps: Some(spread(0.9, 0.9, 0.9, 1)),
                ..Default::default()
            },
            client_bound_runs: 0,
            client_bound: vec![],
            latency_rates: vec![],
            rate_above_capacity: vec![],
            failures: vec![],
        });
        let ms = measures(&v);
        let c = find(&ms, "capacity");
        assert_eq!(
            (c.value, c.bounds, c.better),
            (900.0, Some((800.0, 950.0)), Better::Higher)
        );
        assert_eq!((c.unit, c.figure.key), (BaseUnit::PerSecond, CAPACITY.key));
        let r = find(&ms, "capacity_ratio");
        assert_eq!(
            (r.value, r.bounds, r.unit, r.ratio),
            (0.9, None, BaseUnit::Ratio, true)
        );
        assert_eq!(r.kebab(), "capacity-ratio");
    }

    /// Names are unique, and their unit is the figure's own in base units.
    #[test]
    fn exported_names_are_unique_and_units_agree_with_the_catalogue() {
        let mut names = std::collections::BTreeSet::new();
        for f in CATALOGUE.iter().filter(|f| f.export.is_some()) {
            let e = f.export.unwrap();
            assert!(names.insert(e.name), "{} exported twice", e.name);
            assert!(
                e.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}: a name is snake_case ASCII",
                e.name
            );
            let expected = match f.unit {
                Unit::Mib => Some(BaseUnit::Bytes),
                Unit::Seconds | Unit::Millis => Some(BaseUnit::Seconds),
                Unit::Percent => Some(BaseUnit::Ratio),
                Unit::Plain => None,
            };
            if let Some(u) = expected {
                assert_eq!(e.unit, u, "{}", f.key);
            }
        }
        for name in [
            "rss_before",
            "rss_peak",
            "rss_after_drain",
            "retention",
            "t90",
            "capacity",
        ] {
            assert!(names.contains(name), "{name} is not exported");
        }
    }

    #[test]
    fn a_variant_without_an_ok_run_is_left_out() {
        let mut s = Summary::of(vec![
            VariantSummary::for_test("failed", 2, None),
            variant(vec![run(1, RunStatus::Ok, 100 * M, 10.0)], 100 * M),
        ]);
        s.scenario.name = "hot-range".into();
        let b = benchmarks(&s);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].name(), "hot-range/glibc");
    }
}

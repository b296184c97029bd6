//! The words of the summary's reasons, notes and warnings: the one place a sentence is made of
//! their figures, for `summary.json` (each serializes as its words) and `report.md` alike.
//!
//! They are `Display` impls, not functions the data types call: the summary's types name no
//! page, and the compiler finds the words wherever the summary is shown.

use std::fmt::{self, Display, Formatter};

use crate::table::mib;

use super::summary::{
    AfterNudge, BelowRate, Limited, Note, RunId, RunNote, Spread, Unpriced, Warning, Why,
};

/// Each item's words, with `sep` between.
pub fn joined<T: Display>(items: &[T], sep: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

/// The words with a capital first letter: a sentence that begins with a figure's name.
pub fn capitalized(words: &str) -> String {
    let mut c = words.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// ` (0.31–0.98 over 2 runs)`, or nothing without the runs' spread.
fn over_runs(runs: &Option<Spread>, show: impl Fn(f64) -> String) -> String {
    match runs {
        Some(s) => format!(" ({}–{} over {} runs)", show(s.min), show(s.max), s.n),
        None => String::new(),
    }
}

/// A retention: `0.82`.
fn retention(r: f64) -> String {
    format!("{r:.2}")
}

/// A figure in bytes, held as `f64` in a spread (whole bytes), as MiB: `64.0`.
fn mib_of(bytes: f64) -> String {
    mib(bytes as u64)
}

impl Display for Why {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Why::NoOkRun { status } => write!(f, "no ok run ({status})"),
            Why::RetentionOverBudget {
                retention: r,
                budget,
                runs,
            } => write!(
                f,
                "retention {r:.2} > {budget:.2}{}",
                over_runs(runs, retention)
            ),
            Why::NoRetention => f.write_str("no retention figure"),
            Why::AfterDrainOverBudget {
                after_drain,
                budget,
                runs,
            } => write!(
                f,
                "after drain {} MiB > {} MiB{}",
                mib(*after_drain),
                mib(*budget),
                over_runs(runs, mib_of)
            ),
            Why::NoAfterDrain => f.write_str("no after-drain figure"),
            Why::WorstRunOverBudget {
                figure,
                run_index,
                value,
                budget,
                runs,
            } => {
                let (what, show): (&str, fn(f64) -> String) = match figure {
                    Limited::Retention => ("retention", retention),
                    Limited::AfterDrain => ("after drain", |b| format!("{} MiB", mib_of(b))),
                };
                write!(
                    f,
                    "{what} {} > {} in run {run_index}, its worst: after-drain RSS spread widely between runs, so the budget is read on the worst{}",
                    show(*value),
                    show(*budget),
                    over_runs(runs, show)
                )
            }
            Why::Read(words) => f.write_str(words),
        }
    }
}

impl Display for Note {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Note::RunsBeyond {
                figure,
                beyond,
                runs,
            } => {
                let each: Vec<String> = beyond
                    .iter()
                    .map(|(i, x)| match figure {
                        Limited::Retention => format!("run {i}: retention {}", retention(*x)),
                        Limited::AfterDrain => format!("run {i}: after drain {} MiB", mib_of(*x)),
                    })
                    .collect();
                write!(
                    f,
                    "within the budget on the median, not in {} of {runs} runs ({})",
                    beyond.len(),
                    each.join(", ")
                )
            }
            Note::RetentionUndefined { min_growth } => write!(
                f,
                "retention not defined: RssAnon grew less than {} MiB under load",
                min_growth >> 20
            ),
            Note::WideSpread { min, max, median } => write!(
                f,
                "after-drain RSS spread widely between runs ({}–{} MiB, median {} MiB): a budget is read on its worst run, and its median is one of several outcomes",
                mib(*min),
                mib(*max),
                mib(*median)
            ),
            Note::Read(words) => f.write_str(words),
        }
    }
}

impl Display for AfterNudge {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            AfterNudge::Differs {
                after_nudge,
                retention: r,
                after_drain,
            } => write!(
                f,
                "after the nudge {} MiB{} (after the drain {} MiB)",
                mib(*after_nudge),
                r.map(|r| format!(", retention {}", retention(r)))
                    .unwrap_or_default(),
                mib(*after_drain)
            ),
            AfterNudge::Read(words) => f.write_str(words),
        }
    }
}

impl Display for Unpriced {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Unpriced::NoCostMeasurement => f.write_str("no cost measurement"),
            Unpriced::StoppedShort(why) => write!(f, "its cost measurement stopped short: {why}"),
            Unpriced::NoCommonRound => {
                f.write_str("no round where it and the reference both have a capacity")
            }
            Unpriced::Read(words) => f.write_str(words),
        }
    }
}

impl Display for BelowRate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            BelowRate::Rates {
                capacity_rps,
                rate_rps,
            } => write!(
                f,
                "capacity {capacity_rps:.0}/s below the fixed rate {rate_rps:.0}/s"
            ),
            BelowRate::Read(words) => f.write_str(words),
        }
    }
}

/// `run 2: capacity 250/s below the fixed rate 300/s`.
impl<W: Display> Display for RunNote<W> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "run {}: {}", self.run_index, self.why)
    }
}

/// `glibc #2`.
impl Display for RunId {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} #{}", self.variant, self.run_index)
    }
}

/// `66.3`, or `66.3–66.4` when the values differ as written.
fn range(values: impl Iterator<Item = f64>, decimals: usize) -> String {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = (format!("{lo:.decimals$}"), format!("{hi:.decimals$}"));
    if lo == hi {
        lo
    } else {
        format!("{lo}–{hi}")
    }
}

/// The first 12 characters of a sha256: enough to tell two apart.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

impl Display for Warning {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Warning::NotMeasured { variant, why } => write!(
                f,
                "incomplete comparison: `{variant}` was not measured (skipped): {why}"
            ),
            Warning::Rebuilt { run, failure } => write!(f, "{run}: {failure}"),
            Warning::OtherScenarioVersion { run, hash, first } => write!(
                f,
                "{run}: measured from another version of the scenario (hash {} vs {})",
                short(hash),
                short(first)
            ),
            Warning::OtherScenario {
                run,
                scenario,
                first,
            } => write!(f, "{run}: from scenario {scenario:?}, not {first:?}"),
            Warning::OtherQuick { run, quick, first } => {
                write!(
                    f,
                    "{run}: quick={quick} where the first run has quick={first}"
                )
            }
            Warning::OtherEnvironment { run, shard, fields } => write!(
                f,
                "{run}: measured in another environment than the first run{} ({})",
                shard.map(|s| format!(" of shard {s}")).unwrap_or_default(),
                fields.join(", ")
            ),
            Warning::Overloaded { variant, runs } => {
                let indices: Vec<String> =
                    runs.iter().map(|r| format!("#{}", r.run_index)).collect();
                let shares = runs
                    .iter()
                    .map(|r| r.unsent as f64 / r.intended.max(1) as f64 * 100.0);
                let intended = runs.iter().map(|r| r.intended as f64);
                write!(
                    f,
                    "{variant}: overloaded in run{} {}: {}% of the {} requests the load intended \
                     were never sent, no connection being free before it stopped; the figures, \
                     latency included, are of those sent",
                    if runs.len() == 1 { "" } else { "s" },
                    indices.join(", "),
                    range(shares, 1),
                    range(intended, 0)
                )
            }
            Warning::Read(words) => f.write_str(words),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::{OverloadedRun, Priced};

    const M: u64 = 1 << 20;

    fn run() -> RunId {
        RunId {
            variant: "glibc".into(),
            run_index: 2,
        }
    }

    #[test]
    fn warnings_read_as_they_always_did() {
        let said = [
            Warning::NotMeasured {
                variant: "mimalloc".into(),
                why: "no libmimalloc.so".into(),
            },
            Warning::OtherScenarioVersion {
                run: run(),
                hash: "ab".repeat(32),
                first: "cd".repeat(32),
            },
            Warning::OtherQuick {
                run: run(),
                quick: true,
                first: false,
            },
            Warning::OtherEnvironment {
                run: run(),
                shard: Some(crate::shard::Shard { index: 2, count: 3 }),
                fields: vec!["kernel".into(), "nproc".into()],
            },
            Warning::Overloaded {
                variant: "glibc".into(),
                runs: [(1, 3200, 2124), (3, 3200, 2123)]
                    .map(|(run_index, intended, unsent)| OverloadedRun {
                        run_index,
                        intended,
                        unsent,
                    })
                    .to_vec(),
            },
        ]
        .map(|w| w.to_string());
        assert_eq!(
            said,
            [
                "incomplete comparison: `mimalloc` was not measured (skipped): no libmimalloc.so",
                "glibc #2: measured from another version of the scenario (hash abababababab vs cdcdcdcdcdcd)",
                "glibc #2: quick=true where the first run has quick=false",
                "glibc #2: measured in another environment than the first run of shard 2/3 (kernel, nproc)",
                "glibc: overloaded in runs #1, #3: 66.3–66.4% of the 3200 requests the load \
                 intended were never sent, no connection being free before it stopped; the \
                 figures, latency included, are of those sent",
            ]
        );
    }

    #[test]
    fn notes_and_after_the_nudge_carry_their_figures_into_words() {
        let beyond = Note::RunsBeyond {
            figure: Limited::AfterDrain,
            beyond: vec![(3, (70 * M) as f64)],
            runs: 3,
        };
        assert_eq!(
            beyond.to_string(),
            "within the budget on the median, not in 1 of 3 runs (run 3: after drain 70.0 MiB)"
        );
        let nudge = AfterNudge::Differs {
            after_nudge: 19 * M,
            retention: None,
            after_drain: 40 * M,
        };
        assert_eq!(
            nudge.to_string(),
            "after the nudge 19.0 MiB (after the drain 40.0 MiB)"
        );
    }

    /// `summary.json` holds the words; read back, they are kept as words.
    #[test]
    fn the_json_holds_the_words_and_reads_them_back() {
        let p = Priced {
            name: "a".into(),
            apply_line: None,
            capacity_ratio: None,
            p99_ratio: None,
            server_cpu_ratio: None,
            minflt_per_response: None,
            not_separated_from: vec![],
            client_bound: vec![],
            rate_above_capacity: vec![RunNote {
                run_index: 2,
                why: BelowRate::Rates {
                    capacity_rps: 206.0,
                    rate_rps: 330.0,
                },
            }],
            notes: vec![Note::RetentionUndefined { min_growth: 4 * M }],
            after_nudge: None,
            unpriced: Some(Unpriced::NoCommonRound),
            peak_ratio: Some(1.5),
            highest_peak: true,
        };
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(
            json["rate_above_capacity"][0],
            "run 2: capacity 206/s below the fixed rate 330/s"
        );
        assert_eq!(
            json["notes"][0],
            "retention not defined: RssAnon grew less than 4 MiB under load"
        );
        let back: Priced = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.rate_above_capacity[0].run_index, 2);
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
    }
}

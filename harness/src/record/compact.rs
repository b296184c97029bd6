//! A soak's finished cycles, thinned as each ends, so the harness's memory does not grow with
//! the soak's length: of every cycle after the first, the record keeps what its figures read
//! (P_k's sample, A_k's last second of the drain, the process tree's reading with the most
//! processes, the figures of the scenario's declared `/stats` series) and a few samples and
//! small readings spread over the cycle for the plots, and no whole `/stats` reading. The
//! `.jsonl` stream keeps every reading; this thins only what is held in memory and so what
//! `runs/VARIANT-N.json` is written from.
//!
//! Every other figure of a run is the first cycle's (the first `during`, the first `drain`,
//! the gap after it where the `/stats` reading after the drain is taken), and neither the
//! first cycle nor that gap is ever thinned, so a run's figures are the same thinned or not.
//! The gap after a later drain is thinned with the cycle after it, so the gap after the last
//! drain stays whole.

use super::StatsSample;
use crate::figures::{last_second_window, max_of, PhaseMark, Timed};
use crate::sample::{MappingBreakdown, Sample, TreeSample};

/// Samples kept per thinned cycle for the plots, spread over the cycle, beside those P_k and
/// A_k are taken from. Four show a cycle's rise and fall at the scale of a soak's plot
/// (hundreds of cycles across); the samples of A's window add 1 s / the sample interval (21 at
/// the default 50 ms).
pub const SAMPLES_PER_CYCLE: usize = 4;

/// Readings of the small series (probe, smaps, mappings, cgroup) kept per thinned cycle for
/// the plots: one. No figure reads them past the first cycle.
pub const READINGS_PER_CYCLE: usize = 1;

impl Timed for MappingBreakdown {
    fn t(&self) -> f64 {
        self.t
    }
}

impl Timed for TreeSample {
    fn t(&self) -> f64 {
        self.t
    }
}

impl Timed for StatsSample {
    fn t(&self) -> f64 {
        self.t
    }
}

/// The span of a finished cycle that may be thinned: from its `during`'s start (or, when the
/// drain before it is not the first, from that drain's end, exclusive, so the gap after it,
/// where the `/stats` reading after the drain is taken, is thinned too) to its drain's end;
/// and the cycle's phases, whose figures decide what is kept. The first cycle and the gap
/// after its drain are never in a span: the run's other figures read them.
pub struct Span<'a> {
    after: f64,
    from: f64,
    to: f64,
    during: &'a PhaseMark,
    drain: &'a PhaseMark,
}

/// The span of the cycle whose drain has just ended, when it is not the first: the last
/// `drain` of `phases` and the `during` before it.
pub fn finished_cycle(phases: &[PhaseMark]) -> Option<Span<'_>> {
    let drains: Vec<usize> = (0..phases.len())
        .filter(|&i| phases[i].name == "drain")
        .collect();
    let (&last, &previous) = (drains.last()?, drains.iter().rev().nth(1)?);
    let drain = &phases[last];
    let during = phases[previous..last]
        .iter()
        .rfind(|m| m.name == "during")?;
    let after = phases[previous].end;
    Some(Span {
        after,
        from: if drains.len() > 2 {
            after
        } else {
            during.start
        },
        to: drain.end,
        during,
        drain,
    })
}

impl Span<'_> {
    fn holds(&self, t: f64) -> bool {
        t > self.after && t >= self.from && t <= self.to
    }

    /// Thins the samples: P_k's (the first at the cycle's highest RssAnon), A_k's window and
    /// [`SAMPLES_PER_CYCLE`] others stay.
    pub fn samples(&self, samples: &mut Vec<Sample>) {
        let peak = max_of(samples, self.during, |s| s.rss_anon);
        let peak_t = peak.and_then(|p| {
            samples
                .iter()
                .find(|s| s.t >= self.during.start && s.t <= self.during.end && s.rss_anon == p)
                .map(|s| s.t)
        });
        let a_window: Vec<f64> = last_second_window(samples, self.drain)
            .map(|s| s.t)
            .collect();
        let must = |s: &Sample| Some(s.t) == peak_t || a_window.contains(&s.t);
        self.thin(samples, must, SAMPLES_PER_CYCLE);
    }

    /// Thins a small series to [`READINGS_PER_CYCLE`] readings.
    pub fn series<T: Timed>(&self, readings: &mut Vec<T>) {
        self.thin(readings, |_| false, READINGS_PER_CYCLE);
    }

    /// Keeps of the process tree's readings one: the first with the most processes, the one
    /// the scenario's `max_processes` would read.
    pub fn procs(&self, readings: &mut Vec<TreeSample>) {
        let most = readings
            .iter()
            .filter(|r| self.holds(r.t))
            .map(|r| r.procs.len())
            .max();
        let first = readings
            .iter()
            .find(|r| self.holds(r.t) && Some(r.procs.len()) == most)
            .map(|r| r.t);
        self.thin(readings, |r| Some(r.t) == first, 0);
    }

    /// Keeps of each `/stats` reading only the figures at `pointers` (the scenario's declared
    /// series, which the report plots and takes the peak of from every reading), and no
    /// reading that has none of them: a reading's whole tree is the largest thing a soak held
    /// per cycle (about 9 KB of heap, heaptrack, 2026-12-07).
    pub fn stats(&self, readings: &mut Vec<StatsSample>, pointers: &[String]) {
        readings.retain_mut(|r| {
            if !self.holds(r.t) {
                return true;
            }
            r.stats = only(&r.stats, pointers);
            r.stats.as_object().is_some_and(|o| !o.is_empty())
        });
    }

    /// Keeps, within the span, the readings `must` names and every n-th of the others so that
    /// at most `spread` of them stay; outside it, everything.
    fn thin<T: Timed>(&self, readings: &mut Vec<T>, must: impl Fn(&T) -> bool, spread: usize) {
        let others = readings
            .iter()
            .filter(|r| self.holds(r.t()) && !must(r))
            .count();
        let step = if spread == 0 {
            usize::MAX
        } else {
            others.div_ceil(spread).max(1)
        };
        let mut k = 0;
        readings.retain(|r| {
            if !self.holds(r.t()) || must(r) {
                return true;
            }
            k += 1;
            spread > 0 && (k - 1) % step == 0
        });
    }
}

/// The figures of `v` at `pointers` (JSON pointers), each at its own path in objects, so that
/// `pointer` on the result reads what it read on `v`; an empty object when none is there.
fn only(v: &serde_json::Value, pointers: &[String]) -> serde_json::Value {
    let mut out = serde_json::Value::Object(Default::default());
    for p in pointers {
        let Some(x) = v.pointer(p) else { continue };
        let tokens: Vec<String> = p
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        let Some((leaf, path)) = tokens.split_last() else {
            continue;
        };
        // A path through a figure another pointer took whole (`/a` then `/a/0`) is already
        // in it: nothing to add.
        let mut at = Some(&mut out);
        for t in path {
            at = at.and_then(|v| v.as_object_mut()).map(|o| {
                o.entry(t.clone())
                    .or_insert_with(|| serde_json::Value::Object(Default::default()))
            });
        }
        if let Some(o) = at.and_then(|v| v.as_object_mut()) {
            o.insert(leaf.clone(), x.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{fixtures, Event, RecordBuilder, RunRecord, RunStatus};
    use crate::sample::ProcSample;
    use crate::scenario::{SeriesKind, SeriesSpec, SeriesUnit};

    const MIB: u64 = 1 << 20;

    fn mark(name: &str, start: f64, end: f64) -> Event {
        Event::Phase(PhaseMark {
            name: name.into(),
            start,
            end,
        })
    }

    /// The series the tests declare: a gauge and a rate of the fixture's `/stats`.
    fn declared() -> Vec<SeriesSpec> {
        [
            ("/app/live_bytes", SeriesKind::Gauge),
            ("/served", SeriesKind::Rate),
        ]
        .map(|(stat, kind)| SeriesSpec {
            label: stat.into(),
            stat: stat.into(),
            kind,
            unit: SeriesUnit::Count,
        })
        .into()
    }

    /// A `/stats` reading of `n`, with a bulk no figure reads.
    fn stats(t: f64, n: usize) -> Event {
        Event::Stats(StatsSample {
            t,
            stats: serde_json::json!({
                "app": { "live_bytes": n, "leaked_bytes": n * 7 },
                "served": t as u64 * 40 + n as u64,
                "bulk": vec![n; 50],
            }),
        })
    }

    /// A soak of `cycles` cycles (2 s of load, 1.5 s of drain, then 0.2 s of gap with the
    /// `/stats` reading after the drain) sampled every 50 ms (`/stats` and the process tree
    /// every 500 ms), whose A grows by 1 MiB a cycle, fed to a builder as a run streams it:
    /// each phase begun, its samples, then ended. `soak` says whether the header plans a
    /// soak; `series`, whether it declares series.
    fn soak(cycles: usize, soak: bool, series: bool) -> RecordBuilder {
        let mut header = fixtures::header("glibc", 1);
        header.phases_planned.soak = soak.then(|| std::time::Duration::from_secs(60));
        if series {
            header.report.series = declared();
        }
        let mut b = RecordBuilder::default();
        b.apply(&Event::Start(Box::new(header)));
        let mut t = 0.0;
        let mut phase = |b: &mut RecordBuilder, name: &str, len: f64, rss: &dyn Fn(f64) -> u64| {
            let start = t;
            b.apply(&mark(name, start, start));
            for i in 0..(len * 20.0) as usize {
                let at = start + i as f64 * 0.05;
                b.apply(&Event::Sample(Sample {
                    t: at,
                    rss_anon: rss(at - start),
                    ..Default::default()
                }));
                if i % 10 == 0 {
                    b.apply(&stats(at, i));
                    let one = ProcSample {
                        pid: 1,
                        ppid: 0,
                        name: "server".into(),
                        sample: Sample::default(),
                    };
                    let procs = vec![one; 1 + (at as usize * 7) % 5];
                    b.apply(&Event::Procs(TreeSample { t: at, procs }));
                }
            }
            t = start + len;
            b.apply(&mark(name, start, t));
            if name == "drain" {
                b.apply(&Event::Sample(Sample {
                    t: t + 0.1,
                    rss_anon: rss(len),
                    ..Default::default()
                }));
                b.apply(&stats(t + 0.1, 1));
                t += 0.2;
            }
        };
        phase(&mut b, "before", 2.0, &|_| 10 * MIB);
        for k in 0..cycles as u64 {
            phase(&mut b, "during", 2.0, &|x| {
                (50 + k) * MIB + (x * 10.0) as u64
            });
            phase(&mut b, "drain", 1.5, &|x| {
                (20 + k) * MIB - (x * 10.0) as u64
            });
        }
        b
    }

    fn record(b: RecordBuilder) -> RunRecord {
        let h = b.start.clone().unwrap();
        b.build(h, RunStatus::Ok, None, None)
    }

    #[test]
    fn a_soaks_finished_cycles_keep_a_bounded_number_of_readings() {
        let b = soak(40, true, false);
        let drains: Vec<&PhaseMark> = b.phases.iter().filter(|m| m.name == "drain").collect();
        // From the end of the drain before (the gap after it included) to this drain's end:
        // A's window at 50 ms, 21 samples at most (both ends count), the peak, the spread;
        // no `/stats` reading (none declared), one of the process tree.
        let bound = 21 + 1 + SAMPLES_PER_CYCLE;
        for k in 2..40 {
            let of = |t: f64| t > drains[k - 1].end && t <= drains[k].end;
            let n = b.samples.iter().filter(|s| of(s.t)).count();
            assert!(
                n <= bound,
                "cycle {}: {n} samples, more than {bound}",
                k + 1
            );
            assert_eq!(b.stats.iter().filter(|s| of(s.t)).count(), 0);
            assert_eq!(b.procs.iter().filter(|s| of(s.t)).count(), 1);
        }
        // The first cycle, what came before it and the gap after its drain are whole: 2 s +
        // 2 s + 1.5 s at 20 a second, and the sample after the drain; the second cycle from
        // its `during` on is thinned.
        let first = b.samples.iter().filter(|s| s.t < drains[0].end + 0.2);
        assert_eq!(first.count(), 111);
        let gap = |d: &PhaseMark| {
            b.stats
                .iter()
                .filter(|s| s.t > d.end)
                .find(|s| s.t < d.end + 0.2)
        };
        assert_eq!(
            gap(drains[0]).unwrap().stats["bulk"]
                .as_array()
                .unwrap()
                .len(),
            50
        );
        // The gap after the last drain stays whole until a cycle after it ends.
        assert!(gap(drains[39]).is_some());
        assert!(gap(drains[38]).is_none());
    }

    #[test]
    fn thinning_changes_no_figure() {
        let (thinned, whole) = (record(soak(12, true, true)), record(soak(12, false, true)));
        assert!(thinned.samples.len() < whole.samples.len() / 2);
        assert_eq!(thinned.figures, whole.figures);
        assert_eq!(thinned.figures.cycles.len(), 12);
        assert!(thinned.figures.soak.is_some());
        // The declared series, which the report plots and takes the peak of from every
        // reading, and the most processes, which the scenario's summary reads from every one.
        for spec in declared() {
            let points = |r: &RunRecord| crate::report::series::points(r, &spec);
            assert_eq!(points(&thinned), points(&whole), "{}", spec.stat);
            assert!(points(&whole).len() > 12 * 4);
        }
        let most = |r: &RunRecord| r.procs.iter().map(|p| p.procs.len()).max();
        assert_eq!(most(&thinned), most(&whole));
        // The rest of a reading goes but for those before the load (4), of the first cycle
        // (4 + 3), after its drain and after the last (1 each).
        let bulk = |r: &RunRecord| {
            r.stats
                .iter()
                .filter(|s| s.stats.get("bulk").is_some())
                .count()
        };
        assert_eq!(bulk(&thinned), 4 + 4 + 3 + 1 + 1);
        assert_eq!(bulk(&whole), whole.stats.len());
    }

    #[test]
    fn runs_that_are_not_soaks_keep_every_sample() {
        let b = soak(6, false, false);
        assert_eq!(b.samples.len(), 40 + 6 * 71);
    }

    #[test]
    fn only_keeps_the_figures_at_the_pointers() {
        let v = serde_json::json!({ "a": { "b/c": 1, "d": [5, 6] }, "e": 2 });
        let p = |ps: &[&str]| only(&v, &ps.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let kept = p(&["/a/b~1c", "/a/d/1", "/x"]);
        assert_eq!(
            kept,
            serde_json::json!({ "a": { "b/c": 1, "d": { "1": 6 } } })
        );
        assert_eq!(kept.pointer("/a/d/1"), v.pointer("/a/d/1"));
        assert_eq!(p(&["/a", "/a/d/0"]), serde_json::json!({ "a": v["a"] }));
        assert_eq!(p(&["/x"]), serde_json::json!({}));
    }
}

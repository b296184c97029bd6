//! A soak's finished cycles, thinned as each ends, so the harness's memory does not grow with
//! the soak's length: of every cycle after the first, the record keeps what its figures read
//! (P_k's sample, A_k's last second of the drain) and a few readings spread over the cycle for
//! the plots. The `.jsonl` stream keeps every reading; this thins only what is held in memory
//! and so what `runs/VARIANT-N.json` is written from.
//!
//! Every other figure of a run is the first cycle's (the first `during`, the first `drain`,
//! the gap after it where the `/stats` reading after the drain is taken), and the first cycle
//! is never thinned, so a run's figures are the same thinned or not.

use super::StatsSample;
use crate::figures::{last_second_window, max_of, PhaseMark, Timed};
use crate::sample::{MappingBreakdown, Sample, TreeSample};

/// Samples kept per thinned cycle for the plots, spread over the cycle, beside those P_k and
/// A_k are taken from. Four show a cycle's rise and fall at the scale of a soak's plot
/// (hundreds of cycles across); the samples of A's window add 1 s / the sample interval (21 at
/// the default 50 ms).
pub const SAMPLES_PER_CYCLE: usize = 4;

/// Readings of every other series (`/stats`, probe, smaps, mappings, cgroup, processes) kept
/// per thinned cycle: one. No figure reads them past the first cycle, and a `/stats` reading
/// is the largest thing a run holds (a `serde_json::Value` tree, about 28 KB of heap per
/// cycle at 2 readings a second, measured with heaptrack on 2026-12-07); the reading taken
/// after each drain, in the gap before the next cycle, is outside the span and stays.
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

/// The span of a finished cycle that may be thinned: from its `during`'s start (after the
/// previous drain's end, exclusive, so nothing of the cycle before is touched) to its drain's
/// end; and the cycle's phases, whose figures decide what is kept.
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
    Some(Span {
        after: phases[previous].end,
        from: during.start,
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

    /// Thins any other series to [`READINGS_PER_CYCLE`] readings.
    pub fn series<T: Timed>(&self, readings: &mut Vec<T>) {
        self.thin(readings, |_| false, READINGS_PER_CYCLE);
    }

    /// Keeps, within the span, the readings `must` names and every n-th of the others so that
    /// at most `spread` of them stay; outside it, everything.
    fn thin<T: Timed>(&self, readings: &mut Vec<T>, must: impl Fn(&T) -> bool, spread: usize) {
        let others = readings
            .iter()
            .filter(|r| self.holds(r.t()) && !must(r))
            .count();
        let step = others.div_ceil(spread).max(1);
        let mut k = 0;
        readings.retain(|r| {
            if !self.holds(r.t()) || must(r) {
                return true;
            }
            k += 1;
            (k - 1) % step == 0
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{fixtures, Event, RecordBuilder, RunStatus};

    const MIB: u64 = 1 << 20;

    fn mark(name: &str, start: f64, end: f64) -> Event {
        Event::Phase(PhaseMark {
            name: name.into(),
            start,
            end,
        })
    }

    /// A soak of `cycles` cycles (2 s of load, 1.5 s of drain) sampled every 50 ms (`/stats`
    /// every 500 ms), whose A grows by 1 MiB a cycle, fed to a builder as a run streams it: each phase begun, its
    /// samples, then ended. `soak` says whether the header plans a soak.
    fn soak(cycles: usize, soak: bool) -> RecordBuilder {
        let mut header = fixtures::header("glibc", 1);
        header.phases_planned.soak = soak.then(|| std::time::Duration::from_secs(60));
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
                    b.apply(&Event::Stats(StatsSample {
                        t: at,
                        stats: serde_json::json!({ "app": { "live_bytes": i } }),
                    }));
                }
            }
            t = start + len;
            b.apply(&mark(name, start, t));
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

    #[test]
    fn a_soaks_finished_cycles_keep_a_bounded_number_of_samples() {
        let b = soak(40, true);
        let drains: Vec<&PhaseMark> = b.phases.iter().filter(|m| m.name == "drain").collect();
        let during: Vec<&PhaseMark> = b.phases.iter().filter(|m| m.name == "during").collect();
        // A's window at 50 ms: 21 samples at most (both ends count), the peak, the spread.
        let bound = 21 + 1 + SAMPLES_PER_CYCLE;
        for k in 1..40 {
            let n = b
                .samples
                .iter()
                .filter(|s| s.t > drains[k - 1].end && s.t >= during[k].start)
                .filter(|s| s.t <= drains[k].end)
                .count();
            assert!(
                n <= bound,
                "cycle {}: {n} samples, more than {bound}",
                k + 1
            );
        }
        // The first cycle and what came before it are whole: 2 s + 2 s + 1.5 s at 20 a second.
        let first = b.samples.iter().filter(|s| s.t < drains[0].end).count();
        assert_eq!(first, 110);
    }

    #[test]
    fn thinning_changes_no_figure() {
        let figures = |b: RecordBuilder| {
            let h = b.start.clone().unwrap();
            b.build(h, RunStatus::Ok, None, None).figures
        };
        let thinned = figures(soak(12, true));
        let whole = figures(soak(12, false));
        assert_eq!(thinned, whole);
        assert_eq!(thinned.cycles.len(), 12);
        assert!(thinned.soak.is_some());
    }

    #[test]
    fn runs_that_are_not_soaks_keep_every_sample() {
        let b = soak(6, false);
        assert_eq!(b.samples.len(), 40 + 6 * 70);
    }
}

//! The figures of a run, exactly as docs/measurements.md defines them, computed from the samples and the
//! phase marks. Pure functions: the record in, numbers out.

use serde::{Deserialize, Serialize};

use crate::cgroup::CgroupSample;
pub mod curve;
pub mod cycles;
pub mod pages;
pub mod soak;

use crate::sample::{Sample, SmapsRollup};
use cycles::{Cycle, CycleVerdict};

/// Below this peak growth, retention is noise and is not computed.
pub const MIN_GROWTH_FOR_RETENTION: u64 = 4 << 20;

/// A phase as it happened: name and start/end in seconds since the run started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseMark {
    pub name: String,
    pub start: f64,
    pub end: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// B: median RssAnon over the last second of `before`.
    pub rss_before_bytes: Option<u64>,
    /// P: max RssAnon during `during`.
    pub rss_peak_bytes: Option<u64>,
    /// A: median RssAnon over the last second of `drain` — the gate figure.
    pub rss_after_drain_bytes: Option<u64>,
    /// R = (A − B) / (P − B); null when P − B < 4 MiB.
    pub retention: Option<f64>,
    /// Seconds from the load's end until RssAnon ≤ B + 0.1·(P − B), within the drain; null if
    /// never. The load's end is its last request's end ([`compute`]'s `load_end`); records
    /// written before that was kept count from the end of `during`.
    pub t90_s: Option<f64>,
    /// RssAnon 1 s, 5 s and 60 s after the load's end, and each as a share of the growth
    /// ([`curve`]): the curve A is the last point of.
    #[serde(flatten)]
    pub after_load: curve::AfterLoad,
    /// VmSize at the same points.
    pub vsz_before_bytes: Option<u64>,
    pub vsz_peak_bytes: Option<u64>,
    pub vsz_after_drain_bytes: Option<u64>,
    /// Median RssAnon over the last second of `nudge` / `release`, when those phases ran.
    pub rss_after_nudge_bytes: Option<u64>,
    pub rss_after_release_bytes: Option<u64>,
    /// Server CPU seconds (utime + stime) during `during`.
    pub server_cpu_during_s: Option<f64>,
    /// With `[phases] cycles = N` (N > 1): P_k and A_k of every cycle of `during` + `drain`.
    /// B, P, A and the rest above are the first cycle's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cycles: Vec<Cycle>,
    /// Leak or retention, from `cycles`: plateau or growth, and the figures that decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle_verdict: Option<CycleVerdict>,
    /// With 4 cycles or more (`[phases] soak`): the slope of A after the first cycle, per hour,
    /// with its 95% interval ([`soak`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<soak::Slope>,
    /// Memory as a container sees it, after the drain (the readings of the last second of
    /// `drain`, at the smaps interval; the last of the drain if none fell in that second):
    /// RssAnon − LazyFree, the anonymous memory the kernel could not take back at once
    /// (`MADV_FREE` pages are counted in RssAnon until it does).
    #[serde(default)]
    pub rss_anon_less_lazy_free_after_drain_bytes: Option<u64>,
    /// What the server's memory cgroup was charged (`memory.usage_in_bytes` / `memory.current`).
    #[serde(default)]
    pub cgroup_usage_after_drain_bytes: Option<u64>,
    /// Its working set, usage − inactive file pages: what kubelet and `docker stats` report.
    #[serde(default)]
    pub cgroup_working_set_after_drain_bytes: Option<u64>,
}

/// How a run's memory came back after the load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Recovery {
    /// Within 10% of the growth, this many seconds after the load ended (t90).
    After(f64),
    /// It grew and never came back within the run.
    Never,
    /// No growth to come back from (or no figures).
    NoGrowth,
}

impl Figures {
    pub fn recovery(&self) -> Recovery {
        match (self.t90_s, self.rss_before_bytes, self.rss_peak_bytes) {
            (Some(t), _, _) => Recovery::After(t),
            (None, Some(b), Some(p)) if p > b => Recovery::Never,
            _ => Recovery::NoGrowth,
        }
    }

    /// Each figure's median over several runs. A run that never recovered counts as
    /// infinitely slow for t90, so a median over mostly such runs is "never" (null).
    pub fn medians(sets: &[&Figures]) -> Figures {
        let u = |f: fn(&Figures) -> Option<u64>| {
            median_u64(&sets.iter().filter_map(|s| f(s)).collect::<Vec<_>>())
        };
        let x = |f: fn(&Figures) -> Option<f64>| {
            median_f64(&sets.iter().filter_map(|s| f(s)).collect::<Vec<_>>())
                .filter(|m| m.is_finite())
        };
        Figures {
            rss_before_bytes: u(|s| s.rss_before_bytes),
            rss_peak_bytes: u(|s| s.rss_peak_bytes),
            rss_after_drain_bytes: u(|s| s.rss_after_drain_bytes),
            retention: x(|s| s.retention),
            t90_s: x(|s| match s.recovery() {
                Recovery::After(t) => Some(t),
                Recovery::Never => Some(f64::INFINITY),
                Recovery::NoGrowth => None,
            }),
            after_load: curve::AfterLoad::medians(
                &sets.iter().map(|s| &s.after_load).collect::<Vec<_>>(),
            ),
            vsz_before_bytes: u(|s| s.vsz_before_bytes),
            vsz_peak_bytes: u(|s| s.vsz_peak_bytes),
            vsz_after_drain_bytes: u(|s| s.vsz_after_drain_bytes),
            rss_after_nudge_bytes: u(|s| s.rss_after_nudge_bytes),
            rss_after_release_bytes: u(|s| s.rss_after_release_bytes),
            server_cpu_during_s: x(|s| s.server_cpu_during_s),
            rss_anon_less_lazy_free_after_drain_bytes: u(|s| {
                s.rss_anon_less_lazy_free_after_drain_bytes
            }),
            cgroup_usage_after_drain_bytes: u(|s| s.cgroup_usage_after_drain_bytes),
            cgroup_working_set_after_drain_bytes: u(|s| s.cgroup_working_set_after_drain_bytes),
            ..Figures::default()
        }
        .with_cycles(cycles::medians(
            &sets.iter().map(|s| s.cycles.as_slice()).collect::<Vec<_>>(),
        ))
    }

    /// These figures with the container's view after the drain: from the smaps readings
    /// (LazyFree, with the RssAnon sample of the same instant) and the cgroup's.
    pub fn with_container(
        mut self,
        samples: &[Sample],
        smaps: &[SmapsRollup],
        cgroup: &[CgroupSample],
        marks: &[PhaseMark],
    ) -> Figures {
        let Some(drain) = phase(marks, "drain") else {
            return self;
        };
        // Each rollup is read right after the sample of its `t`.
        let less_lazy: Vec<At> = smaps
            .iter()
            .filter_map(|r| {
                let s = samples
                    .iter()
                    .min_by(|a, b| (a.t - r.t).abs().total_cmp(&(b.t - r.t).abs()))
                    .filter(|s| (s.t - r.t).abs() < 0.5)?;
                Some(At {
                    t: r.t,
                    v: s.rss_anon.saturating_sub(r.lazy_free),
                })
            })
            .collect();
        self.rss_anon_less_lazy_free_after_drain_bytes =
            last_second_or_last_of(&less_lazy, drain, |a| a.v);
        self.cgroup_usage_after_drain_bytes = last_second_or_last_of(cgroup, drain, |c| c.usage);
        self.cgroup_working_set_after_drain_bytes =
            last_second_or_last_of(cgroup, drain, |c| c.working_set);
        self
    }

    /// These figures with `cycles` and the verdict they give.
    fn with_cycles(mut self, cycles: Vec<Cycle>) -> Figures {
        self.cycle_verdict = cycles::verdict(self.rss_before_bytes, &cycles);
        self.soak = soak::slope(&cycles);
        self.cycles = cycles;
        self
    }
}

fn phase<'a>(marks: &'a [PhaseMark], name: &str) -> Option<&'a PhaseMark> {
    marks.iter().find(|m| m.name == name)
}

/// A reading taken at `t` seconds into the run: samples, smaps rollups, cgroup readings.
pub trait Timed {
    fn t(&self) -> f64;
}

impl Timed for Sample {
    fn t(&self) -> f64 {
        self.t
    }
}

impl Timed for SmapsRollup {
    fn t(&self) -> f64 {
        self.t
    }
}

impl Timed for CgroupSample {
    fn t(&self) -> f64 {
        self.t
    }
}

/// A value derived from readings of one instant.
struct At {
    t: f64,
    v: u64,
}

impl Timed for At {
    fn t(&self) -> f64 {
        self.t
    }
}

/// Readings with `from <= t <= to`.
fn window<T: Timed>(samples: &[T], from: f64, to: f64) -> impl Iterator<Item = &T> {
    samples.iter().filter(move |s| s.t() >= from && s.t() <= to)
}

/// Median, the one convention of every figure: the middle value, or for an even count the
/// mean of the middle two, rounded down (so byte figures stay whole bytes).
pub fn median_u64(values: &[u64]) -> Option<u64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some(((v[n / 2 - 1] as u128 + v[n / 2] as u128) / 2) as u64),
    }
}

/// Median of floats, NaN left out. Infinities count (a t90 of "never" is infinitely slow), so
/// the median itself may be infinite.
pub fn median_f64(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Median of `f` over the last second of a phase.
fn last_second(
    samples: &[Sample],
    marks: &[PhaseMark],
    name: &str,
    f: fn(&Sample) -> u64,
) -> Option<u64> {
    last_second_of(samples, phase(marks, name)?, f)
}

/// The readings of the last second of the phase `p`: the window B and A are taken over.
pub(crate) fn last_second_window<'a, T: Timed>(
    readings: &'a [T],
    p: &PhaseMark,
) -> impl Iterator<Item = &'a T> {
    window(readings, (p.end - 1.0).max(p.start), p.end)
}

/// Median of `f` over the last second of the phase `p`.
pub(crate) fn last_second_of<T: Timed>(
    samples: &[T],
    p: &PhaseMark,
    f: impl Fn(&T) -> u64,
) -> Option<u64> {
    median_u64(&last_second_window(samples, p).map(f).collect::<Vec<_>>())
}

/// [`last_second_of`] for readings taken about once a second (the smaps interval), of which
/// the last second may hold none: then the last reading within the phase.
pub(crate) fn last_second_or_last_of<T: Timed>(
    readings: &[T],
    p: &PhaseMark,
    f: impl Fn(&T) -> u64,
) -> Option<u64> {
    last_second_of(readings, p, &f).or_else(|| window(readings, p.start, p.end).last().map(f))
}

/// Highest `f` within the phase `p`.
pub(crate) fn max_of<T: Timed>(samples: &[T], p: &PhaseMark, f: impl Fn(&T) -> u64) -> Option<u64> {
    window(samples, p.start, p.end).map(f).max()
}

fn max_in(
    samples: &[Sample],
    marks: &[PhaseMark],
    name: &str,
    f: fn(&Sample) -> u64,
) -> Option<u64> {
    max_of(samples, phase(marks, name)?, f)
}

/// The peak moment, the one instant every table means by "at the peak": the `t` of the first
/// sample of `during` whose RssAnon is P (the highest of `during`) — when the peak was reached,
/// not the last moment it still held. None without a `during` or a sample in it.
pub fn peak_moment(samples: &[Sample], marks: &[PhaseMark]) -> Option<f64> {
    let during = phase(marks, "during")?;
    let p = max_of(samples, during, |s| s.rss_anon)?;
    window(samples, during.start, during.end)
        .find(|s| s.rss_anon == p)
        .map(|s| s.t)
}

/// (X − B) / (P − B): the share of the load's growth still held at X, as retention is at A;
/// none when P − B < [`MIN_GROWTH_FOR_RETENTION`].
pub fn share_of_growth(b: Option<u64>, p: Option<u64>, x: Option<u64>) -> Option<f64> {
    match (b, p, x) {
        (Some(b), Some(p), Some(x)) if p.saturating_sub(b) >= MIN_GROWTH_FOR_RETENTION => {
            Some((x as f64 - b as f64) / (p - b) as f64)
        }
        _ => None,
    }
}

/// The figures of a run from its samples and phase marks, for a run whose load's end is not
/// known: [`compute_with_load_end`] with none.
pub fn compute(samples: &[Sample], marks: &[PhaseMark]) -> Figures {
    compute_with_load_end(samples, marks, None)
}

/// The figures of a run from its samples and phase marks. `load_end` is when the `during`
/// load really ended, in the run's clock: its last request's end. Without it (nothing sent, or
/// a record written before it was kept) t90 counts from the end of `during`, which also waits
/// for the load's workers to drain and exit.
pub fn compute_with_load_end(
    samples: &[Sample],
    marks: &[PhaseMark],
    load_end: Option<f64>,
) -> Figures {
    let rss = |s: &Sample| s.rss_anon;
    let vsz = |s: &Sample| s.vm_size;
    let b = last_second(samples, marks, "before", rss);
    let p = max_in(samples, marks, "during", rss);
    let a = last_second(samples, marks, "drain", rss);
    let retention = share_of_growth(b, p, a);
    // Within the drain: memory that came back only when a nudge or a release asked for it did
    // not come back by itself (a run without a drain mark, killed early, looks to its end).
    let drain_end = phase(marks, "drain").map_or(f64::INFINITY, |d| d.end);
    let t90 = match (b, p, phase(marks, "during")) {
        (Some(b), Some(p), Some(during)) if p > b => {
            let threshold = b as f64 + 0.1 * (p - b) as f64;
            let from = load_end.unwrap_or(during.end);
            samples
                .iter()
                .filter(|s| s.t >= from && s.t <= drain_end)
                .find(|s| s.rss_anon as f64 <= threshold)
                .map(|s| s.t - from)
        }
        _ => None,
    };
    let cpu = phase(marks, "during").and_then(|d| {
        let first = samples.iter().find(|s| s.t >= d.start)?;
        let last = samples.iter().rev().find(|s| s.t <= d.end)?;
        Some((last.cpu_s - first.cpu_s).max(0.0))
    });
    Figures {
        rss_before_bytes: b,
        rss_peak_bytes: p,
        rss_after_drain_bytes: a,
        retention,
        t90_s: t90,
        after_load: curve::after_load(samples, marks, load_end, b, p),
        vsz_before_bytes: last_second(samples, marks, "before", vsz),
        vsz_peak_bytes: max_in(samples, marks, "during", vsz),
        vsz_after_drain_bytes: last_second(samples, marks, "drain", vsz),
        rss_after_nudge_bytes: last_second(samples, marks, "nudge", rss),
        rss_after_release_bytes: last_second(samples, marks, "release", rss),
        server_cpu_during_s: cpu,
        ..Figures::default()
    }
    .with_cycles(cycles::of_run(samples, marks))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn mark(name: &str, start: f64, end: f64) -> PhaseMark {
        PhaseMark {
            name: name.into(),
            start,
            end,
        }
    }

    /// 10 samples a second; RssAnon by a function of time.
    fn series(until: f64, f: impl Fn(f64) -> u64) -> Vec<Sample> {
        (0..=(until * 10.0) as usize)
            .map(|i| {
                let t = i as f64 / 10.0;
                Sample {
                    t,
                    rss_anon: f(t),
                    vm_size: 2 * f(t),
                    cpu_s: t,
                    ..Default::default()
                }
            })
            .collect()
    }

    fn marks() -> Vec<PhaseMark> {
        vec![
            mark("before", 0.0, 3.0),
            mark("during", 3.0, 8.0),
            mark("drain", 8.0, 14.0),
        ]
    }

    #[test]
    fn retained_memory() {
        // 10 MiB before, 110 MiB at the peak, 90 MiB after the drain.
        let s = series(14.0, |t| {
            if t < 3.0 {
                10 * MIB
            } else if t <= 8.0 {
                10 * MIB + ((t - 3.0) * 20.0) as u64 * MIB
            } else {
                90 * MIB
            }
        });
        let f = compute(&s, &marks());
        assert_eq!(f.rss_before_bytes, Some(10 * MIB));
        assert_eq!(f.rss_peak_bytes, Some(110 * MIB));
        assert_eq!(f.rss_after_drain_bytes, Some(90 * MIB));
        assert_eq!(f.retention, Some(0.8));
        assert_eq!(f.t90_s, None, "never came back");
        assert_eq!(f.vsz_after_drain_bytes, Some(180 * MIB));
        assert!((f.server_cpu_during_s.unwrap() - 5.0).abs() < 1e-9);
    }

    #[test]
    fn released_memory_has_t90() {
        // Falls back to the baseline two seconds after the load stops.
        let s = series(14.0, |t| {
            if (3.0..=8.0).contains(&t) {
                110 * MIB
            } else if t > 8.0 && t < 10.0 {
                60 * MIB
            } else {
                10 * MIB
            }
        });
        let f = compute(&s, &marks());
        assert_eq!(f.retention, Some(0.0));
        let t90 = f.t90_s.unwrap();
        assert!((t90 - 2.0).abs() < 0.11, "t90 {t90}");
    }

    /// t90 counts from the load's last request's end, not from the end of `during` (which
    /// waits for the workers to exit): memory back 0.5 s after the last response, while
    /// `during` still ran, is 0.5 s, where counting from `during`'s end made it 0.0.
    #[test]
    fn t90_counts_from_the_loads_last_response() {
        let s = series(14.0, |t| match t {
            t if t < 3.0 => 10 * MIB,
            t if t < 7.5 => 110 * MIB,
            _ => 10 * MIB,
        });
        let t90 = |load_end| compute_with_load_end(&s, &marks(), load_end).t90_s.unwrap();
        assert!((t90(Some(7.0)) - 0.5).abs() < 1e-9, "{}", t90(Some(7.0)));
        // An old record, or a load that sent nothing: from the end of `during`, as before.
        assert_eq!(t90(None), 0.0);
        assert_eq!(compute(&s, &marks()).t90_s, Some(0.0));
        // A later end than the drop: the first sample from the end on.
        assert!((t90(Some(7.95)) - 0.05).abs() < 1e-9, "{}", t90(Some(7.95)));
    }

    #[test]
    fn memory_given_back_only_by_the_nudge_has_no_t90() {
        // Held through the drain (8-14 s), back to the baseline in a nudge after it.
        let s = series(16.0, |t| match t {
            t if t < 3.0 => 10 * MIB,
            t if t <= 14.0 => 100 * MIB,
            _ => 10 * MIB,
        });
        let mut m = marks();
        m.push(mark("nudge", 14.0, 16.0));
        let f = compute(&s, &m);
        assert_eq!(f.t90_s, None, "it did not come back by itself");
        assert_eq!(f.rss_after_nudge_bytes, Some(10 * MIB));
        assert_eq!(f.recovery(), Recovery::Never);
    }

    #[test]
    fn small_growth_has_no_retention() {
        let s = series(14.0, |t| {
            if (3.0..=8.0).contains(&t) {
                13 * MIB
            } else {
                10 * MIB
            }
        });
        let f = compute(&s, &marks());
        assert_eq!(f.retention, None);
        assert!(f.rss_peak_bytes.is_some());
    }

    #[test]
    fn medians_over_the_last_second_only() {
        // A spike early in `before` does not move B.
        let s = series(14.0, |t| if t < 1.0 { 500 * MIB } else { 10 * MIB });
        assert_eq!(compute(&s, &marks()).rss_before_bytes, Some(10 * MIB));
        assert_eq!(median_u64(&[1, 3]), Some(2));
        assert_eq!(median_u64(&[30, 10, 20]), Some(20));
        assert_eq!(median_u64(&[]), None);
        assert_eq!(median_u64(&[u64::MAX, u64::MAX]), Some(u64::MAX));
        assert_eq!(median_f64(&[0.2, f64::NAN, 0.4]), Some(0.30000000000000004));
        assert_eq!(
            median_f64(&[1.0, f64::INFINITY, f64::INFINITY]),
            Some(f64::INFINITY)
        );
    }

    #[test]
    fn recovery_and_medians_over_runs() {
        let run = |b: u64, p: u64, a: u64, t90: Option<f64>| Figures {
            rss_before_bytes: Some(b),
            rss_peak_bytes: Some(p),
            rss_after_drain_bytes: Some(a),
            t90_s: t90,
            ..Default::default()
        };
        let (x, y, z) = (
            run(1, 100, 80, None),
            run(1, 100, 5, Some(2.0)),
            run(1, 100, 90, None),
        );
        assert_eq!(x.recovery(), Recovery::Never);
        assert_eq!(y.recovery(), Recovery::After(2.0));
        assert_eq!(run(1, 1, 1, None).recovery(), Recovery::NoGrowth);
        let m = Figures::medians(&[&x, &y, &z]);
        assert_eq!(m.rss_after_drain_bytes, Some(80));
        assert_eq!(
            m.t90_s, None,
            "two of three never recovered: the median is never"
        );
        assert_eq!(Figures::medians(&[&y, &y, &x]).t90_s, Some(2.0));
    }

    #[test]
    fn the_containers_view_after_the_drain() {
        // 90 MiB of RssAnon after the drain, 60 MiB of it MADV_FREE'd; smaps and the cgroup
        // read once a second, at the `t` of a sample.
        let s = series(14.0, |t| if t < 8.0 { 10 * MIB } else { 90 * MIB });
        let at = |t: f64, lazy: u64| SmapsRollup {
            t,
            lazy_free: lazy * MIB,
            ..Default::default()
        };
        let smaps = vec![at(7.0, 0), at(11.0, 50), at(12.0, 60), at(13.5, 60)];
        let cg = |t: f64, usage: u64, inactive: u64| CgroupSample {
            t,
            usage: usage * MIB,
            inactive_file: inactive * MIB,
            working_set: (usage - inactive) * MIB,
        };
        let cgroup = vec![cg(12.0, 200, 100), cg(13.0, 100, 4), cg(13.5, 102, 4)];
        let f = compute(&s, &marks()).with_container(&s, &smaps, &cgroup, &marks());
        // The last second of the drain is 13.0..=14.0.
        assert_eq!(f.rss_anon_less_lazy_free_after_drain_bytes, Some(30 * MIB));
        assert_eq!(f.cgroup_usage_after_drain_bytes, Some(101 * MIB));
        assert_eq!(f.cgroup_working_set_after_drain_bytes, Some(97 * MIB));
        // No reading in the last second: the last of the drain; none in the drain: no figure.
        let f = compute(&s, &marks()).with_container(&s, &smaps[..3], &cgroup[..1], &marks());
        assert_eq!(f.rss_anon_less_lazy_free_after_drain_bytes, Some(30 * MIB));
        assert_eq!(f.cgroup_working_set_after_drain_bytes, Some(100 * MIB));
        let f = compute(&s, &marks()).with_container(&s, &smaps[..1], &[], &marks());
        assert_eq!(
            (
                f.rss_anon_less_lazy_free_after_drain_bytes,
                f.cgroup_usage_after_drain_bytes
            ),
            (None, None)
        );
        // Medians over runs take them too.
        let g = Figures {
            cgroup_working_set_after_drain_bytes: Some(MIB),
            ..Default::default()
        };
        let m = Figures::medians(&[&g, &g, &Figures::default()]);
        assert_eq!(m.cgroup_working_set_after_drain_bytes, Some(MIB));
    }

    #[test]
    fn the_peak_moment_is_the_first_sample_at_p() {
        // P = 110 MiB is first reached at 5.0 s and held to 8.0 s; a higher sample in the
        // drain does not count.
        let s = series(14.0, |t| match t {
            t if t < 5.0 => 10 * MIB,
            t if t <= 8.0 => 110 * MIB,
            t if t < 9.0 => 200 * MIB,
            _ => 10 * MIB,
        });
        let t = peak_moment(&s, &marks()).unwrap();
        assert!((t - 5.0).abs() < 1e-9, "peak moment {t}");
        assert_eq!(compute(&s, &marks()).rss_peak_bytes, Some(110 * MIB));
        assert_eq!(peak_moment(&s, &[mark("before", 0.0, 3.0)]), None);
        assert_eq!(peak_moment(&[], &marks()), None);
    }

    #[test]
    fn missing_phases_give_nulls() {
        let s = series(2.0, |_| MIB);
        let f = compute(&s, &[mark("before", 0.0, 2.0)]);
        assert!(f.rss_before_bytes.is_some());
        assert_eq!(
            (f.rss_peak_bytes, f.rss_after_drain_bytes, f.retention),
            (None, None, None)
        );
    }
}

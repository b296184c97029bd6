//! The curve after the load: RssAnon at fixed times after the load's end (1 s, 5 s, 60 s) and
//! the share of the growth still held at each, beside A (the end of the drain), which it
//! reuses. A, at one instant, hides whether memory came back in a second or just before A's
//! window; these points show how fast it did.

use serde::{Deserialize, Serialize};

use super::{median_f64, median_u64, phase, share_of_growth, window, Figures, PhaseMark};
use crate::sample::Sample;

/// Half the window a point of the curve is the median over: ±100 ms around its instant, two
/// sampling intervals at the default 50 ms (docs/measurements.md#the-curve-after-the-load).
pub const HALF_WINDOW_S: f64 = 0.1;

/// A point of the curve: which figure the gate's budgets and baseline compare (`[gate]
/// after`). `Drain` is A.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum After {
    #[serde(rename = "1s")]
    OneSecond,
    #[serde(rename = "5s")]
    FiveSeconds,
    #[default]
    #[serde(rename = "drain")]
    Drain,
    #[serde(rename = "60s")]
    SixtySeconds,
}

impl After {
    /// Every point, in the order of time.
    pub const ALL: [After; 4] = [
        After::OneSecond,
        After::FiveSeconds,
        After::Drain,
        After::SixtySeconds,
    ];

    /// As a scenario and a baseline write it: `1s`, `5s`, `drain`, `60s`.
    pub fn name(self) -> &'static str {
        match self {
            After::OneSecond => "1s",
            After::FiveSeconds => "5s",
            After::Drain => "drain",
            After::SixtySeconds => "60s",
        }
    }

    pub fn parse(s: &str) -> Option<After> {
        After::ALL.into_iter().find(|a| a.name() == s)
    }

    /// Seconds after the load's end; `None` for the end of the drain, whose instant is the
    /// drain's, not a fixed time.
    pub fn seconds(self) -> Option<f64> {
        match self {
            After::OneSecond => Some(1.0),
            After::FiveSeconds => Some(5.0),
            After::Drain => None,
            After::SixtySeconds => Some(60.0),
        }
    }
}

/// RssAnon at 1 s, 5 s and 60 s after the load's end, and each as a share of the growth,
/// (X − B) / (P − B) like retention. Missing where the drain ended before the instant, where
/// no sample fell in its window, or (the share) where P − B < 4 MiB: never 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AfterLoad {
    #[serde(default)]
    pub rss_after_load_1s_bytes: Option<u64>,
    #[serde(default)]
    pub rss_after_load_5s_bytes: Option<u64>,
    #[serde(default)]
    pub rss_after_load_60s_bytes: Option<u64>,
    #[serde(default)]
    pub retention_after_load_1s: Option<f64>,
    #[serde(default)]
    pub retention_after_load_5s: Option<f64>,
    #[serde(default)]
    pub retention_after_load_60s: Option<f64>,
}

impl AfterLoad {
    /// The bytes and the share at a fixed time; `None` for the drain (A is [`Figures`]').
    fn point(&self, after: After) -> Option<(Option<u64>, Option<f64>)> {
        match after {
            After::OneSecond => Some((self.rss_after_load_1s_bytes, self.retention_after_load_1s)),
            After::FiveSeconds => {
                Some((self.rss_after_load_5s_bytes, self.retention_after_load_5s))
            }
            After::SixtySeconds => {
                Some((self.rss_after_load_60s_bytes, self.retention_after_load_60s))
            }
            After::Drain => None,
        }
    }

    /// Each figure's median over runs.
    pub fn medians(sets: &[&AfterLoad]) -> AfterLoad {
        let u = |f: fn(&AfterLoad) -> Option<u64>| {
            median_u64(&sets.iter().filter_map(|s| f(s)).collect::<Vec<_>>())
        };
        let x = |f: fn(&AfterLoad) -> Option<f64>| {
            median_f64(&sets.iter().filter_map(|s| f(s)).collect::<Vec<_>>())
        };
        AfterLoad {
            rss_after_load_1s_bytes: u(|s| s.rss_after_load_1s_bytes),
            rss_after_load_5s_bytes: u(|s| s.rss_after_load_5s_bytes),
            rss_after_load_60s_bytes: u(|s| s.rss_after_load_60s_bytes),
            retention_after_load_1s: x(|s| s.retention_after_load_1s),
            retention_after_load_5s: x(|s| s.retention_after_load_5s),
            retention_after_load_60s: x(|s| s.retention_after_load_60s),
        }
    }
}

impl Figures {
    /// RssAnon at `after`: A for the drain, else the curve's point.
    pub fn rss_after(&self, after: After) -> Option<u64> {
        match self.after_load.point(after) {
            Some((bytes, _)) => bytes,
            None => self.rss_after_drain_bytes,
        }
    }

    /// The share of the growth held at `after`: retention for the drain.
    pub fn share_after(&self, after: After) -> Option<f64> {
        match self.after_load.point(after) {
            Some((_, share)) => share,
            None => self.retention,
        }
    }
}

/// The curve of a run from its samples and marks. `load_end` as t90 takes it (the load's last
/// response; the end of `during` when unknown); `b` and `p` are the run's B and P.
pub fn after_load(
    samples: &[Sample],
    marks: &[PhaseMark],
    load_end: Option<f64>,
    b: Option<u64>,
    p: Option<u64>,
) -> AfterLoad {
    let (Some(from), Some(drain)) = (
        load_end.or_else(|| phase(marks, "during").map(|d| d.end)),
        phase(marks, "drain"),
    ) else {
        return AfterLoad::default();
    };
    let at = |secs: f64| rss_at(samples, from + secs, drain.end);
    let (s1, s5, s60) = (at(1.0), at(5.0), at(60.0));
    let share = |x| share_of_growth(b, p, x);
    AfterLoad {
        rss_after_load_1s_bytes: s1,
        rss_after_load_5s_bytes: s5,
        rss_after_load_60s_bytes: s60,
        retention_after_load_1s: share(s1),
        retention_after_load_5s: share(s5),
        retention_after_load_60s: share(s60),
    }
}

/// Median RssAnon within ±[`HALF_WINDOW_S`] of `instant`, the window cut at the drain's end
/// (a nudge or a release after it is not the server left alone); none past the drain's end.
fn rss_at(samples: &[Sample], instant: f64, drain_end: f64) -> Option<u64> {
    if instant > drain_end {
        return None;
    }
    let to = (instant + HALF_WINDOW_S).min(drain_end);
    let v: Vec<u64> = window(samples, instant - HALF_WINDOW_S, to)
        .map(|s| s.rss_anon)
        .collect();
    median_u64(&v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::compute_with_load_end;

    const MIB: u64 = 1 << 20;

    fn mark(name: &str, start: f64, end: f64) -> PhaseMark {
        PhaseMark {
            name: name.into(),
            start,
            end,
        }
    }

    /// A sample every 50 ms from 0 to `until`, RssAnon by a function of the sample's index
    /// (exact times, no float drift in the windows).
    fn series(until_ms: u64, f: impl Fn(u64) -> u64) -> Vec<Sample> {
        (0..=until_ms / 50)
            .map(|i| Sample {
                t: (i * 50) as f64 / 1000.0,
                rss_anon: f(i * 50),
                ..Default::default()
            })
            .collect()
    }

    /// before 0–2 s, during 2 s to `during_end`, drain from there to `drain_end`.
    fn marks(during_end: f64, drain_end: f64) -> Vec<PhaseMark> {
        vec![
            mark("before", 0.0, 2.0),
            mark("during", 2.0, during_end),
            mark("drain", during_end, drain_end),
        ]
    }

    /// 10 MiB before, 110 MiB at the peak; after 3.9 s it falls 1 MiB per 50 ms sample down
    /// to 10 MiB. The instants below sit 25 ms off the sampling grid, so each window holds
    /// exactly four samples and its median is the mean of the middle two.
    fn falling(ms: u64) -> u64 {
        match ms {
            0..=1999 => 10 * MIB,
            2000..=3900 => 110 * MIB,
            _ => (110 - ((ms - 3900) / 50).min(100)) * MIB,
        }
    }

    /// The load's last response, 25 ms off the grid.
    const END: Option<f64> = Some(3.875);

    #[test]
    fn points_of_a_falling_curve() {
        let s = series(70_000, falling);
        let f = compute_with_load_end(&s, &marks(4.0, 70.0), END);
        let c = &f.after_load;
        // 1 s: 4.875 s, the samples 4.80 to 4.95 s at 92, 91, 90 and 89 MiB.
        assert_eq!(c.rss_after_load_1s_bytes, Some(90 * MIB + MIB / 2));
        assert_eq!(c.retention_after_load_1s, Some(0.805));
        // 5 s: 8.875 s, 12, 11, 10, 10 MiB.
        assert_eq!(c.rss_after_load_5s_bytes, Some(10 * MIB + MIB / 2));
        assert_eq!(c.retention_after_load_5s, Some(0.005));
        assert_eq!(c.rss_after_load_60s_bytes, Some(10 * MIB));
        assert_eq!(c.retention_after_load_60s, Some(0.0));
        // The end of the drain is A itself, not a fourth computation.
        assert_eq!(f.rss_after(After::Drain), f.rss_after_drain_bytes);
        assert_eq!(f.share_after(After::Drain), f.retention);
        assert_eq!(f.rss_after(After::OneSecond), Some(90 * MIB + MIB / 2));
        assert_eq!(f.share_after(After::SixtySeconds), Some(0.0));
    }

    #[test]
    fn a_point_past_the_drains_end_is_missing_never_zero() {
        let s = series(70_000, falling);
        // Drain to 30 s: 60 s after the load is past it.
        let f = compute_with_load_end(&s, &marks(4.0, 30.0), END);
        assert_eq!(f.after_load.rss_after_load_60s_bytes, None);
        assert_eq!(f.after_load.retention_after_load_60s, None);
        assert_eq!(f.rss_after(After::SixtySeconds), None);
        assert_eq!(
            f.after_load.rss_after_load_5s_bytes,
            Some(10 * MIB + MIB / 2)
        );
        // A drain to 4.5 s: not even 1 s.
        let f = compute_with_load_end(&s, &marks(4.0, 4.5), END);
        assert_eq!(f.after_load, AfterLoad::default());
        // No drain at all: no curve.
        let f = compute_with_load_end(&s, &marks(4.0, 70.0)[..2], END);
        assert_eq!(f.after_load, AfterLoad::default());
    }

    #[test]
    fn a_spike_does_not_move_a_point_and_the_window_stops_at_the_drains_end() {
        // Flat 50 MiB after the load but one spike at 4.9 s, beside the 1 s instant: the
        // median of 4.80 to 4.95 s ignores it.
        let s = series(70_000, |ms| match ms {
            0..=1999 => 10 * MIB,
            2000..=3900 => 110 * MIB,
            4900 => 500 * MIB,
            _ => 50 * MIB,
        });
        let f = compute_with_load_end(&s, &marks(4.0, 70.0), END);
        assert_eq!(f.after_load.rss_after_load_1s_bytes, Some(50 * MIB));
        assert_eq!(f.after_load.retention_after_load_1s, Some(0.4));
        // A release right after a drain ending at 63.9 s frees everything from 63.9 s on: the
        // 60 s window (63.775 to 63.975 s) takes the drain's samples only, 63.8 and 63.85 at
        // 10 MiB and 63.9 at 0; with 63.95 it would be 5 MiB.
        let s = series(70_000, |ms| if ms > 63_850 { 0 } else { falling(ms) });
        let f = compute_with_load_end(&s, &marks(4.0, 63.9), END);
        assert_eq!(f.after_load.rss_after_load_60s_bytes, Some(10 * MIB));
    }

    #[test]
    fn without_the_loads_end_it_counts_from_the_end_of_during() {
        let s = series(70_000, falling);
        // `during` ends at 3.975 s: 1 s later the samples 4.90 to 5.05 s, 90 to 87 MiB.
        let f = compute_with_load_end(&s, &marks(3.975, 70.0), None);
        assert_eq!(
            f.after_load.rss_after_load_1s_bytes,
            Some(88 * MIB + MIB / 2)
        );
        // No growth worth a share: bytes, but no share.
        let flat = series(70_000, |_| 10 * MIB);
        let f = compute_with_load_end(&flat, &marks(3.975, 70.0), None);
        assert_eq!(f.after_load.rss_after_load_1s_bytes, Some(10 * MIB));
        assert_eq!(f.after_load.retention_after_load_1s, None);
    }

    #[test]
    fn names_and_medians() {
        for a in After::ALL {
            assert_eq!(After::parse(a.name()), Some(a));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.name()));
        }
        assert_eq!(After::parse("2s"), None);
        assert_eq!(After::default(), After::Drain);
        let run = |x: u64| AfterLoad {
            rss_after_load_1s_bytes: Some(x),
            ..Default::default()
        };
        let m = AfterLoad::medians(&[&run(1), &run(5), &AfterLoad::default(), &run(3)]);
        assert_eq!(m.rss_after_load_1s_bytes, Some(3));
        assert_eq!(m.rss_after_load_5s_bytes, None);
    }
}

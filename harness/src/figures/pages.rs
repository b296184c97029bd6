//! What the kernel did with a run's pages: its transparent huge pages (AnonHugePages) in the
//! windows of B, P and A, and the page faults the server took during the load. Pure functions
//! of the record's readings, so records made before these figures existed get them too.

use crate::sample::{Sample, SmapsRollup};

use super::{last_second_or_last_of, peak_moment, phase, window, PhaseMark};

/// AnonHugePages (bytes) at B, P and A.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HugePages {
    /// Median of the smaps readings over the last second of `before` (the last of `before`
    /// when none fell in that second: they are read about once a second).
    pub before: Option<u64>,
    /// The reading of `during` nearest the peak moment ([`peak_moment`]).
    pub peak: Option<u64>,
    /// As `before`, for `drain`: A's window.
    pub after_drain: Option<u64>,
}

/// AnonHugePages of the smaps readings `smaps` in B's, P's and A's windows.
pub fn huge_pages(samples: &[Sample], smaps: &[SmapsRollup], marks: &[PhaseMark]) -> HugePages {
    let thp = |r: &SmapsRollup| r.anon_huge_pages;
    let at_end_of =
        |name: &str| phase(marks, name).and_then(|p| last_second_or_last_of(smaps, p, thp));
    let peak = phase(marks, "during").and_then(|d| {
        let t = peak_moment(samples, marks)?;
        window(smaps, d.start, d.end)
            .min_by(|a, b| (a.t - t).abs().total_cmp(&(b.t - t).abs()))
            .map(thp)
    });
    HugePages {
        before: at_end_of("before"),
        peak,
        after_drain: at_end_of("drain"),
    }
}

/// Page faults (minor, major) the server took during `during`: the counters of its last sample
/// within the phase less those of its first. None for records from before the samples kept
/// them (every sample 0: a live process has always taken some minor faults).
pub fn faults_during(samples: &[Sample], marks: &[PhaseMark]) -> (Option<u64>, Option<u64>) {
    let Some(d) = phase(marks, "during") else {
        return (None, None);
    };
    let mut within = window(samples, d.start, d.end);
    let (Some(first), Some(last)) = (within.next(), within.last()) else {
        return (None, None);
    };
    if last.minflt == 0 {
        return (None, None);
    }
    // Saturating: a tree's sum drops when a child exits with its counts.
    (
        Some(last.minflt.saturating_sub(first.minflt)),
        Some(last.majflt.saturating_sub(first.majflt)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn marks() -> Vec<PhaseMark> {
        [
            ("before", 0.0, 3.0),
            ("during", 3.0, 8.0),
            ("drain", 8.0, 14.0),
        ]
        .into_iter()
        .map(|(n, start, end)| PhaseMark {
            name: n.into(),
            start,
            end,
        })
        .collect()
    }

    /// A sample every 0.5 s: RssAnon 10 MiB, 110 MiB from 5.0 s to 8.0 s; 1,000 minor and
    /// 2 major faults a second.
    fn samples() -> Vec<Sample> {
        (0..=28)
            .map(|i| {
                let t = i as f64 / 2.0;
                Sample {
                    t,
                    rss_anon: if (5.0..=8.0).contains(&t) { 110 } else { 10 } * MIB,
                    minflt: 500 + (t * 1000.0) as u64,
                    majflt: (t * 2.0) as u64,
                    ..Default::default()
                }
            })
            .collect()
    }

    fn smaps(t: f64, thp_mib: u64) -> SmapsRollup {
        SmapsRollup {
            t,
            anon_huge_pages: thp_mib * MIB,
            ..Default::default()
        }
    }

    #[test]
    fn huge_pages_in_the_windows_of_b_p_and_a() {
        let s = samples();
        // Readings once a second; the one nearest the peak moment (5.0 s) is at 5.0, not the
        // larger one at 7.0 while P still held.
        let r: Vec<SmapsRollup> = [
            (1.0, 9),
            (2.0, 0),
            (2.5, 2),
            (5.0, 96),
            (7.0, 100),
            (12.0, 80),
            (13.5, 90),
        ]
        .into_iter()
        .map(|(t, m)| smaps(t, m))
        .collect();
        let h = huge_pages(&s, &r, &marks());
        assert_eq!(
            h.before,
            Some(MIB),
            "median of the readings at 2.0 and 2.5 s"
        );
        assert_eq!(h.peak, Some(96 * MIB));
        assert_eq!(h.after_drain, Some(90 * MIB));
        // A drain without a reading in its last second: its last reading.
        let h = huge_pages(&s, &r[..6], &marks());
        assert_eq!(h.after_drain, Some(80 * MIB));
        assert_eq!(huge_pages(&s, &[], &marks()), HugePages::default());
    }

    #[test]
    fn faults_during_the_load_only() {
        // First sample of `during` at 3.0 s, last at 8.0 s.
        assert_eq!(faults_during(&samples(), &marks()), (Some(5000), Some(10)));
        assert_eq!(faults_during(&samples(), &marks()[..1]), (None, None));
    }

    #[test]
    fn records_without_fault_counts_have_no_figure() {
        let old: Vec<Sample> = samples()
            .into_iter()
            .map(|s| Sample {
                minflt: 0,
                majflt: 0,
                ..s
            })
            .collect();
        assert_eq!(faults_during(&old, &marks()), (None, None));
    }
}

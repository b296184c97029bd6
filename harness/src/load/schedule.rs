//! The open-loop schedule: when each send is due.
//!
//! In open loop the offered rate is fixed, the same for every allocator variant, so a memory
//! difference is the allocator's and not a throughput difference. It may step to other fixed
//! rates at fixed offsets (`--step AT=RATE`, a burst), the same for every variant too. Latency is measured from the
//! instant a send was *due*, not from when a connection got round to it: a server that stalls
//! then shows the stall in every request it delayed, instead of hiding it by slowing the client
//! down (coordinated omission).
//!
//! Connections pull slots in order from a shared counter. A connection that pulls a slot before
//! it is due sleeps until then; one that pulls it after it was due sends at once and the slot
//! counts as `no_free_connection`: at its time every connection was busy.
//!
//! A sleeping connection wakes on tokio's millisecond timer, so up to about a millisecond after
//! the due time; that lag is the client's and is part of the corrected latency, as in wrk2. The
//! uncorrected (service) latency starts at the actual send and excludes it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A slot picked up this much after it was due still counts as on time: tokio's timers have
/// millisecond resolution, so a connection woken by its timer is about this late anyway.
pub const LATE_TOLERANCE: Duration = Duration::from_millis(1);

/// From offset `at` after the start, the total offered rate is `rate` (`--step AT=RATE`).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct RateStep {
    pub at: Duration,
    /// Sends per second in total, above zero.
    pub rate: f64,
}

/// A stretch of the schedule at one rate: from `start` seconds, at which `count` global slots
/// have fallen due (the cumulative count N(start), fractional in general).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    start: f64,
    count: f64,
    rate: f64,
}

/// One worker's share of a stream that is evenly spaced at each of its rates.
///
/// The total rate is `rate` from the start, then each step's from its offset on. The cumulative
/// count of due sends N(t) = ∫ rate is then piecewise linear and global slot `j` is due at
/// N⁻¹(j): at `j / rate` without steps. Worker `index` of `processes` owns the global slots
/// `j = i * processes + index`, so the merged stream of all workers is evenly spaced at the
/// total rate of the moment rather than bunched.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Never empty; the first starts at 0 with count 0. Starts, and so counts, strictly
    /// increase.
    segments: Vec<Segment>,
    processes: u64,
    index: u64,
}

impl Schedule {
    /// `rate` is the total over all workers, in sends per second (above zero).
    pub fn new(rate: f64, processes: u64, index: u64) -> Self {
        Self::stepped(rate, &[], processes, index)
    }

    /// `rate` from the start, then each step's rate from its offset. Steps must be strictly
    /// increasing in `at`, after zero, with rates above zero (as [`super::LoadPlan`] checks);
    /// one that is not is ignored.
    pub fn stepped(rate: f64, steps: &[RateStep], processes: u64, index: u64) -> Self {
        let mut segments = vec![Segment {
            start: 0.0,
            count: 0.0,
            rate,
        }];
        for step in steps {
            let start = step.at.as_secs_f64();
            let last = segments[segments.len() - 1];
            if !(start > last.start && step.rate > 0.0) {
                continue;
            }
            segments.push(Segment {
                start,
                count: last.count + (start - last.start) * last.rate,
                rate: step.rate,
            });
        }
        Schedule {
            segments,
            processes: processes.max(1),
            index,
        }
    }

    /// This worker's sends per second at the start (before any step).
    pub fn worker_rate(&self) -> f64 {
        self.segments[0].rate / self.processes as f64
    }

    /// Whether the rate changes during the run.
    pub fn is_stepped(&self) -> bool {
        self.segments.len() > 1
    }

    /// Seconds after the start at which global slot `j` is due: N⁻¹(j).
    fn due_secs(&self, j: f64) -> f64 {
        // Without steps, exactly the closed form of an evenly spaced stream.
        if let [only] = self.segments.as_slice() {
            return j / only.rate;
        }
        // The last segment that has begun by slot j; the first has count 0, so there is one.
        let k = self.segments.partition_point(|s| s.count <= j).max(1) - 1;
        let s = &self.segments[k];
        s.start + (j - s.count) / s.rate
    }

    /// N(t): global slots due before `t` seconds, fractional.
    fn count_at(&self, t: f64) -> f64 {
        if let [only] = self.segments.as_slice() {
            return t * only.rate;
        }
        let k = self.segments.partition_point(|s| s.start <= t).max(1) - 1;
        let s = &self.segments[k];
        s.count + (t - s.start) * s.rate
    }

    /// When this worker's `i`-th send is due, after the start.
    pub fn offset(&self, i: u64) -> Duration {
        let j = i.saturating_mul(self.processes).saturating_add(self.index);
        // Far past any run's end if it does not fit: such a slot is never sent.
        Duration::try_from_secs_f64(self.due_secs(j as f64)).unwrap_or(Duration::MAX)
    }

    /// How many of this worker's sends are due before `end`: what it offers in a run that
    /// stops at `end`.
    pub fn slots_before(&self, end: Duration) -> u64 {
        // An estimate from the closed form, then corrected against `offset` itself so the two
        // never disagree at a boundary because of rounding.
        let global = self.count_at(end.as_secs_f64()) - self.index as f64;
        let mut n = (global / self.processes as f64).ceil().max(0.0) as u64;
        while n > 0 && self.offset(n - 1) >= end {
            n -= 1;
        }
        while self.offset(n) < end {
            n += 1;
        }
        n
    }

    /// How many of this worker's sends are due in `[from, to)`.
    pub fn slots_between(&self, from: Duration, to: Duration) -> u64 {
        if to <= from {
            return 0;
        }
        self.slots_before(to) - self.slots_before(from)
    }
}

/// What a connection does with a slot it has just pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pickup {
    /// Not due yet: sleep until it is.
    Wait,
    /// Due about now: send.
    OnTime,
    /// Overdue: every connection was busy when it fell due. Send now; latency still counts
    /// from the due time.
    Late,
}

/// Classifies a slot due at `due` pulled at `now`, both measured from the start.
pub fn pickup(due: Duration, now: Duration) -> Pickup {
    if now < due {
        Pickup::Wait
    } else if now - due <= LATE_TOLERANCE {
        Pickup::OnTime
    } else {
        Pickup::Late
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_worker_is_evenly_spaced() {
        let s = Schedule::new(400.0, 1, 0);
        assert_eq!(s.offset(0), Duration::ZERO);
        assert_eq!(s.offset(1), Duration::from_micros(2500));
        assert_eq!(s.offset(400), Duration::from_secs(1));
        assert_eq!(s.worker_rate(), 400.0);
    }

    #[test]
    fn workers_interleave_into_one_even_stream() {
        let workers: Vec<Schedule> = (0..3).map(|w| Schedule::new(300.0, 3, w)).collect();
        let mut all: Vec<Duration> = workers
            .iter()
            .flat_map(|s| (0..100).map(|i| s.offset(i)))
            .collect();
        all.sort();
        for (j, t) in all.iter().enumerate() {
            let expected = Duration::from_secs_f64(j as f64 / 300.0);
            let diff = t.abs_diff(expected);
            assert!(
                diff < Duration::from_nanos(10),
                "slot {j}: {t:?} vs {expected:?}"
            );
        }
        assert_eq!(workers[1].worker_rate(), 100.0);
    }

    #[test]
    fn slots_before_counts_exactly_what_is_due() {
        // 200/s for 2 s from 2 workers: 400 sends, 200 each.
        let a = Schedule::new(200.0, 2, 0);
        let b = Schedule::new(200.0, 2, 1);
        let end = Duration::from_secs(2);
        assert_eq!(a.slots_before(end), 200);
        assert_eq!(b.slots_before(end), 200);
        // A slot due exactly at the end is not sent.
        let s = Schedule::new(2.0, 1, 0);
        assert_eq!(s.slots_before(Duration::from_secs(2)), 4);
        assert_eq!(s.slots_before(Duration::from_millis(2001)), 5);
        assert_eq!(s.slots_before(Duration::ZERO), 0);
        assert_eq!(s.slots_before(Duration::from_nanos(1)), 1);
        // Uneven rates and fractions agree with offset() at every boundary.
        for (rate, procs) in [(7.3, 3), (1000.0, 7), (0.5, 2), (33.333, 4)] {
            for w in 0..procs {
                let s = Schedule::new(rate, procs, w);
                for ms in [1, 999, 1000, 1001, 2500, 10_000] {
                    let end = Duration::from_millis(ms);
                    let n = s.slots_before(end);
                    assert!(n == 0 || s.offset(n - 1) < end);
                    assert!(s.offset(n) >= end);
                }
            }
        }
    }

    fn steps(list: &[(f64, f64)]) -> Vec<RateStep> {
        list.iter()
            .map(|&(at, rate)| RateStep {
                at: Duration::from_secs_f64(at),
                rate,
            })
            .collect()
    }

    /// Step lists to check every property against: a burst like incident 003's, uneven
    /// offsets and rates, steps down, a single step, and some drawn at random.
    fn step_lists() -> Vec<(f64, Vec<RateStep>, Duration)> {
        use rand::rngs::SmallRng;
        use rand::{Rng, SeedableRng};
        let mut lists = vec![
            (
                200.0,
                steps(&[(4.0, 400.0), (6.0, 800.0), (8.0, 1600.0), (10.0, 200.0)]),
                Duration::from_secs(12),
            ),
            (
                50.0,
                steps(&[(1.0, 200.0), (2.0, 50.0)]),
                Duration::from_secs(3),
            ),
            (
                7.3,
                steps(&[(0.37, 1000.0), (0.5, 0.9), (3.3, 33.333)]),
                Duration::from_millis(5100),
            ),
            (1000.0, steps(&[(0.001, 1.0)]), Duration::from_secs(4)),
            (3.0, steps(&[(1.5, 2.0)]), Duration::from_secs(3)),
        ];
        let mut rng = SmallRng::seed_from_u64(3);
        for _ in 0..6 {
            let mut at = 0.0;
            let mut list = Vec::new();
            for _ in 0..rng.random_range(1..6) {
                at += rng.random_range(0.05..1.5);
                list.push((at, rng.random_range(1.0..2000.0)));
            }
            let duration = Duration::from_secs_f64(at + rng.random_range(0.01..1.0));
            lists.push((rng.random_range(1.0..2000.0), steps(&list), duration));
        }
        lists
    }

    /// The rate in force at `t` seconds.
    fn rate_at(rate: f64, steps: &[RateStep], t: f64) -> f64 {
        steps
            .iter()
            .rfind(|s| s.at.as_secs_f64() <= t)
            .map_or(rate, |s| s.rate)
    }

    /// N⁻¹(j) walked out step by step: the seconds at which global slot `j` is due.
    fn reference_due(rate: f64, steps: &[RateStep], j: u64) -> f64 {
        let (mut start, mut count, mut r) = (0.0, 0.0, rate);
        for s in steps {
            let at = s.at.as_secs_f64();
            let next = count + (at - start) * r;
            if next > j as f64 {
                break;
            }
            (start, count, r) = (at, next, s.rate);
        }
        start + (j as f64 - count) / r
    }

    #[test]
    fn without_steps_the_closed_form_is_kept() {
        for (rate, procs) in [(400.0, 1), (7.3, 3), (33.333, 4), (1e-300, 1)] {
            for w in 0..procs {
                let s = Schedule::stepped(rate, &[], procs, w);
                assert_eq!(s, Schedule::new(rate, procs, w));
                assert!(!s.is_stepped());
                for i in [0, 1, 2, 99, 1000, 123_457] {
                    let j = (i * procs + w) as f64;
                    let closed = Duration::try_from_secs_f64(j / rate).unwrap_or(Duration::MAX);
                    assert_eq!(s.offset(i), closed, "{rate}/s, worker {w}, slot {i}");
                }
            }
        }
    }

    #[test]
    fn steps_change_the_spacing_from_their_offset() {
        let s = Schedule::stepped(200.0, &steps(&[(4.0, 400.0), (6.0, 100.0)]), 1, 0);
        assert!(s.is_stepped());
        assert_eq!(s.worker_rate(), 200.0);
        // 800 slots in the first 4 s, 800 in the next 2 s, then 100/s.
        assert_eq!(s.offset(799), Duration::from_micros(3_995_000));
        assert_eq!(s.offset(800), Duration::from_secs(4));
        assert_eq!(s.offset(801), Duration::from_micros(4_002_500));
        assert_eq!(s.offset(1600), Duration::from_secs(6));
        assert_eq!(s.offset(1601), Duration::from_millis(6010));
        assert_eq!(s.slots_before(Duration::from_secs(4)), 800);
        assert_eq!(s.slots_before(Duration::from_secs(6)), 1600);
        assert_eq!(s.slots_before(Duration::from_secs(7)), 1700);
        assert_eq!(
            s.slots_between(Duration::from_secs(4), Duration::from_secs(5)),
            400
        );
        assert_eq!(
            s.slots_between(Duration::from_secs(5), Duration::from_secs(4)),
            0
        );
    }

    #[test]
    fn stepped_offsets_increase_and_agree_with_slots_before() {
        for (rate, steps, duration) in step_lists() {
            for procs in [1u64, 2, 3, 7] {
                for w in 0..procs {
                    let s = Schedule::stepped(rate, &steps, procs, w);
                    let n = s.slots_before(duration);
                    // Strictly increasing, and the count before the end is exactly what is due.
                    let mut prev = None;
                    for i in 0..=n {
                        let t = s.offset(i);
                        assert!(
                            prev.is_none_or(|p| p < t),
                            "{rate} {steps:?} {procs}/{w}: {i}"
                        );
                        prev = Some(t);
                    }
                    assert!(n == 0 || s.offset(n - 1) < duration);
                    assert!(s.offset(n) >= duration);
                    // Boundaries: at, just before and just after every step, and in between.
                    let mut ends = vec![Duration::ZERO, Duration::from_nanos(1), duration];
                    for st in &steps {
                        ends.extend([
                            st.at - Duration::from_nanos(1),
                            st.at,
                            st.at + Duration::from_nanos(1),
                        ]);
                    }
                    ends.extend((1..40).map(|k| duration.mul_f64(k as f64 / 40.0)));
                    for end in ends {
                        let n = s.slots_before(end);
                        assert!(n == 0 || s.offset(n - 1) < end, "{steps:?} {end:?}");
                        assert!(s.offset(n) >= end, "{steps:?} {end:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn each_step_window_offers_its_rate_from_every_worker() {
        for (rate, steps, duration) in step_lists() {
            let mut bounds = vec![(Duration::ZERO, rate)];
            bounds.extend(steps.iter().map(|s| (s.at, s.rate)));
            for procs in [1u64, 2, 3, 7] {
                let workers: Vec<Schedule> = (0..procs)
                    .map(|w| Schedule::stepped(rate, &steps, procs, w))
                    .collect();
                for (k, &(from, r)) in bounds.iter().enumerate() {
                    let to = bounds.get(k + 1).map_or(duration, |b| b.0);
                    let expected = r * (to - from).as_secs_f64();
                    let mut total = 0;
                    for s in &workers {
                        let got = s.slots_between(from, to);
                        let share = expected / procs as f64;
                        assert!(
                            (got as f64 - share).abs() <= 1.0,
                            "{rate} {steps:?}, {procs} workers: window {k} has {got}, not {share}"
                        );
                        total += got;
                    }
                    assert!(
                        (total as f64 - expected).abs() <= 1.0,
                        "{rate} {steps:?}, {procs} workers: window {k} has {total}, not {expected}"
                    );
                }
            }
        }
    }

    #[test]
    fn stepped_workers_interleave_into_one_stream_even_at_every_rate() {
        for (rate, steps, duration) in step_lists() {
            for procs in [2u64, 3, 7] {
                let mut all: Vec<Duration> = (0..procs)
                    .flat_map(|w| {
                        let s = Schedule::stepped(rate, &steps, procs, w);
                        let n = s.slots_before(duration);
                        (0..n).map(move |i| s.offset(i))
                    })
                    .collect();
                all.sort();
                // The merged stream is the one-worker stream, slot for slot.
                let one = Schedule::stepped(rate, &steps, 1, 0);
                assert_eq!(all.len() as u64, one.slots_before(duration));
                for (j, t) in all.iter().enumerate() {
                    assert_eq!(
                        *t,
                        one.offset(j as u64),
                        "{rate} {steps:?} {procs}: slot {j}"
                    );
                    // ... and slot j is due at N⁻¹(j).
                    let expected = reference_due(rate, &steps, j as u64);
                    assert!(
                        (t.as_secs_f64() - expected).abs() < 2e-9,
                        "{rate} {steps:?}: slot {j} at {t:?}, not {expected} s"
                    );
                }
                // Within a window, consecutive sends are 1/rate apart.
                for pair in all.windows(2) {
                    let (a, b) = (pair[0].as_secs_f64(), pair[1].as_secs_f64());
                    let r = rate_at(rate, &steps, a);
                    if rate_at(rate, &steps, b) == r {
                        // Each offset is rounded to the nanosecond.
                        let gap = b - a;
                        assert!(
                            (gap - 1.0 / r).abs() < 3e-9,
                            "{rate} {steps:?} {procs}: gap {gap} at {a} s, rate {r}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn absurdly_slow_rates_do_not_overflow() {
        let s = Schedule::new(1e-300, 1, 0);
        assert_eq!(s.offset(1), Duration::MAX);
        assert_eq!(s.slots_before(Duration::from_secs(10)), 1);
    }

    #[test]
    fn pickups() {
        let ms = Duration::from_millis;
        assert_eq!(pickup(ms(10), ms(5)), Pickup::Wait);
        assert_eq!(pickup(ms(10), ms(10)), Pickup::OnTime);
        assert_eq!(pickup(ms(10), ms(11)), Pickup::OnTime);
        assert_eq!(pickup(ms(10), ms(12)), Pickup::Late);
    }
}

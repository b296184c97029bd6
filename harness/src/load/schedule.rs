//! The open-loop schedule: when each send is due.
//!
//! In open loop the offered rate is fixed, the same for every allocator variant, so a memory
//! difference is the allocator's and not a throughput difference. Latency is measured from the
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

/// A slot picked up this much after it was due still counts as on time: tokio's timers have
/// millisecond resolution, so a connection woken by its timer is about this late anyway.
pub const LATE_TOLERANCE: Duration = Duration::from_millis(1);

/// One worker's share of an evenly spaced stream. Worker `index` of `processes` owns the global
/// slots `j = i * processes + index`, each due at `j / rate` after the shared start, so the
/// merged stream of all workers is evenly spaced at the total rate rather than bunched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    rate: f64,
    processes: u64,
    index: u64,
}

impl Schedule {
    /// `rate` is the total over all workers, in sends per second (above zero).
    pub fn new(rate: f64, processes: u64, index: u64) -> Self {
        Schedule {
            rate,
            processes: processes.max(1),
            index,
        }
    }

    /// This worker's sends per second.
    pub fn worker_rate(&self) -> f64 {
        self.rate / self.processes as f64
    }

    /// When this worker's `i`-th send is due, after the start.
    pub fn offset(&self, i: u64) -> Duration {
        let j = i.saturating_mul(self.processes).saturating_add(self.index);
        // Far past any run's end if it does not fit: such a slot is never sent.
        Duration::try_from_secs_f64(j as f64 / self.rate).unwrap_or(Duration::MAX)
    }

    /// How many of this worker's sends are due before `end`: what it offers in a run that
    /// stops at `end`.
    pub fn slots_before(&self, end: Duration) -> u64 {
        // An estimate from the closed form, then corrected against `offset` itself so the two
        // never disagree at a boundary because of rounding.
        let global = end.as_secs_f64() * self.rate - self.index as f64;
        let mut n = (global / self.processes as f64).ceil().max(0.0) as u64;
        while n > 0 && self.offset(n - 1) >= end {
            n -= 1;
        }
        while self.offset(n) < end {
            n += 1;
        }
        n
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

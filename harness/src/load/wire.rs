//! The JSON lines between `allocstorm load` and its `load-worker` processes, and their shared
//! clock.
//!
//! A worker prints `ready` on stdout once it has resolved the target, then waits for one `go`
//! line on stdin carrying the start instant; everyone starts then. It prints one `second` per
//! second of the run (every second, empty or not, in order) and `done` last. A worker whose stdin
//! closes exits at once: the parent has gone or given up. A worker that cannot run prints `error`
//! and exits 2.

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::counts::Counts;
pub use super::counts::HistPairs;
use super::plan::LoadPlan;

/// What the parent hands a worker on its command line.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct WorkerPlan {
    /// This worker's number, 0-based; its shares follow from it and the plan.
    pub index: usize,
    pub plan: LoadPlan,
}

/// Parent to worker, on stdin.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Start at this `CLOCK_MONOTONIC` time, which every process on the machine shares.
    Go { start_monotonic_ns: u64 },
}

/// Worker to parent, on stdout.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    Ready {
        index: usize,
        pid: u32,
        connections: usize,
        /// The address the target resolved to.
        addr: String,
    },
    Second(WorkerSecond),
    Done(WorkerDone),
    Error {
        message: String,
    },
}

/// One second of one worker: what happened in `[t, t+1)` seconds after the start.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct WorkerSecond {
    pub t: u64,
    #[serde(flatten)]
    pub counts: Counts,
    /// Successful requests, from their due time.
    pub latency_us: HistPairs,
    /// Successful requests, from their first send.
    pub latency_uncorrected_us: HistPairs,
    /// Failed requests, from their first send.
    pub error_latency_us: HistPairs,
}

/// A worker's last line.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct WorkerDone {
    /// From the start to when new sends stopped.
    pub load_s: f64,
    /// From the start to the end of the drain.
    pub elapsed_s: f64,
    /// Open loop: sends due before the stop that no connection got to before it.
    pub unsent: u64,
    /// The worker's own CPU time (`getrusage(RUSAGE_SELF)`), start-up included.
    pub cpu_user_s: f64,
    pub cpu_system_s: f64,
}

fn timespec_ns(ts: &libc::timespec) -> u64 {
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// `CLOCK_MONOTONIC` now, in nanoseconds. It is one clock for every process on the machine,
/// unlike `Instant`, which cannot be sent between processes, and unlike wall-clock time, which
/// can jump.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    timespec_ns(&ts)
}

/// The local `Instant` of a `CLOCK_MONOTONIC` time from [`monotonic_ns`].
pub fn instant_at(monotonic: u64) -> Instant {
    let (now, now_ns) = (Instant::now(), monotonic_ns());
    if monotonic >= now_ns {
        now + std::time::Duration::from_nanos(monotonic - now_ns)
    } else {
        let ago = std::time::Duration::from_nanos(now_ns - monotonic);
        now.checked_sub(ago).unwrap_or(now)
    }
}

/// This process's user and system CPU seconds.
pub fn cpu_seconds() -> (f64, f64) {
    // SAFETY: getrusage fills the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return (0.0, 0.0);
    }
    let s = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (s(ru.ru_utime), s(ru.ru_stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_as_single_lines() {
        let mut counts = Counts {
            requests: 3,
            ok: 2,
            ..Counts::default()
        };
        counts.errors_by_kind.insert("timeout".into(), 1);
        let msgs = [
            FromWorker::Ready {
                index: 1,
                pid: 42,
                connections: 4,
                addr: "127.0.0.1:80".into(),
            },
            FromWorker::Second(WorkerSecond {
                t: 7,
                counts,
                latency_us: vec![[1000, 2]],
                latency_uncorrected_us: vec![[900, 2]],
                error_latency_us: vec![],
            }),
            FromWorker::Done(WorkerDone {
                load_s: 1.0,
                ..WorkerDone::default()
            }),
            FromWorker::Error {
                message: "no".into(),
            },
        ];
        for m in msgs {
            let line = serde_json::to_string(&m).unwrap();
            assert!(!line.contains('\n'));
            assert_eq!(serde_json::from_str::<FromWorker>(&line).unwrap(), m);
        }
        let go = serde_json::to_string(&ToWorker::Go {
            start_monotonic_ns: 5,
        })
        .unwrap();
        assert_eq!(go, r#"{"type":"go","start_monotonic_ns":5}"#);
    }

    #[test]
    fn monotonic_time_maps_to_instants() {
        let t = monotonic_ns() + 50_000_000;
        let i = instant_at(t);
        let ahead = i.saturating_duration_since(Instant::now());
        assert!(
            ahead > std::time::Duration::from_millis(40)
                && ahead <= std::time::Duration::from_millis(50)
        );
    }
}

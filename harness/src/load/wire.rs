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

pub use super::counts::HistPairs;
use super::counts::{Counts, EntryCounts};
use super::plan::LoadPlan;

/// What the parent hands a worker on its command line.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct WorkerPlan {
    /// This worker's number, 0-based; its shares follow from it and the plan.
    pub index: usize,
    pub plan: LoadPlan,
}

/// Parent to worker, on stdin (or the coordinator to a remote worker, on its connection).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Start at this `CLOCK_MONOTONIC` time, which every process on the machine shares. A
    /// remote worker, whose clock is another machine's, starts `start_in_ns` after it reads
    /// this line instead (late by the one-way delay of the link, well under the second that
    /// the figures are binned by).
    Go {
        start_monotonic_ns: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start_in_ns: Option<u64>,
    },
    /// Remote: the coordinator took the worker's `hello`; this is its share of the load.
    Plan(Box<WorkerPlan>),
    /// Remote: the coordinator did not take the worker (wrong token, index taken, …).
    Refused { reason: String },
    /// Remote: the coordinator's answer to `hello` ([`super::handshake`]): its nonce and its
    /// proof that it holds the run's token, which the worker checks before it answers.
    Challenge { nonce: String, proof: String },
}

/// Worker to parent, on stdout (or a remote worker to its coordinator, on its connection).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    /// Remote: a worker's first line on a new connection. It carries nothing of the token:
    /// the token is proved later, by [`FromWorker::Proof`]. (Workers before the handshake sent
    /// a `token` key here; it is ignored, and their version is refused.)
    Hello {
        /// The share it asks for (`--index`); `None`: the lowest free one.
        index: Option<usize>,
        /// How the coordinator names it (`--name`, default its hostname).
        name: String,
        /// allocstorm's version and protocol (`remote::VERSION`): both sides must
        /// speak the same one.
        version: String,
        /// The worker's nonce: 32 random bytes in hex, fresh for each connection. Absent from
        /// the hellos of older workers, which are refused for their version.
        #[serde(default)]
        nonce: String,
    },
    /// Remote: the worker's answer to a challenge whose proof it checked: its own proof.
    Proof {
        proof: String,
    },
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
    /// A request mix: each entry's part of the second, in the mix's order. Absent otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_request: Vec<EntrySecond>,
}

/// One mix entry's part of a worker's second.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct EntrySecond {
    #[serde(flatten)]
    pub counts: EntryCounts,
    /// Its successful requests, from their due time.
    pub latency_us: HistPairs,
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
    /// From the start to when its last request ended (answered, failed or given up); `null`
    /// when it sent none, and from workers of versions before it was sent.
    #[serde(default)]
    pub ended_s: Option<f64>,
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
    use crate::load::mix::{KeyDist, Method, Mix, MixEntry};

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
                per_request: vec![EntrySecond {
                    counts: EntryCounts {
                        requests: 3,
                        ..EntryCounts::default()
                    },
                    latency_us: vec![[1000, 2]],
                }],
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
            start_in_ns: None,
        })
        .unwrap();
        assert_eq!(go, r#"{"type":"go","start_monotonic_ns":5}"#);
        let plan = ToWorker::Plan(Box::new(WorkerPlan {
            index: 2,
            plan: LoadPlan {
                target: crate::load::Target::at(([127, 0, 0, 1], 8080).into(), "/file/hot"),
                range: (0, 1023),
                processes: 3,
                connections: 6,
                rate: Some(30.0),
                steps: Vec::new(),
                duration: std::time::Duration::from_secs(2),
                timeout: std::time::Duration::from_secs(1),
                retries: 0,
                backoff: std::time::Duration::from_millis(100),
                allow_remote: false,
                mix: None,
            },
        }));
        let line = serde_json::to_string(&plan).unwrap();
        assert!(
            line.starts_with(r#"{"type":"plan","index":2,"plan":{"#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<ToWorker>(&line).unwrap(), plan);
        assert!(!line.contains("\"mix\""), "no mix, no key: {line}");
        // A mix travels in the plan, to local and remote workers alike.
        let ToWorker::Plan(mut wp) = plan else {
            unreachable!()
        };
        wp.plan.mix = Some(Mix {
            keys: 10_000,
            seed: 26,
            entries: vec![MixEntry {
                weight: 9,
                method: Method::Put,
                path: "/files/{key}".into(),
                keys: KeyDist::Hot(0.9),
                range: None,
                body: Some((4096, 262_144)),
            }],
        });
        let with_mix = ToWorker::Plan(wp);
        let line = serde_json::to_string(&with_mix).unwrap();
        assert!(
            line.contains(r#""method":"PUT""#) && line.contains(r#""hot":0.9"#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<ToWorker>(&line).unwrap(), with_mix);
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

//! The parent's merge of what the workers stream back, and the records it produces.
//!
//! Second `t` is complete once every worker has sent its second `t` or finished; it is then
//! reported exactly once, in order. Histograms are merged bucket by bucket, so merged
//! percentiles are those of all samples, not averages of per-worker percentiles.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::counts::{add_pairs, new_histogram, to_pairs, Counts, Percentiles};
use super::per_request::{EntryReport, EntryTotals, RequestSummary};
use super::plan::LoadPlan;
use super::schedule::Schedule;
use super::wire::{HistPairs, WorkerDone, WorkerSecond};

/// One merged second of the run. Its counts are flattened into it, in JSON and (through
/// `Deref`) in Rust: `report.ok`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SecondReport {
    /// Seconds since the start; the report covers `[t, t+1)`. Seconds past the duration hold
    /// the drain (completions of requests in flight at the stop); the last one is partial.
    pub t: u64,
    /// Open loop: sends due in this second by the schedule (summed over the workers), whether
    /// or not a connection got to them: the offered rate of this second, which follows any
    /// `--step`. `null` in closed loop, and in records written before it existed.
    #[serde(default)]
    pub offered: Option<u64>,
    #[serde(flatten)]
    pub counts: Counts,
    /// Successful requests completed in this second, from their due time.
    pub latency_ms: Percentiles,
    /// The same, from their first send.
    pub latency_uncorrected_ms: Percentiles,
    /// A request mix: each entry's part of the second, in the mix's order. Absent otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_request: Vec<EntryReport>,
}

/// One worker process's part of the run.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct WorkerSummary {
    pub index: usize,
    /// A remote worker: its name and address, `name (IP)`. Absent for local workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Its process id, on its own host.
    pub pid: u32,
    pub connections: usize,
    /// This worker's share of the offered rate; `null` in closed loop.
    pub offered_rate: Option<f64>,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub bytes: u64,
    pub unsent: u64,
    pub cpu_s: f64,
}

/// The keys of the `--json` summary that other tools may rely on (a published contract).
pub const SUMMARY_KEYS: [&str; 22] = [
    "ok",
    "errors",
    "errors_by_kind",
    "timeouts",
    "retries",
    "attempts",
    "requests",
    "bytes",
    "duration_s",
    "throughput_rps",
    "bytes_per_s",
    "latency_ms",
    "latency_uncorrected_ms",
    "no_free_connection",
    "unsent",
    "intended",
    "ended_s",
    "offered_rate",
    "processes",
    "connections",
    "client_cpu_s",
    "per_second",
];

/// A whole load run: the `--json` output of `allocstorm load`, and what [`super::run_load`]
/// returns. Its total counts are flattened into it, in JSON and (through `Deref`) in Rust:
/// `summary.ok`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LoadSummary {
    pub target: String,
    /// The requested range, `A-B` inclusive.
    pub range: String,
    /// Bytes every good response carries.
    pub range_bytes: u64,
    pub processes: usize,
    pub connections: usize,
    /// Requests per second offered in total; `null` for `--rate max` (closed loop).
    pub offered_rate: Option<f64>,
    pub timeout_s: f64,
    /// `--retries`: most retries per request.
    pub max_retries: u32,
    pub backoff_s: f64,
    /// Totals over the run (`requests`, `attempts`, `retries`, `ok`, `errors`,
    /// `errors_by_kind`, `timeouts`, `bytes`, `no_free_connection`, ...).
    #[serde(flatten)]
    pub counts: Counts,
    /// Open loop: sends due before the stop that no connection got to before it.
    pub unsent: u64,
    /// Open loop: sends the schedule made due inside the load window, sent or not
    /// (`requests` + `unsent`). `null` in closed loop, where nothing is scheduled, and in
    /// records written before it existed ([`LoadSummary::intended_requests`] fills those in).
    #[serde(default)]
    pub intended: Option<u64>,
    /// The load window: from the start until new sends stopped.
    pub duration_s: f64,
    /// From the start until the last worker finished draining.
    pub elapsed_s: f64,
    /// From the start until the last request ended (its answer arrived, its last attempt
    /// failed, or the drain gave it up): when the load really ended for the server. `null` when
    /// nothing was sent, and in records written before it existed.
    #[serde(default)]
    pub ended_s: Option<f64>,
    /// The start, as an instant of the process that ran the load, so that a caller can place
    /// `ended_s` on its own clock. Not in JSON: an instant means nothing outside the process.
    #[serde(skip)]
    pub started: Option<tokio::time::Instant>,
    /// Ok responses per second completed inside the load window (its whole seconds); the
    /// backlog completing after the stop is in `ok` but not here.
    pub throughput_rps: f64,
    /// Bytes per second of ok responses, over the same window.
    pub bytes_per_s: f64,
    /// Successful requests, from the time they were due (coordinated-omission corrected).
    pub latency_ms: Percentiles,
    /// Successful requests, from their first send (service time, retries included).
    pub latency_uncorrected_ms: Percentiles,
    /// Failed requests, from their first send to the last attempt's failure.
    pub error_latency_ms: Percentiles,
    /// The raw samples behind `latency_ms`, as `[value_us, count]` pairs.
    pub latency_histogram_us: HistPairs,
    /// CPU seconds (user + system) of all workers.
    pub client_cpu_s: f64,
    pub workers: Vec<WorkerSummary>,
    /// A request mix (`[[load.request]]`): each entry, what it is and what it did, in the
    /// mix's order; the totals above are of all of them. Absent without a mix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_request: Vec<RequestSummary>,
    pub per_second: Vec<SecondReport>,
}

impl LoadSummary {
    /// Requests the load meant to send: `intended`, or for a record written before it existed
    /// `requests` + `unsent`, which is what it counts. `None` in closed loop.
    pub fn intended_requests(&self) -> Option<u64> {
        self.intended.or_else(|| {
            self.offered_rate
                .map(|_| self.counts.requests + self.unsent)
        })
    }
}

impl std::ops::Deref for SecondReport {
    type Target = Counts;
    fn deref(&self) -> &Counts {
        &self.counts
    }
}

impl std::ops::Deref for LoadSummary {
    type Target = Counts;
    fn deref(&self) -> &Counts {
        &self.counts
    }
}

#[derive(Default)]
struct WorkerState {
    host: Option<String>,
    pid: u32,
    connections: usize,
    /// The second this worker will send next.
    next_t: u64,
    done: Option<WorkerDone>,
    counts: Counts,
}

struct Pending {
    counts: Counts,
    latency: Histogram<u64>,
    uncorrected: Histogram<u64>,
    entries: EntryTotals,
}

/// Merges the streams of a plan's workers.
pub struct Merger {
    workers: Vec<WorkerState>,
    /// Open loop: every worker's schedule, for the sends due in each second.
    schedules: Option<Vec<Schedule>>,
    /// The load window: nothing is due from here on.
    duration: Duration,
    /// The shared start, once the workers were told it.
    started: Option<tokio::time::Instant>,
    pending: BTreeMap<u64, Pending>,
    totals: Counts,
    latency: Histogram<u64>,
    uncorrected: Histogram<u64>,
    error_latency: Histogram<u64>,
    /// A request mix: each entry's totals and histogram.
    entries: EntryTotals,
    per_second: Vec<SecondReport>,
}

impl Merger {
    pub fn new(plan: &LoadPlan) -> Self {
        Merger {
            workers: (0..plan.processes)
                .map(|_| WorkerState::default())
                .collect(),
            schedules: (0..plan.processes)
                .map(|w| plan.worker_schedule(w))
                .collect(),
            duration: plan.duration,
            started: None,
            pending: BTreeMap::new(),
            totals: Counts::default(),
            latency: new_histogram(),
            uncorrected: new_histogram(),
            error_latency: new_histogram(),
            entries: EntryTotals::default(),
            per_second: Vec::new(),
        }
    }

    fn worker(&mut self, w: usize) -> Result<&mut WorkerState, String> {
        self.workers
            .get_mut(w)
            .ok_or_else(|| format!("no worker {w}"))
    }

    /// Notes where remote worker `w` runs.
    pub fn host(&mut self, w: usize, host: String) -> Result<(), String> {
        self.worker(w)?.host = Some(host);
        Ok(())
    }

    /// Notes who worker `w` is.
    pub fn ready(&mut self, w: usize, pid: u32, connections: usize) -> Result<(), String> {
        let st = self.worker(w)?;
        st.pid = pid;
        st.connections = connections;
        Ok(())
    }

    /// Adds worker `w`'s second; returns the merged seconds it completed, in order.
    pub fn second(&mut self, w: usize, s: WorkerSecond) -> Result<Vec<SecondReport>, String> {
        let st = self.worker(w)?;
        if st.done.is_some() {
            return Err(format!("second {} after done", s.t));
        }
        if s.t != st.next_t {
            return Err(format!("second {} where {} was due", s.t, st.next_t));
        }
        st.next_t += 1;
        st.counts.add(&s.counts);
        self.totals.add(&s.counts);
        add_pairs(&mut self.latency, &s.latency_us);
        add_pairs(&mut self.uncorrected, &s.latency_uncorrected_us);
        add_pairs(&mut self.error_latency, &s.error_latency_us);
        self.entries.add(&s.per_request);
        let p = self.pending.entry(s.t).or_insert_with(|| Pending {
            counts: Counts::default(),
            latency: new_histogram(),
            uncorrected: new_histogram(),
            entries: EntryTotals::default(),
        });
        p.entries.add(&s.per_request);
        p.counts.add(&s.counts);
        add_pairs(&mut p.latency, &s.latency_us);
        add_pairs(&mut p.uncorrected, &s.latency_uncorrected_us);
        Ok(self.take_complete())
    }

    /// Worker `w` has finished: it counts as having sent every later second.
    pub fn done(&mut self, w: usize, d: WorkerDone) -> Result<Vec<SecondReport>, String> {
        let st = self.worker(w)?;
        if st.done.is_some() {
            return Err("done twice".into());
        }
        st.done = Some(d);
        Ok(self.take_complete())
    }

    /// Notes the instant every worker starts at.
    pub fn started(&mut self, at: tokio::time::Instant) {
        self.started = Some(at);
    }

    pub fn is_done(&self, w: usize) -> bool {
        self.workers.get(w).is_some_and(|st| st.done.is_some())
    }

    pub fn all_done(&self) -> bool {
        self.workers.iter().all(|st| st.done.is_some())
    }

    fn take_complete(&mut self) -> Vec<SecondReport> {
        let mut out = Vec::new();
        while let Some((&t, _)) = self.pending.first_key_value() {
            if !self
                .workers
                .iter()
                .all(|st| st.done.is_some() || st.next_t > t)
            {
                break;
            }
            let Some(p) = self.pending.remove(&t) else {
                break;
            };
            let report = SecondReport {
                t,
                offered: self.offered(t),
                counts: p.counts,
                latency_ms: Percentiles::of(&p.latency),
                latency_uncorrected_ms: Percentiles::of(&p.uncorrected),
                per_request: p.entries.reports(),
            };
            self.per_second.push(report.clone());
            out.push(report);
        }
        out
    }

    /// Sends due in second `t` of the load window, over all workers; `None` in closed loop.
    fn offered(&self, t: u64) -> Option<u64> {
        let from = Duration::from_secs(t).min(self.duration);
        let to = Duration::from_secs(t.saturating_add(1)).min(self.duration);
        let schedules = self.schedules.as_ref()?;
        Some(schedules.iter().map(|s| s.slots_between(from, to)).sum())
    }

    /// The run's record. Call once every worker is done.
    pub fn summary(self, plan: &LoadPlan) -> LoadSummary {
        let done = |st: &WorkerState| st.done.clone().unwrap_or_default();
        let duration_s = self
            .workers
            .iter()
            .map(|st| done(st).load_s)
            .fold(0.0, f64::max);
        let duration_s = if duration_s > 0.0 {
            duration_s
        } else {
            plan.duration.as_secs_f64()
        };
        let elapsed_s = self
            .workers
            .iter()
            .map(|st| done(st).elapsed_s)
            .fold(0.0, f64::max);
        let ended_s = self
            .workers
            .iter()
            .filter_map(|st| done(st).ended_s)
            .reduce(f64::max);
        let intended = self.schedules.as_ref().map(|schedules| {
            schedules
                .iter()
                .map(|s| s.slots_before(self.duration))
                .sum()
        });
        // Throughput counts what completed inside the load window, in whole seconds: under a
        // congested server the backlog still completing after the stop would otherwise be
        // credited to a window it did not fit in.
        let whole = duration_s.floor();
        let (in_window, window_s) = if whole >= 1.0 {
            let (ok, bytes) = self
                .per_second
                .iter()
                .filter(|s| (s.t as f64) < whole)
                .fold((0u64, 0u64), |(o, b), s| {
                    (o + s.counts.ok, b + s.counts.bytes)
                });
            ((ok, bytes), whole)
        } else {
            ((self.totals.ok, self.totals.bytes), duration_s)
        };
        let workers: Vec<WorkerSummary> = self
            .workers
            .iter()
            .enumerate()
            .map(|(index, st)| {
                let d = done(st);
                WorkerSummary {
                    index,
                    host: st.host.clone(),
                    pid: st.pid,
                    connections: st.connections,
                    offered_rate: plan.worker_schedule(index).map(|s| s.worker_rate()),
                    requests: st.counts.requests,
                    ok: st.counts.ok,
                    errors: st.counts.errors,
                    bytes: st.counts.bytes,
                    unsent: d.unsent,
                    cpu_s: d.cpu_user_s + d.cpu_system_s,
                }
            })
            .collect();
        LoadSummary {
            target: plan.target.url.clone(),
            range: format!("{}-{}", plan.range.0, plan.range.1),
            range_bytes: plan.range_len(),
            processes: plan.processes,
            connections: plan.connections,
            offered_rate: plan.rate,
            timeout_s: plan.timeout.as_secs_f64(),
            max_retries: plan.retries,
            backoff_s: plan.backoff.as_secs_f64(),
            throughput_rps: in_window.0 as f64 / window_s,
            bytes_per_s: in_window.1 as f64 / window_s,
            counts: self.totals,
            unsent: workers.iter().map(|w| w.unsent).sum(),
            intended,
            duration_s,
            elapsed_s,
            ended_s,
            started: self.started,
            latency_ms: Percentiles::of(&self.latency),
            latency_uncorrected_ms: Percentiles::of(&self.uncorrected),
            error_latency_ms: Percentiles::of(&self.error_latency),
            latency_histogram_us: to_pairs(&self.latency),
            client_cpu_s: workers.iter().map(|w| w.cpu_s).sum(),
            workers,
            per_request: self.entries.summaries(plan.mix.as_ref()),
            per_second: self.per_second,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::LoadArgs;
    use clap::Parser;

    fn second(t: u64, ok: u64, latency_ms: u64) -> WorkerSecond {
        WorkerSecond {
            t,
            counts: Counts {
                requests: ok,
                attempts: ok,
                ok,
                bytes: ok * 10,
                ..Counts::default()
            },
            latency_us: vec![[latency_ms * 1000, ok]],
            latency_uncorrected_us: vec![[latency_ms * 500, ok]],
            error_latency_us: vec![],
            per_request: vec![],
        }
    }

    fn plan(processes: usize) -> LoadPlan {
        plan_with(processes, &["--rate", "100/s", "--duration", "2s"])
    }

    fn plan_with(processes: usize, extra: &[&str]) -> LoadPlan {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            load: LoadArgs,
        }
        let p = processes.to_string();
        let mut argv = vec![
            "load",
            "--target",
            "http://127.0.0.1:1/",
            "--range",
            "0-9",
            "--processes",
            &p,
            "--connections",
            "4",
        ];
        argv.extend_from_slice(extra);
        Cli::parse_from(argv).load.plan().unwrap()
    }

    fn done(load_s: f64, cpu: f64) -> WorkerDone {
        WorkerDone {
            load_s,
            elapsed_s: load_s + 0.1,
            unsent: 1,
            ended_s: Some(load_s - 0.2),
            cpu_user_s: cpu,
            cpu_system_s: cpu,
        }
    }

    #[test]
    fn a_second_is_reported_once_every_worker_has_sent_it() {
        let mut m = Merger::new(&plan(2));
        assert!(m.second(0, second(0, 5, 10)).unwrap().is_empty());
        assert!(m.second(0, second(1, 5, 10)).unwrap().is_empty());
        let r = m.second(1, second(0, 3, 20)).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].t, 0);
        assert_eq!(r[0].offered, Some(100));
        assert_eq!((r[0].counts.ok, r[0].counts.bytes), (8, 80));
        assert_eq!(r[0].latency_ms.count, 8);
        assert!((r[0].latency_ms.max - 20.0).abs() < 0.1);
        assert!((r[0].latency_uncorrected_ms.max - 10.0).abs() < 0.1);
        // Worker 1 finishes early: it counts as having sent every later second.
        let r = m.done(1, done(1.0, 0.25)).unwrap();
        assert_eq!(r.iter().map(|s| s.t).collect::<Vec<_>>(), [1]);
        assert_eq!(r[0].counts.ok, 5);
        assert!(!m.all_done());
        let r = m.second(0, second(2, 1, 10)).unwrap();
        assert_eq!(r.len(), 1);
        m.done(0, done(2.0, 0.5)).unwrap();
        assert!(m.all_done());

        let s = m.summary(&plan(2));
        assert_eq!(s.per_second.len(), 3);
        // 100/s for 2 s; second 2 is the drain, where nothing is due.
        let offered: Vec<_> = s.per_second.iter().map(|r| r.offered).collect();
        assert_eq!(offered, [Some(100), Some(100), Some(0)]);
        assert_eq!(
            (s.counts.ok, s.counts.requests, s.counts.bytes),
            (14, 14, 140)
        );
        assert_eq!(s.latency_ms.count, 14);
        assert_eq!(s.duration_s, 2.0);
        assert!((s.elapsed_s - 2.1).abs() < 1e-9);
        // Seconds 0 and 1 are the 2 s window (8 + 5 ok); the 1 ok of second 2 completed after
        // the stop and is not throughput.
        assert_eq!(s.throughput_rps, 6.5);
        assert_eq!(s.bytes_per_s, 65.0);
        assert_eq!(s.unsent, 2);
        // 100/s for 2 s is 200 due, whatever was sent; the last request of either worker
        // ended 0.2 s before its stop.
        assert_eq!(s.intended, Some(200));
        assert_eq!(s.ended_s, Some(1.8));
        assert_eq!(s.client_cpu_s, 1.5);
        assert_eq!(s.offered_rate, Some(100.0));
        assert_eq!(s.workers[0].offered_rate, Some(50.0));
        assert_eq!((s.workers[0].ok, s.workers[1].ok), (11, 3));
        assert_eq!(s.range, "0-9");
        assert_eq!(s.range_bytes, 10);
    }

    #[test]
    fn out_of_order_and_late_lines_are_refused() {
        let mut m = Merger::new(&plan(1));
        assert!(m.second(0, second(1, 1, 1)).is_err());
        assert!(m.second(3, second(0, 1, 1)).is_err());
        m.second(0, second(0, 1, 1)).unwrap();
        m.done(0, done(1.0, 0.0)).unwrap();
        assert!(m.second(0, second(1, 1, 1)).is_err());
        assert!(m.done(0, done(1.0, 0.0)).is_err());
    }

    #[test]
    fn offered_follows_the_steps_and_is_null_in_closed_loop() {
        let p = plan_with(
            3,
            &[
                "--rate",
                "50/s",
                "--step",
                "1s=200/s",
                "--step",
                "2.5s=10/s",
                "--duration",
                "4500ms",
            ],
        );
        let mut m = Merger::new(&p);
        let mut reports = Vec::new();
        for t in 0..6 {
            for w in 0..3 {
                reports.extend(m.second(w, second(t, 0, 1)).unwrap());
            }
        }
        let offered: Vec<_> = reports.iter().map(|r| r.offered.unwrap()).collect();
        // Second 2 is half at 200/s, half at 10/s; 4 s is cut at 4.5 s; 5 s is past the end.
        assert_eq!(offered, [50, 200, 105, 10, 5, 0]);

        let closed = plan_with(1, &["--duration", "1s"]);
        let mut m = Merger::new(&closed);
        let r = m.second(0, second(0, 1, 1)).unwrap();
        m.done(0, done(1.0, 0.0)).unwrap();
        assert_eq!(r[0].offered, None);
        let summary = m.summary(&closed);
        assert_eq!(
            (summary.intended, summary.intended_requests()),
            (None, None)
        );
        let json = serde_json::to_value(summary).unwrap();
        assert!(json["per_second"][0]["offered"].is_null());
        // A second recorded before the field existed still reads.
        let mut old = json["per_second"][0].clone();
        old.as_object_mut().unwrap().remove("offered");
        let back: SecondReport = serde_json::from_value(old).unwrap();
        assert_eq!(back.offered, None);
    }

    #[test]
    fn summary_serialises_the_documented_keys() {
        let mut m = Merger::new(&plan(1));
        m.second(0, second(0, 2, 3)).unwrap();
        m.done(0, done(1.0, 0.0)).unwrap();
        let json = serde_json::to_value(m.summary(&plan(1))).unwrap();
        for key in SUMMARY_KEYS {
            assert!(json.get(key).is_some(), "missing {key}");
        }
        for key in ["p50", "p90", "p99", "p999", "max"] {
            assert!(
                json["latency_ms"].get(key).is_some(),
                "missing latency_ms.{key}"
            );
        }
        assert_eq!(json["per_second"][0]["t"], 0);
        assert_eq!(json["per_second"][0]["ok"], 2);
        assert_eq!(json["per_second"][0]["offered"], 100);
        let back: LoadSummary = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.counts.ok, 2);
        assert_eq!((back.intended, back.ended_s), (Some(200), Some(0.8)));
        // A record written before `intended` and `ended_s` existed still reads; what it
        // intended is what it sent and what it did not.
        let mut old = json;
        for key in ["intended", "ended_s"] {
            old.as_object_mut().unwrap().remove(key);
        }
        let old: LoadSummary = serde_json::from_value(old).unwrap();
        assert_eq!((old.intended, old.ended_s), (None, None));
        assert_eq!(old.intended_requests(), Some(2 + 1));
    }
}

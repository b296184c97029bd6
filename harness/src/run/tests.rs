//! The run path without processes: the sampler over a fake memory source and the driver over
//! a fake load, on a paused clock, building the record from the events as a run does.

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use super::driver::{self, LoadRunner};
use super::live::{Live, LiveRef};
use super::memory::{Detail, MemorySource};
use super::outcome::{classify, Ended, OomCounter, OomKills};
use super::sampler::{sample_loop, SamplerEnd};
use crate::load::merge::Merger;
use crate::load::{Counts, LoadPlan, LoadSummary, SecondReport};
use crate::progress::Progress;
use crate::record::{Event, RunStatus};
use crate::sample::{Sample, SampleError, SmapsRollup};
use crate::scenario::{Exits, LoadSpec, PhaseSpec, RateStep, StepAt, ToolSpec};
use crate::tool::{StoppedBy, ToolFigures, ToolOutcome, ToolPlan, ToolRun};

const MIB: u64 = 1 << 20;

fn live() -> LiveRef {
    Live::new(None, Progress::new("test".into(), false))
}

/// A server whose RssAnon is `rss[i]` at the i-th sample, gone after the last.
struct FakeMemory {
    rss: Vec<u64>,
    next: usize,
    details: usize,
}

impl MemorySource for FakeMemory {
    fn sample(&mut self, t: f64) -> Result<Sample, SampleError> {
        let rss = *self.rss.get(self.next).ok_or(SampleError::Gone(4242))?;
        self.next += 1;
        Ok(Sample {
            t,
            vm_rss: rss,
            rss_anon: rss,
            ..Default::default()
        })
    }

    fn detail(&mut self, t: f64) -> Detail {
        self.details += 1;
        Detail {
            rollup: Some(SmapsRollup {
                t,
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_sampler_streams_every_sample_until_the_server_is_gone() {
    let l = live();
    let mut m = FakeMemory {
        rss: vec![10 * MIB, 20 * MIB, 30 * MIB, 25 * MIB],
        next: 0,
        details: 0,
    };
    let end = sample_loop(
        &mut m,
        Duration::from_millis(100),
        Duration::from_millis(250),
        None,
        l.clone(),
    )
    .await;
    assert_eq!(end, SamplerEnd::Gone("server process is gone".into()));
    let rec = std::mem::take(&mut l.borrow_mut().record);
    let ts: Vec<f64> = rec.samples.iter().map(|s| s.t).collect();
    // Evenly spaced on the clock, none lost, none bunched.
    assert_eq!(ts, [0.0, 0.1, 0.2, 0.3]);
    // The slower readings: at the start, then once 250 ms have passed (at 0.3 s).
    assert_eq!(m.details, 2);
}

/// A server that is fine while the harness cannot read it for `unreadable` samples, from the
/// second, then gone after `samples` good ones.
struct Unreadable {
    unreadable: std::ops::Range<usize>,
    samples: usize,
    next: usize,
}

impl MemorySource for Unreadable {
    fn sample(&mut self, t: f64) -> Result<Sample, SampleError> {
        let i = self.next;
        self.next += 1;
        if self.unreadable.contains(&i) {
            return Err(SampleError::Unreadable {
                path: "/proc/4242/status".into(),
                source: std::io::Error::from_raw_os_error(libc::EMFILE),
            });
        }
        if i >= self.samples.saturating_add(self.unreadable.len()) {
            return Err(SampleError::Gone(4242));
        }
        Ok(Sample {
            t,
            ..Default::default()
        })
    }

    fn detail(&mut self, _t: f64) -> Detail {
        Detail::default()
    }
}

/// The harness out of file descriptors for a while: samples are missed, the run goes on, and
/// the server's exit is still its exit.
#[tokio::test(start_paused = true)]
async fn a_passing_read_error_of_the_harness_costs_samples_not_the_run() {
    let l = live();
    let mut m = Unreadable {
        unreadable: 1..11,
        samples: 3,
        next: 0,
    };
    let end = sample_loop(
        &mut m,
        Duration::from_millis(100),
        Duration::from_secs(1),
        None,
        l.clone(),
    )
    .await;
    assert_eq!(end, SamplerEnd::Gone("server process is gone".into()));
    let ts: Vec<f64> = l.borrow().record.samples.iter().map(|s| s.t).collect();
    assert_eq!(ts, [0.0, 1.1, 1.2]);
}

/// One that lasts ends the run as the harness's failure, never as the server's exit.
#[tokio::test(start_paused = true)]
async fn a_lasting_read_error_of_the_harness_is_told_as_its_own() {
    let l = live();
    let mut m = Unreadable {
        unreadable: 1..usize::MAX,
        samples: 3,
        next: 0,
    };
    let end = sample_loop(
        &mut m,
        Duration::from_millis(100),
        Duration::from_secs(1),
        None,
        l.clone(),
    )
    .await;
    let SamplerEnd::Unreadable(why) = end else {
        panic!("{end:?}")
    };
    assert!(
        why.starts_with(
            "the harness failed (not the server): the harness could not read /proc/4242/status"
        ) && why.contains("out of file descriptors"),
        "{why}"
    );
    assert_eq!(l.borrow().record.samples.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn over_the_memory_limit_the_sampler_stops_with_the_figures() {
    let l = live();
    l.borrow_mut().begin("during", Duration::from_secs(5));
    let mut m = FakeMemory {
        rss: vec![10 * MIB, 20 * MIB, 600 * MIB, 700 * MIB],
        next: 0,
        details: 0,
    };
    let end = sample_loop(
        &mut m,
        Duration::from_millis(100),
        Duration::from_secs(1),
        Some(512 * MIB),
        l.clone(),
    )
    .await;
    let SamplerEnd::OverLimit(why) = end else {
        panic!("{end:?}")
    };
    assert!(
        why.starts_with("VmRSS 600.0 MiB crossed the memory limit of 512.0 MiB 0.2s into `during`"),
        "{why}"
    );
    // The sample over the limit is kept; nothing after it was read.
    assert_eq!(l.borrow().record.samples.len(), 3);
    let kills = OomKills {
        source: OomCounter::Machine.source(),
        before: None,
        after: None,
    };
    let (status, failure) = classify(&Ended::OverLimit(why.clone()), None, &kills);
    assert_eq!((status, failure), (RunStatus::Oom, Some(why)));
}

/// A load that takes its phase's duration, reports one second, and remembers its plans; its
/// tool takes its phase's duration too, gives 55 req/s, and fails the run with `tool_fails`.
struct FakeLoad {
    plans: RefCell<Vec<LoadPlan>>,
    fail: Option<&'static str>,
    tool_phases: RefCell<Vec<String>>,
    tool_fails: Option<&'static str>,
}

impl LoadRunner for FakeLoad {
    fn run<'a>(
        &'a self,
        plan: &'a LoadPlan,
        on_second: &'a mut dyn FnMut(&SecondReport),
    ) -> Pin<Box<dyn Future<Output = Result<LoadSummary, String>> + 'a>> {
        Box::pin(async move {
            self.plans.borrow_mut().push(plan.clone());
            if let Some(why) = self.fail {
                return Err(why.to_string());
            }
            // Its workers start 250 ms into the phase; its last response is 1 s before the
            // phase ends (while they drain and exit).
            let started = tokio::time::Instant::now() + Duration::from_millis(250);
            tokio::time::sleep(plan.duration).await;
            let mut summary = Merger::new(plan).summary(plan);
            summary.started = Some(started);
            summary.ended_s = Some(plan.duration.as_secs_f64() - 1.25);
            let second = SecondReport {
                t: 0,
                offered: None,
                counts: Counts {
                    ok: 7,
                    ..Default::default()
                },
                latency_ms: Default::default(),
                latency_uncorrected_ms: Default::default(),
                per_request: Vec::new(),
            };
            on_second(&second);
            Ok(summary)
        })
    }

    fn run_tool<'a>(
        &'a self,
        plan: &'a ToolPlan<'a>,
    ) -> Pin<Box<dyn Future<Output = Result<ToolOutcome, String>> + 'a>> {
        Box::pin(async move {
            self.tool_phases.borrow_mut().push(plan.phase.to_string());
            let started = tokio::time::Instant::now();
            tokio::time::sleep(plan.duration).await;
            let run = ToolRun {
                phase: plan.phase.to_string(),
                argv: plan.spec.command.clone(),
                out_dir: plan.out.display().to_string(),
                phase_s: plan.duration.as_secs_f64(),
                ran_s: plan.duration.as_secs_f64(),
                started_t: None,
                ended_t: None,
                exit_code: None,
                exit_signal: Some(2),
                stopped_by: Some(StoppedBy::Sigint),
                cpu_user_s: 0.5,
                cpu_sys_s: 0.1,
                output_tail: "rps 55\n".into(),
                figures: ToolFigures {
                    requests_per_second: Some(55.0),
                    ..Default::default()
                },
                started: Some(started),
            };
            let failure = self.tool_fails.map(str::to_string);
            Ok(ToolOutcome { run, failure })
        })
    }
}

fn phases(before: u64, during: u64, drain: u64) -> PhaseSpec {
    PhaseSpec {
        warmup_rate: 20.0,
        before: Duration::from_secs(before),
        during: Duration::from_secs(during),
        drain: Duration::from_secs(drain),
        nudge_rate: 5.0,
        ..crate::record::fixtures::no_phases()
    }
}

fn load_spec() -> LoadSpec {
    LoadSpec {
        path: "/file/hot".into(),
        range: (0, 1048575),
        processes: 2,
        connections: 8,
        rate: Some(400.0),
        timeout: Duration::from_secs(3),
        retries: 1,
        backoff: Duration::from_millis(100),
        steps: vec![RateStep {
            at: StepAt::Fraction(0.5),
            rate: 800.0,
        }],
        tool: None,
        mix: None,
    }
}

fn phase_plan<'a>(ph: &'a PhaseSpec, spec: &'a LoadSpec) -> driver::Phases<'a> {
    driver::Phases {
        phases: ph,
        load: spec,
        release_path: "/admin/release",
        stats_path: None,
        remote_target: false,
        tool_dir: None,
    }
}

impl FakeLoad {
    fn new(fail: Option<&'static str>) -> FakeLoad {
        FakeLoad {
            plans: RefCell::new(Vec::new()),
            fail,
            tool_phases: RefCell::new(Vec::new()),
            tool_fails: None,
        }
    }
}

const ADDR: &str = "127.0.0.1:41234";

/// The phase marks of a record: name, start, end.
fn marks_of(rec: &crate::record::RecordBuilder) -> Vec<(&str, f64, f64)> {
    rec.phases
        .iter()
        .map(|m| (m.name.as_str(), m.start, m.end))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_driver_runs_the_phases_in_order_with_the_scenarios_load() {
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("run.jsonl");
    let l = Live::new(
        Some(crate::record::EventLog::create(&stream).unwrap()),
        Progress::new("test".into(), false),
    );
    let (ph, spec) = (phases(2, 4, 3), load_spec());
    let p = phase_plan(&ph, &spec);
    let load = FakeLoad::new(None);
    let addr: SocketAddr = ADDR.parse().unwrap();
    driver::drive(&p, addr, &load, &l).await.unwrap();

    let rec = std::mem::take(&mut l.borrow_mut().record);
    assert_eq!(
        marks_of(&rec),
        [
            ("before", 0.0, 2.0),
            ("during", 2.0, 6.0),
            ("drain", 6.0, 9.0)
        ]
    );
    // The load plan is the scenario's typed values, the step at half of `during`.
    let plans = load.plans.borrow();
    assert_eq!(plans.len(), 1);
    let d = &plans[0];
    assert_eq!(d.target.url, "http://127.0.0.1:41234/file/hot");
    assert_eq!((d.processes, d.connections, d.rate), (2, 8, Some(400.0)));
    assert_eq!(d.duration, Duration::from_secs(4));
    assert_eq!(d.steps.len(), 1);
    assert_eq!(
        (d.steps[0].at, d.steps[0].rate),
        (Duration::from_secs(2), 800.0)
    );
    // The load's summary is part of the record, and its second was streamed under `during`.
    assert_eq!(rec.loads.len(), 1);
    assert_eq!(
        (rec.loads[0].phase.as_str(), rec.loads[0].summary.processes),
        ("during", 2)
    );
    // Its start and its end in the run's clock, where the samples are: t90 counts from 5.0,
    // not from `during`'s end at 6.0.
    assert_eq!(
        (rec.loads[0].started_t, rec.loads[0].ended_t),
        (Some(2.25), Some(5.0))
    );
    drop(l);
    let streamed: Vec<Event> = std::fs::read_to_string(&stream)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let seconds: Vec<(&str, u64)> = streamed
        .iter()
        .filter_map(|e| match e {
            Event::LoadSecond { phase, report } => Some((phase.as_str(), report.counts.ok)),
            _ => None,
        })
        .collect();
    assert_eq!(seconds, [("during", 7)]);
}

#[tokio::test(start_paused = true)]
async fn the_driver_times_each_phase_and_a_loads_start_and_end_apart_from_it() {
    let l = live();
    let ph = PhaseSpec {
        warmup: Duration::from_secs(2),
        nudge: Duration::from_secs(2),
        ..phases(2, 4, 3)
    };
    let spec = load_spec();
    let p = phase_plan(&ph, &spec);
    driver::drive(&p, ADDR.parse().unwrap(), &FakeLoad::new(None), &l)
        .await
        .unwrap();
    let t = l.borrow().watch.timings();
    let secs = |step: &str| t.steps.iter().find(|s| s.step == step).map(|s| s.seconds);
    // Each load's workers start 0.25 s into its phase and end 1 s after its last answer:
    // those laps are overhead, the rest of the phase is the phase's.
    let steps = [
        "warmup",
        "before",
        "during",
        "drain",
        "nudge",
        "load start",
        "load end",
    ];
    assert_eq!(
        steps.map(secs),
        [
            2.0 - 1.25,
            2.0,
            4.0 - 1.25,
            3.0,
            2.0 - 1.25,
            3.0 * 0.25,
            3.0
        ]
        .map(Some)
    );
    let parts: f64 = t.steps.iter().map(|s| s.seconds).sum();
    assert_eq!((parts, t.total_s), (13.0, 13.0));
    assert_eq!(
        (t.measured_s, t.conditioning_s, t.overhead_s),
        (8.5, 0.75, 3.75)
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_load_stops_the_driver_and_ends_its_phase() {
    let l = live();
    let (ph, spec) = (phases(1, 4, 3), load_spec());
    let p = phase_plan(&ph, &spec);
    let load = FakeLoad::new(Some("worker 1 died"));
    let err = driver::drive(&p, ADDR.parse().unwrap(), &load, &l)
        .await
        .unwrap_err();
    assert_eq!(err, "during load: worker 1 died");
    let rec = std::mem::take(&mut l.borrow_mut().record);
    let names: Vec<&str> = rec.phases.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["before", "during"]);
    assert!(rec.phases.iter().all(|m| m.end >= m.start));
}

#[tokio::test(start_paused = true)]
async fn an_interrupt_keeps_what_was_measured_and_ends_the_phase_in_progress() {
    let l = live();
    let (ph, spec) = (phases(2, 4, 3), load_spec());
    let p = phase_plan(&ph, &spec);
    let load = FakeLoad::new(None);
    let mut m = FakeMemory {
        rss: vec![10 * MIB; 1000],
        next: 0,
        details: 0,
    };
    // As a run does: the driver, the sampler and the shutdown future, the first to end wins.
    let ended = tokio::select! {
        r = driver::drive(&p, ADDR.parse().unwrap(), &load, &l) => match r {
            Ok(()) => Ended::Done,
            Err(e) => Ended::Failed(e),
        },
        _ = sample_loop(&mut m, Duration::from_millis(500), Duration::from_secs(1), None, l.clone()) => Ended::Failed("sampler".into()),
        _ = tokio::time::sleep(Duration::from_millis(3250)) => Ended::Interrupted,
    };
    assert_eq!(ended, Ended::Interrupted);
    l.borrow_mut().end();
    l.borrow_mut().emit(Event::End {
        status: RunStatus::Interrupted,
        failure: None,
        server_exit: None,
    });
    let rec = std::mem::take(&mut l.borrow_mut().record);
    // Samples at 0, 0.5, ..., 3.0 s: all kept.
    assert_eq!(rec.samples.len(), 7);
    let last = rec.phases.last().unwrap();
    assert_eq!(
        (last.name.as_str(), last.start, last.end),
        ("during", 2.0, 3.25)
    );
}

/// Drives the phases with the poller beside them, as a run does; `fetch` answers after
/// `answer_after` (a slow `/stats` under load). Returns the phase marks and the times at which
/// the server was asked (`asked`) and answered (the readings' `t`).
async fn poll_through_phases(
    stats_in: &[&str],
    answer_after: Duration,
) -> (Vec<(String, f64, f64)>, Vec<f64>, Vec<f64>) {
    let l = live();
    l.borrow_mut().addr = Some(ADDR.parse().unwrap());
    let mut ph = phases(2, 4, 3);
    ph.warmup = Duration::from_secs(1);
    ph.nudge = Duration::from_secs(2);
    let spec = load_spec();
    let p = phase_plan(&ph, &spec);
    let load = FakeLoad::new(None);
    let asked = RefCell::new(Vec::new());
    let fetch = || async {
        asked.borrow_mut().push(l.borrow().now());
        tokio::time::sleep(answer_after).await;
        Some(serde_json::json!({"app": {"live_bytes": 1}}))
    };
    let stats_in: Vec<String> = stats_in.iter().map(|s| s.to_string()).collect();
    tokio::select! {
        r = driver::drive(&p, ADDR.parse().unwrap(), &load, &l) => r.unwrap(),
        _ = super::stats::stats_loop(fetch, Duration::from_millis(250), &stats_in, l.clone()) => unreachable!(),
    }
    let rec = std::mem::take(&mut l.borrow_mut().record);
    let marks = rec
        .phases
        .iter()
        .map(|m| (m.name.clone(), m.start, m.end))
        .collect();
    let read = rec.stats.iter().map(|s| s.t).collect();
    (marks, asked.into_inner(), read)
}

/// Strictly inside the phase: at the instant one phase ends and the next begins (the same
/// time on a paused clock) a request belongs to either.
fn in_phase(marks: &[(String, f64, f64)], name: &str, t: f64) -> bool {
    marks.iter().any(|(n, s, e)| n == name && t > *s && t < *e)
}

#[tokio::test(start_paused = true)]
async fn by_default_the_server_is_never_asked_for_stats_in_before_or_drain() {
    let default = crate::scenario::STATS_IN_DEFAULT;
    let (marks, asked, read) = poll_through_phases(&default, Duration::from_millis(100)).await;
    let names: Vec<&str> = marks.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(names, ["warmup", "before", "during", "drain", "nudge"]);
    for t in &asked {
        for quiet in crate::scenario::QUIET_PHASES {
            assert!(
                !in_phase(&marks, quiet, *t),
                "asked at {t} in {quiet}: {marks:?}"
            );
        }
    }
    // Polled where allowed, every 250 ms: during [3,7]; not warmup [0,1], nor the nudge
    // [10,12], whose first request must be its own.
    let count = |name| asked.iter().filter(|t| in_phase(&marks, name, **t)).count();
    assert_eq!(
        (count("warmup"), count("during"), count("nudge")),
        (0, 15, 0)
    );
    // Every answer arrives; only a request still in flight when its phase ended (at most one
    // per polled phase) is dropped.
    assert!(asked.len() - read.len() <= 1, "{asked:?} {read:?}");
}

#[tokio::test(start_paused = true)]
async fn a_stats_request_in_flight_when_the_load_stops_is_cancelled() {
    // /stats answers after 400 ms; polls start every 250 ms, so one is always in flight.
    let (marks, asked, read) = poll_through_phases(&["during"], Duration::from_millis(400)).await;
    let during = marks.iter().find(|m| m.0 == "during").unwrap().clone();
    assert!(!asked.is_empty());
    assert!(
        asked.iter().all(|t| *t >= during.1 && *t <= during.2),
        "{asked:?}"
    );
    // The last request asked at 6.75 s would have answered at 7.15 s, in the drain: dropped.
    assert!(asked.len() > read.len(), "{asked:?} {read:?}");
}

#[tokio::test(start_paused = true)]
async fn a_scenario_may_poll_the_drain_and_then_it_is_polled() {
    // What `stats_in = [..., "drain"]` asks: the perturbing configuration, which must poll.
    let (marks, asked, _) = poll_through_phases(&["during", "drain"], Duration::ZERO).await;
    let in_drain = asked
        .iter()
        .filter(|t| in_phase(&marks, "drain", **t))
        .count();
    assert_eq!(in_drain, 11, "{asked:?}");
}

#[tokio::test(start_paused = true)]
async fn cycles_repeat_the_load_and_the_drain() {
    let l = live();
    let (mut ph, spec) = (phases(1, 2, 3), load_spec());
    ph.cycles = 3;
    let p = phase_plan(&ph, &spec);
    let load = FakeLoad::new(None);
    driver::drive(&p, ADDR.parse().unwrap(), &load, &l)
        .await
        .unwrap();
    let rec = std::mem::take(&mut l.borrow_mut().record);
    assert_eq!(
        marks_of(&rec),
        [
            ("before", 0.0, 1.0),
            ("during", 1.0, 3.0),
            ("drain", 3.0, 6.0),
            ("during", 6.0, 8.0),
            ("drain", 8.0, 11.0),
            ("during", 11.0, 13.0),
            ("drain", 13.0, 16.0),
        ]
    );
    assert_eq!(load.plans.borrow().len(), 3);
    assert_eq!(rec.loads.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_soak_repeats_cycles_until_its_length_has_passed_and_finishes_the_last() {
    // Cycles of 5 s; a soak of 12 s starts a third cycle at 10 s and lets it end at 15 s.
    let l = live();
    let (mut ph, spec) = (phases(1, 2, 3), load_spec());
    ph.soak = Some(Duration::from_secs(12));
    let p = phase_plan(&ph, &spec);
    let load = FakeLoad::new(None);
    driver::drive(&p, ADDR.parse().unwrap(), &load, &l)
        .await
        .unwrap();
    let rec = std::mem::take(&mut l.borrow_mut().record);
    let drains: Vec<_> = marks_of(&rec)
        .into_iter()
        .filter(|m| m.0 == "drain")
        .collect();
    assert_eq!(
        drains,
        [
            ("drain", 3.0, 6.0),
            ("drain", 8.0, 11.0),
            ("drain", 13.0, 16.0)
        ]
    );
    assert_eq!(ph.max_cycles(), 3, "the most a typo can ask for");
}

/// A tool that drives `during` only, under a run with a warmup and a nudge.
fn tool_spec() -> ToolSpec {
    ToolSpec {
        command: vec!["wrk".into(), "{url}".into()],
        phases: vec!["during".into()],
        stop_grace: Duration::from_secs(2),
        exits: Exits::AtPhaseEnd,
        figures: Vec::new(),
        path: None,
        cwd: ".".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_tool_drives_the_phases_it_names_and_the_built_in_client_the_others() {
    let l = live();
    let mut ph = phases(1, 4, 3);
    ph.warmup = Duration::from_secs(1);
    ph.nudge = Duration::from_secs(1);
    let mut spec = load_spec();
    spec.tool = Some(tool_spec());
    let mut p = phase_plan(&ph, &spec);
    p.tool_dir = Some("/tmp/x.tool".into());
    let load = FakeLoad::new(None);
    driver::drive(&p, ADDR.parse().unwrap(), &load, &l)
        .await
        .unwrap();
    let durations: Vec<u64> = load
        .plans
        .borrow()
        .iter()
        .map(|pl| pl.duration.as_secs())
        .collect();
    assert_eq!(durations, [1, 1], "warmup and nudge by the built-in client");
    assert_eq!(*load.tool_phases.borrow(), ["during"]);
    let b = std::mem::take(&mut l.borrow_mut().record);
    let rec = b.build(
        crate::record::fixtures::header("glibc", 1),
        RunStatus::Ok,
        None,
        None,
    );
    let [t] = &rec.load_tools[..] else {
        panic!("{:?}", rec.load_tools)
    };
    // Placed on the run's clock: `during` starts after warmup (1 s) and before (1 s).
    assert_eq!((t.started_t, t.ended_t), (Some(2.0), Some(6.0)));
    assert_eq!(t.out_dir, "/tmp/x.tool/during");
    assert!(rec.load.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_failing_tool_fails_the_run_and_is_recorded() {
    let l = live();
    let ph = phases(1, 2, 3);
    let mut spec = load_spec();
    spec.tool = Some(tool_spec());
    let mut p = phase_plan(&ph, &spec);
    p.tool_dir = Some("/tmp/x.tool".into());
    let mut load = FakeLoad::new(None);
    load.tool_fails = Some("load tool wrk exited with status 1 during `during`: oops");
    let err = driver::drive(&p, ADDR.parse().unwrap(), &load, &l)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "load tool wrk exited with status 1 during `during`: oops"
    );
    let rec = std::mem::take(&mut l.borrow_mut().record);
    let names: Vec<&str> = rec.phases.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["before", "during"]);
    let rec = rec.build(
        crate::record::fixtures::header("glibc", 1),
        RunStatus::Failed,
        None,
        None,
    );
    assert_eq!(rec.load_tools.len(), 1);
}

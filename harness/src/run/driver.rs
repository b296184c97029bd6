//! The phases of a run, in order, once the server is ready: warmup, before, during, drain,
//! nudge, release. Loads go through a [`LoadRunner`] (the harness's worker processes, or a
//! fake in tests), built from the scenario's typed values: the built-in client's, or the
//! scenario's own tool's (`[load] command`) in the phases it drives.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;

use super::live::LiveRef;
use crate::load::remote::Coordinator;
use crate::load::{self, LoadPlan, LoadSummary, SecondReport, Target};
use crate::record::{Event, PhaseLoad};
use crate::scenario::{LoadSpec, PhaseSpec, ToolSpec};
use crate::server::ask;
use crate::tool::{ToolOutcome, ToolPlan};

/// Runs one phase's load: `on_second` gets each second's report as it is merged.
pub trait LoadRunner {
    fn run<'a>(
        &'a self,
        plan: &'a LoadPlan,
        on_second: &'a mut dyn FnMut(&SecondReport),
    ) -> Pin<Box<dyn Future<Output = Result<LoadSummary, String>> + 'a>>;

    /// Runs the scenario's own tool for one phase ([`crate::tool::run`]); `Err` when it could
    /// not start.
    fn run_tool<'a>(
        &'a self,
        plan: &'a ToolPlan<'a>,
    ) -> Pin<Box<dyn Future<Output = Result<ToolOutcome, String>> + 'a>> {
        let _ = plan;
        Box::pin(async { Err("this load runner runs no load tool".to_string()) })
    }
}

/// The load client's worker processes (`allocstorm load-worker`), started from `exe`, or with
/// `[remote]` the workers that join the coordinator from other hosts.
pub struct Workers<'c> {
    pub exe: PathBuf,
    pub remote: Option<&'c Coordinator>,
}

impl LoadRunner for Workers<'_> {
    fn run<'a>(
        &'a self,
        plan: &'a LoadPlan,
        on_second: &'a mut dyn FnMut(&SecondReport),
    ) -> Pin<Box<dyn Future<Output = Result<LoadSummary, String>> + 'a>> {
        Box::pin(async move {
            match self.remote {
                Some(c) => c.run_load(plan, |r| on_second(r)).await,
                None => load::run_load(plan, &self.exe, |r| on_second(r)).await,
            }
            .map_err(|e| e.to_string())
        })
    }

    fn run_tool<'a>(
        &'a self,
        plan: &'a ToolPlan<'a>,
    ) -> Pin<Box<dyn Future<Output = Result<ToolOutcome, String>> + 'a>> {
        Box::pin(crate::tool::run(plan, &self.exe))
    }
}

/// What the phases need to know besides the phase lengths.
pub struct Phases<'a> {
    pub phases: &'a PhaseSpec,
    pub load: &'a LoadSpec,
    /// Whether the server has `/admin/release` (the release phase asks it).
    pub release_path: &'a str,
    /// The server's stats endpoint, if it has one and no probe: read once as soon as A's
    /// window has closed.
    pub stats_path: Option<&'a str>,
    /// `[remote]`: the server listens on the scenario's `listen` address for load workers on
    /// other hosts, so its address need not be loopback (the workers check what they may load).
    pub remote_target: bool,
    /// Where the scenario's own load tool keeps each phase's files (`{out}`), when it has one.
    pub tool_dir: Option<PathBuf>,
}

impl Phases<'_> {
    fn plan(
        &self,
        addr: SocketAddr,
        processes: u32,
        connections: u32,
        rate: Option<f64>,
        duration: Duration,
    ) -> LoadPlan {
        let l = self.load;
        LoadPlan {
            target: Target::at(addr, &l.path),
            range: l.range,
            processes: processes as usize,
            connections: connections as usize,
            rate,
            steps: Vec::new(),
            duration,
            timeout: l.timeout,
            retries: l.retries,
            backoff: l.backoff,
            allow_remote: self.remote_target,
            mix: l.mix.clone(),
        }
    }
}

/// Walks the phases against the server at `addr`. Returns why it stopped early, if it did.
pub async fn drive(
    p: &Phases<'_>,
    addr: SocketAddr,
    loads: &dyn LoadRunner,
    live: &LiveRef,
) -> Result<(), String> {
    let (phases, spec) = (p.phases, p.load);
    // warmup: a few requests, so glibc's dynamic mmap threshold is trained as in production.
    if !phases.warmup.is_zero() {
        let plan = p.plan(
            addr,
            1,
            spec.connections.min(2),
            Some(phases.warmup_rate),
            phases.warmup,
        );
        load_or_tool((p, addr, loads, live), "warmup", 1, plan).await?;
    }
    idle_phase("before", phases.before, live).await;
    let mut plan = p.plan(
        addr,
        spec.processes,
        spec.connections,
        spec.rate,
        phases.during,
    );
    plan.steps = spec
        .steps
        .iter()
        .map(|s| load::RateStep {
            at: s.at.offset(phases.during),
            rate: s.rate,
        })
        .collect();
    // `cycles` times, or for a soak's length: the load, then the drain (leak or retention:
    // crate::figures::cycles; a slope over hours: crate::figures::soak).
    let soak_until = phases.soak.map(|s| Instant::now() + s);
    for cycle in 1..=phases.max_cycles() {
        if cycle > 1 && soak_until.is_some_and(|u| Instant::now() >= u) {
            break;
        }
        load_or_tool((p, addr, loads, live), "during", cycle, plan.clone()).await?;
        idle_phase("drain", phases.drain, live).await;
        if let Some(path) = p.stats_path {
            read_stats_after_drain(path, addr, live).await;
            live.borrow_mut().watch.lap("stats read");
        }
    }
    if !phases.nudge.is_zero() {
        let plan = p.plan(addr, 1, 1, Some(phases.nudge_rate), phases.nudge);
        load_or_tool((p, addr, loads, live), "nudge", 1, plan).await?;
    }
    if !phases.release.is_zero() {
        release_phase(p.release_path, phases.release, addr, live).await?;
    }
    Ok(())
}

/// The allocator's and the app's figures after the drain, read once A's window (the drain's
/// last second) has closed, so that reading them cannot change A: the report's "held vs live
/// after drain". Before the next phase begins, so it is the last reading of the drain.
async fn read_stats_after_drain(path: &str, addr: SocketAddr, live: &LiveRef) {
    super::stats::read_once(async { ask::stats_at(addr, path).await.ok() }, live).await;
}

async fn idle_phase(name: &str, d: Duration, live: &LiveRef) {
    live.borrow_mut().begin(name, d);
    tokio::time::sleep(d).await;
    live.borrow_mut().end();
}

/// Who drives a load phase: the phases, the server's address, the runner, the run.
type By<'b, 'p> = (&'b Phases<'p>, SocketAddr, &'b dyn LoadRunner, &'b LiveRef);

/// The phase `name` (its `cycle`-th run) under the scenario's tool if it drives it, under the
/// built-in client's `plan` otherwise.
async fn load_or_tool(
    by: By<'_, '_>,
    name: &str,
    cycle: u32,
    plan: LoadPlan,
) -> Result<(), String> {
    let (p, _, loads, live) = by;
    match p
        .load
        .tool
        .as_ref()
        .filter(|t| t.phases.iter().any(|x| x == name))
    {
        Some(t) => tool_phase(by, t, name, cycle, plan.duration).await,
        None => load_phase(name, plan, loads, live).await,
    }
}

/// One phase under the scenario's own tool: its run streamed for the record whatever it did,
/// then its failure, if any, is the run's.
async fn tool_phase(
    (p, addr, loads, live): By<'_, '_>,
    t: &ToolSpec,
    name: &str,
    cycle: u32,
    duration: Duration,
) -> Result<(), String> {
    let dir = p
        .tool_dir
        .as_ref()
        .ok_or("no directory for the load tool's files")?;
    let out = match cycle {
        1 => dir.join(name),
        n => dir.join(format!("{name}-{n}")),
    };
    let plan = ToolPlan {
        spec: t,
        phase: name,
        duration,
        addr,
        out,
        read_figures: name == "during",
    };
    live.borrow_mut().begin(name, duration);
    let outcome = loads.run_tool(&plan).await;
    live.borrow_mut().end();
    let ToolOutcome { mut run, failure } = outcome?;
    let mut l = live.borrow_mut();
    run.started_t = run.started.and_then(|s| l.t_of(s));
    run.ended_t = run.started_t.map(|s| s + run.ran_s);
    l.emit(Event::LoadTool(Box::new(run)));
    failure.map_or(Ok(()), Err)
}

async fn load_phase(
    name: &str,
    plan: LoadPlan,
    loads: &dyn LoadRunner,
    live: &LiveRef,
) -> Result<(), String> {
    let plan = plan.checked().map_err(|e| format!("{name}: {e}"))?;
    live.borrow_mut().begin(name, plan.duration);
    let mut on_second = |r: &SecondReport| {
        let mut l = live.borrow_mut();
        l.last_rps = Some(r.counts.ok as f64);
        l.emit(Event::LoadSecond {
            phase: name.to_string(),
            report: Box::new(r.clone()),
        });
    };
    let result = loads.run(&plan, &mut on_second).await;
    if let Ok(s) = &result {
        live.borrow_mut().watch.lap_load(name, s);
    }
    live.borrow_mut().end();
    let summary = result.map_err(|e| format!("{name} load: {e}"))?;
    let mut l = live.borrow_mut();
    // The load's moments in the run's clock, where the samples are: t90 counts from its end.
    let started_t = summary.started.and_then(|s| l.t_of(s));
    let ended_t = started_t.zip(summary.ended_s).map(|(s, e)| s + e);
    l.emit(Event::Load(Box::new(PhaseLoad {
        phase: name.to_string(),
        summary,
        started_t,
        ended_t,
    })));
    Ok(())
}

/// `POST /admin/release`, then watch until the phase's end.
async fn release_phase(
    path: &str,
    d: Duration,
    addr: SocketAddr,
    live: &LiveRef,
) -> Result<(), String> {
    live.borrow_mut().begin("release", d);
    let until = Instant::now() + d;
    match ask::request(addr, hyper::Method::POST, path, Duration::from_secs(10)).await {
        Ok((200, body)) => {
            let outcome: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let t = live.borrow().now();
            live.borrow_mut().emit(Event::Release { t, outcome });
        }
        Ok((status, _)) => return Err(format!("{path} answered {status}")),
        Err(e) => return Err(e.to_string()),
    }
    tokio::time::sleep_until(until).await;
    live.borrow_mut().end();
    Ok(())
}

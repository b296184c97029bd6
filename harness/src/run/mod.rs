//! One run of one variant: start its server in a memory cgroup of its own ([`crate::cgroup`]),
//! walk the phases, sample from outside, record.
//!
//! Three tasks run at once on the main thread's runtime: the [`driver`] (readiness, then the
//! phases), the [`sampler`] (memory from a [`memory::MemorySource`]: `/proc`) and the [`stats`]
//! poller. Whichever ends first, or the shutdown future (Ctrl-C), decides how the run ended;
//! [`outcome::classify`] turns that and the server's exit into the record's status. Every
//! reading is streamed as an event to the run's event stream
//! ([`ReportDir::events`](crate::record::dir::ReportDir::events)) and the record is built from
//! those events ([`RecordBuilder`](crate::record::RecordBuilder)), as `report` rebuilds a
//! killed run's.

pub mod driver;
pub mod live;
pub mod memory;
pub mod outcome;
pub mod sampler;
pub mod settings;
pub mod stats;
pub mod stats_command;
#[cfg(test)]
mod tests;
pub mod timings;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cgroup::{self, CgroupNote, ServerCgroup};
use crate::cost::measure::{CostRequest, LatencyRate};
use crate::cost::CostRecord;
use crate::load::remote::{self, Coordinator};
use crate::probe::{ProbeNote, RunProbe};
use crate::progress::Progress;
use crate::record::{write_json_atomic, Event, EventLog, RunHeader, RunRecord, RunStatus};
use crate::sample::ProcReader;
use crate::scenario::{SampleScope, Scenario, ServerSpec, Variant};
use crate::server::ask;
use crate::server::{self, target, Launch, Running};
use live::{Live, LiveRef};
use outcome::Ended;
use sampler::SamplerEnd;
pub use settings::RunSettings;
use timings::Stopwatch;

/// Resolves at Ctrl-C (SIGINT): the shutdown of a run started from the command line.
pub async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}

/// What could not even start: exit code 2 territory.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{path}: cannot write the output directory: {source}")]
    Output {
        path: String,
        source: std::io::Error,
    },
    #[error("{binary} not found in {dir}: build it first (make build, or cargo build --release)")]
    MissingBinary { binary: String, dir: String },
}

impl RunError {
    /// `path` could not be written.
    pub fn output(path: &Path, source: std::io::Error) -> RunError {
        RunError::Output {
            path: path.display().to_string(),
            source,
        }
    }
}

/// One run: which variant, on which server settings, under the invocation's settings.
pub struct RunRequest<'a> {
    pub settings: &'a RunSettings,
    pub scenario: &'a Scenario,
    /// The variant as run: for a sweep point, the derived `glibc@threads=8`.
    pub variant: &'a Variant,
    /// The server configuration: the scenario's `[server]`, or one point of its sweep.
    pub server: &'a ServerSpec,
    pub run_index: u32,
    /// With `[cost]`: the rate of the latency phase, when the comparison has set it (the
    /// reference's capacity); `None` takes this run's own.
    pub latency_rate: Option<LatencyRate>,
}

impl RunRequest<'_> {
    /// `glibc #2`: the run in a progress line.
    fn label(&self) -> String {
        format!("{} #{}", self.variant.name, self.run_index)
    }

    /// The server's stderr of this run.
    fn server_log(&self) -> PathBuf {
        self.settings
            .dir
            .server_log(&self.variant.name, self.run_index)
    }

    /// This run's record.
    fn record_path(&self) -> PathBuf {
        self.settings.dir.record(&self.variant.name, self.run_index)
    }
}

/// With `[remote]`: the coordinator of every run of this invocation, its token from
/// `ALLOCSTORM_TOKEN` or new. Says on stderr how to start workers, with the token when it is
/// new (whoever starts the workers needs it; one from the environment is not repeated).
pub fn coordinator(scenario: &Scenario, verbose: bool) -> Result<Option<Coordinator>, String> {
    let Some(r) = &scenario.remote else {
        return Ok(None);
    };
    let (token, new) = remote::token()?;
    let c = Coordinator {
        listen: r.listen,
        workers: r.workers as usize,
        join: r.join,
        token,
        verbose,
    };
    eprintln!("{}", c.instructions(new));
    Ok(Some(c))
}

/// The toy server's arguments: the scenario's `[server]` (or sweep point), then the variant's.
fn toy_server_args(scenario: &Scenario, server: &ServerSpec, variant: &Variant) -> Vec<String> {
    let mut args = scenario.server_args_for(server);
    args.extend(variant.args.iter().cloned());
    args
}

/// The run's probe, unless the scenario turns it off or a target's library is not built (then
/// the note says why, and the report shows no allocator figures rather than wrong ones).
fn run_probe(req: &RunRequest<'_>, exe: &Path) -> (Option<RunProbe>, ProbeNote) {
    if !req.scenario.sampling.probe {
        return (None, ProbeNote::off("`[sampling] probe = false`"));
    }
    let lib = match &req.scenario.target {
        Some(_) => match crate::probe::library(exe) {
            Ok(l) => Some(l),
            Err(why) => return (None, ProbeNote::off(why)),
        },
        None => None,
    };
    match RunProbe::new(req.settings.sample_interval, lib) {
        Ok(p) => {
            let note = p.note();
            (Some(p), note)
        }
        Err(why) => (None, ProbeNote::off(why)),
    }
}

/// What is known of a run before its server starts.
fn run_header(
    req: &RunRequest<'_>,
    server_command: Vec<String>,
    started_at: String,
    server_cgroup: Option<CgroupNote>,
    probe: Option<crate::probe::ProbeNote>,
) -> RunHeader {
    RunHeader {
        scenario: req.scenario.name.clone(),
        scenario_path: req.scenario.path.display().to_string(),
        scenario_hash: req.scenario.hash.clone(),
        scenario_description: req.scenario.description.clone(),
        variant: req.variant.clone(),
        run_index: req.run_index,
        seed: req.scenario.seed,
        quick: req.settings.quick,
        started_at,
        server_command,
        phases_planned: req.scenario.phases(req.settings.quick).clone(),
        sample_interval_s: req.settings.sample_interval.as_secs_f64(),
        environment: req.settings.environment.clone(),
        memory_limit_bytes: req.settings.memory_limit,
        report: req.scenario.report.clone(),
        target: req.scenario.target.clone(),
        stats_polled_in: Some(match stats_path(req.scenario) {
            Some(_) => req.scenario.sampling.stats_in.clone(),
            None => Vec::new(),
        }),
        server_cgroup,
        cost_spec: req.scenario.cost.clone(),
        shard: req.settings.shard,
        probe,
    }
}

/// The record of a variant that cannot run here ([`Variant::unavailable`]): status `skipped`,
/// `reason` as its failure, nothing measured; written as `runs/<variant>-<n>.json` so that the
/// report and the gate name it instead of forgetting it.
pub fn write_skipped(req: &RunRequest<'_>, reason: String) -> Result<RunRecord, RunError> {
    let runs = req.settings.dir.runs();
    std::fs::create_dir_all(&runs).map_err(|e| RunError::output(&runs, e))?;
    let command = match &req.scenario.target {
        Some(t) => t.command.clone(),
        None => {
            let bin = req.settings.bin_dir.join(&req.variant.binary);
            let mut c = vec![bin.display().to_string()];
            c.extend(toy_server_args(req.scenario, req.server, req.variant));
            c
        }
    };
    // Never started: no start time, so it sorts after every run that did.
    let mut record = RunRecord::from_header(run_header(req, command, String::new(), None, None));
    record.status = RunStatus::Skipped;
    record.failure = Some(reason);
    let json = req.record_path();
    write_json_atomic(&json, &record).map_err(|e| RunError::output(&json, e))?;
    Ok(record)
}

/// Runs one variant once. A server that dies or misbehaves gives a record with status
/// `failed`; `shutdown` resolving (Ctrl-C) gives `interrupted`, with what was measured kept;
/// only set-up problems are errors.
pub async fn run_variant(
    req: RunRequest<'_>,
    shutdown: impl Future<Output = ()>,
) -> Result<RunRecord, RunError> {
    let entered = tokio::time::Instant::now();
    // Polled again by the cost measurement if the memory run ends before it resolves.
    let mut shutdown = std::pin::pin!(shutdown);
    let dir = &req.settings.dir;
    let runs = dir.runs();
    std::fs::create_dir_all(&runs).map_err(|e| RunError::output(&runs, e))?;
    let exe = std::env::current_exe()
        .map_err(|e| RunError::output(Path::new("the allocstorm executable"), e))?;
    let launch = launch(&req, &exe)?;
    let (jsonl, json) = (
        dir.events(&req.variant.name, req.run_index),
        req.record_path(),
    );
    let log = EventLog::create(&jsonl).map_err(|e| RunError::output(&jsonl, e))?;

    let started_at = crate::clock::utc_rfc3339(std::time::SystemTime::now());
    let command = match &launch {
        Ok(l) => l.command(),
        Err(_) => req
            .scenario
            .target
            .as_ref()
            .map(|t| t.command.clone())
            .unwrap_or_default(),
    };
    // The server's own memory cgroup, removed when this drops: on every way out of here.
    let (server_cgroup, no_cgroup) = match cgroup::for_run(&req.variant.name, req.run_index) {
        Ok(c) => (Some(c), None),
        Err(no) => (None, Some(no)),
    };
    let note = server_cgroup
        .as_ref()
        .map(ServerCgroup::note)
        .or_else(|| no_cgroup.as_ref().map(cgroup::NoCgroup::note));
    // The probe's pages, in a directory of this run's own, removed when this drops.
    let (probe, probe_note) = run_probe(&req, &exe);
    let header = run_header(&req, command, started_at, note, Some(probe_note));
    let progress = Progress::new(req.label(), req.settings.show_progress);
    let live = Live::new(Some(log), progress);
    live.borrow_mut()
        .emit(Event::Start(Box::new(header.clone())));
    live.borrow_mut().watch = Stopwatch::since(entered);
    live.borrow_mut().watch.lap("setup");

    let server_log = req.server_log();
    let started = match (launch, &no_cgroup) {
        // A cgroup the caller named and that cannot be used: the run they asked for cannot be.
        (_, Some(no)) if no.asked => Err(no.reason.clone()),
        (Ok(l), _) => {
            let dir = server_cgroup.as_ref().map(ServerCgroup::dir);
            server::start(l, req.variant, &server_log, dir, probe.as_ref()).await
        }
        (Err(e), _) => Err(e),
    };
    live.borrow_mut().watch.lap("server start");
    let mut server = match started {
        Ok(s) => s,
        Err(e) => {
            let record = finish(header, live, (RunStatus::Failed, Some(e), None))?;
            return write_record(&json, record);
        }
    };
    let oom_counter = match &server_cgroup {
        Some(c) => outcome::OomCounter::Cgroup(c.reader()),
        None => outcome::OomCounter::Machine,
    };
    let oom_kills_before = oom_counter.read();
    live.borrow_mut().begin("startup", Duration::from_secs(10));

    let ended = {
        let scope = req
            .scenario
            .target
            .as_ref()
            .map_or(SampleScope::Process, |t| t.sample);
        let mut memory = memory::ProcSource::new(server.pid, scope)
            .with_cgroup(server_cgroup.as_ref().map(ServerCgroup::reader))
            .with_probe(probe.as_ref().map(RunProbe::pages));
        let sampler = sampler::sample_loop(
            &mut memory,
            req.settings.sample_interval,
            req.scenario.sampling.smaps_interval,
            req.settings.memory_limit,
            live.clone(),
        );
        let fetch = || async {
            let addr = live.borrow().addr?;
            ask::stats_at(addr, stats_path(req.scenario)?).await.ok()
        };
        let poller = stats::stats_loop(
            fetch,
            req.scenario.sampling.stats_interval,
            &req.scenario.sampling.stats_in,
            live.clone(),
        );
        let driver = ready_and_drive(&req, &mut server, &exe, &live, probe.is_some());
        tokio::select! {
            r = driver => match r {
                Ok(()) => Ended::Done,
                Err(why) => Ended::Failed(why),
            },
            end = sampler => match end {
                SamplerEnd::Gone(why) | SamplerEnd::Unreadable(why) => Ended::Failed(why),
                SamplerEnd::OverLimit(why) => Ended::OverLimit(why),
            },
            _ = poller => Ended::Failed("stats poller ended".into()),
            _ = &mut shutdown => Ended::Interrupted,
        }
    };
    live.borrow_mut().end();
    live.borrow_mut().watch.lap("between phases");
    let end = end_server(&mut server, &ended, (&oom_counter, oom_kills_before)).await;
    drop(server);
    live.borrow_mut().watch.lap("server stop");
    if let Some(c) = server_cgroup {
        // The server is reaped; what it started may take a moment more to go.
        if let Err(e) = c.remove(Duration::from_secs(2)).await {
            eprintln!("allocstorm: {e}");
        }
        live.borrow_mut().watch.lap("cgroup removal");
    }
    let mut record = finish(header, live.clone(), end)?;
    if let (Some(spec), RunStatus::Ok) = (&req.scenario.cost, record.status) {
        // The record is written once, with its cost: until then the event stream, flushed
        // line by line, is what `report` rebuilds it from if the harness is killed. A first
        // write here measured nothing and took about 0.25 s a run (a quick hot-range run's
        // record, debug build, 2026-12-07: docs/measurements.md, "Where the time goes").
        let mut watch = live.borrow().watch.clone();
        let cost = tokio::select! {
            c = crate::cost::measure::measure(cost_request(&req, spec, &exe), &mut watch) => c,
            _ = &mut shutdown => CostRecord::stopped(crate::cost::INTERRUPTED),
        };
        live.borrow_mut().emit(Event::Cost(Box::new(cost.clone())));
        record.cost = Some(cost);
        record.timings = Some(watch.timings());
    }
    write_record(&json, record)
}

/// Writes the run's record as `json`.
fn write_record(json: &Path, record: RunRecord) -> Result<RunRecord, RunError> {
    write_json_atomic(json, &record).map_err(|e| RunError::output(json, e))?;
    Ok(record)
}

/// The cost measurement of this run's variant, on the same server settings.
fn cost_request<'a>(
    req: &'a RunRequest<'a>,
    spec: &'a crate::scenario::CostSpec,
    exe: &'a Path,
) -> CostRequest<'a> {
    CostRequest {
        settings: req.settings,
        spec,
        scenario: req.scenario,
        variant: req.variant,
        server: req.server,
        exe,
        log: req
            .settings
            .dir
            .cost_server_log(&req.variant.name, req.run_index),
        latency_rate: req.latency_rate.clone(),
        label: req.label(),
    }
}

/// What to start for this run: the toy server's binary, or the target's prepared directory.
fn launch<'a>(req: &RunRequest<'a>, exe: &Path) -> Result<Result<Launch<'a>, String>, RunError> {
    Ok(match &req.scenario.target {
        None => {
            let bin_dir = &req.settings.bin_dir;
            let bin = bin_dir.join(&req.variant.binary);
            if !bin.is_file() {
                return Err(RunError::MissingBinary {
                    binary: req.variant.binary.clone(),
                    dir: bin_dir.display().to_string(),
                });
            }
            Ok(Launch::Toy {
                bin,
                args: toy_server_args(req.scenario, req.server, req.variant),
            })
        }
        Some(spec) => {
            let dir = req
                .settings
                .dir
                .target_dir(&req.variant.name, req.run_index);
            target::prepare(spec, &dir, req.scenario.seed)
                .map(|prepared| Launch::Target {
                    spec,
                    prepared,
                    exe: exe.to_path_buf(),
                })
                .map_err(|e| format!("preparing the target: {e}"))
        }
    })
}

/// Waits until the server is ready, records what it says of itself and checks the preload,
/// then walks the phases.
async fn ready_and_drive(
    req: &RunRequest<'_>,
    server: &mut Running<'_>,
    exe: &Path,
    live: &LiveRef,
    probed: bool,
) -> Result<(), String> {
    let addr = server.ready().await?;
    let pid = server.pid;
    announce(req, pid, addr, live).await?;
    live.borrow_mut().end();
    let remote = req.settings.remote.as_ref();
    let phases = driver::Phases {
        phases: req.scenario.phases(req.settings.quick),
        load: &req.scenario.load,
        release_path: "/admin/release",
        // With the probe the allocator's figures after the drain need no request.
        stats_path: stats_path(req.scenario).filter(|_| !probed),
        remote_target: remote.is_some(),
        tool_dir: Some(req.settings.dir.tool_dir(&req.variant.name, req.run_index)),
    };
    let workers = driver::Workers {
        exe: exe.to_path_buf(),
        remote,
    };
    driver::drive(&phases, addr, &workers, live).await?;
    if let Some(command) = stats_command(req, addr) {
        stats_command::read_once(&command, live).await;
        live.borrow_mut().watch.lap("stats read");
    }
    Ok(())
}

/// The target's `stats_command` with its placeholders replaced, if it has one.
fn stats_command(req: &RunRequest<'_>, addr: SocketAddr) -> Option<Vec<String>> {
    let command = req.scenario.target.as_ref()?.stats_command.as_ref()?;
    let dir = req
        .settings
        .dir
        .target_dir(&req.variant.name, req.run_index);
    // As `prepare` made it: absolute, like the `{dir}` the target's own command got.
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let file = dir.join("hot");
    let render = |a: &String| crate::server::target::render(a, addr.port(), &dir, &file);
    Some(command.iter().map(render).collect())
}

/// The server is up: where, its settings in effect, and where its preload is mapped.
async fn announce(
    req: &RunRequest<'_>,
    pid: u32,
    addr: SocketAddr,
    live: &LiveRef,
) -> Result<(), String> {
    {
        let mut l = live.borrow_mut();
        l.addr = Some(addr);
        l.emit(Event::Server {
            pid,
            addr: addr.to_string(),
        });
    }
    if let Some(path) = stats_path(req.scenario) {
        let s = ask::stats_at(addr, path).await.map_err(|e| e.to_string())?;
        live.borrow_mut()
            .emit(Event::Settings(crate::record::settings_of(&s)));
    }
    if let Some(lib) = &req.variant.preload {
        // A process tree: every process of it must have the allocator, not only the first.
        let tree = req.scenario.target.as_ref().map(|t| t.sample) == Some(SampleScope::Tree);
        let mapped = check_preload(pid, lib, tree, &req.server_log())?;
        live.borrow_mut().emit(Event::Preload { mapped });
    }
    Ok(())
}

/// Ends the server as the run's end asks, and says how the run ended: status, failure and how
/// the server went.
async fn end_server(
    server: &mut Running<'_>,
    ended: &Ended,
    (oom_counter, oom_kills_before): (&outcome::OomCounter, Option<u64>),
) -> (RunStatus, Option<String>, Option<String>) {
    let (exit, server_exit) = match ended {
        Ended::Done => (None, server.stop(Duration::from_secs(5)).await),
        Ended::OverLimit(_) => {
            // A limit is a wall, not a request: the whole group, at once.
            crate::child::kill_group(server.group);
            let exit = match server.exit_within(Duration::from_secs(5)).await {
                Some(st) => crate::child::describe_exit(st),
                None => server.stop(Duration::from_secs(1)).await,
            };
            (None, format!("{exit} (memory limit, by the harness)"))
        }
        Ended::Failed(_) => {
            // If the server died, say how. Its /proc entry loses its memory lines while it is
            // still exiting, before it can be reaped: give the exit time to complete. A process
            // the kernel's OOM killer took, in a cgroup at its limit on a busy machine, took
            // more than 500 ms to be reapable (CI, 2026-12-07): one that is exiting gets 10 s,
            // one that still has its memory (the load failed, not the server) 500 ms.
            let exiting = ProcReader::new(server.pid).sample(0.0).is_err();
            let wait = match exiting {
                true => Duration::from_secs(10),
                false => Duration::from_millis(500),
            };
            let st = server.exit_within(wait).await;
            let said = match st {
                Some(st) => crate::child::describe_exit(st),
                None => server.stop(Duration::from_secs(2)).await,
            };
            (st, said)
        }
        Ended::Interrupted => {
            server.kill().await;
            (None, "killed by the harness (interrupted)".to_string())
        }
    };
    let kills = outcome::OomKills {
        source: oom_counter.source(),
        before: oom_kills_before,
        after: oom_counter.read(),
    };
    let (status, failure) = outcome::classify(ended, exit, &kills);
    (status, failure, Some(server_exit))
}

/// Streams the end and builds the record from the events, with its timings so far.
fn finish(
    header: RunHeader,
    live: LiveRef,
    (status, failure, server_exit): (RunStatus, Option<String>, Option<String>),
) -> Result<RunRecord, RunError> {
    let mut l = live.borrow_mut();
    l.emit(Event::End {
        status,
        failure: failure.clone(),
        server_exit: server_exit.clone(),
    });
    let mut record = std::mem::take(&mut l.record).build(header, status, failure, server_exit);
    let msg = match record.status {
        RunStatus::Ok => format!(
            "done: B {} P {} A {} retention {}",
            fmt_opt_size(record.figures.rss_before_bytes),
            fmt_opt_size(record.figures.rss_peak_bytes),
            fmt_opt_size(record.figures.rss_after_drain_bytes),
            record
                .figures
                .retention
                .map(|r| format!("{r:.2}"))
                .unwrap_or_else(|| "-".into()),
        ),
        _ => format!(
            "{:?}: {}",
            record.status,
            record.failure.as_deref().unwrap_or("")
        )
        .to_lowercase(),
    };
    l.progress.done(&msg);
    if let Some(e) = l.log_error.take() {
        return Err(RunError::Output {
            path: e,
            source: std::io::Error::other("write failed"),
        });
    }
    l.watch.lap("record");
    record.timings = Some(l.watch.timings());
    Ok(record)
}

fn fmt_opt_size(v: Option<u64>) -> String {
    v.map(allocstorm_core::units::format_size)
        .unwrap_or_else(|| "-".into())
}

/// Where the server's JSON stats are: the toy server's `/stats`, or the target's, if any.
fn stats_path(scenario: &Scenario) -> Option<&str> {
    match &scenario.target {
        None => Some("/stats"),
        Some(t) => t.stats.as_deref(),
    }
}

/// Where the variant's preload is mapped in the server, or why the run fails: the dynamic
/// loader ignores an `LD_PRELOAD` it cannot load (not a shared library, wrong architecture, a
/// setuid binary) with a line on stderr and nothing else, and the run would measure glibc.
/// `tree`: the target is sampled as a process tree; `server_log`: the server's stderr.
fn check_preload(pid: u32, lib: &str, tree: bool, server_log: &Path) -> Result<String, String> {
    if tree {
        for (p, _, name) in crate::sample::process_tree(pid).iter().skip(1) {
            if let Ok(None) = ProcReader::new(*p).mapped_library(Path::new(lib)) {
                return Err(format!(
                    "preload {lib}: not mapped in {name} (pid {p}), a child of the target: LD_PRELOAD was dropped on the way"
                ));
            }
        }
    }
    match crate::sample::ProcReader::new(pid).mapped_library(Path::new(lib)) {
        Ok(Some(mapped)) => Ok(mapped),
        Ok(None) => {
            // What the loader said about it, from the server's stderr, if it said anything.
            let said = std::fs::read_to_string(server_log)
                .unwrap_or_default()
                .lines()
                .find(|l| l.contains("LD_PRELOAD"))
                .map(|l| format!(" ({})", l.trim()))
                .unwrap_or_default();
            Err(format!(
                "preload {lib}: not mapped in the server (pid {pid}): LD_PRELOAD was ignored{said}"
            ))
        }
        Err(e) => Err(format!("preload {lib}: cannot read the server's maps: {e}")),
    }
}

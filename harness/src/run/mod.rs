//! One run of one variant: start its server in a memory cgroup of its own ([`crate::cgroup`]),
//! walk the phases, sample from outside, record.
//!
//! Three tasks run at once on the main thread's runtime: the [`driver`] (readiness, then the
//! phases), the [`sampler`] (memory from a [`memory::MemorySource`]: `/proc`) and the [`stats`]
//! poller. Whichever ends first, or the shutdown future (Ctrl-C), decides how the run ended;
//! [`outcome::classify`] turns that and the server's exit into the record's status. Every
//! reading is streamed as an event to `runs/<variant>-<n>.jsonl` and the record is built from
//! those events ([`RecordBuilder`](crate::record::RecordBuilder)), as `report` rebuilds a
//! killed run's.

pub mod driver;
pub mod live;
pub mod memory;
pub mod outcome;
pub mod sampler;
pub mod stats;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cgroup::{self, CgroupNote, ServerCgroup};
use crate::cost::measure::{CostRequest, LatencyRate};
use crate::cost::CostRecord;
use crate::load::remote::{self, Coordinator};
use crate::probe;
use crate::progress::Progress;
use crate::provenance::Environment;
use crate::record::{write_json_atomic, Event, EventLog, RunHeader, RunRecord, RunStatus};
use crate::sample::ProcReader;
use crate::scenario::{SampleScope, Scenario, ServerSpec, Variant};
use crate::server::{self, target, Launch, Running};
use live::{Live, LiveRef};
use outcome::Ended;
use sampler::SamplerEnd;

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

pub struct RunRequest<'a> {
    pub scenario: &'a Scenario,
    /// The variant as run: for a sweep point, the derived `glibc@threads=8`.
    pub variant: &'a Variant,
    /// The server configuration: the scenario's `[server]`, or one point of its sweep.
    pub server: &'a ServerSpec,
    /// SIGKILL the server when its VmRSS crosses this; the run is then `oom`.
    pub memory_limit: Option<u64>,
    /// The report directory; the run writes into `out_dir/runs/`.
    pub out_dir: &'a Path,
    pub run_index: u32,
    /// The shard of the comparison the run belongs to (`compare --shard I/N`), recorded.
    pub shard: Option<crate::shard::Shard>,
    pub quick: bool,
    pub sample_interval: Duration,
    /// Where the server binaries are (next to the `allocstorm` executable).
    pub bin_dir: &'a Path,
    pub environment: &'a Environment,
    pub show_progress: bool,
    /// With `[cost]`: the rate of the latency phase, when the comparison has set it (the
    /// reference's capacity); `None` takes this run's own.
    pub latency_rate: Option<LatencyRate>,
    /// With `[remote]`: the coordinator every load of the run goes through.
    pub remote: Option<&'a Coordinator>,
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
fn toy_server_args(req: &RunRequest<'_>) -> Vec<String> {
    let mut args = req.scenario.server_args_for(req.server);
    args.extend(req.variant.args.iter().cloned());
    args
}

/// What is known of a run before its server starts.
fn run_header(
    req: &RunRequest<'_>,
    server_command: Vec<String>,
    started_at: String,
    server_cgroup: Option<CgroupNote>,
) -> RunHeader {
    RunHeader {
        scenario: req.scenario.name.clone(),
        scenario_path: req.scenario.path.display().to_string(),
        scenario_hash: req.scenario.hash.clone(),
        scenario_description: req.scenario.description.clone(),
        variant: req.variant.clone(),
        run_index: req.run_index,
        seed: req.scenario.seed,
        quick: req.quick,
        started_at,
        server_command,
        phases_planned: req.scenario.phases(req.quick).clone(),
        sample_interval_s: req.sample_interval.as_secs_f64(),
        environment: req.environment.clone(),
        memory_limit_bytes: req.memory_limit,
        report: req.scenario.report.clone(),
        target: req.scenario.target.clone(),
        stats_polled_in: Some(match stats_path(req) {
            Some(_) => req.scenario.sampling.stats_in.clone(),
            None => Vec::new(),
        }),
        server_cgroup,
        cost_spec: req.scenario.cost.clone(),
        shard: req.shard,
    }
}

/// The record of a variant that cannot run here ([`Variant::unavailable`]): status `skipped`,
/// `reason` as its failure, nothing measured; written as `runs/<variant>-<n>.json` so that the
/// report and the gate name it instead of forgetting it.
pub fn write_skipped(req: &RunRequest<'_>, reason: String) -> Result<RunRecord, RunError> {
    let runs_dir = req.out_dir.join("runs");
    std::fs::create_dir_all(&runs_dir).map_err(|e| RunError::Output {
        path: runs_dir.display().to_string(),
        source: e,
    })?;
    let command = match &req.scenario.target {
        Some(t) => t.command.clone(),
        None => {
            let mut c = vec![req.bin_dir.join(&req.variant.binary).display().to_string()];
            c.extend(toy_server_args(req));
            c
        }
    };
    // Never started: no start time, so it sorts after every run that did.
    let mut record = RunRecord::from_header(run_header(req, command, String::new(), None));
    record.status = RunStatus::Skipped;
    record.failure = Some(reason);
    let (_, json) = run_files(req.out_dir, &req.variant.name, req.run_index);
    write_json_atomic(&json, &record).map_err(|e| RunError::Output {
        path: json.display().to_string(),
        source: e,
    })?;
    Ok(record)
}

/// Paths of a run's files.
pub fn run_files(out_dir: &Path, variant: &str, n: u32) -> (PathBuf, PathBuf) {
    let base = out_dir.join("runs").join(format!("{variant}-{n}"));
    (base.with_extension("jsonl"), base.with_extension("json"))
}

/// The run directory of an external target.
fn target_dir(out_dir: &Path, variant: &str, n: u32) -> PathBuf {
    out_dir.join("runs").join(format!("{variant}-{n}.target"))
}

/// The server's stderr of a run.
fn server_log_path(out_dir: &Path, variant: &str, n: u32) -> PathBuf {
    out_dir
        .join("runs")
        .join(format!("{variant}-{n}.server.log"))
}

/// Runs one variant once. A server that dies or misbehaves gives a record with status
/// `failed`; `shutdown` resolving (Ctrl-C) gives `interrupted`, with what was measured kept;
/// only set-up problems are errors.
pub async fn run_variant(
    req: RunRequest<'_>,
    shutdown: impl Future<Output = ()>,
) -> Result<RunRecord, RunError> {
    let output = |path: &Path, source| RunError::Output {
        path: path.display().to_string(),
        source,
    };
    // Polled again by the cost measurement if the memory run ends before it resolves.
    let mut shutdown = std::pin::pin!(shutdown);
    let runs_dir = req.out_dir.join("runs");
    std::fs::create_dir_all(&runs_dir).map_err(|e| output(&runs_dir, e))?;
    let exe =
        std::env::current_exe().map_err(|e| output(Path::new("the allocstorm executable"), e))?;
    let launch = launch(&req, &exe)?;
    let (jsonl, json) = run_files(req.out_dir, &req.variant.name, req.run_index);
    let log = EventLog::create(&jsonl).map_err(|e| output(&jsonl, e))?;

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
    let header = run_header(&req, command, started_at, note);
    let label = format!("{} #{}", req.variant.name, req.run_index);
    let live = Live::new(Some(log), Progress::new(label, req.show_progress));
    live.borrow_mut()
        .emit(Event::Start(Box::new(header.clone())));

    let server_log = server_log_path(req.out_dir, &req.variant.name, req.run_index);
    let started = match (launch, &no_cgroup) {
        // A cgroup the caller named and that cannot be used: the run they asked for cannot be.
        (_, Some(no)) if no.asked => Err(no.reason.clone()),
        (Ok(l), _) => {
            let dir = server_cgroup.as_ref().map(ServerCgroup::dir);
            server::start(l, req.variant, &server_log, dir).await
        }
        (Err(e), _) => Err(e),
    };
    let mut server = match started {
        Ok(s) => s,
        Err(e) => return finish(header, live, &json, (RunStatus::Failed, Some(e), None)),
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
            .with_cgroup(server_cgroup.as_ref().map(ServerCgroup::reader));
        let sampler = sampler::sample_loop(
            &mut memory,
            req.sample_interval,
            req.scenario.sampling.smaps_interval,
            req.memory_limit,
            live.clone(),
        );
        let fetch = || async {
            let addr = live.borrow().addr?;
            probe::stats_at(addr, stats_path(&req)?).await.ok()
        };
        let poller = stats::stats_loop(
            fetch,
            req.scenario.sampling.stats_interval,
            &req.scenario.sampling.stats_in,
            live.clone(),
        );
        let driver = ready_and_drive(&req, &mut server, &exe, &live);
        tokio::select! {
            r = driver => match r {
                Ok(()) => Ended::Done,
                Err(why) => Ended::Failed(why),
            },
            end = sampler => match end {
                SamplerEnd::Gone(why) => Ended::Failed(why),
                SamplerEnd::OverLimit(why) => Ended::OverLimit(why),
            },
            _ = poller => Ended::Failed("stats poller ended".into()),
            _ = &mut shutdown => Ended::Interrupted,
        }
    };
    live.borrow_mut().end();
    let end = end_server(&mut server, &ended, (&oom_counter, oom_kills_before)).await;
    drop(server);
    if let Some(c) = server_cgroup {
        // The server is reaped; what it started may take a moment more to go.
        if let Err(e) = c.remove(Duration::from_secs(2)).await {
            eprintln!("allocstorm: {e}");
        }
    }
    let mut record = finish(header, live.clone(), &json, end)?;
    if let (Some(spec), RunStatus::Ok) = (&req.scenario.cost, record.status) {
        let cost = tokio::select! {
            c = crate::cost::measure::measure(cost_request(&req, spec, &exe)) => c,
            _ = &mut shutdown => CostRecord::stopped(crate::cost::INTERRUPTED),
        };
        live.borrow_mut().emit(Event::Cost(Box::new(cost.clone())));
        record.cost = Some(cost);
        write_json_atomic(&json, &record).map_err(|e| output(&json, e))?;
    }
    Ok(record)
}

/// The cost measurement of this run's variant, on the same server settings.
fn cost_request<'a>(
    req: &'a RunRequest<'a>,
    spec: &'a crate::scenario::CostSpec,
    exe: &'a Path,
) -> CostRequest<'a> {
    let log = req.out_dir.join("runs").join(format!(
        "{}-{}.cost-server.log",
        req.variant.name, req.run_index
    ));
    CostRequest {
        spec,
        scenario: req.scenario,
        variant: req.variant,
        server: req.server,
        bin_dir: req.bin_dir,
        exe,
        log,
        latency_rate: req.latency_rate.clone(),
        label: format!("{} #{}", req.variant.name, req.run_index),
        show_progress: req.show_progress,
    }
}

/// What to start for this run: the toy server's binary, or the target's prepared directory.
fn launch<'a>(req: &RunRequest<'a>, exe: &Path) -> Result<Result<Launch<'a>, String>, RunError> {
    Ok(match &req.scenario.target {
        None => {
            let bin = req.bin_dir.join(&req.variant.binary);
            if !bin.is_file() {
                return Err(RunError::MissingBinary {
                    binary: req.variant.binary.clone(),
                    dir: req.bin_dir.display().to_string(),
                });
            }
            Ok(Launch::Toy {
                bin,
                args: toy_server_args(req),
            })
        }
        Some(spec) => {
            let dir = target_dir(req.out_dir, &req.variant.name, req.run_index);
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
) -> Result<(), String> {
    let addr = server.ready().await?;
    let pid = server.pid;
    announce(req, pid, addr, live).await?;
    live.borrow_mut().end();
    let phases = driver::Phases {
        phases: req.scenario.phases(req.quick),
        load: &req.scenario.load,
        release_path: "/admin/release",
        stats_path: stats_path(req),
        remote_target: req.remote.is_some(),
    };
    let workers = driver::Workers {
        exe: exe.to_path_buf(),
        remote: req.remote,
    };
    driver::drive(&phases, addr, &workers, live).await
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
    if let Some(path) = stats_path(req) {
        let s = probe::stats_at(addr, path)
            .await
            .map_err(|e| e.to_string())?;
        live.borrow_mut()
            .emit(Event::Settings(crate::record::settings_of(&s)));
    }
    if let Some(lib) = &req.variant.preload {
        let mapped = check_preload(pid, lib, req)?;
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
            // still exiting, before it can be reaped: give the exit a moment to complete.
            let st = server.exit_within(Duration::from_millis(500)).await;
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

/// Streams the end, builds the record from the events and writes it.
fn finish(
    header: RunHeader,
    live: LiveRef,
    json: &Path,
    (status, failure, server_exit): (RunStatus, Option<String>, Option<String>),
) -> Result<RunRecord, RunError> {
    let mut l = live.borrow_mut();
    l.emit(Event::End {
        status,
        failure: failure.clone(),
        server_exit: server_exit.clone(),
    });
    let record = std::mem::take(&mut l.record).build(header, status, failure, server_exit);
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
    write_json_atomic(json, &record).map_err(|e| RunError::Output {
        path: json.display().to_string(),
        source: e,
    })?;
    Ok(record)
}

fn fmt_opt_size(v: Option<u64>) -> String {
    v.map(allocstorm_core::units::format_size)
        .unwrap_or_else(|| "-".into())
}

/// Where the server's JSON stats are: the toy server's `/stats`, or the target's, if any.
fn stats_path<'a>(req: &'a RunRequest<'_>) -> Option<&'a str> {
    match &req.scenario.target {
        None => Some("/stats"),
        Some(t) => t.stats.as_deref(),
    }
}

/// Where the variant's preload is mapped in the server, or why the run fails: the dynamic
/// loader ignores an `LD_PRELOAD` it cannot load (not a shared library, wrong architecture, a
/// setuid binary) with a line on stderr and nothing else, and the run would measure glibc.
fn check_preload(pid: u32, lib: &str, req: &RunRequest<'_>) -> Result<String, String> {
    // A process tree: every process of it must have the allocator, not only the first.
    let tree = req.scenario.target.as_ref().map(|t| t.sample) == Some(SampleScope::Tree);
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
            let log = server_log_path(req.out_dir, &req.variant.name, req.run_index);
            let said = std::fs::read_to_string(&log)
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

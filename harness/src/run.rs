//! One run of one variant: start its server, walk the phases, sample from outside, record.
//!
//! Three things go on at once on the main thread's runtime: the phase driver (idle waits and
//! loads), the sampler (`/proc` every interval, `smaps_rollup` less often, and the watch on the
//! server's life), and the `/stats` poller. Whichever ends first decides the run's outcome:
//! the driver (done), the sampler (the server died), or Ctrl-C (interrupted).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::child;
use crate::external;
use crate::figures::{self, PhaseMark};
use crate::load::{self, LoadArgs, LoadSummary};
use crate::probe;
use crate::progress::Progress;
use crate::provenance::Environment;
use crate::record::{
    write_json_atomic, Event, EventLog, PhaseLoad, RunHeader, RunRecord, RunStatus, StatsSample,
};
use crate::sample::{ProcReader, Sample, SampleError, TreeReader};
use crate::scenario::{SampleScope, Scenario, ServerSpec, Variant};

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
    pub quick: bool,
    pub sample_interval: Duration,
    /// Where the server binaries are (next to the `allocstorm` executable).
    pub bin_dir: &'a Path,
    pub environment: &'a Environment,
    pub show_progress: bool,
}

/// The toy server's arguments: the scenario's `[server]` (or sweep point), then the variant's.
fn toy_server_args(req: &RunRequest<'_>) -> Vec<String> {
    let mut args = req.scenario.server_args_for(req.server);
    args.extend(req.variant.args.iter().cloned());
    args
}

/// What is known of a run before its server starts.
fn run_header(req: &RunRequest<'_>, server_command: Vec<String>, started_at: String) -> RunHeader {
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
    let mut record = RunRecord::from_header(run_header(req, command, String::new()));
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

/// A started server: the process the harness waits for and signals (the toy server, or the
/// guard of a target), the guard's stdin (dropping it ends the target's group), and the
/// target's stdout when its readiness is a line there.
struct Launched {
    child: Child,
    guard_stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
}

/// How the driver finds the server ready and where it is.
enum Reach<'a> {
    /// The toy server says `listening on IP:PORT` and answers `/healthz`.
    Toy,
    /// A target listens where the harness told it and is ready by its scenario's rule.
    Target {
        spec: &'a crate::scenario::TargetSpec,
        addr: SocketAddr,
        stdout: Option<ChildStdout>,
        log: PathBuf,
    },
}

/// The server's stderr of a run.
fn server_log_path(out_dir: &Path, variant: &str, n: u32) -> PathBuf {
    out_dir
        .join("runs")
        .join(format!("{variant}-{n}.server.log"))
}

/// State shared by the driver, the sampler and the stats poller (all on one thread).
struct Shared {
    t0: Instant,
    log: EventLog,
    log_error: Option<String>,
    samples: Vec<Sample>,
    smaps: Vec<crate::sample::SmapsRollup>,
    mappings: Vec<crate::sample::MappingBreakdown>,
    stats: Vec<StatsSample>,
    procs: Vec<crate::sample::TreeSample>,
    marks: Vec<PhaseMark>,
    phase: (String, Instant, Duration),
    last_rps: Option<f64>,
    progress: Progress,
    /// The server's address, once it has said it: the stats poller waits for it.
    addr: Option<SocketAddr>,
}

impl Shared {
    fn now(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    fn log(&mut self, e: &Event) {
        if let Err(err) = self.log.write(e) {
            // Keep measuring; report once at the end.
            self.log_error
                .get_or_insert_with(|| format!("{}: {err}", self.log.path.display()));
        }
    }

    fn begin(&mut self, name: &str, planned: Duration) {
        let t = self.now();
        let mark = PhaseMark {
            name: name.to_string(),
            start: t,
            end: t,
        };
        self.log(&Event::Phase(mark.clone()));
        self.marks.push(mark);
        self.phase = (name.to_string(), Instant::now(), planned);
        self.last_rps = None;
        self.progress.phase(name, planned);
    }

    /// Ends the phase in progress, if one is: after a run's last phase has ended, a second
    /// call (the clean-up after an interrupt or a failure) changes nothing.
    fn end(&mut self) {
        let t = self.now();
        if let Some(m) = self.marks.last_mut().filter(|m| m.end <= m.start) {
            m.end = t;
            let m = m.clone();
            self.log(&Event::Phase(m));
        }
    }
}

type SharedRef = Rc<RefCell<Shared>>;

/// Runs one variant once. A server that dies or misbehaves gives a record with status
/// `failed`; Ctrl-C gives `interrupted`; only set-up problems are errors.
pub async fn run_variant(req: RunRequest<'_>) -> Result<RunRecord, RunError> {
    let runs_dir = req.out_dir.join("runs");
    std::fs::create_dir_all(&runs_dir).map_err(|e| RunError::Output {
        path: runs_dir.display().to_string(),
        source: e,
    })?;
    let bin = req.bin_dir.join(&req.variant.binary);
    if req.scenario.target.is_none() && !bin.is_file() {
        return Err(RunError::MissingBinary {
            binary: req.variant.binary.clone(),
            dir: req.bin_dir.display().to_string(),
        });
    }
    let exe = std::env::current_exe().map_err(|e| RunError::Output {
        path: "the allocstorm executable".into(),
        source: e,
    })?;
    let (jsonl, json) = run_files(req.out_dir, &req.variant.name, req.run_index);
    let log = EventLog::create(&jsonl).map_err(|e| RunError::Output {
        path: jsonl.display().to_string(),
        source: e,
    })?;

    let phases = req.scenario.phases(req.quick).clone();
    let server_args = toy_server_args(&req);
    let mut command = vec![bin.display().to_string()];
    command.extend(server_args.iter().cloned());
    // A target of the user's own: its directory, its files, its port, its command line.
    let prepared = match &req.scenario.target {
        None => None,
        Some(t) => {
            let dir = target_dir(req.out_dir, &req.variant.name, req.run_index);
            let p = external::prepare(t, &dir, req.scenario.seed);
            if let Ok(p) = &p {
                command = p.command.clone();
            }
            Some(p)
        }
    };
    let started_at = crate::clock::utc_rfc3339(std::time::SystemTime::now());

    let label = format!("{} #{}", req.variant.name, req.run_index);
    let shared: SharedRef = Rc::new(RefCell::new(Shared {
        t0: Instant::now(),
        log,
        log_error: None,
        samples: Vec::new(),
        smaps: Vec::new(),
        mappings: Vec::new(),
        stats: Vec::new(),
        procs: Vec::new(),
        marks: Vec::new(),
        phase: ("startup".into(), Instant::now(), Duration::from_secs(10)),
        last_rps: None,
        progress: Progress::new(label, req.show_progress),
        addr: None,
    }));
    let header = run_header(&req, command, started_at);
    shared
        .borrow_mut()
        .log(&Event::Start(Box::new(header.clone())));
    let mut record = RunRecord::from_header(header);

    let server_log = server_log_path(req.out_dir, &req.variant.name, req.run_index);
    let spawned = match (&prepared, &req.scenario.target) {
        (Some(Ok(p)), Some(t)) => {
            external::spawn(&exe, p, t, req.variant, &server_log).map(|s| Launched {
                child: s.guard,
                guard_stdin: Some(s.guard_stdin),
                stdout: s.stdout,
            })
        }
        (Some(Err(e)), _) => Err(format!("preparing the target: {e}")),
        _ => spawn_server(&bin, &server_args, req.variant, &server_log).map(|c| Launched {
            child: c,
            guard_stdin: None,
            stdout: None,
        }),
    };
    let Launched {
        child: mut server,
        guard_stdin,
        stdout,
    } = match spawned {
        Ok(l) => l,
        Err(e) => {
            record.status = RunStatus::Failed;
            record.failure = Some(e);
            return finish(record, shared, &json);
        }
    };
    // The process group to end: the server's own, or the guard's with the target in it.
    let group = server.id().unwrap_or(0);
    // The process sampled: the server, or the target under its guard.
    let pid = match &prepared {
        None => group,
        Some(_) => match external::target_pid(&mut server).await {
            Ok(p) => p,
            Err(e) => {
                drop(guard_stdin);
                let _ = server.wait().await;
                record.status = RunStatus::Failed;
                record.failure = Some(e);
                return finish(record, shared, &json);
            }
        },
    };
    record.server_pid = Some(pid);
    let reach = match (&prepared, &req.scenario.target) {
        (Some(Ok(p)), Some(spec)) => Reach::Target {
            spec,
            addr: p.addr,
            stdout,
            log: server_log.clone(),
        },
        _ => Reach::Toy,
    };
    let scope = req
        .scenario
        .target
        .as_ref()
        .map_or(SampleScope::Process, |t| t.sample);
    let oom_kills_before = kernel_oom_kills();
    shared
        .borrow_mut()
        .begin("startup", Duration::from_secs(10));

    let outcome = {
        let driver = drive(
            &req,
            &phases,
            &mut server,
            pid,
            reach,
            shared.clone(),
            &mut record,
        );
        let sampler = sample_loop(
            pid,
            group,
            scope,
            req.sample_interval,
            req.scenario.sampling.smaps_interval,
            req.memory_limit,
            shared.clone(),
        );
        let poller = stats_loop(&req, shared.clone());
        tokio::select! {
            r = driver => r,
            end = sampler => match end {
                SamplerEnd::Gone(why) => Outcome::Failed(why),
                SamplerEnd::OverLimit(why) => Outcome::Oom(why),
            },
            _ = poller => Outcome::Failed("stats poller ended".into()),
            _ = tokio::signal::ctrl_c() => Outcome::Interrupted,
        }
    };
    shared.borrow_mut().end();

    match outcome {
        Outcome::Done => {
            record.server_exit = Some(stop_server(&mut server, Duration::from_secs(5)).await);
        }
        Outcome::Oom(why) => {
            // The sampler has already SIGKILLed the server's group.
            record.status = RunStatus::Oom;
            record.failure = Some(why);
            let exit = match tokio::time::timeout(Duration::from_secs(5), server.wait()).await {
                Ok(Ok(st)) => describe_exit(st),
                _ => stop_server(&mut server, Duration::from_secs(1)).await,
            };
            record.server_exit = Some(format!("{exit} (memory limit, by the harness)"));
        }
        Outcome::Failed(why) => {
            record.status = RunStatus::Failed;
            // If the server died, say how. Its /proc entry loses its memory lines while it is
            // still exiting, before it can be reaped: give the exit a moment to complete.
            let status = match tokio::time::timeout(Duration::from_millis(500), server.wait()).await
            {
                Ok(Ok(st)) => Some(st),
                _ => None,
            };
            let exit = status.map(describe_exit);
            // A SIGKILL nobody here sent, while the kernel's OOM-kill count went up: the
            // kernel's OOM killer (a container's memory limit, or the machine's).
            let killed = status.and_then(|s| {
                use std::os::unix::process::ExitStatusExt;
                s.signal()
            }) == Some(libc::SIGKILL);
            let oom_kills_after = kernel_oom_kills();
            if killed && oom_kills_after > oom_kills_before {
                record.status = RunStatus::Oom;
            }
            record.failure = Some(match &exit {
                // What the sampler saw (a status without memory lines) says nothing more here.
                Some(e) if record.status == RunStatus::Oom => format!(
                    "server {e} by the kernel's OOM killer (oom_kill in /proc/vmstat went from {} to {})",
                    oom_kills_before.unwrap_or(0),
                    oom_kills_after.unwrap_or(0)
                ),
                Some(e) => format!("{why}: server {e}"),
                None => why,
            });
            record.server_exit = Some(match exit {
                Some(e) => e,
                None => stop_server(&mut server, Duration::from_secs(2)).await,
            });
        }
        Outcome::Interrupted => {
            // A second Ctrl-C while we clean up exits at once; children die with us.
            tokio::task::spawn_local(async {
                let _ = tokio::signal::ctrl_c().await;
                std::process::exit(130);
            });
            record.status = RunStatus::Interrupted;
            record.failure = Some("interrupted by the user".into());
            child::kill_group(group);
            let _ = server.wait().await;
            record.server_exit = Some("killed by the harness (interrupted)".into());
        }
    }
    // The guard's stdin closed: it ends whatever is left of the target's group.
    drop(guard_stdin);
    if let Some(Ok(p)) = &prepared {
        // The hot file is the scenario's, made again each run; the rest stays for reading.
        let _ = std::fs::remove_file(&p.file);
    }
    finish(record, shared, &json)
}

enum Outcome {
    Done,
    Failed(String),
    /// The server crossed the memory limit and the sampler killed it.
    Oom(String),
    Interrupted,
}

/// Why the sampler stopped.
enum SamplerEnd {
    /// The server is gone (exited, killed by someone else).
    Gone(String),
    /// The server crossed the memory limit; the sampler has SIGKILLed it.
    OverLimit(String),
}

/// The kernel's count of OOM kills since boot (`oom_kill` in `/proc/vmstat`), if it keeps one.
fn kernel_oom_kills() -> Option<u64> {
    std::fs::read_to_string("/proc/vmstat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|v| v.trim().parse().ok())
    })
}

fn finish(mut record: RunRecord, shared: SharedRef, json: &Path) -> Result<RunRecord, RunError> {
    let mut s = shared.borrow_mut();
    s.log(&Event::End {
        status: record.status,
        failure: record.failure.clone(),
    });
    record.samples = std::mem::take(&mut s.samples);
    record.smaps = std::mem::take(&mut s.smaps);
    record.mappings = std::mem::take(&mut s.mappings);
    record.stats = std::mem::take(&mut s.stats);
    record.procs = std::mem::take(&mut s.procs);
    record.phases = std::mem::take(&mut s.marks);
    record.figures = figures::compute(&record.samples, &record.phases);
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
    s.progress.done(&msg);
    if let Some(e) = s.log_error.take() {
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

fn spawn_server(
    bin: &Path,
    args: &[String],
    variant: &Variant,
    log: &Path,
) -> Result<Child, String> {
    let stderr = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .envs(&variant.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    // Another allocator in the glibc build: the dynamic loader maps it first, so its malloc
    // and free are the ones every call resolves to. Checked once the server is up.
    if let Some(lib) = &variant.preload {
        cmd.env("LD_PRELOAD", lib);
    }
    child::die_with_parent(&mut cmd);
    cmd.spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))
}

/// Reads the server's `listening on IP:PORT` line.
async fn listening_addr(server: &mut Child) -> Result<SocketAddr, String> {
    let stdout = server.stdout.take().ok_or("server stdout not captured")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .map_err(|_| "server printed no `listening on` line within 10s".to_string())?
        .map_err(|e| format!("reading server stdout: {e}"))?
        .ok_or("server exited before printing `listening on` (see its .server.log)")?;
    line.strip_prefix("listening on ")
        .and_then(|a| a.trim().parse().ok())
        .ok_or_else(|| format!("expected `listening on IP:PORT` from the server, got {line:?}"))
}

async fn wait_healthy(addr: SocketAddr, server: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(st)) = server.try_wait() {
            return Err(format!(
                "server {} before becoming healthy",
                describe_exit(st)
            ));
        }
        if let Ok((200, _)) = probe::request(
            addr,
            hyper::Method::GET,
            "/healthz",
            Duration::from_millis(500),
        )
        .await
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err("server not healthy within 10s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    req: &RunRequest<'_>,
    phases: &crate::scenario::PhaseSpec,
    server: &mut Child,
    pid: u32,
    reach: Reach<'_>,
    shared: SharedRef,
    record: &mut RunRecord,
) -> Outcome {
    let addr = match reach {
        Reach::Toy => {
            let addr = match listening_addr(server).await {
                Ok(a) => a,
                Err(e) => return Outcome::Failed(e),
            };
            if let Err(e) = wait_healthy(addr, server).await {
                return Outcome::Failed(e);
            }
            addr
        }
        Reach::Target {
            spec,
            addr,
            stdout,
            log,
        } => {
            if let Err(e) = external::wait_ready(spec, addr, server, stdout, &log).await {
                return Outcome::Failed(e);
            }
            addr
        }
    };
    shared.borrow_mut().addr = Some(addr);
    shared.borrow_mut().log(&Event::Server {
        pid,
        addr: addr.to_string(),
    });
    if let Some(path) = stats_path(req) {
        match probe::stats_at(addr, path).await {
            Ok(s) => {
                record.server_settings = Some(serde_json::json!({
                    "allocator": s.get("allocator"),
                    "allocator_settings": s.get("allocator_settings"),
                    "server_settings": s.get("server_settings"),
                }))
            }
            Err(e) => return Outcome::Failed(e.to_string()),
        }
    }
    if let Some(lib) = &req.variant.preload {
        match check_preload(pid, lib, req) {
            Ok(mapped) => {
                shared.borrow_mut().log(&Event::Preload {
                    mapped: mapped.clone(),
                });
                record.preload_mapped = Some(mapped);
            }
            Err(e) => return Outcome::Failed(e),
        }
    }
    shared.borrow_mut().end();

    let spec = &req.scenario.load;
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return Outcome::Failed(format!("cannot find the allocstorm executable: {e}")),
    };
    let load_args =
        |processes: u32, connections: u32, rate: Option<f64>, duration: Duration| LoadArgs {
            target: format!("http://{addr}{}", spec.path),
            range: format!("{}-{}", spec.range.0, spec.range.1),
            processes: processes as usize,
            connections: connections as usize,
            rate: rate
                .map(|r| format!("{r}/s"))
                .unwrap_or_else(|| "max".into()),
            duration: format!("{}ms", duration.as_millis()),
            timeout: format!("{}ms", spec.timeout.as_millis()),
            retries: spec.retries,
            backoff: format!("{}ms", spec.backoff.as_millis()),
            json: false,
            allow_remote: false,
            steps: Vec::new(),
        };

    // warmup: a few requests, so glibc's dynamic mmap threshold is trained as in production.
    if !phases.warmup.is_zero() {
        let args = load_args(
            1,
            spec.connections.min(2),
            Some(phases.warmup_rate),
            phases.warmup,
        );
        if let Err(e) = load_phase("warmup", phases.warmup, &args, &exe, &shared, record).await {
            return Outcome::Failed(e);
        }
    }
    idle_phase("before", phases.before, &shared).await;
    let mut args = load_args(spec.processes, spec.connections, spec.rate, phases.during);
    args.steps = spec.step_args(phases.during);
    match load_phase("during", phases.during, &args, &exe, &shared, record).await {
        Ok(summary) => record.load = Some(summary),
        Err(e) => return Outcome::Failed(e),
    }
    idle_phase("drain", phases.drain, &shared).await;
    if !phases.nudge.is_zero() {
        let args = load_args(1, 1, Some(phases.nudge_rate), phases.nudge);
        if let Err(e) = load_phase("nudge", phases.nudge, &args, &exe, &shared, record).await {
            return Outcome::Failed(e);
        }
    }
    if !phases.release.is_zero() {
        shared.borrow_mut().begin("release", phases.release);
        let until = Instant::now() + phases.release;
        match probe::request(
            addr,
            hyper::Method::POST,
            "/admin/release",
            Duration::from_secs(10),
        )
        .await
        {
            Ok((200, body)) => {
                let outcome: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let t = shared.borrow().now();
                shared.borrow_mut().log(&Event::Release {
                    t,
                    outcome: outcome.clone(),
                });
                record.release = Some(outcome);
            }
            Ok((status, _)) => return Outcome::Failed(format!("/admin/release answered {status}")),
            Err(e) => return Outcome::Failed(e.to_string()),
        }
        tokio::time::sleep_until(until.into()).await;
        shared.borrow_mut().end();
    }
    Outcome::Done
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

async fn idle_phase(name: &str, d: Duration, shared: &SharedRef) {
    shared.borrow_mut().begin(name, d);
    tokio::time::sleep(d).await;
    shared.borrow_mut().end();
}

async fn load_phase(
    name: &str,
    d: Duration,
    args: &LoadArgs,
    exe: &Path,
    shared: &SharedRef,
    record: &mut RunRecord,
) -> Result<LoadSummary, String> {
    let plan = args.plan().map_err(|e| format!("{name}: {e}"))?;
    shared.borrow_mut().begin(name, d);
    let on_second = |r: &load::SecondReport| {
        let mut s = shared.borrow_mut();
        s.last_rps = Some(r.counts.ok as f64);
        s.log(&Event::LoadSecond {
            phase: name.to_string(),
            report: r.clone(),
        });
    };
    let result = load::run_load(&plan, exe, on_second).await;
    shared.borrow_mut().end();
    let summary = result.map_err(|e| format!("{name} load: {e}"))?;
    let pl = PhaseLoad {
        phase: name.to_string(),
        summary: summary.clone(),
    };
    shared.borrow_mut().log(&Event::Load(Box::new(pl.clone())));
    record.phase_loads.push(pl);
    Ok(summary)
}

/// Samples `/proc/<pid>` (or the tree under it, summed) until the process is gone; returns
/// why it stopped. Over the memory limit, SIGKILLs the process group `group`.
async fn sample_loop(
    pid: u32,
    group: u32,
    scope: SampleScope,
    interval: Duration,
    smaps_every: Duration,
    memory_limit: Option<u64>,
    shared: SharedRef,
) -> SamplerEnd {
    let reader = ProcReader::new(pid);
    let tree_reader = TreeReader::new(pid);
    let mut tree = None;
    let mut tick = tokio::time::interval(interval);
    // A late tick is taken late, not bunched: samples stay evenly spaced in time.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_smaps: Option<Instant> = None;
    let mut last_progress = Instant::now();
    loop {
        tick.tick().await;
        let t = shared.borrow().now();
        let read = match scope {
            SampleScope::Process => reader.sample(t),
            SampleScope::Tree => tree_reader.sample(t).map(|(sum, procs)| {
                tree = Some(procs);
                sum
            }),
        };
        match read {
            Ok(s) => {
                let mut sh = shared.borrow_mut();
                sh.log(&Event::Sample(s));
                sh.samples.push(s);
                if last_progress.elapsed() >= Duration::from_millis(500) {
                    last_progress = Instant::now();
                    let (name, start, planned) = sh.phase.clone();
                    let left = planned.saturating_sub(start.elapsed());
                    let rps = sh.last_rps;
                    sh.progress.tick(&name, left, s.rss_anon, rps);
                }
                if let Some(limit) = memory_limit.filter(|&l| s.vm_rss > l) {
                    // The whole group, at once: a limit is a wall, not a request.
                    child::kill_group(group);
                    let (phase, start, _) = &sh.phase;
                    return SamplerEnd::OverLimit(format!(
                        "VmRSS {} crossed the memory limit of {} {:.1}s into `{phase}`; killed with SIGKILL by the harness",
                        allocstorm_core::units::format_size(s.vm_rss),
                        allocstorm_core::units::format_size(limit),
                        start.elapsed().as_secs_f64()
                    ));
                }
            }
            Err(SampleError::Gone(_)) => return SamplerEnd::Gone("server process is gone".into()),
            // A zombie's status has no memory lines: the server has exited.
            Err(e @ SampleError::Parse { .. }) => {
                return SamplerEnd::Gone(format!("server stopped: {e}"))
            }
        }
        if last_smaps.is_none_or(|l| l.elapsed() >= smaps_every) {
            last_smaps = Some(Instant::now());
            let tree = tree.take();
            let (rollup, mappings) = match &tree {
                Some(tr) => (tree_reader.smaps_rollup(tr, t), tree_reader.mappings(tr, t)),
                None => (reader.smaps_rollup(t), reader.mappings(t)),
            };
            if let Some(tr) = tree {
                let mut sh = shared.borrow_mut();
                sh.log(&Event::Procs(tr.clone()));
                sh.procs.push(tr);
            }
            if let Ok(r) = rollup {
                let mut sh = shared.borrow_mut();
                sh.log(&Event::Smaps(r));
                sh.smaps.push(r);
            }
            if let Ok(m) = mappings {
                let mut sh = shared.borrow_mut();
                sh.log(&Event::Mappings(m));
                sh.mappings.push(m);
            }
        }
    }
}

/// Where the server's JSON stats are: the toy server's `/stats`, or the target's, if any.
fn stats_path<'a>(req: &'a RunRequest<'_>) -> Option<&'a str> {
    match &req.scenario.target {
        None => Some("/stats"),
        Some(t) => t.stats.as_deref(),
    }
}

/// Polls `/stats` about once per `stats_interval`, once the server's address is known; a
/// target without a stats endpoint is never polled.
async fn stats_loop(req: &RunRequest<'_>, shared: SharedRef) {
    let Some(path) = stats_path(req) else {
        return std::future::pending().await;
    };
    let mut tick = tokio::time::interval(req.scenario.sampling.stats_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(addr) = shared.borrow().addr else {
            continue;
        };
        let t = shared.borrow().now();
        // A slow /stats under load is a figure too: it just arrives late, never blocks sampling.
        if let Ok(stats) = probe::stats_at(addr, path).await {
            let s = StatsSample { t, stats };
            let mut sh = shared.borrow_mut();
            sh.log(&Event::Stats(s.clone()));
            sh.stats.push(s);
        }
    }
}

/// SIGTERM, then SIGKILL after `grace`; describes how the server ended.
async fn stop_server(server: &mut Child, grace: Duration) -> String {
    if let Ok(Some(st)) = server.try_wait() {
        return describe_exit(st);
    }
    if let Some(pid) = server.id() {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    }
    match tokio::time::timeout(grace, server.wait()).await {
        Ok(Ok(st)) => describe_exit(st),
        _ => {
            if let Some(pid) = server.id() {
                child::kill_group(pid);
            }
            let _ = server.wait().await;
            format!("did not stop within {grace:?} of SIGTERM; killed")
        }
    }
}

pub fn describe_exit(st: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exited with code {c}"),
        (None, Some(s)) => format!("killed by signal {s} ({})", signal_name(s)),
        _ => "ended".into(),
    }
}

fn signal_name(s: i32) -> &'static str {
    match s {
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        _ => "signal",
    }
}

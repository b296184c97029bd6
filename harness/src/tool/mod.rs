//! The scenario's own load tool (`[load] command`) for one phase: started at the phase's start
//! under `allocstorm target-guard` (its own process group, which the guard ends when the
//! harness goes, however it goes), stopped at the phase's end with SIGINT to the group and
//! SIGKILL after the grace, reaped with its CPU time; its output's tail and figures
//! ([`figures`]) kept in a [`ToolRun`] for the record.

pub mod figures;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::scenario::tool::{self as spec, render, ToolSpec};
use crate::scenario::Exits;
pub use figures::ToolFigures;

/// The output file of a tool run (stdout and stderr together), in its `{out}` directory.
pub const OUTPUT: &str = "output.log";

/// One phase's run of the tool.
pub struct ToolPlan<'a> {
    pub spec: &'a ToolSpec,
    /// `warmup`, `during` or `nudge`.
    pub phase: &'a str,
    pub duration: Duration,
    pub addr: SocketAddr,
    /// `{out}`: this run's own directory (made afresh).
    pub out: PathBuf,
    /// Whether the scenario's figures are read after it (`during`'s runs).
    pub read_figures: bool,
}

/// How a tool's end came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoppedBy {
    /// SIGINT to its group at the phase's end, and it went within the grace.
    Sigint,
    /// It outlived the grace and was SIGKILLed.
    Sigkill,
}

/// What the record keeps of one phase's run of the tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRun {
    pub phase: String,
    /// The command line as run, placeholders replaced.
    pub argv: Vec<String>,
    /// `{out}`.
    pub out_dir: String,
    /// The phase's planned length.
    pub phase_s: f64,
    /// From its start until it was reaped.
    pub ran_s: f64,
    /// When it started and was reaped, in the run's clock (like the samples' `t`).
    #[serde(default)]
    pub started_t: Option<f64>,
    #[serde(default)]
    pub ended_t: Option<f64>,
    /// Its exit code, or the signal that ended it.
    pub exit_code: Option<i32>,
    pub exit_signal: Option<i32>,
    /// `null`: it exited by itself, before the phase's end.
    pub stopped_by: Option<StoppedBy>,
    /// User and system CPU seconds of the tool's guard and every process of the tool that was
    /// reaped: `wait4`'s rusage of the guard, which holds its own and that of the children it
    /// waited for (the tool, which holds those of the children the tool waited for).
    /// Processes of the tool's group killed after it are not counted.
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// The last [`figures::TAIL`] bytes of its output.
    pub output_tail: String,
    pub figures: ToolFigures,
    /// The instant it started, for placing it on the run's clock.
    #[serde(skip)]
    pub started: Option<Instant>,
}

/// A run of the tool and why it fails the run, if it does.
pub struct ToolOutcome {
    pub run: ToolRun,
    pub failure: Option<String>,
}

/// The tool's name in messages: its program's file name.
pub fn tool_name(argv: &[String]) -> String {
    let p = argv.first().map(String::as_str).unwrap_or("?");
    Path::new(p)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.to_string())
}

/// The placeholders' values for this run.
fn values(plan: &ToolPlan<'_>, out: &Path) -> Vec<(&'static str, String)> {
    let mut v = spec::address_values(plan.addr);
    let path = plan.spec.path.as_deref().unwrap_or("");
    v.push((spec::URL, format!("http://{}{path}", plan.addr)));
    v.push((
        spec::SECONDS,
        plan.duration.as_secs_f64().ceil().to_string(),
    ));
    v.push((spec::OUT, out.display().to_string()));
    v
}

/// Runs the tool for `plan`'s phase (the guard is `exe target-guard`). `Err` only when it
/// could not be started at all.
pub async fn run(plan: &ToolPlan<'_>, exe: &Path) -> Result<ToolOutcome, String> {
    let out = prepare_out(&plan.out)?;
    let output = out.join(OUTPUT);
    let values = values(plan, &out);
    let argv: Vec<String> = plan
        .spec
        .command
        .iter()
        .map(|a| render(a, &values))
        .collect();
    let name = tool_name(&argv);
    let started = Instant::now();
    let mut proc = spawn(exe, &argv, &plan.spec.cwd, &output)
        .map_err(|e| format!("cannot start load tool {name}: {e}"))?;
    let deadline = started + plan.duration;
    let (end, stopped_by) = proc.until(deadline, plan.spec.stop_grace).await;
    let (status, usage) = end.map_err(|e| format!("waiting for load tool {name}: {e}"))?;
    let ran = started.elapsed();
    if stopped_by.is_none() && plan.spec.exits == Exits::EarlyOk {
        tokio::time::sleep_until(deadline).await;
    }
    let text = std::fs::read(&output).unwrap_or_default();
    let (figs, figure_error) = match plan.read_figures {
        true => figures::read(&plan.spec.figures, &text, &values),
        false => (ToolFigures::default(), None),
    };
    use std::os::unix::process::ExitStatusExt;
    let run = ToolRun {
        phase: plan.phase.to_string(),
        argv,
        out_dir: out.display().to_string(),
        phase_s: plan.duration.as_secs_f64(),
        ran_s: ran.as_secs_f64(),
        started_t: None,
        ended_t: None,
        exit_code: status.code(),
        exit_signal: status.signal(),
        stopped_by,
        cpu_user_s: usage.0,
        cpu_sys_s: usage.1,
        output_tail: figures::tail(&text),
        figures: figs,
        started: Some(started),
    };
    let failure =
        judge(&run, plan, &name, &text).or(figure_error.map(|e| format!("load tool {name}: {e}")));
    Ok(ToolOutcome { run, failure })
}

/// Why a tool that ended by itself fails the run: a bad exit, or an early one.
fn judge(run: &ToolRun, plan: &ToolPlan<'_>, name: &str, text: &[u8]) -> Option<String> {
    if run.stopped_by.is_some() {
        return None;
    }
    let phase = plan.phase;
    let last = figures::last_line(text)
        .map(|l| format!(": {l}"))
        .unwrap_or_else(|| " (no output)".into());
    match (run.exit_code, run.exit_signal) {
        (Some(0), _) if plan.spec.exits == Exits::EarlyOk => None,
        (Some(0), _) => Some(format!(
            "load tool {name} exited with status 0 after {:.1}s of `{phase}`'s {:.1}s ({:.1}s early); a tool that sends a fixed count needs [load] exits = \"early-ok\"",
            run.ran_s,
            run.phase_s,
            (run.phase_s - run.ran_s).max(0.0),
        )),
        (Some(c), _) => Some(format!("load tool {name} exited with status {c} during `{phase}`{last}")),
        _ => Some(format!(
            "load tool {name} was {} during `{phase}`{last}",
            run.exit_signal.map_or("ended".into(), |s| crate::child::describe_exit(
                std::os::unix::process::ExitStatusExt::from_raw(s)
            ))
        )),
    }
}

/// Makes `out` afresh; its absolute path (the tool runs in the scenario's directory).
fn prepare_out(out: &Path) -> Result<PathBuf, String> {
    let err = |e: std::io::Error| format!("{}: {e}", out.display());
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(err)?;
    }
    std::fs::create_dir_all(out).map_err(err)?;
    std::fs::canonicalize(out).map_err(err)
}

/// How a reaped process ended and its CPU seconds (user, system).
type Reaped = std::io::Result<(std::process::ExitStatus, (f64, f64))>;

/// The tool under its guard: the guard's group, the pipe whose end ends the group, and the
/// thread that reaps the guard.
struct ToolProcess {
    group: u32,
    /// Dropped (the harness gone or done), the guard SIGKILLs the group.
    _stdin: std::process::ChildStdin,
    waiter: tokio::task::JoinHandle<Reaped>,
    reaped: bool,
}

fn spawn(exe: &Path, argv: &[String], cwd: &Path, output: &Path) -> std::io::Result<ToolProcess> {
    use std::os::unix::process::CommandExt;
    let log = std::fs::File::create(output)?;
    let mut child = std::process::Command::new(exe)
        .arg("target-guard")
        .arg("--")
        .args(argv)
        .current_dir(cwd)
        .env_remove("LD_PRELOAD")
        .stdin(Stdio::piped())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own group, which the guard ends when the harness goes (see server::guard).
        .process_group(0)
        .spawn()?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin"))?;
    let pid = child.id();
    // std's Child does nothing on drop: the waiter alone reaps the guard, with its rusage.
    let waiter = tokio::task::spawn_blocking(move || wait4(pid));
    Ok(ToolProcess {
        group: pid,
        _stdin: stdin,
        waiter,
        reaped: false,
    })
}

impl ToolProcess {
    /// Its end: by itself, or stopped at `deadline` ([`ToolProcess::stop`]).
    async fn until(&mut self, deadline: Instant, grace: Duration) -> (Reaped, Option<StoppedBy>) {
        let (end, by) = tokio::select! {
            end = &mut self.waiter => (flatten(end), None),
            _ = tokio::time::sleep_until(deadline) => {
                let (end, by) = self.stop(grace).await;
                (end, Some(by))
            }
        };
        self.reaped = end.is_ok();
        (end, by)
    }

    /// SIGINT to the group; after `grace`, SIGKILL to the tool's processes (the guard reaps
    /// the tool and ends as it did), and to the guard too if it is still there 2 s later.
    async fn stop(&mut self, grace: Duration) -> (Reaped, StoppedBy) {
        // SAFETY: signalling the group of our own child, which is not reaped yet.
        unsafe { libc::kill(-(self.group as libc::pid_t), libc::SIGINT) };
        if let Ok(end) = tokio::time::timeout(grace, &mut self.waiter).await {
            return (flatten(end), StoppedBy::Sigint);
        }
        crate::child::kill_group_but_leader(self.group);
        if let Ok(end) = tokio::time::timeout(Duration::from_secs(2), &mut self.waiter).await {
            return (flatten(end), StoppedBy::Sigkill);
        }
        crate::child::kill_group(self.group);
        (flatten((&mut self.waiter).await), StoppedBy::Sigkill)
    }
}

fn flatten(r: Result<Reaped, tokio::task::JoinError>) -> Reaped {
    r.map_err(std::io::Error::other)?
}

impl Drop for ToolProcess {
    fn drop(&mut self) {
        // A run that ends mid-phase (Ctrl-C, a dead server): the group goes at once, and the
        // waiter thread reaps the guard.
        if !self.reaped {
            crate::child::kill_group(self.group);
        }
    }
}

/// Blocks until `pid` (a child of this process) ends; its status and CPU seconds.
fn wait4(pid: u32) -> Reaped {
    use std::os::unix::process::ExitStatusExt;
    let mut status = 0;
    // SAFETY: rusage is plain data, filled by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waiting for our own child, into locals.
        let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if r == pid as libc::pid_t {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok((
        std::process::ExitStatus::from_raw(status),
        (secs(usage.ru_utime), secs(usage.ru_stime)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(exits: Exits) -> ToolSpec {
        ToolSpec {
            command: vec!["/usr/bin/wrk".into()],
            phases: vec!["during".into()],
            stop_grace: Duration::from_secs(2),
            exits,
            figures: Vec::new(),
            path: None,
            cwd: ".".into(),
        }
    }

    fn ended(code: Option<i32>, signal: Option<i32>, stopped_by: Option<StoppedBy>) -> ToolRun {
        ToolRun {
            phase: "during".into(),
            argv: vec!["/usr/bin/wrk".into()],
            out_dir: String::new(),
            phase_s: 2.0,
            ran_s: 0.5,
            started_t: None,
            ended_t: None,
            exit_code: code,
            exit_signal: signal,
            stopped_by,
            cpu_user_s: 0.0,
            cpu_sys_s: 0.0,
            output_tail: String::new(),
            figures: ToolFigures::default(),
            started: None,
        }
    }

    fn judged(exits: Exits, run: &ToolRun) -> Option<String> {
        let spec = spec(exits);
        let plan = ToolPlan {
            spec: &spec,
            phase: "during",
            duration: Duration::from_secs(2),
            addr: "127.0.0.1:1".parse().unwrap(),
            out: PathBuf::new(),
            read_figures: true,
        };
        judge(run, &plan, &tool_name(&run.argv), b"x\nsegfault here\n\n")
    }

    #[test]
    fn a_tool_stopped_by_the_harness_is_never_judged() {
        for by in [StoppedBy::Sigint, StoppedBy::Sigkill] {
            assert_eq!(
                judged(Exits::AtPhaseEnd, &ended(Some(130), None, Some(by))),
                None
            );
        }
    }

    #[test]
    fn a_tool_that_ends_by_itself_is_judged_by_its_exit_and_when() {
        let at_end = Exits::AtPhaseEnd;
        assert_eq!(
            judged(at_end, &ended(None, Some(libc::SIGSEGV), None)).unwrap(),
            "load tool wrk was killed by signal 11 (SIGSEGV) during `during`: segfault here"
        );
        assert_eq!(
            judged(at_end, &ended(Some(0), None, None)).unwrap(),
            "load tool wrk exited with status 0 after 0.5s of `during`'s 2.0s (1.5s early); a tool that sends a fixed count needs [load] exits = \"early-ok\""
        );
        assert_eq!(judged(Exits::EarlyOk, &ended(Some(0), None, None)), None);
        assert!(judged(Exits::EarlyOk, &ended(Some(2), None, None)).is_some());
    }
}

//! The server a run measures, whichever kind: the toy server (one binary per allocator), or a
//! `[target]` of the user's own started under its [`guard`]. One launcher ([`start`]) gives a
//! [`Running`] server: the process to wait for and signal, its group, the pid to sample, and
//! [`Running::ready`], one readiness wait for both kinds.
//!
//! - [`target`]: a target's run directory, port, command line and start under the guard.
//! - [`ask`]: the harness's own requests to the server (`/healthz`, `/stats`, release).
//! - [`guard`]: `allocstorm target-guard`, the process that ends a target's group.

pub mod ask;
pub mod guard;
mod ready;
pub mod target;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::probe::RunProbe;
use crate::scenario::{Readiness, TargetSpec, Variant};
use ready::NoLine;

/// How long the toy server has to say where it listens, and then to answer `/healthz`.
const TOY_READY: Duration = Duration::from_secs(10);

/// What to start.
pub enum Launch<'a> {
    /// The toy server's binary for the variant, with its arguments.
    Toy { bin: PathBuf, args: Vec<String> },
    /// A target of the user's own, its run directory prepared, under `allocstorm target-guard`.
    Target {
        spec: &'a TargetSpec,
        prepared: target::Prepared,
        exe: PathBuf,
    },
}

impl Launch<'_> {
    /// The server's command line as recorded: what a person would type to start it by hand.
    pub fn command(&self) -> Vec<String> {
        match self {
            Launch::Toy { bin, args } => std::iter::once(bin.display().to_string())
                .chain(args.iter().cloned())
                .collect(),
            Launch::Target { prepared, .. } => prepared.command.clone(),
        }
    }
}

/// A started server.
pub struct Running<'a> {
    /// The process the harness waits for and signals: the toy server, or the target's guard.
    child: Child,
    /// Its process group (the guard's holds the target).
    pub group: u32,
    /// The process sampled: the toy server, or the target under its guard.
    pub pid: u32,
    /// The guard's stdin: dropping it ends the target's group.
    guard_stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    kind: Kind<'a>,
    log: PathBuf,
}

enum Kind<'a> {
    Toy,
    Target {
        spec: &'a TargetSpec,
        addr: SocketAddr,
        /// The hot file: the scenario's, made again each run, removed after it.
        hot_file: PathBuf,
    },
}

/// Starts the server with the variant's environment (and preload), its stderr into `log`,
/// inside the memory cgroup `cgroup` if there is one (the run's own, [`crate::cgroup`]): the
/// toy server, or the target (not its guard), joins it before it execs, so all it allocates
/// is charged there and the harness and its load workers stay outside. Returns once its pid is
/// known; [`Running::ready`] waits for it to serve.
pub async fn start<'a>(
    launch: Launch<'a>,
    variant: &Variant,
    log: &Path,
    cgroup: Option<&Path>,
    probe: Option<&RunProbe>,
) -> Result<Running<'a>, String> {
    match launch {
        Launch::Toy { bin, args } => {
            let stderr =
                std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
            let mut cmd = Command::new(&bin);
            cmd.args(&args)
                .envs(&variant.env)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(stderr);
            // Another allocator in the glibc build: the dynamic loader maps it first, so its
            // malloc and free are the ones every call resolves to. Checked once it is up.
            if let Some(lib) = &variant.preload {
                cmd.env("LD_PRELOAD", lib);
            }
            // The toy server links the probe: it starts it when told where to publish.
            if let Some(p) = probe {
                cmd.envs(p.env());
            }
            crate::child::die_with_parent(&mut cmd);
            if let Some(dir) = cgroup {
                crate::child::start_in_cgroup(&mut cmd, dir)?;
            }
            let inside = cgroup
                .map(|d| format!(" in the cgroup {}", d.display()))
                .unwrap_or_default();
            let mut child = cmd
                .spawn()
                .map_err(|e| format!("cannot start {}{inside}: {e}", bin.display()))?;
            let pid = child.id().unwrap_or(0);
            let stdout = child.stdout.take();
            Ok(Running {
                child,
                group: pid,
                pid,
                guard_stdin: None,
                stdout,
                kind: Kind::Toy,
                log: log.to_path_buf(),
            })
        }
        Launch::Target {
            spec,
            prepared,
            exe,
        } => {
            let started = target::spawn(&exe, &prepared, spec, variant, log, cgroup, probe)?;
            let mut guard = started.guard;
            let group = guard.id().unwrap_or(0);
            let pid = match target::target_pid(&mut guard).await {
                Ok(p) => p,
                Err(e) => {
                    drop(started.guard_stdin);
                    let _ = guard.wait().await;
                    let _ = std::fs::remove_file(&prepared.file);
                    return Err(e);
                }
            };
            Ok(Running {
                child: guard,
                group,
                pid,
                guard_stdin: Some(started.guard_stdin),
                stdout: started.stdout,
                kind: Kind::Target {
                    spec,
                    addr: prepared.addr,
                    hot_file: prepared.file,
                },
                log: log.to_path_buf(),
            })
        }
    }
}

impl Running<'_> {
    /// Waits until the server serves, and says where: the toy server prints `listening on
    /// IP:PORT` and answers `GET /healthz` with 200; a target listens where the harness told
    /// it and is ready by its scenario's rule (any HTTP answer, or a line on its stdout).
    pub async fn ready(&mut self) -> Result<SocketAddr, String> {
        match self.kind {
            Kind::Toy => {
                let stdout = self.stdout.take().ok_or("server stdout not captured")?;
                let (line, _, _) = ready::line(stdout, TOY_READY, |l| Some(l.to_string()))
                    .await
                    .map_err(|e| match e {
                        NoLine::Late => {
                            "server printed no `listening on` line within 10s".to_string()
                        }
                        NoLine::Io(e) => format!("reading server stdout: {e}"),
                        NoLine::Closed => {
                            "server exited before printing `listening on` (see its .server.log)"
                                .to_string()
                        }
                    })?;
                let addr: SocketAddr = line
                    .strip_prefix("listening on ")
                    .and_then(|a| a.trim().parse().ok())
                    .ok_or_else(|| {
                        format!("expected `listening on IP:PORT` from the server, got {line:?}")
                    })?;
                let healthy = || async move {
                    let timeout = Duration::from_millis(500);
                    matches!(
                        ask::request(addr, hyper::Method::GET, "/healthz", timeout).await,
                        Ok((200, _))
                    )
                };
                ready::poll(&mut self.child, TOY_READY, "server", healthy, || {
                    "server not healthy within 10s".into()
                })
                .await?;
                Ok(addr)
            }
            Kind::Target { spec, addr, .. } => {
                self.target_ready(spec, addr).await?;
                Ok(addr)
            }
        }
    }

    /// A target is ready by its scenario's rule.
    async fn target_ready(&mut self, spec: &TargetSpec, addr: SocketAddr) -> Result<(), String> {
        let within = spec.ready_timeout;
        match &spec.ready {
            Readiness::Http(path) => {
                let answers = || async move {
                    let timeout = Duration::from_millis(500);
                    ask::request(addr, hyper::Method::GET, path, timeout)
                        .await
                        .is_ok()
                };
                let late = || {
                    format!("target not ready within {within:?}: GET {path} on {addr} got no HTTP answer")
                };
                ready::poll(&mut self.child, within, "target", answers, late).await
            }
            Readiness::Tcp => {
                let late =
                    || format!("target not ready within {within:?}: no TCP connect to {addr}");
                let connects = || ready::tcp_connects(addr);
                ready::poll(&mut self.child, within, "target", connects, late).await
            }
            Readiness::Command(argv) => self.command_ready(argv, within, addr).await,
            Readiness::Stdout(text) => self.stdout_ready(text, within).await,
        }
    }

    /// `ready = "stdout:TEXT"`: a line of the target's stdout holds `text`; the rest of its
    /// stdout then goes to its log.
    async fn stdout_ready(&mut self, text: &str, within: Duration) -> Result<(), String> {
        let stdout = self.stdout.take().ok_or("target stdout not captured")?;
        let found = ready::line(stdout, within, |l| l.contains(text).then_some(())).await;
        let ((), seen, rest) = found.map_err(|e| match e {
            NoLine::Late => format!("target printed no line holding {text:?} within {within:?}"),
            NoLine::Io(e) => format!("reading the target's stdout: {e}"),
            NoLine::Closed => {
                format!("target closed its stdout before printing {text:?} (see its .server.log)")
            }
        })?;
        copy_to_log(seen, rest, self.log.clone());
        Ok(())
    }

    /// `ready = { command = [...] }`: the check, again and again, until it exits 0; each try
    /// bounded, so the last one ends by the deadline (or [`ready::ATTEMPT`] after it at most).
    async fn command_ready(
        &mut self,
        argv: &[String],
        within: Duration,
        addr: SocketAddr,
    ) -> Result<(), String> {
        let values = crate::scenario::tool::address_values(addr);
        let argv: Vec<String> = argv
            .iter()
            .map(|a| crate::scenario::tool::render(a, &values))
            .collect();
        let last = std::cell::RefCell::new(String::from("never ran"));
        let check = || async {
            match ready::check_once(&argv, ready::ATTEMPT.min(within)).await {
                Ok(()) => true,
                Err(why) => {
                    *last.borrow_mut() = why;
                    false
                }
            }
        };
        let late = || {
            format!(
                "target not ready within {within:?}: `{}` {}",
                argv.join(" "),
                last.borrow()
            )
        };
        ready::poll(&mut self.child, within, "target", check, late).await
    }

    /// How it ended, if it has within `within`.
    pub async fn exit_within(&mut self, within: Duration) -> Option<ExitStatus> {
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(Ok(st)) => Some(st),
            _ => None,
        }
    }

    /// SIGTERM, then SIGKILL after `grace`: how it ended, in words.
    pub async fn stop(&mut self, grace: Duration) -> String {
        crate::child::stop(&mut self.child, grace).await
    }

    /// SIGKILL to its whole group at once, and wait for it.
    pub async fn kill(&mut self) {
        crate::child::kill_group(self.group);
        let _ = self.child.wait().await;
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        // The guard's stdin closed: it ends whatever is left of the target's group.
        self.guard_stdin.take();
        if let Kind::Target { hot_file, .. } = &self.kind {
            // The hot file is the scenario's, made again each run; the rest stays for reading.
            let _ = std::fs::remove_file(hot_file);
        }
    }
}

/// The target's stdout after readiness (and the lines read for it) into its log, so the
/// target never blocks on a full pipe.
fn copy_to_log(
    seen: Vec<String>,
    mut rest: tokio::io::Lines<tokio::io::BufReader<ChildStdout>>,
    log: PathBuf,
) {
    tokio::task::spawn_local(async move {
        let Ok(f) = tokio::fs::OpenOptions::new().append(true).open(&log).await else {
            return;
        };
        let mut f = tokio::io::BufWriter::new(f);
        for l in seen {
            let _ = f.write_all(format!("{l}\n").as_bytes()).await;
        }
        while let Ok(Some(l)) = rest.next_line().await {
            if f.write_all(format!("{l}\n").as_bytes()).await.is_err() {
                break;
            }
            let _ = f.flush().await;
        }
        let _ = f.flush().await;
    });
}

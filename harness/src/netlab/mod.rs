//! The lab of a `[network]` scenario: a small datacenter of network namespaces on this machine,
//! so that a run goes over real links instead of loopback (docs/network.md).
//!
//! ```text
//!   allocstorm-<pid>-srv           allocstorm-<pid>-br          allocstorm-<pid>-c1 … cN
//!   198.18.0.1 eth0 ──tbf──▶ v-srv ─┐                    ┌─ v-c1 ◀── eth0 198.18.0.2
//!   coordinator, toy server          └──── br0 (bridge) ──┤   load-worker × processes_per_host
//!   (setns before the runtime)                            └─ v-cN ◀── eth0 198.18.0.N+1
//! ```
//!
//! The server sends through a `tbf` qdisc at the link rate, so under load its sends wait in the
//! kernel as behind a full NIC, and then in its own heap once its sockets' send buffers are
//! full (`net.ipv4.tcp_wmem` of the server's namespace, measured: docs/network.md). The
//! coordinator's main thread enters the server's namespace before its runtime starts, so its
//! threads, the server it starts and the `[remote]` listener are all there; sampling `/proc`
//! does not care. The load workers are started in the client namespaces, `die_with_parent`,
//! and connect to the coordinator as remote workers.
//!
//! Nothing is made in the caller's namespace: deleting the lab's namespaces removes every veth,
//! the bridge and the qdisc. The [`reaper`] does that on every way out, SIGKILL included.
//!
//! - [`topology`]: the lab as data (names, addresses, the `ip`/`tc` commands), unit-tested.
//! - [`netns`]: entering a namespace (a thread, or a child before it execs).
//! - [`reaper`]: `allocstorm netlab-reaper`, and the sweep of labs of dead coordinators.

pub mod netns;
pub mod reaper;
pub mod topology;

use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::scenario::{find_program, NetworkSpec};
use topology::{Topology, SERVER_IP};

pub use crate::load::remote::TOKEN_ENV;
/// How long a worker looks for a coordinator before it gives up (`--wait`). The lab kills its
/// workers when the run ends, so this only has to outlast the longest stretch between two loads
/// of a comparison (a drain, a server's start, writing a record).
pub const WORKER_WAIT: Duration = Duration::from_secs(600);

/// Why the lab could not be made. Each displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("[network] needs root: making network namespaces takes CAP_SYS_ADMIN and CAP_NET_ADMIN; run allocstorm as root, or remove [network] to run on loopback")]
    NotRoot,
    #[error("[network] needs `{0}` (Debian package iproute2): make deps installs it")]
    Missing(&'static str),
    #[error("[network]: `{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    #[error("[network]: {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("[network]: {0}")]
    Scenario(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Io { what, source }
}

/// How the lab's workers reach the coordinator.
pub struct WorkerLaunch {
    /// The `allocstorm` executable.
    pub exe: PathBuf,
    /// The coordinator's `[remote] listen`, as the workers dial it.
    pub connect: SocketAddr,
    pub token: String,
}

/// A lab that is up. Dropping it stops its workers, brings the calling thread home and has
/// the reaper remove everything.
pub struct Lab {
    topology: Topology,
    /// The only writer of the reaper's stdin: closing it removes the lab.
    reaper: Option<(Child, ChildStdin)>,
    workers: Vec<Child>,
    /// The thread's own namespace, while it is in the server's.
    home: Option<File>,
}

impl Lab {
    /// Makes the lab of `spec` for this process: sweeps labs of dead coordinators, starts the
    /// reaper, then makes the namespaces, the bridge, the veths, the qdisc and the server's
    /// `tcp_wmem`. On an error, what was made is removed before this returns.
    pub fn build(spec: &NetworkSpec, exe: &Path) -> Result<Lab, LabError> {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Err(LabError::NotRoot);
        }
        for program in ["ip", "tc"] {
            if find_program(program).is_none() {
                return Err(LabError::Missing(program));
            }
        }
        for prefix in reaper::sweep_stale() {
            eprintln!("netlab: removed {prefix}-*, left by a process that is gone");
        }
        let topology = Topology::new(spec, std::process::id());
        let reaper = start_reaper(exe, &topology.prefix)?;
        let lab = Lab {
            topology,
            reaper: Some(reaper),
            workers: Vec::new(),
            home: None,
        };
        for c in lab.topology.commands() {
            run(&c)?;
        }
        lab.set_tcp_wmem()?;
        Ok(lab)
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Moves the calling thread into the server's namespace; threads and children it makes
    /// afterwards are there too. Call it on the main thread before the runtime starts.
    pub fn enter_server(&mut self) -> Result<(), LabError> {
        let server = self.open(&self.topology.server.netns)?;
        let home = netns::current().map_err(io("the thread's own network namespace"))?;
        netns::enter(&server).map_err(io(format!(
            "entering the namespace {}",
            self.topology.server.netns
        )))?;
        self.home = Some(home);
        Ok(())
    }

    /// Starts every load worker in its host's namespace: `allocstorm load-worker --connect …
    /// --index I --name hostK --wait …`, the token in its environment, SIGKILLed when this
    /// thread or the lab goes. Call it from the main thread (the parent-death signal is the
    /// forking thread's).
    pub fn start_workers(&mut self, w: &WorkerLaunch) -> Result<(), LabError> {
        let parent = std::process::id() as libc::pid_t;
        for index in 0..self.topology.workers() {
            let host = self.topology.worker_host(index).clone();
            let ns = self.open(&host.netns)?;
            let mut cmd = Command::new(&w.exe);
            cmd.arg("load-worker")
                .arg("--connect")
                .arg(w.connect.to_string())
                .arg("--index")
                .arg(index.to_string())
                .arg("--name")
                .arg(&host.name)
                .arg("--wait")
                .arg(format!("{}s", WORKER_WAIT.as_secs()))
                .env(TOKEN_ENV, &w.token)
                .stdin(Stdio::null())
                .stdout(stderr_handle()?)
                .process_group(0);
            let fd = ns.as_raw_fd();
            // SAFETY: setns, prctl and getppid are async-signal-safe; `ns` outlives the spawn.
            unsafe {
                cmd.pre_exec(move || {
                    netns::setns(fd)?;
                    crate::child::sigkill_on_parent_death(parent)
                });
            }
            let child = cmd.spawn().map_err(io(format!(
                "starting load worker {index} in {}",
                host.netns
            )))?;
            self.workers.push(child);
        }
        Ok(())
    }

    /// The pids of the workers the lab started on `host` (`host1`, …).
    pub fn worker_pids(&self, host: &str) -> Vec<u32> {
        (0..self.topology.workers())
            .zip(&self.workers)
            .filter(|(i, _)| self.topology.worker_host(*i).name == host)
            .map(|(_, c)| c.id())
            .collect()
    }

    /// What the link did: the qdisc's counters (`tc -s`), one line.
    pub fn link_counters(&self) -> Option<String> {
        let out = Command::new("tc")
            .args([
                "-n",
                &self.topology.server.netns,
                "-s",
                "qdisc",
                "show",
                "dev",
                "eth0",
            ])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = |start: &str| {
            text.lines()
                .map(str::trim)
                .find(|l| l.starts_with(start))
                .map(str::to_string)
        };
        Some(format!("{}; {}", line("Sent")?, line("backlog")?))
    }

    fn open(&self, name: &str) -> Result<File, LabError> {
        netns::open(name).map_err(io(format!("opening the namespace {name}")))
    }

    /// `net.ipv4.tcp_wmem` is a namespace's own: written (and read back) by a thread of ours
    /// that enters the server's namespace for that and ends.
    fn set_tcp_wmem(&self) -> Result<(), LabError> {
        let server = self.open(&self.topology.server.netns)?;
        let want = self.topology.tcp_wmem.clone();
        let file = "/proc/sys/net/ipv4/tcp_wmem";
        let got = std::thread::scope(|s| {
            s.spawn(|| -> std::io::Result<String> {
                netns::enter(&server)?;
                std::fs::write(file, &want)?;
                std::fs::read_to_string(file)
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("panicked")))
        })
        .map_err(io(format!("{file} in {}", self.topology.server.netns)))?;
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        if norm(&got) != norm(&want) {
            return Err(LabError::Scenario(format!(
                "net.ipv4.tcp_wmem in {} reads {:?} after writing {:?}",
                self.topology.server.netns,
                norm(&got),
                norm(&want)
            )));
        }
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for w in &mut self.workers {
            crate::child::kill_group(w.id());
            let _ = w.kill();
            let _ = w.wait();
        }
        if let Some(counters) = self.link_counters() {
            eprintln!(
                "netlab: the link ({} on {}'s egress): {counters}",
                link_name(&self.topology),
                self.topology.server.netns
            );
        }
        if let Some(home) = self.home.take() {
            if let Err(e) = netns::enter(&home) {
                eprintln!("netlab: cannot go back to the thread's own namespace: {e}");
            }
        }
        if let Some((mut child, stdin)) = self.reaper.take() {
            drop(stdin);
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match child.try_wait() {
                    Ok(Some(st)) if st.success() => break,
                    Ok(Some(st)) => {
                        eprintln!("netlab: the reaper {st}; `ip netns list` may show what is left of {}-*", self.topology.prefix);
                        break;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    _ => {
                        eprintln!(
                            "netlab: the reaper did not finish within 10s; it goes on removing {}-* in the background",
                            self.topology.prefix
                        );
                        break;
                    }
                }
            }
        }
    }
}

fn link_name(t: &Topology) -> String {
    format!("tbf {}bit/s", t.tbf.rate_bits_per_s)
}

/// Starts the reaper: its own process group, no parent-death signal (it must outlive us), its
/// stdin a pipe only we write.
fn start_reaper(exe: &Path, prefix: &str) -> Result<(Child, ChildStdin), LabError> {
    let mut child = Command::new(exe)
        .args(["netlab-reaper", "--prefix", prefix])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(io(format!("starting {} netlab-reaper", exe.display())))?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| LabError::Scenario("the reaper has no stdin".into()))?;
    Ok((child, stdin))
}

/// Our stderr, for a worker's stdout and stderr: the coordinator's stdout stays its own.
fn stderr_handle() -> Result<Stdio, LabError> {
    use std::os::fd::AsFd;
    let fd = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(io("duplicating stderr"))?;
    Ok(Stdio::from(fd))
}

/// Runs one `ip`/`tc` command of the lab.
fn run(c: &[String]) -> Result<(), LabError> {
    let out = Command::new(&c[0])
        .args(&c[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(io(format!("running {}", c[0])))?;
    if out.status.success() {
        return Ok(());
    }
    Err(LabError::Command {
        command: c.join(" "),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// The address a lab's workers dial for the coordinator's `[remote] listen`: the server's
/// address, on the listen port. The listen IP must be the server's or unspecified.
pub fn connect_address(listen: SocketAddr) -> Result<SocketAddr, LabError> {
    match listen.ip() {
        IpAddr::V4(ip) if ip == SERVER_IP || ip.is_unspecified() => {
            Ok(SocketAddr::new(SERVER_IP.into(), listen.port()))
        }
        IpAddr::V6(ip) if ip.is_unspecified() => Ok(SocketAddr::new(SERVER_IP.into(), listen.port())),
        _ => Err(LabError::Scenario(format!(
            "[remote] listen = \"{listen}\": with [network] the coordinator is the server host, {SERVER_IP}: listen on {SERVER_IP}:PORT or 0.0.0.0:PORT"
        ))),
    }
}

/// The coordinator's token ([`crate::load::remote::token`]: `ALLOCSTORM_TOKEN` if set, else a
/// fresh one), put in our environment so that the coordinator takes the same. Call it before
/// any thread starts.
pub fn token() -> Result<String, LabError> {
    let (t, new) = crate::load::remote::token().map_err(LabError::Scenario)?;
    if new {
        std::env::set_var(TOKEN_ENV, &t);
    }
    Ok(t)
}

/// The lab of `allocstorm run/compare --scenario PATH`, when the scenario has `[network]`:
/// made, its workers started, and the calling thread moved into the server's namespace. Call
/// it on the main thread before the runtime starts. `Ok(None)` without `[network]`, and for a
/// scenario that does not load (the run says why, in one line).
pub fn for_run(scenario_path: &Path) -> Result<Option<Lab>, LabError> {
    let Ok(scenario) = crate::scenario::Scenario::load(scenario_path) else {
        return Ok(None);
    };
    let Some(spec) = &scenario.network else {
        return Ok(None);
    };
    let listen = remote_listen(&scenario).ok_or_else(|| {
        LabError::Scenario(
            "needs [remote] (listen, workers): the lab's workers are remote workers".into(),
        )
    })?;
    let connect = connect_address(listen)?;
    let exe = std::env::current_exe().map_err(io("the allocstorm executable"))?;
    let token = token()?;
    let mut lab = Lab::build(spec, &exe)?;
    lab.enter_server()?;
    lab.start_workers(&WorkerLaunch {
        exe,
        connect,
        token,
    })?;
    eprintln!(
        "netlab: {} client hosts x {} workers -> {} behind {} (tbf on its egress), net.ipv4.tcp_wmem {}",
        lab.topology.clients.len(),
        lab.topology.processes_per_host,
        lab.topology.server.ip,
        spec.link,
        lab.topology.tcp_wmem.replace('\t', " "),
    );
    Ok(Some(lab))
}

/// The scenario's `[remote] listen` (the scenario's loader has checked that a `[network]`
/// scenario has one, on the server's address or any).
fn remote_listen(scenario: &crate::scenario::Scenario) -> Option<SocketAddr> {
    scenario.remote.as_ref().map(|r| r.listen)
}

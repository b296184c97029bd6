//! What the harness's integration tests share: the binary and how to run it, the scenario the
//! end-to-end tests run ([`scenario`]), synthetic run records ([`records`]), memory cgroups
//! of a test's own ([`cgroup`]), the misbehaving HTTP servers `load` is tested against
//! ([`load_server`]) and the checkers the tests install ([`tools`]).
//!
//! Each test file is a crate of its own that uses part of this module: what one leaves unused
//! is not dead.
#![allow(dead_code)]

pub mod cgroup;
pub mod load_server;
pub mod records;
pub mod scenario;
pub mod tools;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `allocstorm` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_allocstorm");

/// How often the waits below look again.
pub const POLL: Duration = Duration::from_millis(10);

/// A port free on 127.0.0.1 when this returns, below the kernel's ephemeral range. The
/// kernel's own pick (`bind` to port 0) is a port of that range, which, until the coordinator
/// binds it seconds later, any toy server or load connection of the tests beside this one may
/// take: then the run cannot listen, and its workers wait out their `--wait` for nothing.
pub fn free_listen_port() -> u16 {
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (20_000u16, ephemeral.clamp(21_000, 32_768));
    // Spread by process and time, so the tests of this file (one process each) start apart.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let seed = std::process::id().wrapping_mul(7919) ^ nanos;
    let span = u32::from(high - low);
    (0..500u32)
        .map(|i| low + ((seed.wrapping_add(i.wrapping_mul(101))) % span) as u16)
        .find(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        .expect("a free port below the ephemeral range")
}

/// The workspace root (`scenarios/`, `Cargo.toml`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What a finished `allocstorm` left: its exit code, stdout and stderr.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Both outputs, each under a header: for assertion messages.
    pub fn text(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n{}", self.code, self.text())
    }
}

/// `allocstorm ARGS` in `cwd`, to its end. Panics if it was killed rather than exited.
pub fn allocstorm<S: AsRef<OsStr>>(cwd: &Path, args: &[S]) -> Out {
    let o = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    Out {
        code: o.status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// `allocstorm run --quiet` of one variant of `scenario`, written to `out/` beside it: its exit
/// code and its record.
pub fn run(scenario: &Path, variant: &str) -> (Option<i32>, Value) {
    let out = scenario.parent().unwrap().join("out");
    let status = Command::new(BIN)
        .args(["run", "--quiet", "--scenario"])
        .arg(scenario)
        .args(["--variant", variant, "--out"])
        .arg(&out)
        .status()
        .unwrap();
    let record = out.join(format!("runs/{variant}-1.json"));
    (status.code(), read_json_of(&record, &status))
}

/// The JSON file at `path`, parsed; panics naming it (and how the run ended) if it cannot be.
fn read_json_of(path: &Path, status: &ExitStatus) -> Value {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e} (allocstorm {status})", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The events of a run's `.jsonl` streamed so far; a line cut short (being written, or by a
/// kill) is not one.
pub fn events(jsonl: &Path) -> Vec<Value> {
    std::fs::read_to_string(jsonl)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The JSON file at `path`, parsed; panics naming it.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A process a test started and has not seen end: SIGKILLed and reaped when dropped, so a test
/// that fails (or forgets) leaves nothing running. An `allocstorm`'s servers and load workers
/// follow it through their parent-death signal.
pub struct Running {
    child: Child,
    done: bool,
}

impl Running {
    /// Starts `cmd`, configured as the test needs (its stdio, say).
    pub fn spawn(mut cmd: Command) -> Running {
        Running {
            child: cmd.spawn().unwrap(),
            done: false,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `sig` to the process (a no-op once it has been reaped).
    pub fn signal(&self, sig: i32) {
        if !self.done {
            // SAFETY: signalling our own child, which we have not reaped yet.
            unsafe { libc::kill(self.pid(), sig) };
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the end, however long it takes.
    pub fn wait(&mut self) -> ExitStatus {
        let status = self.child.wait().unwrap();
        self.done = true;
        status
    }

    /// SIGKILL, and waits for the end.
    pub fn kill(&mut self) -> ExitStatus {
        self.signal(libc::SIGKILL);
        self.wait()
    }

    /// Waits for the end, at most `within` (panics after); returns the status and stderr (if
    /// it was piped).
    pub fn wait_within(&mut self, within: Duration) -> (ExitStatus, String) {
        let since = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.done = true;
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    use std::io::Read;
                    e.read_to_string(&mut err).unwrap();
                }
                return (status, err);
            }
            assert!(
                since.elapsed() < within,
                "pid {} still running {within:?} later",
                self.pid()
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

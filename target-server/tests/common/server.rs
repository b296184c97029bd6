//! A real server process on `127.0.0.1:0`, killed and reaped when the guard drops, even when
//! the test panics. [`Server::start_watched`] also captures its stderr in a file, so a panic in
//! a connection task — which tokio catches, leaving the server up and the connection merely
//! closed — still fails the test ([`Server::assert_alive_and_no_panic`]).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{http, Alloc};

/// How long a debug build may take to write its hot file and bind.
const STARTUP: Duration = Duration::from_secs(15);

/// Environment variables that configure one of the allocators, or start the probe.
const ALLOCATOR_ENV: [&str; 6] = [
    "MALLOC_",
    "GLIBC_TUNABLES",
    "_RJEM_MALLOC_CONF",
    "MIMALLOC_",
    "LD_PRELOAD",
    "ALLOCSTORM_PROBE_",
];

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub alloc: Alloc,
    /// The file the server's stderr goes to ([`Server::start_watched`]); `None`: inherited.
    stderr: Option<tempfile::NamedTempFile>,
    /// Held so the server's stdout stays a live pipe for its whole life.
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts `alloc`'s binary with `args` (plus `--listen 127.0.0.1:0`) and waits for its
    /// `listening on IP:PORT` line.
    pub fn start(alloc: Alloc, args: &[&str]) -> Self {
        Self::start_on(alloc, Some("127.0.0.1:0"), args)
    }

    /// The same with `--listen listen`, or with no `--listen` at all (the server's default).
    pub fn start_on(alloc: Alloc, listen: Option<&str>, args: &[&str]) -> Self {
        Self::spawn(alloc, listen, args, &[], None)
    }

    /// [`Server::start`] with `env` added to the server's environment.
    pub fn start_with_env(alloc: Alloc, env: &[(&str, &OsStr)], args: &[&str]) -> Self {
        Self::spawn(alloc, Some("127.0.0.1:0"), args, env, None)
    }

    /// [`Server::start`] with the server's stderr captured in a file, for
    /// [`Server::stderr`] and [`Server::assert_alive_and_no_panic`].
    pub fn start_watched(alloc: Alloc, args: &[&str]) -> Self {
        Self::start_watched_with_env(alloc, &[], args)
    }

    /// [`Server::start_watched`] with `env` added to the server's environment.
    pub fn start_watched_with_env(alloc: Alloc, env: &[(&str, &OsStr)], args: &[&str]) -> Self {
        let file = tempfile::NamedTempFile::new().expect("a file for the server's stderr");
        Self::spawn(alloc, Some("127.0.0.1:0"), args, env, Some(file))
    }

    fn spawn(
        alloc: Alloc,
        listen: Option<&str>,
        args: &[&str],
        env: &[(&str, &OsStr)],
        stderr: Option<tempfile::NamedTempFile>,
    ) -> Self {
        let mut cmd = command(alloc);
        cmd.envs(env.iter().copied());
        if let Some(listen) = listen {
            cmd.args(["--listen", listen]);
        }
        let err_to = match &stderr {
            Some(f) => Stdio::from(f.reopen().expect("reopen the stderr file")),
            None => Stdio::inherit(),
        };
        let mut child = cmd
            .args(args)
            .stdout(Stdio::piped())
            .stderr(err_to)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", alloc.binary()));
        let stdout = child.stdout.take().expect("piped stdout");
        // Read the first line on a thread so a server that never prints fails the test
        // instead of hanging it.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let r = reader.read_line(&mut line).map(|_| line);
            let _ = tx.send((r, reader));
        });
        let give_up = |child: &mut Child, why: &str| -> ! {
            let err = stderr.as_ref().map(|f| read_all(f.path()));
            fail(child, why, err.as_deref())
        };
        let (line, reader) = match rx.recv_timeout(STARTUP) {
            Ok((Ok(line), reader)) => (line, reader),
            Ok((Err(e), _)) => give_up(&mut child, &format!("reading its stdout: {e}")),
            Err(_) => give_up(&mut child, "no `listening on` line in time"),
        };
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| give_up(&mut child, &format!("first stdout line was {line:?}")));
        Self {
            child,
            addr,
            alloc,
            stderr,
            _stdout: reader,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// `GET /stats` as JSON.
    pub fn stats(&self) -> serde_json::Value {
        let r = http::get(self.addr, "/stats", &[]);
        assert_eq!(r.status, 200, "/stats: {}", r.text());
        r.json()
    }

    /// `Range: range` on a fresh connection.
    pub fn get_range(&self, range: &str) -> http::Response {
        http::get_range(self.addr, range)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        // SAFETY: kill(2) on our own child's pid; the child is not reaped before Drop.
        let r = unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        assert_eq!(r, 0, "kill(SIGTERM): {}", std::io::Error::last_os_error());
    }

    /// Sends SIGKILL and reaps the server: its exit status.
    pub fn kill(&mut self) -> ExitStatus {
        self.child.kill().expect("kill(SIGKILL)");
        self.child.wait().expect("wait")
    }

    /// The exit status, if the server exits within `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Server {
    /// Everything the server wrote to stderr so far ([`Server::start_watched`] only).
    pub fn stderr(&self) -> String {
        let file = self
            .stderr
            .as_ref()
            .expect("stderr is captured only by Server::start_watched");
        read_all(file.path())
    }

    /// Panics if the server has exited or has written a panic message to stderr
    /// ([`Server::start_watched`] only).
    pub fn assert_alive_and_no_panic(&mut self) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("the server exited ({status}); stderr: {}", self.stderr());
        }
        let err = self.stderr();
        assert!(
            !err.contains("panicked"),
            "the server panicked (the connection just closed): {err}"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Already reaped or already gone: both fine.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary with the allocator environment scrubbed: every test runs the allocator on its
/// defaults, whatever the test runner's environment says.
fn command(alloc: Alloc) -> Command {
    let mut cmd = Command::new(alloc.binary());
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if ALLOCATOR_ENV.iter().any(|p| k.starts_with(p)) {
            cmd.env_remove(&*k);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs a server command line that must exit on its own (a refused configuration), and returns
/// its status, stdout and stderr. A server that starts serving instead is killed and fails the
/// test.
pub fn run_to_exit(alloc: Alloc, args: &[&str]) -> (ExitStatus, String, String) {
    let mut child = command(alloc)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", alloc.binary()));
    let deadline = Instant::now() + STARTUP;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} did not exit by itself", alloc.name());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // A refusal is a line or two: it fits in the pipes, so reading after exit cannot block.
    let (mut out, mut err) = (String::new(), String::new());
    let _ = child.stdout.take().expect("piped").read_to_string(&mut out);
    let _ = child.stderr.take().expect("piped").read_to_string(&mut err);
    (status, out, err)
}

/// The whole file at `path`, or what could be read of it.
fn read_all(path: &std::path::Path) -> String {
    let mut s = String::new();
    let _ = std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut s));
    s
}

/// Kills and reaps a server that did not start, and fails the test with why (and its stderr,
/// where it was captured).
fn fail(child: &mut Child, why: &str, stderr: Option<&str>) -> ! {
    let _ = child.kill();
    let status = child.wait();
    match stderr {
        Some(err) => panic!("server did not start: {why} (exit: {status:?}); stderr: {err}"),
        None => panic!("server did not start: {why} (exit: {status:?})"),
    }
}

//! Waiting for a server to be ready, one way for both kinds: a request that answers, a TCP
//! connect, a check command that exits 0, or a line on its stdout, until a deadline, failing
//! as soon as the process exits.

use std::future::Future;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

use crate::child::describe_exit;

/// Asks `ready` every 20 ms until it says yes, `child` exits, or `timeout` passes. `who` names
/// the server in the error (`server`, `target`); `late` says what did not happen in time.
pub(super) async fn poll<F, Fut>(
    child: &mut Child,
    timeout: Duration,
    who: &str,
    mut ready: F,
    late: impl FnOnce() -> String,
) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Err(format!("{who} {} before it was ready", describe_exit(st)));
        }
        if ready().await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(late());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Why no line was picked.
#[derive(Debug)]
pub(super) enum NoLine {
    /// `timeout` passed first.
    Late,
    /// The stream ended first (the process closed its stdout, or exited).
    Closed,
    Io(std::io::Error),
}

/// Lines of `stdout` until `pick` takes one, within `timeout`. Gives what it picked, every
/// line read (the picked one last) and the rest of the stream.
pub(super) async fn line<T>(
    stdout: ChildStdout,
    timeout: Duration,
    mut pick: impl FnMut(&str) -> Option<T>,
) -> Result<(T, Vec<String>, Lines<BufReader<ChildStdout>>), NoLine> {
    let deadline = Instant::now() + timeout;
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let l = match tokio::time::timeout(left, lines.next_line()).await {
            Err(_) => return Err(NoLine::Late),
            Ok(Err(e)) => return Err(NoLine::Io(e)),
            Ok(Ok(None)) => return Err(NoLine::Closed),
            Ok(Ok(Some(l))) => l,
        };
        let picked = pick(&l);
        seen.push(l);
        if let Some(p) = picked {
            return Ok((p, seen, lines));
        }
    }
}

/// How long one readiness connect or check may take: a check that hangs (a client waiting on
/// a server that accepted but never answers) is ended and tried again, never left running.
pub(super) const ATTEMPT: Duration = Duration::from_secs(2);

/// A TCP connect to `addr` succeeds within 500 ms.
pub(super) async fn tcp_connects(addr: SocketAddr) -> bool {
    let connect = tokio::net::TcpStream::connect(addr);
    matches!(
        tokio::time::timeout(Duration::from_millis(500), connect).await,
        Ok(Ok(_))
    )
}

/// Runs a readiness check once, within `within`, in a process group of its own that is killed
/// on every way out: `Ok` when it exited 0, else how it ended and its last line of output.
pub(super) async fn check_once(argv: &[String], within: Duration) -> Result<(), String> {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    crate::child::die_with_parent(&mut cmd);
    let child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
    let group = child.id();
    let out = match tokio::time::timeout(within, child.wait_with_output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => {
            // The check and anything it started; the handle's drop reaps it.
            if let Some(g) = group {
                crate::child::kill_group(g);
            }
            return Err(format!("did not finish within {within:?}"));
        }
    };
    if out.status.success() {
        return Ok(());
    }
    let text = [out.stdout, out.stderr].concat();
    let last = String::from_utf8_lossy(&text)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| format!(": {}", l.trim()))
        .unwrap_or_default();
    Err(format!("{}{last}", describe_exit(out.status)))
}

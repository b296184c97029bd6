//! Waiting for a server to be ready, one way for both kinds: a request that answers, or a
//! line on its stdout, until a deadline, failing as soon as the process exits.

use std::future::Future;
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

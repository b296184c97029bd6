//! The parent side of a load: spawn the workers (or take the remote ones that joined), start
//! them together, merge their streams.
//!
//! Every wait has a deadline and every local worker is a `kill_on_drop` child with a
//! parent-death signal, so a run ends with a summary or an error, never hangs, and dropping it
//! leaves no worker behind. A remote worker's connection is dropped with it, which stops it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{timeout, timeout_at, Instant};

use super::bounded::{self, shorten};
use super::merge::{LoadSummary, Merger, SecondReport};
use super::plan::LoadPlan;
use super::wire::{self, FromWorker, ToWorker, WorkerPlan};
use super::LoadError;
use crate::child;

/// Time for every worker to start and resolve the target.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// The start is set this far ahead of `go`, so that every worker has read `go` before it.
const START_LEAD: Duration = Duration::from_millis(50);
/// Beyond `duration + timeout` (when every worker has stopped by its own clock), how long to
/// wait for their last lines before calling them stuck.
const FINISH_SLACK: Duration = Duration::from_secs(5);
/// How long a worker that closed its output gets to exit before it is killed.
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// What a reader task saw on a worker's output.
pub(super) enum Line {
    Text(String),
    Eof,
    Failed(std::io::Error),
}

/// The messages of every worker, tagged with its index.
pub(super) type Lines = mpsc::UnboundedReceiver<(usize, Line)>;

/// One worker of this load, however it runs.
pub(super) enum Worker {
    /// A `load-worker` process of ours, talking on its stdin and stdout.
    Child {
        child: Child,
        stdin: Option<ChildStdin>,
        /// The stderr reader, which forwards lines and returns the last one.
        stderr: Option<JoinHandle<String>>,
    },
    /// A `load-worker --connect` on another host, talking on its connection.
    Remote {
        name: String,
        peer: SocketAddr,
        /// The coordinator's address on its connection: where it sends its load.
        target_ip: std::net::IpAddr,
        write: Option<OwnedWriteHalf>,
    },
}

impl Worker {
    /// Sends `go` for the start at `start_ns` (this machine's `CLOCK_MONOTONIC`).
    async fn go(&mut self, start_ns: u64) -> std::io::Result<()> {
        let closed = || std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        match self {
            Worker::Child { stdin, .. } => {
                let msg = ToWorker::Go {
                    start_monotonic_ns: start_ns,
                    start_in_ns: None,
                };
                send_line(stdin.as_mut().ok_or_else(closed)?, &msg).await
            }
            Worker::Remote { write, .. } => {
                // Its clock is another machine's: it gets the time left instead.
                let msg = ToWorker::Go {
                    start_monotonic_ns: start_ns,
                    start_in_ns: Some(start_ns.saturating_sub(wire::monotonic_ns())),
                };
                send_line(write.as_mut().ok_or_else(closed)?, &msg).await
            }
        }
    }

    /// Tells the worker the load is over: a local one exits, a remote one goes back to
    /// waiting for the next load.
    fn close(&mut self) {
        match self {
            Worker::Child { stdin, .. } => *stdin = None,
            Worker::Remote { write, .. } => *write = None,
        }
    }

    /// Reaps a local worker so that none lingers.
    async fn reap(&mut self) {
        if let Worker::Child { child, .. } = self {
            if timeout(EXIT_WAIT, child.wait()).await.is_err() {
                let _ = child.start_kill();
            }
        }
    }

    /// How remote workers are named in errors and summaries: `None` for local ones.
    fn host(&self) -> Option<String> {
        match self {
            Worker::Child { .. } => None,
            Worker::Remote { name, peer, .. } => Some(format!("{name} ({})", peer.ip())),
        }
    }
}

/// Writes one JSON line.
pub(super) async fn send_line<T: serde::Serialize>(
    out: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
    msg: &T,
) -> std::io::Result<()> {
    let mut line = serde_json::to_string(msg).map_err(std::io::Error::other)?;
    line.push('\n');
    out.write_all(line.as_bytes()).await?;
    out.flush().await
}

/// Forwards the lines of `input` to `tx` as worker `index`'s, until its end.
pub(super) fn read_lines(
    index: usize,
    input: impl AsyncRead + Unpin + Send + 'static,
    tx: mpsc::UnboundedSender<(usize, Line)>,
) {
    tokio::spawn(async move {
        let mut input = BufReader::new(input);
        loop {
            let line = match bounded::read_line(&mut input, bounded::LINE_MAX).await {
                Ok(Some(l)) => Line::Text(l),
                Ok(None) => Line::Eof,
                Err(e) => Line::Failed(e),
            };
            let last = !matches!(line, Line::Text(_));
            if tx.send((index, line)).is_err() || last {
                break;
            }
        }
    });
}

/// Runs the whole multi-process load: spawns `plan.processes` copies of `exe` (as
/// `exe load-worker --plan JSON`), starts them together on a barrier, merges what they stream
/// back, calls `on_second` once per merged second in order, and returns the merged summary.
///
/// Dropping the future kills all workers. A worker that dies, exits early, writes something
/// unexpected or overruns its time makes this return an error; it never hangs.
pub async fn run_load(
    plan: &LoadPlan,
    exe: &Path,
    on_second: impl FnMut(&SecondReport),
) -> Result<LoadSummary, LoadError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut workers = Vec::with_capacity(plan.processes);
    for index in 0..plan.processes {
        workers.push(spawn_worker(plan, exe, index, tx.clone())?);
    }
    drop(tx);
    drive(plan, workers, rx, on_second).await
}

/// Starts `workers` (whose plans they have) together, merges what they stream through `rx`.
pub(super) async fn drive(
    plan: &LoadPlan,
    mut workers: Vec<Worker>,
    mut rx: Lines,
    mut on_second: impl FnMut(&SecondReport),
) -> Result<LoadSummary, LoadError> {
    let mut merger = Merger::new(plan);
    for (w, worker) in workers.iter().enumerate() {
        if let Some(host) = worker.host() {
            merger
                .host(w, host)
                .map_err(|reason| protocol(w, reason, "hello"))?;
        }
    }

    // The barrier: every worker has resolved the target and waits on stdin.
    let budget = READY_TIMEOUT;
    let deadline = Instant::now() + budget;
    let mut ready = vec![false; plan.processes];
    while ready.iter().any(|r| !r) {
        let (w, msg) = match next(&mut rx, deadline, "did not get ready", budget).await? {
            (w, Some(msg)) => (w, msg),
            (w, None) => return Err(died(w, &mut workers).await),
        };
        match msg {
            FromWorker::Ready {
                pid, connections, ..
            } if !ready[w] => {
                merger
                    .ready(w, pid, connections)
                    .map_err(|reason| protocol(w, reason, "ready"))?;
                ready[w] = true;
            }
            FromWorker::Error { message } => {
                return Err(LoadError::WorkerFailed { worker: w, message })
            }
            other => return Err(unexpected(w, &other, "expected ready")),
        }
    }

    let start_ns = wire::monotonic_ns() + START_LEAD.as_nanos() as u64;
    for w in 0..workers.len() {
        if workers[w].go(start_ns).await.is_err() {
            // Its input is closed: it died after saying ready.
            return Err(died(w, &mut workers).await);
        }
    }

    let start = wire::instant_at(start_ns);
    merger.started(start);
    let budget = plan.duration + plan.timeout + FINISH_SLACK;
    let deadline = start + budget;
    while !merger.all_done() {
        let (w, msg) = match next(&mut rx, deadline, "did not finish", budget).await? {
            (w, Some(msg)) => (w, msg),
            // A finished worker closing its output is its normal end.
            (w, None) if merger.is_done(w) => continue,
            (w, None) => return Err(died(w, &mut workers).await),
        };
        let completed = match msg {
            FromWorker::Second(s) => merger.second(w, s),
            FromWorker::Done(d) => merger.done(w, d),
            FromWorker::Error { message } => {
                return Err(LoadError::WorkerFailed { worker: w, message })
            }
            other @ (FromWorker::Ready { .. }
            | FromWorker::Hello { .. }
            | FromWorker::Proof { .. }) => {
                return Err(unexpected(w, &other, "expected a second or done"))
            }
        };
        let completed = completed.map_err(|reason| protocol(w, reason, "second or done"))?;
        for report in &completed {
            on_second(report);
        }
    }

    // Closing their input makes local workers still around exit at once; reap them so none
    // lingers. Remote ones go back to waiting for the next load.
    for worker in &mut workers {
        worker.close();
    }
    for worker in &mut workers {
        worker.reap().await;
    }
    Ok(merger.summary(plan))
}

fn spawn_worker(
    plan: &LoadPlan,
    exe: &Path,
    index: usize,
    tx: mpsc::UnboundedSender<(usize, Line)>,
) -> Result<Worker, LoadError> {
    let worker_plan = serde_json::to_string(&WorkerPlan {
        index,
        plan: plan.clone(),
    })
    .map_err(|e| protocol(index, e.to_string(), "plan"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("load-worker")
        .arg("--plan")
        .arg(worker_plan)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    child::die_with_parent(&mut cmd);
    let mut child = cmd.spawn().map_err(|source| LoadError::Spawn {
        exe: exe.display().to_string(),
        source,
    })?;
    if let Some(stdout) = child.stdout.take() {
        read_lines(index, stdout, tx);
    }
    let stderr = child.stderr.take().map(|stderr| {
        tokio::spawn(async move {
            // A healthy worker says nothing here; whatever it does say is passed on, and the
            // last line names the cause if it dies.
            let mut lines = BufReader::new(stderr).lines();
            let mut last = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("load-worker {index}: {line}");
                if !line.trim().is_empty() {
                    last = line;
                }
            }
            last
        })
    });
    Ok(Worker::Child {
        stdin: child.stdin.take(),
        child,
        stderr,
    })
}

/// The next message from any worker before `deadline`, `None` for the end of its output.
async fn next(
    rx: &mut Lines,
    deadline: Instant,
    what: &'static str,
    budget: Duration,
) -> Result<(usize, Option<FromWorker>), LoadError> {
    let (w, line) = match timeout_at(deadline, rx.recv()).await {
        Ok(Some(x)) => x,
        Ok(None) | Err(_) => {
            return Err(LoadError::Stuck {
                what,
                waited: budget,
            })
        }
    };
    match line {
        Line::Text(text) => match serde_json::from_str::<FromWorker>(&text) {
            Ok(msg) => Ok((w, Some(msg))),
            Err(e) => Err(LoadError::Protocol {
                worker: w,
                reason: e.to_string(),
                line: shorten(&text),
            }),
        },
        Line::Eof => Ok((w, None)),
        Line::Failed(source) => Err(LoadError::Io { worker: w, source }),
    }
}

/// Builds the error for worker `w`, whose output ended early: its exit status and last words.
async fn died(w: usize, workers: &mut [Worker]) -> LoadError {
    let (child, stderr) = match workers.get_mut(w) {
        Some(Worker::Child { child, stderr, .. }) => (child, stderr),
        Some(Worker::Remote { name, peer, .. }) => {
            return LoadError::RemoteGone {
                worker: w,
                name: name.clone(),
                peer: *peer,
            }
        }
        None => {
            return LoadError::WorkerDied {
                worker: w,
                status: "unknown worker".into(),
                stderr: String::new(),
            }
        }
    };
    let status = match timeout(EXIT_WAIT, child.wait()).await {
        Ok(Ok(s)) => s.to_string(),
        Ok(Err(e)) => format!("cannot wait for it: {e}"),
        Err(_) => {
            let _ = child.start_kill();
            "closed its output but did not exit; killed".into()
        }
    };
    let mut last_words = String::new();
    if let Some(handle) = stderr.take() {
        if let Ok(Ok(last)) = timeout(EXIT_WAIT, handle).await {
            if !last.is_empty() {
                last_words = format!(": {}", shorten(&last));
            }
        }
    }
    LoadError::WorkerDied {
        worker: w,
        status,
        stderr: last_words,
    }
}

fn protocol(worker: usize, reason: String, line: &str) -> LoadError {
    LoadError::Protocol {
        worker,
        reason,
        line: line.to_string(),
    }
}

fn unexpected(worker: usize, msg: &FromWorker, reason: &str) -> LoadError {
    let line = serde_json::to_string(msg).unwrap_or_default();
    protocol(worker, reason.to_string(), &shorten(&line))
}

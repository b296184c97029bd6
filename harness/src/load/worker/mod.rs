//! One `load-worker` process: its connections, the attempts on them, deadlines, retries, and the
//! checks on every response.
//!
//! Everything runs on the caller's current-thread runtime inside a `LocalSet`, so the shared
//! state (the slot counter, the recorder) is plain `Cell`/`RefCell` with no locks, and the
//! client's own overhead stays small and predictable.
//!
//! - `joined`: `--connect`, serving a coordinator's loads one after another.
//! - `drive`: the load itself: connections, open-loop slots, retries and their backoff.
//! - `exchange`: one attempt on a keep-alive connection, under its deadline.
//! - `check`: what a good response is: status, `Content-Range`, a body of the range's length.
//! - `prepared`: the requests to send (one GET, or a mix's entries), built once.

mod check;
mod drive;
mod exchange;
mod joined;
mod prepared;

use std::cell::{Cell, RefCell};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use tokio::sync::mpsc;
use tokio::task::LocalSet;
use tokio::time::{Duration, Instant};

use super::plan::{is_loopback_ip, Target};
use super::schedule::Schedule;
use super::stats::Recorder;
use super::wire::{self, FromWorker, ToWorker, WorkerPlan};
pub use check::{check_head, Expect};
pub use drive::backoff_delay;
use drive::drive;

/// `allocstorm load-worker`: one worker process. `allocstorm load` starts its own with
/// `--plan`; on another host, `--connect` joins a coordinator's `[remote]` run.
#[derive(clap::Args, Debug, Clone)]
pub struct WorkerArgs {
    /// This worker's index and the whole load plan, as JSON written by `allocstorm load`.
    #[arg(
        long,
        hide = true,
        required_unless_present = "connect",
        conflicts_with = "connect"
    )]
    pub plan: Option<String>,

    /// Join the coordinator at HOST:PORT (its scenario's `[remote] listen`) and serve its
    /// loads, one after another; the token comes from ALLOCSTORM_TOKEN.
    #[arg(long, value_name = "HOST:PORT")]
    pub connect: Option<String>,

    /// The share to take, 0-based (a Kubernetes Indexed Job's JOB_COMPLETION_INDEX); default:
    /// the lowest free one.
    #[arg(long, requires = "connect")]
    pub index: Option<usize>,

    /// How the coordinator names this worker in its errors and summaries (default: the
    /// hostname).
    #[arg(long, requires = "connect")]
    pub name: Option<String>,

    /// How long to keep trying to reach the coordinator, before the first load and between
    /// loads; past it the worker exits (0 once it has served a load).
    #[arg(long, default_value = "120s", value_name = "DURATION")]
    pub wait: String,

    /// Exit after serving one load.
    #[arg(long, requires = "connect")]
    pub once: bool,

    /// An IP address the coordinator may send this worker's load to besides its own (the
    /// coordinator's address, loopback when it is on loopback, and 198.18.0.0/15 always are);
    /// repeat for more.
    #[arg(long, requires = "connect", value_name = "IP")]
    pub allow_target: Vec<std::net::IpAddr>,
}

/// Runs one worker. With `--plan`: prints `ready`, waits for `go` on stdin, runs its share,
/// prints its seconds and `done`; exit code 0, or 2 after printing an `error` line. With
/// `--connect`: the same over a connection to a coordinator, load after load.
pub async fn worker_main(args: WorkerArgs) -> ExitCode {
    if args.connect.is_some() {
        return joined::connect_main(args).await;
    }
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            emit(&FromWorker::Error {
                message: format!("{e:#}"),
            });
            ExitCode::from(2)
        }
    }
}

/// Writes one line to the parent. If that fails the parent is gone and nobody is listening:
/// exit rather than load a server for no one.
fn emit(msg: &FromWorker) {
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut out, msg).is_ok()
        && out.write_all(b"\n").is_ok()
        && out.flush().is_ok();
    if !written {
        std::process::exit(3);
    }
}

/// Where a worker's lines go.
#[derive(Clone)]
enum Out {
    /// Its parent, on stdout.
    Stdout,
    /// Its coordinator, through the connection's writer task; `None` ends the writer.
    Remote(mpsc::UnboundedSender<Option<String>>),
}

impl Out {
    fn emit(&self, msg: &FromWorker) {
        match self {
            Out::Stdout => emit(msg),
            Out::Remote(tx) => {
                if let Ok(mut line) = serde_json::to_string(msg) {
                    line.push('\n');
                    // A closed writer means a lost coordinator, which the session notices.
                    let _ = tx.send(Some(line));
                }
            }
        }
    }
}

async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let plan = args.plan.as_deref().unwrap_or_default();
    let wp: WorkerPlan = serde_json::from_str(plan)
        .context("--plan is not a worker plan written by allocstorm load")?;
    super::limits::check_received(&wp).map_err(|e| anyhow!("--plan: {e}"))?;
    let plan = &wp.plan;
    let connections = connections_of(&wp)?;
    let addr = resolve(&plan.target, plan.allow_remote).await?;
    let go = watch_stdin()?;
    emit(&FromWorker::Ready {
        index: wp.index,
        pid: std::process::id(),
        connections,
        addr: addr.to_string(),
    });
    let start_ns = go.await.context("the parent closed stdin before go")?;
    let start = wire::instant_at(start_ns);
    let done = LocalSet::new()
        .run_until(drive(&wp, addr, start, connections, Out::Stdout))
        .await?;
    emit(&FromWorker::Done(done));
    Ok(())
}

fn connections_of(wp: &WorkerPlan) -> anyhow::Result<usize> {
    // The index first: a plan of no processes would divide by zero.
    if wp.index >= wp.plan.processes || wp.plan.worker_connections(wp.index) == 0 {
        return Err(anyhow!(
            "worker {} of {} processes has no connections",
            wp.index,
            wp.plan.processes
        ));
    }
    Ok(wp.plan.worker_connections(wp.index))
}

async fn resolve(target: &Target, allow_remote: bool) -> anyhow::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .with_context(|| format!("cannot resolve {}", target.host))?
        .collect();
    addrs
        .iter()
        .copied()
        .find(|a| allow_remote || is_loopback_ip(a.ip()))
        .ok_or_else(|| {
            anyhow!(
                "{} resolved to {addrs:?}, none of them loopback; pass --allow-remote to load \
                 another host",
                target.host
            )
        })
}

/// Reads stdin on a thread of its own: the first line is `go`, sent back through the channel;
/// end of input at any time exits the process at once, because the parent is gone or has given
/// up. A plain thread, not tokio's stdin, whose blocking read would hold up runtime shutdown.
fn watch_stdin() -> anyhow::Result<tokio::sync::oneshot::Receiver<u64>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut lines = std::io::stdin().lock().lines();
            match lines.next() {
                Some(Ok(line)) => match serde_json::from_str::<ToWorker>(&line) {
                    Ok(ToWorker::Go {
                        start_monotonic_ns, ..
                    }) => {
                        let _ = tx.send(start_monotonic_ns);
                    }
                    Ok(other) => {
                        eprintln!("load-worker: expected a go line on stdin, got {other:?}");
                        std::process::exit(2);
                    }
                    Err(e) => {
                        eprintln!("load-worker: expected a go line on stdin, got {line:?}: {e}");
                        std::process::exit(2);
                    }
                },
                _ => std::process::exit(3),
            }
            for line in lines {
                if line.is_err() {
                    break;
                }
            }
            std::process::exit(3);
        })
        .context("cannot start the stdin thread")?;
    Ok(rx)
}

/// What every connection of this worker shares.
struct Ctx {
    addr: SocketAddr,
    requests: prepared::Requests,
    /// A request mix's draws; `None`: every request is the one GET.
    drawer: Option<crate::load::mix::Drawer>,
    timeout: Duration,
    retries: u32,
    backoff: Duration,
    start: Instant,
    stop: Instant,
    /// `None`: closed loop.
    schedule: Option<Schedule>,
    /// Open loop: this worker's next slot, pulled by whichever connection is free first.
    next_slot: Cell<u64>,
    /// Open loop: slots actually sent.
    sent_slots: Cell<u64>,
    /// Logical requests started and not yet finished, abandoned if the drain ends first.
    in_flight: Cell<u64>,
    /// The same by mix entry, for when the drain gives them up.
    entry_in_flight: RefCell<Vec<u64>>,
    rec: RefCell<Recorder>,
}

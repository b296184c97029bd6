//! `allocstorm load`: the multi-process hot-key HTTP client.
//!
//! The parent spawns `--processes` copies of the running binary as hidden `load-worker`
//! subcommands, starts them together on a barrier, and merges the per-second figures they stream
//! back as JSON lines. Each worker drives its share of the connections and of the offered rate on
//! a current-thread runtime.
//!
//! - [`plan`]: the command line checked into a [`LoadPlan`] (units, target, loopback rule, shares).
//! - [`schedule`]: when each open-loop send is due (at a fixed rate, or stepping through rates
//!   with `--step`), so latency is measured from that instant.
//! - [`mix`]: a request mix (`[[load.request]]`) and each connection's seeded draws from it.
//! - [`stats`]: what is counted, the per-second recorder a worker writes into, percentiles.
//! - [`bounded`]: every line read from another process or host, bounded in length.
//! - [`door`]: the coordinator's cap on connections waiting to say hello, and its accept back-off.
//! - [`handshake`]: the remote workers' and the coordinator's challenge-response on the token.
//! - [`limits`]: a plan a worker receives, checked and bounded before it runs.
//! - [`wire`]: the JSON lines between parent and worker, and the shared monotonic clock.
//! - [`worker`]: one worker process: connections, attempts, deadlines, retries, response checks.
//! - [`parent`]: spawning, the start barrier, merging the streams ([`run_load`]).
//! - [`remote`]: workers on other hosts: the coordinator's side (join, token, shares) and
//!   `load-worker --connect`.
//! - [`per_request`]: a mix's figures by entry, merged as the run's own are.
//! - [`merge`]: the parent's merge of worker seconds into [`SecondReport`]s and a [`LoadSummary`].
//! - [`present`]: the human table. The JSON output is [`LoadSummary`] itself.

pub mod bounded;
pub mod counts;
pub mod door;
pub mod handshake;
pub mod limits;
pub mod merge;
pub mod mix;
pub mod parent;
pub mod per_request;
pub mod plan;
pub mod present;
pub mod remote;
pub mod schedule;
pub mod stats;
pub mod wire;
pub mod worker;

use allocstorm_core::Exit;
use std::io::IsTerminal;
use std::process::ExitCode;

pub use counts::{Counts, ErrorKind, Percentiles};
pub use merge::{LoadSummary, SecondReport, WorkerSummary, SUMMARY_KEYS};
pub use parent::run_load;
pub use plan::{LoadPlan, Target};
pub use schedule::RateStep;
pub use worker::{worker_main, WorkerArgs};

/// `allocstorm load`: drive a hot-key HTTP load against one URL from several processes.
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// URL to load, e.g. http://127.0.0.1:8080/file/hot (http only).
    #[arg(long)]
    pub target: String,

    /// Byte range A-B (inclusive) requested as `Range: bytes=A-B`, e.g. 0-1048575 or 0-1MiB.
    #[arg(long, default_value = "0-1048575")]
    pub range: String,

    /// Worker processes.
    #[arg(long, default_value_t = 1)]
    pub processes: usize,

    /// Keep-alive connections in total, split across the processes.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,

    /// Offered rate in total (e.g. 400/s), split across the processes; `max` sends back to back
    /// on every connection (closed loop).
    #[arg(long, default_value = "max")]
    pub rate: String,

    /// A rate step AT=RATE (repeatable, e.g. --step 4s=800/s): from offset AT after the start
    /// the total offered rate is RATE; --rate is the rate from 0. Offsets strictly increasing
    /// and below --duration; needs an open-loop --rate.
    #[arg(long = "step", value_name = "AT=RATE")]
    pub steps: Vec<String>,

    /// How long new requests are sent.
    #[arg(long, default_value = "10s")]
    pub duration: String,

    /// Deadline of each attempt (connect, request and whole body); an attempt past it is
    /// dropped along with its connection.
    #[arg(long, default_value = "3s")]
    pub timeout: String,

    /// Retries per request after a timeout, a connection error or a 5xx.
    #[arg(long, default_value_t = 0)]
    pub retries: u32,

    /// First retry delay; doubles on each retry, with jitter.
    #[arg(long, default_value = "100ms")]
    pub backoff: String,

    /// Print the summary as one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Allow a target that is not on loopback (127.0.0.0/8, ::1, localhost).
    #[arg(long)]
    pub allow_remote: bool,
}

/// Why a load could not be planned or run. Each displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A flag's value does not parse or makes no sense.
    #[error("{flag} {value:?}: expected {expected}")]
    BadFlag {
        flag: &'static str,
        value: String,
        expected: String,
    },
    /// The target is not on loopback and `--allow-remote` was not given.
    #[error(
        "--target {url:?}: {host} is not a loopback address (127.0.0.0/8, ::1, localhost); \
         pass --allow-remote to load another host"
    )]
    Remote { url: String, host: String },
    /// A worker process could not be started.
    #[error("cannot start load worker {exe}: {source}")]
    Spawn {
        exe: String,
        #[source]
        source: std::io::Error,
    },
    /// A worker exited or closed its output before it had finished.
    #[error("load worker {worker} died before finishing ({status}){stderr}")]
    WorkerDied {
        worker: usize,
        status: String,
        /// The worker's last stderr line, prefixed with ": ", or empty.
        stderr: String,
    },
    /// A worker reported an error of its own and gave up.
    #[error("load worker {worker}: {message}")]
    WorkerFailed { worker: usize, message: String },
    /// A worker wrote something that is not the protocol.
    #[error("load worker {worker} wrote an unexpected line ({reason}): {line}")]
    Protocol {
        worker: usize,
        reason: String,
        line: String,
    },
    /// A remote worker's connection ended before it had finished.
    #[error("remote load worker {worker}, {name} ({peer}), disconnected before finishing")]
    RemoteGone {
        worker: usize,
        name: String,
        peer: std::net::SocketAddr,
    },
    /// Not every remote worker joined in time.
    #[error("remote: {joined} of {expected} load workers joined {listen} within {waited:?}{who}")]
    Missing {
        joined: usize,
        expected: usize,
        listen: std::net::SocketAddr,
        waited: std::time::Duration,
        /// `; joined: …; missing: …`.
        who: String,
    },
    /// The coordinator could not listen for remote workers.
    #[error("remote: cannot listen on {listen} for load workers: {source}")]
    Listen {
        listen: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Workers did not get ready or finish in time.
    #[error("load workers {what} within {waited:?}; killed them")]
    Stuck {
        what: &'static str,
        waited: std::time::Duration,
    },
    /// Talking to a worker failed.
    #[error("load worker {worker}: {source}")]
    Io {
        worker: usize,
        #[source]
        source: std::io::Error,
    },
}

/// `allocstorm load` as a command: plan, run with this executable as the workers, print the
/// summary (a table, or JSON with `--json`). Exit code 0 when the load ran (failed requests are
/// results, not failures), 2 for bad input or a harness error.
pub async fn cli_main(args: LoadArgs) -> ExitCode {
    let plan = match args.plan() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("allocstorm load: {e}");
            return Exit::Error.into();
        }
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("allocstorm load: cannot find the running executable to start workers: {e}");
            return Exit::Error.into();
        }
    };
    // Progress lines are for a person watching; scripts and logs get only the summary.
    let progress = !args.json && std::io::stderr().is_terminal();
    let result = run_load(&plan, &exe, |s| {
        if progress {
            eprintln!("{}", present::progress_line(s));
        }
    })
    .await;
    match result {
        Ok(summary) => {
            if args.json {
                match serde_json::to_string(&summary) {
                    Ok(s) => printed(&format!("{s}\n")),
                    Err(e) => {
                        eprintln!("allocstorm load: cannot write the JSON summary: {e}");
                        Exit::Error.into()
                    }
                }
            } else {
                printed(&present::table(&summary))
            }
        }
        Err(e) => {
            eprintln!("allocstorm load: {e}");
            Exit::Error.into()
        }
    }
}

/// Exit 0 once `text` is on stdout (or its reader has gone); 2 when stdout failed otherwise.
fn printed(text: &str) -> ExitCode {
    match crate::stdout::print(text) {
        Ok(()) => ExitCode::from(Exit::Ok),
        Err(e) => {
            eprintln!("allocstorm load: cannot write to stdout: {e}");
            Exit::Error.into()
        }
    }
}

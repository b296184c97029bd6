//! allocstorm: a reproducible load-test harness for memory-allocator behaviour.
//!
//! One run of one variant: [`run`] starts the variant's server (from [`scenario`]), drives it
//! through the phases with the multi-process [`load`] client, samples its memory from outside
//! ([`sample`]), and writes a [`record`] whose [`figures`] are B, P, A, R, t90 and VSZ, with the
//! [`provenance`] of where it was measured.
//!
//! - [`cli`]: the command line; `main` parses it and maps results to exit codes.
//! - [`server`]: the server a run measures, either kind (the toy server or a `[target]` of the
//!   user's own under its guard): start, readiness, stop.
//! - [`tool`]: the scenario's own load tool (`[load] command`) for the phases it drives: its
//!   start, stop, CPU time, output and figures.
//! - [`child`]: the processes the harness starts: they die with it, in a group of their own,
//!   in a cgroup from their first page; and how a process ended.
//! - [`cgroup`]: the memory cgroup each server runs in: usage and working set as a container's,
//!   and its own OOM-kill count.
//! - [`probe`]: the allocator probe's pages in the server, read from outside every sample.
//! - [`shard`]: a comparison fanned out over machines: `compare --shard I/N`, and several
//!   shards' directories read as one comparison by `report` and `gate`.
//! - [`cost`]: the price of each fix: capacity and latency on a second server without the
//!   egress cap, after the memory run.
//! - [`export`]: the figures for dashboards: Bencher's BMF, github-action-benchmark's lists,
//!   OpenMetrics (`allocstorm export`, `--export`).
//! - [`manifests`]: Kubernetes manifests for a `[remote]` comparison on a cluster.
//! - [`progress`]: the live line a person watches.
//! - [`clock`]: UTC stamps.
//! - [`table`]: tables as data (typed cells) and their two renderers, Markdown and aligned text.
//! - [`netlab`]: `[network]`'s lab of namespaces and a shaped link, made before the runtime.

pub mod cgroup;
pub mod child;
pub mod cli;
pub mod clock;
pub mod compare;
pub mod cost;
pub mod export;
pub mod figures;
pub mod gate;
pub mod load;
pub mod manifests;
pub mod netlab;
pub mod probe;
pub mod progress;
pub mod provenance;
pub mod record;
pub mod report;
pub mod run;
pub mod sample;
pub mod scenario;
pub mod server;
pub mod shard;
pub mod stdout;
pub mod table;
pub mod tool;

/// The `allocstorm` process: parse, run, map the outcome to an exit code.
pub fn main() -> std::process::ExitCode {
    cli::main()
}

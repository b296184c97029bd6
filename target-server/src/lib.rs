//! allocstorm's toy data server.
//!
//! A hyper server modelled on the data server of incident 000: it serves byte ranges of one
//! hot file, allocating a fresh buffer per request, interleaving long-lived block metadata, and
//! sending bodies through a congested "NIC" so buffers queue in memory as in production. Modes
//! that are off by default reproduce incidents 001–004: an RPC object pool, a fixed I/O thread
//! pool, a watermark byte pool, streaming bodies. One thin binary per allocator calls [`main`]
//! with the allocator it was built with.
//!
//! - [`config`]: the command line.
//! - [`server`]: routes, admission control, the per-request fill, accept loop, graceful shutdown.
//! - [`hotfile`]: the hot file and the per-request `pread` into a fresh buffer.
//! - [`iopool`]: where `pread` runs (`--io`), and the fixed I/O thread pool (incident 002).
//! - [`meta`]: the long-lived block index that pins heap tops.
//! - [`pools`]: the app's memory pools: [`pools::rpc`] (incident 001) and [`pools::bytes`]
//!   (incident 003).
//! - [`egress`]: the shared token bucket and the paced response body.
//! - [`stream`]: streaming bodies, read one chunk at a time (incident 004).
//! - [`files`]: `/files/{key}`'s objects: per-key metadata and kept write bodies.
//! - [`state`]: counters, in-flight buffers and the `/stats` document.
//! - [`alloc`]: which allocator this is, its settings, figures and release call, and the
//!   counting wrapper every binary's global allocator is.
//! - [`probe`]: starting allocstorm's probe when `ALLOCSTORM_PROBE_DIR` is set.
//! - [`range`]: parsing of HTTP ranges; [`units`] and the workload settings come from
//!   `allocstorm-core`, shared with the harness.

pub mod alloc;
pub mod config;
pub mod egress;
pub mod files;
pub mod hotfile;
pub mod iopool;
pub mod meta;
pub mod pools;
pub mod probe;
pub mod range;
pub mod server;
pub mod state;
pub mod stream;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

pub use alloc::Allocator;
/// Units as a person writes them, shared with the harness ([`allocstorm_core::units`]).
pub use allocstorm_core::units;

/// The whole server process: parse the command line, apply allocator settings before any
/// thread exists, serve until SIGINT/SIGTERM. Each binary's `main` is a call to this.
pub fn main(allocator: Allocator) -> ExitCode {
    let cli = config::Cli::parse();
    match run(allocator, cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("target-server-{}: error: {e:#}", allocator.name());
            ExitCode::from(2)
        }
    }
}

fn run(allocator: Allocator, cli: config::Cli) -> anyhow::Result<()> {
    use anyhow::Context;
    cli.validate().map_err(anyhow::Error::msg)?;
    // mallopt must come before the runtime starts threads, or arenas created meanwhile would
    // miss the settings.
    allocator
        .apply_mallopt(&cli.mallopt)
        .map_err(anyhow::Error::msg)?;
    // Before serving, after mallopt (the probe is a thread). No probe is no reason to stop: the
    // harness reports the page missing.
    if let Err(why) = probe::start_from_env(allocator) {
        eprintln!(
            "target-server-{}: warning: no allocator probe: {why}",
            allocator.name()
        );
    }

    let hot = match (&cli.file, cli.create_file) {
        (Some(path), _) => hotfile::HotFile::open(path)
            .with_context(|| format!("--file {}: cannot open", path.display()))?,
        (None, Some(size)) => hotfile::HotFile::create(size, cli.seed)
            .with_context(|| format!("--create-file {size}: cannot write the hot file"))?,
        (None, None) => anyhow::bail!("give --file PATH or --create-file SIZE"),
    };

    // Before the runtime, so the pre-fill comes from the main thread's heap and the pool threads
    // are waiting before any request can arrive.
    let pools = pools::Pools {
        rpc: (cli.server.rpc_pool_objects > 0).then(|| {
            Arc::new(pools::rpc::RpcPool::new(
                cli.server.rpc_object_size as usize,
                cli.server.rpc_pool_objects,
            ))
        }),
        bytes: (cli.server.byte_pool > 0).then(|| {
            Arc::new(pools::bytes::BytePool::new(
                cli.server.byte_pool,
                cli.server.byte_pool_buffer as usize,
                cli.server.byte_pool_low,
                cli.server.byte_pool_high,
            ))
        }),
    };
    let io_pool = match cli.server.io {
        config::IoMode::Pool => Some(Arc::new(
            iopool::IoPool::start(cli.server.io_threads)
                .with_context(|| format!("--io-threads {}: cannot start", cli.server.io_threads))?,
        )),
        _ => None,
    };
    let io = match (cli.server.io, &io_pool) {
        (config::IoMode::Pool, Some(pool)) => iopool::IoRunner::Pool(pool.clone()),
        (config::IoMode::Blocking, _) => iopool::IoRunner::Blocking,
        _ => iopool::IoRunner::Worker,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.server.workers)
        .max_blocking_threads(cli.server.blocking_threads)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;

    let mut settings = cli.settings_json();
    settings["hot_file_bytes"] = hot.size.into();
    // `null` for a created file: it has no name.
    settings["hot_file"] = hot.path.as_ref().map(|p| p.display().to_string()).into();
    let state = Arc::new(
        state::AppState::new(
            allocator,
            cli.mallopt.clone(),
            settings,
            cli.seed,
            cli.server.meta_size,
        )
        .with_pools(pools, io_pool)
        .with_max_stored(cli.server.max_stored),
    );
    let server = Arc::new(server::Server::new(state.clone(), hot, io, &cli.server));

    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(cli.listen)
            .await
            .with_context(|| format!("--listen {}: cannot bind", cli.listen))?;
        let addr = listener.local_addr()?;
        {
            // The contract with scripts and the harness: this exact first line on stdout.
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {addr}")?;
            out.flush()?;
        }
        let churn = tokio::spawn(server::churn(state, cli.server.meta_churn, cli.seed));
        server
            .run(listener, shutdown_signal(), cli.server.grace)
            .await;
        churn.abort();
        Ok::<(), anyhow::Error>(())
    })?;
    // Blocking-pool threads still reading finish on their own; do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

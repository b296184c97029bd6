//! The command line, parsed by clap and then checked into a [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::alloc::MalloptParam;
use crate::units;

/// Where `pread` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IoMode {
    /// On the tokio worker thread that serves the request.
    Worker,
    /// On tokio's blocking pool: more threads, so more glibc arenas.
    Blocking,
    /// On a fixed pool of `--io-threads` threads, dealt round-robin: each thread's first job is
    /// its first malloc, and so a new glibc arena (incident 002).
    Pool,
}

/// How a response body is produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyMode {
    /// The whole range is read into one buffer before the answer starts.
    Buffered,
    /// The range is read one `--chunk` at a time as the body is sent (incident 004's fix).
    Streaming,
}

/// allocstorm's toy data server: serves byte ranges of one hot file, allocating a fresh buffer
/// per request and interleaving long-lived block metadata, like the data server of incident 000.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// Address to listen on. The first line on stdout is `listening on IP:PORT`.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// The hot file to serve.
    #[arg(
        long,
        conflicts_with = "create_file",
        required_unless_present = "create_file"
    )]
    pub file: Option<PathBuf>,

    /// Write a hot file of this size (e.g. 3MiB) with seeded random bytes into a temporary
    /// directory that is removed on exit.
    #[arg(long, value_parser = size)]
    pub create_file: Option<u64>,

    /// Seed for the created file's bytes and the metadata sizes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Tokio worker threads.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,

    /// Where pread runs: on the serving worker thread, on tokio's blocking pool, or on a fixed
    /// pool of --io-threads threads dealt jobs round-robin.
    #[arg(long, value_enum, default_value_t = IoMode::Worker)]
    pub io: IoMode,

    /// Most threads in tokio's blocking pool (with --io blocking).
    #[arg(long, default_value_t = 512)]
    pub blocking_threads: usize,

    /// Threads in the fixed I/O pool (with --io pool), 1 to 4096.
    #[arg(long, default_value_t = 128)]
    pub io_threads: usize,

    /// Whether a body is read whole before the answer starts, or one --chunk at a time as it
    /// is sent.
    #[arg(long, value_enum, default_value_t = BodyMode::Buffered)]
    pub body: BodyMode,

    /// Take this many objects from an RPC resource pool per range request and hold them until
    /// the body is done; the pool never gives memory back (0: no pool).
    #[arg(long, default_value_t = 0)]
    pub rpc_pool_objects: usize,

    /// Size of each RPC pool object.
    #[arg(long, default_value = "64KiB", value_parser = size)]
    pub rpc_object_size: u64,

    /// Read every range into buffers from a watermark byte pool of at most this many idle
    /// buffers, as many as the range spans (0: no pool).
    #[arg(long, default_value_t = 0)]
    pub byte_pool: usize,

    /// Size of each byte-pool buffer.
    #[arg(long, default_value = "1MiB", value_parser = size)]
    pub byte_pool_buffer: u64,

    /// Below this fraction of --byte-pool idle, one background refill starts.
    #[arg(long, default_value_t = 0.3, allow_negative_numbers = true)]
    pub byte_pool_low: f64,

    /// A refill allocates until this fraction of --byte-pool is idle; the pool is pre-filled
    /// to it at start.
    #[arg(long, default_value_t = 0.6, allow_negative_numbers = true)]
    pub byte_pool_high: f64,

    /// Allocate a long-lived block-metadata record every N requests (0: never).
    #[arg(long, default_value_t = 16)]
    pub meta_every: u64,

    /// Size of each metadata record, MIN-MAX bytes.
    #[arg(long, default_value = "96-640", value_parser = size_range)]
    pub meta_size: (u64, u64),

    /// Delete this many metadata records per second (e.g. 10/s; 0: keep them forever).
    #[arg(long, default_value = "0", value_parser = rate)]
    pub meta_churn: f64,

    /// Send response bodies through one token bucket of this rate shared by all connections
    /// (e.g. 120MiB/s): the server's NIC. Buffers queue in memory behind it.
    #[arg(long, value_parser = byte_rate)]
    pub egress_limit: Option<f64>,

    /// Keep each buffer this long before sending it (e.g. 100ms).
    #[arg(long, value_parser = duration)]
    pub hold: Option<Duration>,

    /// Body chunk size used with --egress-limit.
    #[arg(long, default_value = "64KiB", value_parser = size)]
    pub chunk: u64,

    /// Most requests served at once (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub max_inflight: usize,

    /// A request that waits longer than this for a slot gets 503 with Retry-After.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub queue_timeout: Duration,

    /// Longest range served; longer ranges get 416.
    #[arg(long, default_value = "8MiB", value_parser = size)]
    pub max_range: u64,

    /// A connection that has not sent its request headers within this time is closed.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub header_timeout: Duration,

    /// How long in-flight requests may finish after SIGINT/SIGTERM.
    #[arg(long, default_value = "2s", value_parser = duration)]
    pub grace: Duration,

    /// glibc mallopt, NAME=VALUE (mmap_threshold, arena_max, trim_threshold, top_pad);
    /// repeatable; applied before any thread starts.
    #[arg(long, value_parser = mallopt)]
    pub mallopt: Vec<(MalloptParam, u64)>,
}

/// Most `--io-threads`: enough for incident 002's 128 and far beyond, short of a typo's
/// thousands of stacks.
pub const MAX_IO_THREADS: usize = 4096;

/// Most `--byte-pool` buffers: the pool's slots are reserved up front.
pub const MAX_BYTE_POOL: usize = 1 << 20;

fn size(s: &str) -> Result<u64, String> {
    units::parse_size(s).map_err(|e| e.to_string())
}
fn size_range(s: &str) -> Result<(u64, u64), String> {
    units::parse_size_range(s).map_err(|e| e.to_string())
}
fn rate(s: &str) -> Result<f64, String> {
    units::parse_rate(s).map_err(|e| e.to_string())
}
fn byte_rate(s: &str) -> Result<f64, String> {
    units::parse_byte_rate(s).map_err(|e| e.to_string())
}
fn duration(s: &str) -> Result<Duration, String> {
    units::parse_duration(s).map_err(|e| e.to_string())
}
fn mallopt(s: &str) -> Result<(MalloptParam, u64), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got {s:?}"))?;
    let p = MalloptParam::from_name(name.trim())
        .ok_or_else(|| format!("unknown mallopt {name:?}: expected {}", MalloptParam::NAMES))?;
    let v = units::parse_size(value).map_err(|e| format!("{name}: {e}"))?;
    Ok((p, v))
}

impl Cli {
    /// Checks what clap cannot: values that parse but make no sense together.
    pub fn validate(&self) -> Result<(), String> {
        if self.workers == 0 {
            return Err("--workers must be at least 1".into());
        }
        if self.blocking_threads == 0 {
            return Err("--blocking-threads must be at least 1".into());
        }
        if !(1..=MAX_IO_THREADS).contains(&self.io_threads) {
            return Err(format!(
                "--io-threads {}: expected 1 to {MAX_IO_THREADS}",
                self.io_threads
            ));
        }
        if self.rpc_object_size == 0 {
            return Err("--rpc-object-size must be at least 1 byte".into());
        }
        if self.byte_pool > MAX_BYTE_POOL {
            return Err(format!(
                "--byte-pool {}: expected at most {MAX_BYTE_POOL} buffers",
                self.byte_pool
            ));
        }
        if self.byte_pool_buffer == 0 {
            return Err("--byte-pool-buffer must be at least 1 byte".into());
        }
        let (low, high) = (self.byte_pool_low, self.byte_pool_high);
        // Written so that NaN fails too.
        if !(0.0 <= low && low < high && high <= 1.0) {
            return Err(format!(
                "--byte-pool-low {low} --byte-pool-high {high}: expected 0 <= low < high <= 1"
            ));
        }
        if self.byte_pool > 0 && self.body == BodyMode::Streaming {
            return Err(
                "--byte-pool holds whole-range buffers and --body streaming reads \
                        one chunk at a time: use one or the other"
                    .into(),
            );
        }
        if self.chunk == 0 {
            return Err("--chunk must be at least 1 byte".into());
        }
        if self.max_range == 0 {
            return Err("--max-range must be at least 1 byte".into());
        }
        if self.meta_size.1 > 1 << 20 {
            return Err(format!(
                "--meta-size {}-{}: records above 1MiB are not metadata",
                self.meta_size.0, self.meta_size.1
            ));
        }
        Ok(())
    }

    /// The server settings as recorded in `/stats`.
    pub fn settings_json(&self) -> serde_json::Value {
        serde_json::json!({
            "listen": self.listen.to_string(),
            "workers": self.workers,
            "io": self.io,
            "blocking_threads": self.blocking_threads,
            "io_threads": self.io_threads,
            "body": self.body,
            "rpc_pool_objects": self.rpc_pool_objects,
            "rpc_object_bytes": self.rpc_object_size,
            "byte_pool_buffers": self.byte_pool,
            "byte_pool_buffer_bytes": self.byte_pool_buffer,
            "byte_pool_low": self.byte_pool_low,
            "byte_pool_high": self.byte_pool_high,
            "meta_every": self.meta_every,
            "meta_size": [self.meta_size.0, self.meta_size.1],
            "meta_churn_per_s": self.meta_churn,
            "egress_limit_bytes_per_s": self.egress_limit,
            "hold_ms": self.hold.map(|d| d.as_secs_f64() * 1e3),
            "chunk_bytes": self.chunk,
            "max_inflight": self.max_inflight,
            "queue_timeout_ms": self.queue_timeout.as_secs_f64() * 1e3,
            "max_range_bytes": self.max_range,
            "header_timeout_ms": self.header_timeout.as_secs_f64() * 1e3,
            "grace_ms": self.grace.as_secs_f64() * 1e3,
            "seed": self.seed,
        })
    }
}
